"""Multi-attach volumes through the Cinder adapter (``tox -e cinder``).

Cinder's side of multi-attach: the scheduler's CapabilitiesFilter matches
a type's ``multiattach='<is> True'`` against the pools' ``multiattach``
capability; the volume manager creates and retypes with Cinder's objects;
each attachment gets its own ``initialize_connection`` and
``terminate_connection``. vCenter is read back after each step.
"""

from tests.openstack import test_cinder_driver as tcd

from cinder import exception as cinder_exception  # noqa: E402
from cinder.scheduler.filters import capabilities_filter  # noqa: E402
from cinder.scheduler import host_manager  # noqa: E402

from tests.functional import base  # noqa: E402

MULTI = {'multiattach': '<is> True'}


class CinderMultiattachTest(tcd.DriverTestCase):

    def sharing(self, volume):
        backing = self.disk(self.state(volume.id)).backing
        return (getattr(backing, 'sharing', None) or 'sharingNone',
                bool(backing.eagerlyScrub), bool(backing.thinProvisioned))

    def test_scheduler_passes_multiattach_types(self):
        stats = self.driver.get_volume_stats(refresh=True)
        stats['timestamp'] = None
        for pool in stats['pools']:
            pool.setdefault('allocated_capacity_gb', 0)
        backend = host_manager.BackendState(tcd.HOST, None)
        backend.update_from_volume_capability(stats)
        caps = capabilities_filter.CapabilitiesFilter()
        request = {'size': 1, 'request_spec': {'volume_id': base.new_id()},
                   'volume_type': {'extra_specs': dict(MULTI)}}
        self.assertTrue(backend.pools)
        for pool in backend.pools.values():
            self.assertTrue(caps.backend_passes(pool, request),
                            pool.pool_name)

    def test_create_attach_twice_retype_out(self):
        multi = self.objects.volume_type(**MULTI)
        thin = self.objects.volume_type(**{'vmware:vmdk_type': 'thin'})
        volume = self.objects.volume(multi, size=1)
        volume.multiattach = True
        self.driver.create_volume(volume)
        volume.status = 'available'
        self.addCleanup(self.delete_quietly, volume)
        self.assertEqual(('sharingMultiWriter', True, False),
                         self.sharing(volume))
        # Two attachments: Cinder calls initialize_connection for each
        # (os-brick connectors of two compute hosts) and terminate for each.
        infos = [self.driver.initialize_connection(
            volume, {'host': host, 'multipath': False})
            for host in ('compute-1', 'compute-2')]
        self.assertEqual(infos[0], infos[1])
        self.assertEqual('vmdk', infos[0]['driver_volume_type'])
        for host in ('compute-1', 'compute-2'):
            self.assertIsNone(self.driver.terminate_connection(
                volume, {'host': host}))
        self.assertEqual(('sharingMultiWriter', True, False),
                         self.sharing(volume))
        # A snapshot is refused, as Cinder's exception; nothing on vCenter.
        snapshot = self.objects.snapshot(volume)
        self.assertRaises(cinder_exception.SnapshotIsBusy,
                          self.driver.create_snapshot, snapshot)
        self.assertEqual([], self.snapshot_names(self.state(volume.id)))
        # Retype to a thin type (Cinder's API allows it while available).
        self.assertTrue(self.driver.retype(self.context, volume, thin, {},
                                           None))
        self.assertEqual(('sharingNone', False, True), self.sharing(volume))
        volume.volume_type, volume.volume_type_id = thin, thin.id
        volume.multiattach = False
        self.assertTrue(self.driver.retype(self.context, volume, multi, {},
                                           None))
        self.assertEqual(('sharingMultiWriter', True, False),
                         self.sharing(volume))

    def test_conflicting_type_is_invalid_volume_type(self):
        bad = self.objects.volume_type(**dict(
            MULTI, **{'vmware:vmdk_type': 'thin'}))
        volume = self.objects.volume(bad, size=1)
        err = self.assertRaises(cinder_exception.InvalidVolumeType,
                                self.driver.create_volume, volume)
        self.assertIn('vmware:vmdk_type=eagerZeroedThick', str(err))
        self.assertIsNone(self.find(volume.id))
