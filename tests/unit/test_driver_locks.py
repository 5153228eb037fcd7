"""Which volumes each driver operation locks, and its setup check, written out.

Every operation that changes vCenter state runs holding the locks of the
volumes it creates, changes or removes (vmware_backend/volume/driver.py).
The lock set is recorded here by a stand-in for the driver's VolumeLocks
that stops the call before any vCenter work; the operations themselves are
tested in tests.unit.test_driver.
"""

import contextlib
import types

import fixtures
import testtools

from tests.unit import test_driver_stats
from vmware_backend import conf
from vmware_backend import exceptions
from vmware_backend.volume import datastore
from vmware_backend.volume import driver as driver_mod
from vmware_backend.volume import locking
from vmware_backend.vsphere import inventory


class _Stop(Exception):
    pass


class _RecordingLocks:

    def __init__(self, provider):
        self.provider = provider  # stopped by the driver's close()
        self.calls = []

    @contextlib.contextmanager
    def hold(self, *volume_ids):
        self.calls.append(volume_ids)
        raise _Stop()
        yield  # pragma: no cover


def _volume(volume_id, **fields):
    return types.SimpleNamespace(id=volume_id, **fields)


class OperationLocksTest(testtools.TestCase):

    def setUp(self):
        super().setUp()
        locks = 'file://' + self.useFixture(fixtures.TempDir()).path
        self.driver = driver_mod.VMwareVolumeDriver(
            conf.option_defaults(vcenter_coordination_url=locks,
                                 vcenter_host='vc.example.org',
                                 vcenter_username='u',
                                 vcenter_password='p'),
            session=types.SimpleNamespace(factory=None))
        self.addCleanup(self.driver.close)
        self.recorder = _RecordingLocks(self.driver.locks.provider)
        self.driver.locks = self.recorder

    def locked(self, name, *args):
        self.assertRaises(_Stop, getattr(self.driver, name), *args)
        (ids,) = self.recorder.calls
        self.recorder.calls = []
        return ids

    def test_volume_operations(self):
        vol = _volume('v-1', source_volid=None)
        snap = types.SimpleNamespace(id='s-1', volume_id='v-0')
        src = _volume('v-src')
        self.assertEqual(('v-1',), self.locked('create_volume', vol))
        self.assertEqual(('v-1', None), self.locked('delete_volume', vol))
        self.assertEqual(('v-1', 'v-src'), self.locked(
            'delete_volume', _volume('v-1', source_volid='v-src')))
        self.assertEqual(('v-1',), self.locked('extend_volume', vol, 2))
        self.assertEqual(('v-1',), self.locked('revert_to_snapshot', None,
                                               vol, snap))
        self.assertEqual(('v-1', 'v-0'), self.locked(
            'create_volume_from_snapshot', vol, snap))
        self.assertEqual(('v-1', 'v-src'), self.locked(
            'create_cloned_volume', vol, src))
        self.assertEqual(('v-1',), self.locked('initialize_connection', vol,
                                               {}))
        self.assertEqual(('v-1',), self.locked('attach_volume', None, vol))
        self.assertEqual(('v-1',), self.locked('detach_volume', None, vol))

    def test_import_release_retype_and_move(self):
        vol = _volume('v-1')
        self.assertEqual(('v-1',), self.locked('manage_existing', vol, {}))
        self.assertEqual(('v-1',), self.locked('unmanage', vol))
        self.assertEqual(('v-1',), self.locked('retype', None, vol, {}, {},
                                               {}))
        self.assertEqual(('v-1',), self.locked('migrate_volume', None, vol,
                                               {}))

    def test_snapshot_operations_lock_the_snapshots_volume(self):
        # Cinder's Snapshot carries volume_id; without it, its volume's id.
        by_field = types.SimpleNamespace(id='s-1', volume_id='v-0')
        by_volume = types.SimpleNamespace(id='s-2', volume_id=None,
                                          volume=_volume('v-9'))
        for name, extra in (('create_snapshot', ()), ('delete_snapshot', ()),
                            ('manage_existing_snapshot', ({},)),
                            ('unmanage_snapshot', ())):
            self.assertEqual(('v-0',), self.locked(name, by_field, *extra))
            self.assertEqual(('v-9',), self.locked(name, by_volume, *extra))


class DefaultLockSettingsTest(testtools.TestCase):

    def test_unset_options_fall_back_to_the_defaults(self):
        driver = driver_mod.VMwareVolumeDriver(
            conf.option_defaults(vcenter_coordination_url='',
                                 vcenter_backend_name='',
                                 vcenter_host='vc.example.org',
                                 vcenter_username='u', vcenter_password='p'),
            session=types.SimpleNamespace(factory=None))
        self.addCleanup(driver.close)
        self.assertEqual('vmware_backend', driver.locks.backend_name)
        self.assertIsInstance(driver.locks.provider, locking.ToozLocks)
        self.assertEqual('file:///var/lib/vmware_backend/locks',
                         driver.locks.provider.url)


class LockedMethodsTest(testtools.TestCase):

    def test_locked_methods_keep_their_names_and_docs(self):
        for name in ('create_volume', 'delete_volume', 'extend_volume',
                     'create_snapshot', 'delete_snapshot',
                     'revert_to_snapshot', 'create_volume_from_snapshot',
                     'create_cloned_volume', 'initialize_connection',
                     'attach_volume', 'detach_volume', 'manage_existing',
                     'unmanage', 'manage_existing_snapshot',
                     'unmanage_snapshot', 'retype', 'migrate_volume'):
            locked = getattr(driver_mod.VMwareVolumeDriver, name)
            unlocked = getattr(driver_mod._Parts, name)
            self.assertEqual(name, locked.__name__)
            self.assertIs(unlocked, locked.__wrapped__)
            self.assertEqual(unlocked.__doc__, locked.__doc__)


class _ClusterPlacement(test_driver_stats.FixedPlacement):
    """Fixed pools, and an inventory with two clusters and a standalone."""

    def inventory(self, refresh=False):
        return datastore.Inventory({}, {}, {
            inventory.MoRef('ClusterComputeResource', 'domain-c2'):
                {'name': 'Gold'},
            inventory.MoRef('ComputeResource', 'domain-s1'):
                {'name': 'esx-alone'},
            inventory.MoRef('ClusterComputeResource', 'domain-c1'):
                {'name': 'Bronze'}}, {}, {})


class SetupCheckTest(testtools.TestCase):

    def test_unknown_cluster_lists_the_clusters_found(self):
        driver = driver_mod.VMwareVolumeDriver(
            conf.option_defaults(**dict(test_driver_stats.OPTIONS,
                                        vcenter_cluster_names=['Silver'])),
            session=object(),
            placement=_ClusterPlacement([test_driver_stats.POOL_A]))
        err = self.assertRaises(exceptions.BackendSetupError,
                                driver.check_for_setup_error)
        self.assertEqual(
            "The backend cannot be used: cluster(s) 'Silver' named in "
            "vcenter_cluster_names do not exist in vCenter (clusters found: "
            "Bronze, Gold). Fix: correct vcenter_cluster_names, or leave it "
            "empty to use every cluster", str(err))

    def test_no_datastore_at_all(self):
        driver = driver_mod.VMwareVolumeDriver(
            conf.option_defaults(**test_driver_stats.OPTIONS),
            session=object(), placement=test_driver_stats.FixedPlacement([]))
        err = self.assertRaises(exceptions.BackendSetupError,
                                driver.check_for_setup_error)
        self.assertEqual(
            'The backend cannot be used: no usable datastore: vCenter has no '
            'datastore. Fix: check vcenter_datastore_regex, '
            'vcenter_datastore_types and vcenter_cluster_names '
            '("vmware-backend-manage check" lists every datastore and why '
            'it is rejected)', str(err))
