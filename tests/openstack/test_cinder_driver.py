"""The Cinder driver, loaded and driven the way cinder-volume does it.

* The process is prepared as ``cinder/cmd/volume.py`` does (monkey patching,
  versioned objects) and a cinder.conf with an ``enabled_backends`` section
  is parsed into oslo.config's global ``CONF``.
* The driver is built as ``VolumeManager.__init__`` builds it
  (``cinder/volume/manager.py``): ``Configuration(volume_backend_opts,
  config_group=<backend>)``, then ``importutils.import_object`` of the
  configured ``volume_driver`` path with the manager's keyword arguments.
* ``init_host``'s calls follow (``do_setup``, ``check_for_setup_error``,
  ``set_initialized``), then ``get_volume_stats(refresh=True)``, whose
  result is fed to the scheduler's own ``BackendState`` and
  ``CapacityFilter``.
* The lifecycle runs on Cinder's versioned objects (``Volume``,
  ``Snapshot``, ``VolumeType`` with extra specs) built without a database;
  any lazy load fails the test, as it would need the database.

What the driver did is read back from the simulator through the property
collector, not through the driver.
"""

import inspect
import json
import os
import subprocess
import sys
import textwrap
import threading

from tests import openstack

openstack.load_cinder()  # before the imports below, as cinder-volume does

import fixtures  # noqa: E402
from oslo_config import cfg  # noqa: E402
from oslo_utils import importutils  # noqa: E402

from cinder import context as cinder_context  # noqa: E402
from cinder import coordination  # noqa: E402
from cinder import exception as cinder_exception  # noqa: E402
from cinder.interface import util as interface_util  # noqa: E402
from cinder.interface import volume_driver as driver_interface  # noqa: E402
from cinder.interface import volume_manageable_driver  # noqa: E402
from cinder.interface import volume_snapshot_revert  # noqa: E402
from cinder.interface import volume_snapshotmanagement_driver  # noqa: E402
from cinder import objects  # noqa: E402
from cinder.scheduler.filters import capacity_filter  # noqa: E402
from cinder.scheduler import host_manager  # noqa: E402
from cinder.volume import configuration as cinder_configuration  # noqa: E402
from cinder.volume import driver as cinder_volume_driver  # noqa: E402
from cinder.volume import manager as volume_manager  # noqa: E402
from cinder.volume import volume_utils  # noqa: E402
import testtools  # noqa: E402

from tests.functional import base  # noqa: E402
from vmware_backend import conf as vb_conf  # noqa: E402
from vmware_backend import exceptions  # noqa: E402
from vmware_backend.openstack import cinder_driver as adapter  # noqa: E402
from vmware_backend.testbed import intree  # noqa: E402
from vmware_backend.volume import locking  # noqa: E402
from vmware_backend.vsphere import ops as vsphere_ops  # noqa: E402
from vmware_backend.vsphere import specs  # noqa: E402

BACKEND = 'vmware-1'
HOST = 'cinder-test@%s' % BACKEND
DRIVER_PATH = ('vmware_backend.openstack.cinder_driver.'
               'VMwareBackendCinderDriver')
GiB_KB = 1024 * 1024
STATE_PATHS = ('name', 'config.hardware.device', 'config.extraConfig',
               'config.instanceUuid', 'snapshot', 'datastore')


class CinderConf(fixtures.Fixture):
    """A cinder.conf parsed into the global CONF, as cinder-volume does.

    :param sections: {section: {option: value}}; ``[DEFAULT]
        enabled_backends`` and the backend's ``volume_driver`` are added.
    """

    def __init__(self, sections):
        super().__init__()
        self.sections = sections

    def _setUp(self):
        tmp = self.useFixture(fixtures.TempDir())
        # Cinder's coordination (the per-volume locks): a file backend of
        # this test's own.
        self.lock_dir = os.path.join(tmp.path, 'coordination')
        sections = {'DEFAULT': {'enabled_backends': BACKEND},
                    BACKEND: {'volume_driver': DRIVER_PATH},
                    'coordination': {'backend_url': 'file://'
                                     + self.lock_dir}}
        for name, values in self.sections.items():
            sections.setdefault(name, {}).update(values)
        lines = []
        for name, values in sections.items():
            lines.append('[%s]' % name)
            lines.extend('%s = %s' % item for item in values.items())
            lines.append('')
        self.path = os.path.join(tmp.path, 'cinder.conf')
        with open(self.path, 'w') as f:
            f.write('\n'.join(lines))
        cfg.CONF(['--config-file', self.path], project='cinder',
                 default_config_files=[])
        self.addCleanup(cfg.CONF.reset)
        # The coordinator is process-wide; the next test starts it on its
        # own configuration.
        self.addCleanup(coordination.COORDINATOR.stop)


def load_driver(backend=BACKEND):
    """The driver as VolumeManager.__init__ creates it (manager.py)."""
    configuration = cinder_configuration.Configuration(
        volume_manager.volume_backend_opts, config_group=backend)
    return importutils.import_object(
        configuration.volume_driver,
        configuration=configuration,
        host=HOST,
        cluster_name=None,
        is_vol_db_empty=False,
        active_backend_id=None)


class NoLazyLoads(fixtures.Fixture):
    """Fail on any lazy load of Cinder objects: it would need the DB."""

    def _setUp(self):
        for cls in (objects.Volume, objects.Snapshot, objects.VolumeType):
            self.useFixture(fixtures.MockPatchObject(
                cls, 'obj_load_attr', side_effect=self._refuse(cls)))

    @staticmethod
    def _refuse(cls):
        def refuse(attrname):
            raise AssertionError('%s.%s was not loaded; reading it would '
                                 'query the database'
                                 % (cls.__name__, attrname))
        return refuse


class CinderObjects:
    """Cinder's own objects, complete enough that nothing lazy-loads."""

    def __init__(self, context):
        self.context = context
        self.project_id = base.new_id()
        self.user_id = base.new_id()

    def volume_type(self, **extra_specs):
        type_id = base.new_id()
        return objects.VolumeType(
            self.context, id=type_id, name='type-%s' % type_id[:8],
            extra_specs=dict(extra_specs), is_public=True)

    def volume(self, volume_type, size=1, pool=None, status='creating'):
        volume_id = base.new_id()
        return objects.Volume(
            self.context, id=volume_id, _name_id=None, size=size,
            status=status, attach_status='detached', multiattach=False,
            host='%s#%s' % (HOST, pool) if pool else HOST,
            cluster_name=None,
            volume_type_id=volume_type.id, volume_type=volume_type,
            display_name='vol-%s' % volume_id[:8],
            project_id=self.project_id, user_id=self.user_id)

    def snapshot(self, volume, status='creating'):
        snapshot_id = base.new_id()
        return objects.Snapshot(
            self.context, id=snapshot_id, volume_id=volume.id, volume=volume,
            volume_size=volume.size, volume_type_id=volume.volume_type_id,
            status=status, display_name='snap-%s' % snapshot_id[:8],
            project_id=self.project_id, user_id=self.user_id)


def simulator_sections(server, **backend):
    """cinder.conf sections pointing the backend at the simulator."""
    values = {
        'volume_backend_name': BACKEND,
        'reserved_percentage': 5,
        'max_over_subscription_ratio': '10.0',
        'vcenter_host': '127.0.0.1',
        'vcenter_port': server.port,
        'vcenter_scheme': 'http',
        'vcenter_username': server.username,
        'vcenter_password': server.password,
        'vcenter_wsdl_location': server.wsdl,
        'vcenter_task_poll_interval': 0.1,
    }
    values.update(backend)
    return {BACKEND: values}


class ConfigurationTest(base.FunctionalTestCase):
    """How the backend section reaches the driver (no vCenter calls)."""

    def test_options_from_backend_section(self):
        sections = simulator_sections(self.vcsim,
                                      vcenter_cluster_names='DC0_C0')
        sections['backend_defaults'] = {
            'vcenter_default_disk_type': 'eagerZeroedThick',
            'vcenter_default_adapter_type': 'busLogic'}
        sections[BACKEND]['vcenter_default_adapter_type'] = 'paraVirtual'
        self.useFixture(CinderConf(sections))

        driver = load_driver()

        self.assertIsInstance(driver, adapter.VMwareBackendCinderDriver)
        self.assertIsInstance(driver, cinder_volume_driver.VolumeDriver)
        self.assertEqual(HOST, driver.host)
        self.assertTrue(driver.SUPPORTS_ACTIVE_ACTIVE)
        options = driver.backend_options()
        self.assertEqual(self.vcsim.port, options['vcenter_port'])
        self.assertEqual('http', options['vcenter_scheme'])
        self.assertEqual(['DC0_C0'], options['vcenter_cluster_names'])
        # Cinder's generic options replace ours.
        self.assertEqual(BACKEND, options['vcenter_backend_name'])
        self.assertEqual(5, options['vcenter_reserved_percentage'])
        self.assertEqual(10.0, options['vcenter_max_over_subscription_ratio'])
        # Section first, then [backend_defaults], then the default.
        self.assertEqual('paraVirtual',
                         options['vcenter_default_adapter_type'])
        self.assertEqual('eagerZeroedThick',
                         options['vcenter_default_disk_type'])
        self.assertEqual('full', options['vcenter_default_clone_type'])
        self.assertEqual(set(vb_conf.option_defaults()), set(options))

    def test_backend_name_defaults_to_class_name(self):
        sections = simulator_sections(self.vcsim)
        del sections[BACKEND]['volume_backend_name']
        self.useFixture(CinderConf(sections))
        options = load_driver().backend_options()
        self.assertEqual('VMwareBackendCinderDriver',
                         options['vcenter_backend_name'])

    def test_bad_option_names_option_at_setup(self):
        self.useFixture(CinderConf(simulator_sections(
            self.vcsim, vcenter_datastore_types='VMFS,tape')))
        driver = load_driver()  # the manager's constructor must not fail
        err = self.assertRaises(cinder_exception.InvalidConfigurationValue,
                                driver.do_setup,
                                cinder_context.get_admin_context())
        self.assertIn('[%s] vcenter_datastore_types' % BACKEND, str(err))

    def test_auto_over_subscription_is_refused(self):
        self.useFixture(CinderConf(simulator_sections(
            self.vcsim, max_over_subscription_ratio='auto')))
        err = self.assertRaises(cinder_exception.InvalidConfigurationValue,
                                load_driver().do_setup,
                                cinder_context.get_admin_context())
        self.assertIn('max_over_subscription_ratio', str(err))

    def test_vcenter_host_is_required(self):
        sections = simulator_sections(self.vcsim)
        del sections[BACKEND]['vcenter_host']
        self.useFixture(CinderConf(sections))
        err = self.assertRaises(cinder_exception.InvalidConfigurationValue,
                                load_driver().do_setup,
                                cinder_context.get_admin_context())
        self.assertIn('vcenter_host', str(err))

    def test_unknown_cluster_keeps_the_backend_down(self):
        # init_host marks the driver uninitialized when this raises.
        self.useFixture(CinderConf(simulator_sections(
            self.vcsim, vcenter_cluster_names='NoSuchCluster')))
        driver = load_driver()
        driver.do_setup(cinder_context.get_admin_context())
        self.addCleanup(driver.core.session.close)
        err = self.assertRaises(cinder_exception.VolumeBackendAPIException,
                                driver.check_for_setup_error)
        self.assertIn("'NoSuchCluster'", str(err))
        self.assertIn('vcenter_cluster_names', str(err))


class ComplianceTest(testtools.TestCase):
    """The driver against Cinder's driver interface (cinder.interface)."""

    INTERFACES = (driver_interface.VolumeDriverCore,
                  volume_snapshot_revert.VolumeSnapshotRevertDriver,
                  volume_manageable_driver.VolumeManagementDriver,
                  volume_snapshotmanagement_driver.
                  VolumeSnapshotManagementDriver)

    # What the core driver implements; these must not fall back on the
    # NotImplementedError stubs of cinder.volume.driver.VolumeDriver.
    DELEGATED = ('do_setup', 'check_for_setup_error', 'get_volume_stats',
                 'create_volume', 'delete_volume', 'extend_volume',
                 'create_snapshot', 'delete_snapshot', 'revert_to_snapshot',
                 'create_volume_from_snapshot', 'create_cloned_volume',
                 'initialize_connection', 'terminate_connection',
                 'create_export', 'ensure_export', 'remove_export',
                 'manage_existing', 'manage_existing_get_size', 'unmanage',
                 'get_manageable_volumes', 'retype', 'migrate_volume',
                 'before_volume_copy',
                 'manage_existing_snapshot',
                 'manage_existing_snapshot_get_size', 'unmanage_snapshot',
                 'copy_image_to_volume', 'copy_volume_to_image',
                 'get_manageable_snapshots')

    def test_cinder_compliance_check(self):
        # As cinder/tests/compliance/test_volume_drivers.py: the driver is
        # registered by @interface.volumedriver and DriverInfo can describe
        # it.
        infos = {info.class_fqn: info
                 for info in interface_util.get_volume_drivers()}
        self.assertIn(DRIVER_PATH, infos)
        info = infos[DRIVER_PATH]
        self.assertTrue(
            issubclass(info.cls, driver_interface.VolumeDriverCore),
            'Driver %s does not conform to minimum volume driver '
            'requirements!' % info.class_fqn)
        self.assertTrue(issubclass(info.cls,
                                   cinder_volume_driver.VolumeDriver))
        self.assertEqual(vb_conf.ALL_OPTS, info.driver_options)
        self.assertEqual(info.cls.VERSION, info.version)

    def test_interface_methods_and_signatures(self):
        # Cinder's check above is vacuous on Python 3: CinderInterface
        # collects methods with inspect.ismethod, which is False for plain
        # functions on a class, so issubclass() holds for any class. Check
        # every interface method here, and that Cinder's positional and
        # optional arguments bind to ours.
        cls = adapter.VMwareBackendCinderDriver
        for interface in self.INTERFACES:
            for name, func in inspect.getmembers(interface,
                                                 inspect.isfunction):
                if name.startswith('_'):
                    continue
                self.assertTrue(hasattr(cls, name), name)
                ours = inspect.getattr_static(cls, name)
                if isinstance(ours, property):
                    continue
                wanted = list(inspect.signature(func).parameters.values())
                args = [object() for p in wanted
                        if p.default is inspect.Parameter.empty]
                kwargs = {p.name: object() for p in wanted
                          if p.default is not inspect.Parameter.empty}
                try:
                    inspect.signature(getattr(cls, name)).bind(*args,
                                                               **kwargs)
                except TypeError as err:
                    self.fail('%s%s does not accept the arguments of %s.%s'
                              '%s: %s' % (name,
                                          inspect.signature(getattr(cls,
                                                                    name)),
                                          interface.__name__, name,
                                          inspect.signature(func), err))

    def test_lifecycle_methods_are_ours(self):
        cls = adapter.VMwareBackendCinderDriver
        for name in self.DELEGATED:
            self.assertIn(name, vars(cls), '%s is inherited from Cinder'
                          % name)

    def test_get_driver_options(self):
        self.assertEqual(
            vb_conf.ALL_OPTS,
            adapter.VMwareBackendCinderDriver.get_driver_options())


class ImportsTest(testtools.TestCase):
    """Only vmware_backend.openstack may import Cinder."""

    def _run(self, code):
        env = dict(os.environ)
        root = os.path.dirname(os.path.dirname(os.path.dirname(
            os.path.abspath(__file__))))
        env['PYTHONPATH'] = os.pathsep.join(
            [root] + [p for p in [env.get('PYTHONPATH')] if p])
        proc = subprocess.run([sys.executable, '-c', textwrap.dedent(code)],
                              env=env, capture_output=True, text=True,
                              timeout=120)
        self.assertEqual(0, proc.returncode, proc.stderr[-3000:])
        return proc.stdout

    def test_core_does_not_import_cinder(self):
        out = self._run('''
            import importlib, pkgutil, sys
            import vmware_backend
            for mod in pkgutil.walk_packages(vmware_backend.__path__,
                                             'vmware_backend.'):
                if not mod.name.startswith(('vmware_backend.openstack',
                                            'vmware_backend.testbed')):
                    importlib.import_module(mod.name)
            print(sorted(m for m in sys.modules
                         if m.split('.')[0] in ('cinder', 'nova')))
        ''')
        self.assertEqual('[]', out.strip())

    def test_adapter_imports_without_cinder(self):
        out = self._run('''
            import sys
            sys.modules['cinder'] = None  # "import cinder" raises
            from vmware_backend.openstack import cinder_driver as m
            assert m.cinder_driver is None
            assert m.VMwareBackendCinderDriver.__mro__[1] is \\
                m._StandInBaseDriver
            print(len(m.VMwareBackendCinderDriver.get_driver_options()))
        ''')
        self.assertEqual(str(len(vb_conf.ALL_OPTS)), out.strip())


class DriverTestCase(base.FunctionalTestCase):
    """A driver loaded from cinder.conf, set up as init_host does."""

    def setUp(self):
        super().setUp()
        self.cinder_conf = self.useFixture(
            CinderConf(simulator_sections(self.vcsim)))
        self.useFixture(NoLazyLoads())
        self.context = cinder_context.get_admin_context()
        self.objects = CinderObjects(self.context)
        # cinder.service.Service.start: the coordinator, then init_host.
        coordination.COORDINATOR.start()
        self.driver = load_driver()
        # VolumeManager._init_host / init_host
        self.driver.do_setup(self.context)
        self.driver.check_for_setup_error()
        self.driver.set_initialized()
        self.addCleanup(self._close_driver)

    def _close_driver(self):
        core = self.driver._core
        if core is not None and core._session is not None:
            core._session.close()

    # Reading vCenter back -----------------------------------------------

    def find(self, volume_id):
        found = list(self.session.invoke(
            'FindAllByUuid', self.session.service_content.searchIndex,
            uuid=volume_id, vmSearch=True, instanceUuid=True) or [])
        self.assertLessEqual(len(found), 1, found)
        return found[0] if found else None

    def state(self, volume_id):
        ref = self.find(volume_id)
        self.assertIsNotNone(ref, 'no backing for volume %s' % volume_id)
        props = self.session.get_properties(ref, STATE_PATHS)
        props['ref'] = ref
        return props

    def disk(self, state):
        disks = [d for d in vsphere_ops.devices_of(state)
                 if type(d).__name__ == 'VirtualDisk']
        self.assertEqual(1, len(disks), disks)
        return disks[0]

    def snapshot_names(self, state):
        return [tree.name for tree, _depth in
                vsphere_ops.snapshot_trees(state)]

    def current_snapshot(self, volume_id):
        """The name of the backing's current snapshot, read back."""
        state = self.state(volume_id)
        current = vsphere_ops.moref_value(state['snapshot'].currentSnapshot)
        return [tree.name for tree, _depth in
                vsphere_ops.snapshot_trees(state)
                if vsphere_ops.moref_value(tree.snapshot) == current][0]

    def datastore_names(self, state):
        return [self.session.get_properties(ref, ['name'])['name']
                for ref in vsphere_ops.ref_list(state.get('datastore'))]

    # Cinder-side helpers ---------------------------------------------------

    def create(self, volume_type, size=1, pool=None):
        volume = self.objects.volume(volume_type, size=size, pool=pool)
        self.driver.create_volume(volume)
        volume.status = 'available'
        self.addCleanup(self.delete_quietly, volume)
        return volume

    def delete_quietly(self, volume):
        if self.find(volume.id) is None:
            return
        volume.status = 'deleting'
        try:
            self.driver.delete_volume(volume)
        except cinder_exception.VolumeIsBusy:
            pass


class StatsTest(DriverTestCase):

    # A simulator of its own: the free-space figures below must not depend
    # on what other tests left on the shared one (the simulator's
    # RelocateVM_Task moves a disk without moving its space charge between
    # datastores).
    VCSIM_FLAGS = {}

    def test_stats_feed_the_scheduler(self):
        stats = self.driver.get_volume_stats(refresh=True)

        self.assertEqual(BACKEND, stats['volume_backend_name'])
        self.assertEqual('vmdk', stats['storage_protocol'])
        self.assertEqual('VMware', stats['vendor_name'])
        self.assertEqual('1.0.0', stats['driver_version'])
        # The default simulator: two shared datastores of 1024 GiB.
        self.assertEqual(['LocalDS_0', 'LocalDS_1'],
                         [p['datastore_name'] for p in stats['pools']])
        # Pools are named by their datastores' ids (stable over renames),
        # the id location_info carries too.
        for pool in stats['pools']:
            self.assertEqual(pool['location_info'].split(':', 4)[2],
                             pool['pool_name'])
        self.assertEqual(2048.0, stats['total_capacity_gb'])
        self.assertEqual(round(sum(p['free_capacity_gb']
                                   for p in stats['pools']), 2),
                         stats['free_capacity_gb'])
        for pool in stats['pools']:
            self.assertEqual(1024.0, pool['total_capacity_gb'])
            self.assertLessEqual(pool['free_capacity_gb'], 900.0)
            self.assertEqual(5, pool['reserved_percentage'])
            self.assertEqual(10.0, pool['max_over_subscription_ratio'])
            self.assertEqual((True, True, True, False),
                             (pool['thin_provisioning_support'],
                              pool['thick_provisioning_support'],
                              pool['multiattach'],
                              pool['online_extend_support']))

        # What VolumeManager._append_volume_stats and the scheduler's
        # HostManager do with them.
        for pool in stats['pools']:
            pool.setdefault('allocated_capacity_gb', 0)
            self.assertTrue(
                host_manager.HostManager.REQUIRED_KEYS.issubset(pool),
                host_manager.HostManager.REQUIRED_KEYS - set(pool))
        stats['timestamp'] = None
        backend = host_manager.BackendState(HOST, None)
        backend.update_from_volume_capability(stats)
        self.assertEqual({p['pool_name'] for p in stats['pools']},
                         set(backend.pools))
        fits = capacity_filter.CapacityFilter()
        small = {'size': 1, 'volume_type': {'extra_specs': {}},
                 'request_spec': {'volume_id': base.new_id()}}
        huge = dict(small, size=10 ** 7)
        for pool in backend.pools.values():
            self.assertTrue(fits.backend_passes(pool, small), pool.pool_name)
            self.assertFalse(fits.backend_passes(pool, huge), pool.pool_name)

    def test_stats_are_copies(self):
        first = self.driver.get_volume_stats(refresh=True)
        first['pools'][0]['allocated_capacity_gb'] = 123
        again = self.driver.get_volume_stats(refresh=False)
        self.assertNotIn('allocated_capacity_gb', again['pools'][0])


class VolumeLifecycleTest(DriverTestCase):

    def setUp(self):
        super().setUp()
        self.thin = self.objects.volume_type(**{
            'vmware:vmdk_type': 'thin', 'vmware:adapter_type': 'lsiLogic',
            'vmware:clone_type': 'full'})
        self.linked = self.objects.volume_type(**{
            'vmware:vmdk_type': 'thin', 'vmware:clone_type': 'linked'})

    def test_create_in_scheduled_pool_extend_delete(self):
        pools = self.driver.get_volume_stats(refresh=True)['pools']
        pool = pools[-1]
        volume = self.create(self.thin, size=1, pool=pool['pool_name'])

        state = self.state(volume.id)
        self.assertEqual(volume.id, state['config.instanceUuid'])
        self.assertEqual([pool['datastore_name']],
                         self.datastore_names(state))
        disk = self.disk(state)
        self.assertEqual(GiB_KB, disk.capacityInKB)
        self.assertTrue(disk.backing.thinProvisioned)
        controller = [d for d in vsphere_ops.devices_of(state)
                      if d.key == disk.controllerKey][0]
        self.assertEqual('VirtualLsiLogicController',
                         type(controller).__name__)

        volume.status = 'extending'
        self.driver.extend_volume(volume, 2)
        volume.size = 2
        self.assertEqual(2 * GiB_KB,
                         self.disk(self.state(volume.id)).capacityInKB)

        volume.status = 'deleting'
        self.driver.delete_volume(volume)
        self.assertIsNone(self.find(volume.id))
        # Deleting again is not an error (Cinder retries deletes).
        self.driver.delete_volume(volume)

    def test_invalid_extra_spec_is_invalid_volume_type(self):
        bad = self.objects.volume_type(**{'vmware:vmdk_type': 'sparse'})
        volume = self.objects.volume(bad)
        self.assertRaises(cinder_exception.InvalidVolumeType,
                          self.driver.create_volume, volume)
        self.assertIsNone(self.find(volume.id))

    def test_unknown_vmware_key_is_invalid_volume_type(self):
        bad = self.objects.volume_type(**{'vmware:vmdk_typo': 'thick'})
        volume = self.objects.volume(bad)
        err = self.assertRaises(cinder_exception.InvalidVolumeType,
                                self.driver.create_volume, volume)
        self.assertIn('did you mean vmware:vmdk_type?', str(err))
        self.assertIsNone(self.find(volume.id))

    def test_extend_to_none_is_invalid_volume(self):
        volume = self.create(self.thin, size=1)
        volume.status = 'extending'
        err = self.assertRaises(cinder_exception.InvalidVolume,
                                self.driver.extend_volume, volume, None)
        # Not "not larger than the current size": the bad value is named.
        self.assertIn('size None is not a positive whole number', str(err))
        self.assertEqual(GiB_KB,
                         self.disk(self.state(volume.id)).capacityInKB)

    def test_snapshots_clones_and_busy_errors(self):
        volume = self.create(self.thin, size=1)
        snapshot = self.objects.snapshot(volume)
        self.driver.create_snapshot(snapshot)
        snapshot.status = 'available'
        self.assertIn(snapshot.name,
                      self.snapshot_names(self.state(volume.id)))

        # Linked clone reading from the snapshot.
        linked = self.objects.volume(self.linked, size=1)
        self.driver.create_volume_from_snapshot(linked, snapshot)
        linked.status = 'available'
        self.addCleanup(self.delete_quietly, linked)
        linked_disk = self.disk(self.state(linked.id))
        self.assertIsNotNone(getattr(linked_disk.backing, 'parent', None))

        # Cinder's manager keeps the objects when these are raised.
        snapshot.status = 'deleting'
        self.assertRaises(cinder_exception.SnapshotIsBusy,
                          self.driver.delete_snapshot, snapshot)
        volume.status = 'deleting'
        self.assertRaises(cinder_exception.VolumeIsBusy,
                          self.driver.delete_volume, volume)
        volume.status = snapshot.status = 'available'

        # Full clone of the volume, larger than its source.
        clone = self.objects.volume(self.thin, size=2)
        self.driver.create_cloned_volume(clone, volume)
        clone.status = 'available'
        self.addCleanup(self.delete_quietly, clone)
        clone_disk = self.disk(self.state(clone.id))
        self.assertEqual(2 * GiB_KB, clone_disk.capacityInKB)
        self.assertIsNone(getattr(clone_disk.backing, 'parent', None))

        # A later snapshot is current; reverting makes the first current.
        later = self.objects.snapshot(volume)
        self.driver.create_snapshot(later)
        later.status = 'available'
        self.assertEqual(later.name, self.current_snapshot(volume.id))
        volume.status = 'reverting'
        self.driver.revert_to_snapshot(self.context, volume, snapshot)
        volume.status = 'available'
        self.assertEqual(snapshot.name, self.current_snapshot(volume.id))
        self.assertEqual([snapshot.name, later.name],
                         self.snapshot_names(self.state(volume.id)))
        later.status = 'deleting'
        self.driver.delete_snapshot(later)

        # Delete in the order Cinder allows it.
        linked.status = 'deleting'
        self.driver.delete_volume(linked)
        snapshot.status = 'deleting'
        self.driver.delete_snapshot(snapshot)
        self.assertNotIn(snapshot.name,
                         self.snapshot_names(self.state(volume.id)))
        volume.status = 'deleting'
        self.driver.delete_volume(volume)
        for gone in (volume, linked):
            self.assertIsNone(self.find(gone.id))
        self.assertIsNotNone(self.find(clone.id))


class ConnectionTest(DriverTestCase):

    def test_connection_info_for_nova(self):
        volume = self.create(self.objects.volume_type(), size=1)
        connector = {'ip': '192.0.2.10', 'host': 'compute-1',
                     'initiator': None}

        # VolumeManager.attachment_update: create_export, then
        # initialize_connection.
        volume.status = 'attaching'
        self.driver.create_export(self.context, volume, connector)
        info = self.driver.initialize_connection(volume, connector)

        self.assertEqual('vmdk', info['driver_volume_type'])
        data = info['data']
        self.assertEqual(volume.id, data['volume_id'])
        self.assertEqual(volume.name, data['name'])
        backing = self.find(volume.id)
        self.assertEqual(vsphere_ops.moref_value(backing), data['volume'])
        self.assertNotIn(self.vcsim.password, repr(info))

        volume.status = 'detaching'
        self.driver.terminate_connection(volume, connector, force=False)
        self.driver.remove_export(self.context, volume)
        volume.status = 'available'


class CoordinationTest(DriverTestCase):
    """The driver's per-volume locks are Cinder's coordination locks."""

    def test_the_driver_locks_through_cinder_coordination(self):
        self.assertIsInstance(self.driver.core.locks.provider,
                              adapter.CinderLocks)
        self.assertTrue(self.driver.SUPPORTS_ACTIVE_ACTIVE)
        volume = self.objects.volume(self.objects.volume_type())
        self.addCleanup(self.delete_quietly, volume)
        name = locking.lock_name(BACKEND, volume.id)
        held, release, created = (threading.Event(), threading.Event(),
                                  threading.Event())

        # Cinder code holding the volume's lock, the way Cinder takes its
        # own locks.
        @coordination.synchronized(name)
        def hold():
            held.set()
            release.wait(60)

        def create():
            self.driver.create_volume(volume)
            created.set()

        holder = threading.Thread(target=hold)
        holder.start()
        self.assertTrue(held.wait(30))
        creator = threading.Thread(target=create)
        creator.start()
        self.assertFalse(created.wait(2), 'create ran while Cinder held '
                         'the lock %s' % name)
        self.assertIsNone(self.find(volume.id))
        release.set()
        holder.join(30)
        self.assertTrue(created.wait(60))
        creator.join(30)
        self.assertIsNotNone(self.find(volume.id))
        # The lock is a file of Cinder's file backend.
        self.assertTrue(os.path.exists(os.path.join(
            self.cinder_conf.lock_dir, 'cinder-' + name)))

    def test_unusable_coordination_backend_names_the_option(self):
        coordination.COORDINATOR.stop()
        self.useFixture(CinderConf(dict(
            simulator_sections(self.vcsim),
            coordination={'backend_url': 'nosuch://127.0.0.1:1'})))
        driver = load_driver()
        err = self.assertRaises(
            cinder_exception.VolumeBackendAPIException,
            driver.do_setup, self.context)
        self.assertIn('[coordination] backend_url', str(err))


class _RaisingCore:
    """Stands in for the core driver: every call raises ``error``."""

    def __init__(self, error):
        self.error = error

    def __getattr__(self, name):
        def raising(*args, **kwargs):
            raise self.error
        return raising


class TranslationTest(testtools.TestCase):
    """Every backend error becomes the Cinder exception the manager uses.

    ``VolumeIsBusy``/``SnapshotIsBusy`` keep the volume or snapshot
    (``VolumeManager.delete_volume``/``delete_snapshot`` set it back to
    available); the ``Invalid*`` ones are the client's fault; everything
    else is ``VolumeBackendAPIException`` (the create flow reschedules on
    it, the other operations set an ``error_*`` status).
    """

    def setUp(self):
        super().setUp()
        self.useFixture(CinderConf({BACKEND: {
            'vcenter_host': 'vc.example.org', 'vcenter_username': 'u',
            'vcenter_password': 'p'}}))
        self.driver = load_driver()

    def raising(self, error):
        self.driver._core = _RaisingCore(error)
        return self.driver

    CASES = (
        (exceptions.VolumeIsBusy(volume='v-1', reason='it is attached'),
         'VolumeIsBusy', 'Volume v-1 is busy: it is attached'),
        (exceptions.SnapshotIsBusy(snapshot='s-1', reason='clone c reads it'),
         'SnapshotIsBusy', 'Snapshot s-1 is busy: clone c reads it'),
        (exceptions.InvalidExtraSpec(volume='v-1', spec='vmware:vmdk_type',
                                     value='sparse',
                                     allowed='thin, thick'),
         'InvalidVolumeType', 'vmware:vmdk_type'),
        (exceptions.InvalidVolume(volume='v-1', reason='size 0'),
         'InvalidVolume', 'Invalid volume v-1: size 0'),
        (exceptions.InvalidSnapshot(snapshot='s-1', reason='not found'),
         'InvalidSnapshot', 'Invalid snapshot s-1: not found'),
        (exceptions.InvalidConfiguration(group='vmware-1',
                                         option='vcenter_port',
                                         reason='bad'),
         'InvalidConfigurationValue', '[vmware-1] vcenter_port'),
        (exceptions.NoValidDatastore(size_gb=5, disk_type='thin',
                                     volume='volume v-1',
                                     reasons='ds1: full'),
         'VolumeBackendAPIException', 'No datastore can hold 5 GiB'),
        (exceptions.BackingNotFound(volume='v-1'),
         'VolumeBackendAPIException', 'No backing VM found for volume v-1'),
        (exceptions.TaskTimeout(task='task-9', name='CloneVM_Task',
                                target='volume v-1', timeout=30,
                                state='running'),
         'VolumeBackendAPIException', 'vCenter task task-9'),
        (exceptions.VCenterConnectionError(url='https://vc/sdk',
                                           reason='connection reset'),
         'VolumeBackendAPIException',
         'Cannot connect to vCenter at https://vc/sdk: connection reset'),
        (exceptions.VCenterLoginError(url='https://vc/sdk', user='u',
                                      reason='InvalidLogin'),
         'VolumeBackendAPIException',
         'vCenter at https://vc/sdk refused the login of user u'),
        (exceptions.VCenterFault(fault='SystemError', action='Destroy_Task',
                                 target='volume v-1', detail='boom'),
         'VolumeBackendAPIException',
         'Destroy_Task failed on volume v-1: SystemError: boom'),
        (exceptions.VolumeAttachmentError(action='attach', volume='v-1',
                                          instance='vm-1', reason='no slot'),
         'VolumeBackendAPIException', 'Cannot attach volume v-1 on VM vm-1'),
        (exceptions.InventoryNotFound(kind='Cluster', name='C9'),
         'VolumeBackendAPIException', "Cluster 'C9' not found in vCenter"),
        (exceptions.UnknownExtraSpec(volume='v-1', spec='vmware:vmdktype',
                                     hint='did you mean vmware:vmdk_type? ',
                                     known='vmware:vmdk_type'),
         'InvalidVolumeType', "unknown extra spec 'vmware:vmdktype'"),
        (exceptions.VCenterOutcomeUnknown(url='https://vc/sdk',
                                          method='CreateVM_Task',
                                          target='volume v-1',
                                          reason='connection reset'),
         'VolumeBackendAPIException',
         'gave no usable answer to CreateVM_Task on volume v-1'),
        (exceptions.VCenterTLSError(url='https://vc/sdk', reason='expired',
                                    hint='renew the certificate'),
         'VolumeBackendAPIException',
         'TLS certificate verification failed: expired; renew the '
         'certificate'),
        (exceptions.VCenterSessionRenewed(url='https://vc/sdk',
                                          method='RetrievePropertiesEx',
                                          reason='NotAuthenticated'),
         'VolumeBackendAPIException',
         'ended the session during RetrievePropertiesEx'),
        (exceptions.CoordinationError(url='file:///x', option='[coordination]'
                                      ' backend_url', reason='read-only'),
         'VolumeBackendAPIException',
         'Cannot use the lock backend file:///x (set by [coordination] '
         'backend_url): read-only'),
        (exceptions.InvalidReference(reason='the VM is powered on'),
         'ManageExistingInvalidReference',
         'Cannot manage the existing disk: the VM is powered on'),
        (exceptions.AdminRefused(action='Removing', target='datastore d',
                                 reason='it holds volumes'),
         'VolumeBackendAPIException',
         'Removing datastore d refused: it holds volumes'),
        (exceptions.InvalidAdminInput(name='threshold', value=3,
                                      reason='5 to 100 ms'),
         'VolumeBackendAPIException', 'Invalid threshold 3: 5 to 100 ms'),
        (exceptions.InvalidImage(image='i-1', reason="disk_format 'iso'"),
         'ImageUnacceptable', "Image i-1 cannot be used: disk_format 'iso'"),
        (exceptions.ImageTransferError(target='image i-1 -> volume v-1',
                                       reason='HTTP 400'),
         'ImageCopyFailure',
         'Disk transfer of image i-1 -> volume v-1 failed: HTTP 400'),
        (exceptions.BackendSetupError(problem='no usable datastore',
                                      fix='check vcenter_datastore_regex'),
         'VolumeBackendAPIException',
         'The backend cannot be used: no usable datastore. Fix: check '
         'vcenter_datastore_regex'),
    )

    def test_every_backend_error_has_its_cinder_exception(self):
        for error, cinder_name, text in self.CASES:
            err = self.assertRaises(cinder_exception.CinderException,
                                    self.raising(error).create_volume,
                                    object())
            self.assertEqual(cinder_name, type(err).__name__,
                             type(error).__name__)
            self.assertIn(text, str(err))
            self.assertIs(error, err.__cause__)

    def test_the_table_covers_every_backend_exception(self):
        defined = {cls.__name__ for cls in vars(exceptions).values()
                   if isinstance(cls, type) and
                   issubclass(cls, exceptions.VMwareBackendException) and
                   cls is not exceptions.VMwareBackendException}
        covered = {type(error).__name__ for error, _n, _t in self.CASES}
        self.assertEqual(set(), defined - covered)

    def test_busy_errors_name_the_object_for_the_manager(self):
        err = self.assertRaises(
            cinder_exception.VolumeIsBusy,
            self.raising(exceptions.VolumeIsBusy(volume='v-7',
                                                 reason='r')).delete_volume,
            object())
        self.assertEqual('v-7', err.kwargs['volume_name'])
        err = self.assertRaises(
            cinder_exception.SnapshotIsBusy,
            self.raising(exceptions.SnapshotIsBusy(
                snapshot='s-7', reason='r')).delete_snapshot, object())
        self.assertEqual('s-7', err.kwargs['snapshot_name'])

    def test_every_delegated_method_translates(self):
        error = exceptions.BackingNotFound(volume='v-1')
        driver = self.raising(error)
        calls = {
            'do_setup': (None,), 'check_for_setup_error': (),
            'get_volume_stats': (True,), 'create_volume': (None,),
            'delete_volume': (None,), 'extend_volume': (None, 2),
            'create_snapshot': (None,), 'delete_snapshot': (None,),
            'revert_to_snapshot': (None, None, None),
            'create_volume_from_snapshot': (None, None),
            'create_cloned_volume': (None, None),
            'initialize_connection': (None, {}),
            'terminate_connection': (None, {}),
            'copy_image_to_volume': (None, None, None, 'image-1'),
            'copy_volume_to_image': (None, None, None, {}),
        }
        for name, args in calls.items():
            err = self.assertRaises(
                cinder_exception.VolumeBackendAPIException,
                getattr(driver, name), *args)
            self.assertIn('No backing VM found for volume v-1', str(err),
                          name)


class BadCredentialsTest(base.FunctionalTestCase):
    """A wrong password stops do_setup with the operator's fix."""

    def test_wrong_password(self):
        self.useFixture(CinderConf(simulator_sections(
            self.vcsim, vcenter_password='Wr0ng-Passw0rd')))
        driver = load_driver()
        err = self.assertRaises(cinder_exception.VolumeBackendAPIException,
                                driver.do_setup,
                                cinder_context.get_admin_context())
        text = str(err)
        self.assertIn('vCenter at http://127.0.0.1:%d/sdk refused the login '
                      'of user %s' % (self.vcsim.port, self.vcsim.username),
                      text)
        self.assertNotIn('Wr0ng-Passw0rd', text)
        self.assertIsInstance(err.__cause__, exceptions.VCenterLoginError)


class ManageTest(DriverTestCase):
    """Import through the adapter, and the listing through Cinder's pager."""

    def foreign_vm(self, disk_kb=GiB_KB):
        """A powered-off VM of nobody with one disk on LocalDS_0."""
        where = self.session.get_properties(
            self.session.invoke(
                'FindByInventoryPath',
                self.session.service_content.searchIndex,
                inventoryPath='DC0/vm/DC0_C0_RP0_VM0'),
            ['parent', 'resourcePool', 'runtime.host'])
        uuid = base.new_id()
        spec = specs.backing_config_spec(
            self.session.factory, 'volume-%s' % uuid, uuid, 1, 'thin',
            'lsiLogic', 'LocalDS_0', 256)
        spec.deviceChange[-1].device.capacityInKB = disk_kb
        spec.extraConfig = specs.extra_config(
            self.session.factory, {'cinder.volume.id': uuid})
        ref = self.session.invoke_task(
            'CreateVM_Task', where['parent'], config=spec,
            pool=where['resourcePool'], host=where['runtime.host'])
        self.addCleanup(self._destroy_quietly, ref)
        return ref, uuid

    def _destroy_quietly(self, ref):
        try:
            self.session.invoke_task('Destroy_Task', ref)
        except Exception:
            pass

    def test_manage_unmanage_and_refusal(self):
        volume_type = self.objects.volume_type()
        ref, uuid = self.foreign_vm(disk_kb=GiB_KB + 1)
        volume = self.objects.volume(volume_type, size=2, pool='LocalDS_0')
        self.assertEqual(2, self.driver.manage_existing_get_size(
            volume, {'source-id': uuid}))
        self.assertIsNone(self.driver.manage_existing(
            volume, {'source-id': uuid}))
        volume.status = 'available'
        self.addCleanup(self.delete_quietly, volume)
        state = self.state(volume.id)
        self.assertEqual(vsphere_ops.moref_value(ref),
                         vsphere_ops.moref_value(state['ref']))
        self.assertEqual(2 * GiB_KB, self.disk(state).capacityInKB)

        other = self.objects.volume(volume_type, size=1, pool='LocalDS_0')
        err = self.assertRaises(
            cinder_exception.ManageExistingInvalidReference,
            self.driver.manage_existing, other, {'source-id': volume.id})
        self.assertIn('already managed', str(err))
        self.assertIn(volume.id, str(err))
        err = self.assertRaises(
            cinder_exception.ManageExistingInvalidReference,
            self.driver.manage_existing_get_size, other,
            {'source-name': 'nonsense'})
        self.assertIn('nonsense', str(err))
        # Imported into another pool than the disk's: refused, naming it.
        ref2, uuid2 = self.foreign_vm()
        elsewhere = self.objects.volume(volume_type, size=1,
                                        pool='LocalDS_1')
        err = self.assertRaises(
            cinder_exception.ManageExistingInvalidReference,
            self.driver.manage_existing, elsewhere, {'source-id': uuid2})
        [stable] = [p['pool_name'] for p in self.driver.get_volume_stats(
            refresh=True)['pools'] if p['datastore_name'] == 'LocalDS_0']
        self.assertIn('#%s' % stable, str(err))
        # In a cluster Cinder's API drops the pool of --host and its
        # scheduler picks one: the disk's own pool is taken and reported.
        clustered = self.objects.volume(volume_type, size=1,
                                        pool='LocalDS_1')
        clustered.cluster_name = 'cluster@%s#LocalDS_1' % BACKEND
        self.assertEqual(1, self.driver.manage_existing_get_size(
            clustered, {'source-id': uuid2}))
        update = self.driver.manage_existing(clustered,
                                             {'source-id': uuid2})
        clustered.status = 'available'
        self.addCleanup(self.delete_quietly, clustered)
        self.assertEqual({'host': '%s#%s' % (HOST, stable),
                          'cluster_name': 'cluster@%s#%s' % (BACKEND, stable)},
                         update)
        self.assertEqual(vsphere_ops.moref_value(ref2),
                         vsphere_ops.moref_value(
                             self.state(clustered.id)['ref']))

        self.driver.unmanage(volume)
        extra = vsphere_ops.extra_config_dict(self.state(volume.id))
        self.assertNotIn('vmware_backend.managed', extra)

    def test_listing_pages_as_cinder_does(self):
        volume_type = self.objects.volume_type()
        for size in (1, 2, 2, 3):
            self.foreign_vm(disk_kb=size * GiB_KB)
        known = self.create(volume_type, size=1)
        everything = self.driver.get_manageable_volumes(
            [known], None, 10000, 0, ['size'], ['asc'])
        self.assertGreaterEqual(len(everything), 5)
        mine = [e for e in everything
                if e['reference'] == {'source-id': known.id}]
        self.assertEqual(known.id, mine[0]['cinder_id'])
        for key in ('reference', 'size', 'safe_to_manage',
                    'reason_not_safe', 'cinder_id', 'extra_info'):
            self.assertIn(key, everything[0])
        marker = sorted(everything, key=lambda e: str(e['reference']))[1]
        for marker_value, limit, offset, keys, dirs in (
                (None, 3, 0, ['size', 'reference'], ['desc', 'asc']),
                (None, 2, 1, ['reference'], ['asc']),
                (marker['reference'], 2, 0, ['size', 'reference'],
                 ['asc', 'desc']),
                (json.dumps(marker['reference']), 3, 1, ['reference'],
                 ['desc']),
                (None, 1000, 0, ['size'], ['asc', 'asc'])):
            ours = self.driver.get_manageable_volumes(
                [known], marker_value, limit, offset, keys, dirs)
            theirs = volume_utils.paginate_entries_list(
                everything, marker_value, limit, offset, keys, dirs)
            self.assertEqual([e['reference'] for e in theirs],
                             [e['reference'] for e in ours],
                             (marker_value, limit, offset, keys, dirs))
            self.assertEqual(theirs, ours)


class RetypeMigrateTest(DriverTestCase):
    """retype and migrate_volume with Cinder's objects and host dicts."""

    def host_of(self, pool_name):
        stats = self.driver.get_volume_stats(refresh=True)
        # Named by its datastore; the host names the stable pool name.
        [pool] = [p for p in stats['pools']
                  if p['datastore_name'] == pool_name]
        return {'host': '%s#%s' % (HOST, pool['pool_name']),
                'capabilities': dict(pool, volume_backend_name=stats[
                    'volume_backend_name'])}

    def test_retype_then_migrate(self):
        thin = self.objects.volume_type(**{'vmware:vmdk_type': 'thin'})
        thick = self.objects.volume_type(**{'vmware:vmdk_type': 'thick'})
        volume = self.create(thin, size=1, pool='LocalDS_0')
        self.assertTrue(self.driver.retype(
            self.context, volume, thick, {}, self.host_of('LocalDS_0')))
        self.assertFalse(self.disk(self.state(volume.id))
                         .backing.thinProvisioned)
        volume.volume_type = thick
        volume.volume_type_id = thick.id
        self.assertEqual((True, None), self.driver.migrate_volume(
            self.context, volume, self.host_of('LocalDS_1')))
        self.assertEqual(['LocalDS_1'],
                         self.datastore_names(self.state(volume.id)))
        # Another vCenter: refused (Cinder's generic migration would need
        # vCenter credentials in the connection info).
        other = self.host_of('LocalDS_0')
        other['capabilities']['location_info'] = (
            'vmware_backend:another-vc:datastore-1:domain-c1:OpenStack/x')
        err = self.assertRaises(
            cinder_exception.InvalidVolume, self.driver.migrate_volume,
            self.context, volume, other)
        self.assertIn('not a backend of this driver on vCenter', str(err))
        paravirtual = self.objects.volume_type(**{
            'vmware:vmdk_type': 'thick', 'vmware:adapter_type': 'paraVirtual'})
        self.assertRaises(cinder_exception.InvalidVolumeType,
                          self.driver.retype, self.context, volume,
                          paravirtual, {}, self.host_of('LocalDS_1'))

    def test_retype_loads_the_new_types_qos_specs(self):
        """The adapter loads the QoS specs a retype's new type names.

        Cinder's manager passes the new type as a dict naming its QoS specs
        by id; the adapter loads them (Cinder's qos_specs API, its database
        replaced here) and the disk gets them, read back.
        """
        plain = self.objects.volume_type()
        volume = self.create(plain, size=1, pool='LocalDS_0')
        qos_id = base.new_id()
        found = objects.QualityOfServiceSpecs(
            self.context, id=qos_id, name='gold', consumer='back-end',
            specs={'total_iops_sec': '321', 'vmware:shares_level': 'high'})
        calls = []

        def get_qos_specs(ctxt, spec_id):
            calls.append(spec_id)
            return found

        self.useFixture(fixtures.MockPatch(
            'cinder.volume.qos_specs.get_qos_specs', get_qos_specs))
        new_type = {'id': base.new_id(), 'name': 'gold',
                    'extra_specs': {}, 'qos_specs_id': qos_id}
        self.assertTrue(self.driver.retype(self.context, volume, new_type,
                                           {}, self.host_of('LocalDS_0')))
        self.assertEqual([qos_id], calls)
        io = self.disk(self.state(volume.id)).storageIOAllocation
        self.assertEqual((321, 'high'), (io.limit, str(io.shares.level)))


class ManageSnapshotTest(DriverTestCase):

    def test_adopt_and_unmanage_with_cinder_objects(self):
        volume_type = self.objects.volume_type()
        volume = self.create(volume_type, size=1)
        self.session.invoke_task(
            'CreateSnapshot_Task', self.find(volume.id), name='weekly',
            description='made outside Cinder', memory=False, quiesce=False)
        snapshot = self.objects.snapshot(volume)
        self.assertEqual(1, self.driver.manage_existing_snapshot_get_size(
            snapshot, {'source-name': 'weekly'}))
        self.driver.manage_existing_snapshot(snapshot,
                                             {'source-name': 'weekly'})
        self.assertEqual([snapshot.name],
                         self.snapshot_names(self.state(volume.id)))
        self.assertRaises(cinder_exception.ManageExistingInvalidReference,
                          self.driver.manage_existing_snapshot,
                          self.objects.snapshot(volume),
                          {'source-name': 'missing'})
        self.driver.unmanage_snapshot(snapshot)
        self.assertEqual(['unmanaged-%s' % snapshot.id],
                         self.snapshot_names(self.state(volume.id)))

    def test_manageable_snapshots_as_cinder_lists_them(self):
        volume_type = self.objects.volume_type()
        volume = self.create(volume_type, size=2)
        backing = self.find(volume.id)
        for name in ('weekly', 'monthly', 'yearly'):
            self.session.invoke_task(
                'CreateSnapshot_Task', backing, name=name,
                description='made outside Cinder', memory=False,
                quiesce=False)
        known = self.objects.snapshot(volume)
        self.driver.create_snapshot(known)
        known.status = 'available'
        everything = self.driver.get_manageable_snapshots(
            [known], None, 1000, 0, ['reference'], ['asc'])
        mine = [e for e in everything
                if e['source_reference'] == {'source-id': volume.id}]
        self.assertEqual(
            [{'source-name': 'monthly'}, {'source-name': known.name},
             {'source-name': 'weekly'}, {'source-name': 'yearly'}],
            sorted((e['reference'] for e in mine),
                   key=lambda r: r['source-name']))
        [made] = [e for e in mine
                  if e['reference'] == {'source-name': known.name}]
        self.assertEqual((False, known.id),
                         (made['safe_to_manage'], made['cinder_id']))
        # The volume manager's want_objects path: Cinder's own objects.
        listed = objects.ManageableSnapshotList.from_primitives(
            self.context, mine)
        self.assertEqual({'source-id': volume.id},
                         listed[0].source_reference)
        self.assertEqual(2, listed[0].size)
        for marker, limit, offset, keys, dirs in (
                (None, 2, 0, ['reference'], ['asc']),
                ({'source-name': 'weekly'}, 2, 0, ['size', 'reference'],
                 ['desc', 'desc']),
                (json.dumps({'source-name': 'monthly'}), 3, 1,
                 ['reference'], ['asc'])):
            ours = self.driver.get_manageable_snapshots(
                [known], marker, limit, offset, keys, dirs)
            theirs = volume_utils.paginate_entries_list(
                everything, marker, limit, offset, keys, dirs)
            self.assertEqual(theirs, ours, (marker, limit, offset, keys))
        # Import the listed entry; Cinder's manage flow then lists it as
        # managed.
        adopted = self.objects.snapshot(volume)
        self.driver.manage_existing_snapshot(adopted,
                                             {'source-name': 'weekly'})
        after = self.driver.get_manageable_snapshots(
            [known, adopted], None, 1000, 0, ['reference'], ['asc'])
        [now] = [e for e in after
                 if e['reference'] == {'source-name': adopted.name}]
        self.assertEqual(adopted.id, now['cinder_id'])


# Cinder 29's in-tree VMDK driver, unchanged but for the scheme (see
# testbed.intree.driver_class).
InTreeDriver = intree.driver_class()


def in_tree_sections(server, **sections):
    """cinder.conf sections of in-tree backends on the simulator."""
    return {name: intree.section(server, 'DC0_C0', 0.1, **values)
            for name, values in sections.items()}


class InTreeMigrationTest(DriverTestCase):
    """Backings made by Cinder 29's VMwareVcVmdkDriver, adopted by ours."""

    def setUp(self):
        super().setUp()
        cfg.CONF(['--config-file', self.write_conf(in_tree_sections(
            self.vcsim, intree={},
            **{'intree-cow': {'vmware_snapshot_format': 'COW'}}))],
            project='cinder', default_config_files=[])
        self.in_tree = self.in_tree_driver('intree')
        self.in_tree_cow = self.in_tree_driver('intree-cow')

    def write_conf(self, sections):
        # The adapter's own sections stay: CinderConf wrote them.
        with open(self.cinder_conf.path) as f:
            text = f.read()
        for name, values in sections.items():
            text += '\n[%s]\n' % name + ''.join(
                '%s = %s\n' % item for item in values.items())
        path = self.cinder_conf.path + '.intree'
        with open(path, 'w') as f:
            f.write(text)
        return path

    def in_tree_driver(self, group):
        configuration = cinder_configuration.Configuration(
            volume_manager.volume_backend_opts, config_group=group)
        driver = InTreeDriver(configuration=configuration,
                              host='old-node@%s' % group, cluster_name=None)
        driver.do_setup(self.context)
        driver.check_for_setup_error()
        self.addCleanup(driver.session.logout)
        return driver

    def in_tree_volume(self, driver, size=1, source=None):
        volume = self.objects.volume(self.objects.volume_type(), size=size)
        volume.volume_type_id = None  # the in-tree driver reads it from DB
        volume.volume_attachment = objects.VolumeAttachmentList(objects=[])
        if source is None:
            driver.create_volume(volume)
        else:
            driver.create_cloned_volume(volume, source)
        volume.status = 'available'
        self.addCleanup(self.destroy_backing, volume.id)
        return volume

    def in_tree_snapshot(self, driver, volume):
        snapshot = self.objects.snapshot(volume)
        snapshot.volume_type_id = None
        snapshot.display_description = 'made by the in-tree driver'
        update = driver.create_snapshot(snapshot) or {}
        self.addCleanup(self.destroy_template, update.get(
            'provider_location'))
        return snapshot, update

    def destroy_backing(self, volume_id):
        ref = self.find(volume_id)
        if ref is not None:
            self.session.invoke_task('Destroy_Task', ref)

    def destroy_template(self, path):
        if not path:
            return
        ref = self.session.invoke(
            'FindByInventoryPath', self.session.service_content.searchIndex,
            inventoryPath=path.lstrip('/'))
        if ref is not None:
            self.session.invoke_task('Destroy_Task', ref)

    def test_in_tree_backings_listed_and_adopted_with_source_id(self):
        original = self.in_tree_volume(self.in_tree, size=2)
        template_snap, update = self.in_tree_snapshot(self.in_tree,
                                                      original)
        self.assertIn('/Snapshots/snapshot-%s' % template_snap.id,
                      update['provider_location'])
        clone = self.in_tree_volume(self.in_tree, size=2, source=original)
        with_cow = self.in_tree_volume(self.in_tree_cow)
        self.in_tree_snapshot(self.in_tree_cow, with_cow)
        # What the in-tree driver made, read back.
        before = self.state(original.id)
        extra = vsphere_ops.extra_config_dict(before)
        self.assertEqual(original.id, extra['cinder.volume.id'])
        self.assertEqual('volume-%s' % original.id, before['name'])
        old_file = self.disk(before).backing.fileName
        self.assertEqual('[LocalDS_0] volume-%s/volume-%s.vmdk'
                         % (original.id, original.id), old_file)
        self.assertEqual(['Volumes', 'Project (%s)' % original.project_id,
                          'OpenStack'], self.folders(before))

        # The old backend forgets the volumes ("openstack volume unmanage").
        for volume in (original, clone):
            self.in_tree.unmanage(volume)
        # (an empty value removes the key, as in vSphere)
        self.assertNotIn('cinder.volume.id', vsphere_ops.extra_config_dict(
            self.state(original.id)))

        listed = {json.dumps(e['reference']): e for e in
                  self.driver.get_manageable_volumes(
                      [], None, 1000, 0, ['reference'], ['asc'])}
        for volume in (original, clone):
            entry = listed[json.dumps({'source-id': volume.id})]
            self.assertEqual((True, None, 2), (entry['safe_to_manage'],
                                               entry['reason_not_safe'],
                                               entry['size']))
        entry = listed[json.dumps({'source-id': with_cow.id})]
        self.assertFalse(entry['safe_to_manage'])
        self.assertIn('has snapshots', entry['reason_not_safe'])
        [template] = [e for e in listed.values()
                      if e['extra_info'].get('vm') ==
                      'snapshot-%s' % template_snap.id]
        self.assertIn('is a template', template['reason_not_safe'])

        volume_type = self.objects.volume_type()
        adopted = self.objects.volume(volume_type, size=2, pool='LocalDS_0')
        reference = {'source-id': original.id}
        self.assertEqual(2, self.driver.manage_existing_get_size(
            adopted, reference))
        # where a failed import (or a delete of error_managing) gives it back
        old_folder = self.session.get_properties(before['ref'],
                                                 ['parent'])['parent']
        self.driver.manage_existing(adopted, reference)
        adopted.status = 'available'
        self.addCleanup(self.delete_quietly, adopted)
        self.assertIsNone(self.find(original.id))
        after = self.state(adopted.id)
        self.assertEqual(vsphere_ops.moref_value(before['ref']),
                         vsphere_ops.moref_value(after['ref']))
        self.assertEqual('volume-%s' % adopted.id, after['name'])
        self.assertEqual(adopted.id, after['config.instanceUuid'])
        self.assertEqual(old_file, self.disk(after).backing.fileName)
        marks = vsphere_ops.extra_config_dict(after)
        self.assertEqual(adopted.id, marks['vmware_backend.volume_id'])
        self.assertEqual('true', marks['vmware_backend.managed'])
        self.assertEqual(
            {'instanceUuid': original.id, 'moref':
             vsphere_ops.moref_value(before['ref']),
             'name': 'volume-%s' % original.id,
             'folder': vsphere_ops.moref_value(old_folder)},
            json.loads(marks['vmware_backend.imported_from']))
        self.assertEqual(['Volumes', 'OpenStack'], self.folders(after))
        # The in-tree driver no longer finds it by the old id; ours works
        # on it.
        self.assertIsNone(self.in_tree.volumeops.get_backing_by_uuid(
            original.id))
        snapshot = self.objects.snapshot(adopted)
        self.driver.create_snapshot(snapshot)
        self.assertEqual([snapshot.name],
                         self.snapshot_names(self.state(adopted.id)))
        listed = self.driver.get_manageable_volumes(
            [adopted], None, 1000, 0, ['reference'], ['asc'])
        [mine] = [e for e in listed
                  if e['reference'] == {'source-id': adopted.id}]
        self.assertEqual(adopted.id, mine['cinder_id'])
        self.assertFalse(mine['safe_to_manage'])
        self.assertFalse([e for e in listed
                          if e['reference'] == {'source-id': original.id}])

    def folders(self, state):
        """Names of the folders above a VM, nearest first, up to vm/."""
        names = []
        parent = state['parent'] if 'parent' in state else \
            self.session.get_properties(state['ref'], ['parent'])['parent']
        while parent is not None:
            props = self.session.get_properties(parent, ['name', 'parent'])
            if props['name'] == 'vm':
                break
            names.append(props['name'])
            parent = props.get('parent')
        return names
