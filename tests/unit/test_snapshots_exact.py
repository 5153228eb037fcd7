"""Snapshot create, delete and revert: errors and task targets written out.

Complements tests.unit.test_driver's SnapshotTest and RevertTest where the
mutation run (``tox -e mutation``) showed a changed message going
unnoticed.
"""

from tests.unit import test_driver
from vmware_backend import exceptions
from vmware_backend.volume import plain_objects
from vmware_backend.vsphere import specs


class SnapshotExactTest(test_driver.DriverTestBase):

    def setUp(self):
        super().setUp()
        self.vol = plain_objects.volume(size=2)
        self.snap = plain_objects.snapshot(self.vol)

    def test_create_of_an_attached_volume(self):
        self.add_backing(self.vol)
        self.vol.status = 'in-use'
        err = self.assertRaises(exceptions.SnapshotIsBusy,
                                self.driver.create_snapshot, self.snap)
        self.assertEqual(
            'Snapshot %s is busy: volume %s is attached; the instance '
            'writes to its disk directly' % (self.snap.id, self.vol.id),
            str(err))

    def test_create_names_and_describes_the_snapshot(self):
        ref = self.add_backing(self.vol)
        self.driver.create_snapshot(self.snap)
        self.ops.create_snapshot.assert_called_once_with(
            ref, 'snapshot-%s' % self.snap.id,
            'Snapshot %s of volume %s' % (self.snap.id, self.vol.id),
            'snapshot %s of volume %s' % (self.snap.id, self.vol.id))

    def test_delete_read_by_linked_clones(self):
        first = plain_objects.volume(size=2)
        second = plain_objects.volume(size=2)
        self.add_backing(self.vol, snapshots=[self.snap.name], extra={
            specs.KEY_CLONE_PREFIX + first.id: self.snap.name,
            specs.KEY_CLONE_PREFIX + second.id: self.snap.name})
        for clone in (first, second):
            self.add_backing(clone, extra={
                specs.KEY_PARENT: '%s:%s' % (self.vol.id, self.snap.name)})
        err = self.assertRaises(exceptions.SnapshotIsBusy,
                                self.driver.delete_snapshot, self.snap)
        self.assertEqual(
            'Snapshot %s is busy: linked clone(s) %s read from it'
            % (self.snap.id, ', '.join(sorted([first.id, second.id]))),
            str(err))

    def test_delete_target(self):
        self.add_backing(self.vol, snapshots=[self.snap.name])
        self.driver.delete_snapshot(self.snap)
        test_driver.assert_ref_call(
            self, self.ops.remove_snapshot, self.snaps[self.snap.name],
            'snapshot %s of volume %s' % (self.snap.id, self.vol.id))

    def test_revert_of_an_attached_volume(self):
        self.add_backing(self.vol, snapshots=[self.snap.name])
        self.vol.status = 'in-use'
        err = self.assertRaises(exceptions.VolumeIsBusy,
                                self.driver.revert_to_snapshot, None,
                                self.vol, self.snap)
        self.assertEqual('Volume %s is busy: it is attached' % self.vol.id,
                         str(err))

    def test_revert_to_a_missing_snapshot(self):
        self.add_backing(self.vol, snapshots=['snapshot-0'])
        err = self.assertRaises(exceptions.InvalidSnapshot,
                                self.driver.revert_to_snapshot, None,
                                self.vol, self.snap)
        self.assertEqual(
            'Invalid snapshot %s: not found on the backing of volume %s'
            % (self.snap.id, self.vol.id), str(err))

    def test_revert_target(self):
        self.add_backing(self.vol, snapshots=[self.snap.name])
        self.driver.revert_to_snapshot(None, self.vol, self.snap)
        self.ops.revert_to_snapshot.assert_called_once_with(
            self.snaps[self.snap.name],
            'snapshot %s of volume %s' % (self.snap.id, self.vol.id))
