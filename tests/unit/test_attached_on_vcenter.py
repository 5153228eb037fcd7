"""A volume attached on vCenter is in use, whatever Cinder's status says.

Rule: delete, extend, snapshot and linked clone of a volume are refused when
Cinder reports it attached (``status``/``attach_status``) *or* when a VM on
the backing's datastores carries the attachment mark
``volume-<id>`` in its extraConfig (written by Nova's vmwareapi driver and
by ``attach_volume``). The vCenter side costs one RetrievePropertiesEx,
made by :meth:`VolumeOps.attachment_marks` (read through ``Datastore.vm``).
"""

import xml.etree.ElementTree as etree
from xml.sax import saxutils

from suds.sax import text as sax_text

from tests.unit import test_driver
from tests.unit import test_inventory as ti
from vmware_backend import exceptions
from vmware_backend.volume import plain_objects
from vmware_backend.vsphere import inventory
from vmware_backend.vsphere import ops as vsphere_ops
from vmware_backend.vsphere import rawsoap

MARK = {'vm-inst-7': '6000C29f-attached'}


class AttachedOnVCenterTest(test_driver.DriverTestBase):

    def setUp(self):
        super().setUp()
        self.vol = plain_objects.volume(size=1)  # status 'available'
        self.ref = self.add_backing(self.vol, snapshots=['snapshot-x'])
        self.ops.attachment_marks.return_value = dict(MARK)

    def backing_datastore(self):
        return self.vc.vms[self.ref.value]['datastore'].\
            ManagedObjectReference[0]

    def assertAskedOnce(self, datastore=None):
        self.ops.attachment_marks.assert_called_once()
        datastores, volume_id = self.ops.attachment_marks.call_args.args
        self.assertEqual(
            [inventory.from_suds(datastore or self.backing_datastore())],
            [inventory.from_suds(ds) for ds in datastores])
        self.assertEqual(self.vol.id, volume_id)

    def assertBusy(self, err):
        self.assertIn('vm-inst-7', str(err))
        self.assertIn('volume-%s' % self.vol.id, str(err))
        self.assertIn('detach it first', str(err))
        self.assertNoChange()
        self.assertAskedOnce()

    def test_delete_is_refused(self):
        err = self.assertRaises(exceptions.VolumeIsBusy,
                                self.driver.delete_volume, self.vol)
        self.assertEqual(self.vol.id, err.kwargs['volume'])
        self.assertBusy(err)

    def test_extend_is_refused(self):
        vol = plain_objects.volume(size=1)
        self.ref = self.add_backing(vol)
        self.vol = vol
        err = self.assertRaises(exceptions.VolumeIsBusy,
                                self.driver.extend_volume, vol, 2)
        self.assertBusy(err)

    def test_snapshot_is_refused(self):
        snap = plain_objects.snapshot(self.vol)
        err = self.assertRaises(exceptions.SnapshotIsBusy,
                                self.driver.create_snapshot, snap)
        self.assertEqual(snap.id, err.kwargs['snapshot'])
        self.assertIn('vm-inst-7', str(err))
        self.ops.create_snapshot.assert_not_called()
        # The marks came with the backing's own read (read_with_marks).
        self.ops.attachment_marks.assert_not_called()
        self.ops.read_with_marks.assert_called_once_with(
            self.ref, ('snapshot', 'config.instanceUuid'), self.vol.id)

    def test_linked_clone_is_refused(self):
        clone = plain_objects.volume(size=1,
                                     specs={'vmware:clone_type': 'linked'})
        err = self.assertRaises(exceptions.VolumeIsBusy,
                                self.driver.create_cloned_volume, clone,
                                self.vol)
        self.assertEqual(self.vol.id, err.kwargs['volume'])
        self.assertBusy(err)

    def test_full_clone_is_allowed(self):
        # A full clone reads the disk without a snapshot (see README's
        # known limits); it is not refused.
        self.ops.clone.side_effect = lambda vm, folder, name, spec, target: \
            self.add_backing(spec.config.instanceUuid)
        clone = plain_objects.volume(size=1)
        self.driver.create_cloned_volume(clone, self.vol)
        self.ops.attachment_marks.assert_not_called()
        self.ops.clone.assert_called_once()

    def test_not_attached_anywhere_goes_ahead(self):
        self.ops.attachment_marks.return_value = {}
        datastore = self.backing_datastore()
        self.driver.delete_volume(self.vol)
        self.ops.destroy.assert_called_once_with(self.ref, 'volume %s'
                                                 % self.vol.id)
        self.assertAskedOnce(datastore)

    def test_cinder_status_alone_still_refuses_without_asking(self):
        self.vol.status = 'in-use'
        self.ops.attachment_marks.return_value = {}
        self.assertRaises(exceptions.VolumeIsBusy,
                          self.driver.delete_volume, self.vol)
        self.ops.attachment_marks.assert_not_called()
        self.assertNoChange()


def option_value(key, value):
    return ti.suds_obj('OptionValue', key=sax_text.Text(key),
                       value=sax_text.Text(value))


def xml_page(objects, token=None):
    """A RetrievePropertiesEx reply's XML: (vm, {path: (key, mark)})."""
    parts = []
    for vm, props in objects:
        sets = ''.join(
            '<propSet><name>%s</name><val xsi:type="OptionValue"><key>%s'
            '</key><value xsi:type="xsd:string">%s</value></val></propSet>'
            % (saxutils.escape(path), key, mark)
            for path, (key, mark) in props.items())
        parts.append('<objects><obj type="VirtualMachine">%s</obj>%s'
                     '</objects>' % (vm, sets))
    return (
        '<?xml version="1.0"?><soapenv:Envelope xmlns:soapenv="http://'
        'schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/'
        '2001/XMLSchema-instance"><soapenv:Body><RetrievePropertiesExResponse'
        ' xmlns="urn:vim25"><returnval>%s%s</returnval>'
        '</RetrievePropertiesExResponse></soapenv:Body></soapenv:Envelope>'
        % ('<token>%s</token>' % token if token else '', ''.join(parts))
    ).encode()


class _RawReadCase(test_driver.testtools.TestCase):

    def sent_read(self, session):
        """The one hand-written RetrievePropertiesEx asked of ``session``.

        Checks it was the only call and went by :mod:`rawsoap`; returns its
        keyword arguments and its filter spec parsed (the fragment's xsi
        and vim25 prefixes are the envelope's).
        """
        self.assertEqual(['RetrievePropertiesEx'], session.methods())
        _method, _ref, kwargs = session.calls[0]
        self.assertIs(rawsoap.service, kwargs['via'])
        spec = etree.fromstring(
            '<w xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
            'xmlns:vim25="urn:vim25">%s</w>' % kwargs['specSet'])[0]
        return kwargs, spec


class AttachmentMarksReadTest(_RawReadCase):
    """The read: one RetrievePropertiesEx through Datastore.vm, as XML."""

    def path(self, volume_id):
        return 'config.extraConfig["volume-%s"]' % volume_id

    def test_one_call_reading_only_the_mark(self):
        path = self.path('v-1')
        session = ti.FakeSession([xml_page([
            ('vm-7', {path: ('volume-v-1', 'uuid-7')}),
            ('vm-8', {}),
            ('vm-9', {path: ('volume-v-1', '')}),
        ])])
        ops = vsphere_ops.VolumeOps(session)
        marks = ops.attachment_marks(
            [inventory.MoRef('Datastore', 'datastore-1'),
             ti.moref('Datastore', 'datastore-2')], 'v-1')
        self.assertEqual({'vm-7': 'uuid-7'}, marks)
        kwargs, spec = self.sent_read(session)
        self.assertEqual(['datastore-1', 'datastore-2'],
                         [o.findtext('obj') for o in spec.iter('objectSet')])
        for obj in spec.iter('objectSet'):
            self.assertEqual('Datastore', obj.find('obj').get('type'))
            self.assertEqual('true', obj.findtext('skip'))
            traversal, = obj.findall('selectSet')
            self.assertEqual(['readThrough', 'Datastore', 'vm', 'false'],
                             [c.text for c in traversal])
        prop, = spec.findall('propSet')
        self.assertEqual(['VirtualMachine', 'false',
                          'config.extraConfig["volume-v-1"]'],
                         [c.text for c in prop])
        # Not paged by the client: one round trip however many VMs.
        self.assertEqual([], list(etree.fromstring(kwargs['options'])))

    def test_paged_result_is_continued(self):
        path = self.path('v-2')
        session = ti.FakeSession([
            xml_page([('vm-1', {})], token='t-1'),
            xml_page([('vm-2', {path: ('volume-v-2', 'file')})]),
        ])
        marks = vsphere_ops.VolumeOps(session).attachment_marks(
            [inventory.MoRef('Datastore', 'datastore-1')], 'v-2')
        self.assertEqual({'vm-2': 'file'}, marks)
        self.assertEqual(['RetrievePropertiesEx',
                          'ContinueRetrievePropertiesEx'],
                         session.methods())
        self.assertEqual('t-1', session.calls[1][2]['token'])

    def test_no_datastore_reads_nothing(self):
        session = ti.FakeSession([])
        self.assertEqual({}, vsphere_ops.VolumeOps(session).attachment_marks(
            [], 'v-3'))
        self.assertEqual([], session.calls)

    def test_failed_continue_cancels_the_read(self):
        err = exceptions.VCenterFault(fault='SystemError',
                                      action='ContinueRetrievePropertiesEx',
                                      target='x', detail='injected')
        session = ti.FakeSession(
            [xml_page([], token='t-9')],
            fail={('ContinueRetrievePropertiesEx', 1): err})
        self.assertRaises(exceptions.VCenterFault,
                          vsphere_ops.VolumeOps(session).attachment_marks,
                          [inventory.MoRef('Datastore', 'd')], 'v-4')
        self.assertEqual(['RetrievePropertiesEx',
                          'ContinueRetrievePropertiesEx',
                          'CancelRetrievePropertiesEx'], session.methods())


class ReadWithMarksTest(_RawReadCase):
    """The backing and the marks of the VMs on its datastores, one read."""

    def test_one_read_backing_apart_from_the_marks(self):
        path = 'config.extraConfig["volume-v-5"]'
        reply = xml_page([('vm-1', {}), ('vm-2', {path: ('volume-v-5', 'f')}),
                          ('vm-3', {path: ('volume-v-5', '')})])
        # The backing's own value (vm-1) next to the marks.
        reply = reply.replace(
            b'<obj type="VirtualMachine">vm-1</obj>',
            b'<obj type="VirtualMachine">vm-1</obj><propSet><name>'
            b'config.instanceUuid</name><val xsi:type="xsd:string">v-5</val>'
            b'</propSet>')
        session = ti.FakeSession([reply])
        props = vsphere_ops.VolumeOps(session).read_with_marks(
            ti.moref('VirtualMachine', 'vm-1'), ('config.instanceUuid',),
            'v-5')
        self.assertEqual({'config.instanceUuid': 'v-5',
                          vsphere_ops.MARKS_KEY: {'vm-2': 'f'}}, props)
        kwargs, spec = self.sent_read(session)
        prop, = spec.findall('propSet')
        self.assertEqual(['VirtualMachine', 'false', 'config.instanceUuid',
                          path], [c.text for c in prop])
        obj, = spec.findall('objectSet')
        self.assertEqual(('vm-1', 'false'),
                         (obj.findtext('obj'), obj.findtext('skip')))
        to_ds, = obj.findall('selectSet')
        self.assertEqual(['vmDatastores', 'VirtualMachine', 'datastore',
                          'true'], [c.text for c in to_ds][:4])
        to_vms, = to_ds.findall('selectSet')
        self.assertEqual(['datastoreVms', 'Datastore', 'vm', 'false'],
                         [c.text for c in to_vms])

    def test_backing_not_reported_has_no_values(self):
        session = ti.FakeSession([xml_page([])])
        props = vsphere_ops.VolumeOps(session).read_with_marks(
            ti.moref('VirtualMachine', 'vm-1'), ('snapshot',), 'v-6')
        self.assertEqual({vsphere_ops.MARKS_KEY: {}}, props)
