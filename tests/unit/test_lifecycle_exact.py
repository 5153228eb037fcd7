"""Volume create and delete: task names, log lines and refusals written out.

Complements tests.unit.test_driver where the mutation run
(``tox -e mutation``) showed a changed task name or message going
unnoticed. The log line of a create is what an operator greps for.
"""

from unittest import mock

from tests.unit import test_driver
from vmware_backend import exceptions
from vmware_backend.volume import plain_objects


class LifecycleExactTest(test_driver.DriverTestBase):

    def test_create_waits_for_createvm_and_logs_where(self):
        vol = plain_objects.volume(size=2, host='c@b#dc-2:ds-new')
        self.driver.create_volume(vol)
        self.ops.wait_for_task.assert_called_once_with(
            mock.ANY, 'volume %s' % vol.id, 'CreateVM_Task')
        ref = self.driver._hints[vol.id]
        self.assertIn(
            'Created backing %s of volume %s (2 GiB, thin, lsiLogic) on '
            'datastore ds-new.' % (ref.value, vol.id), self.log.output)

    def test_delete_of_an_attached_volume(self):
        vol = plain_objects.volume(size=2, status='in-use')
        self.add_backing(vol)
        err = self.assertRaises(exceptions.VolumeIsBusy,
                                self.driver.delete_volume, vol)
        self.assertEqual('Volume %s is busy: it is attached' % vol.id,
                         str(err))
        self.assertNoChange()

    def test_delete_never_destroys_a_vm_that_is_not_ours(self):
        # Two VMs carry the volume's id; only one is marked as its backing.
        vol = plain_objects.volume(size=2)
        ours = self.add_backing(vol)
        self.add_backing(vol, managed=False)
        self.driver.delete_volume(vol)
        self.ops.destroy.assert_called_once_with(ours, mock.ANY)

    def test_delete_destroys_each_of_two_backings_once(self):
        # The younger one has a snapshot: kept by the look-up, then
        # deleted with the volume.
        vol = plain_objects.volume(size=2)
        keeper = self.add_backing(vol, extra={
            'vmware_backend.created': '100'})
        younger = self.add_backing(vol, snapshots=['snapshot-x'], extra={
            'vmware_backend.created': '200'})
        self.driver.delete_volume(vol)
        self.assertEqual([mock.call(keeper, mock.ANY),
                          mock.call(younger, mock.ANY)],
                         self.ops.destroy.call_args_list)
        self.ops.properties.assert_any_call(younger, ('name',))

    def test_a_duplicate_destroyed_by_the_look_up_is_not_destroyed_again(self):
        vol = plain_objects.volume(size=2)
        keeper = self.add_backing(vol, extra={
            'vmware_backend.created': '100'})
        younger = self.add_backing(vol, extra={
            'vmware_backend.created': '200'})
        self.driver.delete_volume(vol)
        self.assertEqual([mock.call(younger, mock.ANY),
                          mock.call(keeper, mock.ANY)],
                         self.ops.destroy.call_args_list)

    def test_delete_read_by_linked_clones(self):
        first = plain_objects.volume(size=2)
        second = plain_objects.volume(size=2)
        vol = plain_objects.volume(size=2)
        self.add_backing(vol, snapshots=['snapshot-1'], extra={
            'vmware_backend.clone.%s' % first.id: 'snapshot-1',
            'vmware_backend.clone.%s' % second.id: 'snapshot-1'})
        for clone in (first, second):
            self.add_backing(clone, extra={
                'vmware_backend.parent': '%s:snapshot-1' % vol.id})
        err = self.assertRaises(exceptions.VolumeIsBusy,
                                self.driver.delete_volume, vol)
        self.assertEqual(
            'Volume %s is busy: linked clone(s) %s depend on its snapshots'
            % (vol.id, ', '.join(sorted([first.id, second.id]))), str(err))


class ExtendExactTest(test_driver.DriverTestBase):

    def setUp(self):
        super().setUp()
        self.vol = plain_objects.volume(size=2)

    def refused(self, exc, new_size):
        err = self.assertRaises(exc, self.driver.extend_volume, self.vol,
                                new_size)
        self.assertNoChange()
        return str(err)

    def test_shrink(self):
        self.add_backing(self.vol)
        self.assertEqual(
            'Invalid volume %s: new size 1 GiB is smaller than the current '
            '2.0 GiB; volumes cannot shrink' % self.vol.id,
            self.refused(exceptions.InvalidVolume, 1))

    def test_with_snapshots(self):
        self.add_backing(self.vol, snapshots=['snapshot-1'])
        self.assertEqual(
            'Invalid volume %s: it has snapshots; vSphere cannot extend a '
            'disk with snapshots, delete them first' % self.vol.id,
            self.refused(exceptions.InvalidVolume, 3))

    def test_linked_clone(self):
        self.add_backing(self.vol, parent_disk='[ds1] src/src.vmdk')
        self.assertEqual(
            'Invalid volume %s: it is a linked clone; vSphere cannot extend '
            'its child disk' % self.vol.id,
            self.refused(exceptions.InvalidVolume, 3))

    def test_attached(self):
        self.add_backing(self.vol)
        self.vol.status = 'in-use'
        self.assertEqual(
            'Volume %s is busy: it is attached; this driver does not extend '
            'attached volumes' % self.vol.id,
            self.refused(exceptions.VolumeIsBusy, 3))


class GoneCloneReleaseTest(test_driver.DriverTestBase):

    def test_retried_delete_of_a_gone_linked_clone_releases_its_source(self):
        # The clone's backing is gone (a lost answer to Destroy_Task);
        # Cinder still names its source: the temporary snapshot and the
        # marker on the source go.
        src = plain_objects.volume(size=2)
        clone = plain_objects.volume(size=2, source_volid=src.id)
        snap = 'clone-%s' % clone.id
        src_ref = self.add_backing(src, snapshots=[snap], extra={
            'vmware_backend.clone.%s' % clone.id: snap,
            'vmware_backend.clone_since.%s' % clone.id: '1'})
        self.driver.delete_volume(clone)
        self.ops.remove_snapshot.assert_called_once_with(self.snaps[snap],
                                                         mock.ANY)
        self.ops.set_extra_config.assert_called_once_with(
            src_ref, {'vmware_backend.clone.%s' % clone.id: '',
                      'vmware_backend.clone_since.%s' % clone.id: ''},
            mock.ANY)
        self.ops.destroy.assert_not_called()


class FailedDestroyTest(test_driver.DriverTestBase):
    """Destroy_Task ends in error: what vCenter shows afterwards decides."""

    def setUp(self):
        super().setUp()
        self.src = plain_objects.volume(size=2)
        self.clone = plain_objects.volume(size=2)
        self.snap = 'clone-%s' % self.clone.id
        self.src_ref = self.add_backing(self.src, snapshots=[self.snap],
                                        extra={
            'vmware_backend.clone.%s' % self.clone.id: self.snap,
            'vmware_backend.clone_since.%s' % self.clone.id: '1'})
        self.clone_ref = self.add_backing(self.clone, extra={
            'vmware_backend.parent': '%s:%s' % (self.src.id, self.snap)})

    def test_error_but_the_backing_is_gone_is_success(self):
        def destroy(vm, target):
            self.vc.remove(vm)
            raise test_driver.failure('Destroy_Task')

        self.ops.destroy.side_effect = destroy
        self.driver.delete_volume(self.clone)
        self.ops.wait_for_task.assert_called_once_with(
            mock.ANY, 'volume %s' % self.clone.id, 'Destroy_Task')
        self.assertEqual([], self.vc.find_all(self.clone.id))
        # The source is released as after a plain delete.
        self.ops.remove_snapshot.assert_called_once_with(
            self.snaps[self.snap], mock.ANY)

    def test_error_with_the_backing_left_fails_and_the_retry_releases(self):
        self.ops.destroy.side_effect = test_driver.failure('Destroy_Task')
        self.assertRaises(exceptions.VCenterFault,
                          self.driver.delete_volume, self.clone)
        self.ops.remove_snapshot.assert_not_called()
        # vCenter removes it later; the retried delete (Cinder's volume
        # has no source_volid here) still releases the source.
        self.vc.remove(self.clone_ref)
        self.ops.destroy.side_effect = None
        self.driver.delete_volume(self.clone)
        self.ops.remove_snapshot.assert_called_once_with(
            self.snaps[self.snap], mock.ANY)

    def test_failed_release_is_retried_by_the_next_delete(self):
        self.ops.set_extra_config.side_effect = [
            test_driver.failure('ReconfigVM_Task'), None]
        self.assertRaises(exceptions.VCenterFault,
                          self.driver.delete_volume, self.clone)
        self.assertEqual([], self.vc.find_all(self.clone.id))
        # Cinder's volume names no source; the driver kept it.
        self.driver.delete_volume(self.clone)
        cleared = {'vmware_backend.clone.%s' % self.clone.id: '',
                   'vmware_backend.clone_since.%s' % self.clone.id: ''}
        self.assertEqual([mock.call(self.src_ref, cleared, mock.ANY)] * 2,
                         self.ops.set_extra_config.call_args_list)
