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
