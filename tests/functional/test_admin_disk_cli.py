"""The disk-* and cluster-* commands run as a subprocess on the simulator."""

from tests.functional import base
from tests.functional import test_manage_cli
from vmware_backend.admin import disks
from vmware_backend.testbed.faults import control as control_mod
from vmware_backend.vsphere import ops

GIB_KB = 1024 * 1024


class DiskCliTest(test_manage_cli.CliMixin, base.FunctionalTestCase):

    def setUp(self):
        super().setUp()
        self.config = self.ini(self.vcsim)
        self.folder = 'cli-%s' % base.new_id()[:8]

    def on_vcenter(self, path):
        return disks.exists(self.session, disks.locate(self.session, path))

    def run_json(self, *args, code=0):
        proc = self.cli('--format', 'json', *args, config=self.config)
        self.assertExit(code, proc)
        return self.json_of(proc)

    def test_disk_lifecycle(self):
        path = '[LocalDS_0] %s/a.vmdk' % self.folder
        proc = self.cli('disk-create', path, '--size-gb', '1', '--dry-run',
                        config=self.config)
        self.assertExit(0, proc)
        self.assertIn('DRY RUN: create %s (datacenter DC0): 1 GiB thin '
                      'lsiLogic' % path, proc.stdout)
        self.assertFalse(self.on_vcenter(path))
        # No terminal and no --yes: nothing done, exit 2.
        proc = self.cli('disk-create', path, '--size-gb', '1',
                        config=self.config)
        self.assertExit(2, proc)
        self.assertIn('pass --yes', proc.stderr)
        self.assertFalse(self.on_vcenter(path))
        created = self.run_json('disk-create', path, '--size-gb', '1',
                                '--type', 'thin', '--adapter', 'busLogic',
                                '--yes')
        self.addCleanup(self.cli, 'disk-delete', path, '--yes', '--force',
                        config=self.config)
        self.assertEqual((path, 'DC0', GIB_KB, 'thin',
                          'VirtualBusLogicController', 'loose'),
                         tuple(created['disk'][k] for k in (
                             'path', 'datacenter', 'capacity_kb',
                             'provisioning', 'controller_type', 'owner')))
        self.assertTrue(self.on_vcenter(path))

        proc = self.cli('disk-info', path, config=self.config)
        self.assertExit(0, proc)
        for text in ('Disk:', path, 'Capacity GiB:  1\n', 'thin',
                     'VirtualBusLogicController', 'Used by:', 'loose'):
            self.assertIn(text, proc.stdout)

        copy = '[LocalDS_1] %s/b.vmdk' % self.folder
        self.addCleanup(self.cli, 'disk-delete', copy, '--yes', '--force',
                        config=self.config)
        result = self.run_json('disk-copy', path, copy, '--yes')
        self.assertEqual((copy, 'DC0'), (result['target'],
                                         result['target_datacenter']))
        self.assertNotEqual(created['disk']['uuid'], result['disk']['uuid'])
        moved = '[LocalDS_1] %s/c.vmdk' % self.folder
        self.addCleanup(self.cli, 'disk-delete', moved, '--yes', '--force',
                        config=self.config)
        self.run_json('disk-move', copy, moved, '--yes')
        self.assertEqual((False, True), (self.on_vcenter(copy),
                                         self.on_vcenter(moved)))
        result = self.run_json('disk-extend', moved, '--size-gb', '2',
                               '--yes')
        self.assertEqual(2 * GIB_KB, result['disk']['capacity_kb'])
        proc = self.cli('disk-eager-zero', moved, '--yes',
                        config=self.config)
        self.assertExit(1, proc)
        self.assertIn('Eager-zeroing disk %s in datacenter DC0 refused: it '
                      'is thin' % moved, proc.stderr)
        result = self.run_json('disk-inflate', moved, '--yes')
        self.assertEqual('thick', result['disk']['provisioning'])
        self.assertEqual('thick', disks.info(self.session,
                                             moved).provisioning)
        result = self.run_json('disk-eager-zero', moved, '--yes')
        self.assertEqual('eager-zero', result['action'])
        proc = self.cli('disk-delete', moved, '--yes', config=self.config)
        self.assertExit(0, proc)
        self.assertIn('delete %s (datacenter DC0)' % moved, proc.stdout)
        self.assertFalse(self.on_vcenter(moved))

    def test_progress_while_a_task_runs_longer_than_a_second(self):
        path = '[LocalDS_0] %s/slow.vmdk' % self.folder
        control = control_mod.SimulatorControl('127.0.0.1', self.vcsim.port)
        control.set_task_faults([{'method': 'CreateVirtualDisk_Task',
                                  'delay_ms': 2500, 'outcome': 'success',
                                  'times': 1}])
        self.addCleanup(control.clear_task_faults)
        proc = self.cli('disk-create', path, '--size-gb', '1', '--yes',
                        config=self.config)
        self.addCleanup(self.cli, 'disk-delete', path, '--yes', '--force',
                        config=self.config)
        self.assertExit(0, proc)
        self.assertIn('creating %s: still running (1s)' % path, proc.stderr)
        self.assertTrue(self.on_vcenter(path))

    def test_refusals_exit_1_and_change_nothing(self):
        _driver, volume = self.driver_and_volume()
        ref = ops.VolumeOps(self.session).find_vm_by_instance_uuid(volume.id)
        [disk] = [d for d in ops.devices_of(self.session.get_properties(
            ref, ['config.hardware.device']))
            if type(d).__name__ == 'VirtualDisk']
        path = disk.backing.fileName
        proc = self.cli('disk-delete', path, '--yes', config=self.config)
        self.assertExit(1, proc)
        self.assertIn('Deleting disk %s in datacenter DC0 refused: it is '
                      'the disk of volume %s' % (path, volume.id),
                      proc.stderr)
        self.assertTrue(self.on_vcenter(path))
        info = self.run_json('disk-info', path)
        self.assertEqual(('volume', volume.id), (info['owner'],
                                                 info['volume_id']))
        proc = self.cli('disk-create', '[LocalDS_0] x/y.txt', '--size-gb',
                        '1', '--yes', config=self.config)
        self.assertExit(2, proc)
        self.assertIn("Invalid disk path '[LocalDS_0] x/y.txt'", proc.stderr)

    def test_clusters(self):
        name = 'cli-%s' % base.new_id()[:8]
        proc = self.cli('cluster-create', name, '--dry-run',
                        config=self.config)
        self.assertExit(0, proc)
        self.assertIn('DRY RUN: create cluster %s (new) in datacenter DC0'
                      % name, proc.stdout)
        created = self.run_json('cluster-create', name, '--yes')
        self.assertTrue(created['id'].startswith('clustercomputeresource-'))
        proc = self.cli('cluster-remove', 'DC0_C0', '--yes',
                        config=self.config)
        self.assertExit(1, proc)
        self.assertIn('it holds host(s) DC0_C0_H0, DC0_C0_H1, DC0_C0_H2',
                      proc.stderr)
        removed = self.run_json('cluster-remove', name, '--yes')
        self.assertEqual((created['id'], False),
                         (removed['id'], removed['dry_run']))
        proc = self.cli('cluster-remove', name, '--yes', config=self.config)
        self.assertExit(2, proc)
        self.assertIn('no such cluster', proc.stderr)
