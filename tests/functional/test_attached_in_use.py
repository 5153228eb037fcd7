"""A volume really attached on vCenter is in use, whatever Cinder says.

The volume is attached through the simulator (``attach_volume``, as Nova's
vmwareapi driver does: the disk plus the ``volume-<id>`` mark) to an
instance VM living on *another* datastore, and its Cinder status is left
``available``. Delete, extend, snapshot and linked clone are refused, and
vCenter is read back to show nothing changed; after the detach each of them
goes ahead.
"""

from tests.functional import lifecycle_base as lb
from vmware_backend import exceptions
from vmware_backend.volume import plain_objects
from vmware_backend.vsphere import ops as vsphere_ops

GiB_KB = 1024 * 1024


class AttachedOnVCenterTest(lb.LifecycleTestCase):

    def setUp(self):
        super().setUp()
        self.instance = self.make_instance()  # on LocalDS_0
        pools = self.driver.get_volume_stats(refresh=True)['pools']
        pool = [p for p in pools if p['datastore_name'] == 'LocalDS_1'][0]
        self.host = 'cinder@vmware#%s' % pool['pool_name']
        self.volume = self.create(size=1, host=self.host)
        self.assertNotEqual(self.state(self.instance).datastore_values,
                            self.state(self.volume.id).datastore_values)
        self.driver.attach_volume(self.instance, self.volume)
        self.addCleanup(self.driver.detach_volume, self.instance,
                        self.volume)
        self.assertEqual('available', self.volume.status)
        self.instance_value = self.instance.value

    def assertUnchanged(self):
        state = self.state(self.volume.id)
        self.assertEqual(GiB_KB, state.disk.capacityInKB)
        self.assertEqual([], state.snapshot_names)
        self.assertEqual([], [k for k in state.extra
                              if k.startswith('vmware_backend.clone')])

    def assertNamesTheInstance(self, err):
        self.assertIn(self.instance_value, str(err))
        self.assertIn('volume-%s' % self.volume.id, str(err))

    def test_delete_extend_snapshot_linked_clone_are_refused(self):
        err = self.assertRaises(exceptions.VolumeIsBusy,
                                self.driver.delete_volume, self.volume)
        self.assertNamesTheInstance(err)
        self.assertIsNotNone(self.find(self.volume.id))

        err = self.assertRaises(exceptions.VolumeIsBusy,
                                self.driver.extend_volume, self.volume, 2)
        self.assertNamesTheInstance(err)

        snap = plain_objects.snapshot(self.volume)
        err = self.assertRaises(exceptions.SnapshotIsBusy,
                                self.driver.create_snapshot, snap)
        self.assertNamesTheInstance(err)

        clone = plain_objects.volume(size=1,
                                     specs={'vmware:clone_type': 'linked'})
        self.track(clone)
        err = self.assertRaises(exceptions.VolumeIsBusy,
                                self.driver.create_cloned_volume, clone,
                                self.volume)
        self.assertNamesTheInstance(err)
        self.assertGone(clone.id)
        self.assertUnchanged()

    def test_after_detach_they_go_ahead(self):
        self.driver.detach_volume(self.instance, self.volume)
        snap = plain_objects.snapshot(self.volume)
        self.driver.create_snapshot(snap)
        self.assertEqual([snap.name],
                         self.state(self.volume.id).snapshot_names)
        self.driver.delete_snapshot(snap)
        self.driver.extend_volume(self.volume, 2)
        self.volume.size = 2
        self.assertEqual(2 * GiB_KB,
                         self.state(self.volume.id).disk.capacityInKB)
        self.driver.delete_volume(self.volume)
        self.assertGone(self.volume.id)

    def test_the_check_costs_one_round_trip(self):
        other = self.create(size=1)
        before = self.session.counts_snapshot()
        self.driver.extend_volume(other, 2)
        after = self.session.counts_snapshot()
        sent = {method: after[method] - before.get(method, 0)
                for method in after if after[method] != before.get(method)}
        # Cached backing moref: the backing's properties and the attachment
        # read (one RetrievePropertiesEx each), then the reconfigure and
        # its task's state.
        self.assertEqual({'RetrievePropertiesEx': 3, 'ReconfigVM_Task': 1},
                         sent)

    def test_snapshot_reads_the_marks_with_the_backing(self):
        # create_snapshot: one RetrievePropertiesEx for the backing and the
        # marks of the VMs on its datastores, the snapshot and its task's
        # state: the in-tree driver's count (FindAllByUuid instead).
        other = self.create(size=1)
        snap = plain_objects.snapshot(other)
        before = self.session.counts_snapshot()
        self.driver.create_snapshot(snap)
        self.assertEqual({'RetrievePropertiesEx': 2,
                          'CreateSnapshot_Task': 1},
                         dict(self.session.counts_snapshot() - before))
        self.assertEqual([snap.name], self.state(other.id).snapshot_names)
        # Again (a retry): the snapshot is found in the plain values read
        # with the marks, nothing is made.
        before = self.session.counts_snapshot()
        self.driver.create_snapshot(snap)
        self.assertEqual({'RetrievePropertiesEx': 1},
                         dict(self.session.counts_snapshot() - before))
        self.assertEqual([snap.name], self.state(other.id).snapshot_names)

    def test_marks_read_keeps_the_backing_apart(self):
        # Every VM on the datastores answers with the same paths: the
        # backing's values are its own, the marks those of the others.
        self.driver.detach_volume(self.instance, self.volume)
        first = self.create(size=1, host=self.host)
        snap = plain_objects.snapshot(first)
        self.driver.create_snapshot(snap)
        second = self.create(size=1, host=self.host)
        self.assertEqual(self.state(first.id).datastore_values,
                         self.state(second.id).datastore_values)
        self.driver.attach_volume(self.instance, second)
        self.addCleanup(self.driver.detach_volume, self.instance, second)
        props = self.driver.ops.read_with_marks(
            self.find(second.id), ('snapshot', 'config.instanceUuid'),
            second.id)
        self.assertEqual(second.id, props['config.instanceUuid'])
        self.assertNotIn('snapshot', props)  # first's tree is first's
        [(vm, mark)] = props[vsphere_ops.MARKS_KEY].items()
        self.assertEqual(self.instance_value, vm)
        self.assertTrue(mark)
        snap_of_second = plain_objects.snapshot(second)
        err = self.assertRaises(exceptions.SnapshotIsBusy,
                                self.driver.create_snapshot, snap_of_second)
        self.assertIn(self.instance_value, str(err))
        self.assertEqual([], self.state(second.id).snapshot_names)
        self.assertEqual([snap.name], self.state(first.id).snapshot_names)
