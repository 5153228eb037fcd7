"""Pool building and datastore selection on synthetic inventory data."""

import collections
import random

import testtools

from vmware_backend import conf
from vmware_backend import exceptions
from vmware_backend.volume import datastore
from vmware_backend.vsphere import inventory

GiB = datastore.GiB
R = inventory.MoRef


class FakeInventory:
    """Builds plain inventory data as the inventory read returns it."""

    def __init__(self):
        self.objects = []
        self.dc = R('Datacenter', 'dc-1')
        host_folder = R('Folder', 'group-h1')
        self._add(self.dc, name='DC1', vmFolder=R('Folder', 'group-v1'),
                  hostFolder=host_folder)
        self._add(host_folder, parent=self.dc)
        self.host_folder = host_folder
        self.clusters = {}

    def _add(self, ref, **props):
        self.objects.append((ref, props))
        return props

    def cluster(self, name, parent=None):
        ref = R('ClusterComputeResource', 'domain-%s' % name)
        self.clusters[name] = self._add(
            ref, name=name, parent=parent or self.host_folder, host=[],
            resourcePool=R('ResourcePool', 'resgroup-%s' % name))
        return ref

    def standalone(self, name):
        ref = R('ComputeResource', 'domain-s-%s' % name)
        props = self._add(ref, name=name, parent=self.host_folder, host=[],
                          resourcePool=R('ResourcePool', 'rp-%s' % name))
        host = R('HostSystem', 'host-%s' % name)
        self._add(host, name=name, parent=ref,
                  **{'runtime.connectionState': 'connected',
                     'runtime.inMaintenanceMode': False})
        props['host'].append(host)
        return host

    def host(self, name, cluster, state='connected', maintenance=False):
        ref = R('HostSystem', 'host-%s' % name)
        cluster_ref = R('ClusterComputeResource', 'domain-%s' % cluster)
        self._add(ref, name=name, parent=cluster_ref,
                  **{'runtime.connectionState': state,
                     'runtime.inMaintenanceMode': maintenance})
        self.clusters[cluster]['host'].append(ref)
        return ref

    def datastore(self, name, hosts, capacity_gib=100, free_gib=80,
                  uncommitted_gib=0, accessible=True, mode='normal',
                  ds_type='VMFS', mounts=None):
        ref = R('Datastore', 'datastore-%s' % name)
        mounts = mounts or {}
        host_mounts = []
        for host in hosts:
            info = {'accessMode': 'readWrite', 'mounted': True,
                    'accessible': True}
            info.update(mounts.get(host, {}))
            host_mounts.append({'key': host, 'mountInfo': info})
        props = {'name': name,
                 'summary.accessible': accessible,
                 'summary.capacity': capacity_gib * GiB,
                 'summary.freeSpace': int(free_gib * GiB),
                 'summary.uncommitted': int(uncommitted_gib * GiB),
                 'summary.type': ds_type,
                 'host': host_mounts}
        if mode is not None:
            props['summary.maintenanceMode'] = mode
        self._add(ref, **props)
        return ref

    def index(self):
        return datastore.index_inventory(self.objects)


def options(**overrides):
    return conf.option_defaults(**overrides)


class BuildPoolsTest(testtools.TestCase):

    def setUp(self):
        super().setUp()
        inv = self.inv = FakeInventory()
        inv.cluster('C1')
        self.h1 = inv.host('h1', 'C1')
        self.h2 = inv.host('h2', 'C1')
        self.hm = inv.host('hm', 'C1', maintenance=True)
        self.hd = inv.host('hd', 'C1', state='disconnected')

    def build(self, **opts):
        return datastore.build_pools(self.inv.index(), options(**opts))

    def test_usable_datastore_is_a_pool_with_its_usable_hosts(self):
        ds = self.inv.datastore('ds1', [self.h1, self.h2, self.hm])
        pools, rejected = self.build()
        self.assertEqual({}, rejected)
        self.assertEqual(['ds1'], [p.datastore_name for p in pools])
        self.assertEqual(ds, pools[0].datastore)
        self.assertEqual((self.h1, self.h2), pools[0].hosts)

    def test_only_maintenance_and_disconnected_hosts(self):
        self.inv.datastore('ds1', [self.hm, self.hd])
        pools, rejected = self.build()
        self.assertEqual([], pools)
        self.assertIn('hm is in maintenance mode', rejected['ds1'])
        self.assertIn('hd is disconnected', rejected['ds1'])

    def test_inaccessible_datastore_disappears(self):
        self.inv.datastore('ds1', [self.h1], accessible=False)
        self.inv.datastore('ds2', [self.h1])
        pools, rejected = self.build()
        self.assertEqual(['ds2'], [p.datastore_name for p in pools])
        self.assertEqual('not accessible', rejected['ds1'])

    def test_datastore_in_maintenance_mode(self):
        self.inv.datastore('ds1', [self.h1], mode='inMaintenance')
        self.inv.datastore('ds2', [self.h1], mode=None)  # unset = normal
        pools, rejected = self.build()
        self.assertEqual(['ds2'], [p.datastore_name for p in pools])
        self.assertIn('maintenance mode is inMaintenance', rejected['ds1'])

    def test_unmounted_or_inaccessible_mount(self):
        self.inv.datastore('ds1', [self.h1],
                           mounts={self.h1: {'mounted': False}})
        self.inv.datastore('ds2', [self.h1],
                           mounts={self.h1: {'accessible': False}})
        self.inv.datastore('ds3', [self.h1, self.h2],
                           mounts={self.h1: {'accessible': False}})
        pools, rejected = self.build()
        self.assertEqual(['ds3'], [p.datastore_name for p in pools])
        self.assertEqual((self.h2,), pools[0].hosts)
        self.assertIn('h1 not mounted', rejected['ds1'])
        self.assertIn('h1 mount not accessible', rejected['ds2'])

    def test_mount_info_fields_absent_count_as_mounted(self):
        ds = self.inv.datastore('ds1', [self.h1])
        props = dict(self.inv.objects)[ds]
        props['host'] = [{'key': self.h1}]
        pools, rejected = self.build()
        self.assertEqual(['ds1'], [p.datastore_name for p in pools])

    def test_datastore_mounted_only_outside_the_cluster(self):
        self.inv.cluster('C2')
        other = self.inv.host('o1', 'C2')
        self.inv.datastore('ds1', [other])
        self.inv.datastore('ds2', [])
        pools, rejected = self.build(vcenter_cluster_names=['C1'])
        self.assertEqual([], pools)
        self.assertIn('1 mount(s) on hosts outside cluster(s) C1',
                      rejected['ds1'])
        self.assertIn('mounted on no host', rejected['ds2'])
        # Every cluster when none is configured.
        pools, rejected = self.build()
        self.assertEqual(['ds1'], [p.datastore_name for p in pools])

    def test_standalone_hosts_are_not_used_by_default(self):
        alone = self.inv.standalone('s1')
        self.inv.datastore('ds1', [alone])
        pools, rejected = self.build()
        self.assertEqual([], pools)
        self.assertIn('outside any cluster', rejected['ds1'])
        # ...but are when asked about that host.
        pools, _rej = datastore.build_pools(self.inv.index(), options(),
                                            host=alone)
        self.assertEqual(['ds1'], [p.datastore_name for p in pools])

    def test_host_restriction(self):
        self.inv.datastore('ds1', [self.h1])
        self.inv.datastore('ds2', [self.h2])
        pools, rejected = datastore.build_pools(self.inv.index(), options(),
                                                host=self.h2)
        self.assertEqual(['ds2'], [p.datastore_name for p in pools])
        self.assertIn('outside host h2', rejected['ds1'])
        pools, _rej = datastore.build_pools(self.inv.index(), options(),
                                            host=self.hm)
        self.assertEqual([], pools)

    def test_regex(self):
        self.inv.datastore('nfs-a', [self.h1])
        self.inv.datastore('vmfs-a', [self.h1])
        pools, rejected = self.build(vcenter_datastore_regex='nfs-')
        self.assertEqual(['nfs-a'], [p.datastore_name for p in pools])
        self.assertIn('does not match vcenter_datastore_regex',
                      rejected['vmfs-a'])

    def test_type_filter(self):
        self.inv.datastore('a', [self.h1], ds_type='NFS')
        self.inv.datastore('b', [self.h1], ds_type='VMFS')
        self.inv.datastore('c', [self.h1], ds_type='OTHER')
        pools, rejected = self.build(vcenter_datastore_types=['NFS'])
        self.assertEqual(['a'], [p.datastore_name for p in pools])
        self.assertIn('type VMFS is not one of', rejected['b'])
        self.assertIn('type OTHER is not one of', rejected['c'])

    def test_several_reasons_are_all_given(self):
        self.inv.datastore('ds1', [self.hm], accessible=False,
                           ds_type='OTHER')
        _pools, rejected = self.build()
        self.assertIn('not accessible', rejected['ds1'])
        self.assertIn('type OTHER', rejected['ds1'])
        self.assertIn('hm is in maintenance mode', rejected['ds1'])

    def test_unknown_cluster_names_are_reported(self):
        _hosts, missing = datastore.cluster_hosts(self.inv.index(),
                                                  ['C1', 'nope'])
        self.assertEqual(['nope'], missing)

    def test_duplicate_names_across_datacenters(self):
        inv = self.inv
        dc2 = R('Datacenter', 'dc-2')
        folder2 = R('Folder', 'group-h2')
        inv._add(dc2, name='DC2', vmFolder=R('Folder', 'group-v2'),
                 hostFolder=folder2)
        inv._add(folder2, parent=dc2)
        inv.cluster('C2', parent=folder2)
        h3 = inv.host('h3', 'C2')
        inv.datastore('nfs', [self.h1])
        ds2 = R('Datastore', 'datastore-nfs2')
        props = dict(dict(inv.objects)[R('Datastore', 'datastore-nfs')])
        props['host'] = [{'key': h3}]
        inv._add(ds2, **props)
        pools, _rej = self.build()
        self.assertEqual(['datastore-nfs', 'datastore-nfs2'],
                         [p.name for p in pools])
        self.assertEqual(['nfs', 'nfs'], [p.datastore_name for p in pools])
        self.assertEqual(['DC1', 'DC2'], [p.datacenter_name for p in pools])

    def add_second_datacenter(self):
        inv = self.inv
        dc2 = R('Datacenter', 'dc-2')
        folder2 = R('Folder', 'group-h2')
        inv._add(dc2, name='DC2', vmFolder=R('Folder', 'group-v2'),
                 hostFolder=folder2)
        inv._add(folder2, parent=dc2)
        inv.cluster('C2', parent=folder2)
        return inv.host('h3', 'C2')

    def test_pool_name_is_stable(self):
        # Regression: the name used to flip from 'nfs' to 'DC1:nfs' when
        # another datacenter got a datastore called 'nfs', and to change
        # with a rename.
        ds = self.inv.datastore('nfs', [self.h1])
        pools, _rej = self.build()
        self.assertEqual(['datastore-nfs'], [p.name for p in pools])
        h3 = self.add_second_datacenter()
        self.inv.datastore('nfs', [h3])
        self.inv.objects[-1] = (R('Datastore', 'datastore-other'),
                                self.inv.objects[-1][1])
        pools, _rej = self.build()
        self.assertEqual(['datastore-nfs', 'datastore-other'],
                         [p.name for p in pools])
        dict(self.inv.objects)[ds]['name'] = 'renamed'
        pools, _rej = self.build()
        self.assertEqual('datastore-nfs', pools[0].name)
        self.assertEqual('renamed', pools[0].datastore_name)

    def test_old_pool_names_still_place(self):
        self.inv.datastore('nfs', [self.h1])
        self.inv.datastore('solo', [self.h1])
        h3 = self.add_second_datacenter()
        self.inv.datastore('nfs', [h3])
        self.inv.objects[-1] = (R('Datastore', 'datastore-other'),
                                self.inv.objects[-1][1])
        pools, _rej = self.build()
        pick = lambda name: datastore.select(  # noqa: E731
            pools, 1, 'thin', pool_name=name).datastore.value
        self.assertEqual('datastore-solo', pick('solo'))
        self.assertEqual('datastore-solo', pick('DC1:solo'))
        self.assertEqual('datastore-nfs', pick('DC1:nfs'))
        self.assertEqual('datastore-other', pick('DC2:nfs'))
        self.assertEqual('datastore-other', pick('datastore-other'))
        err = self.assertRaises(exceptions.NoValidDatastore, pick, 'nfs')
        self.assertIn('Pool name nfs is ambiguous', str(err))
        self.assertIn('datastore-nfs, datastore-other', str(err))
        err = self.assertRaises(exceptions.NoValidDatastore, pick, 'DC3:nfs')
        self.assertIn('DC3:nfs: no such datastore', str(err))

    def test_nested_host_folder(self):
        inv = self.inv
        nested = R('Folder', 'group-h9')
        inv._add(nested, parent=inv.host_folder)
        inv.cluster('CN', parent=nested)
        h = inv.host('hn', 'CN')
        inv.datastore('ds1', [h])
        index = inv.index()
        pools, _rej = datastore.build_pools(index, options())
        placement = datastore.place(index, pools[0], rng=random.Random(3))
        self.assertEqual(inv.dc, placement.datacenter)


class StatsTest(testtools.TestCase):

    def test_pool_stats(self):
        inv = FakeInventory()
        inv.cluster('C1')
        h1 = inv.host('h1', 'C1')
        inv.datastore('ds1', [h1], capacity_gib=100, free_gib=40.009,
                      uncommitted_gib=30.001, ds_type='NFS')
        pools, _rej = datastore.build_pools(
            inv.index(), options(vcenter_reserved_percentage=10,
                                 vcenter_max_over_subscription_ratio=3.0))
        stats = datastore.pool_stats(pools[0], 'vc-uuid')
        self.assertEqual({
            'pool_name': 'datastore-ds1',
            'total_capacity_gb': 100.0,
            'free_capacity_gb': 40.0,          # floor, not 40.01
            'provisioned_capacity_gb': 89.99,  # 100 - 40.009 + 30.001
            'reserved_percentage': 10,
            'max_over_subscription_ratio': 3.0,
            'thin_provisioning_support': True,
            'thick_provisioning_support': True,
            'online_extend_support': False,
            'multiattach': True,
            'QoS_support': True,
            'datastore_type': 'NFS',
            'datastore_name': 'ds1',
            'location_info': 'vmware_backend:vc-uuid:datastore-ds1',
        }, stats)


def pool(name, capacity=100, free=80, uncommitted=0, reserved=0, ratio=1.0):
    return datastore.Pool(
        name=name, datastore=R('Datastore', 'datastore-%s' % name),
        datastore_name=name, type='VMFS', capacity=capacity * GiB,
        free=int(free * GiB), uncommitted=int(uncommitted * GiB),
        reserved_percentage=reserved, max_over_subscription_ratio=ratio,
        hosts=(R('HostSystem', 'host-1'),))


class FitsTest(testtools.TestCase):

    def test_thick_needs_real_free_space(self):
        p = pool('a', free=10)
        self.assertIsNone(datastore.fits(p, 10, 'thick'))
        self.assertIn('10.00 GiB free',
                      datastore.fits(p, 11, 'eagerZeroedThick'))

    def test_thick_honours_reserve(self):
        p = pool('a', capacity=100, free=30, reserved=25)
        self.assertIsNone(datastore.fits(p, 5, 'thick'))
        self.assertIn('after the 25% reserve',
                      datastore.fits(p, 6, 'thick'))

    def test_thin_over_subscription(self):
        # provisioned = 100 - 10 + 150 = 240; limit 100 * 3 = 300
        p = pool('a', capacity=100, free=10, uncommitted=150, ratio=3.0)
        self.assertIsNone(datastore.fits(p, 60, 'thin'))
        self.assertIn('over-subscribed', datastore.fits(p, 61, 'thin'))
        # thick cannot use the promise
        self.assertIsNotNone(datastore.fits(p, 60, 'thick'))

    def test_thin_needs_space_left_after_reserve(self):
        p = pool('a', capacity=100, free=10, reserved=10, ratio=20.0)
        self.assertIn('no free space left', datastore.fits(p, 1, 'thin'))
        p = pool('a', capacity=100, free=0, ratio=20.0)
        self.assertIn('no free space left', datastore.fits(p, 1, 'thin'))

    def test_unknown_disk_type(self):
        self.assertRaises(ValueError, datastore.fits, pool('a'), 1, 'sparse')


class SelectTest(testtools.TestCase):

    def test_most_free_space_wins(self):
        pools = [pool('a', free=50), pool('b', free=70), pool('c', free=60)]
        for _ in range(20):
            self.assertEqual('b', datastore.select(pools, 1, 'thin').name)

    def test_reserve_counts_in_the_ranking(self):
        pools = [pool('a', capacity=1000, free=100, reserved=10),
                 pool('b', capacity=100, free=90, reserved=10)]
        # a: 100 - 100 = 0 usable; b: 90 - 10 = 80 usable
        self.assertEqual('b', datastore.select(pools, 1, 'thin').name)

    def test_full_datastore_is_skipped(self):
        pools = [pool('full', free=0.5), pool('ok', free=5)]
        self.assertEqual('ok', datastore.select(pools, 1, 'thick').name)

    def test_ties_spread(self):
        pools = [pool('a', free=80), pool('b', free=80),
                 pool('c', free=79.5), pool('d', free=70)]
        rng = random.Random(42)
        picks = collections.Counter(
            datastore.select(pools, 1, 'thin', rng=rng).name
            for _ in range(300))
        self.assertEqual({'a', 'b', 'c'}, set(picks))
        for name in 'abc':
            self.assertGreater(picks[name], 50)

    def test_named_pool(self):
        pools = [pool('a', free=50), pool('b', free=70)]
        self.assertEqual('a', datastore.select(pools, 10, 'thick',
                                               pool_name='a').name)

    def test_named_pool_too_small(self):
        pools = [pool('a', free=5), pool('b', free=70)]
        err = self.assertRaises(exceptions.NoValidDatastore,
                                datastore.select, pools, 10, 'thick',
                                pool_name='a', target='volume v1')
        self.assertIn('volume v1', str(err))
        self.assertIn('a: 5.00 GiB free', str(err))
        self.assertNotIn('b:', str(err))

    def test_named_pool_not_usable(self):
        err = self.assertRaises(
            exceptions.NoValidDatastore, datastore.select, [pool('b')], 1,
            'thin', pool_name='a', rejected={'a': 'not accessible'})
        self.assertIn('a: not accessible', str(err))
        err = self.assertRaises(
            exceptions.NoValidDatastore, datastore.select, [pool('b')], 1,
            'thin', pool_name='zz')
        self.assertIn('zz: no such datastore', str(err))

    def test_no_fit_lists_every_candidate(self):
        pools = [pool('small', free=2),
                 pool('reserved', free=12, capacity=100, reserved=90)]
        err = self.assertRaises(
            exceptions.NoValidDatastore, datastore.select, pools, 10,
            'thick', rejected={'gone': 'not accessible'},
            target='volume v2')
        text = str(err)
        self.assertIn('10 GiB (thick) for volume v2', text)
        self.assertIn('gone: not accessible', text)
        self.assertIn('small: 2.00 GiB free', text)
        self.assertIn('reserved: 0.00 GiB free after the 90% reserve', text)

    def test_nothing_at_all(self):
        err = self.assertRaises(exceptions.NoValidDatastore,
                                datastore.select, [], 1, 'thin')
        self.assertIn('no datastore found', str(err))


class PlaceTest(testtools.TestCase):

    def setUp(self):
        super().setUp()
        inv = self.inv = FakeInventory()
        inv.cluster('C1')
        self.h1 = inv.host('h1', 'C1')
        self.h2 = inv.host('h2', 'C1')
        self.hm = inv.host('hm', 'C1', maintenance=True)
        inv.datastore('ds1', [self.h1, self.h2, self.hm])
        self.index = inv.index()
        self.pools, _rej = datastore.build_pools(self.index, options())

    def test_placement(self):
        placement = datastore.place(self.index, self.pools[0], host=self.h2)
        self.assertEqual(datastore.Placement(
            pool_name='datastore-ds1',
            datastore=R('Datastore', 'datastore-ds1'),
            datastore_name='ds1', host=self.h2, host_name='h2',
            cluster=R('ClusterComputeResource', 'domain-C1'),
            resource_pool=R('ResourcePool', 'resgroup-C1'),
            datacenter=self.inv.dc, datacenter_name='DC1',
            vm_folder=R('Folder', 'group-v1')), placement)

    def test_random_host_never_in_maintenance(self):
        rng = random.Random(1)
        hosts = collections.Counter(
            datastore.place(self.index, self.pools[0], rng=rng).host
            for _ in range(100))
        self.assertEqual({self.h1, self.h2}, set(hosts))

    def test_host_that_does_not_mount(self):
        self.assertRaises(ValueError, datastore.place, self.index,
                          self.pools[0], host=self.hm)


class ConsumeTest(testtools.TestCase):

    def test_thick_takes_free_space_thin_adds_uncommitted(self):
        props = {'summary.freeSpace': 10 * GiB}
        thick = datastore.consume(props, 3, 'thick')
        self.assertEqual(7 * GiB, thick['summary.freeSpace'])
        thin = datastore.consume(props, 3, 'thin')
        self.assertEqual(10 * GiB, thin['summary.freeSpace'])
        self.assertEqual(3 * GiB, thin['summary.uncommitted'])
        self.assertEqual({'summary.freeSpace': 10 * GiB}, props)
