"""vmware-backend-manage: arguments, configuration, output, check report."""

import io
import json
import os
import tempfile

import fixtures
import testtools

from vmware_backend.admin import health
from vmware_backend.cmd import commands
from vmware_backend.cmd import formatting
from vmware_backend.cmd import manage
from vmware_backend.cmd import output as cmd_output
from vmware_backend.cmd import render
from vmware_backend import exceptions
from vmware_backend.volume import datastore
from vmware_backend.vsphere import inventory

R = inventory.MoRef
SECRET = 'S3cret-Passw0rd'


def write_ini(test, text):
    fd, path = tempfile.mkstemp(suffix='.ini')
    with os.fdopen(fd, 'w') as ini:
        ini.write(text)
    test.addCleanup(os.unlink, path)
    return path


class ArgumentsTest(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.stderr = self.useFixture(fixtures.MonkeyPatch(
            'sys.stderr', io.StringIO())).new_value

    def test_global_options_before_the_command(self):
        args = manage.parse_args(['--config-file', 'a.ini', '--format',
                                  'json', 'pools'])
        self.assertEqual(('pools', ['a.ini'], 'json'),
                         (args.command, args.config_file, args.format))

    def test_global_options_after_the_command(self):
        args = manage.parse_args(['volumes', '--format', 'json',
                                  '--config-file', 'b.ini', '-v'])
        self.assertEqual(('json', ['b.ini'], True),
                         (args.format, args.config_file, args.verbose))

    def test_defaults(self):
        args = manage.parse_args(['check'])
        self.assertEqual(('table', None, False, False),
                         (args.format, args.config_file, args.verbose,
                          args.debug))

    def test_a_command_is_required(self):
        err = self.assertRaises(SystemExit, manage.parse_args, [])
        self.assertEqual(2, err.code)

    def test_unknown_format(self):
        err = self.assertRaises(SystemExit, manage.parse_args,
                                ['--format', 'yaml', 'pools'])
        self.assertEqual(2, err.code)

    def test_audit_needs_volume_ids(self):
        err = self.assertRaises(SystemExit, manage.parse_args, ['audit'])
        self.assertEqual(2, err.code)
        self.assertIn('--volume-ids', self.stderr.getvalue())

    def test_audit_options(self):
        args = manage.parse_args(['audit', '--volume-ids', '-', '--fix',
                                  '--yes'])
        self.assertEqual(('-', True, True),
                         (args.volume_ids, args.fix, args.yes))

    def test_yes_without_fix_is_refused(self):
        err = self.assertRaises(SystemExit, manage.parse_args,
                                ['audit', '--volume-ids', 'f', '--yes'])
        self.assertEqual(2, err.code)

    def test_demo_instance(self):
        args = manage.parse_args(['demo', '--instance', 'vm-42'])
        self.assertEqual('vm-42', args.instance)

    def test_every_command_has_help(self):
        parser = manage.build_parser()
        text = ' '.join(parser.format_help().split())
        # Written out, not read from manage.COMMANDS.
        for command, summary in (
                ('check', 'validate the configuration and the connection '
                          'to vCenter'),
                ('pools', 'list the datastores usable as pools'),
                ('volumes', 'list the volume backings this backend '
                            'manages'),
                ('audit', 'find leftovers Cinder does not know; '
                          'quarantine, restore, purge'),
                ('demo', 'run the volume lifecycle and show what each step '
                         'costs')):
            self.assertIn('%s %s' % (command, summary), text)


class ConfigTest(testtools.TestCase):

    def test_missing_file(self):
        err = self.assertRaises(cmd_output.UsageError, manage.config_files,
                                '/nonexistent/x.ini')
        self.assertIn('/nonexistent/x.ini', str(err))

    def test_options_are_read_from_the_vmware_group(self):
        path = write_ini(self, '[vmware]\nvcenter_host = vc.example.org\n'
                               'vcenter_username = admin\n'
                               'vcenter_password = %s\n'
                               'vcenter_cluster_names = A, B\n' % SECRET)
        config = manage.load_config(manage.config_files(path))
        from vmware_backend import conf
        options = conf.read_options(config)
        self.assertEqual('vc.example.org', options['vcenter_host'])
        self.assertEqual(['A', 'B'], options['vcenter_cluster_names'])

    def test_unparsable_file(self):
        path = write_ini(self, 'this is not an ini file\n')
        self.assertRaises(cmd_output.UsageError, manage.load_config, [path])


class MainTest(testtools.TestCase):
    """main() in-process, for the paths that never reach vCenter."""

    def setUp(self):
        super().setUp()
        self.stdout = self.useFixture(fixtures.MonkeyPatch(
            'sys.stdout', io.StringIO())).new_value
        self.stderr = self.useFixture(fixtures.MonkeyPatch(
            'sys.stderr', io.StringIO())).new_value

    def test_bad_option_value_is_a_usage_error_naming_it(self):
        path = write_ini(self, '[vmware]\nvcenter_port = many\n')
        self.assertEqual(2, manage.main(['--config-file', path, 'pools']))
        self.assertIn('vcenter_port', self.stderr.getvalue())

    def test_missing_credentials_is_a_usage_error(self):
        path = write_ini(self, '[vmware]\nvcenter_host = vc\n')
        self.assertEqual(2, manage.main(['--config-file', path, 'check']))
        self.assertIn('vcenter_username', self.stderr.getvalue())

    def test_commands_need_a_vcenter(self):
        path = write_ini(self, '[vmware]\n')
        for command in (['pools'], ['volumes']):
            self.assertEqual(2, manage.main(['--config-file', path] +
                                            command))
        self.assertIn('vcenter_host is not set', self.stderr.getvalue())

    def test_check_without_vcenter(self):
        path = write_ini(self, '[vmware]\n')
        self.assertEqual(2, manage.main(['--config-file', path, '--format',
                                         'json', 'check']))
        report = json.loads(self.stdout.getvalue())
        self.assertFalse(report['ok'])
        self.assertEqual('vcenter_host is not set',
                         report['problems'][0]['problem'])

    def test_audit_rejects_a_bad_ids_file_before_connecting(self):
        path = write_ini(self, '[vmware]\nvcenter_host = 192.0.2.1\n'
                               'vcenter_username = u\n'
                               'vcenter_password = p\n')
        ids = write_ini(self, 'ID\n')
        self.assertEqual(2, manage.main(['--config-file', path, 'audit',
                                         '--volume-ids', ids]))
        self.assertIn('line 1', self.stderr.getvalue())


class VolumeIdsTest(testtools.TestCase):

    def test_from_stdin(self):
        ids = commands.read_volume_ids(
            '-', stdin=io.StringIO('1e2c4a5e-96f0-4d2b-9d5b-0c1f8f2d1a3b\n'))
        self.assertEqual({'1e2c4a5e-96f0-4d2b-9d5b-0c1f8f2d1a3b'}, ids)

    def test_process_stdin_is_read_once_for_every_reader(self):
        stdin = self.useFixture(fixtures.MonkeyPatch(
            'sys.stdin', io.StringIO('1e2c4a5e-96f0-4d2b-9d5b-0c1f8f2d1a3b\n'
                                     ))).new_value
        first = commands.read_volume_ids('-')
        second = commands.read_volume_ids('-')
        self.assertEqual({'1e2c4a5e-96f0-4d2b-9d5b-0c1f8f2d1a3b'}, first)
        self.assertEqual(first, second)
        self.assertEqual('', stdin.read())

    def test_unreadable_file(self):
        err = self.assertRaises(cmd_output.UsageError,
                                commands.read_volume_ids, '/nonexistent/ids')
        self.assertIn('/nonexistent/ids', str(err))

    def test_confirm(self):
        err = io.StringIO()
        self.assertTrue(commands.confirm('Go?', io.StringIO('y\n'), err))
        self.assertFalse(commands.confirm('Go?', io.StringIO('\n'), err))
        self.assertFalse(commands.confirm('Go?', io.StringIO(''), err))
        self.assertIn('Go? [y/N]', err.getvalue())


class OutputTest(testtools.TestCase):

    def test_json_and_table(self):
        out, err = io.StringIO(), io.StringIO()
        output = cmd_output.Output('json', out, err)
        output.result({'b': R('Datastore', 'ds-1'), 'a': {1, 2}}, None)
        self.assertEqual({'a': [1, 2], 'b': 'ds-1'},
                         json.loads(out.getvalue()))
        out.truncate(0)
        out.seek(0)
        cmd_output.Output('table', out, err).result({'x': 1},
                                                    lambda d: 'X=%s' % d['x'])
        self.assertEqual('X=1\n', out.getvalue())

    def test_the_password_is_never_written(self):
        out, err = io.StringIO(), io.StringIO()
        output = cmd_output.Output('table', out, err, secret=SECRET)
        output.result('login %s failed' % SECRET, str)
        output.progress('retrying with %s' % SECRET)
        output.error('bad %s' % SECRET)
        self.assertNotIn(SECRET, out.getvalue() + err.getvalue())
        self.assertIn('***', out.getvalue())


class FormattingTest(testtools.TestCase):

    def test_table_aligns_columns(self):
        text = formatting.table([('a', 'A'), ('b', 'LONG B')],
                                [{'a': 'xxxx', 'b': 1}, {'a': None}])
        self.assertEqual(['A     LONG B',
                          '----  ------',
                          'xxxx  1',
                          '-     -'], text.splitlines())

    def test_empty_table(self):
        text = formatting.table([('a', 'A')], [], title='T:')
        self.assertEqual(['T:', 'A', '-', '(none)'], text.splitlines())

    def test_cells(self):
        self.assertEqual('yes', formatting.cell(True))
        self.assertEqual('1.5', formatting.cell(1.5))
        self.assertEqual('900', formatting.cell(900.0))
        self.assertEqual('a, b', formatting.cell(['a', 'b']))
        self.assertEqual('-', formatting.cell([]))
        self.assertEqual('vm-1', formatting.cell(R('VirtualMachine',
                                                   'vm-1')))

    def test_gib_and_seconds(self):
        self.assertEqual('0.01', formatting.gib(0.0123))
        self.assertEqual('-', formatting.gib(None))
        self.assertEqual('0.12s', formatting.seconds(0.123))
        self.assertEqual('12.3s', formatting.seconds(12.34))

    def test_key_values(self):
        self.assertEqual('a:     1\nlong:  x',
                         formatting.key_values([('a', 1), ('long', 'x')]))


class RenderTest(testtools.TestCase):

    def test_demo_summary(self):
        report = {
            'target': 'embedded vcsim', 'instance': 'vm-1', 'ok': False,
            'seconds': 1.5, 'total_calls': 7,
            'steps': [
                {'name': 'create volume', 'status': 'ok', 'calls': 7,
                 'seconds': 0.5, 'result': 'backing vm-2', 'error': None,
                 'methods': {'CreateVM_Task': 1, 'RetrievePropertiesEx': 6}},
                {'name': 'extend volume', 'status': 'failed', 'calls': 0,
                 'seconds': 0.1, 'result': '', 'error': 'Boom: no',
                 'methods': {}},
            ]}
        text = render.demo(report)
        self.assertIn('Boom: no', text)
        self.assertIn('FAILED: extend volume.', text)
        self.assertNotIn('CreateVM_Task', text)
        self.assertIn('CreateVM_Task x1, RetrievePropertiesEx x6',
                      render.demo(report, verbose=True))

    def test_volumes(self):
        text = render.volumes([{
            'volume_id': 'v1', 'size_gb': 2.0, 'datastores': ['DS1'],
            'snapshots': ['s1', 's2'], 'attached_to': ['web-1'],
            'moref': 'vm-9', 'parent': None, 'linked_clones': {}}])
        line = text.splitlines()[2].split()
        self.assertEqual(['v1', '2', 'DS1', '2:', 's1,', 's2', 'web-1',
                          'vm-9', '-'], line)

    def test_check_lists_problems_with_hints(self):
        report = {'ok': False, 'vcenter': {'url': 'https://vc/sdk',
                                           'user': 'admin'},
                  'clusters': [], 'pools': [], 'rejected': {},
                  'problems': [health.problem('it broke', 'fix it')]}
        text = render.check(report)
        self.assertIn('- it broke\n  hint: fix it', text)
        self.assertIn('1 problem(s) found.', text)


class FakeSession:

    def __init__(self, options, error=None, about=None):
        self.url = 'https://%s:443/sdk' % options['vcenter_host']
        self.error = error
        self.closed = False
        self.service_content = type('SC', (), {'about': about})()

    @property
    def api(self):
        if self.error:
            raise self.error
        return object()

    def close(self):
        self.closed = True


class FakePlacement:

    def __init__(self, inventory_data, pools, rejected):
        self._inventory = inventory_data
        self._pools = pools
        self._rejected = rejected

    def inventory(self, refresh=False):
        return self._inventory

    def usable_pools(self):
        return self._pools

    def pools(self):
        return [datastore.pool_stats(p) for p in self._pools]

    def rejected(self):
        return self._rejected


def _inventory(clusters):
    compute = {R('ClusterComputeResource', 'c-%s' % name):
               {'name': name, 'host': [R('HostSystem', 'host-1')]}
               for name in clusters}
    return datastore.Inventory(
        datacenters={}, folders={}, compute_resources=compute,
        hosts={R('HostSystem', 'host-1'): {'name': 'esx-1'}},
        datastores={})


def _pool(name):
    return datastore.Pool(
        name=name, datastore=R('Datastore', 'ds-%s' % name),
        datastore_name=name, type='VMFS', capacity=100 * datastore.GiB,
        free=40 * datastore.GiB, uncommitted=0, reserved_percentage=0,
        max_over_subscription_ratio=1.0, hosts=(R('HostSystem', 'host-1'),))


class CheckTest(testtools.TestCase):

    options = {'vcenter_host': 'vc', 'vcenter_username': 'admin',
               'vcenter_password': SECRET, 'vcenter_cluster_names': []}

    def check(self, error=None, clusters=('C1',), pools=('DS1',),
              rejected=None, **overrides):
        about = type('About', (), {'fullName': 'VMware vCenter 8',
                                   'apiVersion': '8.0',
                                   'instanceUuid': 'u-1'})()
        self.sessions = []

        def session_factory(options):
            session = FakeSession(options, error, about)
            self.sessions.append(session)
            return session

        def placement_factory(session, options):
            return FakePlacement(_inventory(clusters),
                                 [_pool(p) for p in pools], rejected or {})

        options = dict(self.options, **overrides)
        return health.check(options, session_factory, placement_factory)

    def test_all_well(self):
        report = self.check()
        self.assertTrue(report['ok'], report['problems'])
        self.assertEqual('VMware vCenter 8', report['vcenter']['name'])
        self.assertEqual([{'name': 'C1', 'exists': True, 'hosts': 1}],
                         report['clusters'])
        self.assertEqual(['esx-1'], report['pools'][0]['hosts'])
        self.assertEqual(40.0, report['pools'][0]['free_gb'])
        self.assertTrue(self.sessions[0].closed)

    def test_bad_credentials(self):
        err = exceptions.VCenterLoginError(url='https://vc:443/sdk',
                                           user='admin',
                                           reason='Login failure')
        report = self.check(error=err)
        self.assertFalse(report['ok'])
        (entry,) = report['problems']
        self.assertIn('admin', entry['problem'])
        self.assertEqual(health.HINT_LOGIN, entry['hint'])
        self.assertNotIn(SECRET, formatting.dumps(report))
        self.assertNotIn(SECRET, render.check(report))

    def test_untrusted_certificate(self):
        err = exceptions.VCenterConnectionError(
            url='https://vc:443/sdk',
            reason='[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify '
                   'failed: self-signed certificate')
        (entry,) = self.check(error=err)['problems']
        self.assertIn('vcenter_ca_file', entry['hint'])

    def test_unreachable(self):
        err = exceptions.VCenterConnectionError(url='https://vc:443/sdk',
                                                reason='Connection refused')
        (entry,) = self.check(error=err)['problems']
        self.assertEqual(health.HINT_UNREACHABLE, entry['hint'])

    def test_unknown_cluster(self):
        report = self.check(vcenter_cluster_names=['C1', 'Nope'])
        self.assertFalse(report['ok'])
        self.assertEqual([True, False],
                         [c['exists'] for c in report['clusters']])
        (entry,) = report['problems']
        self.assertIn('Nope', entry['problem'])
        self.assertIn('found: C1', entry['hint'])

    def test_no_usable_pool(self):
        report = self.check(pools=(), rejected={'DS1': 'not accessible'})
        (entry,) = report['problems']
        self.assertEqual('no usable datastore', entry['problem'])
        self.assertEqual({'DS1': 'not accessible'}, report['rejected'])
        self.assertIn('not accessible', render.check(report))
