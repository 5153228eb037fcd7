"""Deletes after a service of the cluster died mid-task, with no server.

The end-to-end proof is tests/functional/test_dead_service.py; here the
decisions: which running tasks a delete that found nothing waits for, and
what it answers when one is still running after the wait.
"""

import datetime
import types

from tests.unit import test_driver as td
from tests.unit import test_settle as ts
from vmware_backend import exceptions
from vmware_backend.volume import plain_objects
from vmware_backend.vsphere import ops as vsphere_ops


def running_for(seconds):
    """A task info still running, queued ``seconds`` ago."""
    queued = datetime.datetime.now(datetime.timezone.utc) - \
        datetime.timedelta(seconds=seconds)
    return types.SimpleNamespace(state='running', queueTime=queued)


class DeleteVolumeTest(td.DriverTestBase):

    def setUp(self):
        super().setUp()
        self.vol = plain_objects.volume()
        self.task = td.FakeTask(state='running')

    def test_create_task_of_another_service_is_waited_for(self):
        self.ops.recent_tasks.return_value = [
            (self.task, ts.info('running', entity=self.folder))]

        def await_task(task, timeout):
            self.assertIs(self.task, task)
            self.assertEqual(self.driver.options['vcenter_task_timeout'],
                             timeout)
            self.add_backing(self.vol)    # the dead service's create ends
            return ts.info('success')

        self.ops.await_task.side_effect = await_task
        self.driver.delete_volume(self.vol)
        self.assertEqual([], self.vc.find_all(self.vol.id))
        self.ops.destroy.assert_called_once()

    def test_clone_task_on_any_source_is_waited_for(self):
        source = vsphere_ops.moref('VirtualMachine', 'vm-source')
        self.ops.recent_tasks.return_value = [
            (self.task, ts.info('running', entity=source,
                                kind='VirtualMachine.clone'))]
        self.ops.await_task.side_effect = lambda task, timeout: ts.info(
            'success')
        self.driver.delete_volume(self.vol)
        self.ops.await_task.assert_called_once()

    def test_other_kinds_and_ended_tasks_are_not_waited_for(self):
        self.ops.recent_tasks.return_value = [
            (td.FakeTask(), ts.info('running', entity=self.folder,
                                    kind='Folder.createFolder')),
            (td.FakeTask(), ts.info('success', entity=self.folder)),
            (td.FakeTask(), ts.info('running', entity=self.folder,
                                    kind='VirtualMachine.createSnapshot'))]
        self.driver.delete_volume(self.vol)
        self.ops.await_task.assert_not_called()
        self.ops.destroy.assert_not_called()

    def test_task_still_running_after_the_wait_keeps_the_volume_busy(self):
        self.ops.recent_tasks.return_value = [
            (self.task, ts.info('running', entity=self.folder))]
        self.ops.await_task.side_effect = lambda task, timeout: \
            running_for(1)
        err = self.assertRaises(exceptions.VolumeIsBusy,
                                self.driver.delete_volume, self.vol)
        self.assertIn(self.task.value, str(err))
        self.assertIn('may make its backing', str(err))
        self.ops.cancel_task.assert_not_called()

    def test_found_backing_reads_no_task_list(self):
        self.add_backing(self.vol)
        self.driver.delete_volume(self.vol)
        self.ops.recent_tasks.assert_not_called()


class DeleteSnapshotTest(td.DriverTestBase):

    def setUp(self):
        super().setUp()
        self.vol = plain_objects.volume()
        self.snap = plain_objects.snapshot(self.vol)
        self.ref = self.add_backing(self.vol)
        self.task = td.FakeTask(state='running')

    def test_snapshot_task_on_the_backing_is_waited_for(self):
        self.ops.recent_tasks.return_value = [
            (self.task, ts.info('running', entity=self.ref,
                                kind='VirtualMachine.createSnapshot'))]

        def await_task(task, timeout):
            # The dead service's snapshot task ends.
            self.vc.vms[vsphere_ops.moref_value(self.ref)]['snapshot'] = \
                self.make('VirtualMachineSnapshotInfo', rootSnapshotList=[
                    self.snapshot_tree(self.snap.name)])
            return ts.info('success')

        self.ops.await_task.side_effect = await_task
        self.driver.delete_snapshot(self.snap)
        self.ops.remove_snapshot.assert_called_once()

    def test_snapshot_task_on_another_vm_is_not_waited_for(self):
        other = vsphere_ops.moref('VirtualMachine', 'vm-other')
        self.ops.recent_tasks.return_value = [
            (self.task, ts.info('running', entity=other,
                                kind='VirtualMachine.createSnapshot'))]
        self.driver.delete_snapshot(self.snap)
        self.ops.await_task.assert_not_called()
        self.ops.remove_snapshot.assert_not_called()

    def test_task_still_running_keeps_the_snapshot_busy(self):
        self.ops.recent_tasks.return_value = [
            (self.task, ts.info('running', entity=self.ref,
                                kind='VirtualMachine.createSnapshot'))]
        self.ops.await_task.side_effect = lambda task, timeout: \
            running_for(1)
        err = self.assertRaises(exceptions.SnapshotIsBusy,
                                self.driver.delete_snapshot, self.snap)
        self.assertIn(self.task.value, str(err))
        self.assertIn(self.vol.id, str(err))
