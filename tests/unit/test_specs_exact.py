"""Spec builders: the exact values vCenter receives, written out.

Complements tests.unit.test_specs where the mutation run
(``tox -e mutation``) showed a changed constant, key or default going
unnoticed: IDE slots, placeholder device keys, the backing's annotation and
file name, the disk size in bytes, the error for an unknown disk type.
"""

import testtools

from tests.unit import wsdl_factory
from vmware_backend.vsphere import ops as vsphere_ops
from vmware_backend.vsphere import specs


class _SpecBase(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.factory = wsdl_factory.factory()

    def make(self, type_name, **attrs):
        return specs.create(self.factory, type_name, **attrs)

    def _backing(self, adapter_type='lsiLogic'):
        return specs.backing_config_spec(
            self.factory, name='volume-1', volume_id='1111', size_gb=2,
            disk_type='thin', adapter_type=adapter_type,
            datastore_name='ds1', memory_mb=128)

    def _backing_of_type(self, disk_type):
        return specs.backing_config_spec(
            self.factory, name='volume-1', volume_id='1111', size_gb=2,
            disk_type=disk_type, adapter_type='lsiLogic',
            datastore_name='ds1', memory_mb=128)


class ExactSpecTest(_SpecBase):

    def test_new_backing_device_keys_bus_and_file(self):
        controller, disk = self._backing().deviceChange
        self.assertEqual(-101, controller.device.key)
        self.assertEqual(0, controller.device.busNumber)
        self.assertEqual(-100, disk.device.key)
        self.assertEqual(-101, disk.device.controllerKey)
        self.assertEqual('[ds1]', disk.device.backing.fileName)

    def test_new_backing_annotation(self):
        self.assertEqual(
            'Backing of volume 1111, managed by vmware_backend; do not '
            'edit.', self._backing().annotation)

    def test_ide_backing_uses_controller_200(self):
        (disk,) = self._backing('ide').deviceChange
        self.assertEqual(200, disk.device.controllerKey)
        self.assertEqual(0, disk.device.unitNumber)

    def test_ide_controller_spec_has_no_shared_bus(self):
        ide = specs.controller_spec(self.factory, 'ide', 200).device
        self.assertEqual('VirtualIDEController', type(ide).__name__)
        self.assertIsNone(getattr(ide, 'sharedBus', None))
        scsi = specs.controller_spec(self.factory, 'lsiLogic', -101).device
        self.assertEqual('noSharing', scsi.sharedBus)
        self.assertEqual(0, scsi.busNumber)

    def test_unknown_disk_type_message(self):
        err = self.assertRaises(ValueError, self._backing_of_type, 'sparse')
        self.assertEqual(
            "disk type 'sparse' not in ('thin', 'thick', 'eagerZeroedThick')",
            str(err))

    def test_extend_sets_capacity_in_bytes_too(self):
        disk = self.make('VirtualDisk', key=2000, capacityInKB=1048576,
                         capacityInBytes=1073741824, controllerKey=1000,
                         unitNumber=0)
        spec = specs.extend_disk_spec(self.factory, disk, 5)
        device = spec.deviceChange[0].device
        self.assertEqual(5242880, device.capacityInKB)
        self.assertEqual(5368709120, device.capacityInBytes)

    def test_backing_extra_config_with_parent_and_owner(self):
        self.assertEqual(
            {'vmware_backend.managed': 'true',
             'vmware_backend.volume_id': 'v-1',
             'vmware_backend.created': '1700000000',
             'vmware_backend.parent': 'v-0:snap-1',
             'vmware_backend.backend': 'vmware-1@cinder-volumes'},
            specs.backing_extra_config('v-1', parent='v-0:snap-1',
                                       created=1700000000,
                                       owner='vmware-1@cinder-volumes'))


class IdeSlotTest(testtools.TestCase):
    """An IDE controller has two units (0 and 1) and no unit 7 reserved."""

    def setUp(self):
        super().setUp()
        self.factory = wsdl_factory.factory()
        self.ide = specs.create(self.factory, 'VirtualIDEController',
                                key=200, busNumber=0)

    def _disk(self, unit):
        return specs.create(self.factory, 'VirtualDisk', key=3000 + unit,
                            controllerKey=200, unitNumber=unit)

    def test_second_unit_is_free(self):
        devices = [self.ide, self._disk(0)]
        self.assertEqual(1, specs.free_unit(devices, self.ide))
        self.assertEqual((200, 1, None), specs.find_slot(devices, 'ide'))

    def test_two_disks_fill_it(self):
        devices = [self.ide, self._disk(0), self._disk(1)]
        self.assertIsNone(specs.free_unit(devices, self.ide))
        self.assertEqual((None, None, None), specs.find_slot(devices, 'ide'))

    def test_adapter_of_the_ide_controller(self):
        self.assertEqual('ide',
                         specs.CONTROLLER_ADAPTER['VirtualIDEController'])


class LocationAndCloneTest(_SpecBase):

    def test_disk_locator_has_no_file_name(self):
        ds = vsphere_ops.moref('Datastore', 'datastore-1')
        loc = specs.disk_locator(self.factory, 2000, ds, 'thin')
        self.assertEqual('', loc.diskBackingInfo.fileName)
        self.assertEqual('persistent', loc.diskBackingInfo.diskMode)

    def test_relocate_spec_host_and_pool(self):
        ds = self._ref('Datastore', 'datastore-1')
        host = self._ref('HostSystem', 'host-1')
        pool = self._ref('ResourcePool', 'resgroup-1')
        spec = specs.relocate_spec(self.factory, ds, host=host,
                                   resource_pool=pool)
        self.assertEqual(('host-1', 'resgroup-1'),
                         (spec.host.value, spec.pool.value))
        bare = specs.relocate_spec(self.factory, ds)
        self.assertEqual((None, None), (getattr(bare, 'host', None),
                                        getattr(bare, 'pool', None)))

    def test_clone_is_no_template(self):
        spec = specs.clone_spec(
            self.factory, 'volume-2', '2222',
            specs.relocate_spec(self.factory,
                                self._ref('Datastore', 'datastore-1')))
        self.assertIs(False, spec.template)
        self.assertIs(False, spec.powerOn)

    def _ref(self, kind, value):
        return vsphere_ops.moref(kind, value)


class AttachDetachSpecTest(_SpecBase):

    def test_attach_with_a_new_controller_puts_it_first(self):
        controller = specs.controller_spec(self.factory, 'lsiLogic', -101,
                                           bus_number=1)
        spec = specs.attach_disk_spec(self.factory, '[ds1] v/v.vmdk', -101,
                                      0, 'vid', disk_uuid='u-1',
                                      new_controller=controller)
        first, second = spec.deviceChange
        self.assertIs(controller, first)
        self.assertEqual(('add', -100, -101, 0, 'u-1'),
                         (second.operation, second.device.key,
                          second.device.controllerKey,
                          second.device.unitNumber,
                          second.device.backing.uuid))

    def test_remove_disk_spec(self):
        disk = self.make('VirtualDisk', key=2001)
        spec = specs.remove_disk_spec(self.factory, disk)
        (change,) = spec.deviceChange
        self.assertEqual('VirtualDeviceConfigSpec', type(change).__name__)
        self.assertEqual('remove', change.operation)
        self.assertIs(disk, change.device)
        self.assertIsNone(getattr(change, 'fileOperation', None))

    def test_existing_disk_spec(self):
        change = specs.existing_disk_spec(self.factory, '[ds1] v/v.vmdk',
                                          1048576, -101, 0)
        self.assertEqual('VirtualDeviceConfigSpec', type(change).__name__)
        self.assertEqual('add', change.operation)
        self.assertIsNone(getattr(change, 'fileOperation', None))
        self.assertEqual('VirtualDisk', type(change.device).__name__)
        self.assertEqual(
            (-100, -101, 0, 1048576, '[ds1] v/v.vmdk', 'persistent'),
            (change.device.key, change.device.controllerKey,
             change.device.unitNumber, change.device.capacityInKB,
             change.device.backing.fileName, change.device.backing.diskMode))


class SlotExactTest(_SpecBase):

    def _controller(self, type_name, key, bus):
        return self.make(type_name, key=key, busNumber=bus)

    def _disk(self, controller_key, unit):
        return self.make('VirtualDisk', key=controller_key * 10 + unit,
                         controllerKey=controller_key, unitNumber=unit)

    def test_new_controller_placeholder_and_bus(self):
        ctrl = self._controller('VirtualLsiLogicController', 1000, 0)
        devices = [ctrl] + [self._disk(1000, u) for u in range(16) if u != 7]
        self.assertEqual((-101, 0, 1),
                         specs.find_slot(devices, 'lsiLogic'))

    def test_ide_controller_does_not_take_a_scsi_bus(self):
        devices = [self._controller('VirtualIDEController', 200, 0),
                   self._controller('VirtualIDEController', 201, 1)]
        devices += [self._controller('VirtualLsiLogicController', 1000, 0)]
        devices += [self._disk(1000, u) for u in range(16) if u != 7]
        self.assertEqual((-101, 0, 1),
                         specs.find_slot(devices, 'lsiLogic'))

    def test_four_scsi_buses_at_most(self):
        devices = [self._controller('VirtualLsiLogicController', 1000 + b, b)
                   for b in (0, 1, 2)]
        devices += [self._disk(1000 + b, u) for b in (0, 1, 2)
                    for u in range(16) if u != 7]
        self.assertEqual((-101, 0, 3), specs.find_slot(devices, 'lsiLogic'))

    def test_ide_has_no_new_controller(self):
        self.assertEqual((None, None, None), specs.find_slot([], 'ide'))

    def test_ide_controller_units_are_0_and_1_without_reserve(self):
        ide = self._controller('VirtualIDEController', 200, 0)
        self.assertEqual(0, specs.free_unit([ide], ide))
        scsi = self._controller('VirtualLsiLogicController', 1000, 0)
        devices = [scsi] + [self._disk(1000, u) for u in range(7)]
        self.assertEqual(8, specs.free_unit(devices, scsi))


class IoAllocationExactTest(_SpecBase):

    def test_shares_level_without_a_number(self):
        spec = specs.set_io_allocation(self.factory, self._backing(),
                                       shares_level='high')
        disk = spec.deviceChange[1].device
        self.assertEqual(('high', 0),
                         (disk.storageIOAllocation.shares.level,
                          disk.storageIOAllocation.shares.shares))

    def test_only_added_disks_get_it(self):
        backing = self._backing()
        edited = specs.create(self.factory, 'VirtualDeviceConfigSpec',
                              operation='edit',
                              device=self.make('VirtualDisk', key=2000))
        backing.deviceChange.append(edited)
        specs.set_io_allocation(self.factory, backing, limit=100)
        controller, added, edit = backing.deviceChange
        self.assertEqual(100, added.device.storageIOAllocation.limit)
        self.assertIsNone(getattr(edit.device, 'storageIOAllocation', None))
        self.assertIsNone(
            getattr(controller.device, 'storageIOAllocation', None))
