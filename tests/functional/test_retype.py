"""Retype (disk type, pool) and migrate_volume on vcsim, read back."""

from tests.functional import lifecycle_base as lb
from vmware_backend import exceptions


class RetypeMigrateTest(lb.LifecycleTestCase):

    def pool_host(self, name, **overrides):
        """Cinder's host dict of the pool of datastore ``name``."""
        stats = self.driver.get_volume_stats(refresh=True)
        [pool] = [p for p in stats['pools'] if p['datastore_name'] == name]
        capabilities = dict(pool, volume_backend_name=stats[
            'volume_backend_name'])
        capabilities.update(overrides)
        return {'host': 'node1@vmware-1#%s' % pool['pool_name'],
                'capabilities': capabilities}

    def datastores(self, volume):
        return [self.entity_name(ref) for ref in lb.vsphere_ops.ref_list(
            self.state(volume.id).props['datastore'])]

    def test_migrate_to_another_pool(self):
        volume = self.create(size=1, host='node1@vmware-1#LocalDS_0')
        before = self.state(volume.id)
        self.assertEqual(['LocalDS_0'], self.datastores(volume))
        # Another vCenter: refused (Cinder's generic migration cannot
        # work with this driver), nothing moves.
        self.assertRaises(
            exceptions.InvalidVolume, self.driver.migrate_volume, None,
            volume, self.pool_host(
                'LocalDS_1', location_info='vmware_backend:other:ds-1'))
        self.assertEqual(['LocalDS_0'], self.datastores(volume))
        self.assertEqual((True, None), self.driver.migrate_volume(
            None, volume, self.pool_host('LocalDS_1')))
        after = self.state(volume.id)
        self.assertEqual(['LocalDS_1'], self.datastores(volume))
        self.assertTrue(after.disk.backing.fileName.startswith(
            '[LocalDS_1] '), after.disk.backing.fileName)
        self.assertEqual(lb.vsphere_ops.moref_value(before.ref),
                         lb.vsphere_ops.moref_value(after.ref))
        self.assertEqual(before.disk.backing.uuid, after.disk.backing.uuid)

    def test_migrate_refusals(self):
        source = self.create(size=1)
        snapshot = lb.make_snapshot(source)
        self.driver.create_snapshot(snapshot)
        self.addCleanup(self.driver.delete_snapshot, snapshot)
        clone = lb.make_volume(1, {'vmware:clone_type': 'linked'})
        self.driver.create_volume_from_snapshot(clone, snapshot)
        self.track(clone)
        for volume in (source, clone):
            err = self.assertRaises(
                exceptions.InvalidVolume, self.driver.migrate_volume, None,
                volume, self.pool_host('LocalDS_1'))
            self.assertIn('linked clone', str(err))
        attached = self.create(size=1)
        attached.status = 'in-use'
        self.assertRaises(exceptions.VolumeIsBusy,
                          self.driver.migrate_volume, None, attached,
                          self.pool_host('LocalDS_1'))

    def test_retype_disk_type(self):
        volume = self.create(size=1, specs={'vmware:vmdk_type': 'thin'},
                             host='node1@vmware-1#LocalDS_0')
        self.assertTrue(self.state(volume.id).disk.backing.thinProvisioned)
        new_type = {'extra_specs': {'vmware:vmdk_type': 'eagerZeroedThick'}}
        self.assertTrue(self.driver.retype(
            None, volume, new_type, {}, self.pool_host('LocalDS_0')))
        backing = self.state(volume.id).disk.backing
        self.assertFalse(backing.thinProvisioned)
        self.assertTrue(backing.eagerlyScrub)
        self.assertEqual(['LocalDS_0'], self.datastores(volume))
        # Adapter type: refused, nothing changes.
        err = self.assertRaises(
            exceptions.InvalidExtraSpec, self.driver.retype, None, volume,
            {'extra_specs': {'vmware:adapter_type': 'paraVirtual'}}, {},
            self.pool_host('LocalDS_0'))
        self.assertIn('vmware:adapter_type', str(err))
        # Another vCenter: refused, naming why.
        err = self.assertRaises(
            exceptions.InvalidVolume, self.driver.retype, None, volume,
            new_type, {}, self.pool_host(
                'LocalDS_1', location_info='vmware_backend:x:ds-9'))
        self.assertIn('not a backend of this driver on vCenter', str(err))
