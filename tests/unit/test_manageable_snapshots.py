"""Which vSphere snapshots the manageable-snapshot listing offers."""

import datetime

import testtools

from vmware_backend.volume import manageable_snapshots as ms
from vmware_backend.vsphere import inventory
from vmware_backend.vsphere import specs
from vmware_backend.vsphere import vm_disks

GIB = 1024 * 1024
HOST = inventory.MoRef('HostSystem', 'host-1')
VOLUME = '11111111-2222-3333-4444-555555555555'
SNAP_ID = 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee'


def tree(name, value, children=()):
    return {'name': name, 'snapshot': inventory.MoRef(
        'VirtualMachineSnapshot', value), 'description': 'd-' + name,
        'createTime': datetime.datetime(2026, 1, 2, 3, 4, 5),
        'childSnapshotList': list(children)}


def backing(snapshots, extra, name='volume-x', host=HOST, kb=GIB + 1):
    file_name = '[ds1] %s/%s.vmdk' % (name, name)
    disk = vm_disks.Disk(key=2000, file_name=file_name, capacity_kb=kb,
                         controller_key=1000, unit_number=0)
    return vm_disks.VM(
        ref=inventory.MoRef('VirtualMachine', 'vm-' + name), name=name,
        inventory_path='DC0/vm/' + name, instance_uuid='uuid-' + name,
        powered_on=False, template=False, has_snapshots=bool(snapshots),
        host=host, extra=extra, disks=[disk],
        snapshots=vm_disks.snapshots_of({'rootSnapshotList': snapshots}))


OURS = {specs.KEY_MANAGED: 'true', specs.KEY_VOLUME_ID: VOLUME}


class SnapshotsOfTest(testtools.TestCase):

    def test_tree_flattened_depth_first(self):
        found = vm_disks.snapshots_of({'rootSnapshotList': [
            tree('a', 's-1', [tree('b', 's-2', [tree('c', 's-3')]),
                              tree('d', 's-4')])]})
        self.assertEqual([('a', 's-1', 0), ('b', 's-2', 1), ('c', 's-3', 2),
                          ('d', 's-4', 1)],
                         [(s.name, s.moref, s.depth) for s in found])
        self.assertEqual([], vm_disks.snapshots_of(None))
        self.assertEqual([], vm_disks.snapshots_of({}))


class CandidatesTest(testtools.TestCase):

    def test_entries(self):
        vms = [backing([tree('nightly', 's-1', [
            tree('dup', 's-2'), tree('dup', 's-3'),
            tree('clone-x', 's-4'),
            tree('snapshot-' + SNAP_ID, 's-5')])], OURS)]
        entries = {tuple(e['reference'].items())[0]: e
                   for e in ms.snapshot_candidates(vms, {SNAP_ID})}
        self.assertEqual(
            {('source-name', 'nightly'), ('source-id', 's-2'),
             ('source-id', 's-3'), ('source-name', 'clone-x'),
             ('source-name', 'snapshot-' + SNAP_ID)}, set(entries))
        nightly = entries[('source-name', 'nightly')]
        self.assertEqual({
            'reference': {'source-name': 'nightly'}, 'size': 2,
            'safe_to_manage': True, 'reason_not_safe': None,
            'cinder_id': None, 'source_reference': {'source-id': VOLUME},
            'extra_info': {'volume_id': VOLUME, 'backing': 'volume-x',
                           'snapshot_moref': 's-1',
                           'description': 'd-nightly',
                           'created': '2026-01-02T03:04:05',
                           'datastore': 'ds1'}}, nightly)
        self.assertTrue(entries[('source-id', 's-2')]['safe_to_manage'])
        self.assertEqual('a temporary snapshot of a linked clone',
                         entries[('source-name', 'clone-x')]
                         ['reason_not_safe'])
        managed = entries[('source-name', 'snapshot-' + SNAP_ID)]
        self.assertEqual((False, SNAP_ID, 'already managed (Cinder snapshot '
                          '%s)' % SNAP_ID),
                         (managed['safe_to_manage'], managed['cinder_id'],
                          managed['reason_not_safe']))
        # Cinder does not know it: no cinder_id, still not safe.
        [unknown] = [e for e in ms.snapshot_candidates(vms, set())
                     if e['reference'] == managed['reference']]
        self.assertEqual((False, None), (unknown['safe_to_manage'],
                                         unknown['cinder_id']))

    def test_foreign_backing_not_safe_and_others_left_out(self):
        foreign = backing([tree('theirs', 's-9')],
                          {'cinder.volume.id': 'x'}, name='volume-f')
        plain_vm = backing([tree('mine', 's-8')], {}, name='web')
        elsewhere = backing([tree('far', 's-7')], OURS, name='volume-e',
                            host=inventory.MoRef('HostSystem', 'host-9'))
        no_snaps = backing([], OURS, name='volume-n')
        [entry] = ms.snapshot_candidates(
            [foreign, plain_vm, elsewhere, no_snaps], set(), hosts={HOST})
        self.assertEqual({'source-name': 'theirs'}, entry['reference'])
        self.assertEqual({'source-id': 'uuid-volume-f'},
                         entry['source_reference'])
        self.assertFalse(entry['safe_to_manage'])
        self.assertEqual('the backing volume-f is not a volume of this '
                         'backend; import it first (source-id '
                         'uuid-volume-f)', entry['reason_not_safe'])

    def test_cinder_snapshot_id(self):
        self.assertEqual(SNAP_ID, ms.cinder_snapshot_id('snapshot-' + SNAP_ID))
        self.assertIsNone(ms.cinder_snapshot_id('snapshot-1'))
        self.assertIsNone(ms.cinder_snapshot_id(None))
