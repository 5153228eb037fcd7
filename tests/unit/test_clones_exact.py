"""Volumes from snapshots: the sizes compared and the errors, written out.

Complements tests.unit.test_driver's clone tests where the mutation run
(``tox -e mutation``) showed a changed attribute name or message going
unnoticed.
"""

import types
from unittest import mock

from tests.unit import test_driver
from vmware_backend import exceptions
from vmware_backend.volume import plain_objects


class FromSnapshotSizeTest(test_driver.CloneTestBase):

    def test_smaller_than_the_snapshot_is_refused(self):
        vol = self.volume(size=1)
        err = self.assertRaises(exceptions.InvalidVolume,
                                self.driver.create_volume_from_snapshot,
                                vol, self.src_snap)
        self.assertEqual(
            'Invalid volume %s: size 1 GiB is smaller than snapshot %s '
            '(2 GiB)' % (vol.id, self.src_snap.id), str(err))
        self.assertNoChange()

    def test_the_snapshots_own_size_counts_not_its_volumes_today(self):
        # The source was extended to 5 GiB after its 2 GiB snapshot.
        self.src.size = 5
        vol = self.volume(size=3, clone_type='full', host='c@b#dc-2:ds-new')
        self.driver.create_volume_from_snapshot(vol, self.src_snap)
        self.assertFullClone(vol, 3)

    def test_without_a_snapshot_size_the_volumes_size_counts(self):
        snap = types.SimpleNamespace(**vars(self.src_snap))
        snap.volume_size = None
        vol = self.volume(size=1)
        self.assertRaises(exceptions.InvalidVolume,
                          self.driver.create_volume_from_snapshot, vol, snap)
        self.assertNoChange()

    def test_snapshot_missing_on_the_backing(self):
        gone = plain_objects.snapshot(self.src)
        vol = self.volume(size=2)
        err = self.assertRaises(exceptions.InvalidSnapshot,
                                self.driver.create_volume_from_snapshot,
                                vol, gone)
        self.assertEqual(
            'Invalid snapshot %s: not found on the backing of volume %s'
            % (gone.id, self.src.id), str(err))

    def test_the_snapshots_config_is_read(self):
        vol = self.volume(clone_type='full', host='c@b#dc-2:ds-new')
        self.driver.create_volume_from_snapshot(vol, self.src_snap)
        self.ops.properties.assert_any_call(
            self.snaps[self.src_snap.name], ('config.extraConfig',),
            target='snapshot %s' % self.src_snap.id)


class MarkerGraceTest(test_driver.DriverTestBase):
    """A marker without its clone counts for 60 seconds (MARKER_GRACE).

    time.time() is NOW in these tests; no task runs on vCenter.
    """

    def setUp(self):
        super().setUp()
        self.src = plain_objects.volume(size=2)
        self.clone = plain_objects.volume(size=2)
        self.marker = 'vmware_backend.clone.%s' % self.clone.id

    def add_marked_source(self, age):
        since = 'vmware_backend.clone_since.%s' % self.clone.id
        return self.add_backing(self.src, snapshots=['snapshot-1'], extra={
            self.marker: 'snapshot-1', since: str(test_driver.NOW - age)})

    def test_59_seconds_old_the_clone_may_still_come(self):
        self.add_marked_source(59)
        err = self.assertRaises(exceptions.VolumeIsBusy,
                                self.driver.delete_volume, self.src)
        self.assertIn(self.clone.id, str(err))
        self.assertNoChange()

    def test_exactly_60_seconds_old_the_marker_is_stale(self):
        ref = self.add_marked_source(60)
        self.driver.delete_volume(self.src)
        self.ops.set_extra_config.assert_called_once_with(
            ref, test_driver.cleared(self.clone.id), mock.ANY)
        self.ops.destroy.assert_called_once_with(ref, mock.ANY)
