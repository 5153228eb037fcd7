"""Spec builders: the exact values vCenter receives, written out.

Complements tests.unit.test_specs where the mutation run
(``tox -e mutation``) showed a changed constant, key or default going
unnoticed: IDE slots, placeholder device keys, the backing's annotation and
file name, the disk size in bytes, the error for an unknown disk type.
"""

import testtools

from tests.unit import wsdl_factory
from vmware_backend.vsphere import specs


class ExactSpecTest(testtools.TestCase):

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

    def _backing_of_type(self, disk_type):
        return specs.backing_config_spec(
            self.factory, name='volume-1', volume_id='1111', size_gb=2,
            disk_type=disk_type, adapter_type='lsiLogic',
            datastore_name='ds1', memory_mb=128)

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
