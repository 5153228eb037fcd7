"""Which property paths each operation reads of a backing.

The device list of a backing is kilobytes of XML; the steps that only
check snapshots, linked-clone records and attachments must not ask for
it (nor for host and pool). On the fake vCenter of :mod:`test_driver`.
"""

from tests.unit import test_driver
from vmware_backend import exceptions
from vmware_backend.volume import plain_objects

# Written out: STATE_PROPERTIES plus what every look-up adds.
STATE_PATHS = ('name', 'snapshot', 'datastore', 'config.instanceUuid',
               'config.extraConfig')
# create_snapshot: SNAPSHOT_PROPERTIES and the instanceUuid, no markers
# (read with the attachment marks: every VM on the datastores answers
# with these paths too).
SNAPSHOT_PATHS = ('snapshot', 'config.instanceUuid')
# delete_snapshot: the tree and the markers.
TREE_PATHS = ('snapshot', 'config.instanceUuid', 'config.extraConfig')
# extend_volume: disk, snapshots, datastores; no markers.
EXTEND_PATHS = ('config.hardware.device', 'snapshot', 'datastore',
                'config.instanceUuid')


class PathsReadTest(test_driver.DriverTestBase):

    def setUp(self):
        super().setUp()
        self.vol = plain_objects.volume(size=2)
        self.snap = plain_objects.snapshot(self.vol)

    def paths_read(self):
        return [tuple(call.args[1]) for call in
                self.ops.properties.call_args_list]

    def marks_reads(self):
        return [(tuple(call.args[1]), call.args[2]) for call in
                self.ops.read_with_marks.call_args_list]

    def test_create_snapshot_reads_no_devices(self):
        self.add_backing(self.vol)
        self.driver.create_snapshot(self.snap)
        self.assertEqual([], self.paths_read())
        self.assertEqual([(SNAPSHOT_PATHS, self.vol.id)], self.marks_reads())
        self.ops.attachment_marks.assert_not_called()
        self.ops.create_snapshot.assert_called_once()

    def test_delete_snapshot_reads_no_devices(self):
        self.add_backing(self.vol, snapshots=[self.snap.name])
        self.driver.delete_snapshot(self.snap)
        self.assertEqual([TREE_PATHS], self.paths_read())
        self.ops.remove_snapshot.assert_called_once()

    def test_delete_volume_reads_no_devices(self):
        self.add_backing(self.vol)
        self.driver.delete_volume(self.vol)
        self.assertEqual([STATE_PATHS], self.paths_read())

    def test_snapshots_still_seen_with_fewer_paths(self):
        # What the fewer paths must still carry: the snapshot tree (an
        # existing snapshot is success, a delete finds it).
        self.add_backing(self.vol, snapshots=[self.snap.name])
        self.assertIsNone(self.driver.create_snapshot(self.snap))
        self.ops.create_snapshot.assert_not_called()

    def test_attachment_check_still_gets_the_datastores(self):
        self.add_backing(self.vol)
        self.ops.attachment_marks.return_value = {'vm-7': 'disk'}
        self.assertRaises(exceptions.VolumeIsBusy,
                          self.driver.delete_volume, self.vol)
        (datastores, volume_id), _kw = self.ops.attachment_marks.call_args
        self.assertEqual(self.vol.id, volume_id)
        self.assertEqual(1, len(datastores))

    def test_snapshot_attachment_marks_read_with_the_backing(self):
        self.add_backing(self.vol)
        self.ops.attachment_marks.return_value = {'vm-7': 'disk'}
        self.assertRaises(exceptions.SnapshotIsBusy,
                          self.driver.create_snapshot, self.snap)
        self.assertEqual([(SNAPSHOT_PATHS, self.vol.id)], self.marks_reads())
        self.ops.attachment_marks.assert_not_called()
        self.ops.create_snapshot.assert_not_called()

    def test_snapshot_of_duplicates_still_reads_the_marks(self):
        # Several VMs with the id: read again with the markers (and the
        # datastores), then the marks on their own.
        self.add_backing(self.vol, extra={'vmware_backend.created': '1'})
        self.add_backing(self.vol, extra={'vmware_backend.created': '2'})
        self.ops.attachment_marks.return_value = {'vm-7': 'disk'}
        self.assertRaises(exceptions.SnapshotIsBusy,
                          self.driver.create_snapshot, self.snap)
        (datastores, volume_id), _kw = self.ops.attachment_marks.call_args
        self.assertEqual(self.vol.id, volume_id)
        self.assertEqual(1, len(datastores))
        self.ops.create_snapshot.assert_not_called()

    def test_extend_still_reads_the_devices(self):
        self.add_backing(self.vol)
        self.driver.extend_volume(self.vol, 3)
        self.assertEqual([EXTEND_PATHS], self.paths_read())
        self.ops.reconfigure.assert_called_once()

    def test_extend_still_refuses_snapshots_and_attachments(self):
        self.add_backing(self.vol, snapshots=['snapshot-x'])
        err = self.assertRaises(exceptions.InvalidVolume,
                                self.driver.extend_volume, self.vol, 3)
        self.assertIn('it has snapshots', str(err))
        other = plain_objects.volume(size=2)
        self.add_backing(other)
        self.ops.attachment_marks.return_value = {'vm-7': 'disk'}
        self.assertRaises(exceptions.VolumeIsBusy,
                          self.driver.extend_volume, other, 3)
        self.ops.reconfigure.assert_not_called()
