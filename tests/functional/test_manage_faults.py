"""Adopting a VM (source-id) when a step fails or Cinder lost the answer.

Cinder answers a failed ``manage_existing`` with a volume in
``error_managing``; the user deletes that record (the driver's
``delete_volume`` with the status ``error_managing_deleting``) and asks
again, which makes a new volume id. Whatever vCenter did before the
failure, the VM must then be exactly as it was: its name, instanceUuid,
folder, and no mark of this backend. Read back over the test's own
session.
"""

from tests.functional import lifecycle_base as lb
from tests.functional import test_driver_faults as tdf
from tests.functional import test_manage as tm
from vmware_backend import exceptions
from vmware_backend.volume import manage as manage_mod
from vmware_backend.vsphere import ops as vsphere_ops


class AdoptFailureTest(tm.ManageTestBase):

    def assert_as_before(self, ref, uuid, name, parent):
        state = self.state(ref)
        self.assertEqual(name, state.props['name'])
        self.assertEqual(uuid, state.props['config.instanceUuid'])
        self.assertEqual(vsphere_ops.moref_value(parent),
                         vsphere_ops.moref_value(state.props['parent']))
        for key in manage_mod.MARK_KEYS:
            self.assertFalse(state.extra.get(key), key)
        self.assertEqual([tm.GIB_KB], [d.capacityInKB for d in state.disks])

    def failed_record_deleted(self, volume):
        volume.status = 'error_managing_deleting'
        self.driver.delete_volume(volume)

    def test_reconfigure_error_after_its_work_gives_the_vm_back(self):
        # The task renamed and marked the VM, then ended in error.
        ref, uuid, name = self.foreign_vm()
        parent = self.session.get_properties(ref, ['parent'])['parent']
        self.fail_task('ReconfigVM_Task', 'error-after')
        volume = lb.make_volume(1)
        self.assertRaises(exceptions.VMwareBackendException,
                          self.driver.manage_existing, volume,
                          {'source-id': uuid})
        self.assert_as_before(ref, uuid, name, parent)
        self.failed_record_deleted(volume)
        self.assert_as_before(ref, uuid, name, parent)
        # The user's second request (a new volume id) adopts it once.
        again = self.adopted(lb.make_volume(1))
        self.driver.manage_existing(again, {'source-id': uuid})
        state = self.state(again.id)
        self.assertEqual(vsphere_ops.moref_value(ref),
                         vsphere_ops.moref_value(state.ref))
        self.assertEqual(again.id, state.extra[manage_mod.specs.KEY_VOLUME_ID])
        self.assertIsNone(self.find(uuid))

    def test_deleting_a_record_cinder_marked_failed_keeps_the_vm(self):
        # vCenter adopted the VM but Cinder never heard (the service died,
        # the answer was lost): the record is error_managing. Deleting it
        # gives the VM back instead of destroying the user's data.
        ref, uuid, name = self.foreign_vm()
        parent = self.session.get_properties(ref, ['parent'])['parent']
        volume = lb.make_volume(1)
        self.driver.manage_existing(volume, {'source-id': uuid})
        self.assertEqual(volume.id,
                         self.state(ref).props['config.instanceUuid'])
        self.failed_record_deleted(volume)
        self.assert_as_before(ref, uuid, name, parent)
        # Deleting it again (a retried delete) changes nothing.
        self.failed_record_deleted(volume)
        self.assert_as_before(ref, uuid, name, parent)

    def test_retry_before_deleting_the_failed_record_names_it(self):
        ref, uuid, _name = self.foreign_vm()
        volume = lb.make_volume(1)
        self.driver.manage_existing(volume, {'source-id': uuid})
        self.addCleanup(self.failed_record_deleted, volume)
        other = lb.make_volume(1)
        err = self.assertRaises(exceptions.InvalidReference,
                                self.driver.manage_existing, other,
                                {'source-id': uuid})
        self.assertIn(volume.id, str(err))
        self.assertIn('delete', str(err))
        self.assertEqual(volume.id,
                         self.state(ref).props['config.instanceUuid'])


class SnapshotImportFaultTest(tdf.DriverFaultTestCase):
    """manage_existing_snapshot when the answer to RenameSnapshot is lost.

    vCenter renamed the snapshot; a driver reporting failure would leave
    Cinder's snapshot in ``error`` and the user's delete would remove the
    (imported) snapshot. The rename is settled by reading the tree again.
    """

    def external_snapshot(self, volume, name):
        ref = self.find(volume.id)
        self.session.invoke_task('CreateSnapshot_Task', ref, name=name,
                                 memory=False, quiesce=False)
        return ref

    def names(self, ref):
        return self.state(ref).snapshot_names

    def test_lost_answer_to_the_rename_is_an_import(self):
        volume = self.create(size=1)
        ref = self.external_snapshot(volume, 'nightly-1')
        snapshot = lb.make_snapshot(volume)
        self.fault('drop_answer', 'RenameSnapshot')
        self.assertIsNone(self.faulty.manage_existing_snapshot(
            snapshot, {'source-name': 'nightly-1'}))
        self.assertEqual([('drop_answer', 'RenameSnapshot')],
                         self.injected())
        self.assertEqual(['snapshot-%s' % snapshot.id], self.names(ref))
        # a retry is a no-op
        self.assertIsNone(self.faulty.manage_existing_snapshot(
            snapshot, {'source-name': 'nightly-1'}))
        self.assertEqual(['snapshot-%s' % snapshot.id], self.names(ref))

    def test_rename_cut_before_vcenter_fails_and_changes_nothing(self):
        volume = self.create(size=1)
        ref = self.external_snapshot(volume, 'nightly-2')
        snapshot = lb.make_snapshot(volume)
        self.plan.rules.append(tdf.rules.Rule('reset', 'RenameSnapshot'))
        self.assertRaises(exceptions.VMwareBackendException,
                          self.faulty.manage_existing_snapshot, snapshot,
                          {'source-name': 'nightly-2'})
        self.assertEqual(['nightly-2'], self.names(ref))


class AdoptSlowTaskTest(tdf.DriverFaultTestCase, tm.ManageTestBase):
    """The adoption's reconfigure runs past the driver's deadline."""

    def test_reconfigure_past_its_deadline_then_the_record_deleted(self):
        ref, uuid, name = self.foreign_vm()
        parent = self.session.get_properties(ref, ['parent'])['parent']
        # the reconfigure ends (its work done) 2.5 s after its call, the
        # driver waits 1 s: it fails; the undo waits for the running
        # reconfigure before giving the VM back
        self.slow_task('ReconfigVM_Task')
        volume = lb.make_volume(1)
        self.assertRaises(exceptions.VMwareBackendException,
                          self.faulty.manage_existing, volume,
                          {'source-id': uuid})
        self.settle_time()
        # Cinder: error_managing; the user deletes it
        volume.status = 'error_managing_deleting'
        self.retry(self.faulty.delete_volume, volume)
        state = self.state(ref)
        self.assertEqual((name, uuid, vsphere_ops.moref_value(parent)),
                         (state.props['name'],
                          state.props['config.instanceUuid'],
                          vsphere_ops.moref_value(state.props['parent'])))
        for key in manage_mod.MARK_KEYS:
            self.assertFalse(state.extra.get(key), key)


class UnmanageFaultTest(tdf.DriverFaultTestCase):
    """unmanage when the answer to its reconfigure is lost."""

    def test_lost_answer_is_settled_by_the_marks(self):
        volume = self.create(size=1)
        name = self.state(volume.id).props['name']
        self.fault('drop_answer', 'ReconfigVM_Task')
        # done on vCenter: reported done (Cinder would otherwise keep the
        # volume in error_unmanaging, and a delete would destroy the VM
        # the user meant to keep)
        self.assertIsNone(self.faulty.unmanage(volume))
        self.assertEqual([('drop_answer', 'ReconfigVM_Task')],
                         self.injected())
        state = self.state(volume.id)
        self.addCleanup(self.session.invoke_task, 'Destroy_Task', state.ref)
        self.assertEqual(name, state.props['name'])
        for key in manage_mod.MARK_KEYS:
            self.assertFalse(state.extra.get(key), key)
        self.assertEqual([tm.GIB_KB], [d.capacityInKB for d in state.disks])

    def test_reconfigure_failing_before_vcenter_is_a_failure(self):
        volume = self.create(size=1)
        self.control.set_task_faults([{'method': 'ReconfigVM_Task',
                                       'outcome': 'error-before',
                                       'times': 1}])
        self.assertRaises(exceptions.VMwareBackendException,
                          self.faulty.unmanage, volume)
        self.assertEqual(volume.id, self.state(volume.id).extra[
            manage_mod.specs.KEY_VOLUME_ID])
