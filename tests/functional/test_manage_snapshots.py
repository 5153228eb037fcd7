"""Import of an existing snapshot of a volume's backing, and unmanage."""

from tests.functional import lifecycle_base as lb
from tests.functional import test_manage
from vmware_backend import exceptions


class ManageSnapshotTest(test_manage.ManageTestBase):

    def vsphere_snapshot(self, volume, name):
        return self.session.invoke_task(
            'CreateSnapshot_Task', self.find(volume.id), name=name,
            description='made outside Cinder', memory=False, quiesce=False)

    def test_adopt_delete_and_unmanage(self):
        volume = self.create(size=2)
        self.vsphere_snapshot(volume, 'nightly')
        snapshot = lb.make_snapshot(volume)
        existing = {'source-name': 'nightly'}
        self.assertEqual(2, self.driver.manage_existing_snapshot_get_size(
            snapshot, existing))
        self.driver.manage_existing_snapshot(snapshot, existing)
        self.assertEqual([snapshot.name],
                         self.state(volume.id).snapshot_names)
        # Retried: no-op.
        self.driver.manage_existing_snapshot(snapshot, existing)
        # Cinder's operations find it.
        self.driver.revert_to_snapshot(None, volume, snapshot)
        self.driver.unmanage_snapshot(snapshot)
        self.assertEqual(['unmanaged-%s' % snapshot.id],
                         self.state(volume.id).snapshot_names)
        # And it can be imported again, by moref.
        again = lb.make_snapshot(volume)
        [tree] = [t for t, _d in lb.vsphere_ops.snapshot_trees(
            self.state(volume.id).props)]
        self.driver.manage_existing_snapshot(again, {
            'source-id': lb.vsphere_ops.moref_value(tree.snapshot)})
        self.driver.delete_snapshot(again)
        self.assertEqual([], self.state(volume.id).snapshot_names)

    def test_refusals(self):
        volume = self.create(size=1)
        self.vsphere_snapshot(volume, 'dup')
        self.vsphere_snapshot(volume, 'dup')
        self.vsphere_snapshot(volume, 'clone-%s' % lb.base.new_id())
        cinder_made = lb.make_snapshot(volume)
        self.driver.create_snapshot(cinder_made)
        names = self.state(volume.id).snapshot_names
        for existing, words in (
                ({'source-name': 'nope'}, 'no snapshot nope'),
                ({'source-name': 'dup'}, 'ambiguous'),
                ({'source-name': names[2]}, 'temporary snapshot'),
                ({'source-name': cinder_made.name}, 'already managed'),
                ({}, 'source-name')):
            err = self.assertRaises(
                exceptions.InvalidReference,
                self.driver.manage_existing_snapshot,
                lb.make_snapshot(volume), existing)
            self.assertIn(words, str(err))
        self.assertEqual(names, self.state(volume.id).snapshot_names)

    def test_manageable_snapshots_listed_then_imported(self):
        volume = self.create(size=2, host='node1@vmware-1#LocalDS_0')
        self.vsphere_snapshot(volume, 'nightly')
        self.vsphere_snapshot(volume, 'dup')
        self.vsphere_snapshot(volume, 'dup')
        known = lb.make_snapshot(volume)
        self.driver.create_snapshot(known)
        # (create_snapshot removes clone-* snapshots whose clone is gone.)
        self.vsphere_snapshot(volume, 'clone-%s' % lb.base.new_id())
        stale = 'snapshot-%s' % lb.base.new_id()
        self.vsphere_snapshot(volume, stale)
        # A backing of Cinder's in-tree driver, with a snapshot.
        foreign, foreign_uuid, foreign_name = self.foreign_vm(
            extra={'cinder.volume.id': 'in-tree'},
            name='volume-%s' % lb.base.new_id())
        self.session.invoke_task(
            'CreateSnapshot_Task', foreign, name='theirs', memory=False,
            quiesce=False)
        trees = {t.name: str(lb.vsphere_ops.moref_value(t.snapshot))
                 for t, _d in lb.vsphere_ops.snapshot_trees(
                     self.state(volume.id).props) if t.name != 'dup'}
        dups = sorted(str(lb.vsphere_ops.moref_value(t.snapshot))
                      for t, _d in lb.vsphere_ops.snapshot_trees(
                          self.state(volume.id).props) if t.name == 'dup')

        calls = self.session.total_requests()
        entries = self.driver.get_manageable_snapshots(
            [known], None, 1000, 0, ['reference'], ['asc'])
        self.assertLess(self.session.total_requests() - calls, 20)
        mine = {tuple(e['reference'].items())[0]: e for e in entries
                if e['source_reference'] == {'source-id': volume.id}}
        self.assertEqual(6, len(mine))

        def entry(key, value):
            return mine[(key, value)]

        nightly = entry('source-name', 'nightly')
        self.assertEqual(
            {'reference': {'source-name': 'nightly'}, 'size': 2,
             'safe_to_manage': True, 'reason_not_safe': None,
             'cinder_id': None,
             'source_reference': {'source-id': volume.id}},
            {k: v for k, v in nightly.items() if k != 'extra_info'})
        self.assertEqual(volume.id, nightly['extra_info']['volume_id'])
        self.assertEqual(trees['nightly'],
                         nightly['extra_info']['snapshot_moref'])
        self.assertEqual('LocalDS_0', nightly['extra_info']['datastore'])
        for moref in dups:
            self.assertTrue(entry('source-id', moref)['safe_to_manage'])
        [clone] = [n for n in trees if n.startswith('clone-')]
        self.assertEqual('a temporary snapshot of a linked clone',
                         entry('source-name', clone)['reason_not_safe'])
        made = entry('source-name', known.name)
        self.assertEqual((False, known.id),
                         (made['safe_to_manage'], made['cinder_id']))
        self.assertIn('already managed', made['reason_not_safe'])
        stale_entry = entry('source-name', stale)
        self.assertEqual((False, None), (stale_entry['safe_to_manage'],
                                         stale_entry['cinder_id']))
        [theirs] = [e for e in entries
                    if e['extra_info']['backing'] == foreign_name]
        self.assertEqual({'source-name': 'theirs'}, theirs['reference'])
        self.assertFalse(theirs['safe_to_manage'])
        self.assertIn('import it first (source-id %s)' % foreign_uuid,
                      theirs['reason_not_safe'])

        # Paging: after the marker, sorted by reference.
        page = self.driver.get_manageable_snapshots(
            [known], {'source-name': 'nightly'}, 2, 0, ['reference'],
            ['asc'])
        whole = [e['reference'] for e in entries]
        at = whole.index({'source-name': 'nightly'})
        self.assertEqual(whole[at + 1:at + 3],
                         [e['reference'] for e in page])

        # What is listed as safe imports; then it is listed as managed.
        adopted = lb.make_snapshot(volume)
        self.driver.manage_existing_snapshot(adopted, nightly['reference'])
        self.assertIn(adopted.name, self.state(volume.id).snapshot_names)
        again = self.driver.get_manageable_snapshots(
            [known, adopted], None, 1000, 0, ['reference'], ['asc'])
        [now] = [e for e in again
                 if e['reference'] == {'source-name': adopted.name}]
        self.assertEqual((False, adopted.id),
                         (now['safe_to_manage'], now['cinder_id']))
        self.assertFalse([e for e in again
                          if e['reference'] == {'source-name': 'nightly'}])
