"""Virtual disks (VirtualDiskManager) and clusters on the simulator.

Every change is read back from vCenter: the disk's file (datastore
search), capacity, provisioning, controller, uuid; the cluster in the
inventory.
"""

from tests.functional import base
from vmware_backend.admin import clusters
from vmware_backend.admin import datastores
from vmware_backend.admin import disk_changes
from vmware_backend.admin import disks
from vmware_backend import exceptions
from vmware_backend.testbed.faults import control as control_mod
from vmware_backend.vsphere import ops

GIB_KB = 1024 * 1024


class DiskTestBase(base.FunctionalTestCase):

    def setUp(self):
        super().setUp()
        self.folder = 'adm-%s' % base.new_id()[:8]

    def path(self, name, ds='LocalDS_0', folder=None):
        return '[%s] %s/%s' % (ds, folder or self.folder, name)

    def on_vcenter(self, path, datacenter=None):
        return disks.exists(self.session, disks.locate(self.session, path,
                                                       datacenter))

    def make(self, name, size_gb=1, disk_type='thin', adapter='lsiLogic',
             **kwargs):
        path = self.path(name, **kwargs)
        disk_changes.create(self.session, path, size_gb, disk_type, adapter)
        self.addCleanup(self.remove_quietly, path)
        return path

    def remove_quietly(self, path, datacenter=None):
        try:
            if self.on_vcenter(path, datacenter):
                disk_changes.delete(self.session, path, datacenter,
                                    force=True)
        except exceptions.VMwareBackendException:
            pass

    def fail_next(self, method, outcome):
        control = control_mod.SimulatorControl('127.0.0.1', self.vcsim.port)
        control.set_task_faults([{'method': method, 'outcome': outcome,
                                  'times': 1}])
        self.addCleanup(control.clear_task_faults)


class DiskTest(DiskTestBase):

    def test_create_each_type_and_read_back(self):
        for name, disk_type, adapter, provisioning, controller in (
                ('thin.vmdk', 'thin', 'busLogic', 'thin',
                 'VirtualBusLogicController'),
                ('thick.vmdk', 'thick', 'lsiLogic', 'thick',
                 'VirtualLsiLogicController'),
                ('eager.vmdk', 'eagerZeroedThick', 'ide', 'thick',
                 'VirtualIDEController')):
            path = self.path(name)
            plan = disk_changes.create(self.session, path, 2, disk_type,
                                       adapter, dry_run=True)
            self.assertTrue(plan.dry_run)
            self.assertFalse(self.on_vcenter(path))
            result = disk_changes.create(self.session, path, 2, disk_type,
                                         adapter)
            self.addCleanup(self.remove_quietly, path)
            found = disks.info(self.session, path)
            self.assertEqual(
                (path, 'DC0', 2 * GIB_KB, provisioning, controller, 'loose'),
                (found.path, found.datacenter, found.capacity_kb,
                 found.provisioning, found.controller_type, found.owner))
            self.assertEqual(found, result.disk)
        uuids = {disks.info(self.session, self.path(n)).uuid
                 for n in ('thin.vmdk', 'thick.vmdk', 'eager.vmdk')}
        self.assertEqual(3, len(uuids))

    def test_bad_input_names_the_value(self):
        for args, text in (
                (('[LocalDS_0] x/a.txt', 1), '"[datastore] folder/name.vmdk"'),
                (('[LocalDS_0] ../a.vmdk', 1), 'no ".."'),
                (('[NoSuchDS] x/a.vmdk', 1), 'no datastore NoSuchDS'),
                (('[LocalDS_0] x/a.vmdk', 0), 'above 0'),
                (('[LocalDS_0] x/a.vmdk', 'big'), "'big'")):
            err = self.assertRaises(exceptions.InvalidAdminInput,
                                    disk_changes.create, self.session, *args)
            self.assertIn(text, str(err))
        err = self.assertRaises(exceptions.InvalidAdminInput,
                                disk_changes.create, self.session,
                                self.path('a.vmdk'), 1, 'sparse')
        self.assertIn('thin, thick or eagerZeroedThick', str(err))
        path = self.make('a.vmdk')
        err = self.assertRaises(exceptions.AdminRefused, disk_changes.create,
                                self.session, path, 1)
        self.assertIn('disk %s in datacenter DC0' % path, str(err))
        self.assertIn('FileAlreadyExists', str(err))
        err = self.assertRaises(exceptions.AdminRefused, disks.info,
                                self.session, self.path('none.vmdk'))
        self.assertIn('disk %s in datacenter DC0' % self.path('none.vmdk'),
                      str(err))

    def test_copy_move_extend_inflate_eager_zero_delete(self):
        path = self.make('a.vmdk', 1, 'thin', 'busLogic')
        uuid = disks.info(self.session, path).uuid
        copy = self.path('b.vmdk', ds='LocalDS_1')
        self.addCleanup(self.remove_quietly, copy)
        self.assertTrue(disk_changes.copy(self.session, path, copy,
                                          dry_run=True).dry_run)
        self.assertFalse(self.on_vcenter(copy))
        result = disk_changes.copy(self.session, path, copy)
        self.assertEqual((copy, GIB_KB, 'thin', 'VirtualBusLogicController'),
                         (result.disk.path, result.disk.capacity_kb,
                          result.disk.provisioning,
                          result.disk.controller_type))
        self.assertNotEqual(uuid, result.disk.uuid)
        self.assertTrue(self.on_vcenter(path))

        moved = self.path('c.vmdk', ds='LocalDS_1', folder='moved-' +
                          self.folder)
        self.addCleanup(self.remove_quietly, moved)
        result = disk_changes.move(self.session, copy, moved)
        self.assertFalse(self.on_vcenter(copy))
        self.assertTrue(self.on_vcenter(moved))
        self.assertEqual(moved, result.disk.path)

        result = disk_changes.extend(self.session, moved, 3)
        self.assertEqual(3 * GIB_KB,
                         disks.info(self.session, moved).capacity_kb)
        result = disk_changes.extend(self.session, moved, 3)
        self.assertEqual('already 3.0 GiB', result.detail)
        err = self.assertRaises(exceptions.AdminRefused, disk_changes.extend,
                                self.session, moved, 2)
        self.assertIn('disks cannot shrink', str(err))

        err = self.assertRaises(exceptions.AdminRefused,
                                disk_changes.eager_zero, self.session, moved)
        self.assertIn('it is thin; only thick disks are eager-zeroed',
                      str(err))
        disk_changes.inflate(self.session, moved)
        self.assertEqual('thick',
                         disks.info(self.session, moved).provisioning)
        err = self.assertRaises(exceptions.AdminRefused, disk_changes.inflate,
                                self.session, moved)
        self.assertIn('it is thick, not thin', str(err))
        disk_changes.eager_zero(self.session, moved)
        self.assertEqual(3 * GIB_KB,
                         disks.info(self.session, moved).capacity_kb)

        self.assertTrue(disk_changes.delete(self.session, moved,
                                            dry_run=True).dry_run)
        self.assertTrue(self.on_vcenter(moved))
        disk_changes.delete(self.session, moved)
        self.assertFalse(self.on_vcenter(moved))

    def test_disks_in_use_are_refused_unless_forced(self):
        driver, volume = self.driver_and_volume()
        ref = ops.VolumeOps(self.session).find_vm_by_instance_uuid(volume.id)
        props = self.session.get_properties(ref, ['config.hardware.device',
                                                  'name'])
        [disk] = [d for d in ops.devices_of(props)
                  if type(d).__name__ == 'VirtualDisk']
        path = disk.backing.fileName
        found = disks.info(self.session, path)
        self.assertEqual(('volume', volume.id, [props['name']]),
                         (found.owner, found.volume_id, found.vms))
        for call, args in ((disk_changes.delete, ()),
                           (disk_changes.move, (self.path('x.vmdk'),)),
                           (disk_changes.extend, (2,)),
                           (disk_changes.inflate, ())):
            err = self.assertRaises(exceptions.AdminRefused, call,
                                    self.session, path, *args)
            self.assertIn('it is the disk of volume %s' % volume.id,
                          str(err))
            self.assertIn('in datacenter DC0', str(err))
            self.assertIn('--force', str(err))
        # Unchanged.
        self.assertEqual(found, disks.info(self.session, path))
        # Copying only reads it.
        copy = self.path('copy-of-volume.vmdk')
        self.addCleanup(self.remove_quietly, copy)
        disk_changes.copy(self.session, path, copy)
        self.assertEqual('loose', disks.info(self.session, copy).owner)
        # Another VM's disk.
        other = '[LocalDS_0] DC0_H0_VM0/disk1.vmdk'
        err = self.assertRaises(exceptions.AdminRefused, disk_changes.delete,
                                self.session, other)
        self.assertIn('VM DC0_H0_VM0', str(err))
        # --force extends the volume's disk.
        disk_changes.extend(self.session, path, 2, force=True)
        props = self.session.get_properties(ref, ['config.hardware.device'])
        [disk] = [d for d in ops.devices_of(props)
                  if type(d).__name__ == 'VirtualDisk']
        self.assertEqual(2 * GIB_KB, disk.capacityInKB)

    def test_failed_create_leaves_no_disk_nor_folder(self):
        path = self.path('a.vmdk')
        self.fail_next('CreateVirtualDisk_Task', 'error-after')
        err = self.assertRaises(exceptions.VCenterFault, disk_changes.create,
                                self.session, path, 1)
        self.assertIn('disk %s in datacenter DC0' % path, str(err))
        self.assertFalse(self.on_vcenter(path))
        ds = datastores.find(datastores.read(self.session), 'LocalDS_0')[0]
        browser = self.session.get_properties(
            ops.moref('Datastore', ds.value), ['browser'])['browser']
        err = self.assertRaises(
            exceptions.VCenterFault, self.session.invoke_task,
            'SearchDatastore_Task', browser,
            datastorePath='[LocalDS_0] %s' % self.folder)
        self.assertEqual('FileNotFound', err.fault)

    def test_failed_copy_leaves_no_partial_copy(self):
        path = self.make('a.vmdk')
        copy = self.path('b.vmdk')
        self.fail_next('CopyVirtualDisk_Task', 'error-after')
        err = self.assertRaises(exceptions.VCenterFault, disk_changes.copy,
                                self.session, path, copy)
        self.assertIn('CopyVirtualDisk_Task failed on disk %s in datacenter '
                      'DC0 to disk %s in datacenter DC0' % (path, copy),
                      str(err))
        self.assertFalse(self.on_vcenter(copy))
        self.assertTrue(self.on_vcenter(path))

    def test_move_whose_task_fails_after_moving_reports_what_happened(self):
        path = self.make('a.vmdk')
        dest = self.path('b.vmdk')
        self.addCleanup(self.remove_quietly, dest)
        self.fail_next('MoveVirtualDisk_Task', 'error-after')
        result = disk_changes.move(self.session, path, dest)
        self.assertIn('but the disk moved', result.detail)
        self.assertEqual((False, True), (self.on_vcenter(path),
                                         self.on_vcenter(dest)))
        self.fail_next('MoveVirtualDisk_Task', 'error-before')
        self.assertRaises(exceptions.VCenterFault, disk_changes.move,
                          self.session, dest, path)
        self.assertEqual((False, True), (self.on_vcenter(path),
                                         self.on_vcenter(dest)))


class TwoDatacenterDiskTest(DiskTestBase):

    VCSIM_FLAGS = {'datacenters': 2}

    def test_copy_and_move_between_datacenters(self):
        path = self.make('a.vmdk')
        err = self.assertRaises(exceptions.InvalidAdminInput, disks.info,
                                self.session, path)
        self.assertIn('several datacenters (DC0, DC1); give --datacenter',
                      str(err))
        dest = self.path('b.vmdk')
        result = disk_changes.copy(self.session, path, dest,
                                   datacenter='DC0', dest_datacenter='DC1')
        self.addCleanup(self.remove_quietly, dest, 'DC1')
        self.assertEqual(('DC1', GIB_KB), (result.disk.datacenter,
                                           result.disk.capacity_kb))
        self.assertTrue(self.on_vcenter(dest, 'DC1'))
        self.assertFalse(self.on_vcenter(dest, 'DC0'))
        moved = self.path('c.vmdk')
        disk_changes.move(self.session, dest, moved, datacenter='DC1',
                          dest_datacenter='DC0')
        self.addCleanup(self.remove_quietly, moved, 'DC0')
        self.assertEqual((False, True), (self.on_vcenter(dest, 'DC1'),
                                         self.on_vcenter(moved, 'DC0')))

    def make(self, name, **kwargs):
        path = self.path(name)
        disk_changes.create(self.session, path, 1, datacenter='DC0')
        self.addCleanup(self.remove_quietly, path, 'DC0')
        return path


class ClusterTest(base.FunctionalTestCase):

    def clusters(self):
        inv = datastores.read(self.session)
        return {p.get('name'): r.value
                for r, p in inv.compute_resources.items()
                if r.type == 'ClusterComputeResource'}

    def test_create_and_remove(self):
        name = 'adm-%s' % base.new_id()[:8]
        plan = clusters.create(self.session, name, dry_run=True)
        self.assertNotIn(name, self.clusters())
        self.assertEqual(('DC0', True), (plan.datacenter, plan.dry_run))
        result = clusters.create(self.session, name)
        self.assertEqual(result.id, self.clusters()[name])
        err = self.assertRaises(exceptions.AdminRefused, clusters.create,
                                self.session, name)
        self.assertIn('it exists (%s)' % result.id, str(err))
        self.assertTrue(clusters.remove(self.session, name,
                                        dry_run=True).dry_run)
        self.assertIn(name, self.clusters())
        clusters.remove(self.session, result.id)
        self.assertNotIn(name, self.clusters())

    def test_remove_refused_while_it_holds_hosts(self):
        err = self.assertRaises(exceptions.AdminRefused, clusters.remove,
                                self.session, 'DC0_C0')
        self.assertIn('it holds host(s) DC0_C0_H0, DC0_C0_H1, DC0_C0_H2',
                      str(err))
        self.assertIn('DC0_C0', self.clusters())
        err = self.assertRaises(exceptions.InvalidAdminInput,
                                clusters.remove, self.session, 'nope')
        self.assertIn('no such cluster', str(err))
        err = self.assertRaises(exceptions.InvalidAdminInput,
                                clusters.create, self.session, 'a/b')
        self.assertIn('no "/"', str(err))

    def test_failed_destroy_keeps_the_cluster(self):
        name = 'adm-%s' % base.new_id()[:8]
        result = clusters.create(self.session, name)
        self.addCleanup(clusters.remove, self.session, result.id)
        control = control_mod.SimulatorControl('127.0.0.1', self.vcsim.port)
        control.set_task_faults([{'method': 'Destroy_Task',
                                  'outcome': 'error-before', 'times': 1}])
        self.addCleanup(control.clear_task_faults)
        self.assertRaises(exceptions.VCenterFault, clusters.remove,
                          self.session, name)
        self.assertEqual(result.id, self.clusters()[name])
