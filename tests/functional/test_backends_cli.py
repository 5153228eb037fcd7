"""vmware-backend-manage on several backends of a cinder.conf at once."""

import atexit
import socket
import threading

from tests.functional import base
from tests.functional import test_manage_cli
from vmware_backend.cmd import backends
from vmware_backend.testbed import vcsim

DRIVER = backends.DRIVER
_extra = []
_extra_lock = threading.Lock()


def extra_servers(count=2):
    """Simulators besides the shared one, started once per test process."""
    with _extra_lock:
        _extra[:] = [s for s in _extra if s.alive()]
        while len(_extra) < count:
            server = vcsim.VcsimServer().start()
            atexit.register(server.stop)
            _extra.append(server)
        return list(_extra)


def closed_port():
    """A loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def section(name, options, driver=DRIVER):
    lines = ['[%s]' % name, 'volume_driver = %s' % driver,
             'volume_backend_name = %s' % name]
    lines += ['%s = %s' % item for item in sorted(options.items())]
    return '\n'.join(lines) + '\n'


class BackendsCliTest(test_manage_cli.CliMixin, base.FunctionalTestCase):

    def setUp(self):
        super().setUp()
        self.servers = [self.vcsim] + extra_servers()
        self.good = ['vmware-%d' % n for n in (1, 2, 3)]
        parts = ['[DEFAULT]\nenabled_backends = %s,vmware-bad,lvm\n'
                 % ','.join(self.good)]
        for name, server in zip(self.good, self.servers):
            parts.append(section(name, server.options()))
        bad = self.vcsim.options(vcenter_port=closed_port(),
                                 vcenter_api_retry_count=0)
        parts.append(section('vmware-bad', bad))
        lvm = 'cinder.volume.drivers.lvm.LVMVolumeDriver'
        parts.append(section('lvm', {}, driver=lvm))
        self.cinder_conf = self.write_file('\n'.join(parts), suffix='.conf')

    def entries(self, proc):
        return {e['backend']: e for e in self.json_of(proc)['backends']}

    def test_pools_of_every_backend_one_failing(self):
        proc = self.cli('--format', 'json', 'pools', config=self.cinder_conf)
        self.assertExit(1, proc)
        entries = self.entries(proc)
        self.assertEqual(set(self.good) | {'vmware-bad'}, set(entries))
        for name in self.good:
            self.assertEqual(0, entries[name]['status'])
            self.assertIn('LocalDS_0', [row['datastore'] for row in
                                        entries[name]['result']])
        self.assertEqual(1, entries['vmware-bad']['status'])
        self.assertIsNone(entries['vmware-bad']['result'])
        self.assertIn('cannot connect', entries['vmware-bad']['errors'][0][
            'error'].lower())
        # Progress lines name their backend.
        self.assertIn('[vmware-2] Reading datastores', proc.stderr)
        for server in self.servers:
            self.assertNotIn(server.password, proc.stdout + proc.stderr)

    def _conf_with_transport(self, transport):
        parts = []
        for name, server in zip(self.good, self.servers):
            parts.append(section(name, server.options(
                vcenter_read_transport=transport)))
        parts.append(section('vmware-bad', self.vcsim.options(
            vcenter_port=closed_port(), vcenter_api_retry_count=0,
            vcenter_read_transport=transport)))
        return self.write_file('\n'.join(parts), suffix='.conf')

    def test_pools_over_vijson_as_over_soap_one_failing(self):
        # read transport json: VI/JSON reads or an error, no fallback; the
        # fan-out's rows are those of the SOAP reads, and the failing
        # vCenter is still reported without hiding the others.
        rows = {}
        for transport in ('soap', 'json'):
            proc = self.cli('--format', 'json', 'pools',
                            config=self._conf_with_transport(transport))
            self.assertExit(1, proc)
            entries = self.entries(proc)
            self.assertEqual(['vmware-1', 'vmware-2', 'vmware-3',
                              'vmware-bad'], sorted(entries))
            self.assertEqual([0, 0, 0, 1], [entries[name]['status'] for
                                            name in sorted(entries)])
            self.assertIn('cannot connect', entries['vmware-bad'][
                'errors'][0]['error'].lower())
            rows[transport] = {
                name: sorted((r['name'], r['datastore'], r['type'],
                              r['total_gb'], tuple(r['hosts']))
                             for r in entries[name]['result'])
                for name in self.good}
            for name in self.good:
                self.assertIn('LocalDS_0', [row[1] for row in
                                            rows[transport][name]])
        self.assertEqual(rows['soap'], rows['json'])

    def test_table_has_one_block_per_backend(self):
        proc = self.cli('check', config=self.cinder_conf)
        self.assertExit(1, proc)
        for name in self.good:
            self.assertIn('== backend %s (%s): ok ==' % (
                name, self.cinder_conf), proc.stdout)
        self.assertIn('== backend vmware-bad (%s): FAILED (exit 1) =='
                      % self.cinder_conf, proc.stdout)
        self.assertEqual(3, proc.stdout.count(
            'OK: configuration and connection are fine.'))
        self.assertNotIn('lvm', proc.stdout)

    def test_backend_option_picks_one(self):
        proc = self.cli('--format', 'json', 'volumes', '--backend',
                        'vmware-2', config=self.cinder_conf)
        self.assertExit(0, proc)
        self.assertEqual(['vmware-2'], list(self.entries(proc)))

    def test_unknown_backend_is_a_usage_error(self):
        proc = self.cli('pools', '--backend', 'vmware-9',
                        config=self.cinder_conf)
        self.assertExit(2, proc)
        self.assertIn('no backend section vmware-9', proc.stderr)

    def test_several_config_files(self):
        other = self.write_file(test_manage_cli.ini_text(
            self.servers[1].options()))
        proc = self.cli('--config-file', other, '--format', 'json', 'audit',
                        '--volume-ids', '-', '--backend', 'vmware-1',
                        '--backend', 'vmware', config=self.cinder_conf,
                        stdin='')
        self.assertExit(0, proc)
        entries = self.json_of(proc)['backends']
        self.assertEqual([('vmware-1', self.cinder_conf), ('vmware', other)],
                         [(e['backend'], e['config_file']) for e in entries])
        self.assertEqual('vmware-1@OpenStack/Volumes',
                         entries[0]['result']['backend'])

    def test_volume_ids_from_stdin_reach_every_backend(self):
        ids = [base.new_id(), base.new_id()]
        proc = self.cli('--format', 'json', 'audit', '--volume-ids', '-',
                        '--backend', 'vmware-1', '--backend', 'vmware-2',
                        config=self.cinder_conf, stdin='\n'.join(ids) + '\n')
        entries = self.entries(proc)
        # Read once, handed to both (the second backend read an empty
        # stream before, and found every backing unknown to Cinder).
        self.assertEqual({'vmware-1': 2, 'vmware-2': 2},
                         {name: e['result']['known_ids']
                          for name, e in entries.items()})

    def test_fix_needs_one_backend(self):
        proc = self.cli('audit', '--volume-ids', '-', '--fix', '--yes',
                        config=self.cinder_conf, stdin='')
        self.assertExit(2, proc)
        self.assertIn('--fix and --purge act on one backend', proc.stderr)

    def test_one_backend_command_from_cinder_conf(self):
        # datastores acts on one backend: picked by --backend from the
        # cinder.conf, with the section's own vCenter and password.
        proc = self.cli('--format', 'json', 'datastores', '--backend',
                        'vmware-2', config=self.cinder_conf)
        self.assertExit(0, proc)
        names = [row['name'] for row in self.json_of(proc)]
        self.assertIn('LocalDS_0', names)
        self.assertNotIn(self.servers[1].password, proc.stdout + proc.stderr)

    def test_one_backend_command_needs_backend_when_several(self):
        proc = self.cli('datastores', config=self.cinder_conf)
        self.assertExit(2, proc)
        self.assertIn('datastores acts on one backend at a time: pick it '
                      'with --backend NAME (found: vmware-1 in %s, '
                      'vmware-2 in %s, vmware-3 in %s, vmware-bad in %s)'
                      % ((self.cinder_conf,) * 4), proc.stderr)

    def test_single_cinder_section_needs_no_backend_option(self):
        conf_path = self.write_file(
            '[DEFAULT]\nenabled_backends = lvm,vmware-x\n' +
            section('vmware-x', self.servers[2].options()) +
            section('lvm', {}, driver='cinder.volume.drivers.lvm.'
                                      'LVMVolumeDriver'), suffix='.conf')
        proc = self.cli('--format', 'json', 'pool-names', config=conf_path)
        self.assertExit(0, proc)
        self.assertIn('LocalDS_0', proc.stdout)
