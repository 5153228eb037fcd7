"""Import decisions: references, refusals, sizes, listing and its pages."""

import json

import testtools

from vmware_backend import exceptions
from vmware_backend.volume import manage_refs as refs
from vmware_backend.vsphere import inventory
from vmware_backend.vsphere import specs
from vmware_backend.vsphere import vm_disks

GIB = 1024 * 1024
HOST = inventory.MoRef('HostSystem', 'host-1')
OTHER_HOST = inventory.MoRef('HostSystem', 'host-9')


def disk(file_name, kb=GIB, parent=None, key=2000):
    return vm_disks.Disk(key=key, file_name=file_name, capacity_kb=kb,
                         controller_key=1000, unit_number=0,
                         parent_file=parent, disk_type='thin')


def vm(name, disks, uuid=None, powered_on=False, snapshots=False,
       extra=None, host=HOST, template=False):
    return vm_disks.VM(
        ref=inventory.MoRef('VirtualMachine', 'vm-' + name), name=name,
        inventory_path='DC0/vm/' + name, instance_uuid=uuid or 'uuid-' + name,
        powered_on=powered_on, template=template, has_snapshots=snapshots,
        host=host, extra=extra or {}, disks=disks)


class ParseReferenceTest(testtools.TestCase):

    def test_forms(self):
        self.assertEqual(
            refs.Reference(refs.VM_DISK, '[ds1] vm1/vm1_1.vmdk', 'DC1/vm/vm1',
                           None),
            refs.parse_reference(
                {'source-name': '[ds1] vm1/vm1_1.vmdk@DC1/vm/vm1'}))
        self.assertEqual(
            refs.Reference(refs.LOOSE, '[ds 2] a b/c.vmdk', None, None),
            refs.parse_reference({'source-name': '[ds 2] a b/c.vmdk'}))
        self.assertEqual(refs.Reference(refs.VM, None, None, 'vm-12'),
                         refs.parse_reference({'source-id': ' vm-12 '}))

    def test_bad_references_name_the_problem(self):
        for existing, words in (
                ('x', 'is not a dict'),
                ({}, 'exactly one of'),
                ({'source-id': 'a', 'source-name': 'b'}, 'exactly one of'),
                ({'source-id': ''}, 'non-empty string'),
                ({'source-name': 'disk.vmdk'}, 'neither'),
                ({'source-name': '[ds] a.vmdk@'}, 'expected'),
                ({'source-name': 'a.vmdk@DC0/vm/x'}, 'expected')):
            err = self.assertRaises(exceptions.InvalidReference,
                                    refs.parse_reference, existing)
            self.assertIn(words, str(err))

    def test_split_file(self):
        self.assertEqual(('ds', 'a/b', 'c.vmdk'),
                         refs.split_file('[ds] a/b/c.vmdk'))
        self.assertEqual(('ds', '', 'c.vmdk'), refs.split_file('[ds] c.vmdk'))


class SizeTest(testtools.TestCase):

    def test_rounded_up_to_whole_gib(self):
        self.assertEqual(1, refs.size_gb(GIB))
        self.assertEqual(2, refs.size_gb(GIB + 1))
        self.assertEqual(1, refs.size_gb(1))
        self.assertFalse(refs.needs_growth(3 * GIB))
        self.assertTrue(refs.needs_growth(3 * GIB - 1))


class RefusalTest(testtools.TestCase):

    def refusal(self, owner, target, *others):
        vms = [v for v in (owner,) + others if v is not None]
        return refs.disk_refusal(owner, target, vm_disks.file_users(vms),
                                 vm_disks.parent_files(vms))

    def test_safe(self):
        d = disk('[ds] a/a.vmdk')
        self.assertIsNone(self.refusal(vm('a', [d]), d))
        self.assertIsNone(self.refusal(None, d))

    def test_each_reason(self):
        d = disk('[ds] a/a.vmdk')
        self.assertIn('powered-on VM a',
                      self.refusal(vm('a', [d], powered_on=True), d))
        self.assertIn('snapshot chain',
                      self.refusal(vm('a', [d], snapshots=True), d))
        self.assertIn('template', self.refusal(vm('a', [d], template=True), d))
        self.assertIn('already managed by a vmware_backend backend (volume '
                      'v1)', self.refusal(vm('a', [d], extra={
                          specs.KEY_MANAGED: 'true',
                          specs.KEY_VOLUME_ID: 'v1'}), d))
        delta = disk('[ds] a/a-1.vmdk', parent='[ds] base/b.vmdk')
        self.assertIn('delta of [ds] base/b.vmdk',
                      self.refusal(vm('a', [delta]), delta))
        child = vm('child', [disk('[ds] c/c.vmdk', parent='[ds] a/a.vmdk')])
        self.assertIn('parent of linked clone(s) child',
                      self.refusal(vm('a', [d]), d, child))
        self.assertIn('parent of linked clone(s) child',
                      self.refusal(None, d, child))
        other = vm('b', [disk('[ds] a/a.vmdk')])
        self.assertIn('also attached to VM(s) b',
                      self.refusal(vm('a', [d]), d, other))
        self.assertIn('also attached to VM(s) b', self.refusal(None, d, other))

    def test_vm_needs_one_disk(self):
        two = vm('a', [disk('[ds] a/1.vmdk'), disk('[ds] a/2.vmdk')])
        self.assertIn('has 2 disks', refs.vm_refusal(two, {}, {}))
        self.assertIn('has 0 disks', refs.vm_refusal(vm('e', []), {}, {}))


class CandidatesTest(testtools.TestCase):

    def test_kinds_and_marks(self):
        in_tree = vm('volume-x', [disk('[ds] volume-x/volume-x.vmdk')],
                     extra={'cinder.volume.id': 'x'})
        ours = vm('volume-v1', [disk('[ds] v1/v1.vmdk')], uuid='v1',
                  extra={specs.KEY_MANAGED: 'true',
                         specs.KEY_VOLUME_ID: 'v1'})
        instance = vm('inst', [disk('[ds] inst/inst.vmdk'),
                               disk('[ds] v1/v1.vmdk', key=2001),
                               disk('[ds] inst/data.vmdk', GIB + 5,
                                    key=2002)], powered_on=True)
        elsewhere = vm('far', [disk('[ds] far/far.vmdk')], host=OTHER_HOST)
        entries = refs.candidates([in_tree, ours, instance, elsewhere],
                                  {'v1'}, hosts={HOST})
        by_ref = {json.dumps(e['reference'], sort_keys=True): e
                  for e in entries}
        self.assertEqual(4, len(entries), entries)
        tree = by_ref['{"source-id": "uuid-volume-x"}']
        self.assertTrue(tree['safe_to_manage'])
        self.assertIsNone(tree['cinder_id'])
        mine = by_ref['{"source-id": "v1"}']
        self.assertFalse(mine['safe_to_manage'])
        self.assertEqual('v1', mine['cinder_id'])
        # The volume's disk attached to the instance is not offered again.
        data = by_ref['{"source-name": "[ds] inst/data.vmdk@DC0/vm/inst"}']
        self.assertEqual(2, data['size'])
        self.assertFalse(data['safe_to_manage'])
        self.assertIn('powered-on VM inst', data['reason_not_safe'])
        self.assertEqual({'datastore': 'ds', 'file': '[ds] inst/data.vmdk',
                          'disk_type': 'thin', 'vm': 'inst',
                          'vm_id': 'vm-inst'}, data['extra_info'])
        self.assertIn('{"source-name": "[ds] inst/inst.vmdk@DC0/vm/inst"}',
                      by_ref)

    def test_duplicate_instance_uuid_is_offered_by_moref(self):
        a = vm('volume-a', [disk('[ds] a/a.vmdk')], uuid='same')
        b = vm('volume-b', [disk('[ds] b/b.vmdk')], uuid='same')
        entries = refs.candidates([a, b], set())
        self.assertEqual([{'source-id': 'vm-volume-a'},
                          {'source-id': 'vm-volume-b'}],
                         sorted((e['reference'] for e in entries),
                                key=lambda r: r['source-id']))


class PaginateTest(testtools.TestCase):

    def entries(self):
        return [{'reference': {'source-name': name}, 'size': size}
                for name, size in (('b', 2), ('a', 2), ('c', 1), ('d', 3))]

    def names(self, page):
        return [e['reference']['source-name'] for e in page]

    def test_sort_and_page(self):
        entries = self.entries()
        self.assertEqual(['d', 'a', 'b', 'c'], self.names(refs.paginate(
            entries, None, 10, 0, ['size', 'reference'], ['desc', 'asc'])))
        self.assertEqual(['c', 'a'], self.names(refs.paginate(
            entries, None, 2, 0, ['size', 'reference'], ['asc', 'asc'])))
        self.assertEqual(['b', 'd'], self.names(refs.paginate(
            entries, {'source-name': 'a'}, 2, 0, ['size', 'reference'],
            ['asc', 'asc'])))
        self.assertEqual(['d'], self.names(refs.paginate(
            entries, json.dumps({'source-name': 'a'}), 2, 1,
            ['size', 'reference'], ['asc', 'asc'])))
        self.assertEqual(['b', 'c'], self.names(refs.paginate(
            entries, None, 2, 1, ['reference'], ['asc'])))

    def test_bad_input(self):
        for args, words in (
                ((None, 1, 0, ['name'], ['asc']), "sort key 'name'"),
                ((None, 1, 0, ['size'], ['up']), "sort dir 'up'"),
                (('{bad', 1, 0, ['size'], ['asc']), 'not JSON'),
                (({'source-name': 'zz'}, 1, 0, ['size'], ['asc']),
                 'not found')):
            err = self.assertRaises(exceptions.InvalidReference,
                                    refs.paginate, self.entries(), *args)
            self.assertIn(words, str(err))


class ParseInventoryTest(testtools.TestCase):

    def test_paths_and_disks(self):
        dc = inventory.MoRef('Datacenter', 'dc-1')
        root = inventory.MoRef('Folder', 'group-v1')
        sub = inventory.MoRef('Folder', 'group-v2')
        ref = inventory.MoRef('VirtualMachine', 'vm-1')
        objects = [
            (dc, {'name': 'DC0', 'vmFolder': root}),
            (root, {'name': 'vm', 'parent': dc}),
            (sub, {'name': 'apps', 'parent': root}),
            (ref, {'name': 'web', 'parent': sub,
                   'config.instanceUuid': 'u1',
                   'runtime.powerState': 'poweredOff',
                   'snapshot': {'rootSnapshotList': [{'name': 's'}]},
                   'config.hardware.device': [
                       {'key': 1000, 'busNumber': 0},
                       {'key': 2000, 'controllerKey': 1000, 'unitNumber': 0,
                        'capacityInKB': 5,
                        'backing': {'fileName': '[ds] web/web.vmdk',
                                    'thinProvisioned': False,
                                    'eagerlyScrub': True,
                                    'parent': {'fileName': '[ds] b.vmdk'}}}],
                   'config.extraConfig': [{'key': 'k', 'value': 'v'}]}),
        ]
        [parsed] = vm_disks.parse(objects)
        self.assertEqual('DC0/vm/apps/web', parsed.inventory_path)
        self.assertEqual(root, parsed.vm_folder)
        self.assertTrue(parsed.has_snapshots)
        self.assertFalse(parsed.powered_on)
        self.assertEqual({'k': 'v'}, parsed.extra)
        [d] = parsed.disks
        self.assertEqual(('[ds] web/web.vmdk', 5, '[ds] b.vmdk',
                          'eagerZeroedThick', 'ds'),
                         (d.file_name, d.capacity_kb, d.parent_file,
                          d.disk_type, d.datastore_name))


class LooseCandidatesTest(testtools.TestCase):

    def test_loose_files(self):
        used = disk('[ds] a/a.vmdk')
        owner = vm('a', [used])
        child = vm('c', [disk('[ds] c/c.vmdk', parent='[ds] base/b.vmdk')])
        files = [disk('[ds] a/a.vmdk'), disk('[ds] free/f.vmdk', GIB + 1),
                 disk('[ds] base/b.vmdk'), disk('[ds] s/s-000001.vmdk')]
        vms = [owner, child]
        entries = refs.loose_candidates(files, vm_disks.file_users(vms),
                                        vm_disks.parent_files(vms))
        by_ref = {e['reference']['source-name']: e for e in entries}
        self.assertEqual({'[ds] free/f.vmdk', '[ds] base/b.vmdk',
                          '[ds] s/s-000001.vmdk'}, set(by_ref))
        self.assertTrue(by_ref['[ds] free/f.vmdk']['safe_to_manage'])
        self.assertEqual(2, by_ref['[ds] free/f.vmdk']['size'])
        self.assertIn('parent of linked clone(s) c',
                      by_ref['[ds] base/b.vmdk']['reason_not_safe'])
        self.assertIn('snapshot delta',
                      by_ref['[ds] s/s-000001.vmdk']['reason_not_safe'])
