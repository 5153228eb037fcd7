"""The simulator behaves like vCenter where vcsim 0.24.2 did not.

Each test drives one closed gap through suds and oslo.vmware, the way the
driver (or Cinder's own driver) meets it. The Go self-check
(``vmware_backend/testbed/vcsim/selfcheck.sh``) covers the same gaps and
more from govmomi's client side. Gaps proven elsewhere in this suite:
paging (test_inventory), datastore type and host mounts (test_placement),
clone device copies and linked clones (test_lifecycle.CloneTest), disk uuid
following its file (test_attach), task delay (test_session).

The fault-injection additions (CancelTask, the ``/testbed/task-faults`` rules
and session termination, README "Control endpoints") are proven at the end
against a simulator of the test's own.
"""

import time

from oslo_vmware import exceptions as vexc
from oslo_vmware import vim_util
import requests

from tests.functional import base
from tests.functional import lifecycle_base as lb
from vmware_backend.vsphere import inventory
from vmware_backend.vsphere import ops as vsphere_ops
from vmware_backend.vsphere import specs


class TestBedTest(lb.LifecycleTestCase):

    def test_oslo_vmware_recursive_traversal_terminates(self):
        # rp_to_vm / rp_to_rp traversal specs looped forever in 0.24.2.
        result = self.session.api.invoke_api(
            vim_util, 'get_objects', self.session.vim, 'VirtualMachine', 100,
            ['name'])
        names = [o.propSet[0].val for o in result.objects]
        self.assertIn('DC0_C0_RP0_VM0', names)
        self.assertEqual(len(names), len(set(names)))
        self.session.api.invoke_api(vim_util, 'cancel_retrieval',
                                    self.session.vim, result)

    def test_find_all_by_uuid(self):
        volume = self.create(size=1)
        found = self.session.invoke(
            'FindAllByUuid', self.session.service_content.searchIndex,
            uuid=volume.id, vmSearch=True, instanceUuid=True)
        self.assertEqual(1, len(found))
        self.assertEqual(volume.id, self.session.get_properties(
            found[0], ['config.instanceUuid'])['config.instanceUuid'])
        self.assertFalse(self.session.invoke(
            'FindAllByUuid', self.session.service_content.searchIndex,
            uuid=lb.base.new_id(), vmSearch=True, instanceUuid=True))

    def test_keyed_extra_config_path(self):
        volume = self.create(size=1)
        path = 'config.extraConfig["%s"]' % specs.KEY_VOLUME_ID
        props = self.session.get_properties(self.find(volume.id), [path])
        self.assertEqual(specs.KEY_VOLUME_ID, props[path].key)
        self.assertEqual(volume.id, props[path].value)

    def test_extend_virtual_disk_task(self):
        volume = self.create(size=1)
        state = self.state(volume.id)
        datacenter = self.session.invoke(
            'FindByInventoryPath', self.session.service_content.searchIndex,
            inventoryPath='DC0')
        self.session.invoke_task(
            'ExtendVirtualDisk_Task',
            self.session.service_content.virtualDiskManager,
            name=state.disk.backing.fileName, datacenter=datacenter,
            newCapacityKb=3 * 1024 * 1024, eagerZero=False)
        self.assertEqual(3 * 1024 * 1024,
                         self.state(volume.id).disk.capacityInKB)
        err = self.assertRaises(
            lb.exceptions.VCenterFault, self.session.invoke_task,
            'ExtendVirtualDisk_Task',
            self.session.service_content.virtualDiskManager,
            name=state.disk.backing.fileName, datacenter=datacenter,
            newCapacityKb=1024, eagerZero=False)
        self.assertEqual('InvalidArgument', err.fault)

    def test_container_views_are_listed_until_destroyed(self):
        view_manager = self.session.service_content.viewManager
        view = self.session.invoke(
            'CreateContainerView', view_manager,
            container=self.session.service_content.rootFolder,
            type=['Datastore'], recursive=True)
        listed = inventory.to_plain(self.session.get_properties(
            view_manager, ['viewList']).get('viewList')) or []
        self.assertIn(vsphere_ops.moref_value(view),
                      [ref.value for ref in listed])
        self.session.invoke('DestroyView', view)
        listed = inventory.to_plain(self.session.get_properties(
            view_manager, ['viewList']).get('viewList')) or []
        self.assertNotIn(vsphere_ops.moref_value(view),
                         [ref.value for ref in listed])


class _ControlMixin:
    """The simulator's /testbed/ control endpoint and a few VM helpers."""

    def control(self, method, path, **kwargs):
        return requests.request(
            method, 'http://127.0.0.1:%d/testbed/%s' % (self.vcsim.port, path),
            timeout=10, **kwargs)

    def set_rules(self, *rules):
        resp = self.control('PUT', 'task-faults', json={'rules': list(rules)})
        self.assertEqual(200, resp.status_code, resp.text)
        return resp.json()['rules']

    def find_vm(self, name):
        return self.session.invoke(
            'FindByInventoryPath', self.session.service_content.searchIndex,
            inventoryPath='DC0/vm/%s' % name)

    def start_create_vm(self, name):
        factory = self.session.factory
        spec = factory.create('ns0:VirtualMachineConfigSpec')
        spec.name = name
        spec.guestId = 'otherGuest'
        files = factory.create('ns0:VirtualMachineFileInfo')
        files.vmPathName = '[LocalDS_0]'
        spec.files = files
        return self.session.invoke('CreateVM_Task', self.vm_folder(),
                                   config=spec, pool=self.pool())

    def vm_folder(self):
        return self.session.invoke(
            'FindByInventoryPath', self.session.service_content.searchIndex,
            inventoryPath='DC0/vm')

    def pool(self):
        return self.session.invoke(
            'FindByInventoryPath', self.session.service_content.searchIndex,
            inventoryPath='DC0/host/DC0_C0/Resources')

    def start_clone(self, name):
        factory = self.session.factory
        spec = factory.create('ns0:VirtualMachineCloneSpec')
        location = factory.create('ns0:VirtualMachineRelocateSpec')
        location.pool = self.pool()
        spec.location = location
        spec.powerOn = False
        spec.template = False
        source = self.session.invoke(
            'FindByInventoryPath', self.session.service_content.searchIndex,
            inventoryPath='DC0/vm/DC0_C0_RP0_VM0')
        return self.session.invoke('CloneVM_Task', source,
                                   folder=self.vm_folder(), name=name,
                                   spec=spec)

    def info(self, task):
        return self.session.get_properties(task, ['info'])['info']

    def assert_request_canceled(self, task):
        """The task ended cancelled (error RequestCanceled, cancelled=true).

        suds turns a fault without properties (``<fault
        xsi:type="RequestCanceled"/>``) into an empty Text, so the type is
        not visible here; the message and ``cancelled`` are (the Go
        self-check asserts the type).
        """
        err = self.assertRaises(lb.exceptions.VCenterFault,
                                self.session.wait_for_task, task)
        self.assertIn('The task was canceled by a user.', str(err))
        info = self.info(task)
        self.assertEqual('error', info.state)
        self.assertTrue(info.cancelled)

    def cancel_fault(self, task):
        """CancelTask; the fault name, or None when it was accepted."""
        try:
            self.session.invoke('CancelTask', task)
        except lb.exceptions.VCenterFault as err:
            return err.fault
        return None


class TaskFaultTest(_ControlMixin, base.FunctionalTestCase):
    """CancelTask and the per-method task fault rules, through oslo.vmware."""

    VCSIM_FLAGS = {'task-delay-ms': 100}

    def setUp(self):
        super().setUp()
        self.addCleanup(self.control, 'DELETE', 'task-faults')

    def test_cancel_running_clone_runs_nothing(self):
        self.set_rules({'method': 'CloneVM_Task', 'delay_ms': 400,
                        'outcome': 'success'})
        name = 'cancelled-%s' % base.new_id()[:8]
        task = self.start_clone(name)
        info = self.info(task)
        self.assertEqual('running', info.state)
        self.assertTrue(info.cancelable)
        self.assertIsNone(self.cancel_fault(task))
        self.assert_request_canceled(task)
        # Past the rule's delay the clone still was not made.
        time.sleep(0.6)
        self.assertIsNone(self.find_vm(name))
        self.assertEqual('error', self.info(task).state)
        self.assertEqual('InvalidState', self.cancel_fault(task))

    def test_cancel_finished_or_non_cancelable_task(self):
        name = 'create-%s' % base.new_id()[:8]
        task = self.start_create_vm(name)
        info = self.info(task)
        # vSphere does not document CreateVM_Task as cancelable.
        self.assertEqual('running', info.state)
        self.assertFalse(info.cancelable)
        self.assertEqual('NotSupported', self.cancel_fault(task))
        self.session.wait_for_task(task)
        self.assertIsNotNone(self.find_vm(name))
        self.assertEqual('InvalidState', self.cancel_fault(task))

    def test_error_before_does_no_work(self):
        self.set_rules({'method': 'CreateVM_Task', 'delay_ms': 50,
                        'outcome': 'error-before'})
        name = 'before-%s' % base.new_id()[:8]
        err = self.assertRaises(lb.exceptions.VCenterFault,
                                self.session.wait_for_task,
                                self.start_create_vm(name))
        self.assertEqual('SystemError', err.fault)
        self.assertIn('injected by testbed', str(err))
        self.assertIsNone(self.find_vm(name))

    def test_error_after_really_ran(self):
        self.set_rules({'method': 'CreateVM_Task', 'delay_ms': 50,
                        'outcome': 'error-after'},
                       {'method': 'ReconfigVM_Task',
                        'outcome': 'error-after'})
        name = 'after-%s' % base.new_id()[:8]
        err = self.assertRaises(lb.exceptions.VCenterFault,
                                self.session.wait_for_task,
                                self.start_create_vm(name))
        self.assertEqual('SystemError', err.fault)
        vm = self.find_vm(name)
        self.assertIsNotNone(vm)
        spec = self.session.factory.create('ns0:VirtualMachineConfigSpec')
        option = self.session.factory.create('ns0:OptionValue')
        option.key = 'testbed.marker'
        option.value = 'set'
        spec.extraConfig = [option]
        err = self.assertRaises(lb.exceptions.VCenterFault,
                                self.session.invoke_task, 'ReconfigVM_Task',
                                vm, spec=spec)
        self.assertEqual('SystemError', err.fault)
        props = self.session.get_properties(vm, ['config.extraConfig'])
        self.assertEqual('set', vsphere_ops.extra_config_dict(
            props)['testbed.marker'])

    def test_hang_until_cancelled(self):
        self.set_rules({'method': 'CloneVM_Task', 'outcome': 'hang'})
        name = 'hung-%s' % base.new_id()[:8]
        task = self.start_clone(name)
        time.sleep(0.5)
        self.assertEqual('running', self.info(task).state)
        self.assertIsNone(self.find_vm(name))
        self.assertIsNone(self.cancel_fault(task))
        self.assert_request_canceled(task)
        self.assertIsNone(self.find_vm(name))

    def test_times_counts_matching_calls(self):
        rules = self.set_rules({'method': 'CreateVM_Task',
                                'outcome': 'error-before', 'times': 1},
                               {'method': '*', 'outcome': 'success'})
        self.assertEqual([1, None], [r['remaining'] for r in rules])
        first = 'first-%s' % base.new_id()[:8]
        second = 'second-%s' % base.new_id()[:8]
        self.assertRaises(lb.exceptions.VCenterFault,
                          self.session.wait_for_task,
                          self.start_create_vm(first))
        self.session.wait_for_task(self.start_create_vm(second))
        self.assertIsNone(self.find_vm(first))
        self.assertIsNotNone(self.find_vm(second))
        rules = self.control('GET', 'task-faults').json()['rules']
        self.assertEqual([(0, 1), (None, 1)],
                         [(r['remaining'], r['matched']) for r in rules])
        self.assertEqual({'rules': []},
                         self.control('DELETE', 'task-faults').json())

    def test_bad_rules_are_refused(self):
        resp = self.control('PUT', 'task-faults', json={'rules': [
            {'method': 'CloneVM_Task', 'outcome': 'explode'}]})
        self.assertEqual(400, resp.status_code)
        self.assertIn('unknown outcome "explode"', resp.text)
        resp = self.control('PUT', 'task-faults', data='{"rules": [')
        self.assertEqual(400, resp.status_code)
        self.assertIn('bad JSON', resp.text)
        self.assertEqual({'rules': []},
                         self.control('GET', 'task-faults').json())


class SessionTerminationTest(_ControlMixin, base.FunctionalTestCase):
    """A second client really expires a session (TerminateSession)."""

    VCSIM_FLAGS = {}

    def _victim(self):
        victim = base.vc_session.VCenterSession(self.options)
        self.addCleanup(victim.close)
        victim.api
        return victim

    def _not_authenticated(self, session):
        """Call CurrentTime straight through oslo.vmware (no re-login)."""
        try:
            session.vim.CurrentTime(vim_util.get_moref(
                'ServiceInstance', 'ServiceInstance'))
        except vexc.VimFaultException as err:
            return vexc.NOT_AUTHENTICATED in (err.fault_list or [])
        return False

    def test_terminated_session_is_not_authenticated(self):
        victim = self._victim()
        key = victim.api._session_id
        # The session cookie is the UserSession key in vcsim.
        self.assertEqual(key, victim.vim.get_http_cookie())
        self.assertEqual(key, victim.get_properties(
            victim.service_content.sessionManager,
            ['currentSession'])['currentSession'].key)
        manager = self.session.service_content.sessionManager
        self.session.invoke('TerminateSession', manager, sessionId=[key])
        self.assertTrue(self._not_authenticated(victim))
        # Its property reads fail too (NotAuthenticated in missingSet).
        err = self.assertRaises(
            vexc.VimFaultException, victim.vim.RetrievePropertiesEx,
            victim.service_content.propertyCollector,
            specSet=[vim_util.build_property_filter_spec(
                victim.factory,
                [vim_util.build_property_spec(victim.factory, 'Folder',
                                              ['name'])],
                [vim_util.build_object_spec(
                    victim.factory, victim.service_content.rootFolder, [])])],
            options=victim.factory.create('ns0:RetrieveOptions'))
        self.assertIn(vexc.NOT_AUTHENTICATED, err.fault_list)
        # The backend's session logs in again by itself.
        before = victim.counts_snapshot()
        self.assertEqual('Datacenters', victim.get_properties(
            victim.service_content.rootFolder, ['name'])['name'])
        self.assertEqual(1, (victim.counts_snapshot() - before)['Login'])
        self.assertFalse(self._not_authenticated(self.session))

    def test_terminating_own_session_is_invalid_argument(self):
        manager = self.session.service_content.sessionManager
        err = self.assertRaises(
            lb.exceptions.VCenterFault, self.session.invoke,
            'TerminateSession', manager,
            sessionId=[self.session.api._session_id])
        self.assertEqual('InvalidArgument', err.fault)

    def test_expire_sessions_except(self):
        victim = self._victim()
        keep = self.session.api._session_id
        resp = self.control('POST', 'expire-sessions',
                            json={'except': [keep]})
        self.assertEqual(200, resp.status_code, resp.text)
        self.assertIn(victim.api._session_id, resp.json()['expired'])
        self.assertNotIn(keep, resp.json()['expired'])
        self.assertTrue(self._not_authenticated(victim))
        self.assertFalse(self._not_authenticated(self.session))
