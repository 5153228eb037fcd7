"""Clones of volumes: messages, the temporary snapshot and storage policies.

Written for the mutants ``tox -e mutation`` left alive in
vmware_backend/volume/clones.py; every expected value is written out.
"""

import types
from unittest import mock

import fixtures

from tests.unit import test_driver
from vmware_backend import exceptions
from vmware_backend.volume import plain_objects
from vmware_backend.vsphere import inventory
from vmware_backend.vsphere import storage_policies

R = inventory.MoRef


def lost():
    return exceptions.VCenterConnectionError(url='https://vc/sdk',
                                             reason='connection reset')


class ClonedVolumeExactTest(test_driver.CloneTestBase):

    def test_smaller_than_the_source_is_refused(self):
        vol = self.volume(size=1)
        err = self.assertRaises(exceptions.InvalidVolume,
                                self.driver.create_cloned_volume, vol,
                                self.src)
        self.assertEqual(
            'Invalid volume %s: size 1 GiB is smaller than source volume %s'
            % (vol.id, self.src.id), str(err))
        self.assertNoChange()

    def test_linked_clone_of_an_in_use_source_is_refused(self):
        self.src.status = 'in-use'
        vol = self.volume()
        err = self.assertRaises(exceptions.VolumeIsBusy,
                                self.driver.create_cloned_volume, vol,
                                self.src)
        self.assertEqual(
            'Volume %s is busy: a linked clone needs a snapshot of it, and '
            'it is attached' % self.src.id, str(err))
        self.assertNoChange()

    def test_temporary_snapshot_call(self):
        vol = self.volume()
        self.driver.create_cloned_volume(vol, self.src)
        self.ops.start_create_snapshot.assert_called_once_with(
            self.src_ref, 'clone-%s' % vol.id,
            'Kept for linked clone %s' % vol.id, 'volume %s' % self.src.id)

    def test_temporary_snapshot_task_is_awaited_by_its_name(self):
        vol = self.volume()
        self.driver.create_cloned_volume(vol, self.src)
        self.ops.wait_for_task.assert_any_call(
            mock.ANY, 'volume %s' % self.src.id, 'CreateSnapshot_Task')

    def test_failed_linked_clone_releases_the_source_exactly(self):
        vol = self.volume()
        self.ops.clone.side_effect = test_driver.failure('CloneVM_Task')
        self.assertRaises(exceptions.VCenterFault,
                          self.driver.create_cloned_volume, vol, self.src)
        self.ops.remove_snapshot.assert_called_once_with(
            self.temp_snap,
            'snapshot clone-%s of volume %s' % (vol.id, self.src.id))
        self.ops.set_extra_config.assert_called_with(
            self.src_ref, test_driver.cleared(vol.id),
            'volume %s' % self.src.id)

    def test_failed_release_is_left_to_the_delete_of_the_clone(self):
        vol = self.volume()
        self.ops.clone.side_effect = test_driver.failure('CloneVM_Task')
        self.ops.remove_snapshot.side_effect = test_driver.failure(
            'RemoveSnapshot_Task')
        self.assertRaises(exceptions.VCenterFault,
                          self.driver.create_cloned_volume, vol, self.src)
        self.assertEqual({vol.id: '%s:clone-%s' % (self.src.id, vol.id)},
                         self.driver._parents)

    def test_clone_left_by_a_failed_task_keeps_the_source_marked(self):
        vol = self.volume()
        made = []

        def clone(vm, folder, name, spec, target):
            made.append(self.add_backing(vol))
            raise test_driver.failure('CloneVM_Task')

        self.ops.clone.side_effect = clone
        self.ops.destroy.side_effect = test_driver.failure('Destroy_Task')
        self.assertRaises(exceptions.VCenterFault,
                          self.driver.create_cloned_volume, vol, self.src)
        # The clone's backing is still there: its snapshot and the marker
        # on the source stay.
        self.ops.properties.assert_any_call(
            made[0], ('name', 'config.instanceUuid', 'config.extraConfig'))
        self.ops.remove_snapshot.assert_not_called()
        self.ops.set_extra_config.assert_called_once_with(
            self.src_ref, test_driver.marked(vol.id, 'clone-%s' % vol.id),
            'volume %s' % self.src.id)

    def test_snapshot_of_a_failed_snapshot_task_is_removed(self):
        vol = self.volume()
        name = 'clone-%s' % vol.id

        def create(*args):
            # vCenter made the snapshot, then the task ended in error.
            self.src_props['snapshot'] = self.make(
                'VirtualMachineSnapshotInfo', rootSnapshotList=[
                    self.snapshot_tree(name)])
            raise test_driver.failure('CreateSnapshot_Task')

        self.ops.create_snapshot.side_effect = create
        self.assertRaises(exceptions.VCenterFault,
                          self.driver.create_cloned_volume, vol, self.src)
        self.ops.remove_snapshot.assert_called_once_with(
            self.snaps[name],
            'snapshot clone-%s of volume %s' % (vol.id, self.src.id))
        self.ops.clone.assert_not_called()

    def test_snapshot_of_an_earlier_attempt_is_reused(self):
        vol = self.volume()
        name = 'clone-%s' % vol.id
        self.src_props['snapshot'] = self.make(
            'VirtualMachineSnapshotInfo', rootSnapshotList=[
                self.snapshot_tree(name)])
        self.driver.create_cloned_volume(vol, self.src)
        self.ops.start_create_snapshot.assert_not_called()
        self.assertIs(self.snaps[name], self.spec().snapshot)
        self.assertLinkedClone(vol, name)

    def test_snapshot_made_despite_a_lost_answer_is_used(self):
        vol = self.volume()
        name = 'clone-%s' % vol.id

        def start(*args):
            # vCenter takes the snapshot; its answer is lost.
            self.src_props['snapshot'] = self.make(
                'VirtualMachineSnapshotInfo', rootSnapshotList=[
                    self.snapshot_tree(name)])
            raise lost()

        self.ops.start_create_snapshot.side_effect = start
        self.driver.create_cloned_volume(vol, self.src)
        self.assertIs(self.snaps[name], self.spec().snapshot)
        self.assertLinkedClone(vol, name)
        self.ops.properties.assert_any_call(self.src_ref, ('snapshot',))

    def test_lost_answer_and_no_snapshot_is_the_error(self):
        vol = self.volume()
        self.ops.start_create_snapshot.side_effect = lost()
        err = self.assertRaises(exceptions.VCenterConnectionError,
                                self.driver.create_cloned_volume, vol,
                                self.src)
        self.assertIn('connection reset', str(err))
        self.ops.clone.assert_not_called()


class ClonePolicyTest(test_driver.CloneTestBase):
    """A volume type with storage policy 'gold' (profile id p-gold)."""

    def setUp(self):
        super().setUp()
        self.find = self.useFixture(fixtures.MockPatch(
            'vmware_backend.vsphere.storage_policies.find_policy',
            return_value=(storage_policies.Policy('gold', 'p-gold'),
                          ['gold']))).mock
        self.matching = self.useFixture(fixtures.MockPatch(
            'vmware_backend.vsphere.storage_policies.matching_datastores'
        )).mock
        self.placement.usable_pools.return_value = [
            test_driver.pool('datastore-1'), test_driver.pool('datastore-9')]

    def volume(self, size=2, clone_type='linked', host=None):
        return plain_objects.volume(
            size=size, host=host, specs={
                'vmware:clone_type': clone_type,
                'vmware:storage_profile': 'gold'})

    def assertPolicy(self, spec):
        self.assertEqual(['p-gold'],
                         [p.profileId for p in spec.location.profile])
        self.assertEqual([['p-gold']], [[p.profileId for p in d.profile]
                                        for d in spec.location.disk])

    def test_linked_clone_on_a_compliant_source_datastore(self):
        self.matching.return_value = [R('Datastore', 'datastore-1')]
        vol = self.volume()
        self.driver.create_cloned_volume(vol, self.src)
        self.assertLinkedClone(vol, 'clone-%s' % vol.id)
        self.assertPolicy(self.spec())
        self.matching.assert_called_once_with(
            self.session, 'p-gold',
            [R('Datastore', 'datastore-1'), R('Datastore', 'datastore-9')])

    def test_full_clone_when_the_source_datastore_does_not_comply(self):
        self.matching.return_value = [R('Datastore', 'datastore-9')]
        vol = self.volume(host='c@b#dc-2:ds-new')
        self.driver.create_cloned_volume(vol, self.src)
        self.ops.start_create_snapshot.assert_not_called()
        self.placement.choose.assert_called_once_with(
            2, 'thin', pool_name='dc-2:ds-new', target='volume %s' % vol.id,
            allowed=([R('Datastore', 'datastore-9')],
                     'not compliant with storage policy gold'))
        spec = self.spec()
        self.assertEqual('moveAllDiskBackingsAndDisallowSharing',
                         spec.location.diskMoveType)
        self.assertPolicy(spec)

    def test_full_clone_from_a_snapshot_gets_the_policy(self):
        self.matching.return_value = [R('Datastore', 'datastore-9')]
        vol = self.volume(clone_type='full', host='c@b#dc-2:ds-new')
        self.driver.create_volume_from_snapshot(vol, self.src_snap)
        self.assertPolicy(self.spec())
        self.find.assert_called_once_with(self.session, 'gold')

    def test_linked_clone_from_a_snapshot_on_a_compliant_datastore(self):
        self.matching.return_value = [R('Datastore', 'datastore-1')]
        vol = self.volume()
        self.driver.create_volume_from_snapshot(vol, self.src_snap)
        self.assertLinkedClone(vol, self.src_snap.name)
        self.assertPolicy(self.spec())

    def test_linked_type_from_a_snapshot_on_a_non_compliant_datastore(self):
        self.matching.return_value = [R('Datastore', 'datastore-9')]
        vol = self.volume(host='c@b#dc-2:ds-new')
        self.driver.create_volume_from_snapshot(vol, self.src_snap)
        spec = self.spec()
        self.assertEqual('moveAllDiskBackingsAndDisallowSharing',
                         spec.location.diskMoveType)
        self.assertRef('Datastore', 'datastore-9', spec.location.datastore)
        self.assertPolicy(spec)
        self.ops.set_extra_config.assert_not_called()

    def test_unknown_policy_makes_nothing(self):
        self.find.return_value = (None, ['gold', 'silver'])
        vol = self.volume()
        self.assertRaises(exceptions.InvalidExtraSpec,
                          self.driver.create_cloned_volume, vol, self.src)
        self.assertNoChange()


class CloneIoEditTest(test_driver.CloneTestBase):

    def test_clone_of_a_snapshot_always_sets_the_disk_allocation(self):
        vol = self.volume(clone_type='full', host='c@b#dc-2:ds-new')
        self.driver.create_volume_from_snapshot(vol, self.src_snap)
        [edit] = self.spec().config.deviceChange
        self.assertEqual('edit', edit.operation)
        self.assertEqual(2000, edit.device.key)

    def test_linked_clone_of_a_volume_sets_the_disk_allocation(self):
        # Read from the temporary snapshot: the edit is always sent.
        vol = self.volume()
        self.driver.create_cloned_volume(vol, self.src)
        [edit] = self.spec().config.deviceChange
        self.assertEqual('edit', edit.operation)
        self.assertEqual(2000, edit.device.key)
        self.ops.wait_for_task.assert_any_call(
            mock.ANY, 'volume %s' % vol.id, 'CloneVM_Task')

    def test_full_clone_of_a_volume_with_the_same_allocation_edits_none(self):
        vol = self.volume(clone_type='full', host='c@b#dc-2:ds-new')
        self.driver.create_cloned_volume(vol, self.src)
        self.assertFalse(getattr(self.spec().config, 'deviceChange', None))
        self.ops.wait_for_task.assert_any_call(
            mock.ANY, 'volume %s' % vol.id, 'CloneVM_Task')


class LiveCloneReadTest(test_driver.DriverTestBase):

    def test_clone_of_a_marker_is_read_for_its_parent_record_only(self):
        src = plain_objects.volume(size=2)
        clone = plain_objects.volume(size=2)
        self.add_backing(src, snapshots=['snapshot-1'], extra={
            'vmware_backend.clone.%s' % clone.id: 'snapshot-1'})
        clone_ref = self.add_backing(clone, extra={
            'vmware_backend.parent': '%s:snapshot-1' % src.id})
        err = self.assertRaises(exceptions.VolumeIsBusy,
                                self.driver.delete_volume, src)
        self.assertIn(clone.id, str(err))
        self.ops.properties.assert_any_call(
            clone_ref, ('config.extraConfig', 'config.instanceUuid'))
        self.assertNoChange()

    def test_stale_marker_goes_with_its_temporary_snapshot(self):
        # The clone never came (no backing, no task, no time recorded).
        src = plain_objects.volume(size=2)
        gone = test_driver.GONE_ID
        src_ref = self.add_backing(src, snapshots=['clone-%s' % gone], extra={
            'vmware_backend.clone.%s' % gone: 'clone-%s' % gone})
        self.driver.delete_volume(src)
        test_driver.assert_ref_call(
            self, self.ops.remove_snapshot, self.snaps['clone-%s' % gone],
            'snapshot clone-%s of volume %s' % (gone, src.id))
        self.ops.set_extra_config.assert_called_once_with(
            src_ref, test_driver.cleared(gone), 'volume %s' % src.id)
        self.assertEqual(['remove_snapshot', 'set_extra_config', 'destroy'],
                         [n for n in self.op_names() if n in (
                             'remove_snapshot', 'set_extra_config',
                             'destroy')])

    def test_orphan_temporary_snapshot_after_another_is_removed(self):
        src = plain_objects.volume(size=2)
        gone = test_driver.GONE_ID
        self.add_backing(src, snapshots=['snapshot-1', 'clone-%s' % gone])
        self.driver.delete_volume(src)
        test_driver.assert_ref_call(
            self, self.ops.remove_snapshot, self.snaps['clone-%s' % gone],
            'snapshot clone-%s of volume %s' % (gone, src.id))

    def test_temporary_snapshot_of_an_existing_clone_is_kept(self):
        src = plain_objects.volume(size=2)
        clone = plain_objects.volume(size=2)
        self.add_backing(src, snapshots=['clone-%s' % clone.id])
        clone_ref = self.add_backing(clone)
        self.driver.delete_volume(src)
        self.ops.remove_snapshot.assert_not_called()
        self.ops.properties.assert_any_call(
            clone_ref, ('name', 'config.instanceUuid', 'config.extraConfig'))

    def test_deleted_linked_clone_releases_its_snapshot_exactly(self):
        src = plain_objects.volume(size=2)
        clone = plain_objects.volume(size=2)
        name = 'clone-%s' % clone.id
        self.add_backing(src, snapshots=[name], extra={
            'vmware_backend.clone.%s' % clone.id: name})
        self.add_backing(clone, extra={
            'vmware_backend.parent': '%s:%s' % (src.id, name)})
        self.driver.delete_volume(clone)
        self.ops.remove_snapshot.assert_called_once_with(
            self.snaps[name], 'snapshot %s of volume %s' % (name, src.id))


class CloneInProgressTest(test_driver.DriverTestBase):
    """A marker without its clone, no time recorded: what keeps it."""

    def setUp(self):
        super().setUp()
        self.src = plain_objects.volume(size=2)
        self.clone = plain_objects.volume(size=2)
        self.src_ref = self.add_backing(self.src, snapshots=['snapshot-1'],
                                        extra={'vmware_backend.clone.%s'
                                               % self.clone.id: 'snapshot-1'})

    def assertKept(self):
        err = self.assertRaises(exceptions.VolumeIsBusy,
                                self.driver.delete_volume, self.src)
        self.assertIn(self.clone.id, str(err))
        self.assertNoChange()

    def test_clone_this_process_is_making(self):
        self.driver._cloning.add(self.clone.id)
        self.assertKept()

    def test_clone_task_running_on_the_source(self):
        self.ops.recent_tasks.return_value = [
            (test_driver.FakeTask(state='running'), types.SimpleNamespace(
                state='running', entity=self.src_ref,
                descriptionId='VirtualMachine.clone', result=None))]
        self.assertKept()

    def test_snapshot_task_queued_on_the_source(self):
        self.ops.recent_tasks.return_value = [
            (test_driver.FakeTask(state='queued'), types.SimpleNamespace(
                state='queued', entity=self.src_ref,
                descriptionId='VirtualMachine.createSnapshot', result=None))]
        self.assertKept()

    def test_ended_clone_task_does_not_keep_it(self):
        self.ops.recent_tasks.return_value = [
            (test_driver.FakeTask(), types.SimpleNamespace(
                state='success', entity=self.src_ref,
                descriptionId='VirtualMachine.clone', result=None))]
        self.driver.delete_volume(self.src)
        self.ops.set_extra_config.assert_called_once_with(
            self.src_ref, test_driver.cleared(self.clone.id),
            'volume %s' % self.src.id)
