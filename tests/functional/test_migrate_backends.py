"""Driver-assisted migration between two backends of one vCenter, on vcsim.

Two drivers as tools/openstack-up.sh configures them: vmware-1 on cluster
DC0_C0 (folder OpenStack/vmware-1) and vmware-2 on DC0_C1 (folder
OpenStack/vmware-2) of one simulator. Everything is read back over the
test's own session: cluster, host, resource pool, datastore, folder, the
owner mark, snapshots, disk file, uuid and capacity, and what the
``volumes``/``audit`` reads of each backend make of the backing.
"""

from tests.functional import lifecycle_base as lb
from vmware_backend.admin import audit
from vmware_backend.admin import listing
from vmware_backend import conf
from vmware_backend import exceptions
from vmware_backend.volume import driver as vmware_driver
from vmware_backend.vsphere import ops as vsphere_ops
from vmware_backend.vsphere import specs

GiB_KB = 1024 * 1024


def backend_options(options, name, cluster):
    return conf.option_defaults(**dict(
        options, vcenter_backend_name=name, vcenter_cluster_names=[cluster],
        vcenter_volume_folder='OpenStack/%s' % name))


class TwoBackendsTestCase(lb.LifecycleTestCase):

    VCSIM_FLAGS = {'clusters': 2}

    def setUp(self):
        super().setUp()
        # self.driver (the clean-ups' driver) is vmware-1.
        self.driver = vmware_driver.VMwareVolumeDriver(
            backend_options(self.options, 'vmware-1', 'DC0_C0'),
            session=self.session)
        self.other = vmware_driver.VMwareVolumeDriver(
            backend_options(self.options, 'vmware-2', 'DC0_C1'),
            session=self.session)

    def pool_host(self, driver, datastore_name, **overrides):
        """Cinder's host dict of ``driver``'s pool on ``datastore_name``."""
        stats = driver.get_volume_stats(refresh=True)
        [pool] = [p for p in stats['pools']
                  if p['datastore_name'] == datastore_name]
        capabilities = dict(pool, volume_backend_name=stats[
            'volume_backend_name'])
        capabilities.update(overrides)
        return {'host': 'node1@%s#%s' % (stats['volume_backend_name'],
                                         pool['pool_name']),
                'capabilities': capabilities}

    def where(self, volume):
        """(cluster, resource pool owner, datastores, folder path, owner)."""
        state = self.state(volume.id)
        host = state.props['runtime.host']
        cluster = self.session.get_properties(host, ['parent'])['parent']
        pool = self.session.get_properties(state.ref, ['resourcePool'])[
            'resourcePool']
        pool_owner = self.session.get_properties(pool, ['owner'])['owner']
        folder = state.props['parent']
        up = self.session.get_properties(folder, ['name', 'parent'])
        path = '%s/%s' % (self.entity_name(up['parent']), up['name'])
        return (self.entity_name(cluster), self.entity_name(pool_owner),
                [self.entity_name(d) for d in
                 vsphere_ops.ref_list(state.props['datastore'])],
                path, state.extra.get(specs.KEY_BACKEND))

    def listed(self, driver):
        """{volume id: ownership} of the backings ``volumes`` lists."""
        backings, _instances = listing.read(
            self.session, devices=False,
            volume_folder=driver.options['vcenter_volume_folder'])
        return {b.volume_id: listing.ownership(b, driver.backend_id)
                for b in backings}

    def audit_of(self, driver, known):
        backings, _instances = listing.read(
            self.session, devices=False,
            volume_folder=driver.options['vcenter_volume_folder'])
        owned, _foreign = listing.split_by_owner(backings, driver.backend_id)
        return [(f.kind, f.volume_id) for f in audit.find(owned, known)]


class MigrateBetweenBackendsTest(TwoBackendsTestCase):

    def test_location_info_names_vcenter_clusters_and_folder(self):
        about = self.session.service_content.about
        host = self.pool_host(self.other, 'LocalDS_1')
        cluster = self.session.invoke(
            'FindByInventoryPath', self.session.service_content.searchIndex,
            inventoryPath='DC0/host/DC0_C1')
        datastore = self.session.invoke(
            'FindByInventoryPath', self.session.service_content.searchIndex,
            inventoryPath='DC0/datastore/LocalDS_1')
        self.assertEqual(
            'vmware_backend:%s:%s:%s:OpenStack/vmware-2' % (
                about.instanceUuid, vsphere_ops.moref_value(datastore),
                vsphere_ops.moref_value(cluster)),
            host['capabilities']['location_info'])

    def test_migrate_with_snapshots_to_the_other_backend(self):
        volume = self.create(size=2, host='node1@vmware-1#LocalDS_0')
        snapshot = lb.make_snapshot(volume)
        self.driver.create_snapshot(snapshot)
        before = self.state(volume.id)
        self.assertEqual(('DC0_C0', 'DC0_C0', ['LocalDS_0'],
                          'OpenStack/vmware-1', 'vmware-1@OpenStack/vmware-1'),
                         self.where(volume))
        self.assertEqual({volume.id: listing.OWN}, self.listed(self.driver))
        self.assertEqual({}, self.listed(self.other))

        self.assertEqual((True, None), self.driver.migrate_volume(
            None, volume, self.pool_host(self.other, 'LocalDS_1')))

        after = self.state(volume.id)
        self.assertEqual(('DC0_C1', 'DC0_C1', ['LocalDS_1'],
                          'OpenStack/vmware-2', 'vmware-2@OpenStack/vmware-2'),
                         self.where(volume))
        # The same VM, disk and data: moved, not copied.
        self.assertEqual(vsphere_ops.moref_value(before.ref),
                         vsphere_ops.moref_value(after.ref))
        self.assertEqual(before.disk.backing.uuid, after.disk.backing.uuid)
        self.assertEqual(2 * GiB_KB, after.disk.capacityInKB)
        self.assertTrue(after.disk.backing.fileName.startswith(
            '[LocalDS_1] '), after.disk.backing.fileName)
        self.assertEqual(volume.id, after.extra[specs.KEY_VOLUME_ID])
        self.assertEqual(volume.id, after.props['config.instanceUuid'])
        self.assertEqual([snapshot.name], after.snapshot_names)
        # Both backends agree: vmware-2 owns it, vmware-1 lists nothing,
        # and neither audit finds anything (Cinder now has it on vmware-2).
        self.assertEqual({}, self.listed(self.driver))
        self.assertEqual({volume.id: listing.OWN}, self.listed(self.other))
        self.assertEqual([], self.audit_of(self.other, {volume.id}))
        self.assertEqual([], self.audit_of(self.driver, set()))

        # Again (a retry after a lost answer): nothing left to do.
        self.assertEqual((True, None), self.driver.migrate_volume(
            None, volume, self.pool_host(self.other, 'LocalDS_1')))
        self.assertEqual(('DC0_C1', 'DC0_C1', ['LocalDS_1'],
                          'OpenStack/vmware-2', 'vmware-2@OpenStack/vmware-2'),
                         self.where(volume))

        # The destination backend serves it: its snapshot, then the volume.
        self.other.delete_snapshot(snapshot)
        self.assertEqual([], self.state(volume.id).snapshot_names)
        self.other.extend_volume(volume, 3)
        self.assertEqual(3 * GiB_KB, self.state(volume.id).disk.capacityInKB)
        self.other.delete_volume(volume)
        self.assertGone(volume.id)

    def test_same_datastore_other_cluster(self):
        volume = self.create(size=1, host='node1@vmware-1#LocalDS_0')
        self.assertEqual((True, None), self.driver.migrate_volume(
            None, volume, self.pool_host(self.other, 'LocalDS_0')))
        self.assertEqual(('DC0_C1', 'DC0_C1', ['LocalDS_0'],
                          'OpenStack/vmware-2', 'vmware-2@OpenStack/vmware-2'),
                         self.where(volume))
        # And back.
        volume.host = 'node1@vmware-2#LocalDS_0'
        self.assertEqual((True, None), self.other.migrate_volume(
            None, volume, self.pool_host(self.driver, 'LocalDS_1')))
        self.assertEqual(('DC0_C0', 'DC0_C0', ['LocalDS_1'],
                          'OpenStack/vmware-1', 'vmware-1@OpenStack/vmware-1'),
                         self.where(volume))

    def test_refusals_leave_it_where_it_is(self):
        home = ('DC0_C0', 'DC0_C0', ['LocalDS_0'], 'OpenStack/vmware-1',
                'vmware-1@OpenStack/vmware-1')
        volume = self.create(size=1, host='node1@vmware-1#LocalDS_0')
        # Another vCenter (or another driver): Cinder's generic migration
        # cannot work with this driver; refused, naming why.
        err = self.assertRaises(
            exceptions.InvalidVolume, self.driver.migrate_volume, None,
            volume, self.pool_host(
                self.other, 'LocalDS_1',
                location_info='vmware_backend:other-vc:datastore-1:'
                              'domain-c1:OpenStack/x'))
        self.assertIn('not a backend of this driver on vCenter', str(err))
        self.assertIn('needs vCenter credentials', str(err))
        # A linked clone and its source.
        snapshot = lb.make_snapshot(volume)
        self.driver.create_snapshot(snapshot)
        self.addCleanup(self.driver.delete_snapshot, snapshot)
        clone = lb.make_volume(1, {'vmware:clone_type': 'linked'})
        self.driver.create_volume_from_snapshot(clone, snapshot)
        self.track(clone)
        for each in (volume, clone):
            err = self.assertRaises(
                exceptions.InvalidVolume, self.driver.migrate_volume, None,
                each, self.pool_host(self.other, 'LocalDS_1'))
            self.assertIn('linked clone', str(err))
        # Attached.
        attached = self.create(size=1, host='node1@vmware-1#LocalDS_0')
        attached.status = 'in-use'
        self.assertRaises(exceptions.VolumeIsBusy,
                          self.driver.migrate_volume, None, attached,
                          self.pool_host(self.other, 'LocalDS_1'))
        for each in (volume, attached):
            self.assertEqual(home, self.where(each))
        self.assertEqual('DC0_C0', self.where(clone)[0])

    def test_multi_writer_disk_changes_cluster_but_not_datastore(self):
        # vSphere moves no multi-writer disk between datastores (Storage
        # vMotion, KB 1034165); another cluster on the same datastore is a
        # move of the VM only.
        volume = self.create(size=1, specs={'multiattach': '<is> True'},
                             host='node1@vmware-1#LocalDS_0')
        volume.multiattach = True
        err = self.assertRaises(
            exceptions.InvalidVolume, self.driver.migrate_volume, None,
            volume, self.pool_host(self.other, 'LocalDS_1'))
        self.assertIn('Storage vMotion', str(err))
        self.assertEqual(('DC0_C0', 'DC0_C0', ['LocalDS_0'],
                          'OpenStack/vmware-1', 'vmware-1@OpenStack/vmware-1'),
                         self.where(volume))
        self.assertEqual((True, None), self.driver.migrate_volume(
            None, volume, self.pool_host(self.other, 'LocalDS_0')))
        self.assertEqual(('DC0_C1', 'DC0_C1', ['LocalDS_0'],
                          'OpenStack/vmware-2', 'vmware-2@OpenStack/vmware-2'),
                         self.where(volume))
        self.assertEqual('sharingMultiWriter',
                         self.state(volume.id).disk.backing.sharing)
        volume.host = 'node1@vmware-2#LocalDS_0'
        self.assertEqual((True, None), self.other.migrate_volume(
            None, volume, self.pool_host(self.driver, 'LocalDS_0')))

    def test_retype_onto_the_other_backend(self):
        """retype with another backend's host: move, disk type, QoS."""
        volume = self.create(size=1, specs={'vmware:vmdk_type': 'thin'},
                             host='node1@vmware-1#LocalDS_0')
        new_type = {'id': lb.base.new_id(), 'name': 'thick-gold',
                    'extra_specs': {'vmware:vmdk_type': 'thick',
                                    'vmware:iops_limit': '500'}}
        self.assertTrue(self.driver.retype(
            None, volume, new_type, {},
            self.pool_host(self.other, 'LocalDS_1')))
        self.assertEqual(('DC0_C1', 'DC0_C1', ['LocalDS_1'],
                          'OpenStack/vmware-2', 'vmware-2@OpenStack/vmware-2'),
                         self.where(volume))
        disk = self.state(volume.id).disk
        self.assertFalse(disk.backing.thinProvisioned)
        self.assertEqual(500, disk.storageIOAllocation.limit)
