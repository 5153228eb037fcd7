"""Migration to another backend under faults: every retry converges.

The migrating driver talks through the fault proxy (test_driver_faults);
the destination is a second backend on the same simulator and cluster
(another name and volume folder). After each fault, what vCenter holds is
read over the test's own session; then the migration is run again, as
Cinder's user would, and must finish without doing anything twice.
"""

from tests.functional import lifecycle_base as lb
from tests.functional import test_driver_faults as tdf
from tests.functional import test_manage_cli
from vmware_backend.admin import listing
from vmware_backend import conf
from vmware_backend import exceptions
from vmware_backend.testbed.faults import rules
from vmware_backend.volume import driver as vmware_driver
from vmware_backend.vsphere import ops as vsphere_ops
from vmware_backend.vsphere import specs

SOURCE = 'vmware_backend@OpenStack/Volumes'
DEST = 'vmware-dest@OpenStack/migrate-dest'


class MigrateFaultTest(test_manage_cli.CliMixin, tdf.DriverFaultTestCase):

    def setUp(self):
        super().setUp()
        self.dest = vmware_driver.VMwareVolumeDriver(
            conf.option_defaults(**dict(
                self.options, vcenter_backend_name='vmware-dest',
                vcenter_volume_folder='OpenStack/migrate-dest')),
            session=self.session)

    def dest_host(self, datastore_name='LocalDS_1'):
        stats = self.dest.get_volume_stats(refresh=True)
        [pool] = [p for p in stats['pools']
                  if p['datastore_name'] == datastore_name]
        return {'host': 'node1@vmware-dest#%s' % pool['pool_name'],
                'capabilities': dict(pool, volume_backend_name='vmware-dest')}

    def where(self, volume):
        state = self.state(volume.id)
        folder = self.session.get_properties(state.props['parent'], ['name'])
        return ([self.entity_name(d) for d in
                 vsphere_ops.ref_list(state.props['datastore'])],
                folder['name'], state.extra.get(specs.KEY_BACKEND),
                state.snapshot_names)

    def listed(self, driver, volume):
        backings, _instances = listing.read(
            self.session, devices=False,
            volume_folder=driver.options['vcenter_volume_folder'])
        return [listing.ownership(b, driver.backend_id) for b in backings
                if b.volume_id == volume.id]

    def source_volume(self):
        volume = self.create(size=1, host='node1@vmware_backend#LocalDS_0')
        snapshot = lb.make_snapshot(volume)
        self.driver.create_snapshot(snapshot)
        self.assertEqual((['LocalDS_0'], 'Volumes', SOURCE, [snapshot.name]),
                         self.where(volume))
        return volume, snapshot.name

    def assertMigrated(self, volume, snapshot_name):
        self.assertBackings(1, volume.id)
        self.assertEqual(
            (['LocalDS_1'], 'migrate-dest', DEST, [snapshot_name]),
            self.where(volume))
        self.assertEqual([listing.OWN], self.listed(self.dest, volume))
        self.assertEqual([], self.listed(self.driver, volume))

    def test_lost_answer_to_the_relocate(self):
        volume, snap = self.source_volume()
        self.fault('drop_answer', 'RelocateVM_Task')
        self.assertEqual((True, None), self.faulty.migrate_volume(
            None, volume, self.dest_host()))
        self.assertEqual([('drop_answer', 'RelocateVM_Task')],
                         self.injected())
        self.assertMigrated(volume, snap)

    def test_relocate_ending_in_error_after_its_work(self):
        volume, snap = self.source_volume()
        self.fault('task_error_after', 'RelocateVM_Task')
        self.assertEqual((True, None), self.faulty.migrate_volume(
            None, volume, self.dest_host()))
        self.assertEqual([('task_error_after', 'RelocateVM_Task')],
                         self.injected())
        self.assertMigrated(volume, snap)

    def test_relocate_failing_moves_nothing_and_a_retry_moves_it(self):
        volume, snap = self.source_volume()
        self.fault('task_error_before', 'RelocateVM_Task')
        self.assertRaises(exceptions.VCenterFault, self.faulty.migrate_volume,
                          None, volume, self.dest_host())
        self.assertEqual((['LocalDS_0'], 'Volumes', SOURCE, [snap]),
                         self.where(volume))
        self.assertEqual([listing.OWN], self.listed(self.driver, volume))
        self.assertEqual([], self.listed(self.dest, volume))
        self.assertEqual((True, None), self.faulty.migrate_volume(
            None, volume, self.dest_host()))
        self.assertMigrated(volume, snap)

    def test_stopped_between_the_relocate_and_the_owner_mark(self):
        """As a process killed after the relocation: the retry finishes."""
        volume, snap = self.source_volume()
        # Every ReconfigVM_Task (the owner mark) is cut before vCenter.
        self.plan.rules.append(rules.Rule('reset', 'ReconfigVM_Task'))
        self.assertRaises(exceptions.VMwareBackendException,
                          self.faulty.migrate_volume, None, volume,
                          self.dest_host())
        self.assertIn(('reset', 'ReconfigVM_Task'), self.injected())
        # Moved, in the destination's folder, still marked as the source's:
        # the destination lists it as another backend's, the source (which
        # Cinder still says has it) finds it by its instanceUuid.
        self.assertEqual((['LocalDS_1'], 'migrate-dest', SOURCE, [snap]),
                         self.where(volume))
        self.assertEqual([listing.FOREIGN], self.listed(self.dest, volume))
        self.assertEqual(vsphere_ops.moref_value(self.find(volume.id)),
                         vsphere_ops.moref_value(
                             self.driver._require_backing(volume.id)[0]))
        # The retry only sets the mark: a relocation would be cut.
        self.plan.rules = [rules.Rule('reset', 'RelocateVM_Task')]
        self.plan.injected.clear()
        self.assertEqual((True, None), self.faulty.migrate_volume(
            None, volume, self.dest_host()))
        self.assertEqual([], self.injected())
        self.assertMigrated(volume, snap)

    def audit(self, *ids, fix=False):
        """``audit`` of the destination backend (straight to vCenter)."""
        config = self.ini(self.vcsim, vcenter_backend_name='vmware-dest',
                          vcenter_volume_folder='OpenStack/migrate-dest')
        args = ['--format', 'json', 'audit', '--volume-ids', '-',
                '--min-age', '0'] + (['--fix', '--yes'] if fix else [])
        proc = self.cli(*args, config=config,
                        stdin=''.join('%s\n' % i for i in ids))
        return proc, self.json_of(proc)

    def stopped_before_the_owner_mark(self):
        volume, snap = self.source_volume()
        self.plan.rules.append(rules.Rule('reset', 'ReconfigVM_Task'))
        self.assertRaises(exceptions.VMwareBackendException,
                          self.faulty.migrate_volume, None, volume,
                          self.dest_host())
        self.plan.rules = []
        self.assertEqual((['LocalDS_1'], 'migrate-dest', SOURCE, [snap]),
                         self.where(volume))
        return volume, snap

    def finding(self, report, volume):
        return [f for f in report['findings'] if f['volume_id'] == volume.id]

    def test_audit_reports_a_migration_stopped_before_the_owner_mark(self):
        volume, snap = self.stopped_before_the_owner_mark()
        # Cinder still has the volume on the source: not in the
        # destination's id list
        proc, report = self.audit()
        self.assertExit(1, proc)
        [finding] = self.finding(report, volume)
        self.assertEqual('interrupted-migration', finding['kind'])
        self.assertEqual(SOURCE, finding['item'])
        self.assertEqual(
            'in volume folder migrate-dest of backend %s (datastore '
            'LocalDS_1) but marked as backend %s\'s: a migration to this '
            'backend stopped before its last step (the owner mark); the '
            'source backend still serves it' % (DEST, SOURCE),
            finding['detail'])
        self.assertEqual(
            'kept: Cinder has the volume on another backend (not in the '
            'id list): run the migration again ("openstack volume migrate '
            '--host <host>@vmware-dest#<pool> %s", or the retype that '
            'started it); it only sets the mark' % volume.id,
            finding['action'])
        # --fix leaves it alone
        proc, report = self.audit(fix=True)
        self.assertEqual((['LocalDS_1'], 'migrate-dest', SOURCE, [snap]),
                         self.where(volume))
        # as the finding says: the migration run again finishes it, and
        # the audit is clean
        self.assertEqual((True, None), self.driver.migrate_volume(
            None, volume, self.dest_host()))
        self.assertMigrated(volume, snap)
        proc, report = self.audit(volume.id)
        self.assertExit(0, proc)
        self.assertEqual([], self.finding(report, volume))

    def test_audit_fix_sets_the_mark_when_cinder_has_the_volume_here(self):
        # Cinder moved the volume to the destination (its id is in the
        # destination's list) but the mark was never set: --fix sets it
        volume, snap = self.stopped_before_the_owner_mark()
        proc, report = self.audit(volume.id)
        self.assertExit(1, proc)
        [finding] = self.finding(report, volume)
        self.assertEqual('interrupted-migration', finding['kind'])
        self.assertEqual('set the owner mark to %s' % DEST,
                         finding['action'])
        proc, report = self.audit(volume.id, fix=True)
        self.assertExit(0, proc)
        self.assertMigrated(volume, snap)

    def test_migrate_already_done_is_a_no_op(self):
        volume, snap = self.source_volume()
        self.assertEqual((True, None), self.faulty.migrate_volume(
            None, volume, self.dest_host()))
        # Any call that changes vCenter now would be cut.
        self.plan.rules = [rules.Rule('reset', method) for method in (
            'RelocateVM_Task', 'ReconfigVM_Task', 'MoveIntoFolder_Task')]
        self.assertEqual((True, None), self.faulty.migrate_volume(
            None, volume, self.dest_host()))
        self.assertEqual([], self.injected())
        self.assertMigrated(volume, snap)
