"""Stable pool names, old names and the migration rows."""

import testtools

from vmware_backend.volume import datastore
from vmware_backend.volume import pool_names
from vmware_backend.vsphere import inventory

R = inventory.MoRef


def pool(value, name, dc):
    return datastore.Pool(
        name=pool_names.stable_name(R('Datastore', value)),
        datastore=R('Datastore', value), datastore_name=name, type='VMFS',
        capacity=1, free=1, uncommitted=0, reserved_percentage=0,
        max_over_subscription_ratio=1.0, hosts=(), datacenter_name=dc)


class PoolNamesTest(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.pools = [pool('datastore-1', 'LocalDS_0', 'DC0'),
                      pool('datastore-2', 'LocalDS_0', 'DC1'),
                      pool('datastore-3', 'LocalDS_1', 'DC0')]

    def test_legacy_names(self):
        names = {k: p.name for k, p in
                 pool_names.legacy_names(self.pools).items()}
        self.assertEqual({'DC0:LocalDS_0': 'datastore-1',
                          'DC1:LocalDS_0': 'datastore-2',
                          'LocalDS_1': 'datastore-3',
                          'DC0:LocalDS_1': 'datastore-3'}, names)

    def test_migration_rows(self):
        rows = pool_names.migration(
            self.pools, ['LocalDS_1', 'DC1:LocalDS_0', 'LocalDS_0', 'gone',
                         'datastore-1'])
        self.assertEqual([
            {'old': 'DC1:LocalDS_0', 'new': 'datastore-2',
             'datastore': 'LocalDS_0', 'datacenter': 'DC1'},
            {'old': 'LocalDS_0', 'new': None, 'datastore': None,
             'datacenter': None},
            {'old': 'LocalDS_1', 'new': 'datastore-3',
             'datastore': 'LocalDS_1', 'datacenter': 'DC0'},
            {'old': 'gone', 'new': None, 'datastore': None,
             'datacenter': None}], rows)

    def test_rejected_key(self):
        datastores = {R('Datastore', 'datastore-9'): {'name': 'bad'},
                      R('Datastore', 'datastore-8'): {'name': 'dup'}}
        rejected = {'bad': 'not accessible', 'dup (datastore-8)': 'x'}
        self.assertEqual('bad', pool_names.rejected_key(
            datastores, rejected, 'datastore-9'))
        self.assertEqual('dup (datastore-8)', pool_names.rejected_key(
            datastores, rejected, 'datastore-8'))
        self.assertEqual('zz', pool_names.rejected_key(
            datastores, rejected, 'zz'))

    def test_label(self):
        self.assertEqual('LocalDS_0 (datastore-1)',
                         pool_names.label(self.pools, self.pools[0]))
        self.assertEqual('LocalDS_1',
                         pool_names.label(self.pools, self.pools[2]))
