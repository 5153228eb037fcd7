"""QoS (the disk's storageIOAllocation) on clones, retype and manage.

Every check reads the disk back from vCenter (the simulator).
"""

import types

from tests.functional import base
from tests.functional import test_manage
from tests.functional import test_retype
from vmware_backend import exceptions
from vmware_backend.testbed.faults import control as control_mod
from vmware_backend.volume import driver as vmware_driver
from vmware_backend.volume import plain_objects
from vmware_backend.vsphere import ops

DEFAULTS = (-1, 0, 'normal')


def with_qos(volume, consumer, specs):
    volume.volume_type.qos_specs = types.SimpleNamespace(consumer=consumer,
                                                         specs=specs)
    return volume


class QosPathsTest(base.FunctionalTestCase):

    def setUp(self):
        super().setUp()
        self.driver = vmware_driver.VMwareVolumeDriver(self.options,
                                                       session=self.session)

    def create(self, volume):
        self.driver.create_volume(volume)
        self.addCleanup(self.driver.delete_volume, volume)
        return volume

    def disk(self, volume_id):
        ref = ops.VolumeOps(self.session).find_vm_by_instance_uuid(volume_id)
        props = self.session.get_properties(ref, ['config.hardware.device'])
        return [d for d in ops.devices_of(props)
                if type(d).__name__ == 'VirtualDisk'][0]

    def io(self, volume_id):
        """(limit, reservation, shares level[, count]) as vCenter has it.

        The simulator leaves out what was never set, where vSphere reports
        its defaults (-1, 0, normal): read as those.
        """
        info = getattr(self.disk(volume_id), 'storageIOAllocation', None)
        shares = getattr(info, 'shares', None)
        found = (getattr(info, 'limit', -1), getattr(info, 'reservation', 0),
                 str(getattr(shares, 'level', 'normal')))
        if found[2] == 'custom':
            found += (shares.shares,)
        return found

    def test_full_clone_gets_its_own_qos(self):
        source = self.create(plain_objects.volume(
            1, {'vmware:iops_limit': '900'}))
        clone = with_qos(plain_objects.volume(1), 'back-end', {
            'total_iops_sec': '400', 'vmware:shares': '1200'})
        self.driver.create_cloned_volume(clone, source)
        self.addCleanup(self.driver.delete_volume, clone)
        self.assertEqual((400, 0, 'custom', 1200), self.io(clone.id))
        self.assertEqual((900, 0, 'normal'), self.io(source.id))
        self.assertNotEqual(self.disk(source.id).backing.fileName,
                            self.disk(clone.id).backing.fileName)

    def test_clone_without_qos_does_not_inherit_the_sources(self):
        source = self.create(plain_objects.volume(
            1, {'vmware:iops_limit': '900', 'vmware:shares_level': 'high'}))
        clone = plain_objects.volume(2)
        self.driver.create_cloned_volume(clone, source)
        self.addCleanup(self.driver.delete_volume, clone)
        self.assertEqual(DEFAULTS, self.io(clone.id))
        self.assertEqual((900, 0, 'high'), self.io(source.id))

    def test_linked_clone_of_a_snapshot_gets_its_qos(self):
        source = self.create(plain_objects.volume(1))
        snap = plain_objects.snapshot(source)
        self.driver.create_snapshot(snap)
        self.addCleanup(self.driver.delete_snapshot, snap)
        clone = plain_objects.volume(1, {'vmware:clone_type': 'linked',
                                         'vmware:iops_limit': '300',
                                         'vmware:iops_reservation': '20'})
        self.driver.create_volume_from_snapshot(clone, snap)
        self.addCleanup(self.driver.delete_volume, clone)
        disk = self.disk(clone.id)
        self.assertIsNotNone(disk.backing.parent)  # really linked
        self.assertEqual((300, 20, 'normal'), self.io(clone.id))
        self.assertEqual(DEFAULTS, self.io(source.id))

    def test_bad_qos_clones_nothing(self):
        source = self.create(plain_objects.volume(1))
        clone = with_qos(plain_objects.volume(1), 'both',
                         {'total_iops_sec': 'fast'})
        counts = self.session.counts_snapshot()
        err = self.assertRaises(exceptions.InvalidExtraSpec,
                                self.driver.create_cloned_volume, clone,
                                source)
        self.assertIn('vmware:iops_limit', str(err))
        self.assertIn('fast', str(err))
        self.assertEqual(0, (self.session.counts_snapshot() - counts)
                         .get('CloneVM_Task', 0))
        self.assertIsNone(ops.VolumeOps(self.session)
                          .find_vm_by_instance_uuid(clone.id))

    def test_clone_failing_after_its_work_leaves_nothing(self):
        source = self.create(plain_objects.volume(1))
        clone = plain_objects.volume(1, {'vmware:iops_limit': '300'})
        control = control_mod.SimulatorControl('127.0.0.1', self.vcsim.port)
        control.set_task_faults([{'method': 'CloneVM_Task',
                                  'outcome': 'error-after', 'times': 1}])
        self.addCleanup(control.clear_task_faults)
        self.assertRaises(exceptions.VCenterFault,
                          self.driver.create_cloned_volume, clone, source)
        self.assertIsNone(ops.VolumeOps(self.session)
                          .find_vm_by_instance_uuid(clone.id))
        self.assertEqual(DEFAULTS, self.io(source.id))


class QosRetypeManageTest(test_manage.ManageTestBase):
    """Retype and import give the disk the (new) type's QoS."""

    io = QosPathsTest.io
    disk = QosPathsTest.disk

    def pool_host(self, name):
        return test_retype.RetypeMigrateTest.pool_host(self, name)

    def test_retype_changes_qos_only(self):
        volume = self.create(size=1, specs={'vmware:iops_limit': '900'},
                             host='node1@vmware-1#LocalDS_0')
        new_type = {'extra_specs': {'vmware:iops_limit': '100'},
                    'qos_specs': {'consumer': 'back-end', 'specs': {
                        'vmware:shares_level': 'low',
                        'vmware:iops_reservation': '10'}}}
        self.assertTrue(self.driver.retype(None, volume, new_type, {},
                                           self.pool_host('LocalDS_0')))
        self.assertEqual((100, 10, 'low'), self.io(volume.id))
        # To a type without QoS: vSphere's defaults.
        self.assertTrue(self.driver.retype(None, volume, {'extra_specs': {}},
                                           {}, None))
        self.assertEqual(DEFAULTS, self.io(volume.id))
        # Front-end only QoS specs are not the disk's business.
        self.assertTrue(self.driver.retype(
            None, volume, {'qos_specs': {'consumer': 'front-end', 'specs': {
                'total_iops_sec': '5'}}}, {}, None))
        self.assertEqual(DEFAULTS, self.io(volume.id))

    def test_retype_qos_and_disk_type(self):
        volume = self.create(size=1, specs={'vmware:vmdk_type': 'thin'},
                             host='node1@vmware-1#LocalDS_0')
        new_type = {'extra_specs': {'vmware:vmdk_type': 'thick',
                                    'vmware:iops_limit': '250'}}
        self.assertTrue(self.driver.retype(None, volume, new_type, {},
                                           self.pool_host('LocalDS_1')))
        self.assertEqual((250, 0, 'normal'), self.io(volume.id))
        disk = self.disk(volume.id)
        self.assertFalse(disk.backing.thinProvisioned)
        self.assertTrue(disk.backing.fileName.startswith('[LocalDS_1] '))

    def test_retype_bad_qos_changes_nothing(self):
        volume = self.create(size=1, specs={'vmware:iops_limit': '900'})
        counts = self.session.counts_snapshot()
        err = self.assertRaises(
            exceptions.InvalidExtraSpec, self.driver.retype, None, volume,
            {'extra_specs': {'vmware:iops_limit': '100',
                             'vmware:iops_reservation': '200'}}, {}, None)
        self.assertIn('at most the IOPS limit 100', str(err))
        self.assertEqual(0, (self.session.counts_snapshot() - counts)
                         .get('ReconfigVM_Task', 0))
        self.assertEqual((900, 0, 'normal'), self.io(volume.id))

    def test_retype_failing_relocation_puts_qos_back(self):
        volume = self.create(size=1, specs={'vmware:iops_limit': '900'},
                             host='node1@vmware-1#LocalDS_0')
        self.fail_task('RelocateVM_Task')
        self.assertRaises(exceptions.VMwareBackendException,
                          self.driver.retype, None, volume,
                          {'extra_specs': {'vmware:iops_limit': '100'}}, {},
                          self.pool_host('LocalDS_1'))
        self.assertEqual((900, 0, 'normal'), self.io(volume.id))
        self.assertTrue(self.disk(volume.id).backing.fileName.startswith(
            '[LocalDS_0] '))

    def test_adopted_vm_gets_the_types_qos(self):
        _ref, uuid, _name = self.foreign_vm()
        volume = test_manage.lb.make_volume(1)
        with_qos(volume, 'both', {'total_iops_sec': '600',
                                  'vmware:shares': '2000'})
        self.driver.manage_existing(volume, {'source-id': uuid})
        self.adopted(volume)
        self.assertEqual((600, 0, 'custom', 2000), self.io(volume.id))

    def test_wrapped_loose_disk_gets_the_types_qos(self):
        ref, _uuid, _name = self.foreign_vm()
        [loose] = self.detach_all(ref)
        volume = test_manage.lb.make_volume(1, {'vmware:iops_limit': '70'})
        self.driver.manage_existing(volume, {'source-name': loose})
        self.adopted(volume)
        self.assertEqual((70, 0, 'normal'), self.io(volume.id))
        self.assertEqual(loose, self.disk(volume.id).backing.fileName)

    def test_failed_adopt_leaves_the_vm_as_it_was(self):
        ref, uuid, _name = self.foreign_vm()
        self.fail_task('ReconfigVM_Task')
        volume = test_manage.lb.make_volume(1, {'vmware:iops_limit': '70'})
        self.assertRaises(exceptions.VMwareBackendException,
                          self.driver.manage_existing, volume,
                          {'source-id': uuid})
        disk = [d for d in ops.devices_of(self.session.get_properties(
            ref, ['config.hardware.device']))
            if type(d).__name__ == 'VirtualDisk'][0]
        self.assertIsNone(getattr(disk, 'storageIOAllocation', None))
