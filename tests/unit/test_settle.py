"""Decisions after a task whose outcome is unknown, with no server.

The fake vCenter of :mod:`tests.unit.test_driver`; here the halves of a task
call (``start_*`` and the waits) are driven directly, to model a lost
answer, a task still running after the deadline, or a task found in
``recentTask``.
"""

import datetime
import types
from unittest import mock

from tests.unit import test_driver as td
from vmware_backend import exceptions
from vmware_backend.volume import plain_objects
from vmware_backend.vsphere import ops as vsphere_ops
from vmware_backend.vsphere import specs


def lost():
    return exceptions.VCenterConnectionError(url='https://vc/sdk',
                                             reason='connection reset')


def info(state, entity=None, kind='Folder.createVm', result=None):
    return types.SimpleNamespace(state=state, entity=entity,
                                 descriptionId=kind, result=result)


class LostAnswerTest(td.DriverTestBase):

    def test_happy_create_reads_no_task_list(self):
        self.ops.create_backing.return_value = vsphere_ops.moref(
            'VirtualMachine', 'vm-new')
        self.driver.create_volume(plain_objects.volume())
        self.ops.recent_tasks.assert_not_called()
        self.ops.await_task.assert_not_called()
        self.ops.task_info.assert_not_called()

    def test_refused_call_is_not_settled(self):
        self.ops.start_create_backing.side_effect = td.failure(
            'CreateVM_Task')
        self.assertRaises(exceptions.VCenterFault,
                          self.driver.create_volume, plain_objects.volume())
        self.ops.recent_tasks.assert_not_called()
        self.ops.destroy.assert_not_called()

    def test_lost_answer_waits_for_the_running_task_of_the_folder(self):
        vol = plain_objects.volume()
        mine = td.FakeTask(state='running')
        theirs = td.FakeTask(state='running')
        self.ops.start_create_backing.side_effect = lost()
        self.ops.recent_tasks.return_value = [
            (mine, info('running', entity=self.folder)),
            (theirs, info('running', entity=vsphere_ops.moref(
                'Folder', 'group-other'))),
            (td.FakeTask(), info('running', entity=self.folder,
                                 kind='Folder.createFolder'))]

        def await_task(task, timeout):
            self.assertIs(mine, task)
            self.add_backing(vol)     # vCenter finishes the task
            return info('success')

        self.ops.await_task.side_effect = await_task
        self.assertIsNone(self.driver.create_volume(vol))
        self.ops.await_task.assert_called_once()
        self.ops.destroy.assert_not_called()
        self.assertIn(vol.id, self.driver._hints)

    def test_lost_answer_and_nothing_made_is_the_error(self):
        vol = plain_objects.volume()
        self.ops.start_create_backing.side_effect = lost()
        self.assertRaises(exceptions.VCenterConnectionError,
                          self.driver.create_volume, vol)
        self.ops.destroy.assert_not_called()

    def test_backing_appearing_that_does_not_fit_is_removed(self):
        vol = plain_objects.volume(size=2)

        def start(*args):
            self.add_backing(vol, size_gb=1)
            raise lost()

        self.ops.start_create_backing.side_effect = start
        self.assertRaises(exceptions.VCenterConnectionError,
                          self.driver.create_volume, vol)
        self.ops.destroy.assert_called_once()
        self.assertEqual([], self.vc.find_all(vol.id))


class UnsettledTaskTest(td.DriverTestBase):

    def setUp(self):
        super().setUp()
        self.vol = plain_objects.volume()
        self.task = td.FakeTask(state='running')
        self.task.error = exceptions.TaskTimeout(
            task='task-1', name='CreateVM_Task', target='x', timeout=1,
            state='running')
        self.ops.start_create_backing.side_effect = [self.task]
        self.assertRaises(exceptions.TaskTimeout, self.driver.create_volume,
                          self.vol)

    def test_timeout_is_not_cleaned_up_and_is_remembered(self):
        self.ops.destroy.assert_not_called()
        # Read once after the deadline, never waited for again.
        self.ops.await_task.assert_called_once_with(self.task, 0)
        self.assertTrue(self.driver._has_unsettled(self.vol.id))

    def test_delete_waits_for_the_task_then_removes_its_backing(self):
        def await_task(task, timeout):
            self.add_backing(self.vol)
            return info('success')

        self.ops.await_task.side_effect = await_task
        self.driver.delete_volume(self.vol)
        self.assertEqual([], self.vc.find_all(self.vol.id))
        self.assertFalse(self.driver._has_unsettled(self.vol.id))

    def test_delete_while_the_task_still_runs_is_refused(self):
        err = self.assertRaises(exceptions.VolumeIsBusy,
                                self.driver.delete_volume, self.vol)
        self.assertIn(self.task.value, str(err))
        self.assertTrue(self.driver._has_unsettled(self.vol.id))

    def test_rerun_uses_the_backing_of_the_late_task(self):
        def await_task(task, timeout):
            self.add_backing(self.vol)
            return info('success')

        self.ops.await_task.side_effect = await_task
        self.driver.create_volume(self.vol)
        self.assertEqual(1, len(self.vc.find_all(self.vol.id)))
        self.assertEqual(1, self.ops.start_create_backing.call_count)


class DuplicateTest(td.DriverTestBase):

    def test_look_up_keeps_the_oldest_marked_backing(self):
        vol = plain_objects.volume()
        newer = self.add_backing(vol, extra={specs.KEY_CREATED: '200'})
        older = self.add_backing(vol, extra={specs.KEY_CREATED: '100'})
        foreign = self.add_backing(vol, managed=False)
        ref, _props = self.driver._backing(vol.id)
        self.assertIs(older, ref)
        self.ops.destroy.assert_called_once_with(newer, mock.ANY)
        self.assertIn(vsphere_ops.moref_value(foreign), self.vc.vms)

    def test_duplicate_with_snapshots_is_left(self):
        vol = plain_objects.volume()
        self.add_backing(vol, extra={specs.KEY_CREATED: '100'})
        self.add_backing(vol, extra={specs.KEY_CREATED: '200'},
                         snapshots=['s'])
        self.driver._backing(vol.id)
        self.ops.destroy.assert_not_called()

    def test_delete_removes_every_marked_backing(self):
        vol = plain_objects.volume()
        self.add_backing(vol, extra={specs.KEY_CREATED: '100'})
        self.add_backing(vol, extra={specs.KEY_CREATED: '200'},
                         snapshots=['s'])
        foreign = self.add_backing(vol, managed=False)
        self.driver.delete_volume(vol)
        self.assertEqual([foreign], self.vc.find_all(vol.id))


class OverdueTaskTest(td.DriverTestBase):

    def setUp(self):
        super().setUp()
        self.vol = plain_objects.volume()
        self.task = td.FakeTask(state='running')
        self.driver._note_unsettled(self.vol.id, [self.task])
        old = datetime.datetime.now(datetime.timezone.utc) - \
            datetime.timedelta(seconds=self.driver.options[
                'vcenter_task_timeout'] + 1)
        self.running = types.SimpleNamespace(state='running', queueTime=old)

    def test_task_past_its_deadline_is_cancelled(self):
        # The waiter's own cancel was lost: the next delete cancels it.
        self.ops.await_task.side_effect = [self.running, info('error')]
        self.driver.delete_volume(self.vol)
        self.ops.cancel_task.assert_called_once_with(self.task)
        self.assertFalse(self.driver._has_unsettled(self.vol.id))

    def test_task_vcenter_will_not_cancel_keeps_the_volume_busy(self):
        self.ops.await_task.side_effect = [self.running]
        self.ops.cancel_task.side_effect = td.failure('CancelTask')
        self.assertRaises(exceptions.VolumeIsBusy, self.driver.delete_volume,
                          self.vol)
        self.assertTrue(self.driver._has_unsettled(self.vol.id))

    def test_task_within_its_deadline_is_not_cancelled(self):
        self.running.queueTime = datetime.datetime.now(
            datetime.timezone.utc)
        self.ops.await_task.side_effect = [self.running]
        self.assertRaises(exceptions.VolumeIsBusy, self.driver.delete_volume,
                          self.vol)
        self.ops.cancel_task.assert_not_called()


class ReleaseOrderTest(td.DriverTestBase):

    def test_temporary_snapshot_goes_before_the_marker(self):
        src, clone = plain_objects.volume(), plain_objects.volume()
        snap = 'clone-%s' % clone.id
        self.add_backing(src, snapshots=[snap],
                         extra=specs.marker_entries(clone.id, snap, now=1))
        self.add_backing(clone, extra={specs.KEY_PARENT: '%s:%s'
                                       % (src.id, snap)})
        self.driver.delete_volume(clone)
        self.assertEqual(['remove_snapshot', 'set_extra_config'],
                         [n for n in self.op_names()
                          if n in ('remove_snapshot', 'set_extra_config')])

    def test_orphan_temporary_snapshot_is_removed_with_the_source(self):
        src = plain_objects.volume()
        ghost = plain_objects.volume()
        self.add_backing(src, snapshots=['clone-%s' % ghost.id])
        self.driver.delete_volume(src)
        td.assert_ref_call(self, self.ops.remove_snapshot,
                           self.snaps['clone-%s' % ghost.id], mock.ANY)

    def test_temporary_snapshot_of_a_living_clone_is_kept(self):
        src, clone = plain_objects.volume(), plain_objects.volume()
        snap = 'clone-%s' % clone.id
        self.add_backing(src, snapshots=[snap])
        self.add_backing(clone)
        self.driver.delete_volume(src)
        self.ops.remove_snapshot.assert_not_called()


class FailedCloneReleaseTest(td.DriverTestBase):

    def test_delete_of_the_failed_clone_releases_the_source(self):
        src = plain_objects.volume(size=2)
        snap = plain_objects.snapshot(src)
        src_ref = self.add_backing(src, snapshots=[snap.name])
        clone = plain_objects.volume(
            size=2, specs={'vmware:clone_type': 'linked'})
        self.ops.clone.side_effect = td.failure('CloneVM_Task')
        # The marker is set, then its removal fails too.
        self.ops.set_extra_config.side_effect = [None, td.failure('Reconfig')]
        self.assertRaises(exceptions.VCenterFault,
                          self.driver.create_volume_from_snapshot, clone,
                          snap)
        self.ops.set_extra_config.side_effect = None
        # Cinder deletes the failed volume (no backing, no source_volid).
        self.driver.delete_volume(clone)
        self.ops.set_extra_config.assert_called_with(
            src_ref, specs.clear_marker_entries(clone.id), mock.ANY)
        # The Cinder snapshot the clone would have read from stays.
        self.ops.remove_snapshot.assert_not_called()


class CopiedMarkerTest(td.DriverTestBase):

    def test_young_copied_marker_without_its_snapshot_does_not_block(self):
        # A clone made from a snapshot whose config carried a marker.
        vol, ghost = plain_objects.volume(), plain_objects.volume()
        self.add_backing(vol, extra=specs.marker_entries(
            ghost.id, 'snapshot-of-another-vm', now=td.NOW - 5))
        self.driver.delete_volume(vol)
        self.ops.destroy.assert_called_once()

    def test_young_marker_naming_its_snapshot_blocks(self):
        vol, clone = plain_objects.volume(), plain_objects.volume()
        self.add_backing(vol, snapshots=['snapshot-1'],
                         extra=specs.marker_entries(clone.id, 'snapshot-1',
                                                    now=td.NOW - 5))
        self.assertRaises(exceptions.VolumeIsBusy, self.driver.delete_volume,
                          vol)
