"""Reads written by hand (rawsoap/soapxml) against the simulator.

The same values, faults, counting and recovery as the same read through
suds; values that need escaping go through; the fault proxy's HTTP faults
and a refused session are handled as for any read.
"""

import collections
import threading

import requests

from tests.functional import lifecycle_base as lb
from tests.functional import test_faultproxy
from vmware_backend import exceptions
from vmware_backend.testbed.faults import rules
from vmware_backend.vsphere import apisession
from vmware_backend.vsphere import inventory

PATHS = ['name', 'config.instanceUuid', 'config.extraConfig', 'datastore']


class RawSoapTest(lb.LifecycleTestCase):

    def test_same_values_as_suds_and_counted(self):
        volume = self.create(size=1)
        ref = self.find(volume.id)
        probe = collections.Counter(), collections.Counter()
        plugin = apisession.RequestProbe(probe[0], threading.Lock(),
                                         probe[1])
        plugins = self.session.vim.client.options.plugins
        plugins.append(plugin)
        self.addCleanup(plugins.remove, plugin)
        before = self.session.counts_snapshot()
        received = self.session.bytes_snapshot()['received']
        raw = inventory.get_properties(self.session, ref, PATHS, raw=True)
        self.assertEqual({'RetrievePropertiesEx': 1},
                         dict(self.session.counts_snapshot() - before))
        # Another probe on the client (the bench's) sees it too, with the
        # bytes of the reply as it came.
        self.assertEqual({'RetrievePropertiesEx': 1}, dict(probe[0]))
        self.assertGreater(probe[1]['received'], 500)
        self.assertGreater(probe[1]['sent'], 300)
        self.assertEqual(probe[1]['received'],
                         self.session.bytes_snapshot()['received'] -
                         received)
        by_suds = inventory.get_properties(self.session, ref, PATHS)
        self.assertEqual(volume.id, raw['config.instanceUuid'])
        self.assertEqual(by_suds['name'], raw['name'])
        self.assertEqual(by_suds['datastore'], raw['datastore'])
        self.assertEqual(
            {o['key']: o.get('value') for o in by_suds['config.extraConfig']},
            {o['key']: o.get('value') for o in raw['config.extraConfig']})

    def test_values_that_need_escaping(self):
        volume = self.create(size=1)
        ref = self.find(volume.id)
        key = "x<&'>y.%s" % volume.id[:8]
        self.driver.ops.set_extra_config(ref, {key: 'a<b&c'}, 'test')
        path = 'config.extraConfig["%s"]' % key
        props = inventory.get_properties(self.session, ref, [path],
                                         raw=True)
        self.assertEqual('a<b&c', props[path]['value'])
        self.assertEqual(key, props[path]['key'])
        # A name XML cannot carry is refused before anything is sent.
        before = self.session.total_requests()
        err = self.assertRaises(ValueError, inventory.get_properties,
                                self.session, ref, ['name\x01'], raw=True)
        self.assertIn("'name\\x01'", str(err))
        self.assertEqual(before, self.session.total_requests())

    def test_fault_is_the_fault_suds_gives(self):
        volume = self.create(size=1)
        ref = self.find(volume.id)
        self.driver.ops.destroy(ref, 'test')
        by_suds = self.assertRaises(
            exceptions.VCenterFault, inventory.get_properties,
            self.session, ref, ['name'])
        raw = self.assertRaises(
            exceptions.VCenterFault, inventory.get_properties,
            self.session, ref, ['name'], raw=True)
        self.assertEqual('ManagedObjectNotFound', raw.fault)
        self.assertTrue(raw.object_gone)
        self.assertEqual(str(by_suds), str(raw))

    def test_expired_session_logs_in_again(self):
        volume = self.create(size=1)
        ref = self.find(volume.id)
        resp = requests.post('http://127.0.0.1:%d/testbed/expire-sessions'
                             % self.vcsim.port, json={}, timeout=10)
        self.assertEqual(200, resp.status_code, resp.text)
        before = self.session.counts_snapshot()
        props = inventory.get_properties(self.session, ref,
                                         ['config.instanceUuid'], raw=True)
        self.assertEqual(volume.id, props['config.instanceUuid'])
        calls = self.session.counts_snapshot() - before
        self.assertEqual({'Login': 1, 'RetrievePropertiesEx': 2},
                         dict(calls))


class RawSoapProxyTest(test_faultproxy._ProxyTestCase):
    """The fault proxy's HTTP faults on a hand-written read."""

    def read(self):
        root = self.client.service_content.rootFolder
        return inventory.get_properties(self.client, root, ['name'],
                                        raw=True)

    def check_resent(self, kind):
        self.fault(kind, 'RetrievePropertiesEx')
        before = self.client.counts_snapshot()
        self.assertEqual({'name': 'Datacenters'}, self.read())
        self.assertInjected(kind, 'RetrievePropertiesEx')
        self.assertEqual(2, (self.client.counts_snapshot() - before)[
            'RetrievePropertiesEx'])

    def test_reset_is_resent(self):
        self.check_resent('reset')

    def test_dropped_answer_is_resent(self):
        self.check_resent('drop_answer')

    def test_http_500_is_resent(self):
        self.check_resent('http_500')

    def test_http_503_is_resent(self):
        self.check_resent('http_503')

    def test_not_authenticated_logs_in_again(self):
        old_key = self.client.api._session_id
        self.check_resent('not_authenticated')
        self.assertNotEqual(old_key, self.client.api._session_id)

    def test_every_attempt_failing_is_a_connection_error(self):
        self.plan.rules = [rules.Rule('http_503', 'RetrievePropertiesEx',
                                      count=5)]
        err = self.assertRaises(exceptions.VCenterConnectionError, self.read)
        self.assertIn('503', str(err))
