"""The simulator behaves like vCenter where vcsim 0.24.2 did not.

Each test drives one closed gap through suds and oslo.vmware, the way the
driver (or Cinder's own driver) meets it. The Go self-check
(``vmware_backend/testbed/vcsim/selfcheck.sh``) covers the same gaps and
more from govmomi's client side. Gaps proven elsewhere in this suite:
paging (test_inventory), datastore type and host mounts (test_placement),
clone device copies and linked clones (test_lifecycle.CloneTest), disk uuid
following its file (test_attach), task delay (test_session).
"""

from oslo_vmware import vim_util

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
