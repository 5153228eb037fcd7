"""``manageable`` command: export lines, names and table rows (pure)."""

import shlex

import testtools

from vmware_backend.cmd import manage as cli
from vmware_backend.cmd import manage_commands as mc
from vmware_backend.cmd import output


def entry(reference, safe=True, vm='web', file_name='[ds1] web/web_1.vmdk',
          size=2):
    return {'reference': reference, 'size': size, 'safe_to_manage': safe,
            'reason_not_safe': None if safe else 'powered on',
            'cinder_id': None,
            'extra_info': {'datastore': 'ds1', 'file': file_name, 'vm': vm}}


class ExportTest(testtools.TestCase):

    def test_one_command_per_safe_entry(self):
        disk = entry({'source-name': '[ds1] web/web_1.vmdk@DC0/vm/apps/web'})
        backing = entry({'source-id': 'abc'}, vm='volume-abc',
                        file_name='[ds1] volume-abc/volume-abc.vmdk')
        unsafe = entry({'source-id': 'def'}, safe=False)
        items = mc.export([disk, backing, unsafe], 'node1@vmware-1')
        self.assertEqual(2, len(items))
        self.assertEqual(
            ['openstack', 'volume', 'manage', '--host',
             'node1@vmware-1#ds1', '--id-type', 'source-name', '--name',
             'web_1', '[ds1] web/web_1.vmdk@DC0/vm/apps/web'],
            shlex.split(items[0]['command']))
        self.assertEqual('volume-abc', items[1]['name'])
        self.assertEqual('source-id', items[1]['id_type'])
        self.assertEqual(2, items[1]['size'])

    def test_host_must_be_host_at_backend(self):
        for host in (None, '', 'node1', 'node1@b#pool'):
            err = self.assertRaises(output.UsageError, mc.export, [], host)
            self.assertIn('--host HOST@BACKEND', str(err))

    def test_names_are_safe(self):
        self.assertEqual('my-vm-data', mc.volume_name(entry(
            {'source-name': 'x'}, vm='my vm', file_name='[d] a/data.vmdk')))
        self.assertEqual('web_1', mc.volume_name(entry(
            {'source-name': 'x'}, vm='web', file_name='[d] a/web_1.vmdk')))

    def test_rows(self):
        rows = mc.rows([entry({'source-id': 'abc'}, safe=False)])
        self.assertEqual([{'reference': 'source-id: abc', 'size': 2,
                           'safe': 'no', 'reason': 'powered on',
                           'cinder_id': ''}], rows)


class ParserTest(testtools.TestCase):

    def test_registered(self):
        args = cli.parse_args(['manageable', '--export', '--host', 'h@b'])
        self.assertIs(mc.cmd_manageable, cli.HANDLERS[args.command])
        self.assertTrue(args.export)
        self.assertEqual('h@b', args.host)
        self.assertEqual(set(cli.COMMANDS), set(cli.HANDLERS))
