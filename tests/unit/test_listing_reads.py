"""What the operator listing reads for attachments: only the needed paths.

On the recording fake session of :mod:`tests.unit.test_inventory`: the
requests' property paths and objects are checked, not timings.
"""

from suds.sax import text as sax_text
import testtools

from tests.unit import test_inventory as fake
from vmware_backend.admin import listing
from vmware_backend.vsphere import inventory

R = inventory.MoRef
VOL_A = '11111111-1111-1111-1111-111111111111'
VOL_B = '22222222-2222-2222-2222-222222222222'
MARK_A = 'config.extraConfig["volume-%s"]' % VOL_A
MARK_B = 'config.extraConfig["volume-%s"]' % VOL_B


def backing(volume_id, ref_value, datastores):
    return listing.Backing(
        ref=R('VirtualMachine', ref_value), name='volume-' + volume_id,
        volume_id=volume_id, instance_uuid=volume_id, extra={},
        datastores=[], snapshots={},
        datastore_refs=[R('Datastore', d) for d in datastores])


def option(key, value):
    return fake.suds_obj('OptionValue', key=sax_text.Text(key),
                         value=sax_text.Text(value))


def vm(value, **props):
    return fake.content(fake.moref('VirtualMachine', value), **props)


class ReadInstancesTest(testtools.TestCase):

    def retrieves(self, session):
        return [kw for m, _r, kw in session.calls
                if m == 'RetrievePropertiesEx']

    def test_reads_marks_of_the_backings_ids_then_marked_vms_only(self):
        backings = [backing(VOL_A, 'vm-1', ['ds-1']),
                    backing(VOL_B, 'vm-2', ['ds-1', 'ds-2'])]
        marks = fake.page([
            vm('vm-1'), vm('vm-2'), vm('vm-7'),
            vm('vm-8', **{MARK_B: option('volume-' + VOL_B, 'disk-b')})])
        instances = fake.page([vm(
            'vm-8', name=sax_text.Text('web-1'),
            **{listing.DEVICE_PATH: fake.suds_obj(
                'ArrayOfVirtualDevice', VirtualDevice=[])})])
        session = fake.FakeSession([marks, instances], page_size=500)

        found = listing.read_instances(session, backings)

        self.assertEqual(['RetrievePropertiesEx', 'RetrievePropertiesEx'],
                         session.methods())
        first, second = self.retrieves(session)
        (spec,) = first['specSet']
        self.assertEqual(
            [('Datastore', 'ds-1'), ('Datastore', 'ds-2')],
            [(o.obj._type, o.obj.value) for o in spec.objectSet])
        self.assertEqual(['vm', 'vm'], [o.selectSet[0].path
                                        for o in spec.objectSet])
        (prop_spec,) = spec.propSet
        self.assertEqual('VirtualMachine', prop_spec.type)
        self.assertEqual([MARK_A, MARK_B], prop_spec.pathSet)
        self.assertEqual(500, first['options'].maxObjects)
        (spec,) = second['specSet']
        self.assertEqual([('VirtualMachine', 'vm-8')],
                         [(o.obj._type, o.obj.value) for o in spec.objectSet])
        (prop_spec,) = spec.propSet
        self.assertEqual(['name', 'config.hardware.device'],
                         prop_spec.pathSet)
        self.assertEqual(1, len(found))
        self.assertEqual('web-1', found[0].name)
        self.assertEqual({VOL_B: 'disk-b'}, found[0].marks)
        self.assertEqual([], found[0].disks)

    def test_without_devices_only_the_names(self):
        backings = [backing(VOL_A, 'vm-1', ['ds-1'])]
        marks = fake.page([
            vm('vm-9', **{MARK_A: option('volume-' + VOL_A, 'x')})])
        names = fake.page([vm('vm-9', name=sax_text.Text('db-1'))])
        session = fake.FakeSession([marks, names])
        found = listing.read_instances(session, backings, devices=False)
        (_first, second) = self.retrieves(session)
        self.assertEqual(['name'], second['specSet'][0].propSet[0].pathSet)
        self.assertEqual([('db-1', None)], [(i.name, i.disks) for i in found])

    def test_no_marks_no_second_read(self):
        backings = [backing(VOL_A, 'vm-1', ['ds-1'])]
        session = fake.FakeSession([fake.page([vm('vm-1'), vm('vm-3')])])
        self.assertEqual([], listing.read_instances(session, backings))
        self.assertEqual(['RetrievePropertiesEx'], session.methods())

    def test_no_backings_no_read(self):
        session = fake.FakeSession([])
        self.assertEqual([], listing.read_instances(session, []))
        self.assertEqual([], session.methods())

    def test_many_volumes_are_read_in_chunks(self):
        ids = ['%08d-0000-0000-0000-000000000000' % n for n in range(250)]
        backings = [backing(v, 'vm-%d' % n, ['ds-1'])
                    for n, v in enumerate(ids)]
        session = fake.FakeSession([fake.page([]), fake.page([]),
                                    fake.page([])])
        listing.read_instances(session, backings)
        sizes = [len(kw['specSet'][0].propSet[0].pathSet)
                 for kw in self.retrieves(session)]
        self.assertEqual([100, 100, 50], sizes)
