"""The volume lifecycle on vcsim, each step checked in vCenter's state."""

import types

from tests.functional import lifecycle_base as lb
from vmware_backend import exceptions
from vmware_backend.testbed.faults import control as control_mod
from vmware_backend.vsphere import specs

GIB_KB = 1024 * 1024


class CreateDeleteTest(lb.LifecycleTestCase):

    def test_create_volume_builds_backing(self):
        volume = self.create(size=2)
        state = self.state(volume.id)
        self.assertEqual('volume-%s' % volume.id, state.props['name'])
        self.assertEqual(volume.id, state.props['config.instanceUuid'])
        self.assertEqual('otherGuest', state.props['config.guestId'])
        self.assertEqual(1, state.props['config.hardware.numCPU'])
        self.assertEqual(self.options['vcenter_backing_memory_mb'],
                         state.props['config.hardware.memoryMB'])
        self.assertEqual('true', state.extra[specs.KEY_MANAGED])
        self.assertEqual(volume.id, state.extra[specs.KEY_VOLUME_ID])
        disk = state.disk
        self.assertEqual(2 * GIB_KB, disk.capacityInKB)
        self.assertEqual(0, disk.unitNumber)
        self.assertTrue(disk.backing.thinProvisioned)
        self.assertEqual('persistent', disk.backing.diskMode)
        self.assertEqual('VirtualLsiLogicController',
                         type(state.controller(disk)).__name__)
        self.assertFalse([d for d in state.devices
                          if 'Ethernet' in type(d).__name__ or
                          'Vmxnet' in type(d).__name__])
        # In the configured folder: .../OpenStack/Volumes
        folder = state.props['parent']
        self.assertEqual('Volumes', self.entity_name(folder))
        parent = self.session.get_properties(folder, ['parent'])['parent']
        self.assertEqual('OpenStack', self.entity_name(parent))

    def test_volume_type_specs_shape_the_disk(self):
        cases = [
            ({'vmware:vmdk_type': 'thick'}, (False, False),
             'VirtualLsiLogicController'),
            ({'vmware:vmdk_type': 'eagerZeroedThick',
              'vmware:adapter_type': 'paraVirtual'}, (False, True),
             'ParaVirtualSCSIController'),
            ({'vmware:adapter_type': 'busLogic'}, (True, False),
             'VirtualBusLogicController'),
            ({'vmware:adapter_type': 'lsiLogicsas'}, (True, False),
             'VirtualLsiLogicSASController'),
            ({'vmware:adapter_type': 'ide'}, (True, False),
             'VirtualIDEController'),
        ]
        for extra_specs, (thin, eager), controller in cases:
            volume = self.create(size=1, specs=extra_specs)
            state = self.state(volume.id)
            disk = state.disk
            self.assertEqual(thin, bool(disk.backing.thinProvisioned),
                             extra_specs)
            self.assertEqual(eager, bool(disk.backing.eagerlyScrub),
                             extra_specs)
            self.assertEqual(controller,
                             type(state.controller(disk)).__name__,
                             extra_specs)

    def test_create_is_idempotent_for_the_same_volume(self):
        volume = self.create(size=1)
        first = self.state(volume.id).ref
        self.driver.create_volume(volume)
        self.assertEqual(lb.vsphere_ops.moref_value(first),
                         lb.vsphere_ops.moref_value(self.find(volume.id)))

    def test_create_conflicting_size_is_refused(self):
        volume = self.create(size=1)
        bigger = types.SimpleNamespace(**dict(vars(volume), size=2))
        err = self.assertRaises(exceptions.InvalidVolume,
                                self.driver.create_volume, bigger)
        self.assertIn(volume.id, str(err))

    def test_bad_input_creates_nothing(self):
        for size in (0, -1, 1.5, None, '2'):
            volume = lb.make_volume(size=size)
            err = self.assertRaises(exceptions.InvalidVolume,
                                    self.driver.create_volume, volume)
            self.assertIn(repr(size), str(err))
            self.assertGone(volume.id)
        volume = lb.make_volume(specs={'vmware:vmdk_type': 'sparse'})
        err = self.assertRaises(exceptions.InvalidExtraSpec,
                                self.driver.create_volume, volume)
        self.assertIn('vmware:vmdk_type', str(err))
        self.assertIn("'sparse'", str(err))
        self.assertGone(volume.id)

    def test_unusable_pool_named_by_cinder_creates_nothing(self):
        volume = lb.make_volume(host='node@vmware#NoSuchDatastore')
        err = self.assertRaises(exceptions.NoValidDatastore,
                                self.driver.create_volume, volume)
        self.assertIn('NoSuchDatastore', str(err))
        self.assertGone(volume.id)

    def test_names_with_escaped_characters(self):
        volume = self.create(size=1, name='vol%with/odd\\chars')
        state = self.state(volume.id)
        self.assertEqual('vol%25with%2fodd%5cchars', state.props['name'])

    def test_delete_volume_removes_backing_and_is_idempotent(self):
        volume = self.create(size=1)
        self.assertIsNotNone(self.find(volume.id))
        self.driver.delete_volume(volume)
        self.assertGone(volume.id)
        self.driver.delete_volume(volume)
        never_created = lb.make_volume()
        self.driver.delete_volume(never_created)

    def test_removed_volume_folder_is_recreated(self):
        first = self.create(size=1)
        folder = self.state(first.id).props['parent']
        self.driver.delete_volume(first)
        # An administrator removes the (now empty) volume folder.
        self.session.invoke_task('Destroy_Task', folder)
        second = self.create(size=1)
        new_folder = self.state(second.id).props['parent']
        self.assertNotEqual(lb.vsphere_ops.moref_value(folder),
                            lb.vsphere_ops.moref_value(new_folder))
        self.assertEqual('Volumes', self.entity_name(new_folder))

    def test_delete_attached_volume_is_refused(self):
        volume = self.create(size=1)
        busy = types.SimpleNamespace(**dict(vars(volume), status='in-use'))
        self.assertRaises(exceptions.VolumeIsBusy, self.driver.delete_volume,
                          busy)
        self.assertIsNotNone(self.find(volume.id))

    def test_stale_moref_hint_is_re_resolved(self):
        volume = self.create(size=1)
        # Another driver (another cinder-volume process) deletes and
        # re-creates it: our cached moref now points nowhere.
        other = lb.vmware_driver.VMwareVolumeDriver(self.options,
                                                    session=self.session)
        other.delete_volume(volume)
        other.create_volume(volume)
        self.driver.extend_volume(volume, 2)
        self.assertEqual(2 * GIB_KB, self.state(volume.id).disk.capacityInKB)


class ExtendTest(lb.LifecycleTestCase):

    def test_extend_grows_disk(self):
        volume = self.create(size=1)
        self.driver.extend_volume(volume, 3)
        self.assertEqual(3 * GIB_KB, self.state(volume.id).disk.capacityInKB)

    def test_shrink_refused_same_size_is_success(self):
        volume = self.create(size=2)
        err = self.assertRaises(exceptions.InvalidVolume,
                                self.driver.extend_volume, volume, 1)
        self.assertIn('cannot shrink', str(err))
        # A retry of an extend that was carried out: nothing to do, and
        # nothing sent but the look-up.
        counts = self.session.counts_snapshot()
        self.driver.extend_volume(volume, 2)
        sent = self.session.counts_snapshot() - counts
        self.assertEqual(0, sent['ReconfigVM_Task'])
        self.assertEqual(2 * GIB_KB, self.state(volume.id).disk.capacityInKB)

    def test_extend_with_snapshot_refused(self):
        volume = self.create(size=1)
        self.driver.create_snapshot(lb.make_snapshot(volume))
        err = self.assertRaises(exceptions.InvalidVolume,
                                self.driver.extend_volume, volume, 2)
        self.assertIn('snapshots', str(err))
        self.assertEqual(GIB_KB, self.state(volume.id).disk.capacityInKB)

    def test_extend_attached_volume_refused(self):
        volume = self.create(size=1)
        busy = types.SimpleNamespace(**dict(vars(volume), status='in-use'))
        self.assertRaises(exceptions.VolumeIsBusy, self.driver.extend_volume,
                          busy, 2)
        self.assertEqual(GIB_KB, self.state(volume.id).disk.capacityInKB)

    def test_extend_missing_backing(self):
        volume = lb.make_volume()
        err = self.assertRaises(exceptions.BackingNotFound,
                                self.driver.extend_volume, volume, 2)
        self.assertIn(volume.id, str(err))


class SnapshotTest(lb.LifecycleTestCase):

    def test_create_and_delete_snapshot(self):
        volume = self.create(size=1)
        snap = lb.make_snapshot(volume)
        self.driver.create_snapshot(snap)
        self.assertEqual([snap.name], self.state(volume.id).snapshot_names)
        self.driver.create_snapshot(snap)   # idempotent
        self.assertEqual([snap.name], self.state(volume.id).snapshot_names)
        self.driver.delete_snapshot(snap)
        self.assertEqual([], self.state(volume.id).snapshot_names)
        self.driver.delete_snapshot(snap)   # already gone: success

    def test_snapshot_tree_keeps_order(self):
        volume = self.create(size=1)
        first, second = lb.make_snapshot(volume), lb.make_snapshot(volume)
        self.driver.create_snapshot(first)
        self.driver.create_snapshot(second)
        self.assertEqual([first.name, second.name],
                         self.state(volume.id).snapshot_names)
        self.driver.delete_snapshot(first)
        self.assertEqual([second.name], self.state(volume.id).snapshot_names)

    def test_snapshot_of_attached_volume_refused(self):
        volume = self.create(size=1)
        volume.status = 'in-use'
        snap = lb.make_snapshot(volume)
        self.assertRaises(exceptions.SnapshotIsBusy,
                          self.driver.create_snapshot, snap)
        volume.status = 'available'
        self.assertEqual([], self.state(volume.id).snapshot_names)

    def test_revert_to_snapshot(self):
        volume = self.create(size=1)
        snap = lb.make_snapshot(volume)
        self.driver.create_snapshot(snap)
        later = lb.make_snapshot(volume)
        self.driver.create_snapshot(later)
        self.driver.revert_to_snapshot(None, volume, snap)
        state = self.state(volume.id)
        current = state.props['snapshot'].currentSnapshot
        trees = dict((t.name, t.snapshot) for t, _d in
                     lb.vsphere_ops.snapshot_trees(state.props))
        self.assertEqual(lb.vsphere_ops.moref_value(trees[snap.name]),
                         lb.vsphere_ops.moref_value(current))

    def test_revert_to_missing_snapshot(self):
        volume = self.create(size=1)
        err = self.assertRaises(exceptions.InvalidSnapshot,
                                self.driver.revert_to_snapshot, None, volume,
                                lb.make_snapshot(volume))
        self.assertIn('not found', str(err))


class CloneTest(lb.LifecycleTestCase):

    def _source_with_snapshot(self, size=1):
        source = self.create(size=size)
        snap = lb.make_snapshot(source)
        self.driver.create_snapshot(snap)
        self.addCleanup(self.driver.delete_snapshot, snap)
        return source, snap

    def test_clone_of_a_snapshot_drops_records_the_snapshot_carries(self):
        # A linked clone's marker is on the source when a second snapshot
        # is taken; the clone is deleted (its marker leaves the source, not
        # the snapshot's copy of the config), then a volume is made from
        # that snapshot: vCenter copies the snapshot's extraConfig into it.
        source, first = self._source_with_snapshot()
        linked = lb.make_volume(size=1, specs={'vmware:clone_type': 'linked'})
        self.driver.create_volume_from_snapshot(linked, first)
        self.track(linked)
        second = lb.make_snapshot(source)
        self.driver.create_snapshot(second)
        self.addCleanup(self.driver.delete_snapshot, second)
        self.driver.delete_volume(linked)
        self.assertNotIn(specs.KEY_CLONE_PREFIX + linked.id,
                         self.state(source.id).extra)
        for clone_type in ('full', 'linked'):
            clone = lb.make_volume(
                size=1, specs={'vmware:clone_type': clone_type})
            self.driver.create_volume_from_snapshot(clone, second)
            self.track(clone)
            extra = self.state(clone.id).extra
            self.assertEqual(
                [], sorted(k for k, v in extra.items() if v and k.startswith(
                    (specs.KEY_CLONE_PREFIX, specs.KEY_CLONE_SINCE_PREFIX))),
                clone_type)

    def test_linked_clone_from_snapshot(self):
        source, snap = self._source_with_snapshot()
        clone = lb.make_volume(size=1, specs={'vmware:clone_type': 'linked'})
        self.driver.create_volume_from_snapshot(clone, snap)
        self.track(clone)
        src_state, state = self.state(source.id), self.state(clone.id)
        self.assertEqual(clone.id, state.props['config.instanceUuid'])
        self.assertEqual('volume-%s' % clone.id, state.props['name'])
        self.assertEqual(clone.id, state.extra[specs.KEY_VOLUME_ID])
        self.assertEqual('%s:%s' % (source.id, snap.name),
                         state.extra[specs.KEY_PARENT])
        parent = state.disk.backing.parent
        self.assertIsNotNone(parent)
        self.assertEqual(src_state.disk.backing.fileName, parent.fileName)
        self.assertNotEqual(src_state.disk.backing.fileName,
                            state.disk.backing.fileName)
        self.assertEqual('Volumes', self.entity_name(state.props['parent']))
        self.assertEqual(snap.name, src_state.extra[
            specs.KEY_CLONE_PREFIX + clone.id])
        # The dependency protects the snapshot and the source.
        self.assertRaises(exceptions.SnapshotIsBusy,
                          self.driver.delete_snapshot, snap)
        self.assertRaises(exceptions.VolumeIsBusy,
                          self.driver.delete_volume, source)
        self.assertEqual([snap.name], self.state(source.id).snapshot_names)
        # Deleting the clone releases them.
        self.driver.delete_volume(clone)
        self.assertGone(clone.id)
        self.assertNotIn(specs.KEY_CLONE_PREFIX + clone.id,
                         self.state(source.id).extra)
        self.driver.delete_snapshot(snap)
        self.assertEqual([], self.state(source.id).snapshot_names)

    def test_full_clone_from_snapshot_larger(self):
        source, snap = self._source_with_snapshot(size=1)
        clone = lb.make_volume(size=3)
        self.driver.create_volume_from_snapshot(clone, snap)
        self.track(clone)
        state = self.state(clone.id)
        self.assertEqual(3 * GIB_KB, state.disk.capacityInKB)
        self.assertIsNone(getattr(state.disk.backing, 'parent', None))
        self.assertNotEqual(self.state(source.id).disk.backing.fileName,
                            state.disk.backing.fileName)
        self.assertNotIn(specs.KEY_PARENT, state.extra)
        self.assertEqual(GIB_KB, self.state(source.id).disk.capacityInKB)
        # No dependency: the snapshot can go while the clone stays.
        self.driver.delete_snapshot(snap)
        self.assertIsNotNone(self.find(clone.id))

    def test_full_clone_takes_the_new_volume_disk_type(self):
        source, snap = self._source_with_snapshot(size=1)
        clone = lb.make_volume(size=1, specs={'vmware:vmdk_type': 'thick'})
        self.driver.create_volume_from_snapshot(clone, snap)
        self.track(clone)
        self.assertTrue(self.state(source.id).disk.backing.thinProvisioned)
        backing = self.state(clone.id).disk.backing
        self.assertFalse(backing.thinProvisioned)
        self.assertFalse(backing.eagerlyScrub)

    def test_linked_clone_larger_falls_back_to_full(self):
        source, snap = self._source_with_snapshot(size=1)
        clone = lb.make_volume(size=2, specs={'vmware:clone_type': 'linked'})
        self.driver.create_volume_from_snapshot(clone, snap)
        self.track(clone)
        state = self.state(clone.id)
        self.assertEqual(2 * GIB_KB, state.disk.capacityInKB)
        self.assertIsNone(getattr(state.disk.backing, 'parent', None))
        self.assertNotIn(specs.KEY_CLONE_PREFIX + clone.id,
                         self.state(source.id).extra)

    def test_clone_smaller_than_snapshot_refused(self):
        source, snap = self._source_with_snapshot(size=2)
        clone = lb.make_volume(size=1)
        self.assertRaises(exceptions.InvalidVolume,
                          self.driver.create_volume_from_snapshot, clone,
                          snap)
        self.assertGone(clone.id)

    def test_clone_edits_do_not_touch_the_source(self):
        source = self.create(size=1)
        clone = lb.make_volume(size=1)
        self.driver.create_cloned_volume(clone, source)
        self.track(clone)
        self.driver.extend_volume(clone, 4)
        self.assertEqual(4 * GIB_KB, self.state(clone.id).disk.capacityInKB)
        self.assertEqual(GIB_KB, self.state(source.id).disk.capacityInKB)
        self.assertNotEqual(self.state(source.id).disk.backing.fileName,
                            self.state(clone.id).disk.backing.fileName)

    def test_linked_clone_of_volume_keeps_temporary_snapshot(self):
        source = self.create(size=1)
        clone = lb.make_volume(size=1, specs={'vmware:clone_type': 'linked'})
        self.driver.create_cloned_volume(clone, source)
        self.track(clone)
        temp = 'clone-%s' % clone.id
        src_state = self.state(source.id)
        self.assertEqual([temp], src_state.snapshot_names)
        self.assertEqual(temp,
                         src_state.extra[specs.KEY_CLONE_PREFIX + clone.id])
        self.assertEqual(src_state.disk.backing.fileName,
                         self.state(clone.id).disk.backing.parent.fileName)
        self.driver.delete_volume(clone)
        src_state = self.state(source.id)
        self.assertEqual([], src_state.snapshot_names)
        self.assertNotIn(specs.KEY_CLONE_PREFIX + clone.id, src_state.extra)

    def test_full_clone_of_a_source_with_linked_clones(self):
        # vCenter copies extraConfig into clones: the source's dependency
        # markers must not make the full clone undeletable.
        source = self.create(size=1)
        linked = lb.make_volume(size=1, specs={'vmware:clone_type': 'linked'})
        self.driver.create_cloned_volume(linked, source)
        self.track(linked)
        full = lb.make_volume(size=1)
        self.driver.create_cloned_volume(full, source)
        self.track(full)
        state = self.state(full.id)
        self.assertFalse(specs.clone_markers(state.extra))
        self.assertFalse(state.extra.get(specs.KEY_PARENT))
        self.driver.delete_volume(full)
        self.assertGone(full.id)
        # The linked clone's own backing carries no marker of itself.
        self.assertFalse(specs.clone_markers(self.state(linked.id).extra))

    def test_stale_marker_does_not_block_delete(self):
        source = self.create(size=1)
        ghost = lb.base.new_id()
        self.driver.ops.set_extra_config(
            self.find(source.id),
            {specs.KEY_CLONE_PREFIX + ghost: 'snapshot-x'}, 'test')
        self.driver.delete_volume(source)
        self.assertGone(source.id)

    def test_linked_clone_of_attached_volume_refused(self):
        source = self.create(size=1)
        busy = types.SimpleNamespace(**dict(vars(source), status='in-use'))
        clone = lb.make_volume(size=1, specs={'vmware:clone_type': 'linked'})
        self.assertRaises(exceptions.VolumeIsBusy,
                          self.driver.create_cloned_volume, clone, busy)
        self.assertGone(clone.id)
        self.assertEqual([], self.state(source.id).snapshot_names)


class FailureCleanupTest(lb.LifecycleTestCase):
    """A failure at each step of a multi-step operation leaves nothing."""

    def _fail(self, method_name, after_real=False, when=None):
        """Make ``driver.ops.<method_name>`` fail (optionally after it ran).

        :param when: predicate on the call's arguments selecting the call to
            fail; others pass through.
        """
        ops = self.driver.ops
        real = getattr(ops, method_name)

        def failing(*args, **kwargs):
            if when is not None and not when(*args, **kwargs):
                return real(*args, **kwargs)
            if after_real:
                real(*args, **kwargs)
            raise exceptions.VCenterFault(
                fault='InjectedFault', action=method_name, target='test',
                detail='injected by the test')

        self.useFixture(lb.base.fixtures.MockPatchObject(
            ops, method_name, side_effect=failing))

    def _fail_task(self, method):
        """The next ``method`` task does its work, then ends in error.

        (The simulator's task-fault rule ``error-after``.)
        """
        control = control_mod.SimulatorControl('127.0.0.1', self.vcsim.port)
        control.set_task_faults([{'method': method, 'outcome': 'error-after',
                                  'times': 1}])
        self.addCleanup(control.clear_task_faults)

    def test_create_failing_after_vm_exists_leaves_nothing(self):
        volume = lb.make_volume(size=1)
        self._fail_task('CreateVM_Task')
        counts = self.session.counts_snapshot()
        err = self.assertRaises(exceptions.VCenterFault,
                                self.driver.create_volume, volume)
        self.assertEqual('SystemError', err.fault)
        self.assertIn('injected by testbed', str(err))
        # The VM the task made before failing was destroyed.
        sent = self.session.counts_snapshot() - counts
        self.assertEqual((1, 1), (sent['CreateVM_Task'], sent['Destroy_Task']))
        self.assertGone(volume.id)

    def test_full_clone_failing_to_grow_leaves_nothing(self):
        source = self.create(size=1)
        snap = lb.make_snapshot(source)
        self.driver.create_snapshot(snap)
        self.addCleanup(self.driver.delete_snapshot, snap)
        before = self.state(source.id)
        clone = lb.make_volume(size=2)
        self._fail('reconfigure')
        counts = self.session.counts_snapshot()
        err = self.assertRaises(exceptions.VCenterFault,
                                self.driver.create_volume_from_snapshot,
                                clone, snap)
        self.assertEqual('InjectedFault', err.fault)
        # The clone was made, then destroyed by the clean-up.
        sent = self.session.counts_snapshot() - counts
        self.assertEqual((1, 1), (sent['CloneVM_Task'], sent['Destroy_Task']))
        self.assertGone(clone.id)
        after = self.state(source.id)
        self.assertEqual(before.snapshot_names, after.snapshot_names)
        self.assertEqual(before.extra, after.extra)
        self.assertEqual(before.disk.capacityInKB, after.disk.capacityInKB)

    def test_linked_clone_failing_leaves_no_marker(self):
        source = self.create(size=1)
        snap = lb.make_snapshot(source)
        self.driver.create_snapshot(snap)
        self.addCleanup(self.driver.delete_snapshot, snap)
        before = self.state(source.id)
        clone = lb.make_volume(size=1, specs={'vmware:clone_type': 'linked'})
        self._fail_task('CloneVM_Task')
        counts = self.session.counts_snapshot()
        err = self.assertRaises(exceptions.VCenterFault,
                                self.driver.create_volume_from_snapshot,
                                clone, snap)
        self.assertEqual('SystemError', err.fault)
        # The clone was made, then destroyed by the clean-up.
        sent = self.session.counts_snapshot() - counts
        self.assertEqual((1, 1), (sent['CloneVM_Task'], sent['Destroy_Task']))
        self.assertGone(clone.id)
        after = self.state(source.id)
        self.assertEqual(before.extra, after.extra)
        self.assertEqual(before.snapshot_names, after.snapshot_names)

    def test_linked_volume_clone_failing_removes_temporary_snapshot(self):
        source = self.create(size=1)
        before = self.state(source.id)
        clone = lb.make_volume(size=1, specs={'vmware:clone_type': 'linked'})
        # vCenter refuses the clone call itself.
        self._fail('start_clone')
        err = self.assertRaises(exceptions.VCenterFault,
                                self.driver.create_cloned_volume, clone,
                                source)
        self.assertEqual('InjectedFault', err.fault)
        self.assertGone(clone.id)
        after = self.state(source.id)
        self.assertEqual([], after.snapshot_names)
        self.assertEqual(before.extra, after.extra)

    def test_vcenter_fault_is_named(self):
        volume = self.create(size=1)
        snap = lb.make_snapshot(volume)
        self.driver.create_snapshot(snap)
        snap_ref = lb.vsphere_ops.find_snapshot(
            self.state(volume.id).props, snap.name)
        self.driver.delete_snapshot(snap)
        # The snapshot object is gone in vCenter: the fault is named.
        err = self.assertRaises(exceptions.VCenterFault,
                                self.driver.ops.revert_to_snapshot, snap_ref,
                                'snapshot %s' % snap.id)
        self.assertIn('ManagedObjectNotFound', str(err))
        self.assertIn(snap.id, str(err))
