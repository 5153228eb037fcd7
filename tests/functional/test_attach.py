"""Connections and instance-side attach/detach on vcsim."""

import json

from tests.functional import lifecycle_base as lb
from vmware_backend.vsphere import ops as vsphere_ops
from vmware_backend.vsphere import specs


class ConnectionTest(lb.LifecycleTestCase):

    def test_connection_info_format_without_credentials(self):
        volume = self.create(size=1)
        info = self.driver.initialize_connection(volume, {'host': 'node1'})
        self.assertEqual('vmdk', info['driver_volume_type'])
        data = info['data']
        self.assertEqual(vsphere_ops.moref_value(self.find(volume.id)),
                         data['volume'])
        self.assertEqual(volume.id, data['volume_id'])
        self.assertEqual(volume.name, data['name'])
        text = json.dumps(info)
        self.assertNotIn(self.vcsim.password, text)
        self.assertNotIn(self.vcsim.username, text)
        for word in ('password', 'username', 'host_ip', 'vcenter'):
            self.assertNotIn(word, text.lower())
        self.assertIsNone(self.driver.terminate_connection(volume, {}))


class AttachTest(lb.LifecycleTestCase):

    def _attached(self, instance, volume):
        state = self.state(instance)
        file_name = self.state(volume.id).disk.backing.fileName
        return state, [d for d in state.disks
                       if d.backing.fileName == file_name]

    def test_attach_and_detach(self):
        instance = self.make_instance()
        volume = self.create(size=2)
        backing_disk = self.state(volume.id).disk
        self.driver.attach_volume(instance, volume)
        state, disks = self._attached(instance, volume)
        self.assertEqual(1, len(disks))
        disk = disks[0]
        self.assertEqual('independent_persistent', disk.backing.diskMode)
        self.assertNotEqual(specs.CONTROLLER_UNIT, disk.unitNumber)
        self.assertEqual('VirtualLsiLogicController',
                         type(state.controller(disk)).__name__)
        self.assertEqual(2 * 1024 * 1024, disk.capacityInKB)
        # Same file, same disk uuid as the backing's; recorded mapping.
        self.assertEqual(backing_disk.backing.uuid, disk.backing.uuid)
        self.assertEqual(disk.backing.uuid,
                         state.extra['volume-%s' % volume.id])
        # Idempotent second attach.
        self.driver.attach_volume(instance, volume)
        self.assertEqual(1, len(self._attached(instance, volume)[1]))

        self.driver.detach_volume(instance, volume)
        state, disks = self._attached(instance, volume)
        self.assertEqual([], disks)
        self.assertFalse(state.extra.get('volume-%s' % volume.id))
        # The file is kept: the backing still has its disk.
        self.assertEqual(backing_disk.backing.fileName,
                         self.state(volume.id).disk.backing.fileName)
        # Detaching again is a no-op.
        self.driver.detach_volume(instance, volume)

    def test_attach_accepts_moref_value(self):
        instance = self.make_instance()
        volume = self.create(size=1)
        self.driver.attach_volume(vsphere_ops.moref_value(instance), volume)
        self.addCleanup(self.driver.detach_volume, instance, volume)
        self.assertEqual(1, len(self._attached(instance, volume)[1]))

    def test_other_adapter_type_adds_controller(self):
        instance = self.make_instance()
        volume = self.create(size=1,
                             specs={'vmware:adapter_type': 'paraVirtual'})
        self.driver.attach_volume(instance, volume)
        self.addCleanup(self.driver.detach_volume, instance, volume)
        state, disks = self._attached(instance, volume)
        self.assertEqual('ParaVirtualSCSIController',
                         type(state.controller(disks[0])).__name__)

    def test_full_controller_gets_a_second_one(self):
        instance = self.make_instance()
        volumes = [self.create(size=1) for _ in range(15)]
        for volume in volumes:
            self.driver.attach_volume(instance, volume)
            self.addCleanup(self.driver.detach_volume, instance, volume)
        state = self.state(instance)
        units = {}
        for disk in state.disks:
            units.setdefault(disk.controllerKey, []).append(disk.unitNumber)
        for unit_numbers in units.values():
            self.assertNotIn(specs.CONTROLLER_UNIT, unit_numbers)
            self.assertEqual(len(unit_numbers), len(set(unit_numbers)))
        # 1 instance disk + 15 volumes > 15 usable units of one controller.
        self.assertEqual(2, len(units))
        self.assertEqual(16, len(state.disks))


class RelocateOnAttachTest(lb.LifecycleTestCase):
    """A backing the instance's host cannot see is moved first."""

    # LocalDS_1 only on the standalone host; the cluster uses LocalDS_0.
    VCSIM_FLAGS = {'ds-unmounted': 'LocalDS_1'}

    def test_backing_moves_to_a_datastore_the_host_mounts(self):
        volume = self.create(size=1)
        ds1 = self.move_to_standalone(volume, 'LocalDS_1')
        ds0 = self.driver.placement.find_datastore('LocalDS_0')
        self.assertEqual([ds1.value], self.state(volume.id).datastore_values)
        instance = self.make_instance(near='DC0_C0_RP0_VM0')
        info = self.driver.initialize_connection(
            volume, {'instance': vsphere_ops.moref_value(instance)})
        state = self.state(volume.id)
        self.assertEqual([ds0.value], state.datastore_values)
        self.assertTrue(state.disk.backing.fileName.startswith(
            '[LocalDS_0]'), state.disk.backing.fileName)
        self.assertEqual(vsphere_ops.moref_value(state.ref),
                         info['data']['volume'])
        self.driver.attach_volume(instance, volume)
        self.addCleanup(self.driver.detach_volume, instance, volume)
        self.assertEqual(1, len([
            d for d in self.state(instance).disks
            if d.backing.fileName == state.disk.backing.fileName]))

    def test_visible_backing_is_not_moved(self):
        volume = self.create(size=1)
        before = self.state(volume.id).datastore_values
        instance = self.make_instance()
        calls = self.session.counts_snapshot()
        self.driver.initialize_connection(
            volume, {'instance': vsphere_ops.moref_value(instance)})
        self.assertEqual(before, self.state(volume.id).datastore_values)
        self.assertEqual(0, (self.session.counts_snapshot() -
                             calls)['RelocateVM_Task'])
