"""Arguments and rendering of the storage administration commands."""

import testtools

from vmware_backend.cmd import admin_commands
from vmware_backend.cmd import admin_render
from vmware_backend.cmd import manage


class ArgumentsTest(testtools.TestCase):

    def test_every_admin_command_is_registered(self):
        for name in admin_commands.COMMANDS:
            self.assertIn(name, manage.COMMANDS)
            self.assertIn(name, manage.HANDLERS)

    def test_mutating_commands_take_yes_and_dry_run(self):
        args = manage.parse_args(['datastore-rename', 'a', 'b', '--yes',
                                  '--dry-run'])
        self.assertTrue(args.yes and args.dry_run)
        args = manage.parse_args(['sioc-set', 'ds', '--disable',
                                  '--percent', '60'])
        self.assertEqual((False, 60, False), (args.enabled, args.percent,
                                              args.yes))
        self.assertRaises(SystemExit, manage.parse_args,
                          ['sioc-set', 'ds', '--enable', '--disable'])
        # audit keeps refusing --yes without --fix.
        self.assertRaises(SystemExit, manage.parse_args,
                          ['audit', '--volume-ids', 'f', '--yes'])

    def test_create_nfs_requires_its_parameters(self):
        self.assertRaises(SystemExit, manage.parse_args,
                          ['datastore-create-nfs', '--cluster', 'c'])


class RenderTest(testtools.TestCase):

    def test_change(self):
        text = admin_render.change({
            'action': 'remove', 'datastore': 'ds', 'id': 'datastore-1',
            'dry_run': False, 'ok': False, 'detail': None,
            'hosts': [{'host': 'h1', 'status': 'failed', 'error': 'boom'}]})
        self.assertIn('remove ds (datastore-1)', text)
        self.assertIn('h1    failed  boom', text)
        self.assertIn('FAILED', text)

    def test_pool_names_lists_commands_and_unknown_names(self):
        text = admin_render.pool_names([
            {'old': 'DC0:a', 'new': 'datastore-1', 'datastore': 'a',
             'datacenter': 'DC0', 'command': 'cinder-manage x'},
            {'old': 'gone', 'new': None, 'datastore': None,
             'datacenter': None, 'command': None}])
        self.assertIn('  cinder-manage x', text)
        self.assertIn('No usable pool (or several) for: gone', text)

    def test_qos_shares(self):
        base = {'volume_id': 'v', 'backing': 'vm-1', 'disk': '[ds] d.vmdk',
                'limit_iops': 5, 'reservation_iops': None}
        self.assertIn('Shares:            high', admin_render.qos(
            dict(base, shares_level='high', shares=0)))
        self.assertIn('custom (700)', admin_render.qos(
            dict(base, shares_level='custom', shares=700)))
