"""Audit safety: backing ownership, quarantine before destroy, list checks.

Issue 8, defect 10: backings record the backend that owns them, the audit
only considers this backend's backings, ``--fix`` quarantines instead of
destroying and refuses an id list that looks incomplete, ``--purge``
destroys after a grace period, and duplicates of known ids are reported.
"""

import testtools

from tests.unit import test_audit
from tests.unit import test_driver
from vmware_backend.admin import audit
from vmware_backend.admin import audit_fix
from vmware_backend.admin import listing
from vmware_backend.cmd import manage
from vmware_backend.cmd import render
from vmware_backend.volume import plain_objects
from vmware_backend.vsphere import inventory
from vmware_backend.vsphere import specs

R = inventory.MoRef
NOW = test_audit.NOW
DAY = 24 * 3600
FOLDER = R('Folder', 'group-v50')
OURS = specs.backend_id('vmware-1', 'OpenStack/Volumes')
THEIRS = specs.backend_id('vmware-2', 'OpenStack/Volumes')
new_id = test_audit.new_id
FakeOps = test_audit.FakeOps


def parsed(vc, folder=FOLDER, parent_folder=FOLDER):
    """Backings as read below ``folder``, sitting in ``parent_folder``."""
    backings, instances = vc.parsed()
    for backing in backings:
        backing.folder = folder
        backing.parent_folder = parent_folder
    return backings, instances


class SpecsTest(testtools.TestCase):

    def test_backend_id_is_name_and_folder(self):
        self.assertEqual('vmware-1@OpenStack/Volumes', OURS)

    def test_owner_recorded(self):
        self.assertEqual(OURS, specs.backing_extra_config(
            'v', owner=OURS)[specs.KEY_BACKEND])
        self.assertNotIn(specs.KEY_BACKEND, specs.backing_extra_config('v'))

    def test_clone_drops_a_copied_quarantine_mark(self):
        entries = specs.inherited_markers({specs.KEY_QUARANTINED: '5'})
        self.assertEqual('', entries[specs.KEY_QUARANTINED])
        self.assertNotIn(specs.KEY_QUARANTINED, specs.inherited_markers({}))


class DriverRecordsOwnerTest(test_driver.CloneTestBase):

    def owner(self, spec):
        return self.entries(spec).get(specs.KEY_BACKEND)

    def test_create_records_name_and_folder(self):
        vol = plain_objects.volume()
        self.driver.create_volume(vol)
        spec = self.arg('create_backing', 'config_spec')
        self.assertEqual('vmware_backend@OpenStack/Volumes', self.owner(spec))

    def test_clones_record_the_owner(self):
        # vCenter copies the source's extraConfig (its owner included) into
        # the clone; the spec's entry replaces it.
        for clone_type in ('full', 'linked'):
            vol = self.volume(clone_type=clone_type)
            self.driver.create_volume_from_snapshot(vol, self.src_snap)
            self.assertEqual('vmware_backend@OpenStack/Volumes',
                             self.owner(self.spec().config))
            vol = self.volume(clone_type=clone_type)
            self.driver.create_cloned_volume(vol, self.src)
            self.assertEqual('vmware_backend@OpenStack/Volumes',
                             self.owner(self.spec().config))


class OwnershipTest(testtools.TestCase):

    def test_split(self):
        vc = test_audit.FakeVCenter()
        own = vc.backing(extra={specs.KEY_BACKEND: OURS})
        other = vc.backing(extra={specs.KEY_BACKEND: THEIRS})
        legacy = vc.backing()
        backings, _ = parsed(vc)
        owned, foreign = listing.split_by_owner(backings, OURS)
        self.assertEqual({own, legacy}, {b.volume_id for b in owned})
        self.assertEqual([other], [b.volume_id for b in foreign])
        kinds = {b.volume_id: listing.ownership(b, OURS) for b in backings}
        self.assertEqual({own: listing.OWN, legacy: listing.LEGACY,
                          other: listing.FOREIGN}, kinds)

    def test_legacy_only_directly_in_the_volume_folder(self):
        vc = test_audit.FakeVCenter()
        vc.backing()
        backings, _ = parsed(vc, parent_folder=R('Folder', 'group-v51'))
        self.assertEqual(([], backings),
                         listing.split_by_owner(backings, OURS))
        # Read without a volume folder: nothing tells, so not ours.
        backings, _ = parsed(vc, folder=None, parent_folder=None)
        self.assertEqual([], listing.split_by_owner(backings, OURS)[0])

    def test_parse_reads_the_parent_folder_and_quarantine(self):
        vc = test_audit.FakeVCenter()
        vc.backing(extra={specs.KEY_QUARANTINED: str(NOW)})
        vc.objects[-1][1]['parent'] = FOLDER
        (backing,), _ = vc.parsed()
        self.assertEqual(FOLDER, backing.parent_folder)
        self.assertEqual(NOW, backing.quarantined)
        self.assertIn('parent', listing.VM_PATHS)
        row = listing.volume_row(backing, OURS)
        self.assertEqual(NOW, row['quarantined'])
        self.assertEqual(listing.FOREIGN, row['ownership'])


class DuplicateTest(testtools.TestCase):

    def test_duplicates_of_a_known_id_are_reported_and_kept(self):
        vc = test_audit.FakeVCenter()
        known = new_id()
        vc.backing(known, created=NOW - DAY)
        vc.backing(known, created=NOW - 60)
        backings, instances = parsed(vc)
        findings = audit.find(backings, {known}, instances, now=NOW)
        self.assertEqual([audit.DUPLICATE] * 2, [f.kind for f in findings])
        refs = {b.ref.value for b in backings}
        self.assertEqual(refs, {f.ref.value for f in findings})
        for finding in findings:
            self.assertFalse(finding.fixable)
            self.assertIn('2 backings carry this volume id', finding.detail)
            self.assertIn('never removed automatically', finding.action())
        self.assertEqual(2, audit.summary(findings)[audit.DUPLICATE])
        self.assertEqual(findings, audit.problems(findings))
        self.assertEqual([], audit.removal_order(findings, backings))
        self.assertRaises(ValueError, audit_fix.Fixer(FakeOps(), backings,
                                                      {known}).fix,
                          findings[0])

    def test_quarantined_copy_of_a_known_active_volume_is_not_restored(self):
        vc = test_audit.FakeVCenter()
        known = new_id()
        vc.backing(known)
        vc.backing(known, extra={specs.KEY_QUARANTINED: str(NOW - DAY)})
        backings, instances = parsed(vc)
        (finding,) = audit.find(backings, {known}, instances, now=NOW)
        self.assertEqual(audit.DUPLICATE, finding.kind)
        self.assertEqual(backings[1].ref, finding.ref)
        self.assertIn('quarantined', finding.detail)
        self.assertFalse(finding.fixable)
        self.assertFalse(finding.purgeable)
        self.assertEqual([finding], audit.problems([finding]))

    def test_duplicates_of_an_unknown_id_are_orphans(self):
        vc = test_audit.FakeVCenter()
        gone = new_id()
        vc.backing(gone)
        vc.backing(gone)
        backings, instances = parsed(vc)
        findings = audit.find(backings, set(), instances, now=NOW)
        self.assertEqual([audit.ORPHAN] * 2, [f.kind for f in findings])


class QuarantineFindTest(testtools.TestCase):

    def scenario(self, quarantined_at, known=()):
        vc = test_audit.FakeVCenter()
        self.kept = vc.backing(created=NOW - DAY)
        self.held = vc.backing(extra={
            specs.KEY_QUARANTINED: str(quarantined_at)})
        self.backings, instances = parsed(vc)
        return audit.find(self.backings, {self.kept} | set(known), instances,
                          now=NOW, grace=DAY)

    def test_in_grace_period(self):
        (finding,) = self.scenario(NOW - 60)
        self.assertEqual(audit.QUARANTINED, finding.kind)
        self.assertTrue(finding.recent)
        self.assertFalse(finding.purgeable)
        self.assertFalse(finding.fixable)
        self.assertEqual(NOW - 60 + DAY, finding.purge_at)
        self.assertIn('--purge after', finding.action())
        # Handled: not a leftover, not counted.
        self.assertEqual([], audit.problems([finding]))
        self.assertNotIn(audit.QUARANTINED, audit.summary([finding]))
        self.assertEqual([], audit.purge_order([finding], self.backings))

    def test_past_grace_period(self):
        (finding,) = self.scenario(NOW - DAY)
        self.assertTrue(finding.purgeable)
        self.assertEqual('destroy with --purge', finding.action())
        self.assertEqual([finding], audit.purge_order([finding],
                                                      self.backings))
        self.assertEqual([], audit.removal_order([finding], self.backings))

    def test_known_again_is_restored_by_fix(self):
        (finding,) = self.scenario(NOW - 2 * DAY)
        self.assertEqual(audit.QUARANTINED, finding.kind)
        findings = audit.find(self.backings, {self.kept, self.held}, (),
                              now=NOW, grace=DAY)
        (finding,) = findings
        self.assertEqual(audit.RESTORE, finding.kind)
        self.assertTrue(finding.fixable)
        self.assertFalse(finding.purgeable)
        self.assertEqual([finding], audit.problems([finding]))
        self.assertEqual([finding], audit.removal_order([finding],
                                                        self.backings))

    def test_purge_kept_while_an_active_clone_depends_on_it(self):
        vc = test_audit.FakeVCenter()
        source, clone = new_id(), new_id()
        vc.backing(source, snapshots=['s'], markers={clone: 's'},
                   extra={specs.KEY_QUARANTINED: str(NOW - 2 * DAY)})
        vc.backing(clone, parent='%s:s' % source)
        backings, instances = parsed(vc)
        findings = {f.volume_id: f for f in audit.find(
            backings, {clone}, instances, now=NOW, grace=DAY)}
        self.assertEqual({source}, set(findings))
        self.assertIn(clone, findings[source].blocked)
        self.assertFalse(findings[source].purgeable)

    def test_quarantined_clone_purged_before_its_quarantined_source(self):
        vc = test_audit.FakeVCenter()
        source, clone = new_id(), new_id()
        mark = {specs.KEY_QUARANTINED: str(NOW - 2 * DAY)}
        vc.backing(source, snapshots=['clone-%s' % clone],
                   markers={clone: 'clone-%s' % clone}, extra=mark)
        vc.backing(clone, parent='%s:clone-%s' % (source, clone), extra=mark)
        backings, instances = parsed(vc)
        findings = audit.find(backings, {new_id()}, instances, now=NOW,
                              grace=DAY)
        self.assertEqual([clone, source], [
            f.volume_id for f in audit.purge_order(findings, backings)])

    def test_quarantined_orphans_do_not_count_as_orphans(self):
        findings = self.scenario(NOW)
        self.assertNotIn(audit.ORPHAN, [f.kind for f in findings])


class ListProblemTest(testtools.TestCase):

    def run_find(self, total, known_count, recent=0):
        vc = test_audit.FakeVCenter()
        ids = [vc.backing(created=NOW - DAY) for _ in range(total)]
        ids += [vc.backing(created=NOW - 5) for _ in range(recent)]
        self.backings, instances = parsed(vc)
        self.findings = audit.find(self.backings, set(ids[:known_count]),
                                   instances, now=NOW, min_age=3600)
        return self.findings

    def test_half_missing_is_accepted(self):
        self.run_find(4, 2)
        self.assertIsNone(audit.list_problem(self.findings, self.backings))

    def test_more_than_half_missing_is_refused(self):
        self.run_find(4, 1)
        problem = audit.list_problem(self.findings, self.backings)
        self.assertIn('3 of the 4 volume ids', problem)
        self.assertIn('(75%)', problem)
        self.assertIn('--max-orphan-percent 100', problem)
        self.assertIsNone(audit.list_problem(self.findings, self.backings,
                                             max_percent=75))
        self.assertIsNotNone(audit.list_problem(self.findings,
                                                self.backings,
                                                max_percent=74))

    def test_a_list_naming_none_of_the_backings_is_refused(self):
        self.run_find(3, 0)
        self.assertIn('3 of the 3', audit.list_problem(self.findings,
                                                       self.backings))
        self.assertIsNone(audit.list_problem(self.findings, self.backings,
                                             max_percent=100))

    def test_recent_and_quarantined_backings_are_not_judged(self):
        self.run_find(2, 1, recent=5)
        self.assertIsNone(audit.list_problem(self.findings, self.backings))
        vc = test_audit.FakeVCenter()
        known = vc.backing()
        for _ in range(3):
            vc.backing(extra={specs.KEY_QUARANTINED: str(NOW)})
        backings, instances = parsed(vc)
        findings = audit.find(backings, {known}, instances, now=NOW)
        self.assertIsNone(audit.list_problem(findings, backings))

    def test_no_backing_nothing_to_judge(self):
        self.assertIsNone(audit.list_problem([], []))


class FixerQuarantineTest(testtools.TestCase):

    def setUp(self):
        super().setUp()
        vc = test_audit.FakeVCenter()
        self.source, self.clone = new_id(), new_id()
        self.snap = 'clone-%s' % self.clone
        vc.backing(self.source, snapshots=[self.snap],
                   markers={self.clone: self.snap})
        vc.backing(self.clone, parent='%s:%s' % (self.source, self.snap))
        self.backings, self.instances = parsed(vc)
        self.refs = {b.volume_id: b.ref.value for b in self.backings}

    def fixer(self, ops, known):
        return audit_fix.Fixer(ops, self.backings, known, clock=lambda: NOW,
                               backend=OURS)

    def test_orphan_is_marked_then_moved_and_stamped_with_the_owner(self):
        findings = audit.find(self.backings, {self.source}, self.instances,
                              now=NOW)
        (orphan,) = audit.removal_order(findings, self.backings)
        clone = self.refs[self.clone]
        ops = FakeOps({clone: {specs.KEY_VOLUME_ID: self.clone}})
        self.fixer(ops, {self.source}).fix(orphan)
        self.assertEqual([
            ('properties', clone),
            ('set_extra_config', clone, {specs.KEY_QUARANTINED: str(NOW),
                                         specs.KEY_BACKEND: OURS}),
            ('ensure_folder', FOLDER.value, 'quarantine'),
            ('move_into_folder', 'quarantine-of-%s' % FOLDER.value,
             [clone]),
        ], ops.calls)

    def test_an_existing_owner_is_kept(self):
        findings = audit.find(self.backings, {self.source}, self.instances,
                              now=NOW)
        (orphan,) = audit.removal_order(findings, self.backings)
        clone = self.refs[self.clone]
        ops = FakeOps({clone: {specs.KEY_VOLUME_ID: self.clone,
                               specs.KEY_BACKEND: OURS}})
        self.fixer(ops, {self.source}).fix(orphan)
        self.assertEqual({specs.KEY_QUARANTINED: str(NOW)}, ops.calls[1][2])

    def quarantined(self, known, since=NOW - 8 * DAY):
        for backing in self.backings:
            if backing.volume_id == self.clone:
                backing.extra[specs.KEY_QUARANTINED] = str(since)
        return audit.find(self.backings, known, self.instances, now=NOW)

    def test_restore(self):
        (finding,) = self.quarantined({self.source, self.clone})
        clone = self.refs[self.clone]
        ops = FakeOps({clone: {specs.KEY_VOLUME_ID: self.clone}})
        self.fixer(ops, {self.source, self.clone}).fix(finding)
        self.assertEqual([
            ('properties', clone),
            ('set_extra_config', clone, {specs.KEY_QUARANTINED: ''}),
            ('move_into_folder', FOLDER.value, [clone]),
        ], ops.calls)

    def test_purge_destroys_and_releases_the_source(self):
        (finding,) = self.quarantined({self.source})
        self.assertTrue(finding.purgeable)
        clone, source = self.refs[self.clone], self.refs[self.source]
        ops = FakeOps({clone: {specs.KEY_VOLUME_ID: self.clone,
                               specs.KEY_QUARANTINED: str(NOW - 8 * DAY)}})
        self.fixer(ops, {self.source}).fix(finding)
        snap_ref = [b for b in self.backings
                    if b.volume_id == self.source][0].snapshots[self.snap]
        self.assertEqual([
            ('properties', clone),
            ('destroy', clone),
            ('set_extra_config', source,
             specs.clear_marker_entries(self.clone)),
            ('remove_snapshot', snap_ref.value),
        ], ops.calls)

    def test_purge_refused_when_restored_or_requarantined_meanwhile(self):
        (finding,) = self.quarantined({self.source})
        clone = self.refs[self.clone]
        for now_extra in ({}, {specs.KEY_QUARANTINED: str(NOW - 5)}):
            extra = dict(now_extra, **{specs.KEY_VOLUME_ID: self.clone})
            ops = FakeOps({clone: extra})
            err = self.assertRaises(ValueError,
                                    self.fixer(ops, {self.source}).fix,
                                    finding)
            self.assertIn('meanwhile', str(err))
            self.assertEqual([('properties', clone)], ops.calls)

    def test_purge_refused_for_a_known_id(self):
        (finding,) = self.quarantined({self.source})
        ops = FakeOps()
        self.assertRaises(ValueError,
                          self.fixer(ops, {self.source, self.clone}).fix,
                          finding)
        self.assertEqual([], ops.calls)

    def test_purge_refused_in_the_grace_period(self):
        (finding,) = self.quarantined({self.source}, since=NOW - 60)
        ops = FakeOps()
        self.assertRaises(ValueError, self.fixer(ops, {self.source}).fix,
                          finding)
        self.assertEqual([], ops.calls)


class CliOptionsTest(testtools.TestCase):

    def test_defaults(self):
        args = manage.parse_args(['audit', '--volume-ids', 'f'])
        self.assertEqual(7 * DAY, args.grace)
        self.assertEqual(50, args.max_orphan_percent)
        self.assertEqual(audit.DEFAULT_GRACE, args.grace)
        self.assertEqual(audit.DEFAULT_MAX_ORPHAN_PERCENT,
                         args.max_orphan_percent)
        self.assertFalse(args.purge)

    def test_purge_with_yes(self):
        args = manage.parse_args(['audit', '--volume-ids', 'f', '--purge',
                                  '--yes', '--grace', '0',
                                  '--max-orphan-percent', '100'])
        self.assertEqual((True, 0, 100), (args.purge, args.grace,
                                          args.max_orphan_percent))

    def test_fix_and_purge_exclude_each_other(self):
        self.assertRaises(SystemExit, manage.parse_args,
                          ['audit', '--volume-ids', 'f', '--fix',
                           '--purge'])

    def test_bad_percent(self):
        for bad in ('101', '-1', 'half'):
            self.assertRaises(SystemExit, manage.parse_args,
                              ['audit', '--volume-ids', 'f',
                               '--max-orphan-percent', bad])


class RenderTest(testtools.TestCase):

    def test_audit_says_what_was_ignored_and_taken_as_ours(self):
        text = render.audit({
            'backend': OURS, 'backings': 3, 'known_ids': 2,
            'legacy_backings': 1, 'foreign_backings': {THEIRS: 4},
            'summary': {audit.ORPHAN: 0}, 'recent': 0, 'quarantined': 2,
            'purgeable': 1, 'grace': 60, 'findings': []})
        self.assertIn('3 backing(s) of %s checked against 2' % OURS, text)
        self.assertIn('4 backing(s) of other owners in the folder '
                      'ignored: %s x4.' % THEIRS, text)
        self.assertIn('1 backing(s) record no owner (made by an earlier '
                      'release)', text)
        self.assertIn('2 backing(s) in quarantine, 1 past the 60s grace',
                      text)

    def test_volumes_marks_legacy_and_quarantined(self):
        row = {'volume_id': 'v', 'size_gb': 1.0, 'datastores': ['ds'],
               'snapshots': [], 'attached_to': [], 'moref': 'vm-1',
               'parent': None, 'ownership': listing.LEGACY,
               'quarantined': NOW}
        text = render.volumes([row])
        self.assertIn('legacy: no owner recorded, quarantined', text)
        self.assertIn('1 backing(s) record no owner', text)
