"""The operator fan-out over VI/JSON only, on one event loop, on vcsim.

* check, pools, volumes and audit over several simulators give the same
  rows with ``vcenter_read_transport = json`` (VI/JSON-only sessions on
  one event loop) as with ``soap`` (a SOAP session per backend, in
  threads); backends that fail (no server on the port, a wrong password,
  an HTTP 500 answer) are reported, named, without hiding the others;
* no SOAP session is made for a VI/JSON backend;
* afterwards no view is left and the VI/JSON sessions are logged out;
* a VI/JSON-only session whose vCenter session expires in the middle of a
  paged read, or before a per-object read, logs in again and reads again;
* TLS is verified by default; the password is in no output.
"""

import asyncio
import contextlib
import http.server
import io
import json
import threading
from unittest import mock

import fixtures

from tests.functional import base
from tests.functional import lifecycle_base as lb
from tests.functional import test_backends_cli
from tests.functional import test_manage
from tests.functional import test_manage_cli
from tests.functional import test_session_tls
from vmware_backend.admin import listing
from vmware_backend.cmd import manage
from vmware_backend import conf
from vmware_backend.testbed.faults import control as control_mod
from vmware_backend.vsphere import inventory
from vmware_backend.vsphere.json import session as json_session
from vmware_backend.vsphere import session as vc_session

COMMANDS = ('check', 'pools', 'volumes', 'audit')
PATHS = {'HostSystem': ['name'], 'Datastore': ['name', 'host']}
GOOD = ('vmware-1', 'vmware-2', 'vmware-3')
BAD = ('vmware-closed', 'vmware-badpw', 'vmware-http500')


class _Http500(http.server.BaseHTTPRequestHandler):
    """A load balancer in front of a broken vCenter: HTTP 500, HTML."""

    def _answer(self):
        length = int(self.headers.get('Content-Length') or 0)
        self.rfile.read(length)
        body = b'<html><body>500 Internal Server Error</body></html>'
        self.send_response(500)
        self.send_header('Content-Type', 'text/html')
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, *args):
        pass


class Http500Server(fixtures.Fixture):

    def _setUp(self):
        self.server = http.server.ThreadingHTTPServer(('127.0.0.1', 0),
                                                      _Http500)
        self.port = self.server.server_address[1]
        thread = threading.Thread(target=self.server.serve_forever,
                                  daemon=True)
        thread.start()
        self.addCleanup(thread.join, 5)
        self.addCleanup(self.server.server_close)
        self.addCleanup(self.server.shutdown)


def view_list(session):
    return inventory.get_properties(
        session, inventory.from_suds(session.service_content.viewManager),
        ['viewList']).get('viewList') or []


class FanOutOverVIJSONTest(test_manage_cli.CliMixin,
                           test_manage.ManageTestBase):

    def setUp(self):
        super().setUp()
        self.servers = [self.vcsim] + test_backends_cli.extra_servers()
        # on the first simulator: a volume attached to an instance, an
        # orphaned one (no volume id given for it) and another VM
        self.kept = self.create(1)
        self.orphan = self.create(2)
        instance = self.make_instance()
        self.driver.attach_volume(instance, self.kept)
        self.addCleanup(self.driver.detach_volume, instance, self.kept)
        self.foreign_vm()
        self.http500 = self.useFixture(Http500Server())

    def cinder_conf(self, transport):
        parts = []
        for name, server in zip(GOOD, self.servers):
            parts.append(self._section(name, server.options(
                vcenter_read_transport=transport)))
        failing = {
            'vmware-closed': self.vcsim.options(
                vcenter_port=test_backends_cli.closed_port()),
            'vmware-badpw': self.vcsim.options(
                vcenter_password='not-the-password-%s' % base.new_id()),
            'vmware-http500': self.vcsim.options(
                vcenter_port=self.http500.port)}
        for name in BAD:
            parts.append(self._section(name, dict(
                failing[name], vcenter_read_transport=transport,
                vcenter_api_retry_count=0)))
        return self.write_file('\n'.join(parts), suffix='.conf')

    def _section(self, name, options):
        # the first backend owns the driver's backings
        backend_name = (self.options['vcenter_backend_name']
                        if name == GOOD[0] else name)
        text = test_backends_cli.section(name, options)
        return text.replace('volume_backend_name = %s' % name,
                            'volume_backend_name = %s' % backend_name)

    def run_all(self, transport):
        config = self.cinder_conf(transport)
        found = {}
        for command in COMMANDS:
            args = ['--format', 'json', command]
            stdin = ''
            if command == 'audit':
                args += ['--volume-ids', '-', '--min-age', '0']
                stdin = '%s\n' % self.kept.id
            proc = self.cli(*args, config=config, stdin=stdin)
            self.assertExit(1, proc)
            for server in self.servers:
                self.assertNotIn(server.password, proc.stdout + proc.stderr)
            found[command] = {e['backend']: e
                              for e in self.json_of(proc)['backends']}
            self.assertEqual(sorted(GOOD + BAD), sorted(found[command]))
        return found

    def test_same_rows_over_json_as_over_soap_failing_ones_named(self):
        runs = {t: self.run_all(t) for t in ('soap', 'json')}
        for command in COMMANDS:
            for name in GOOD:
                # audit: vmware-1 has an orphaned backing (a problem)
                expected = 1 if (command, name) == ('audit', GOOD[0]) else 0
                self.assertEqual(expected,
                                 runs['json'][command][name]['status'],
                                 runs['json'][command][name])
                if command == 'audit':
                    # --volume-ids - (stdin) reached every backend
                    self.assertEqual(
                        1, runs['json'][command][name]['result'][
                            'known_ids'])
                for key in ('status', 'result', 'errors'):
                    self.assertEqual(runs['soap'][command][name][key],
                                     runs['json'][command][name][key])
        over_json = runs['json']
        # the inventory is there: the volumes, the instance, the orphan
        listed = str(over_json['volumes']['vmware-1']['result'])
        self.assertIn(self.kept.id, listed)
        self.assertIn(self.orphan.id, listed)
        rows = {r['volume_id']: r for r in
                over_json['volumes']['vmware-1']['result']}
        self.assertEqual(1, len(rows[self.kept.id]['attached_to']))
        self.assertIn(self.orphan.id,
                      str(over_json['audit']['vmware-1']['result']))
        self.assertEqual([], over_json['volumes']['vmware-2']['result'])
        # each failing backend: its own row and reason
        for run in runs.values():
            for command in COMMANDS:
                rows = run[command]
                for name in BAD:
                    self.assertEqual(1, rows[name]['status'])
                texts = {name: self._failure(command, rows[name])
                         for name in BAD}
                self.assertIn('cannot connect', texts['vmware-closed'])
                self.assertIn('refused the login', texts['vmware-badpw'])
                self.assertIn('http', texts['vmware-http500'])
        self.assertIn('500', self._failure(
            'pools', over_json['pools']['vmware-http500']))

    def _failure(self, command, entry):
        if command == 'check':
            return entry['result']['problems'][0]['problem'].lower()
        return entry['errors'][0]['error'].lower()

    def test_no_soap_session_views_destroyed_sessions_logged_out(self):
        config = self.cinder_conf('json')
        before = self._sessions()
        self.assertIn(self.session.api._session_id, before)
        for command in COMMANDS:
            argv = ['--config-file', config, '--format', 'json', command]
            if command == 'audit':
                argv += ['--volume-ids', '-']
            sink = io.StringIO()
            with mock.patch.object(
                    vc_session, 'VCenterSession',
                    side_effect=AssertionError('a SOAP session')) as made, \
                    mock.patch('sys.stdin', io.StringIO('')), \
                    contextlib.redirect_stdout(sink), \
                    contextlib.redirect_stderr(io.StringIO()):
                self.assertEqual(1, manage.main(argv))
            made.assert_not_called()
            self.assertIn('"status": 0', sink.getvalue())
            self.assertNotIn('AssertionError', sink.getvalue())
        self.assertEqual([], view_list(self.session))
        # every VI/JSON session of the fan-out was logged out
        self.assertEqual(before, self._sessions())

    def _sessions(self):
        manager = inventory.from_suds(
            self.session.service_content.sessionManager)
        listed = inventory.get_properties(self.session, manager,
                                          ['sessionList'])
        return sorted(s['key'] for s in listed.get('sessionList') or [])


class JSONSessionTest(test_manage.ManageTestBase):
    """A VI/JSON-only session's own reads, expiry and clean-up."""

    def setUp(self):
        super().setUp()
        self.kept = self.create(1)
        instance = self.make_instance()
        self.driver.attach_volume(instance, self.kept)
        self.addCleanup(self.driver.detach_volume, instance, self.kept)
        self.control = control_mod.SimulatorControl(
            '127.0.0.1', self.vcsim.port, self.vcsim.username,
            self.vcsim.password)
        self.logger = self.useFixture(fixtures.FakeLogger(level='INFO'))

    def in_json_session(self, fn, **overrides):
        options = dict(self.options, vcenter_read_transport='json',
                       **overrides)

        async def main():
            session = json_session.JSONSession(options)
            try:
                self.assertTrue(await session.start())
                return await json_session.run_sync_with(session, fn,
                                                        session)
            finally:
                await session.aclose()
                session.forget_secret()

        return asyncio.run(main())

    def expire_others(self):
        keep = self.session.api._session_id
        return self.control.expire_sessions(keep=[keep])['expired']

    def test_paged_read_and_per_object_reads_survive_expiry(self):
        expected = sorted(inventory.read_container(self.session, PATHS))
        folder = self.options['vcenter_volume_folder']
        soap_backings, soap_instances = listing.read(
            self.session, volume_folder=folder)
        datastores = sorted(ref for ref, _props in expected
                            if ref.type == 'Datastore')
        through = sorted(inventory.read_through(
            self.session, datastores, 'vm', {'VirtualMachine': ['name']}))

        def work(session):
            session.api
            got = []
            for n, item in enumerate(inventory.iter_container(
                    session, PATHS, page_size=3)):
                got.append(item)
                if n == 0:
                    old = session.state.session_key
                    self.assertIn(old, self.expire_others())
            keys = [old, session.state.session_key]
            # each per-object read after an expiry of its session
            results = []
            for read in (
                    lambda: sorted(inventory.read_through(
                        session, datastores, 'vm',
                        {'VirtualMachine': ['name']})),
                    lambda: inventory.get_properties(
                        session, session.service_content.rootFolder,
                        ['name']),
                    lambda: session.invoke(
                        'FindChild', session.service_content.searchIndex,
                        entity=session.service_content.rootFolder,
                        name='DC0')):
                self.assertIn(keys[-1], self.expire_others())
                results.append(read())
                keys.append(session.state.session_key)
            found = listing.read(session, volume_folder=folder)
            return got, results, keys, found, session.counts_snapshot()

        got, results, keys, found, counts = self.in_json_session(work)
        self.assertEqual(expected, sorted(got))
        self.assertEqual(through, results[0])
        self.assertGreater(len(through), 1)
        self.assertEqual({'name': 'Datacenters'}, results[1])
        self.assertEqual('Datacenter', results[2].type)
        self.assertEqual(5, len(set(keys)))   # four times logged in again
        self.assertEqual(
            sorted((b.volume_id, tuple(b.attached_to)) for b in
                   soap_backings),
            sorted((b.volume_id, tuple(b.attached_to)) for b in found[0]))
        self.assertEqual(sorted(i.name for i in soap_instances),
                         sorted(i.name for i in found[1]))
        attached = [b for b in found[0] if b.volume_id == self.kept.id]
        self.assertEqual(1, len(attached[0].attached_to))
        # the view of the expired session died with it; the others were
        # destroyed
        self.assertEqual(counts['CreateContainerView'],
                         counts['DestroyView'] + 1)
        self.assertEqual([], view_list(self.session))
        self.assertIn('VI/JSON session expired during', self.logger.output)
        self.assertNotIn(self.vcsim.password, self.logger.output)

    def test_writes_are_refused(self):
        def work(session):
            content = session.service_content
            try:
                session.invoke('CreateFolder', content.rootFolder,
                               name='never-%s' % base.new_id())
            except Exception as err:
                return str(err)

        self.assertIn('CreateFolder is not a read',
                      self.in_json_session(work))


class FanOutTLSTest(test_manage_cli.CliMixin, lb.LifecycleTestCase):
    """A VI/JSON backend's certificate is verified by default."""

    def test_untrusted_certificate_is_one_failing_row(self):
        certs = self.useFixture(test_session_tls.Certificates())
        server = self.useFixture(test_session_tls.TLSServer(
            *certs.server('ip', 'IP:127.0.0.1')))
        tls = conf.option_defaults(
            vcenter_host='127.0.0.1', vcenter_port=server.port,
            vcenter_scheme='https', vcenter_username='user',
            vcenter_password='secret-tls-pw', vcenter_read_transport='json')
        keys = ('vcenter_host', 'vcenter_port', 'vcenter_scheme',
                'vcenter_username', 'vcenter_password',
                'vcenter_read_transport')
        text = test_backends_cli.section('vmware-tls',
                                         {k: tls[k] for k in keys})
        text += test_backends_cli.section('vmware-1', self.vcsim.options(
            vcenter_read_transport='json'))
        proc = self.cli('--format', 'json', 'pools',
                        config=self.write_file(text, suffix='.conf'))
        self.assertExit(1, proc)
        entries = {e['backend']: e for e in self.json_of(proc)['backends']}
        self.assertEqual(0, entries['vmware-1']['status'])
        self.assertEqual(1, entries['vmware-tls']['status'])
        self.assertIn('set vcenter_ca_file',
                      entries['vmware-tls']['errors'][0]['hint'])
        self.assertEqual(0, server.handshakes)
        self.assertNotIn('secret-tls-pw', proc.stdout + proc.stderr)


class FanOutFallbackTest(test_manage_cli.CliMixin, base.FunctionalTestCase):
    """auto: a vCenter without VI/JSON is read over SOAP, in a thread."""

    def test_server_without_vijson_runs_on_a_soap_session(self):
        plain = self.useFixture(base.VcsimFixture(
            {'hosts': 2, 'datastores': 2, 'vms': 1,
             'vijson-releases': ''})).server
        text = (test_backends_cli.section('vmware-soap', plain.options(
            vcenter_read_transport='auto')) +
            test_backends_cli.section('vmware-json', self.vcsim.options(
                vcenter_read_transport='auto')))
        config = self.write_file(text, suffix='.conf')
        sink = io.StringIO()
        with mock.patch.object(vc_session, 'VCenterSession',
                               wraps=vc_session.VCenterSession) as made, \
                contextlib.redirect_stdout(sink), \
                contextlib.redirect_stderr(io.StringIO()):
            status = manage.main(['--config-file', config, '--format',
                                  'json', 'pools'])
        self.assertEqual(0, status, sink.getvalue())
        # one SOAP session: the backend without VI/JSON's
        self.assertEqual([plain.port], [c.args[0]['vcenter_port']
                                        for c in made.call_args_list])
        entries = {e['backend']: e for e in
                   json.loads(sink.getvalue())['backends']}
        for name in ('vmware-soap', 'vmware-json'):
            self.assertEqual(0, entries[name]['status'])
            self.assertIn('LocalDS_0', [row['datastore'] for row in
                                        entries[name]['result']])
