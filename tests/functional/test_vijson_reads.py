"""Inventory reads over VI/JSON against the simulator's VI/JSON endpoint.

* every read path (the raw reads; the operator commands check, pools,
  volumes, audit, manageable) gives the same result over VI/JSON and SOAP;
* the read's mechanics: pages with tokens, views destroyed (``viewList``
  empty afterwards), the pending page cancelled when reading stops or
  fails, faults named, session expiry in the middle of a read;
* the transport choice (auto, json, soap; a server without VI/JSON, or
  with 8.0 U1's VI/JSON and no System.hello);
* the password in no log line at DEBUG; TLS verified as for SOAP.
"""

import asyncio
import collections
import logging

import fixtures
import testtools

from tests.functional import base
from tests.functional import lifecycle_base as lb
from tests.functional import test_manage
from tests.functional import test_manage_cli
from tests.functional import test_session_tls
from vmware_backend.admin import listing
from vmware_backend import conf
from vmware_backend import exceptions
from vmware_backend.testbed.faults import control as control_mod
from vmware_backend.volume import datastore
from vmware_backend.volume import placement
from vmware_backend.vsphere import inventory
from vmware_backend.vsphere.json import select
from vmware_backend.vsphere import session as vc_session
from vmware_backend.vsphere import vm_disks

FLAGS = {'hosts': 4, 'datastores': 3, 'vms': 2}
PATHS = {'HostSystem': ['name', 'parent'],
         'Datastore': ['name', 'summary.capacity', 'host']}
NAMES = sorted(['DC0_C0_H0', 'DC0_C0_H1', 'DC0_C0_H2', 'DC0_C0_H3',
                'DC0_H0', 'LocalDS_0', 'LocalDS_1', 'LocalDS_2'])
READ_CALLS = ('CreateContainerView', 'RetrievePropertiesEx',
              'ContinueRetrievePropertiesEx', 'CancelRetrievePropertiesEx',
              'DestroyView')


def read_calls(counter):
    return {k: v for k, v in counter.items() if k in READ_CALLS and v}


class _Sessions:

    def new_session(self, transport, **overrides):
        options = dict(self.options, vcenter_read_transport=transport,
                       **overrides)
        session = vc_session.VCenterSession(options)
        self.addCleanup(session.close)
        return session

    def view_list(self, soap_session):
        props = inventory.get_properties(
            soap_session, inventory.from_suds(
                soap_session.service_content.viewManager), ['viewList'])
        return props.get('viewList') or []


class SameResultsTest(_Sessions, test_manage_cli.CliMixin,
                      test_manage.ManageTestBase):
    """Every read path, over both transports, on one inventory."""

    VCSIM_FLAGS = {'vms': 3}

    def setUp(self):
        super().setUp()
        self.kept = self.create(1)
        self.orphan = self.create(2, specs={'vmware:vmdk_type': 'thick'})
        # a snapshot: its tree carries dates (createTime)
        self.snapshot = lb.make_snapshot(self.kept)
        self.driver.create_snapshot(self.snapshot)
        self.addCleanup(self.driver.delete_snapshot, self.snapshot)
        self.foreign_vm(disks_kb=(test_manage.GIB_KB,))

    def test_raw_reads_are_identical(self):
        soap = self.new_session('soap')
        over_json = self.new_session('json')
        listing_paths = {'VirtualMachine': list(listing.VM_PATHS) +
                         [listing.DEVICE_PATH], 'Datastore': ['name']}
        for type_paths in (datastore.INVENTORY_PATHS, vm_disks.TYPE_PATHS,
                           listing_paths):
            expected = sorted(inventory.read_container(soap, type_paths,
                                                       page_size=4))
            got = sorted(inventory.read_container(over_json, type_paths,
                                                  page_size=4))
            self.assertEqual(expected, got)
            self.assertGreater(len(got), 10)
        # it really was VI/JSON, and SOAP the other
        self.assertIsNotNone(select.state_for(over_json))
        self.assertIsNone(select.state_for(soap))

    def test_pools_and_placement_inventory_are_identical(self):
        soap = placement.PlacementService(self.new_session('soap'))
        over_json = placement.PlacementService(self.new_session('json'))
        self.assertEqual(soap.inventory(), over_json.inventory())
        self.assertEqual(soap.pools(), over_json.pools())

    def test_operator_commands_are_identical(self):
        ids = '%s\n' % self.kept.id
        runs = {}
        for transport in ('soap', 'json', 'auto'):
            config = self.ini(self.vcsim, vcenter_read_transport=transport)
            out = {}
            for name, args, stdin in (
                    ('check', ['check'], ''),
                    ('pools', ['pools'], ''),
                    ('volumes', ['volumes'], ''),
                    ('audit', ['audit', '--volume-ids', '-',
                               '--min-age', '0'], ids),
                    ('manageable', ['manageable'], '')):
                proc = self.cli('--format', 'json', *args, config=config,
                                stdin=stdin)
                out[name] = (proc.returncode, self.json_of(proc))
            runs[transport] = out
        self.assertEqual(runs['soap'], runs['json'])
        self.assertEqual(runs['soap'], runs['auto'])
        # the inventory is there: both volumes listed, the orphan found
        listed = str(runs['json']['volumes'][1])
        self.assertIn(self.kept.id, listed)
        self.assertIn(self.orphan.id, listed)
        self.assertIn(self.orphan.id, str(runs['json']['audit'][1]))
        self.assertEqual(0, runs['json']['check'][0])


class ReadMechanicsTest(_Sessions, testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.useFixture(fixtures.Timeout(300, gentle=True))
        fixture = self.useFixture(base.VcsimFixture(FLAGS))
        self.logger = self.useFixture(fixtures.FakeLogger(
            level=logging.DEBUG,
            format='%(levelname)s %(name)s %(message)s'))
        self.vcsim = fixture.server
        self.options = fixture.options()
        self.soap = self.new_session('soap')
        self.session = self.new_session('json')

    def counted(self, func, *args, **kwargs):
        before = self.session.counts_snapshot()
        result = func(*args, **kwargs)
        return result, read_calls(self.session.counts_snapshot() - before)

    def test_pages_with_tokens(self):
        objects, calls = self.counted(inventory.read_container,
                                      self.session, PATHS, page_size=3)
        self.assertEqual(NAMES, sorted(p['name'] for _r, p in objects))
        # 8 objects in pages of 3: two continues, nothing to cancel
        self.assertEqual({'CreateContainerView': 1, 'RetrievePropertiesEx': 1,
                          'ContinueRetrievePropertiesEx': 2,
                          'DestroyView': 1}, calls)
        self.assertEqual([], self.view_list(self.soap))

    def test_one_page_when_everything_fits(self):
        objects, calls = self.counted(inventory.read_container,
                                      self.session, PATHS, page_size=100)
        self.assertEqual(8, len(objects))
        self.assertEqual({'CreateContainerView': 1, 'RetrievePropertiesEx': 1,
                          'DestroyView': 1}, calls)

    def test_view_exists_only_while_reading(self):
        during = []
        for _item in inventory.iter_container(self.session, PATHS,
                                              page_size=3):
            if not during:
                during = self.view_list(self.soap)
        self.assertEqual(1, len(during))
        self.assertEqual('ContainerView', during[0].type)
        self.assertEqual([], self.view_list(self.soap))

    def test_stopping_early_cancels_the_pending_page(self):
        before = self.session.counts_snapshot()
        objects = inventory.iter_container(self.session, PATHS, page_size=3)
        next(objects)
        self.assertEqual(1, len(self.view_list(self.soap)))
        objects.close()
        calls = read_calls(self.session.counts_snapshot() - before)
        self.assertEqual({'CreateContainerView': 1, 'RetrievePropertiesEx': 1,
                          'CancelRetrievePropertiesEx': 1,
                          'DestroyView': 1}, calls)
        self.assertEqual([], self.view_list(self.soap))

    def test_error_mid_read_cancels_and_destroys(self):
        def consume():
            for n, _item in enumerate(inventory.iter_container(
                    self.session, PATHS, page_size=3)):
                if n == 4:
                    raise RuntimeError('consumer failed')

        before = self.session.counts_snapshot()
        self.assertRaises(RuntimeError, consume)
        calls = read_calls(self.session.counts_snapshot() - before)
        self.assertEqual(1, calls['CancelRetrievePropertiesEx'])
        self.assertEqual(1, calls['ContinueRetrievePropertiesEx'])
        self.assertEqual(1, calls['DestroyView'])
        self.assertEqual([], self.view_list(self.soap))

    def test_fault_is_named_and_the_view_destroyed(self):
        err = self.assertRaises(
            exceptions.VCenterFault, inventory.read_container, self.session,
            {'HostSystem': ['name', 'noSuchProperty']})
        self.assertEqual('InvalidProperty', err.fault)
        self.assertIn('RetrievePropertiesEx', str(err))
        self.assertEqual([], self.view_list(self.soap))

    def _control_keeping_soap(self):
        """The simulator's control, and the SOAP session's key to keep."""
        ctl = control_mod.SimulatorControl('127.0.0.1', self.vcsim.port,
                                           self.vcsim.username,
                                           self.vcsim.password)
        keep = inventory.get_properties(
            self.soap, inventory.from_suds(
                self.soap.service_content.sessionManager),
            ['currentSession'])['currentSession']['key']
        return ctl, keep

    def test_session_expiry_mid_read_logs_in_and_restarts(self):
        ctl, keep = self._control_keeping_soap()
        before = self.session.counts_snapshot()
        objects = []
        for n, item in enumerate(inventory.iter_container(
                self.session, PATHS, page_size=3)):
            objects.append(item)
            if n == 0:
                old_key = select.state_for(self.session).session_key
                expired = ctl.expire_sessions(keep=[keep])['expired']
                self.assertIn(old_key, expired)
        calls = read_calls(self.session.counts_snapshot() - before)
        # every object once, none twice
        self.assertEqual(NAMES, sorted(p['name'] for _r, p in objects))
        # a second view on the new session; the old one died with its
        # session (nothing left to cancel or destroy there)
        self.assertEqual(2, calls['CreateContainerView'])
        self.assertEqual(2, calls['RetrievePropertiesEx'])
        self.assertEqual(1, calls['DestroyView'])
        self.assertNotIn('CancelRetrievePropertiesEx', calls)
        self.assertNotEqual(old_key,
                            select.state_for(self.session).session_key)
        self.assertIn('VI/JSON session expired during '
                      'ContinueRetrievePropertiesEx', self.logger.output)
        self.assertEqual([], self.view_list(self.soap))

    def _expire_at_each_new_page(self, session, times):
        """Read PATHS in pages of 2, expiring the session ``times`` times.

        Each time at the first object of a page not seen before (objects
        0, 2 and 4 of the 8: a page follows each), so that every restart
        gets further.
        """
        ctl, keep = self._control_keeping_soap()
        objects = []
        for n, item in enumerate(inventory.iter_container(
                session, PATHS, page_size=2)):
            objects.append(item)
            if n % 2 == 0 and n // 2 < times:
                key = select.state_for(session).session_key
                self.assertIn(key, ctl.expire_sessions(keep=[keep])[
                    'expired'])
        return objects

    def test_session_expiring_at_every_page_within_the_retry_count(self):
        # vcenter_api_retry_count 3: three expiries in one read are three
        # re-logins and restarts, and the read is complete
        session = self.new_session('json', vcenter_api_retry_count=3)
        before = session.counts_snapshot()
        objects = self._expire_at_each_new_page(session, 3)
        self.assertEqual(NAMES, sorted(p['name'] for _r, p in objects))
        calls = read_calls(session.counts_snapshot() - before)
        self.assertEqual(4, calls['CreateContainerView'])
        self.assertEqual(1, calls['DestroyView'])
        self.assertEqual(3, self.logger.output.count(
            'VI/JSON session expired during ContinueRetrievePropertiesEx; '
            'logged in again'))
        self.assertEqual([], self.view_list(self.soap))

    def test_session_expiring_once_too_often_fails_naming_the_fix(self):
        # vcenter_api_retry_count 2 and three expiries: an error naming
        # what happened and the fix, never a partial read that ends as if
        # it were complete
        session = self.new_session('json', vcenter_api_retry_count=2)
        err = self.assertRaises(exceptions.VCenterConnectionError,
                                self._expire_at_each_new_page, session, 3)
        self.assertIn(
            'the session keeps expiring: it expired 3 times in one read of '
            'objects below Folder:group-d1 (NotAuthenticated on '
            'ContinueRetrievePropertiesEx after logging in again each '
            'time); the read was abandoned and nothing of it was used.',
            str(err))
        self.assertIn('raise vcenter_api_retry_count (now 2)', str(err))
        self.assertNotIn(self.vcsim.password, str(err))
        self.assertEqual([], self.view_list(self.soap))

    def test_read_from_inside_a_running_event_loop(self):
        # asyncio code (e.g. a CLI fanning out) calling the synchronous
        # read: it runs on a private loop thread, same result
        async def main():
            return inventory.read_container(self.session, PATHS,
                                            page_size=3)

        objects = asyncio.run(main())
        self.assertEqual(NAMES, sorted(p['name'] for _r, p in objects))
        self.assertEqual([], self.view_list(self.soap))

    def test_password_is_in_no_log_line_at_debug(self):
        inventory.read_container(self.session, PATHS, page_size=3)
        self.session.close()
        output = self.logger.output
        self.assertIn('VI/JSON session opened', output)   # DEBUG was on
        self.assertNotIn(self.options['vcenter_password'], output)
        self.assertNotIn(self.vcsim.password, output)


class TransportChoiceTest(_Sessions, testtools.TestCase):

    def start(self, releases):
        self.useFixture(fixtures.Timeout(120, gentle=True))
        fixture = self.useFixture(base.VcsimFixture(
            dict(FLAGS, **{'vijson-releases': releases})))
        self.logger = self.useFixture(fixtures.FakeLogger(level=logging.INFO))
        self.options = fixture.options()

    def test_server_without_vijson_reads_over_soap_in_auto(self):
        self.start('')
        session = self.new_session('auto')
        objects = inventory.read_container(session, PATHS)
        self.assertEqual(NAMES, sorted(p['name'] for _r, p in objects))
        self.assertIsNone(select.state_for(session))
        self.assertIn('inventory reads over SOAP', self.logger.output)

    def test_json_forced_on_a_server_without_it_is_a_clear_error(self):
        self.start('')
        session = self.new_session('json')
        err = self.assertRaises(exceptions.VCenterConnectionError,
                                inventory.read_container, session, PATHS)
        self.assertIn('vcenter_read_transport = json', str(err))
        self.assertIn('does not serve VI/JSON', str(err))
        self.assertIn('set it to auto or soap', str(err))

    def test_8_0_u1_has_no_hello_and_speaks_8_0_1_0(self):
        self.start('8.0.1.0')
        session = self.new_session('auto')
        objects = inventory.read_container(session, PATHS)
        self.assertEqual(8, len(objects))
        self.assertEqual('8.0.1.0', select.state_for(session).release)

    def test_hello_picks_the_newest_common_release(self):
        self.start('8.0.1.0,8.0.2.0')
        session = self.new_session('auto')
        inventory.read_container(session, PATHS)
        self.assertEqual('8.0.2.0', select.state_for(session).release)

    def test_no_common_release_falls_back_in_auto_and_fails_in_json(self):
        self.start('9.9.9.9')
        session = self.new_session('auto')
        self.assertEqual(8, len(inventory.read_container(session, PATHS)))
        self.assertIsNone(select.state_for(session))
        forced = self.new_session('json')
        err = self.assertRaises(exceptions.VCenterConnectionError,
                                inventory.read_container, forced, PATHS)
        self.assertIn('shares no VI/JSON release', str(err))

    def test_soap_forced(self):
        self.start('8.0.2.0')
        session = self.new_session('soap')
        before = session.counts_snapshot()
        self.assertEqual(8, len(inventory.read_container(session, PATHS)))
        self.assertIsNone(select.state_for(session))
        self.assertEqual(collections.Counter({'CreateContainerView': 1,
                                              'RetrievePropertiesEx': 1,
                                              'DestroyView': 1}),
                         collections.Counter(read_calls(
                             session.counts_snapshot() - before)))


class TLSTest(testtools.TestCase):
    """VI/JSON verifies vCenter's certificate as SOAP does."""

    def setUp(self):
        super().setUp()
        self.useFixture(fixtures.Timeout(120, gentle=True))
        self.useFixture(fixtures.FakeLogger())
        self.certs = self.useFixture(test_session_tls.Certificates())
        self.server = self.useFixture(test_session_tls.TLSServer(
            *self.certs.server('ip', 'IP:127.0.0.1')))

    def session(self, transport, **overrides):
        options = conf.option_defaults(
            vcenter_host='127.0.0.1', vcenter_port=self.server.port,
            vcenter_scheme='https', vcenter_username='user',
            vcenter_password='secret', vcenter_read_transport=transport)
        options.update(overrides)
        session = vc_session.VCenterSession(options)
        self.addCleanup(session.close)
        return session

    def test_verification_is_on_by_default(self):
        for transport in ('json', 'auto'):
            before = self.server.connections
            err = self.assertRaises(exceptions.VCenterTLSError,
                                    inventory.read_container,
                                    self.session(transport), PATHS)
            self.assertIn('set vcenter_ca_file', str(err))
            self.assertEqual(before + 1, self.server.connections)
            self.assertEqual(0, self.server.handshakes)

    def test_wrong_ca_file_is_named(self):
        other = self.useFixture(test_session_tls.Certificates())
        err = self.assertRaises(
            exceptions.VCenterTLSError, inventory.read_container,
            self.session('json', vcenter_ca_file=other.ca), PATHS)
        self.assertIn('vcenter_ca_file (%s)' % other.ca, str(err))

    def test_trusted_ca_gets_through_tls(self):
        err = self.assertRaises(
            exceptions.VCenterConnectionError, inventory.read_container,
            self.session('json', vcenter_ca_file=self.certs.ca), PATHS)
        self.assertNotIsInstance(err, exceptions.VCenterTLSError)
        # past the handshake: the server's error page is what fails
        self.assertIn('System.hello', str(err))
        self.assertIn('503 Service Unavailable', str(err))
        self.assertEqual(1, self.server.handshakes)
