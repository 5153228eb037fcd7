"""Migration and retype between two backends of one cinder.conf.

Two backends of the driver (vmware-1 on cluster DC0_C0, vmware-2 on
DC0_C1, both with the default volume folder: they differ by name only)
loaded as cinder-volume loads them. The destination's host dict is the one
Cinder's volume RPC API sends (``host``, ``cluster_name``,
``capabilities`` of the scheduler's ``PoolState`` built by its own
``BackendState.update_from_volume_capability`` from the destination's
statistics). What moved is read back from the simulator.
"""

from tests.openstack import test_cinder_driver as tcd

from cinder import exception as cinder_exception  # noqa: E402
from cinder.scheduler import host_manager  # noqa: E402
from tests.functional import base  # noqa: E402
from vmware_backend.vsphere import ops as vsphere_ops  # noqa: E402
from vmware_backend.vsphere import specs  # noqa: E402

OTHER = 'vmware-2'


class TwoBackendsTest(tcd.DriverTestCase):

    VCSIM_FLAGS = {'clusters': 2}

    def setUp(self):
        base.FunctionalTestCase.setUp(self)
        sections = tcd.simulator_sections(self.vcsim,
                                          vcenter_cluster_names='DC0_C0')
        other = dict(sections[tcd.BACKEND], volume_backend_name=OTHER,
                     vcenter_cluster_names='DC0_C1',
                     volume_driver=tcd.DRIVER_PATH)
        sections.update({OTHER: other, 'DEFAULT': {
            'enabled_backends': '%s,%s' % (tcd.BACKEND, OTHER)}})
        self.cinder_conf = self.useFixture(tcd.CinderConf(sections))
        self.useFixture(tcd.NoLazyLoads())
        self.context = tcd.cinder_context.get_admin_context()
        self.objects = tcd.CinderObjects(self.context)
        tcd.coordination.COORDINATOR.start()
        self.driver = self._started(tcd.load_driver())
        self.other = self._started(tcd.load_driver(OTHER))

    def _started(self, driver):
        driver.do_setup(self.context)
        driver.check_for_setup_error()
        driver.set_initialized()

        def close():
            core = driver._core
            if core is not None and core._session is not None:
                core._session.close()

        self.addCleanup(close)
        return driver

    def destination(self, datastore_name):
        """The host dict Cinder's RPC API sends for vmware-2's pool."""
        stats = self.other.get_volume_stats(refresh=True)
        stats['timestamp'] = None
        backend = host_manager.BackendState('cinder-test@%s' % OTHER, None)
        backend.update_from_volume_capability(stats)
        [pool] = [p for p in backend.pools.values()
                  if p.capabilities['datastore_name'] == datastore_name]
        return {'host': pool.host, 'cluster_name': pool.cluster_name,
                'capabilities': pool.capabilities}

    def placed(self, volume_id):
        props = self.session.get_properties(
            self.find(volume_id), ['datastore', 'runtime.host', 'parent',
                                   'config.extraConfig'])
        cluster = self.session.get_properties(props['runtime.host'],
                                              ['parent'])['parent']
        folder = self.session.get_properties(props['parent'], ['name'])
        return (self.session.get_properties(cluster, ['name'])['name'],
                [self.session.get_properties(d, ['name'])['name']
                 for d in vsphere_ops.ref_list(props['datastore'])],
                folder['name'],
                vsphere_ops.extra_config_dict(props).get(specs.KEY_BACKEND))

    def test_migrate_volume_to_the_other_backend(self):
        plain = self.objects.volume_type()
        volume = self.create(plain, size=1, pool='LocalDS_0')
        self.assertEqual(('DC0_C0', ['LocalDS_0'], 'Volumes',
                          'vmware-1@OpenStack/Volumes'),
                         self.placed(volume.id))
        host = self.destination('LocalDS_1')
        self.assertEqual((True, None), self.driver.migrate_volume(
            self.context, volume, host))
        self.assertEqual(('DC0_C1', ['LocalDS_1'], 'Volumes',
                          'vmware-2@OpenStack/Volumes'),
                         self.placed(volume.id))
        # The destination's driver now has it (Cinder set volume.host).
        volume.host = host['host']
        volume.status = 'deleting'
        self.other.delete_volume(volume)
        self.assertIsNone(self.find(volume.id))

    def test_retype_onto_the_other_backend(self):
        thin = self.objects.volume_type(**{'vmware:vmdk_type': 'thin'})
        thick = self.objects.volume_type(**{'vmware:vmdk_type': 'thick'})
        volume = self.create(thin, size=1, pool='LocalDS_0')
        self.assertTrue(self.driver.retype(
            self.context, volume, thick, {}, self.destination('LocalDS_0')))
        self.assertEqual(('DC0_C1', ['LocalDS_0'], 'Volumes',
                          'vmware-2@OpenStack/Volumes'),
                         self.placed(volume.id))
        self.assertFalse(self.disk(self.state(volume.id))
                         .backing.thinProvisioned)

    def test_a_linked_clone_is_refused_as_cinder_reports_it(self):
        plain = self.objects.volume_type()
        linked = self.objects.volume_type(**{'vmware:clone_type': 'linked'})
        source = self.create(plain, size=1, pool='LocalDS_0')
        snapshot = self.objects.snapshot(source)
        self.driver.create_snapshot(snapshot)
        clone = self.objects.volume(linked, size=1)
        self.driver.create_volume_from_snapshot(clone, snapshot)
        self.addCleanup(self.delete_quietly, clone)
        err = self.assertRaises(
            cinder_exception.InvalidVolume, self.driver.migrate_volume,
            self.context, clone, self.destination('LocalDS_1'))
        self.assertIn('linked clone', str(err))
        self.assertEqual('DC0_C0', self.placed(clone.id)[0])
        self.driver.delete_volume(clone)
        self.driver.delete_snapshot(snapshot)

    def test_generic_migration_is_refused_before_any_attach(self):
        """A retype changing more than the backend: Cinder's generic path.

        Cinder calls before_volume_copy after creating the new volume on
        the destination and before attaching both; the refusal there names
        what to do, and nothing was attached or changed on vCenter.
        """
        plain = self.objects.volume_type()
        volume = self.create(plain, size=1, pool='LocalDS_0')
        new_volume = self.objects.volume(plain, size=1)
        new_volume.host = self.destination('LocalDS_1')['host']
        err = self.assertRaises(
            cinder_exception.InvalidVolume, self.driver.before_volume_copy,
            self.context, volume, new_volume, remote='dest')
        self.assertIn("Cinder's generic migration (to volume %s on %s) is "
                      "not supported" % (new_volume.id, new_volume.host),
                      str(err))
        self.assertIn('retype to a type that differs only by '
                      'volume_backend_name first', str(err))
        self.assertEqual(('DC0_C0', ['LocalDS_0'], 'Volumes',
                          'vmware-1@OpenStack/Volumes'),
                         self.placed(volume.id))
