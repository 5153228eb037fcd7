"""Arguments and rendering of the disk and cluster commands; pure logic."""

from unittest import mock

import testtools

from vmware_backend.admin import clusters
from vmware_backend.admin import disks
from vmware_backend.cmd import disk_render
from vmware_backend.cmd import manage
from vmware_backend import exceptions
from vmware_backend.vsphere import inventory


class ArgumentsTest(testtools.TestCase):

    def test_commands_are_registered(self):
        # Written out, not read from disk_commands.COMMANDS.
        for name in ('disk-info', 'disk-create', 'disk-delete', 'disk-copy',
                     'disk-move', 'disk-extend', 'disk-inflate',
                     'disk-eager-zero', 'cluster-create', 'cluster-remove'):
            self.assertIn(name, manage.COMMANDS)
            self.assertIn(name, manage.HANDLERS)

    def test_mutating_commands_take_yes_and_dry_run(self):
        for argv in (['disk-create', '[d] a.vmdk', '--size-gb', '1'],
                     ['disk-delete', '[d] a.vmdk', '--force'],
                     ['disk-copy', '[d] a.vmdk', '[d] b.vmdk'],
                     ['disk-move', '[d] a.vmdk', '[d] b.vmdk'],
                     ['disk-extend', '[d] a.vmdk', '--size-gb', '2'],
                     ['disk-inflate', '[d] a.vmdk'],
                     ['disk-eager-zero', '[d] a.vmdk'],
                     ['cluster-create', 'c'], ['cluster-remove', 'c']):
            args = manage.parse_args(argv + ['--yes', '--dry-run'])
            self.assertTrue(args.yes and args.dry_run, argv)
        self.assertRaises(SystemExit, manage.parse_args,
                          ['disk-create', '[d] a.vmdk'])
        self.assertRaises(SystemExit, manage.parse_args,
                          ['disk-create', '[d] a.vmdk', '--size-gb', '1',
                           '--type', 'sparse'])
        # disk-info and disk-copy do not change what they read: no --force.
        self.assertRaises(SystemExit, manage.parse_args,
                          ['disk-copy', '[d] a.vmdk', '[d] b.vmdk',
                           '--force'])


class PathTest(testtools.TestCase):

    def test_paths(self):
        self.assertEqual(('ds', 'f/a.vmdk'), disks._split('[ds] f/a.vmdk'))
        for bad in ('ds/a.vmdk', '[ds] f/a-flat.vmdk', '[ds] ../a.vmdk',
                    '[ds] f/a.txt', '[ds] ', None):
            self.assertRaises(exceptions.InvalidAdminInput, disks._split,
                              bad)


class RenderTest(testtools.TestCase):

    def test_change_and_disk(self):
        text = disk_render.change({
            'action': 'move', 'path': '[a] x.vmdk', 'datacenter': 'DC0',
            'dry_run': False, 'ok': True, 'detail': None,
            'target': '[b] y.vmdk', 'target_datacenter': 'DC1',
            'disk': {'path': '[b] y.vmdk', 'datacenter': 'DC1',
                     'capacity_gb': 2.0, 'provisioning': None,
                     'controller_type': None, 'uuid': 'u',
                     'owner': 'volume', 'volume_id': 'v1',
                     'vms': ['volume-v1'], 'children': ['clone']}})
        self.assertEqual(
            'move [a] x.vmdk (datacenter DC0) -> [b] y.vmdk (datacenter '
            'DC1)\n\nNow:\nDisk:          [b] y.vmdk\nDatacenter:    DC1\n'
            'Capacity GiB:  2\nProvisioning:  not reported\n'
            'Controller:    -\nUUID:          u\n'
            'Used by:       volume v1 (backing volume-v1)\n'
            'Read by:       clone\n\nOK.', text)

    def test_cluster(self):
        self.assertEqual(
            'DRY RUN: remove cluster c (domain-c1) in datacenter DC0. '
            'Nothing changed.', disk_render.cluster({
                'action': 'remove', 'cluster': 'c', 'id': 'domain-c1',
                'datacenter': 'DC0', 'dry_run': True}))


class ClusterVmsTest(testtools.TestCase):

    def test_vms_in_the_clusters_pool(self):
        pool = inventory.MoRef('ResourcePool', 'resgroup-9')
        other = inventory.MoRef('ResourcePool', 'resgroup-1')
        managed = 'config.extraConfig["vmware_backend.managed"]'
        vol = 'config.extraConfig["vmware_backend.volume_id"]'
        read = [
            (inventory.MoRef('VirtualMachine', 'vm-1'),
             {'name': 'volume-a', 'resourcePool': pool,
              managed: {'value': 'true'}, vol: {'value': 'a'}}),
            (inventory.MoRef('VirtualMachine', 'vm-2'),
             {'name': 'web', 'resourcePool': pool}),
            (inventory.MoRef('VirtualMachine', 'vm-3'),
             {'name': 'elsewhere', 'resourcePool': other,
              managed: {'value': 'true'}, vol: {'value': 'b'}})]
        with mock.patch.object(inventory, 'read_container',
                               return_value=read):
            self.assertEqual((['a'], ['web']), clusters.vms_in(
                None, {'resourcePool': pool}))
            self.assertEqual(([], []), clusters.vms_in(None, {}))
