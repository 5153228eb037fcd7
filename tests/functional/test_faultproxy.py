"""Each fault of the fault proxy, against the simulator.

A plain session talks to the simulator through the proxy; what the
simulator holds afterwards is read over the test case's direct session.
"""

import atexit
import threading
import time

from tests.functional import base
from vmware_backend import conf
from vmware_backend import exceptions
from vmware_backend.testbed.faults import control as control_mod
from vmware_backend.testbed.faults import proxy as proxy_mod
from vmware_backend.testbed.faults import rules
from vmware_backend.vsphere import ops as volumeops
from vmware_backend.vsphere import session as vc_session
from vmware_backend.vsphere import specs as vm_util

HTTP_TIMEOUT = 1.0
SLOW_HOLD = 2.0
TASK_TIMEOUT = 2.0

_shared = {}
_lock = threading.Lock()


def _proxied(server):
    """One proxy and one session through it per test process."""
    with _lock:
        if _shared.get('server') is not server:
            ctl = control_mod.SimulatorControl(
                '127.0.0.1', server.port, server.username, server.password)
            proxy = proxy_mod.FaultProxy('127.0.0.1', server.port,
                                         control=ctl, slow_hold=SLOW_HOLD,
                                         task_slow_ms=500).start()
            atexit.register(proxy.stop)
            options = conf.option_defaults(**proxy.options(server.options(
                vcenter_http_timeout=HTTP_TIMEOUT,
                vcenter_task_timeout=TASK_TIMEOUT,
                vcenter_api_retry_count=1)))
            _shared.update(server=server, proxy=proxy, control=ctl,
                           session=vc_session.VCenterSession(options))
        return _shared['proxy'], _shared['control'], _shared['session']


class _ProxyTestCase(base.FunctionalTestCase):

    def setUp(self):
        super().setUp()
        self.proxy, self.control, self.client = _proxied(self.vcsim)
        self.plan = rules.FaultPlan(seed=7)
        self.proxy.plan = self.plan
        self.client.api  # logged in before any fault

    def fault(self, kind, method):
        self.plan.rules = [rules.Rule(kind, method, count=1)]

    def folder_named(self, name):
        return self.session.invoke(
            'FindChild', self.session.service_content.searchIndex,
            entity=self.session.service_content.rootFolder, name=name)

    def create_folder(self, session, name):
        return session.invoke('CreateFolder',
                              session.service_content.rootFolder, name=name)

    def assertFolder(self, name, exists):
        ref = self.folder_named(name)
        if ref is not None:
            self.addCleanup(self.session.invoke_task, 'Destroy_Task', ref)
        self.assertEqual(exists, ref is not None, name)

    def assertInjected(self, kind, method):
        self.assertEqual([(kind, method)],
                         [(i.kind, i.method) for i in self.plan.injected])


class FaultProxyTestCase(_ProxyTestCase):
    """HTTP faults, performed by the proxy."""

    def test_keep_alive(self):
        before = (self.proxy.accepted_connections, self.proxy.requests)
        for _i in range(10):
            self.client.get_properties(
                self.client.service_content.rootFolder, ['name'])
        self.assertEqual(10, self.proxy.requests - before[1])
        self.assertLessEqual(self.proxy.accepted_connections - before[0], 1)

    def test_reset_before_forwarding_does_nothing(self):
        name = 'fp-reset-%s' % base.new_id()[:8]
        self.fault('reset', 'CreateFolder')
        self.assertRaises(exceptions.VCenterConnectionError,
                          self.create_folder, self.client, name)
        self.assertInjected('reset', 'CreateFolder')
        self.assertFolder(name, False)

    def test_drop_answer_after_the_work(self):
        name = 'fp-drop-%s' % base.new_id()[:8]
        self.fault('drop_answer', 'CreateFolder')
        self.assertRaises(exceptions.VCenterConnectionError,
                          self.create_folder, self.client, name)
        self.assertInjected('drop_answer', 'CreateFolder')
        self.assertFolder(name, True)

    def test_read_is_resent_after_reset(self):
        self.fault('reset', 'RetrievePropertiesEx')
        props = self.client.get_properties(
            self.client.service_content.rootFolder, ['name'])
        self.assertEqual('Datacenters', props['name'])
        self.assertInjected('reset', 'RetrievePropertiesEx')

    def _http_error(self, kind):
        name = 'fp-%s-%s' % (kind, base.new_id()[:8])
        self.fault(kind, 'CreateFolder')
        err = self.assertRaises(exceptions.VMwareBackendException,
                                self.create_folder, self.client, name)
        self.assertInjected(kind, 'CreateFolder')
        self.assertFolder(name, False)
        return err

    def test_http_500_does_nothing(self):
        self._http_error('http_500')

    def test_http_503_does_nothing(self):
        self._http_error('http_503')

    def test_slow_answer_times_out_after_the_work(self):
        name = 'fp-slow-%s' % base.new_id()[:8]
        self.fault('slow', 'CreateFolder')
        start = time.monotonic()
        self.assertRaises(exceptions.VCenterConnectionError,
                          self.create_folder, self.client, name)
        self.assertLess(time.monotonic() - start, SLOW_HOLD)
        self.assertInjected('slow', 'CreateFolder')
        self.assertFolder(name, True)

    def test_not_authenticated_ends_the_session_first(self):
        old_key = self.client.api._session_id
        name = 'fp-auth-%s' % base.new_id()[:8]
        self.fault('not_authenticated', 'CreateFolder')
        # The simulator refuses the call (nothing done); the session logs
        # in again and sends it once more.
        self.create_folder(self.client, name)
        self.assertInjected('not_authenticated', 'CreateFolder')
        self.assertNotEqual(old_key, self.client.api._session_id)
        self.assertFalse(self.control.terminate_session(old_key))
        self.assertFolder(name, True)


class TaskFaultTestCase(_ProxyTestCase):
    """Task faults, set through the simulator's control endpoint."""

    def setUp(self):
        super().setUp()
        if not self.control.has_endpoint():
            self.skipTest('the simulator has no /testbed/task-faults '
                          'endpoint (branch testbed-go not merged)')
        self.vm = self._make_vm()

    def _make_vm(self):
        searchindex = self.session.service_content.searchIndex
        template = self.session.invoke(
            'FindByInventoryPath', searchindex,
            inventoryPath='DC0/vm/DC0_C0_RP0_VM0')
        where = self.session.get_properties(
            template, ['parent', 'resourcePool', 'datastore'])
        ds = self.session.get_properties(
            volumeops.ref_list(where['datastore'])[0], ['name'])['name']
        uuid = base.new_id()
        spec = vm_util.backing_config_spec(
            self.session.factory, 'fp-vm-%s' % uuid[:8], uuid, 1, 'thin',
            'lsiLogic', ds, 128)
        ref = self.session.invoke_task('CreateVM_Task', where['parent'],
                                       config=spec,
                                       pool=where['resourcePool'])
        self.addCleanup(self.session.invoke_task, 'Destroy_Task', ref)
        return ref

    def snapshot(self, name):
        return self.client.invoke_task(
            'CreateSnapshot_Task', self.vm, name=name, description='',
            memory=False, quiesce=False)

    def snapshot_names(self):
        props = self.session.get_properties(self.vm, ['snapshot'])
        return [t.name for t, _d in volumeops.snapshot_trees(props)]

    def test_task_error_before(self):
        self.fault('task_error_before', 'CreateSnapshot_Task')
        self.assertRaises(exceptions.VCenterFault, self.snapshot, 's1')
        self.assertInjected('task_error_before', 'CreateSnapshot_Task')
        self.assertEqual([], self.snapshot_names())

    def test_task_error_after(self):
        self.fault('task_error_after', 'CreateSnapshot_Task')
        self.assertRaises(exceptions.VCenterFault, self.snapshot, 's1')
        self.assertInjected('task_error_after', 'CreateSnapshot_Task')
        self.assertEqual(['s1'], self.snapshot_names())

    def test_task_hang_is_cancelled_at_the_deadline(self):
        self.fault('task_hang', 'CreateSnapshot_Task')
        start = time.monotonic()
        self.assertRaises(exceptions.TaskTimeout, self.snapshot, 's1')
        self.assertGreaterEqual(time.monotonic() - start, TASK_TIMEOUT)
        self.assertInjected('task_hang', 'CreateSnapshot_Task')
        self.assertEqual([], self.snapshot_names())

    def test_task_slow_succeeds(self):
        self.fault('task_slow', 'CreateSnapshot_Task')
        start = time.monotonic()
        self.snapshot('s1')
        self.assertGreaterEqual(time.monotonic() - start, 0.5)
        self.assertInjected('task_slow', 'CreateSnapshot_Task')
        self.assertEqual(['s1'], self.snapshot_names())
        self.assertEqual([], self.control.task_faults().get('rules') or [])
