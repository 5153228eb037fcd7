"""The VI/JSON codec, both ways, against real vCenter samples.

The samples (tests/fixtures/vijson) were recorded from a vCenter 8.0.2; the
expected plain values are written out here.
"""

import datetime
import json
import os

import testtools

from vmware_backend.vsphere.json import codec
from vmware_backend.vsphere.json import reader
from vmware_backend.vsphere.json import schema
from vmware_backend.vsphere.refs import MoRef

FIXTURES = os.path.join(os.path.dirname(__file__), '..', 'fixtures',
                        'vijson')
UTC = datetime.timezone.utc
VIEW = MoRef('ContainerView', 'session[522ef2eb-3b02-cc2c-d7ce-2b5d852a4863]'
             '5215d630-a04c-cfad-bef5-7990f6958bb5')


def sample(name):
    with open(os.path.join(FIXTURES, name)) as f:
        return json.load(f)


class DecodeSamplesTest(testtools.TestCase):

    def test_service_content(self):
        self.assertEqual({
            'rootFolder': MoRef('Folder', 'group-d1'),
            'propertyCollector': MoRef('PropertyCollector',
                                       'propertyCollector'),
            'viewManager': MoRef('ViewManager', 'ViewManager'),
            'about': {'name': 'VMware vCenter Server'},
        }, codec.decode(sample('service_content.json')))

    def test_user_session_dates_are_datetimes(self):
        when = datetime.datetime(2023, 12, 28, 10, 30, 7, 269899, tzinfo=UTC)
        self.assertEqual({
            'key': '52a87a24-29a8-2aaa-5cdc-1c9b8035bd85',
            'userName': 'VSPHERE.LOCAL\\Administrator',
            'fullName': 'Administrator vsphere.local',
            'loginTime': when, 'lastActiveTime': when,
            'locale': 'en', 'messageLocale': 'en',
            'extensionSession': False, 'ipAddress': '192.168.50.179',
            'userAgent': 'Python/3.11 aiohttp/3.9.1', 'callCount': 0,
        }, codec.decode(sample('user_session.json')))

    def test_container_view_reference(self):
        self.assertEqual(VIEW, codec.decode(sample('container_view.json')))

    def test_object_content_wrapped_string(self):
        result = {'_typeName': 'RetrieveResult',
                  'objects': [sample('object_content.json')]}
        self.assertEqual(
            [(MoRef('HostSystem', 'host-66'), {'name': '192.168.50.47'})],
            list(codec.object_contents(result)))
        self.assertEqual([], codec.missing_faults(result))


class EncodeSamplesTest(testtools.TestCase):

    def test_the_published_request_body(self):
        # The article's RetrievePropertiesEx body, written with the codec.
        body = {
            'options': codec.Typed('RetrieveOptions', maxObjects=5),
            'specSet': [codec.Typed(
                'PropertyFilterSpec',
                objectSet=[codec.Typed(
                    'ObjectSpec', obj=VIEW, skip=True,
                    selectSet=[codec.Typed(
                        'TraversalSpec', name='traverseEntities',
                        path='view', skip=False, type='ContainerView')])],
                propSet=[
                    codec.Typed('PropertySpec', all=False,
                                type='VirtualMachine',
                                pathSet=['name', 'summary.guest.ipAddress']),
                    codec.Typed('PropertySpec', all=False, type='HostSystem',
                                pathSet=['name'])],
                reportMissingObjectsInResults=False)],
        }
        self.assertEqual(sample('retrieve_properties_ex_request.json'),
                         codec.encode(body))

    def test_the_readers_filter_has_the_published_shape(self):
        spec = codec.encode(reader.filter_spec(
            VIEW, {'VirtualMachine': ['name', 'summary.guest.ipAddress'],
                   'HostSystem': ['name']}))
        published = sample('retrieve_properties_ex_request.json')
        expected = published['specSet'][0]
        del expected['reportMissingObjectsInResults']   # optional
        expected['objectSet'][0]['selectSet'][0]['name'] = \
            'traverseContainerView'                     # a free name
        self.assertEqual(expected, spec)

    def test_moref_and_dates(self):
        when = datetime.datetime(2023, 12, 28, 12, 30, 7, 5, tzinfo=UTC)
        self.assertEqual(
            {'ref': {'_typeName': 'ManagedObjectReference',
                     'type': 'Folder', 'value': 'group-d1'},
             'at': '2023-12-28T12:30:07.000005Z', 'n': [1, 2]},
            codec.encode({'ref': MoRef('Folder', 'group-d1'), 'at': when,
                          'n': (1, 2), 'unset': None}))


class DecodeRulesTest(testtools.TestCase):

    def test_wrapped_values(self):
        self.assertEqual('poweredOn', codec.decode(
            {'_typeName': 'VirtualMachinePowerState', '_value': 'poweredOn'}))
        self.assertEqual(True, codec.decode(
            {'_typeName': 'boolean', '_value': True}))
        self.assertEqual(1099511627776, codec.decode(
            {'_typeName': 'long', '_value': 1099511627776}))
        self.assertEqual(
            [{'key': 'a', 'value': 'b'}],
            codec.decode({'_typeName': 'ArrayOfOptionValue', '_value': [
                {'_typeName': 'OptionValue', 'key': 'a',
                 'value': {'_typeName': 'string', '_value': 'b'}}]}))
        self.assertEqual(
            [MoRef('VirtualMachine', 'vm-1')],
            codec.decode({'_typeName': 'ArrayOfManagedObjectReference',
                          '_value': [{'_typeName': 'ManagedObjectReference',
                                      'type': 'VirtualMachine',
                                      'value': 'vm-1'}]}))
        self.assertEqual(
            datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
            codec.decode({'_typeName': 'dateTime',
                          '_value': '2024-01-02T03:04:05Z'}))

    def test_schema_dates_inside_nested_objects(self):
        tree = {'_typeName': 'VirtualMachineSnapshotInfo',
                'rootSnapshotList': [
                    {'_typeName': 'VirtualMachineSnapshotTree', 'name': 's1',
                     'createTime': '2024-05-06T07:08:09.5Z',
                     'childSnapshotList': []}]}
        expected = {'rootSnapshotList': [{
            'name': 's1', 'childSnapshotList': [],
            'createTime': datetime.datetime(2024, 5, 6, 7, 8, 9, 500000,
                                            tzinfo=UTC)}]}
        self.assertEqual(expected, codec.decode(tree))

    def test_nanoseconds_round_to_microseconds_as_suds_does(self):
        # The simulator writes Go's nanoseconds; suds rounds half up on the
        # seventh digit, and both transports must give the same datetime.
        utc = datetime.timezone.utc
        self.assertEqual(
            datetime.datetime(2026, 12, 4, 22, 50, 10, 632036, tzinfo=utc),
            codec.parse_date('2026-12-04T22:50:10.632035712Z'))
        self.assertEqual(
            datetime.datetime(2026, 12, 4, 22, 50, 10, 632035, tzinfo=utc),
            codec.parse_date('2026-12-04T22:50:10.6320354Z'))
        self.assertEqual(
            datetime.datetime(2026, 12, 4, 22, 50, 11, 0, tzinfo=utc),
            codec.parse_date('2026-12-04T22:50:10.9999995Z'))
        self.assertEqual(
            datetime.datetime(2026, 12, 4, 22, 50, 10, 500000,
                              tzinfo=datetime.timezone(
                                  datetime.timedelta(hours=2))),
            codec.parse_date('2026-12-04T22:50:10.5+02:00'))

    def test_a_date_looking_name_stays_a_string(self):
        self.assertEqual({'name': '2024-05-06T07:08:09Z'}, codec.decode(
            {'_typeName': 'VirtualMachineSnapshotTree',
             'name': '2024-05-06T07:08:09Z'}))

    def test_empty_string_field_is_none_as_suds_reads_it(self):
        tree = {'_typeName': 'VirtualDeviceDeviceBackingInfo',
                'deviceName': '', 'useAutoDetect': False}
        self.assertEqual({'deviceName': None, 'useAutoDetect': False},
                         codec.decode(tree))

    def test_missing_set_faults(self):
        result = {'objects': [{
            'obj': {'_typeName': 'ManagedObjectReference',
                    'type': 'VirtualMachine', 'value': 'vm-9'},
            'missingSet': [{'_typeName': 'MissingProperty', 'path': 'name',
                            'fault': {'_typeName': 'LocalizedMethodFault',
                                      'fault': {'_typeName':
                                                'NotAuthenticated'}}}]}]}
        self.assertEqual([('name', 'NotAuthenticated')],
                         codec.missing_faults(result))


class SchemaTest(testtools.TestCase):

    def test_inherited_and_own_date_fields(self):
        dates = schema.date_fields()
        self.assertEqual(frozenset({'loginTime', 'lastActiveTime'}),
                         dates['UserSession'])
        self.assertEqual(frozenset({'createTime'}),
                         dates['VirtualMachineSnapshotTree'])
        self.assertEqual(frozenset({'queueTime', 'startTime',
                                    'completeTime'}), dates['TaskInfo'])
        self.assertNotIn('VirtualDisk', dates)
