"""Pools and placement against the simulator, and what they cost."""

import collections
import random

import fixtures
import testtools

from tests.functional import base
from vmware_backend import exceptions
from vmware_backend.volume import placement
from vmware_backend.vsphere import inventory
from vmware_backend.vsphere import session as vc_session

# One datacenter with cluster DC0_C0 (hosts DC0_C0_H0..H3, H0 in
# maintenance mode) and standalone host DC0_H0; datastores LocalDS_0..4 of
# 1024 GiB, all mounted on every host, except:
#   LocalDS_0  500 GiB free
#   LocalDS_1  inaccessible
#   LocalDS_2  full
#   LocalDS_3  unmounted from the cluster (only on the standalone host)
#   LocalDS_4  900 GiB free (the default), type NFS
FLAGS = {
    'hosts': 4, 'datastores': 5, 'vms': 3,
    'ds-free': 'LocalDS_0=500,LocalDS_2=0',
    'ds-inaccessible': 'LocalDS_1',
    'ds-unmounted': 'LocalDS_3',
    'ds-type': 'LocalDS_4=NFS',
    'host-maintenance': 'DC0_C0_H0',
}
USABLE_HOSTS = {'DC0_C0_H1', 'DC0_C0_H2', 'DC0_C0_H3'}
READ_METHODS = {'CreateContainerView', 'RetrievePropertiesEx',
                'ContinueRetrievePropertiesEx', 'DestroyView'}

# Seed of the placement services' tie-breaking.
SEED = 20261129


class FakeClock:

    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


class PlacementTestBase(testtools.TestCase):

    flags = FLAGS

    def setUp(self):
        super().setUp()
        self.useFixture(fixtures.Timeout(300, gentle=True))
        self.vcsim = self.useFixture(base.VcsimFixture(self.flags))

    def service(self, clock=None, **overrides):
        session = vc_session.VCenterSession(self.vcsim.options(**overrides))
        self.addCleanup(session.close)
        session.service_content  # log in before counting
        self.session = session
        kwargs = {'clock': clock} if clock else {}
        # Ties are broken at random: seeded, so a run can be replayed.
        return placement.PlacementService(session, rng=random.Random(SEED),
                                          **kwargs)

    def counted(self, func, *args, **kwargs):
        before = self.session.counts_snapshot()
        result = func(*args, **kwargs)
        return result, self.session.counts_snapshot() - before


class PoolsTest(PlacementTestBase):

    def test_pools_follow_the_rules(self):
        svc = self.service(vcenter_reserved_percentage=5,
                           vcenter_max_over_subscription_ratio=2.5)
        pools = {p['datastore_name']: p for p in svc.pools()}
        self.assertEqual({'LocalDS_0', 'LocalDS_2', 'LocalDS_4'}, set(pools))
        ref = svc.find_datastore('LocalDS_0')
        self.assertEqual({
            'pool_name': ref.value,
            'total_capacity_gb': 1024.0,
            'free_capacity_gb': 500.0,
            'provisioned_capacity_gb': 524.0,
            'reserved_percentage': 5,
            'max_over_subscription_ratio': 2.5,
            'thin_provisioning_support': True,
            'thick_provisioning_support': True,
            'online_extend_support': False,
            'multiattach': True,
            'QoS_support': True,
            'datastore_type': 'VMFS',
            'datastore_name': 'LocalDS_0',
        }, {k: v for k, v in pools['LocalDS_0'].items()
            if k != 'location_info'})
        content = self.session.service_content
        cluster = self.session.invoke(
            'FindByInventoryPath', content.searchIndex,
            inventoryPath='DC0/host/DC0_C0')
        # vCenter, datastore, the clusters of its usable hosts, the folder.
        self.assertEqual(
            'vmware_backend:%s:%s:%s:OpenStack/Volumes' % (
                content.about.instanceUuid, ref.value, cluster.value),
            pools['LocalDS_0']['location_info'])
        self.assertEqual(0.0, pools['LocalDS_2']['free_capacity_gb'])
        self.assertEqual('NFS', pools['LocalDS_4']['datastore_type'])

        rejected = svc.rejected()
        self.assertEqual({'LocalDS_1', 'LocalDS_3'}, set(rejected))
        self.assertIn('not accessible', rejected['LocalDS_1'])
        self.assertIn('outside any cluster', rejected['LocalDS_3'])

    def test_filters(self):
        svc = self.service(vcenter_datastore_types=['NFS'])
        self.assertEqual(['LocalDS_4'],
                         [p['datastore_name'] for p in svc.pools()])
        svc = self.service(vcenter_datastore_regex='LocalDS_[01]')
        self.assertEqual(['LocalDS_0'],
                         [p['datastore_name'] for p in svc.pools()])
        svc = self.service(vcenter_cluster_names=['nope'])
        self.assertEqual([], svc.pools())
        self.assertIn('cluster(s) nope', svc.rejected()['LocalDS_0'])
        svc = self.service(vcenter_cluster_names=['DC0_C0'])
        self.assertEqual(3, len(svc.pools()))

    def test_hosts_mounting_and_datastores_for_host(self):
        svc = self.service()
        names = {ref: props['name']
                 for ref, props in svc.inventory().hosts.items()}
        self.assertEqual(USABLE_HOSTS,
                         {names[h] for h in svc.hosts_mounting('LocalDS_0')})
        self.assertEqual([], svc.hosts_mounting('LocalDS_3'))
        standalone = [r for r, n in names.items() if n == 'DC0_H0'][0]
        self.assertEqual(
            ['LocalDS_0', 'LocalDS_2', 'LocalDS_3', 'LocalDS_4'],
            [p.datastore_name for p in svc.datastores_for_host(standalone)])
        in_maintenance = [r for r, n in names.items() if n == 'DC0_C0_H0'][0]
        self.assertEqual([], svc.datastores_for_host(in_maintenance))
        self.assertRaises(exceptions.InventoryNotFound, svc.find_datastore,
                          'LocalDS_99')


class ChooseTest(PlacementTestBase):

    def check_placement(self, where):
        """The placement's objects exist and belong together."""
        session = self.session
        host = inventory.get_properties(session, where.host,
                                        ['name', 'parent', 'datastore'])
        self.assertEqual(where.host_name, host['name'])
        self.assertIn(where.host_name, USABLE_HOSTS)
        self.assertEqual(where.cluster, host['parent'])
        self.assertIn(where.datastore, host['datastore'])
        cluster = inventory.get_properties(session, where.cluster,
                                           ['resourcePool'])
        self.assertEqual(where.resource_pool, cluster['resourcePool'])
        dc = inventory.get_properties(session, where.datacenter,
                                      ['name', 'vmFolder'])
        self.assertEqual('DC0', dc['name'])
        self.assertEqual(where.vm_folder, dc['vmFolder'])
        ds = inventory.get_properties(session, where.datastore, ['name'])
        self.assertEqual(where.datastore_name, ds['name'])

    def test_thick_goes_to_the_most_free_space(self):
        svc = self.service()
        where = svc.choose(10, 'thick', target='volume v1')
        self.assertEqual('LocalDS_4', where.datastore_name)
        self.check_placement(where)

    def test_hosts_spread_and_skip_maintenance(self):
        svc = self.service()
        hosts = collections.Counter(
            svc.choose(1, 'thin').host_name for _ in range(60))
        self.assertEqual(USABLE_HOSTS, set(hosts))

    def test_own_placements_are_accounted(self):
        svc = self.service()
        # LocalDS_4 has 900 GiB free, LocalDS_0 500. A 400 GiB thick volume
        # goes to LocalDS_4 and is accounted in the cached data...
        self.assertEqual('LocalDS_4',
                         svc.choose(400, 'thick').datastore_name)
        pools = {p['datastore_name']: p for p in svc.pools()}
        self.assertEqual(500.0, pools['LocalDS_4']['free_capacity_gb'])
        # ...so a 600 GiB one fits nowhere in the cache; fresh data (vcsim
        # allocated nothing) is read before giving up, and has room.
        where, calls = self.counted(svc.choose, 600, 'thick')
        self.assertEqual('LocalDS_4', where.datastore_name)
        self.assertEqual(1, calls['CreateContainerView'])

    def test_named_pool(self):
        svc = self.service()
        where = svc.choose(10, 'thick', pool_name='LocalDS_0')
        self.assertEqual('LocalDS_0', where.datastore_name)
        self.check_placement(where)
        err = self.assertRaises(exceptions.NoValidDatastore, svc.choose,
                                10, 'thick', pool_name='LocalDS_2',
                                target='volume v2')
        self.assertIn('LocalDS_2: 0.00 GiB free', str(err))
        err = self.assertRaises(exceptions.NoValidDatastore, svc.choose,
                                1, 'thin', pool_name='LocalDS_1')
        self.assertIn('LocalDS_1: not accessible', str(err))

    def test_thin_honours_over_subscription(self):
        svc = self.service(vcenter_max_over_subscription_ratio=2.0)
        # LocalDS_4: provisioned 124 GiB, limit 2048 GiB.
        where = svc.choose(1924, 'thin', pool_name='LocalDS_4')
        self.assertEqual('LocalDS_4', where.datastore_name)
        svc.invalidate()
        err = self.assertRaises(exceptions.NoValidDatastore, svc.choose,
                                1925, 'thin', pool_name='LocalDS_4')
        self.assertIn('over-subscribed', str(err))
        err = self.assertRaises(exceptions.NoValidDatastore, svc.choose,
                                1, 'thin', pool_name='LocalDS_2')
        self.assertIn('no free space left', str(err))

    def test_no_fit_lists_every_datastore(self):
        svc = self.service()
        err = self.assertRaises(exceptions.NoValidDatastore, svc.choose,
                                901, 'eagerZeroedThick', target='volume v3')
        text = str(err)
        self.assertIn('901 GiB (eagerZeroedThick) for volume v3', text)
        for name in ('LocalDS_0: 500.00 GiB free', 'LocalDS_1: not accessible',
                     'LocalDS_2: 0.00 GiB free', 'LocalDS_3: no connected',
                     'LocalDS_4: 900.00 GiB free'):
            self.assertIn(name, text)

    def test_place_on_a_host_outside_the_clusters(self):
        svc = self.service()
        names = {props['name']: ref
                 for ref, props in svc.inventory().hosts.items()}
        standalone = names['DC0_H0']
        where = svc.place_on('LocalDS_3', host=standalone)
        self.assertEqual(('LocalDS_3', standalone, 'ComputeResource'),
                         (where.datastore_name, where.host,
                          where.cluster.type))
        compute = inventory.get_properties(self.session, where.cluster,
                                           ['resourcePool'])
        self.assertEqual(where.resource_pool, compute['resourcePool'])
        # LocalDS_3 and LocalDS_4 tie with 900 GiB free.
        chosen = {svc.choose(10, 'thick', host=standalone).datastore_name
                  for _ in range(30)}
        self.assertEqual({'LocalDS_3', 'LocalDS_4'}, chosen)
        self.assertRaises(exceptions.NoValidDatastore, svc.place_on,
                          'LocalDS_3')


class CostTest(PlacementTestBase):

    def test_one_read_then_cached(self):
        clock = FakeClock()
        svc = self.service(clock=clock, vcenter_inventory_cache_seconds=30)
        _pools, cold = self.counted(svc.pools)
        self.assertEqual(READ_METHODS - {'ContinueRetrievePropertiesEx'},
                         set(cold))
        self.assertEqual(1, cold['CreateContainerView'])
        self.assertEqual(1, cold['DestroyView'])

        for call in (svc.pools, svc.rejected,
                     lambda: svc.choose(1, 'thin'),
                     lambda: svc.choose(1, 'thick', pool_name='LocalDS_0'),
                     lambda: svc.find_datastore('LocalDS_4'),
                     lambda: svc.hosts_mounting('LocalDS_4'),
                     lambda: svc.place_on('LocalDS_0')):
            _result, warm = self.counted(call)
            self.assertEqual(collections.Counter(), warm)

        clock.now += 29.9
        self.assertEqual(collections.Counter(), self.counted(svc.pools)[1])
        clock.now += 0.2
        self.assertEqual(cold, self.counted(svc.pools)[1])
        svc.invalidate()
        self.assertEqual(cold, self.counted(svc.choose, 1, 'thin')[1])
        self.assertEqual(cold, self.counted(svc.pools, refresh=True)[1])

    def test_no_cache(self):
        svc = self.service(vcenter_inventory_cache_seconds=0)
        _pools, cold = self.counted(svc.pools)
        self.assertEqual(cold, self.counted(svc.pools)[1])

    def test_paging_really_happens(self):
        svc = self.service(vcenter_inventory_page_size=2)
        _pools, calls = self.counted(svc.pools)
        objects = sum(len(kind) for kind in svc.inventory())
        self.assertGreater(objects, 10)
        self.assertEqual((objects + 1) // 2 - 1,
                         calls['ContinueRetrievePropertiesEx'])
        self.assertEqual(1, calls['RetrievePropertiesEx'])


class VmCountTest(testtools.TestCase):
    """Placement costs the same whatever the number of VMs."""

    def measure(self, vms):
        flags = dict(FLAGS, vms=vms)
        vcsim = self.useFixture(base.VcsimFixture(flags))
        session = vc_session.VCenterSession(
            vcsim.options(vcenter_inventory_page_size=5))
        self.addCleanup(session.close)
        session.service_content
        svc = placement.PlacementService(session, rng=random.Random(SEED))
        costs = []
        for call in (svc.pools,                          # cold
                     lambda: svc.choose(10, 'thick'),    # warm
                     lambda: svc.pools(refresh=True),    # forced read
                     svc.invalidate,
                     lambda: svc.choose(10, 'thick')):   # cold
            before = session.counts_snapshot()
            call()
            costs.append(session.counts_snapshot() - before)
        del costs[3]
        return costs

    def test_same_calls_with_10_and_500_vms(self):
        self.useFixture(fixtures.Timeout(600, gentle=True))
        small = self.measure(10)
        large = self.measure(500)
        self.assertEqual(small, large)
        cold_pools, warm_choose, refreshed, cold_choose = small
        self.assertEqual(collections.Counter(), warm_choose)
        self.assertEqual(cold_pools, refreshed)
        self.assertEqual(cold_pools, cold_choose)
        self.assertGreater(cold_pools['ContinueRetrievePropertiesEx'], 0)
