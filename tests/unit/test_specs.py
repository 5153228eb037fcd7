"""Spec builders, checked against the real vSphere types."""

import time

from suds import TypeNotFound
import testtools

from tests.unit import wsdl_factory
from vmware_backend.vsphere import ops as vsphere_ops
from vmware_backend.vsphere import specs


class SpecTestBase(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.factory = wsdl_factory.factory()


class BackingConfigSpecTest(SpecTestBase):

    def _spec(self, **kw):
        args = dict(name='volume-1', volume_id='1111', size_gb=2,
                    disk_type='thin', adapter_type='lsiLogic',
                    datastore_name='ds1', memory_mb=128)
        args.update(kw)
        return specs.backing_config_spec(self.factory, **args)

    def test_minimal_hardware_and_identity(self):
        spec = self._spec()
        self.assertEqual('volume-1', spec.name)
        self.assertEqual('1111', spec.instanceUuid)
        self.assertEqual('otherGuest', spec.guestId)
        self.assertEqual(1, spec.numCPUs)
        self.assertEqual(128, spec.memoryMB)
        self.assertEqual('[ds1]', spec.files.vmPathName)
        extra = {o.key: o.value for o in spec.extraConfig}
        created = int(extra.pop(specs.KEY_CREATED))
        self.assertLess(abs(time.time() - created), 60)
        self.assertEqual({specs.KEY_MANAGED: 'true',
                          specs.KEY_VOLUME_ID: '1111'}, extra)

    def test_one_controller_one_disk_of_volume_size(self):
        spec = self._spec(size_gb=3)
        controller, disk = spec.deviceChange
        self.assertEqual('VirtualLsiLogicController',
                         type(controller.device).__name__)
        self.assertEqual('add', controller.operation)
        self.assertEqual('noSharing', controller.device.sharedBus)
        self.assertEqual('create', disk.fileOperation)
        self.assertEqual(3 * 1024 * 1024, disk.device.capacityInKB)
        self.assertEqual(controller.device.key, disk.device.controllerKey)
        self.assertEqual(0, disk.device.unitNumber)
        self.assertEqual('persistent', disk.device.backing.diskMode)
        self.assertTrue(disk.device.backing.thinProvisioned)
        self.assertFalse(disk.device.backing.eagerlyScrub)

    def test_disk_types(self):
        thick = self._spec(disk_type='thick').deviceChange[1].device.backing
        self.assertFalse(thick.thinProvisioned)
        self.assertFalse(thick.eagerlyScrub)
        eager = self._spec(
            disk_type='eagerZeroedThick').deviceChange[1].device.backing
        self.assertFalse(eager.thinProvisioned)
        self.assertTrue(eager.eagerlyScrub)
        self.assertRaises(ValueError, self._spec, disk_type='sparse')

    def test_adapter_types(self):
        expected = {'lsiLogic': 'VirtualLsiLogicController',
                    'busLogic': 'VirtualBusLogicController',
                    'lsiLogicsas': 'VirtualLsiLogicSASController',
                    'paraVirtual': 'ParaVirtualSCSIController'}
        for adapter, type_name in expected.items():
            spec = self._spec(adapter_type=adapter)
            self.assertEqual(type_name,
                             type(spec.deviceChange[0].device).__name__)

    def test_ide_uses_default_ide_controller(self):
        spec = self._spec(adapter_type='ide')
        self.assertEqual(1, len(spec.deviceChange))
        self.assertEqual(specs.DEFAULT_IDE_CONTROLLER_KEY,
                         spec.deviceChange[0].device.controllerKey)

    def test_unknown_type_is_rejected_by_the_wsdl(self):
        self.assertRaises(TypeNotFound, specs.create, self.factory,
                          'VirtualNoSuchController')


class OtherSpecsTest(SpecTestBase):

    def test_escape_name(self):
        self.assertEqual('a%25b%2fc%5cd', specs.escape_name('a%b/c\\d'))
        self.assertEqual('volume-x', specs.backing_name('volume-x'))

    def test_extra_config_removal_uses_empty_value(self):
        spec = specs.extra_config_spec(self.factory, {'a': '', 'b': 'x'})
        self.assertEqual([('a', ''), ('b', 'x')],
                         [(o.key, o.value) for o in spec.extraConfig])

    def test_extend_disk_spec_edits_capacity(self):
        disk = specs.create(self.factory, 'VirtualDisk', key=2000,
                            capacityInKB=1024 * 1024, controllerKey=1000,
                            unitNumber=0)
        spec = specs.extend_disk_spec(self.factory, disk, 5)
        change = spec.deviceChange[0]
        self.assertEqual('edit', change.operation)
        self.assertEqual(5 * 1024 * 1024, change.device.capacityInKB)
        self.assertEqual(2000, change.device.key)

    def test_clone_spec_linked_and_full(self):
        ds = vsphere_ops.moref('Datastore', 'datastore-1')
        snap = vsphere_ops.moref('VirtualMachineSnapshot', 'snapshot-1')
        linked = specs.clone_spec(
            self.factory, 'volume-2', '2222',
            specs.relocate_spec(self.factory, ds,
                                disk_move_type=specs.LINKED_MOVE_TYPE),
            snapshot=snap, extra_entries={specs.KEY_PARENT: '1:s'})
        self.assertEqual('createNewChildDiskBacking',
                         linked.location.diskMoveType)
        self.assertEqual(snap, linked.snapshot)
        self.assertEqual('2222', linked.config.instanceUuid)
        self.assertEqual('volume-2', linked.config.name)
        self.assertFalse(linked.powerOn)
        self.assertIn((specs.KEY_PARENT, '1:s'),
                      [(o.key, o.value) for o in linked.config.extraConfig])
        full = specs.clone_spec(
            self.factory, 'volume-3', '3333',
            specs.relocate_spec(self.factory, ds,
                                disk_move_type=specs.FULL_MOVE_TYPE))
        self.assertEqual('moveAllDiskBackingsAndDisallowSharing',
                         full.location.diskMoveType)
        self.assertFalse(hasattr(full, 'snapshot') and full.snapshot)

    def test_attach_disk_spec_independent_no_file_operation(self):
        spec = specs.attach_disk_spec(self.factory, '[ds1] v/v.vmdk',
                                      1000, 1, 'vid', disk_uuid='u-1')
        change = spec.deviceChange[0]
        self.assertEqual('add', change.operation)
        self.assertIsNone(getattr(change, 'fileOperation', None))
        self.assertEqual('independent_persistent',
                         change.device.backing.diskMode)
        self.assertEqual('[ds1] v/v.vmdk', change.device.backing.fileName)
        self.assertEqual([('volume-vid', 'u-1')],
                         [(o.key, o.value) for o in spec.extraConfig])

    def test_detach_disk_spec_keeps_file(self):
        disk = specs.create(self.factory, 'VirtualDisk', key=2001)
        spec = specs.detach_disk_spec(self.factory, disk, 'vid')
        change = spec.deviceChange[0]
        self.assertEqual('remove', change.operation)
        self.assertIsNone(getattr(change, 'fileOperation', None))
        self.assertEqual([('volume-vid', '')],
                         [(o.key, o.value) for o in spec.extraConfig])


class SlotTest(SpecTestBase):

    def _controller(self, type_name, key, bus):
        return specs.create(self.factory, type_name, key=key,
                            busNumber=bus)

    def _disk(self, controller_key, unit):
        return specs.create(self.factory, 'VirtualDisk',
                            key=controller_key * 10 + unit,
                            controllerKey=controller_key, unitNumber=unit)

    def test_free_unit_skips_controller_unit_7(self):
        ctrl = self._controller('VirtualLsiLogicController', 1000, 0)
        devices = [ctrl] + [self._disk(1000, u) for u in range(7)]
        self.assertEqual((1000, 8, None),
                         specs.find_slot(devices, 'lsiLogic'))

    def test_full_controller_adds_new_bus(self):
        ctrl = self._controller('VirtualLsiLogicController', 1000, 0)
        devices = [ctrl] + [self._disk(1000, u) for u in range(16) if u != 7]
        key, unit, bus = specs.find_slot(devices, 'lsiLogic')
        self.assertLess(key, 0)
        self.assertEqual(0, unit)
        self.assertEqual(1, bus)

    def test_other_adapter_type_gets_its_own_controller(self):
        ctrl = self._controller('VirtualLsiLogicController', 1000, 0)
        key, unit, bus = specs.find_slot([ctrl], 'paraVirtual')
        self.assertLess(key, 0)
        self.assertEqual(1, bus)

    def test_no_bus_left(self):
        devices = [self._controller('VirtualLsiLogicController', 1000 + b, b)
                   for b in range(4)]
        devices += [self._disk(1000 + b, u) for b in range(4)
                    for u in range(16) if u != 7]
        self.assertEqual((None, None, None),
                         specs.find_slot(devices, 'lsiLogic'))


class MarkerAndLocatorTest(SpecTestBase):

    def test_marker_entries_round_trip(self):
        entries = specs.marker_entries('c1', 'snapshot-1', now=1234)
        self.assertEqual({specs.KEY_CLONE_PREFIX + 'c1': 'snapshot-1',
                          specs.KEY_CLONE_SINCE_PREFIX + 'c1': '1234'},
                         entries)
        self.assertEqual(1234, specs.marker_since(entries, 'c1'))
        self.assertIsNone(specs.marker_since({}, 'c1'))
        self.assertEqual({specs.KEY_CLONE_PREFIX + 'c1': 'snapshot-1'},
                         specs.clone_markers(entries))
        cleared = specs.clear_marker_entries('c1')
        self.assertEqual({'', }, set(cleared.values()))
        self.assertEqual(set(entries), set(cleared))

    def test_inherited_markers_are_blanked(self):
        source = dict(specs.marker_entries('c1', 's'), other='x')
        source[specs.KEY_PARENT] = 'p:s'
        blanked = specs.inherited_markers(source)
        self.assertEqual({specs.KEY_CLONE_PREFIX + 'c1': '',
                          specs.KEY_CLONE_SINCE_PREFIX + 'c1': '',
                          specs.KEY_PARENT: ''}, blanked)

    def test_disk_locator_converts_format(self):
        ds = vsphere_ops.moref('Datastore', 'datastore-1')
        loc = specs.disk_locator(self.factory, 2000, ds, 'thick')
        self.assertEqual(2000, loc.diskId)
        self.assertFalse(loc.diskBackingInfo.thinProvisioned)
        self.assertFalse(loc.diskBackingInfo.eagerlyScrub)
        spec = specs.relocate_spec(self.factory, ds, disks=[loc])
        self.assertEqual([loc], spec.disk)
        eager = specs.disk_locator(self.factory, 2000, ds,
                                   'eagerZeroedThick')
        self.assertTrue(eager.diskBackingInfo.eagerlyScrub)
