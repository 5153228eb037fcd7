"""Import of an existing snapshot of a volume's backing, and unmanage."""

from tests.functional import lifecycle_base as lb
from vmware_backend import exceptions


class ManageSnapshotTest(lb.LifecycleTestCase):

    def vsphere_snapshot(self, volume, name):
        return self.session.invoke_task(
            'CreateSnapshot_Task', self.find(volume.id), name=name,
            description='made outside Cinder', memory=False, quiesce=False)

    def test_adopt_delete_and_unmanage(self):
        volume = self.create(size=2)
        self.vsphere_snapshot(volume, 'nightly')
        snapshot = lb.make_snapshot(volume)
        existing = {'source-name': 'nightly'}
        self.assertEqual(2, self.driver.manage_existing_snapshot_get_size(
            snapshot, existing))
        self.driver.manage_existing_snapshot(snapshot, existing)
        self.assertEqual([snapshot.name],
                         self.state(volume.id).snapshot_names)
        # Retried: no-op.
        self.driver.manage_existing_snapshot(snapshot, existing)
        # Cinder's operations find it.
        self.driver.revert_to_snapshot(None, volume, snapshot)
        self.driver.unmanage_snapshot(snapshot)
        self.assertEqual(['unmanaged-%s' % snapshot.id],
                         self.state(volume.id).snapshot_names)
        # And it can be imported again, by moref.
        again = lb.make_snapshot(volume)
        [tree] = [t for t, _d in lb.vsphere_ops.snapshot_trees(
            self.state(volume.id).props)]
        self.driver.manage_existing_snapshot(again, {
            'source-id': lb.vsphere_ops.moref_value(tree.snapshot)})
        self.driver.delete_snapshot(again)
        self.assertEqual([], self.state(volume.id).snapshot_names)

    def test_refusals(self):
        volume = self.create(size=1)
        self.vsphere_snapshot(volume, 'dup')
        self.vsphere_snapshot(volume, 'dup')
        self.vsphere_snapshot(volume, 'clone-%s' % lb.base.new_id())
        cinder_made = lb.make_snapshot(volume)
        self.driver.create_snapshot(cinder_made)
        names = self.state(volume.id).snapshot_names
        for existing, words in (
                ({'source-name': 'nope'}, 'no snapshot nope'),
                ({'source-name': 'dup'}, 'ambiguous'),
                ({'source-name': names[2]}, 'temporary snapshot'),
                ({'source-name': cinder_made.name}, 'already managed'),
                ({}, 'source-name')):
            err = self.assertRaises(
                exceptions.InvalidReference,
                self.driver.manage_existing_snapshot,
                lb.make_snapshot(volume), existing)
            self.assertIn(words, str(err))
        self.assertEqual(names, self.state(volume.id).snapshot_names)
