"""Start-up and statistics of the volume driver, with no server.

The placement service is the real one with its inventory read replaced by
fixed datastores (:class:`FixedPlacement`), so the pool statistics come from
the real :func:`vmware_backend.volume.datastore.pool_stats`. Every expected
number and key is written out here.
"""

import types

import fixtures
import testtools

from vmware_backend import conf
from vmware_backend import exceptions
from vmware_backend.volume import datastore
from vmware_backend.volume import driver as driver_mod
from vmware_backend.volume import placement as placement_mod
from vmware_backend.vsphere import inventory

GiB = 1024 ** 3
R = inventory.MoRef
OPTIONS = {'vcenter_host': 'vc.example.org', 'vcenter_username': 'u',
           'vcenter_password': 'p', 'vcenter_backend_name': 'vmware-1',
           'vcenter_reserved_percentage': 5,
           'vcenter_max_over_subscription_ratio': 10.0}


def pool(name, value, capacity, free, uncommitted=0):
    return datastore.Pool(
        name=name, datastore=R('Datastore', value), datastore_name=name,
        type='VMFS', capacity=capacity, free=free, uncommitted=uncommitted,
        reserved_percentage=5, max_over_subscription_ratio=10.0,
        hosts=(R('HostSystem', 'host-1'),))


# 100.115 GiB, 40.0099 GiB free (rounds to 40.01, floors to 40.0), 2 GiB
# promised to thin disks.
POOL_A = pool('dc:ds-a', 'datastore-11', 100 * GiB + 123456789,
              40 * GiB + 10737418, uncommitted=2 * GiB)
# 2.5 GiB, 1.999 GiB free.
POOL_B = pool('dc:ds-b', 'datastore-12', 5 * GiB // 2, 2 * GiB - 1073742)


class FixedPlacement(placement_mod.PlacementService):
    """The real statistics over fixed datastores; counts the reads."""

    def __init__(self, pools, rejected=None):
        session = types.SimpleNamespace(
            options=conf.option_defaults(**OPTIONS),
            service_content=types.SimpleNamespace(
                about=types.SimpleNamespace(instanceUuid='vc-uuid-1')))
        super().__init__(session)
        self.fixed = list(pools)
        self.fixed_rejected = dict(rejected or {})
        self.reads = []

    def usable_pools(self, refresh=False):
        self.reads.append(refresh)
        return list(self.fixed)

    def rejected(self, refresh=False):
        return dict(self.fixed_rejected)

    def inventory(self, refresh=False):
        # The pools are fixed; their host's cluster is all the statistics
        # read (location_info).
        return datastore.Inventory({}, {}, {}, {R('HostSystem', 'host-1'): {
            'parent': R('ClusterComputeResource', 'domain-c7')}}, {})


class StatsTest(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.log = self.useFixture(fixtures.FakeLogger())
        self.placement = FixedPlacement([POOL_A, POOL_B])
        self.driver = driver_mod.VMwareVolumeDriver(
            conf.option_defaults(**OPTIONS), session=object(),
            placement=self.placement)

    def test_backend_level_values(self):
        stats = self.driver.get_volume_stats(refresh=True)
        pools = stats.pop('pools')
        self.assertEqual({
            'volume_backend_name': 'vmware-1',
            'vendor_name': 'VMware',
            'driver_version': '1.0.0',
            'storage_protocol': 'vmdk',
            # 100.11 + 2.5 (each pool rounded, then the sum)
            'total_capacity_gb': 102.61,
            # 40.0 + 1.99: free space is rounded down, never up
            'free_capacity_gb': 41.99,
            'reserved_percentage': 5,
            'max_over_subscription_ratio': 10.0,
            'thin_provisioning_support': True,
            'thick_provisioning_support': True,
            'multiattach': True,
            'online_extend_support': False,
        }, stats)
        self.assertEqual(['dc:ds-a', 'dc:ds-b'],
                         [p['pool_name'] for p in pools])

    def test_every_pool_key_the_scheduler_reads(self):
        pools = self.driver.get_volume_stats(refresh=True)['pools']
        self.assertEqual([{
            'pool_name': 'dc:ds-a',
            'total_capacity_gb': 100.11,
            'free_capacity_gb': 40.0,
            # capacity - free + uncommitted = 60.104978 + 2, rounded
            'provisioned_capacity_gb': 62.1,
            'reserved_percentage': 5,
            'max_over_subscription_ratio': 10.0,
            'thin_provisioning_support': True,
            'thick_provisioning_support': True,
            'online_extend_support': False,
            'multiattach': True,
            'QoS_support': True,
            'datastore_type': 'VMFS',
            'datastore_name': 'dc:ds-a',
            'location_info': 'vmware_backend:vc-uuid-1:datastore-11:'
                             'domain-c7:OpenStack/Volumes',
        }, {
            'pool_name': 'dc:ds-b',
            'total_capacity_gb': 2.5,
            'free_capacity_gb': 1.99,
            'provisioned_capacity_gb': 0.5,
            'reserved_percentage': 5,
            'max_over_subscription_ratio': 10.0,
            'thin_provisioning_support': True,
            'thick_provisioning_support': True,
            'online_extend_support': False,
            'multiattach': True,
            'QoS_support': True,
            'datastore_type': 'VMFS',
            'datastore_name': 'dc:ds-b',
            'location_info': 'vmware_backend:vc-uuid-1:datastore-12:'
                             'domain-c7:OpenStack/Volumes',
        }], pools)

    def test_refresh_false_returns_the_cached_stats(self):
        first = self.driver.get_volume_stats()
        self.assertEqual([False], self.placement.reads)
        self.placement.fixed = [POOL_B]
        cached = self.driver.get_volume_stats(refresh=False)
        self.assertEqual([False], self.placement.reads)
        self.assertEqual(102.61, cached['total_capacity_gb'])
        self.assertEqual(first, cached)
        fresh = self.driver.get_volume_stats(refresh=True)
        self.assertEqual([False, True], self.placement.reads)
        self.assertEqual(2.5, fresh['total_capacity_gb'])
        self.assertEqual(1.99, fresh['free_capacity_gb'])
        self.assertEqual(['dc:ds-b'],
                         [p['pool_name'] for p in fresh['pools']])

    def test_no_pool_reports_zero(self):
        self.placement.fixed = []
        stats = self.driver.get_volume_stats(refresh=True)
        self.assertEqual((0, 0, []), (stats['total_capacity_gb'],
                                      stats['free_capacity_gb'],
                                      stats['pools']))


class StartUpTest(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.log = self.useFixture(fixtures.FakeLogger())

    def test_do_setup_logs_in(self):
        logins = []

        class Session:
            @property
            def api(self):
                logins.append('login')
                return object()

        driver = driver_mod.VMwareVolumeDriver(
            conf.option_defaults(**OPTIONS), session=Session(),
            placement=FixedPlacement([POOL_A]))
        driver.do_setup(None)
        self.assertEqual(['login'], logins)

    def test_do_setup_raises_the_login_error(self):
        class Session:
            @property
            def api(self):
                raise exceptions.VCenterLoginError(
                    url='https://vc.example.org:443/sdk', user='u',
                    reason='Cannot complete login due to an incorrect user '
                           'name or password.')

        driver = driver_mod.VMwareVolumeDriver(
            conf.option_defaults(**OPTIONS), session=Session(),
            placement=FixedPlacement([POOL_A]))
        err = self.assertRaises(exceptions.VCenterLoginError,
                                driver.do_setup, None)
        self.assertIn('https://vc.example.org:443/sdk', str(err))

    def driver(self, placement, **options):
        return driver_mod.VMwareVolumeDriver(
            conf.option_defaults(**dict(OPTIONS, **options)),
            session=object(), placement=placement)

    def test_check_reads_the_pools_afresh(self):
        placement = FixedPlacement([POOL_A])
        self.driver(placement).check_for_setup_error()
        self.assertEqual([True], placement.reads)

    def test_check_without_pools_names_every_rejected_datastore(self):
        placement = FixedPlacement(
            [], rejected={'ds-x': 'in maintenance',
                          'ds-y': 'not mounted on a usable host'})
        err = self.assertRaises(exceptions.BackendSetupError,
                                self.driver(placement).check_for_setup_error)
        self.assertEqual([True], placement.reads)
        text = str(err)
        self.assertIn('no usable datastore: ds-x: in maintenance; ds-y: not '
                      'mounted on a usable host', text)
        self.assertIn('Fix: check vcenter_datastore_regex', text)

    def test_check_with_an_unknown_cluster_names_it(self):
        driver = self.driver(FixedPlacement([POOL_A]),
                             vcenter_cluster_names=['Cluster9'])
        err = self.assertRaises(exceptions.BackendSetupError,
                                driver.check_for_setup_error)
        self.assertIn("cluster(s) 'Cluster9' named in vcenter_cluster_names "
                      "do not exist in vCenter (clusters found: none)",
                      str(err))
        self.assertIn('Fix: correct vcenter_cluster_names', str(err))

    def test_setup_errors_exact_text(self):
        driver = self.driver(FixedPlacement([POOL_A]),
                             vcenter_cluster_names=['C8', 'C9'])
        err = self.assertRaises(exceptions.BackendSetupError,
                                driver.check_for_setup_error)
        self.assertEqual(
            "The backend cannot be used: cluster(s) 'C8', 'C9' named in "
            "vcenter_cluster_names do not exist in vCenter (clusters found: "
            "none). Fix: correct vcenter_cluster_names, or leave it empty to "
            "use every cluster", str(err))
        err = self.assertRaises(
            exceptions.BackendSetupError,
            self.driver(FixedPlacement([], rejected={
                'ds-x': 'in maintenance'})).check_for_setup_error)
        self.assertEqual(
            'The backend cannot be used: no usable datastore: ds-x: in '
            'maintenance. Fix: check vcenter_datastore_regex, '
            'vcenter_datastore_types and vcenter_cluster_names '
            '("vmware-backend-manage check" lists every datastore and why '
            'it is rejected)', str(err))

    def test_version_and_names(self):
        self.assertEqual('1.0.0', driver_mod.VERSION)
        self.assertEqual('1.0.0', driver_mod.VMwareVolumeDriver.VERSION)
        self.assertEqual('clone-', driver_mod.CLONE_SNAPSHOT_PREFIX)
