"""The campaign's check of VMs of nobody (imports and unmanages)."""

import testtools

from vmware_backend.testbed.faults import invariants
from vmware_backend.testbed.faults import model as model_mod

GIB_KB = 1024 * 1024


def vm(name, uuid, folder='group-v3', extra=None, disks=(GIB_KB,)):
    state = invariants.VmState.__new__(invariants.VmState)
    state.name, state.instance_uuid, state.folder = name, uuid, folder
    state.extra, state.disk_kb = dict(extra or {}), list(disks)
    state.snapshots = []
    return state


class ForeignCheckTest(testtools.TestCase):

    def model(self, adopted_by=None, pending=None):
        model = model_mod.Model()
        foreign = model_mod.ForeignVm('uuid-1', 'web-1', 'group-v3',
                                      [GIB_KB])
        foreign.adopted_by, foreign.pending = adopted_by, pending
        model.foreign['uuid-1'] = foreign
        return model

    def check(self, model, vms):
        found = []
        invariants._check_foreign(model, vms, found)
        return found

    def test_as_left(self):
        self.assertEqual([], self.check(self.model(), [
            vm('web-1', 'uuid-1', extra={'guestinfo.x': '1'})]))

    def test_half_adopted(self):
        self.assertEqual(
            ['web-1 (uuid-1): named volume-v1; in folder group-v9, not '
             'group-v3; marked vmware_backend.imported_from, '
             'vmware_backend.volume_id'],
            self.check(self.model(), [vm(
                'volume-v1', 'uuid-1', folder='group-v9', extra={
                    'vmware_backend.volume_id': 'v1',
                    'vmware_backend.imported_from': '{}'})]))

    def test_gone_or_doubled(self):
        self.assertEqual(['web-1: 0 VMs with instanceUuid uuid-1'],
                         self.check(self.model(), []))
        self.assertEqual(['web-1: 2 VMs with instanceUuid uuid-1'],
                         self.check(self.model(), [vm('web-1', 'uuid-1'),
                                                   vm('web-1', 'uuid-1')]))

    def test_grown_disk(self):
        self.assertEqual(
            ['web-1 (uuid-1): disks [2097152] KiB, not [1048576]'],
            self.check(self.model(), [vm('web-1', 'uuid-1',
                                         disks=(2 * GIB_KB,))]))

    def test_imported_keeps_no_old_identity(self):
        self.assertEqual([], self.check(self.model(adopted_by='v1'), [
            vm('volume-v1', 'v1')]))
        self.assertEqual(
            ['web-1: imported as v1, still 1 VM(s) with its instanceUuid'],
            self.check(self.model(adopted_by='v1'), [vm('web-1', 'uuid-1')]))

    def test_pending_record_not_checked(self):
        self.assertEqual([], self.check(self.model(pending='v1'), []))

    def test_unmanaged_volume_is_not_a_leak(self):
        model = model_mod.Model()
        record = model.add_volume('v1', 1)
        record.status = model_mod.UNMANAGED
        self.assertEqual([], model.teardown_order())


class ForeignSnapshotCheckTest(testtools.TestCase):

    def check(self, adopted_by=None, names=(), status='available'):
        model = model_mod.Model()
        model.add_volume('v1', 1).status = status
        snap = model_mod.ForeignSnapshot('v1', 'ext-1')
        snap.adopted_by = adopted_by
        model.foreign_snapshots['ext-1'] = snap
        backing = vm('volume-v1', 'v1')
        backing.snapshots = list(names)
        found = []
        invariants._check_foreign_snapshots(model, {'v1': [backing]}, found)
        return found, model

    def test_not_imported_must_stay(self):
        self.assertEqual([], self.check(names=['ext-1'])[0])
        self.assertEqual(['snapshot ext-1 of v1: 0 there, 1 expected (not '
                          'imported)'], self.check(names=['snapshot-s1'])[0])

    def test_imported_has_no_old_name(self):
        self.assertEqual([], self.check('s1', ['snapshot-s1'])[0])
        self.assertEqual(['snapshot ext-1 of v1: 1 there, 0 expected '
                          '(imported as s1)'],
                         self.check('s1', ['ext-1', 'snapshot-s1'])[0])

    def test_deleted_volume_takes_it_along(self):
        self.assertEqual([], self.check(status='deleted')[0])

    def test_volume_with_it_is_not_extendable(self):
        _found, model = self.check(names=['ext-1'])
        self.assertEqual([], model.extendable())
        model.foreign_snapshots['ext-1'].adopted_by = 's1'
        self.assertEqual(['v1'], [v.id for v in model.extendable()])
