"""Placement's exact reasons, paths and pool arithmetic, written out.

Complements tests.unit.test_datastore where the mutation run
(``tox -e mutation``) showed a changed word, loop exit or constant going
unnoticed: the full reason a datastore is not a pool (which an operator
reads in the start-up report), the property paths read from vCenter, the
pool record's integer reserve and immutability.
"""

import dataclasses

import testtools

from tests.unit import test_datastore
from vmware_backend.volume import datastore
from vmware_backend.vsphere import inventory

R = inventory.MoRef


class RejectionReasonTest(testtools.TestCase):

    def test_every_host_problem_in_one_reason(self):
        inv = test_datastore.FakeInventory()
        # Iterated first: a standalone host and a cluster not configured.
        inv.standalone('s0')
        inv.cluster('C2')
        out1 = inv.host('o1', 'C2')
        out2 = inv.host('o2', 'C2')
        inv.cluster('C1')
        hm = inv.host('hm', 'C1', maintenance=True)
        hd = inv.host('hd', 'C1', state='disconnected')
        hx = inv.host('hx', 'C1', state=None)
        ghost = R('HostSystem', 'host-ghost')
        inv.clusters['C1']['host'].append(ghost)
        inv.cluster('C3')
        inv.clusters['C3']['resourcePool'] = None
        hr = inv.host('hr', 'C3')
        inv.cluster('C4', parent=R('Folder', 'group-unknown'))
        hn = inv.host('hn', 'C4')
        inv.datastore('ds1', [out1, hm, out2, hd, hx, ghost, hr, hn])
        pools, rejected = datastore.build_pools(
            inv.index(), test_datastore.options(
                vcenter_cluster_names=['C1', 'C3', 'C4']))
        self.assertEqual([], pools)
        self.assertEqual(
            {'ds1': 'no connected, non-maintenance host of cluster(s) C1, '
                    'C3, C4 mounts it (hm is in maintenance mode; hd is '
                    'disconnected; hx is in an unknown connection state; '
                    'host-ghost unknown host; hr has no known resource '
                    'pool; hn has no known datacenter; 2 mount(s) on hosts '
                    'outside cluster(s) C1, C3, C4)'},
            rejected)

    def test_mounted_on_no_host(self):
        inv = test_datastore.FakeInventory()
        inv.cluster('C1')
        inv.host('h1', 'C1')
        inv.datastore('ds1', [])
        _pools, rejected = datastore.build_pools(inv.index(),
                                                 test_datastore.options())
        self.assertEqual(
            {'ds1': 'no connected, non-maintenance host of any cluster '
                    'mounts it (mounted on no host)'}, rejected)

    def test_datacenter_of_a_host_above_no_datacenter(self):
        inv = test_datastore.FakeInventory()
        inv.cluster('C1', parent=R('Folder', 'group-unknown'))
        host = inv.host('h1', 'C1')
        self.assertIsNone(datastore.datacenter_of(inv.index(), host))


class InventoryPathsTest(testtools.TestCase):

    def test_the_properties_read_from_vcenter(self):
        self.assertEqual(
            {'Datacenter': ['name', 'vmFolder', 'hostFolder'],
             'Folder': ['parent'],
             'ComputeResource': ['name', 'parent', 'host', 'resourcePool'],
             'HostSystem': ['name', 'parent', 'runtime.connectionState',
                            'runtime.inMaintenanceMode'],
             'Datastore': ['name', 'summary.accessible', 'summary.capacity',
                           'summary.freeSpace', 'summary.uncommitted',
                           'summary.maintenanceMode', 'summary.type',
                           'host']},
            datastore.INVENTORY_PATHS)


class PoolRecordTest(testtools.TestCase):

    def _pool(self, **kw):
        args = dict(name='dc-1:datastore-1', datastore=R('Datastore', 'd1'),
                    datastore_name='ds1', type='VMFS', capacity=1001,
                    free=500, uncommitted=0, reserved_percentage=10,
                    max_over_subscription_ratio=1.0, hosts=())
        args.update(kw)
        return datastore.Pool(**args)

    def test_reserve_is_whole_bytes_rounded_down(self):
        pool = self._pool()
        self.assertEqual(100, pool.reserve)
        self.assertIs(int, type(pool.reserve))
        self.assertEqual(400, pool.usable_free)

    def test_datacenter_name_defaults_to_empty(self):
        self.assertEqual('', self._pool().datacenter_name)

    def test_pools_are_immutable(self):
        pool = self._pool()
        self.assertRaises(dataclasses.FrozenInstanceError, setattr, pool,
                          'free', 0)

    def test_placement_and_inventory_reprs_name_them(self):
        self.assertTrue(repr(_placement()).startswith(
            "Placement(pool_name='dc-2:ds-new', "))
        self.assertEqual(
            'Inventory(datacenters={}, folders={}, compute_resources={}, '
            'hosts={}, datastores={})',
            repr(datastore.index_inventory([])))


def _placement():
    return datastore.Placement(
        pool_name='dc-2:ds-new', datastore=R('Datastore', 'datastore-9'),
        datastore_name='ds-new', host=R('HostSystem', 'host-9'),
        host_name='esx-9', cluster=R('ClusterComputeResource', 'domain-c9'),
        resource_pool=R('ResourcePool', 'resgroup-9'),
        datacenter=R('Datacenter', 'datacenter-2'), datacenter_name='dc',
        vm_folder=R('Folder', 'group-v3'))
