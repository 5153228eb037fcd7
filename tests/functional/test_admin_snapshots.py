"""Snapshot trees and snapshot renames on the simulator."""

from tests.functional import base
from tests.functional import test_manage_cli
from vmware_backend.admin import snapshot_trees
from vmware_backend import exceptions
from vmware_backend.volume import plain_objects
from vmware_backend.vsphere import ops


class SnapshotTreeTest(test_manage_cli.CliMixin, base.FunctionalTestCase):

    def setUp(self):
        super().setUp()
        self.driver, self.volume = self.driver_and_volume()
        self.snap1 = plain_objects.snapshot(self.volume)
        self.snap2 = plain_objects.snapshot(self.volume)
        for snap in (self.snap1, self.snap2):
            self.driver.create_snapshot(snap)
            self.addCleanup(self.driver.delete_snapshot, snap)
        self._linked_clone()

    def _linked_clone(self):
        self.clone = plain_objects.volume(
            1, specs={'vmware:clone_type': 'linked'})
        self.driver.create_volume_from_snapshot(self.clone, self.snap1)
        self.addCleanup(self.driver.delete_volume, self.clone)

    def vc_tree(self):
        """(name, description) of each snapshot, read from vCenter."""
        ref = ops.VolumeOps(self.session).find_vm_by_instance_uuid(
            self.volume.id)
        props = self.session.get_properties(ref, ['snapshot'])
        return [(str(t.name), str(getattr(t, 'description', '') or ''))
                for t, _d in ops.snapshot_trees(props)]

    def test_tree(self):
        tree = snapshot_trees.snapshot_tree(self.session, self.volume.id)
        names = [n.name for n in tree.snapshots]
        self.assertEqual([self.snap1.name, self.snap2.name], names)
        first, second = tree.snapshots
        self.assertEqual(('cinder', 0, None), (first.kind, first.depth,
                                               first.parent))
        self.assertEqual((1, self.snap1.name), (second.depth, second.parent))
        self.assertTrue(second.current)
        self.assertFalse(first.current)
        self.assertEqual([self.clone.id], first.clones)
        self.assertEqual([], second.clones)
        self.assertTrue(first.created)

    def test_rename_refused_for_driver_snapshots(self):
        err = self.assertRaises(
            exceptions.AdminRefused, snapshot_trees.rename, self.session,
            self.volume.id, self.snap1.name, new_name='gold')
        self.assertIn('linked clone(s) %s' % self.clone.id, str(err))
        self.assertEqual(self.snap1.name, self.vc_tree()[0][0])

    def test_describe_then_forced_rename(self):
        snapshot_trees.rename(self.session, self.volume.id, self.snap2.name,
                              description='before the upgrade')
        self.assertEqual((self.snap2.name, 'before the upgrade'),
                         self.vc_tree()[1])
        tree = snapshot_trees.rename(self.session, self.volume.id,
                                     self.snap2.name, new_name='gold',
                                     force=True)
        self.assertEqual(('gold', 'before the upgrade'), self.vc_tree()[1])
        self.assertEqual('gold', tree.snapshots[1].name)
        # Put it back, so the driver finds it for the clean-up.
        snapshot_trees.rename(self.session, self.volume.id, 'gold',
                              new_name=self.snap2.name, force=True)
        self.assertEqual(self.snap2.name, self.vc_tree()[1][0])

    def test_bad_input(self):
        err = self.assertRaises(
            exceptions.InvalidAdminInput, snapshot_trees.rename,
            self.session, self.volume.id, 'nope', description='x')
        self.assertIn('no such snapshot', str(err))
        self.assertIn(self.snap1.name, str(err))
        err = self.assertRaises(
            exceptions.InvalidAdminInput, snapshot_trees.rename,
            self.session, self.volume.id, self.snap2.name,
            new_name=self.snap1.name, force=True)
        self.assertIn('another snapshot', str(err))
        self.assertRaises(exceptions.InvalidAdminInput,
                          snapshot_trees.snapshot_tree, self.session,
                          base.new_id())

    def test_cli(self):
        config = self.ini(self.vcsim)
        proc = self.cli('--format', 'json', 'snapshots', self.volume.id,
                        config=config)
        self.assertExit(0, proc)
        nodes = self.json_of(proc)['snapshots']
        self.assertEqual([self.clone.id], nodes[0]['clones'])
        proc = self.cli('snapshot-rename', self.volume.id, self.snap2.name,
                        '--description', 'nightly', config=config)
        self.assertExit(2, proc)
        self.assertIn('pass --yes', proc.stderr)
        proc = self.cli('snapshot-rename', self.volume.id, self.snap2.name,
                        '--description', 'nightly', '--yes', config=config)
        self.assertExit(0, proc)
        self.assertIn('nightly', proc.stdout)
        self.assertEqual('nightly', self.vc_tree()[1][1])
        proc = self.cli('snapshot-rename', self.volume.id, self.snap1.name,
                        '--name', 'x', '--yes', config=config)
        self.assertExit(1, proc)
        self.assertIn('refused', proc.stderr)
