"""Retype with a pool change (storage vMotion of the backing), on a
simulator of its own so that datastore free space can be read back exactly.
"""

from tests.functional import lifecycle_base as lb
from tests.functional import test_manage
from vmware_backend import exceptions

GIB = 1024 ** 3


class RetypePoolTest(test_manage.ManageTestBase):

    VCSIM_FLAGS = {'ds-free-gib': 700}

    def free(self):
        """{datastore name: summary.freeSpace} read from vCenter."""
        found = {}
        for name in ('LocalDS_0', 'LocalDS_1'):
            ds = self.driver.placement.find_datastore(name)
            props = self.session.get_properties(
                lb.vsphere_ops.moref('Datastore', ds.value),
                ['summary.freeSpace', 'info'])
            self.assertEqual(props['summary.freeSpace'],
                             props['info'].freeSpace)
            found[name] = props['summary.freeSpace']
        return found

    def pool_free(self, stats):
        return {p['datastore_name']: p['free_capacity_gb']
                for p in stats['pools']}

    def chain(self, volume):
        """File names of the disk and its parents (snapshot deltas)."""
        names = []
        backing = self.state(volume.id).disk.backing
        while backing is not None:
            names.append(backing.fileName)
            backing = getattr(backing, 'parent', None)
        return names

    def datastores(self, volume):
        return [self.entity_name(ref) for ref in lb.vsphere_ops.ref_list(
            self.state(volume.id).props['datastore'])]

    def test_retype_to_another_pool_with_snapshots(self):
        thin = {'extra_specs': {'vmware:vmdk_type': 'thin'}}
        volume = self.create(size=3, specs={'vmware:vmdk_type': 'thin'},
                             host='node1@vmware-1#LocalDS_0')
        snapshots = [lb.make_snapshot(volume) for _ in range(2)]
        for snapshot in snapshots:
            self.driver.create_snapshot(snapshot)
        to_ds1 = self.pool_host('LocalDS_1')
        to_ds0 = self.pool_host('LocalDS_0')
        before = self.state(volume.id)
        # (the simulator's snapshots add no delta disk: a chain of one)
        chain = self.chain(volume)
        free = self.free()
        cached = self.pool_free(self.driver.get_volume_stats())

        self.assertTrue(self.driver.retype(None, volume, thin, {}, to_ds1))

        after = self.state(volume.id)
        self.assertEqual(['LocalDS_1'], self.datastores(volume))
        moved = self.chain(volume)
        self.assertEqual(len(chain), len(moved))
        for name in moved:
            self.assertTrue(name.startswith('[LocalDS_1] '), moved)
        self.assertEqual([n.split('] ', 1)[1] for n in chain],
                         [n.split('] ', 1)[1] for n in moved])
        self.assertEqual(lb.vsphere_ops.moref_value(before.ref),
                         lb.vsphere_ops.moref_value(after.ref))
        self.assertEqual(before.disk.backing.uuid, after.disk.backing.uuid)
        self.assertTrue(after.disk.backing.thinProvisioned)
        self.assertEqual([s.name for s in snapshots], after.snapshot_names)
        # The disk's 3 GiB moved from one datastore to the other ...
        now = self.free()
        self.assertEqual(free['LocalDS_0'] + 3 * GIB, now['LocalDS_0'])
        self.assertEqual(free['LocalDS_1'] - 3 * GIB, now['LocalDS_1'])
        # ... and the driver's statistics show it without a refresh.
        stats = self.pool_free(self.driver.get_volume_stats())
        self.assertEqual(round(cached['LocalDS_0'] + 3, 2),
                         stats['LocalDS_0'])
        self.assertEqual(round(cached['LocalDS_1'] - 3, 2),
                         stats['LocalDS_1'])

        # The moved chain works: revert to the first snapshot, delete both.
        self.driver.revert_to_snapshot(None, volume, snapshots[0])
        for snapshot in reversed(snapshots):
            self.driver.delete_snapshot(snapshot)
        self.assertEqual([], self.state(volume.id).snapshot_names)
        self.assertEqual(['LocalDS_1'], self.datastores(volume))
        # Retried retype to the pool it is on: nothing moves.
        self.assertTrue(self.driver.retype(None, volume, thin, {}, to_ds1))
        self.assertEqual(now, self.free())
        # And back, with a new disk type in the same relocate.
        thick = {'extra_specs': {'vmware:vmdk_type': 'thick'}}
        self.assertTrue(self.driver.retype(None, volume, thick, {}, to_ds0))
        self.assertEqual(['LocalDS_0'], self.datastores(volume))
        self.assertFalse(self.state(volume.id).disk.backing.thinProvisioned)
        self.assertEqual(free, self.free())

    def test_refused_and_failed_moves_leave_everything(self):
        volume = self.create(size=2, specs={'vmware:vmdk_type': 'thin'},
                             host='node1@vmware-1#LocalDS_0')
        snapshot = lb.make_snapshot(volume)
        self.driver.create_snapshot(snapshot)
        to_ds1 = self.pool_host('LocalDS_1')
        chain = self.chain(volume)
        free = self.free()
        # A disk type change of a disk with snapshots: refused, naming why.
        err = self.assertRaises(
            exceptions.InvalidVolume, self.driver.retype, None, volume,
            {'extra_specs': {'vmware:vmdk_type': 'eagerZeroedThick'}}, {},
            to_ds1)
        self.assertIn('has snapshots', str(err))
        self.assertEqual(chain, self.chain(volume))
        self.assertEqual(free, self.free())
        # vCenter fails the relocate: the error surfaces, nothing moved.
        self.fail_task('RelocateVM_Task')
        self.assertRaises(
            exceptions.VCenterFault, self.driver.retype, None, volume,
            {'extra_specs': {'vmware:vmdk_type': 'thin'}}, {}, to_ds1)
        self.assertEqual(['LocalDS_0'], self.datastores(volume))
        self.assertEqual(chain, self.chain(volume))
        self.assertEqual([snapshot.name],
                         self.state(volume.id).snapshot_names)
        self.assertEqual(free, self.free())
        # The same retype afterwards succeeds.
        self.assertTrue(self.driver.retype(
            None, volume, {'extra_specs': {'vmware:vmdk_type': 'thin'}}, {},
            to_ds1))
        self.assertEqual(['LocalDS_1'], self.datastores(volume))
