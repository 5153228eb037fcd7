"""QoS specs and extra specs to a disk's I/O allocation."""

import types

import testtools

from tests.unit import wsdl_factory
from vmware_backend import exceptions
from vmware_backend.volume import qos
from vmware_backend.vsphere import specs


def volume(extra=None, consumer=None, qos_specs=None):
    qos_obj = None
    if consumer:
        qos_obj = types.SimpleNamespace(consumer=consumer,
                                        specs=qos_specs or {})
    return types.SimpleNamespace(
        id='v1', volume_type=types.SimpleNamespace(
            extra_specs=extra or {}, qos_specs=qos_obj))


class AllocationTest(testtools.TestCase):

    def test_none(self):
        self.assertEqual(qos.NONE, qos.allocation(volume()))
        self.assertEqual(qos.NONE, qos.allocation(
            types.SimpleNamespace(id='v', volume_type=None)))

    def test_extra_specs(self):
        self.assertEqual(qos.Allocation(500, 100, 'high', None),
                         qos.allocation(volume({
                             'vmware:iops_limit': '500',
                             'vmware:iops_reservation': '100',
                             'vmware:shares_level': 'high'})))
        self.assertEqual(qos.Allocation(None, None, 'custom', 2000),
                         qos.allocation(volume({'vmware:shares': '2000'})))

    def test_back_end_qos_specs_win(self):
        vol = volume({'vmware:iops_limit': '500'}, consumer='back-end',
                     qos_specs={'total_iops_sec': '800',
                                'vmware:shares_level': 'low'})
        self.assertEqual(qos.Allocation(800, None, 'low', None),
                         qos.allocation(vol))
        self.assertIsNone(qos.front_end_specs(vol))
        both = volume(consumer='both', qos_specs={'total_iops_sec': '300'})
        self.assertEqual(300, qos.allocation(both).limit)
        self.assertEqual({'total_iops_sec': '300'}, qos.front_end_specs(both))
        front = volume(consumer='front-end',
                       qos_specs={'total_iops_sec': '300'})
        self.assertEqual(qos.NONE, qos.allocation(front))

    def test_bad_values_name_the_key(self):
        for extra, key in [
                ({'vmware:iops_limit': 'fast'}, 'vmware:iops_limit'),
                ({'vmware:iops_limit': '-5'}, 'vmware:iops_limit'),
                ({'vmware:shares_level': 'max'}, 'vmware:shares_level'),
                ({'vmware:shares_level': 'custom'}, 'vmware:shares_level'),
                ({'vmware:shares_level': 'low', 'vmware:shares': '10'},
                 'vmware:shares'),
                ({'vmware:iops_limit': '10', 'vmware:iops_reservation': '20'},
                 'vmware:iops_reservation')]:
            err = self.assertRaises(exceptions.InvalidExtraSpec,
                                    qos.allocation, volume(extra))
            self.assertIn(key, str(err))


class SpecTest(testtools.TestCase):

    def test_disk_gets_the_allocation(self):
        factory = wsdl_factory.factory()
        spec = specs.backing_config_spec(
            factory, name='volume-1', volume_id='1', size_gb=1,
            disk_type='thin', adapter_type='lsiLogic', datastore_name='ds',
            memory_mb=128)
        specs.set_io_allocation(factory, spec, limit=500, reservation=10,
                                shares_level='custom', shares=3000)
        disk = [c.device for c in spec.deviceChange
                if type(c.device).__name__ == 'VirtualDisk'][0]
        info = disk.storageIOAllocation
        self.assertEqual((500, 10, 'custom', 3000),
                         (info.limit, info.reservation, info.shares.level,
                          info.shares.shares))
        plain = specs.backing_config_spec(
            factory, name='volume-1', volume_id='1', size_gb=1,
            disk_type='thin', adapter_type='lsiLogic', datastore_name='ds',
            memory_mb=128)
        specs.set_io_allocation(factory, plain)
        disk = [c.device for c in plain.deviceChange
                if type(c.device).__name__ == 'VirtualDisk'][0]
        self.assertIsNone(getattr(disk, 'storageIOAllocation', None))


def disk(limit=None, reservation=None, level=None, shares=None):
    """A disk as read from vCenter (None: the field is absent)."""
    info = None
    if (limit, reservation, level) != (None, None, None):
        info = types.SimpleNamespace()
        if limit is not None:
            info.limit = limit
        if reservation is not None:
            info.reservation = reservation
        if level is not None:
            info.shares = types.SimpleNamespace(level=level, shares=shares)
    return types.SimpleNamespace(storageIOAllocation=info)


class ChangeTest(testtools.TestCase):

    def test_complete_fills_vsphere_defaults(self):
        self.assertEqual(qos.Allocation(-1, 0, 'normal', None),
                         qos.complete(qos.NONE))
        self.assertEqual(qos.Allocation(500, 0, 'custom', 20),
                         qos.complete(qos.Allocation(500, None, 'custom',
                                                     20)))
        # A count without custom level is not kept (vSphere ignores it).
        self.assertEqual(qos.Allocation(-1, 0, 'high', None),
                         qos.complete(qos.Allocation(None, None, 'high', 7)))

    def test_of_disk_reads_absent_fields_as_defaults(self):
        self.assertEqual(qos.Allocation(-1, 0, 'normal', None),
                         qos.of_disk(disk()))
        self.assertEqual(qos.Allocation(300, 0, 'custom', 1500),
                         qos.of_disk(disk(limit=300, level='custom',
                                          shares=1500)))
        self.assertEqual(qos.Allocation(-1, 5, 'low', None),
                         qos.of_disk(disk(reservation=5, level='low',
                                          shares=500)))

    def test_change_for(self):
        vol = volume({'vmware:iops_limit': '300'})
        self.assertEqual(qos.Allocation(300, 0, 'normal', None),
                         qos.change_for(vol, disk()))
        self.assertIsNone(qos.change_for(vol, disk(limit=300)))
        self.assertIsNone(qos.change_for(volume(), disk()))
        self.assertEqual(qos.Allocation(-1, 0, 'normal', None),
                         qos.change_for(volume(), disk(limit=300)))

    def test_dict_volume_type_as_cinder_passes_to_retype(self):
        vol = types.SimpleNamespace(id='v', volume_type={
            'extra_specs': {'vmware:iops_limit': '40'},
            'qos_specs': {'consumer': 'both',
                          'specs': {'vmware:iops_reservation': '4'}}})
        self.assertEqual(qos.Allocation(40, 4, None, None),
                         qos.allocation(vol))

    def test_front_end_allocation(self):
        self.assertEqual(qos.NONE, qos.front_end_allocation(volume(
            {'vmware:iops_limit': '40'}, consumer='back-end',
            qos_specs={'total_iops_sec': '9'})))
        self.assertEqual(qos.Allocation(9, None, 'high', None),
                         qos.front_end_allocation(volume(
                             {'vmware:iops_limit': '40'},
                             consumer='front-end',
                             qos_specs={'total_iops_sec': '9',
                                        'vmware:shares_level': 'high'})))
        err = self.assertRaises(
            exceptions.InvalidExtraSpec, qos.front_end_allocation,
            volume(consumer='both', qos_specs={'total_iops_sec': 'x'}))
        self.assertIn("'x'", str(err))


class DiskEditTest(testtools.TestCase):

    def test_edit_names_the_disk_and_carries_the_allocation(self):
        factory = wsdl_factory.factory()
        source = types.SimpleNamespace(key=2000, controllerKey=1000,
                                       unitNumber=0, capacityInKB=1048576,
                                       backing='the-backing')
        change = specs.disk_io_edit(factory, source, limit=-1, reservation=0,
                                    shares_level='normal')
        self.assertEqual('edit', change.operation)
        dev = change.device
        self.assertEqual((2000, 1000, 0, 1048576, 'the-backing'),
                         (dev.key, dev.controllerKey, dev.unitNumber,
                          dev.capacityInKB, dev.backing))
        self.assertEqual((-1, 0, 'normal', 0),
                         (dev.storageIOAllocation.limit,
                          dev.storageIOAllocation.reservation,
                          dev.storageIOAllocation.shares.level,
                          dev.storageIOAllocation.shares.shares))
        self.assertIsNone(specs.disk_io_edit(factory, source))
