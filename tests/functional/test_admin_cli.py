"""The storage administration commands, run as a subprocess.

State is read back from the simulator through a session of the test.
"""

from tests.functional import base
from tests.functional import test_manage_cli
from vmware_backend.vsphere import inventory


class AdminCliTestCase(test_manage_cli.CliMixin, base.FunctionalTestCase):

    VCSIM_FLAGS = {'datacenters': 2}

    def setUp(self):
        super().setUp()
        self.config = self.ini(self.vcsim)

    def run_cli(self, *args, **kwargs):
        return self.cli(*args, config=self.config, **kwargs)

    def names(self):
        objs = inventory.read_container(self.session, {'Datastore': ['name']})
        return {ref: props['name'] for ref, props in objs}

    def ref_of(self, name, dc=None):
        return [ref for ref, n in self.names().items()
                if n == name and (dc is None or dc in ref.value)][0]


class DatastoresCliTest(AdminCliTestCase):

    def test_json(self):
        proc = self.run_cli('--format', 'json', 'datastores')
        self.assertExit(0, proc)
        rows = self.json_of(proc)
        self.assertEqual(4, len(rows))
        row = [r for r in rows if r['name'] == 'LocalDS_0' and
               r['datacenter'] == 'DC1'][0]
        self.assertEqual(self.ref_of('LocalDS_0', 'DC1').value, row['id'])
        self.assertEqual(row['id'], row['pool'])
        self.assertEqual({'DC0_C0': False, 'DC1_C0': True},
                         row['cluster_reach'])
        self.assertEqual(['DC1_C0'], row['clusters'])
        self.assertFalse(row['sioc']['enabled'])
        self.assertEqual(0, row['volumes'])
        self.assertEqual(4, row['vms'])
        self.assertEqual(1024.0, row['capacity_gb'])

    def test_table(self):
        proc = self.run_cli('datastores')
        self.assertExit(0, proc)
        header = proc.stdout.splitlines()[0].split()
        self.assertEqual(['NAME', 'ID', '/', 'POOL', 'DC', 'TYPE'],
                         header[:6])
        self.assertIn('DC0_C0:yes, DC1_C0:NO', proc.stdout)


class PoolNamesCliTest(AdminCliTestCase):

    def test_migration_commands(self):
        proc = self.run_cli('--format', 'json', 'pool-names', '--host',
                            'cinder@vmware-1')
        self.assertExit(0, proc)
        rows = {r['old']: r for r in self.json_of(proc)}
        new = self.ref_of('LocalDS_0', 'DC1').value
        self.assertEqual(new, rows['DC1:LocalDS_0']['new'])
        self.assertEqual(
            'cinder-manage volume update_host --currenthost '
            'cinder@vmware-1#DC1:LocalDS_0 --newhost cinder@vmware-1#%s'
            % new, rows['DC1:LocalDS_0']['command'])
        # Plain names were ambiguous with two datacenters: never listed.
        self.assertNotIn('LocalDS_0', rows)

    def test_old_names_from_a_file(self):
        path = self.write_file('h@b#LocalDS_0\nh@b#DC0:LocalDS_1\n',
                               suffix='.txt')
        proc = self.run_cli('pool-names', '--old-names', path)
        self.assertExit(0, proc)
        self.assertIn('DC0:LocalDS_1', proc.stdout)
        self.assertIn('No usable pool (or several) for: LocalDS_0',
                      proc.stdout)


class ChangeCliTest(AdminCliTestCase):

    VCSIM_FLAGS = {'datacenters': 1}

    def test_rename_needs_yes_without_terminal(self):
        proc = self.run_cli('datastore-rename', 'LocalDS_1', 'Gold')
        self.assertExit(2, proc)
        self.assertIn('no terminal to confirm', proc.stderr)
        self.assertIn('pass --yes', proc.stderr)
        self.assertIn('LocalDS_1', self.names().values())

    def test_rename_dry_run_then_yes(self):
        ref = self.ref_of('LocalDS_1')
        proc = self.run_cli('datastore-rename', 'LocalDS_1', 'Gold',
                            '--dry-run')
        self.assertExit(0, proc)
        self.assertIn('DRY RUN: rename LocalDS_1', proc.stdout)
        self.assertEqual('LocalDS_1', self.names()[ref])
        proc = self.run_cli('--format', 'json', 'datastore-rename',
                            'LocalDS_1', 'Gold', '--yes')
        self.assertExit(0, proc)
        self.assertTrue(self.json_of(proc)['ok'])
        self.assertEqual('Gold', self.names()[ref])

    def test_rename_refused(self):
        proc = self.run_cli('datastore-rename', 'LocalDS_1', 'LocalDS_0',
                            '--yes')
        self.assertExit(2, proc)
        self.assertIn("Invalid datastore name 'LocalDS_0'", proc.stderr)

    def test_create_nfs_and_remove(self):
        proc = self.run_cli(
            'datastore-create-nfs', '--cluster', 'DC0_C0', '--name', 'nfs-c',
            '--server', '127.0.0.7', '--path', '/exports/c', '--yes')
        self.assertExit(0, proc)
        self.assertIn('DC0_C0_H2: mounted', proc.stderr)
        ref = self.ref_of('nfs-c')
        mounts = inventory.get_properties(self.session, ref, ['host'])['host']
        self.assertEqual(3, len(mounts))
        proc = self.run_cli('datastore-remove', 'nfs-c', '--dry-run')
        self.assertExit(0, proc)
        self.assertIn('would unmount', proc.stdout)
        self.assertIn(ref, self.names())
        proc = self.run_cli('datastore-remove', 'nfs-c', '--yes')
        self.assertExit(0, proc)
        self.assertNotIn(ref, self.names())

    def test_remove_refused_with_vm_files(self):
        proc = self.run_cli('datastore-remove', 'LocalDS_0', '--yes')
        self.assertExit(1, proc)
        self.assertIn('refused: it holds 0 volume(s) of this backend and '
                      'files of 4 VM(s)', proc.stderr)

    def test_bad_nfs_path(self):
        proc = self.run_cli(
            'datastore-create-nfs', '--cluster', 'DC0_C0', '--name', 'x',
            '--server', '127.0.0.7', '--path', 'exports', '--yes')
        self.assertExit(2, proc)
        self.assertIn("Invalid NFS export path 'exports'", proc.stderr)
        self.assertNotIn('x', self.names().values())
