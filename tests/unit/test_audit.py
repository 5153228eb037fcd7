"""Audit logic and the parsing of the inventory read, on synthetic data."""

import datetime
import time
import types
import uuid

import testtools

from vmware_backend.admin import audit
from vmware_backend.admin import audit_fix
from vmware_backend.admin import listing
from vmware_backend.cmd import manage
from vmware_backend.vsphere import inventory
from vmware_backend.vsphere import specs

R = inventory.MoRef
GiB_KB = 1024 * 1024


def cleared(clone_id):
    """The extraConfig entries removing a linked-clone marker."""
    return {'vmware_backend.clone.%s' % clone_id: '',
            'vmware_backend.clone_since.%s' % clone_id: ''}


def new_id():
    return str(uuid.uuid4())


class FakeVCenter:
    """Plain ``(MoRef, props)`` VM objects as the inventory read returns."""

    def __init__(self):
        self.objects = [(R('Datastore', 'ds-1'), {'name': 'DS1'})]
        self._next = 100

    def _ref(self, kind='VirtualMachine', prefix='vm'):
        self._next += 1
        return R(kind, '%s-%d' % (prefix, self._next))

    def backing(self, volume_id=None, size_gb=1, snapshots=(), parent=None,
                markers=None, extra=None, created=None, since=None,
                snapshot_times=None):
        """A backing VM; ``since``: {clone id: marker time}."""
        volume_id = volume_id or new_id()
        entries = {specs.KEY_MANAGED: 'true',
                   specs.KEY_VOLUME_ID: volume_id}
        if created is not None:
            entries[specs.KEY_CREATED] = str(int(created))
        for clone_id, when in (since or {}).items():
            entries[specs.KEY_CLONE_SINCE_PREFIX + clone_id] = \
                str(int(when))
        if parent:
            entries[specs.KEY_PARENT] = parent
        for clone_id, snap in (markers or {}).items():
            entries[specs.KEY_CLONE_PREFIX + clone_id] = snap
        entries.update(extra or {})
        ref = self._ref()
        file_name = '[DS1] volume-%s/volume-%s.vmdk' % (volume_id, volume_id)
        props = {
            'name': 'volume-%s' % volume_id,
            'config.instanceUuid': volume_id,
            'config.extraConfig': [{'key': k, 'value': v}
                                   for k, v in entries.items()],
            'datastore': [R('Datastore', 'ds-1')],
            'config.hardware.device': [
                {'key': 1000, 'busNumber': 0},
                {'key': 2000, 'controllerKey': 1000, 'unitNumber': 0,
                 'capacityInKB': size_gb * GiB_KB,
                 'backing': {'fileName': file_name,
                             'uuid': 'disk-%s' % volume_id}}],
        }
        if snapshots:
            props['snapshot'] = {
                'currentSnapshot': None,
                'rootSnapshotList': self._tree(list(snapshots),
                                               snapshot_times or {})}
        self.objects.append((ref, props))
        return volume_id

    def _tree(self, names, times):
        if not names:
            return []
        tree = {'name': names[0],
                'snapshot': self._ref('VirtualMachineSnapshot', 'snap'),
                'childSnapshotList': self._tree(names[1:], times)}
        if names[0] in times:
            # As suds parses xsd:dateTime: an aware datetime.
            tree['createTime'] = datetime.datetime.fromtimestamp(
                times[names[0]], datetime.timezone.utc)
        return [tree]

    def instance(self, name, attached=(), files=()):
        extra = [{'key': 'volume-%s' % v, 'value': 'disk-%s' % v}
                 for v in attached]
        devices = [{'key': 3000 + i, 'capacityInKB': 1,
                    'backing': {'fileName': f}}
                   for i, f in enumerate(files)]
        self.objects.append((self._ref(), {
            'name': name, 'config.extraConfig': extra,
            'config.hardware.device': devices}))

    def parsed(self):
        return listing.parse(self.objects)


class ParseTest(testtools.TestCase):

    def test_backings_and_instances(self):
        vc = FakeVCenter()
        vid = vc.backing(size_gb=2, snapshots=['s1', 's2'])
        vc.instance('plain-vm')
        vc.instance('web-1', attached=[vid],
                    files=['[DS1] volume-%s/volume-%s.vmdk' % (vid, vid)])
        backings, instances = vc.parsed()
        self.assertEqual([vid], [b.volume_id for b in backings])
        backing = backings[0]
        self.assertEqual(2.0, backing.size_gb)
        self.assertEqual(['DS1'], backing.datastores)
        self.assertEqual({'s1', 's2'}, set(backing.snapshots))
        self.assertEqual(['web-1'], [i.name for i in instances])
        listing.link_attachments(backings, instances)
        self.assertEqual(['web-1'], backing.attached_to)

    def test_mark_without_the_disk_is_not_an_attachment(self):
        vc = FakeVCenter()
        vid = vc.backing()
        vc.instance('stale-mark', attached=[vid],
                    files=['[DS1] other/other.vmdk'])
        backings, instances = vc.parsed()
        listing.link_attachments(backings, instances)
        self.assertEqual([], backings[0].attached_to)

    def test_unmanaged_vm_with_managed_false_is_ignored(self):
        vc = FakeVCenter()
        vc.backing(extra={specs.KEY_MANAGED: 'false'})
        backings, instances = vc.parsed()
        self.assertEqual([], backings)

    def test_empty_array_properties(self):
        # suds parses an empty array as ''.
        objects = [(R('VirtualMachine', 'vm-1'),
                    {'name': 'x', 'config.extraConfig': '',
                     'datastore': '', 'snapshot': None})]
        self.assertEqual(([], []), listing.parse(objects))

    def test_markers_and_parent(self):
        vc = FakeVCenter()
        source = new_id()
        clone = new_id()
        vc.backing(source, snapshots=['snap-a'], markers={clone: 'snap-a'})
        vc.backing(clone, parent='%s:snap-a' % source)
        backings, _ = vc.parsed()
        by_id = {b.volume_id: b for b in backings}
        self.assertEqual({clone: 'snap-a'}, by_id[source].clone_markers)
        self.assertEqual('%s:snap-a' % source, by_id[clone].parent)
        self.assertIsNone(by_id[source].parent)

    def test_volume_row(self):
        vc = FakeVCenter()
        vid = vc.backing(size_gb=3, snapshots=['b', 'a'])
        backings, _ = vc.parsed()
        row = listing.volume_row(backings[0])
        self.assertEqual(vid, row['volume_id'])
        self.assertEqual(3.0, row['size_gb'])
        self.assertEqual(['a', 'b'], row['snapshots'])


class ParseVolumeIdsTest(testtools.TestCase):

    def test_ids_comments_and_blanks(self):
        a, b = new_id(), new_id()
        ids = audit.parse_volume_ids(['# cinder ids', '', '  %s ' % a,
                                      b.upper()])
        self.assertEqual({a, b}, ids)

    def test_a_line_that_is_not_an_id_is_an_error(self):
        err = self.assertRaises(ValueError, audit.parse_volume_ids,
                                [new_id(), '| ID | Name |'])
        self.assertIn('line 2', str(err))


class FindTest(testtools.TestCase):

    def find(self, vc, known, **kw):
        backings, instances = vc.parsed()
        return audit.find(backings, known, instances, **kw)

    def kinds(self, findings):
        return sorted((f.kind, f.volume_id, f.item) for f in findings)

    def test_nothing_to_report(self):
        vc = FakeVCenter()
        a = vc.backing()
        self.assertEqual([], self.find(vc, {a}))

    def test_orphaned_backing(self):
        vc = FakeVCenter()
        known = vc.backing()
        orphan = vc.backing()
        findings = self.find(vc, {known})
        self.assertEqual([(audit.ORPHAN, orphan, None)],
                         self.kinds(findings))
        self.assertTrue(findings[0].fixable)
        self.assertEqual('move to quarantine', findings[0].action())

    def test_failed_clone(self):
        vc = FakeVCenter()
        source = new_id()
        clone = new_id()
        vc.backing(source, snapshots=['clone-%s' % clone],
                   markers={clone: 'clone-%s' % clone})
        vc.backing(clone, parent='%s:clone-%s' % (source, clone))
        findings = self.find(vc, {source})
        # The temporary snapshot and the marker still protect the clone
        # while it exists: only the clone itself is reported.
        self.assertEqual([(audit.FAILED_CLONE, clone, None)],
                         self.kinds(findings))
        self.assertTrue(findings[0].fixable)

    def test_stale_marker_and_temporary_snapshot(self):
        vc = FakeVCenter()
        gone = new_id()
        source = vc.backing(snapshots=['snapshot-1', 'clone-%s' % gone],
                            markers={gone: 'clone-%s' % gone})
        findings = self.find(vc, {source})
        self.assertEqual(
            sorted([(audit.STALE_MARKER, source,
                     specs.KEY_CLONE_PREFIX + gone),
                    (audit.STALE_SNAPSHOT, source, 'clone-%s' % gone)]),
            self.kinds(findings))
        snap = [f for f in findings if f.kind == audit.STALE_SNAPSHOT][0]
        self.assertEqual('VirtualMachineSnapshot', snap.item_ref.type)

    def test_cinder_snapshots_are_never_temporary(self):
        vc = FakeVCenter()
        source = vc.backing(snapshots=['snapshot-%s' % new_id()])
        self.assertEqual([], self.find(vc, {source}))

    def test_clone_known_to_cinder_without_backing_is_left_alone(self):
        # A linked clone being created: Cinder knows its id, the marker
        # and the snapshot exist, the backing not yet.
        vc = FakeVCenter()
        creating = new_id()
        source = vc.backing(snapshots=['clone-%s' % creating],
                            markers={creating: 'clone-%s' % creating})
        self.assertEqual([], self.find(vc, {source, creating}))

    def test_marker_copied_into_a_clone_is_stale(self):
        # vCenter copies extraConfig into clones: a full clone of a source
        # carries the source's marker for a linked clone of the source.
        vc = FakeVCenter()
        source, linked, full = new_id(), new_id(), new_id()
        vc.backing(source, snapshots=['snap'], markers={linked: 'snap'})
        vc.backing(linked, parent='%s:snap' % source)
        vc.backing(full, markers={linked: 'snap'})
        findings = self.find(vc, {source, linked, full})
        self.assertEqual(
            [(audit.STALE_MARKER, full, specs.KEY_CLONE_PREFIX + linked)],
            self.kinds(findings))
        self.assertIn('copied', findings[0].detail)

    def test_orphan_a_known_clone_depends_on_is_kept(self):
        vc = FakeVCenter()
        orphan, known_clone = new_id(), new_id()
        vc.backing(orphan, snapshots=['s'], markers={known_clone: 's'})
        vc.backing(known_clone, parent='%s:s' % orphan)
        findings = self.find(vc, {known_clone})
        self.assertEqual([(audit.ORPHAN, orphan, None)],
                         self.kinds(findings))
        self.assertFalse(findings[0].fixable)
        self.assertIn(known_clone, findings[0].blocked)
        self.assertEqual([], audit.removal_order(findings,
                                                 vc.parsed()[0]))

    def test_kept_orphans_propagate_up_a_chain(self):
        # top <- middle (orphan linked clone) <- known linked clone
        vc = FakeVCenter()
        top, middle, known = new_id(), new_id(), new_id()
        vc.backing(top, snapshots=['a'], markers={middle: 'a'})
        vc.backing(middle, parent='%s:a' % top, snapshots=['b'],
                   markers={known: 'b'})
        vc.backing(known, parent='%s:b' % middle)
        findings = {f.volume_id: f for f in self.find(vc, {known})}
        self.assertEqual({top, middle}, set(findings))
        self.assertFalse(findings[top].fixable)
        self.assertFalse(findings[middle].fixable)

    def test_orphan_with_orphan_clone_is_removed_after_it(self):
        vc = FakeVCenter()
        top, clone = new_id(), new_id()
        vc.backing(top, snapshots=['s'], markers={clone: 's'})
        vc.backing(clone, parent='%s:s' % top)
        backings, instances = vc.parsed()
        findings = audit.find(backings, set(), instances)
        order = audit.removal_order(findings, backings)
        self.assertEqual([clone, top], [f.volume_id for f in order])

    def test_attached_orphan_is_kept(self):
        vc = FakeVCenter()
        orphan = vc.backing()
        vc.instance('db-1', attached=[orphan])
        findings = self.find(vc, set())
        self.assertFalse(findings[0].fixable)
        self.assertIn('db-1', findings[0].blocked)

    def test_removal_order_small_items_first(self):
        vc = FakeVCenter()
        gone = new_id()
        source = vc.backing(snapshots=['clone-%s' % gone],
                            markers={gone: 'clone-%s' % gone})
        orphan = vc.backing()
        backings, instances = vc.parsed()
        findings = audit.find(backings, {source}, instances)
        order = [(f.kind, f.volume_id) for f in
                 audit.removal_order(findings, backings)]
        self.assertEqual([(audit.STALE_MARKER, source),
                          (audit.STALE_SNAPSHOT, source),
                          (audit.ORPHAN, orphan)], order)

    def test_summary_counts_every_kind(self):
        vc = FakeVCenter()
        vc.backing()
        counts = audit.summary(self.find(vc, set()))
        self.assertEqual({audit.ORPHAN: 1, audit.FAILED_CLONE: 0,
                          audit.STALE_MARKER: 0, audit.STALE_SNAPSHOT: 0,
                          audit.DUPLICATE: 0, audit.RESTORE: 0,
                          'interrupted-migration': 0},
                         counts)


class FakeOps:
    """Records the VolumeOps calls of the fixer."""

    def __init__(self, extra=None):
        self.calls = []
        self.extra = extra or {}

    def properties(self, ref, paths):
        self.calls.append(('properties', ref.value))
        options = [types.SimpleNamespace(key=k, value=v)
                   for k, v in self.extra.get(ref.value, {}).items()]
        return {'config.extraConfig': options}

    def set_extra_config(self, ref, entries, target):
        self.calls.append(('set_extra_config', ref.value, entries))

    def remove_snapshot(self, ref, target):
        self.calls.append(('remove_snapshot', ref.value))

    def destroy(self, ref, target):
        self.calls.append(('destroy', ref.value))

    def ensure_folder(self, root, path):
        self.calls.append(('ensure_folder', root.value, path))
        return R('Folder', 'quarantine-of-%s' % root.value)

    def move_into_folder(self, folder, vms, target):
        self.calls.append(('move_into_folder', folder.value,
                           [vm.value for vm in vms]))


class FixerTest(testtools.TestCase):

    def _scenario(self):
        vc = FakeVCenter()
        self.source, self.clone, self.gone = new_id(), new_id(), new_id()
        vc.backing(self.source,
                   snapshots=['clone-%s' % self.clone, 'clone-%s' % self.gone],
                   markers={self.clone: 'clone-%s' % self.clone,
                            self.gone: 'snapshot-x'})
        vc.backing(self.clone, parent='%s:clone-%s' % (self.source,
                                                       self.clone))
        self.backings, instances = vc.parsed()
        self.refs = {b.volume_id: b.ref for b in self.backings}
        return audit.find(self.backings, {self.source}, instances)

    def test_fix_in_order(self):
        findings = self._scenario()
        ops = FakeOps({self.refs[self.clone].value: {
            specs.KEY_VOLUME_ID: self.clone}})
        fixer = audit_fix.Fixer(ops, self.backings, {self.source},
                                clock=lambda: NOW)
        for finding in audit.removal_order(findings, self.backings):
            fixer.fix(finding)
        src, clone = self.refs[self.source].value, self.refs[self.clone].value
        source = [b for b in self.backings if b.volume_id == self.source][0]
        self.assertEqual([
            # Both keys of the marker are blanked.
            ('properties', src),
            ('set_extra_config', src,
             cleared(self.gone)),
            ('remove_snapshot',
             source.snapshots['clone-%s' % self.gone].value),
            # The failed clone is quarantined, not destroyed: its source
            # keeps the marker and the snapshot it reads from.
            ('properties', clone),
            ('set_extra_config', clone,
             {specs.KEY_QUARANTINED: str(NOW)}),
        ], ops.calls)

    def test_refuses_a_vm_that_is_no_longer_the_backing(self):
        findings = self._scenario()
        failed = [f for f in findings if f.kind == audit.FAILED_CLONE][0]
        ops = FakeOps({self.refs[self.clone].value: {
            specs.KEY_VOLUME_ID: new_id()}})
        fixer = audit_fix.Fixer(ops, self.backings, {self.source})
        self.assertRaises(ValueError, fixer.fix, failed)
        self.assertNotIn('destroy', [c[0] for c in ops.calls])

    def test_never_destroys_a_known_volume(self):
        findings = self._scenario()
        failed = [f for f in findings if f.kind == audit.FAILED_CLONE][0]
        ops = FakeOps()
        fixer = audit_fix.Fixer(ops, self.backings, {self.source, self.clone})
        self.assertRaises(ValueError, fixer.fix, failed)
        self.assertEqual([], ops.calls)

    def test_refuses_a_kept_finding(self):
        finding = audit.Finding(audit.ORPHAN, new_id(), R('VirtualMachine',
                                                          'vm-1'), 'x',
                                blocked='attached')
        ops = FakeOps()
        self.assertRaises(ValueError, audit_fix.Fixer(ops, [], set()).fix,
                          finding)
        self.assertEqual([], ops.calls)


NOW = 1800000000
HOUR = 3600


class MinAgeTest(testtools.TestCase):
    """Objects made after the id list was taken are skipped, not removed."""

    def find(self, vc, known, min_age=HOUR):
        self.backings, instances = vc.parsed()
        return audit.find(self.backings, known, instances, min_age=min_age,
                          now=NOW)

    def test_listing_reads_times(self):
        vc = FakeVCenter()
        clone = new_id()
        vc.backing(created=NOW - 5, snapshots=['a', 'b'],
                   markers={clone: 'a'}, since={clone: NOW - 7},
                   snapshot_times={'a': NOW - 9})
        (backing,), _ = vc.parsed()
        self.assertEqual(NOW - 5, backing.created)
        self.assertEqual(NOW - 7, backing.marker_since(clone))
        self.assertEqual({'a': NOW - 9}, backing.snapshot_times)

    def test_epoch_seconds(self):
        self.assertEqual(0, listing.epoch_seconds(
            datetime.datetime(1970, 1, 1)))
        self.assertEqual(3600, listing.epoch_seconds(
            '1970-01-01T02:00:00+01:00'))
        self.assertEqual(60, listing.epoch_seconds('1970-01-01T00:01:00Z'))
        self.assertIsNone(listing.epoch_seconds(None))
        self.assertIsNone(listing.epoch_seconds('yesterday'))

    def test_recent_orphan_is_skipped(self):
        vc = FakeVCenter()
        known = vc.backing(created=NOW - 2 * HOUR)
        young = vc.backing(created=NOW - 60)
        (finding,) = self.find(vc, {known})
        self.assertEqual((audit.ORPHAN, young), (finding.kind,
                                                 finding.volume_id))
        self.assertTrue(finding.recent)
        self.assertFalse(finding.fixable)
        self.assertEqual('recent, skipped', finding.action())
        self.assertEqual(NOW - 60, finding.as_dict()['since'])
        self.assertEqual([], audit.problems([finding]))
        self.assertEqual(0, audit.summary([finding])[audit.ORPHAN])
        self.assertEqual([], audit.removal_order([finding], self.backings))
        ops = FakeOps()
        self.assertRaises(ValueError,
                          audit_fix.Fixer(ops, self.backings, {known}).fix,
                          finding)
        self.assertEqual([], ops.calls)

    def test_old_orphan_is_fixed(self):
        vc = FakeVCenter()
        known = vc.backing(created=NOW - 2 * HOUR)
        old = vc.backing(created=NOW - HOUR - 1)
        (finding,) = self.find(vc, {known})
        self.assertEqual(old, finding.volume_id)
        self.assertFalse(finding.recent)
        self.assertTrue(finding.fixable)
        self.assertEqual([finding], audit.problems([finding]))
        ref = finding.ref.value
        ops = FakeOps({ref: {specs.KEY_VOLUME_ID: old,
                             specs.KEY_CREATED: str(NOW - HOUR - 1)}})
        fixer = audit_fix.Fixer(ops, self.backings, {known}, min_age=HOUR,
                                clock=lambda: NOW)
        for item in audit.removal_order([finding], self.backings):
            fixer.fix(item)
        self.assertEqual([('properties', ref),
                          ('set_extra_config', ref,
                           {specs.KEY_QUARANTINED: str(NOW)})], ops.calls)

    def test_orphan_without_a_time_counts_as_old(self):
        vc = FakeVCenter()
        known = vc.backing(created=NOW)
        old = vc.backing()
        (finding,) = self.find(vc, {known})
        self.assertEqual(old, finding.volume_id)
        self.assertIsNone(finding.since)
        self.assertTrue(finding.fixable)

    def test_min_age_zero_skips_nothing(self):
        vc = FakeVCenter()
        vc.backing(created=NOW)
        (finding,) = self.find(vc, set(), min_age=0)
        self.assertFalse(finding.recent)
        self.assertTrue(finding.fixable)

    def test_old_orphan_a_recent_clone_depends_on_is_kept(self):
        vc = FakeVCenter()
        source, clone = new_id(), new_id()
        vc.backing(source, created=NOW - 2 * HOUR, snapshots=['s'],
                   markers={clone: 's'}, since={clone: NOW - 60})
        vc.backing(clone, parent='%s:s' % source, created=NOW - 30)
        findings = {f.volume_id: f for f in self.find(vc, set())
                    if f.kind in (audit.ORPHAN, audit.FAILED_CLONE)}
        self.assertTrue(findings[clone].recent)
        self.assertFalse(findings[source].recent)
        self.assertFalse(findings[source].fixable)
        self.assertIn(clone, findings[source].blocked)

    def test_marker_with_recent_since_is_skipped(self):
        # A linked clone being made: marker and snapshot on its source,
        # no clone backing yet, the id not in the (older) list.
        vc = FakeVCenter()
        creating = new_id()
        snap = 'clone-%s' % creating
        source = vc.backing(created=NOW - 2 * HOUR, snapshots=[snap],
                            markers={creating: snap},
                            since={creating: NOW - 20},
                            snapshot_times={snap: NOW - 2 * HOUR})
        findings = self.find(vc, {source})
        self.assertEqual(
            sorted([(audit.STALE_MARKER, specs.KEY_CLONE_PREFIX + creating),
                    (audit.STALE_SNAPSHOT, snap)]),
            sorted((f.kind, f.item) for f in findings))
        # The snapshot the recent marker names is kept with it, even though
        # its own time is old (it was taken for the same clone).
        self.assertTrue(all(f.recent for f in findings))
        self.assertEqual([], audit.problems(findings))
        self.assertEqual([], audit.removal_order(findings, self.backings))

    def test_marker_without_since_counts_as_old(self):
        vc = FakeVCenter()
        gone = new_id()
        source = vc.backing(created=NOW, markers={gone: 'snapshot-x'})
        (finding,) = self.find(vc, {source})
        self.assertEqual(audit.STALE_MARKER, finding.kind)
        self.assertIsNone(finding.since)
        self.assertTrue(finding.fixable)
        ref = finding.ref.value
        ops = FakeOps({ref: {specs.KEY_CLONE_PREFIX + gone: 'snapshot-x'}})
        audit_fix.Fixer(ops, self.backings, {source}, min_age=HOUR,
                        clock=lambda: NOW).fix(finding)
        self.assertEqual([('properties', ref),
                          ('set_extra_config', ref,
                           {specs.KEY_CLONE_PREFIX + gone: '',
                            specs.KEY_CLONE_SINCE_PREFIX + gone: ''})],
                         ops.calls)

    def test_old_marker_is_fixable(self):
        vc = FakeVCenter()
        gone = new_id()
        source = vc.backing(markers={gone: 'snapshot-x'},
                            since={gone: NOW - HOUR})
        (finding,) = self.find(vc, {source})
        self.assertEqual(NOW - HOUR, finding.since)
        self.assertTrue(finding.fixable)

    def test_marker_set_again_meanwhile_is_kept(self):
        vc = FakeVCenter()
        gone = new_id()
        source = vc.backing(markers={gone: 'snapshot-x'},
                            since={gone: NOW - 2 * HOUR})
        (finding,) = self.find(vc, {source})
        ref = finding.ref.value
        ops = FakeOps({ref: {
            specs.KEY_CLONE_PREFIX + gone: 'clone-%s' % gone,
            specs.KEY_CLONE_SINCE_PREFIX + gone: str(NOW - 5)}})
        fixer = audit_fix.Fixer(ops, self.backings, {source}, min_age=HOUR,
                                clock=lambda: NOW)
        err = self.assertRaises(ValueError, fixer.fix, finding)
        self.assertIn('set again', str(err))
        self.assertEqual([('properties', ref)], ops.calls)

    def test_backing_made_again_meanwhile_is_kept(self):
        vc = FakeVCenter()
        orphan = vc.backing(created=NOW - 2 * HOUR)
        (finding,) = self.find(vc, set())
        ref = finding.ref.value
        ops = FakeOps({ref: {specs.KEY_VOLUME_ID: orphan,
                             specs.KEY_CREATED: str(NOW - 5)}})
        fixer = audit_fix.Fixer(ops, self.backings, set(), min_age=HOUR,
                                clock=lambda: NOW)
        self.assertRaises(ValueError, fixer.fix, finding)
        self.assertEqual([('properties', ref)], ops.calls)

    def test_recent_temporary_snapshot_is_skipped(self):
        vc = FakeVCenter()
        young, old = 'clone-%s' % new_id(), 'clone-%s' % new_id()
        source = vc.backing(created=NOW - 2 * HOUR, snapshots=[young, old],
                            snapshot_times={young: NOW - 10,
                                            old: NOW - 2 * HOUR})
        findings = {f.item: f for f in self.find(vc, {source})}
        self.assertEqual({young, old}, set(findings))
        self.assertTrue(findings[young].recent)
        self.assertEqual(NOW - 10, findings[young].since)
        self.assertFalse(findings[old].recent)
        self.assertEqual([findings[old]],
                         audit.removal_order(list(findings.values()),
                                             self.backings))

    def test_temporary_snapshot_without_a_time_counts_as_old(self):
        vc = FakeVCenter()
        snap = 'clone-%s' % new_id()
        source = vc.backing(snapshots=[snap])
        (finding,) = self.find(vc, {source})
        self.assertTrue(finding.fixable)

    def test_real_clock_default(self):
        vc = FakeVCenter()
        vc.backing(created=time.time())
        backings, instances = vc.parsed()
        (finding,) = audit.find(backings, set(), instances, min_age=HOUR)
        self.assertTrue(finding.recent)


class MinAgeOptionTest(testtools.TestCase):

    def test_default_is_an_hour(self):
        args = manage.parse_args(['audit', '--volume-ids', 'f'])
        self.assertEqual(3600, args.min_age)
        self.assertEqual(audit.DEFAULT_MIN_AGE, args.min_age)

    def test_value(self):
        args = manage.parse_args(['audit', '--volume-ids', 'f',
                                  '--min-age', '0'])
        self.assertEqual(0, args.min_age)

    def test_bad_values(self):
        for value in ('-1', 'soon', '1.5'):
            err = self.assertRaises(SystemExit, manage.parse_args,
                                    ['audit', '--volume-ids', 'f',
                                     '--min-age', value])
            self.assertEqual(2, err.code)

    def test_documented_in_help(self):
        help_text = manage.build_parser()._subparsers._group_actions[
            0].choices['audit'].format_help()
        self.assertIn('--min-age SECONDS', help_text)
        self.assertIn('recent, skipped', help_text)
