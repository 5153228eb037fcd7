"""The audit's finding for a migration stopped before its owner mark."""

import testtools

from tests.unit import test_audit
from vmware_backend.admin import audit
from vmware_backend.admin import audit_fix
from vmware_backend.admin import audit_migration
from vmware_backend.admin import listing
from vmware_backend.vsphere import inventory

R = inventory.MoRef
HERE = 'vmware-dest@OpenStack/migrate-dest'
SOURCE = 'vmware-1@OpenStack/Volumes'
FOLDER = R('Folder', 'group-v60')
VOLUME = '6a0f3c2e-1d4b-4e5f-8a9b-0c1d2e3f4a5b'


def backing(owner, parent_folder=FOLDER, volume_id=VOLUME):
    return listing.Backing(
        ref=R('VirtualMachine', 'vm-9'), name='volume-' + volume_id,
        volume_id=volume_id, instance_uuid=volume_id,
        extra={'vmware_backend.backend': owner} if owner else {},
        datastores=['LocalDS_1'], snapshots={}, parent_folder=parent_folder,
        folder=FOLDER)


class FindTest(testtools.TestCase):

    def test_cinder_still_on_the_source_says_run_it_again(self):
        [f] = audit_migration.find([backing(SOURCE)], HERE, [])
        self.assertEqual(audit.INTERRUPTED_MIGRATION, f.kind)
        self.assertEqual(SOURCE, f.item)
        self.assertFalse(f.fixable)
        self.assertEqual(
            'in volume folder migrate-dest of backend %s (datastore '
            'LocalDS_1) but marked as backend %s\'s: a migration to this '
            'backend stopped before its last step (the owner mark); the '
            'source backend still serves it' % (HERE, SOURCE), f.detail)
        self.assertEqual(
            'kept: Cinder has the volume on another backend (not in the id '
            'list): run the migration again ("openstack volume migrate '
            '--host <host>@vmware-dest#<pool> %s", or the retype that '
            'started it); it only sets the mark' % VOLUME, f.action())
        self.assertEqual([], audit_migration.fix_order([f]))
        # a problem: counted, and the audit exits 1
        self.assertEqual([f], audit.problems([f]))
        self.assertEqual(1, audit.summary([f])['interrupted-migration'])

    def test_cinder_has_it_here_fix_sets_the_mark(self):
        [f] = audit_migration.find([backing(SOURCE)], HERE, [VOLUME])
        self.assertTrue(f.fixable)
        self.assertEqual('set the owner mark to %s' % HERE, f.action())
        self.assertEqual([f], audit_migration.fix_order([f]))
        self.assertEqual('set the owner mark to %s' % HERE,
                         f.as_dict()['action'])

    def test_not_findings(self):
        self.assertEqual([], audit_migration.find([
            # a backend sharing this folder under another name
            backing('vmware-2@OpenStack/migrate-dest'),
            # in a sub-folder (e.g. another's quarantine), not moved here
            backing(SOURCE, parent_folder=R('Folder', 'group-v61')),
            # no owner, or not a backend id of this driver
            backing(None), backing('someone-else'),
        ], HERE, []))


class FixTest(testtools.TestCase):

    def finding(self, known):
        [f] = audit_migration.find([backing(SOURCE)], HERE, known)
        return f

    def test_sets_the_mark(self):
        ops = test_audit.FakeOps({'vm-9': {'vmware_backend.backend': SOURCE}})
        audit_fix.Fixer(ops, [], {VOLUME}).fix(self.finding([VOLUME]))
        self.assertEqual(('set_extra_config', 'vm-9',
                          {'vmware_backend.backend': HERE}), ops.calls[-1])

    def test_changed_meanwhile_is_refused(self):
        ops = test_audit.FakeOps({'vm-9': {'vmware_backend.backend': HERE}})
        err = self.assertRaises(ValueError, audit_fix.Fixer(
            ops, [], {VOLUME}).fix, self.finding([VOLUME]))
        self.assertIn('changed meanwhile', str(err))
        self.assertNotIn('set_extra_config', [c[0] for c in ops.calls])

    def test_blocked_is_kept(self):
        ops = test_audit.FakeOps({'vm-9': {'vmware_backend.backend': SOURCE}})
        self.assertRaises(ValueError, audit_fix.Fixer(ops, [], set()).fix,
                          self.finding([]))
        self.assertEqual([], ops.calls)
