"""Placement's exact reasons, paths and pool arithmetic, written out.

Complements tests.unit.test_datastore where the mutation run
(``tox -e mutation``) showed a changed word, loop exit or constant going
unnoticed: the full reason a datastore is not a pool (which an operator
reads in the start-up report), the property paths read from vCenter, the
pool record's integer reserve and immutability.
"""

import dataclasses
import random

import testtools

from tests.unit import test_datastore
from vmware_backend import exceptions
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


class DatastoreProblemTest(testtools.TestCase):

    def test_every_datastore_problem_in_one_reason(self):
        inv = test_datastore.FakeInventory()
        inv.cluster('C1')
        h1 = inv.host('h1', 'C1')
        inv.datastore('nfs-9', [h1], accessible=False, mode='inMaintenance',
                      ds_type='vsan')
        _pools, rejected = datastore.build_pools(
            inv.index(), test_datastore.options(
                vcenter_datastore_regex='^ds-', vcenter_datastore_types=[
                    'VMFS', 'NFS']))
        self.assertEqual(
            {'nfs-9': "not accessible; maintenance mode is inMaintenance; "
                      "name does not match vcenter_datastore_regex '^ds-'; "
                      "type vsan is not one of vcenter_datastore_types "
                      "(VMFS, NFS)"}, rejected)

    def test_nameless_datastore_is_checked_by_an_empty_name(self):
        inv = test_datastore.FakeInventory()
        inv.cluster('C1')
        h1 = inv.host('h1', 'C1')
        ref = inv.datastore('x', [h1])
        dict(inv.objects)[ref]['name'] = None
        # '.*X' matches 'XXXX' but not '' (nor the moref's value).
        _pools, rejected = datastore.build_pools(
            inv.index(), test_datastore.options(vcenter_datastore_regex='.*X'))
        self.assertEqual(
            {'datastore-x': "name does not match vcenter_datastore_regex "
                            "'.*X'"}, rejected)

    def test_two_rejected_datastores_of_one_name(self):
        inv = test_datastore.FakeInventory()
        inv.cluster('C1')
        h1 = inv.host('h1', 'C1')
        inv.datastore('ds1', [h1], accessible=False)
        second = R('Datastore', 'datastore-ds1b')
        inv.objects.append((second, {'name': 'ds1',
                                     'summary.accessible': False,
                                     'summary.type': 'VMFS',
                                     'host': [{'key': h1}]}))
        _pools, rejected = datastore.build_pools(inv.index(),
                                                 test_datastore.options())
        self.assertEqual({'ds1': 'not accessible',
                          'ds1 (datastore-ds1b)': 'not accessible'},
                         rejected)


class PoolValuesTest(testtools.TestCase):

    def test_unset_sizes_and_options_are_zero_and_one(self):
        inv = test_datastore.FakeInventory()
        inv.cluster('C1')
        h1 = inv.host('h1', 'C1')
        ref = inv.datastore('ds1', [h1])
        props = dict(inv.objects)[ref]
        for key in ('summary.capacity', 'summary.freeSpace',
                    'summary.uncommitted'):
            props[key] = None
        pools, _rejected = datastore.build_pools(
            inv.index(), test_datastore.options(
                vcenter_reserved_percentage=None,
                vcenter_max_over_subscription_ratio=None))
        pool = pools[0]
        self.assertEqual((0, 0, 0, 0, 1.0, 'DC1'),
                         (pool.capacity, pool.free, pool.uncommitted,
                          pool.reserved_percentage,
                          pool.max_over_subscription_ratio,
                          pool.datacenter_name))

    def test_stats_without_a_vcenter_id(self):
        stats = datastore.pool_stats(test_datastore.pool('ds1'))
        self.assertEqual('vmware_backend::datastore-ds1',
                         stats['location_info'])


class FitReasonTest(testtools.TestCase):

    def test_thick_reason(self):
        pool = test_datastore.pool('ds1', capacity=100, free=10, reserved=20)
        self.assertEqual(
            '0.00 GiB free after the 20% reserve, a thick disk needs 5 GiB',
            datastore.fits(pool, 5, 'thick'))
        pool = test_datastore.pool('ds1', capacity=100, free=4.5)
        self.assertEqual(
            '4.50 GiB free after the 0% reserve, a eagerZeroedThick disk '
            'needs 5 GiB', datastore.fits(pool, 5, 'eagerZeroedThick'))

    def test_thin_reasons(self):
        full = test_datastore.pool('ds1', capacity=100, free=10, reserved=10)
        self.assertEqual('no free space left after the 10% reserve',
                         datastore.fits(full, 1, 'thin'))
        over = test_datastore.pool('ds1', capacity=100, free=50,
                                   uncommitted=40, ratio=1.5)
        self.assertEqual(
            'over-subscribed: 90.00 GiB provisioned + 61 GiB exceeds '
            '100.00 GiB x ratio 1.5', datastore.fits(over, 61, 'thin'))
        self.assertIsNone(datastore.fits(over, 60, 'thin'))

    def test_one_byte_left_after_the_reserve_takes_a_thin_disk(self):
        pool = datastore.Pool(
            name='datastore-ds1', datastore=R('Datastore', 'datastore-ds1'),
            datastore_name='ds1', type='VMFS', capacity=100 * datastore.GiB,
            free=1, uncommitted=0, reserved_percentage=0,
            max_over_subscription_ratio=2.0, hosts=())
        self.assertIsNone(datastore.fits(pool, 1, 'thin'))

    def test_unknown_disk_type(self):
        err = self.assertRaises(ValueError, datastore.fits,
                                test_datastore.pool('ds1'), 1, 'sparse')
        self.assertEqual("unknown disk type 'sparse'", str(err))


class SelectErrorTest(testtools.TestCase):

    def test_no_pool_at_all(self):
        err = self.assertRaises(exceptions.NoValidDatastore, datastore.select,
                                [], 1, 'thin')
        self.assertEqual('No datastore can hold 1 GiB (thin) for a volume: '
                         'no datastore found', str(err))

    def test_every_candidate_named(self):
        pools = [test_datastore.pool('ds2', free=1),
                 test_datastore.pool('ds1', free=2)]
        err = self.assertRaises(
            exceptions.NoValidDatastore, datastore.select, pools, 5, 'thick',
            rejected={'ds0': 'not accessible'}, target='volume v-1')
        self.assertEqual(
            'No datastore can hold 5 GiB (thick) for volume v-1: ds0: not '
            'accessible; ds1: 2.00 GiB free after the 0% reserve, a thick '
            'disk needs 5 GiB; ds2: 1.00 GiB free after the 0% reserve, a '
            'thick disk needs 5 GiB', str(err))

    def test_named_pool(self):
        pools = [test_datastore.pool('ds1', free=1)]
        err = self.assertRaises(
            exceptions.NoValidDatastore, datastore.select, pools, 5, 'thick',
            pool_name='ds1')
        self.assertEqual(
            'No datastore can hold 5 GiB (thick) for a volume: ds1: 1.00 GiB '
            'free after the 0% reserve, a thick disk needs 5 GiB', str(err))

    def test_exact_tie_at_the_floor_is_a_tie(self):
        pools = [test_datastore.pool('ds1', free=50),
                 test_datastore.pool('ds2', free=50)]
        chosen = {datastore.select(pools, 1, 'thin', tie_tolerance=0,
                                   rng=random.Random(seed)).name
                  for seed in range(20)}
        self.assertEqual({'ds1', 'ds2'}, chosen)


class PlaceAndConsumeTest(testtools.TestCase):

    def test_wrong_host(self):
        pool = test_datastore.pool('ds1')
        err = self.assertRaises(ValueError, datastore.place, None, pool,
                                host=R('HostSystem', 'host-7'))
        self.assertEqual('host host-7 cannot use datastore ds1', str(err))

    def test_place_without_rng_uses_the_module_random(self):
        inv = test_datastore.FakeInventory()
        inv.cluster('C1')
        h1 = inv.host('h1', 'C1')
        inv.datastore('ds1', [h1])
        index = inv.index()
        pools, _rejected = datastore.build_pools(index,
                                                 test_datastore.options())
        self.assertEqual(h1, datastore.place(index, pools[0]).host)

    def test_consume_from_unset_sizes(self):
        self.assertEqual({'summary.freeSpace': -2 * datastore.GiB},
                         datastore.consume({}, 2, 'thick'))
        self.assertEqual({'summary.uncommitted': 2 * datastore.GiB},
                         datastore.consume({}, 2, 'thin'))
        self.assertEqual(
            {'summary.uncommitted': 3 * datastore.GiB},
            datastore.consume({'summary.uncommitted': datastore.GiB}, 2,
                              'thin'))
