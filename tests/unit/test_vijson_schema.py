"""The xsd:dateTime field table: carried precomputed, never stale."""

import os
from unittest import mock

import fixtures
import testtools

from vmware_backend.vsphere.json import schema

XSD_HEAD = ('<?xml version="1.0"?>\n<schema xmlns="http://www.w3.org/2001/'
            'XMLSchema" xmlns:vim25="urn:vim25">\n')
BASE = ('<complexType name="Event"><sequence>'
        '<element name="key" type="xsd:int"/>'
        '<element name="createdTime" type="xsd:dateTime"/>'
        '</sequence></complexType>\n')
CHILD = ('<complexType name="VmEvent"><complexContent>'
         '<extension base="vim25:Event"><sequence>'
         '<element name="vm" type="xsd:string"/>'
         '</sequence></extension></complexContent></complexType>\n')
EXTRA = ('<complexType name="Stamp"><sequence>'
         '<element name="at" type="xsd:dateTime"/>'
         '</sequence></complexType>\n')


class ShippedTableTest(testtools.TestCase):

    def test_shipped_table_is_made_from_the_installed_schemas(self):
        paths = schema.schema_paths()
        table = schema.load_table(schema.TABLE_FILE, schema.digest(paths))
        self.assertIsNotNone(
            table, '%s was not made from the installed oslo.vmware schema '
            'files: run python -m vmware_backend.vsphere.json.schema'
            % schema.TABLE_FILE)
        self.assertEqual(schema.parse_table(paths), table)
        self.assertEqual(frozenset({'loginTime', 'lastActiveTime'}),
                         table['UserSession'])
        self.assertEqual(frozenset({'queueTime', 'startTime',
                                    'completeTime'}), table['TaskInfo'])

    def test_matching_digest_does_not_parse(self):
        with mock.patch.object(schema, 'parse_table') as parse:
            table = schema.date_fields_for(schema.schema_paths())
        parse.assert_not_called()
        self.assertEqual(frozenset({'createTime'}),
                         table['VirtualMachineSnapshotTree'])


class OtherSchemaTest(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.dir = self.useFixture(fixtures.TempDir()).path
        self.paths = [os.path.join(self.dir, name)
                      for name in ('a-types.xsd', 'b-types.xsd')]
        self.write(0, BASE)
        self.write(1, CHILD)
        self.table_file = os.path.join(self.dir, 'table.json')
        with open(self.table_file, 'w') as handle:
            handle.write(schema.table_text(self.paths))

    def write(self, index, body):
        with open(self.paths[index], 'w') as handle:
            handle.write(XSD_HEAD + body + '</schema>\n')

    def test_table_of_these_files_is_used(self):
        with mock.patch.object(schema, 'parse_table') as parse:
            table = schema.date_fields_for(self.paths, self.table_file)
        parse.assert_not_called()
        self.assertEqual({'Event': frozenset({'createdTime'}),
                          'VmEvent': frozenset({'createdTime'})}, table)

    def test_changed_file_is_parsed_not_the_stale_table(self):
        self.write(1, CHILD + EXTRA)
        table = schema.date_fields_for(self.paths, self.table_file)
        self.assertEqual({'Event': frozenset({'createdTime'}),
                          'VmEvent': frozenset({'createdTime'}),
                          'Stamp': frozenset({'at'})}, table)

    def test_same_size_edit_changes_the_digest(self):
        before = schema.digest(self.paths)
        self.write(0, BASE.replace('createdTime', 'createdTimf'))
        self.assertNotEqual(before, schema.digest(self.paths))
        table = schema.date_fields_for(self.paths, self.table_file)
        self.assertEqual({'Event': frozenset({'createdTimf'}),
                          'VmEvent': frozenset({'createdTimf'})}, table)

    def test_missing_and_empty_files_differ(self):
        os.unlink(self.paths[1])
        missing = schema.digest(self.paths)
        with open(self.paths[1], 'w'):
            pass
        self.assertNotEqual(missing, schema.digest(self.paths))

    def test_unreadable_table_file_is_parsed_around(self):
        with open(self.table_file, 'w') as handle:
            handle.write('{"format": 1, "digest": ')
        table = schema.date_fields_for(self.paths, self.table_file)
        self.assertEqual({'Event': frozenset({'createdTime'}),
                          'VmEvent': frozenset({'createdTime'})}, table)
        self.assertIsNone(schema.load_table(
            os.path.join(self.dir, 'absent.json'), schema.digest(self.paths)))

    def test_other_format_is_not_used(self):
        text = schema.table_text(self.paths).replace(
            '"format": %d' % schema.FORMAT, '"format": 99')
        with open(self.table_file, 'w') as handle:
            handle.write(text)
        self.assertIsNone(schema.load_table(self.table_file,
                                            schema.digest(self.paths)))

    def test_main_writes_the_table(self):
        target = os.path.join(self.dir, 'written.json')
        with mock.patch.object(schema, 'schema_paths',
                               return_value=self.paths), \
                mock.patch('sys.stdout'):
            self.assertEqual(0, schema.main([target]))
        self.assertEqual(
            {'Event': frozenset({'createdTime'}),
             'VmEvent': frozenset({'createdTime'})},
            schema.load_table(target, schema.digest(self.paths)))
