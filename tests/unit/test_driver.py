"""Decisions of the volume driver, with no server.

The driver gets a fake :class:`~vmware_backend.vsphere.ops.VolumeOps` (an
autospec mock, so a call with a wrong signature fails, whose look-ups read
backings held by :class:`FakeVCenter`), a fake placement service returning
:class:`~vmware_backend.volume.datastore.Placement` tuples, and a session
stand-in whose only attribute is the real suds factory, so every spec the
driver builds is a real vSphere type. Backing properties are built the way suds
returns them: ``ArrayOf*`` wrappers of real device, OptionValue and
reference objects, and snapshot trees.
"""

import inspect
import types
from unittest import mock

import fixtures
from suds import sudsobject
import testtools

from tests.unit import wsdl_factory
from vmware_backend import conf
from vmware_backend import exceptions
from vmware_backend.volume import datastore
from vmware_backend.volume import driver as driver_mod
from vmware_backend.volume import placement as placement_mod
from vmware_backend.volume import plain_objects
from vmware_backend.vsphere import inventory
from vmware_backend.vsphere import ops as vsphere_ops
from vmware_backend.vsphere import specs
from vmware_backend.vsphere import sudsvalues

R = inventory.MoRef
GIB_KB = 1024 * 1024
NOW = 1800000000
SECRET = 'S3cret-Passw0rd'
# A clone id (volume ids are UUIDs) no backing has.
GONE_ID = '6f0e5b8a-3c1d-4e2f-9a7b-00000000d0e5'
USER = 'svc-cinder@vsphere.local'
OPTIONS = {'vcenter_host': 'vc.example.org', 'vcenter_username': USER,
           'vcenter_password': SECRET}

SOURCE_DS = 'datastore-1'
PLACE = datastore.Placement(
    pool_name='dc-2:ds-new', datastore=R('Datastore', 'datastore-9'),
    datastore_name='ds-new', host=R('HostSystem', 'host-9'),
    host_name='esx-9', cluster=R('ClusterComputeResource', 'domain-c9'),
    resource_pool=R('ResourcePool', 'resgroup-9'),
    datacenter=R('Datacenter', 'datacenter-2'), datacenter_name='dc',
    vm_folder=R('Folder', 'group-v3'))


def marked(clone_id, snapshot_name, since='1800000000'):
    """The extraConfig of a linked-clone marker, written out."""
    return {'vmware_backend.clone.%s' % clone_id: snapshot_name,
            'vmware_backend.clone_since.%s' % clone_id: since}


def cleared(clone_id):
    """The extraConfig entries removing a linked-clone marker."""
    return {'vmware_backend.clone.%s' % clone_id: '',
            'vmware_backend.clone_since.%s' % clone_id: ''}


def failure(action='Task'):
    return exceptions.VCenterFault(fault='SystemError', action=action,
                                   target='x', detail='injected')


def pool(ds_value):
    return datastore.Pool(
        name=ds_value, datastore=R('Datastore', ds_value),
        datastore_name=ds_value,
        type='VMFS', capacity=100 * 1024 ** 3, free=50 * 1024 ** 3,
        uncommitted=0, reserved_percentage=0,
        max_over_subscription_ratio=20.0,
        hosts=(R('HostSystem', 'host-1'),))


def assert_ref_call(test, method, ref, *rest):
    """``method`` was called once, with a reference to ``ref``'s object.

    (Plain values read as XML give references anew, not the stored suds
    objects; the other arguments are compared as they are.)
    """
    method.assert_called_once()
    args = method.call_args.args
    test.assertEqual(inventory.from_suds(ref), inventory.from_suds(args[0]))
    test.assertEqual(list(rest), list(args[1:]))


def _typed_plain(value):
    """Suds values as :mod:`vmware_backend.vsphere.rawxml` reads them."""
    if sudsvalues.is_suds_moref(value):
        return inventory.from_suds(value)
    if isinstance(value, dict):
        return {key: _typed_plain(item) for key, item in value.items()}
    plain = inventory.to_plain(value)
    if isinstance(value, sudsobject.Object) and \
            isinstance(plain, dict):
        plain = {key: _typed_plain(getattr(value, key))
                 for key in value.__keylist__}
        plain['@type'] = type(value).__name__
    elif isinstance(value, sudsobject.Object):
        items = []
        for key in value.__keylist__:
            item = getattr(value, key)
            items.extend(item if isinstance(item, list) else [item])
        plain = [_typed_plain(item) for item in items if item is not None]
    elif isinstance(value, list):
        plain = [_typed_plain(item) for item in value]
    return plain


class FakeVCenter:
    """VMs by moref value, read the way ``session.get_properties`` does.

    Only the requested paths that are set are returned; an unknown moref
    raises ManagedObjectNotFound. Morefs handed out are the stored objects,
    so tests can check the driver passes the very reference along.
    """

    def __init__(self):
        self.vms = {}
        self.refs = {}
        self.snapshot_extra = {}
        self._next = 100

    def add(self, props, value=None):
        if value is None:
            self._next += 1
            value = 'vm-%d' % self._next
        ref = vsphere_ops.moref('VirtualMachine', value)
        self.vms[value] = props
        self.refs[value] = ref
        return ref

    def remove(self, ref):
        value = vsphere_ops.moref_value(ref)
        self.vms.pop(value)
        self.refs.pop(value)

    def find(self, uuid):
        found = self.find_all(uuid)
        return found[0] if found else None

    def find_all(self, uuid):
        return [self.refs[value] for value, props in self.vms.items()
                if props.get('config.instanceUuid') == uuid]

    def properties(self, vm, paths=vsphere_ops.BACKING_PROPERTIES,
                   target=None, raw=False):
        if raw:
            # As the raw-XML reader gives them: plain values, data objects
            # with their xsi:type.
            return _typed_plain(self.properties(vm, paths, target))
        if vm._type == 'VirtualMachineSnapshot':
            # A snapshot's config (as its VM had it then): extraConfig set
            # by a test in snapshot_extra, else none.
            extra = self.snapshot_extra.get(vsphere_ops.moref_value(vm))
            return {'config.extraConfig': extra} if extra else {}
        props = self.vms.get(vsphere_ops.moref_value(vm))
        if props is None:
            raise exceptions.VCenterFault(
                fault='ManagedObjectNotFound', action='RetrievePropertiesEx',
                target=target, detail='gone')
        return {path: props[path] for path in paths if path in props}


class FakeTask:
    """A task whose work ran when it was started.

    It ended with ``result``, or ``error`` (as vCenter reports a task
    ending in error).
    """

    _type = 'Task'
    _count = 0

    def __init__(self, result=None, error=None, state=None):
        FakeTask._count += 1
        self.value = 'task-%d' % FakeTask._count
        self.result = result
        self.error = error
        self.state = state or ('error' if error else 'success')

    def info(self):
        return types.SimpleNamespace(state=self.state, result=self.result,
                                     entity=None, descriptionId='')


# The two halves of each task the driver starts and waits for, and the
# combined method of the fake ops whose side effect a test sets.
TASK_METHODS = {'start_create_backing': 'create_backing',
                'start_clone': 'clone',
                'start_create_snapshot': 'create_snapshot',
                'start_destroy': 'destroy'}
PLUMBING = frozenset(TASK_METHODS) | {'wait_for_task', 'await_task',
                                      'task_info', 'recent_tasks'}


class DriverTestBase(testtools.TestCase):

    # suds returns array properties as ArrayOf* wrappers; the driver must
    # also read plain lists.
    wrap_arrays = True

    def setUp(self):
        super().setUp()
        self.log = self.useFixture(fixtures.FakeLogger())
        # Markers and backings record when they were made.
        self.useFixture(fixtures.MockPatch('time.time', return_value=NOW))
        self.factory = wsdl_factory.factory()
        self.vc = FakeVCenter()
        self.snaps = {}
        self.ops = mock.create_autospec(vsphere_ops.VolumeOps, instance=True)
        self.ops.find_all_by_instance_uuid.side_effect = self.vc.find_all
        self.ops.properties.side_effect = self.vc.properties
        for start, combined in TASK_METHODS.items():
            getattr(self.ops, start).side_effect = self._starter(
                getattr(self.ops, combined))
        self.ops.wait_for_task.side_effect = self._wait
        self.ops.await_task.side_effect = lambda task, timeout: task.info()
        self.ops.task_info.side_effect = lambda task: task.info()
        self.ops.recent_tasks.return_value = []
        self.ops.destroy.side_effect = lambda vm, target: self.vc.remove(vm)
        # No VM on vCenter marks a volume attached unless a test says so.
        self.ops.attachment_marks.return_value = {}
        self.ops.read_with_marks.side_effect = self._read_with_marks
        self.folder = vsphere_ops.moref('Folder', 'group-v100')
        self.ops.ensure_folder.return_value = self.folder
        self.placement = mock.create_autospec(
            placement_mod.PlacementService, instance=True)
        self.placement.choose.return_value = PLACE
        self.session = types.SimpleNamespace(factory=self.factory)
        # The per-volume locks: a file backend of this test's own.
        locks = 'file://' + self.useFixture(fixtures.TempDir()).path
        self.driver = driver_mod.VMwareVolumeDriver(
            conf.option_defaults(vcenter_coordination_url=locks, **OPTIONS),
            session=self.session)
        self.addCleanup(self.driver.close)
        self.driver._ops = self.ops
        self.driver._placement = self.placement

    def _read_with_marks(self, vm, paths, volume_id, target=None):
        """As :meth:`VolumeOps.read_with_marks`: plain values and marks.

        The marks are those the test's vCenter shows for any datastore
        (what ``attachment_marks`` is set to return), in the same read.
        """
        props = self.vc.properties(vm, paths, target, raw=True)
        props[vsphere_ops.MARKS_KEY] = dict(
            self.ops.attachment_marks.return_value)
        return props

    @staticmethod
    def _starter(combined):
        def start(*args, **kwargs):
            try:
                return FakeTask(result=combined(*args, **kwargs))
            except exceptions.TaskTimeout as err:
                return FakeTask(error=err, state='running')
            except Exception as err:
                return FakeTask(error=err)
        return start

    @staticmethod
    def _wait(task, target, action):
        if task.error is not None:
            raise task.error
        return task.result

    # Builders ----------------------------------------------------------

    def make(self, type_name, **attrs):
        return specs.create(self.factory, type_name, **attrs)

    def controller(self, type_name='VirtualLsiLogicController', key=1000,
                   bus=0):
        return self.make(type_name, key=key, busNumber=bus)

    def disk(self, size_gb=1, file_name='[ds1] v/v.vmdk', uuid='6000C291',
             parent=None, key=2000, controller_key=1000, unit=0):
        backing = self.make('VirtualDiskFlatVer2BackingInfo',
                            fileName=file_name, diskMode='persistent',
                            thinProvisioned=True, uuid=uuid)
        if parent:
            backing.parent = self.make('VirtualDiskFlatVer2BackingInfo',
                                       fileName=parent,
                                       diskMode='persistent')
        return self.make('VirtualDisk', key=key, controllerKey=controller_key,
                         unitNumber=unit, capacityInKB=size_gb * GIB_KB,
                         capacityInBytes=size_gb * GIB_KB * 1024,
                         backing=backing)

    def array(self, type_name, items):
        items = list(items)
        if not self.wrap_arrays:
            return items
        return self.make('ArrayOf%s' % type_name, **{type_name: items})

    def devices(self, devices):
        return self.array('VirtualDevice', devices)

    def extra_config(self, entries):
        return self.array('OptionValue', [
            self.make('OptionValue', key=k, value=v)
            for k, v in sorted(entries.items())])

    def snapshot_tree(self, spec):
        """``spec``: a name, or (name, [child specs])."""
        name, children = (spec, ()) if isinstance(spec, str) else spec
        ref = vsphere_ops.moref('VirtualMachineSnapshot',
                                'snapshot-%d' % (len(self.snaps) + 1))
        self.snaps[name] = ref
        return self.make(
            'VirtualMachineSnapshotTree', snapshot=ref, name=name,
            childSnapshotList=[self.snapshot_tree(c) for c in children])

    def add_backing(self, volume, size_gb=None, extra=None, managed=True,
                    snapshots=(), ds=SOURCE_DS, parent_disk=None):
        """Put the backing of ``volume`` (an object or an id) in vCenter."""
        volume_id = getattr(volume, 'id', volume)
        if size_gb is None:
            size_gb = getattr(volume, 'size', 1)
        entries = {}
        if managed:
            entries = specs.backing_extra_config(volume_id)
        entries.update(extra or {})
        devices = [self.controller(),
                   self.disk(size_gb, parent=parent_disk,
                             uuid='uuid-' + volume_id,
                             file_name='[ds1] volume-%s/volume-%s.vmdk'
                             % (volume_id, volume_id))]
        props = {
            'name': 'volume-%s' % volume_id,
            'config.instanceUuid': volume_id,
            'config.hardware.device': self.devices(devices),
            'config.extraConfig': self.extra_config(entries),
            'datastore': self.array('ManagedObjectReference',
                                    [vsphere_ops.moref('Datastore', ds)]),
            'runtime.host': vsphere_ops.moref('HostSystem', 'host-1'),
            'resourcePool': vsphere_ops.moref('ResourcePool', 'resgroup-1'),
            'parent': vsphere_ops.moref('Folder', 'group-v9'),
        }
        if snapshots:
            props['snapshot'] = self.make(
                'VirtualMachineSnapshotInfo', rootSnapshotList=[
                    self.snapshot_tree(s) for s in snapshots])
        return self.vc.add(props)

    def add_instance(self, devices=(), extra=None, host='host-1',
                     value='vm-inst'):
        props = {'name': 'instance-1',
                 'config.hardware.device': self.devices(devices),
                 'config.extraConfig': self.extra_config(extra or {})}
        if host:
            props['runtime.host'] = vsphere_ops.moref('HostSystem', host)
        return self.vc.add(props, value=value)

    def backing_disk(self, ref):
        return specs.disks(vsphere_ops.devices_of(
            self.vc.vms[vsphere_ops.moref_value(ref)]))[0]

    # Inspection --------------------------------------------------------

    def arg(self, method, name, cls=vsphere_ops.VolumeOps, owner=None,
            call=None):
        """Argument ``name`` of the last (or given) call of ``method``."""
        owner = owner or self.ops
        call = call or getattr(owner, method).call_args
        self.assertIsNotNone(call, '%s was not called' % method)
        bound = inspect.signature(getattr(cls, method)).bind(
            None, *call.args, **call.kwargs)
        return bound.arguments[name]

    def op_names(self):
        """Names of the ops called, without the halves of task calls."""
        return [c[0] for c in self.ops.mock_calls if c[0] not in PLUMBING]

    def assertRef(self, type_name, value, ref):
        self.assertEqual((type_name, value), tuple(inventory.from_suds(ref)))

    def assertNoChange(self):
        """No call that changes anything on vCenter."""
        for name in ('ensure_folder', 'create_backing', 'reconfigure',
                     'set_extra_config', 'destroy', 'create_snapshot',
                     'remove_snapshot', 'revert_to_snapshot', 'clone',
                     'relocate'):
            getattr(self.ops, name).assert_not_called()

    @staticmethod
    def entries(spec):
        """extraConfig of a config spec as a dict."""
        return {o.key: o.value for o in spec.extraConfig}


class LookupTest(DriverTestBase):

    def test_hint_of_a_gone_vm_is_resolved_again(self):
        vol = plain_objects.volume()
        gone = vsphere_ops.moref('VirtualMachine', 'vm-gone')
        self.driver._remember(vol.id, gone)
        ref = self.add_backing(vol)
        self.assertIs(ref, self.driver._backing(vol.id)[0])
        self.ops.find_all_by_instance_uuid.assert_called_once_with(vol.id)

    def test_hint_now_naming_another_vm_is_not_trusted(self):
        vol, other = plain_objects.volume(), plain_objects.volume()
        self.driver._remember(vol.id, self.add_backing(other))
        ref = self.add_backing(vol)
        self.assertIs(ref, self.driver._backing(vol.id)[0])

    def test_other_faults_of_the_hint_are_raised(self):
        vol = plain_objects.volume()
        self.driver._remember(vol.id, self.add_backing(vol))
        self.ops.properties.side_effect = failure('RetrievePropertiesEx')
        self.assertRaises(exceptions.VCenterFault, self.driver._backing,
                          vol.id)
        self.ops.find_all_by_instance_uuid.assert_not_called()


class CreateVolumeTest(DriverTestBase):

    def test_invalid_size_raises_before_any_call(self):
        for size in (0, -1, 1.5, '1', True, None):
            vol = plain_objects.volume(size=size)
            self.assertRaises(exceptions.InvalidVolume,
                              self.driver.create_volume, vol)
        self.assertEqual([], self.ops.mock_calls)
        self.assertEqual([], self.placement.mock_calls)

    def test_invalid_extra_spec_raises_before_any_call(self):
        for key, value in (('vmware:vmdk_type', 'sparse'),
                           ('vmware:adapter_type', 'scsi'),
                           ('vmware:clone_type', 'instant')):
            vol = plain_objects.volume(specs={key: value})
            err = self.assertRaises(exceptions.InvalidExtraSpec,
                                    self.driver.create_volume, vol)
            self.assertIn(key, str(err))
        self.assertEqual([], self.ops.mock_calls)
        self.assertEqual([], self.placement.mock_calls)

    def test_existing_backing_of_same_size_is_success(self):
        vol = plain_objects.volume(size=2)
        self.add_backing(vol)
        self.assertIsNone(self.driver.create_volume(vol))
        self.assertNoChange()
        self.placement.choose.assert_not_called()

    def test_existing_vm_not_managed_by_us_is_refused(self):
        vol = plain_objects.volume(size=2)
        self.add_backing(vol, managed=False)
        err = self.assertRaises(exceptions.InvalidVolume,
                                self.driver.create_volume, vol)
        self.assertIn('volume-%s' % vol.id, str(err))
        self.assertNoChange()
        self.placement.choose.assert_not_called()

    def test_existing_backing_of_another_volume_id_is_refused(self):
        vol = plain_objects.volume(size=2)
        self.add_backing(vol, extra={specs.KEY_VOLUME_ID: 'other'})
        self.assertRaises(exceptions.InvalidVolume,
                          self.driver.create_volume, vol)
        self.assertNoChange()

    def test_existing_backing_of_another_size_is_refused(self):
        vol = plain_objects.volume(size=2)
        self.add_backing(vol, size_gb=1)
        err = self.assertRaises(exceptions.InvalidVolume,
                                self.driver.create_volume, vol)
        self.assertIn(str(GIB_KB), str(err))
        self.assertNoChange()
        self.placement.choose.assert_not_called()

    def test_failed_create_destroys_the_leftover(self):
        vol = plain_objects.volume()
        leftover = []

        def create_backing(folder, pool, host, spec, target):
            leftover.append(self.add_backing(vol))
            raise failure('CreateVM_Task')

        self.ops.create_backing.side_effect = create_backing
        err = self.assertRaises(exceptions.VCenterFault,
                                self.driver.create_volume, vol)
        self.assertEqual('CreateVM_Task', err.kwargs['action'])
        self.ops.destroy.assert_called_once_with(leftover[0], mock.ANY)
        self.assertEqual([mock.call(vol.id)] * 2,
                         self.ops.find_all_by_instance_uuid.call_args_list)
        # The failed task is read once more; the leftover is checked to be
        # this volume's backing before it is destroyed.
        self.assertEqual(['find_all_by_instance_uuid', 'ensure_folder',
                          'create_backing', 'find_all_by_instance_uuid',
                          'properties', 'destroy'], self.op_names())
        self.assertNotIn(vol.id, self.driver._hints)

    def test_failed_create_without_leftover_destroys_nothing(self):
        vol = plain_objects.volume()
        self.ops.create_backing.side_effect = failure('CreateVM_Task')
        self.assertRaises(exceptions.VCenterFault,
                          self.driver.create_volume, vol)
        self.ops.destroy.assert_not_called()

    def test_failed_cleanup_keeps_the_original_error(self):
        vol = plain_objects.volume()

        def create_backing(folder, pool, host, spec, target):
            self.add_backing(vol)
            raise exceptions.TaskTimeout(task='task-1', name='CreateVM_Task',
                                         target=target, timeout=1,
                                         state='running')

        self.ops.create_backing.side_effect = create_backing
        self.ops.destroy.side_effect = failure('Destroy_Task')
        self.assertRaises(exceptions.TaskTimeout,
                          self.driver.create_volume, vol)

    def test_removed_volume_folder_is_made_again_once(self):
        vol = plain_objects.volume()
        new_folder = vsphere_ops.moref('Folder', 'group-v101')
        self.ops.ensure_folder.side_effect = [self.folder, new_folder]
        gone = exceptions.VCenterFault(fault='ManagedObjectNotFound',
                                       action='CreateVM_Task', target='x',
                                       detail='folder')
        new_ref = vsphere_ops.moref('VirtualMachine', 'vm-new')
        # vCenter refuses the call itself: nothing was started.
        self.ops.start_create_backing.side_effect = [
            gone, FakeTask(result=new_ref)]
        self.driver.create_volume(vol)
        self.assertRef('Folder', 'group-v3',
                       self.arg('forget_folder', 'root_folder'))
        self.assertEqual('OpenStack/Volumes',
                         self.arg('forget_folder', 'path'))
        first, second = self.ops.start_create_backing.call_args_list
        self.assertIs(self.folder, self.arg('start_create_backing', 'folder',
                                            call=first))
        self.assertIs(new_folder, self.arg('start_create_backing', 'folder',
                                           call=second))
        self.assertEqual(['find_all_by_instance_uuid', 'ensure_folder',
                          'forget_folder', 'ensure_folder'], self.op_names())
        self.assertIs(new_ref, self.driver._hints[vol.id])

    def test_folder_is_made_again_only_once(self):
        vol = plain_objects.volume()
        gone = exceptions.VCenterFault(fault='ManagedObjectNotFound',
                                       action='CreateVM_Task', target='x',
                                       detail='folder')
        self.ops.create_backing.side_effect = gone
        self.assertRaises(exceptions.VCenterFault,
                          self.driver.create_volume, vol)
        self.assertEqual(2, self.ops.create_backing.call_count)
        self.ops.forget_folder.assert_called_once()

    def test_other_faults_do_not_make_the_folder_again(self):
        self.ops.create_backing.side_effect = failure('CreateVM_Task')
        self.assertRaises(exceptions.VCenterFault,
                          self.driver.create_volume, plain_objects.volume())
        self.ops.create_backing.assert_called_once()
        self.ops.forget_folder.assert_not_called()

    def test_config_spec_follows_the_volume_and_placement(self):
        vol = plain_objects.volume(
            size=3, name='db/data%1', host='cinder@vmware#dc-2:ds-new',
            specs={'vmware:vmdk_type': 'eagerZeroedThick',
                   'vmware:adapter_type': 'paraVirtual'})
        new_ref = vsphere_ops.moref('VirtualMachine', 'vm-new')
        self.ops.create_backing.return_value = new_ref
        self.driver.create_volume(vol)

        self.placement.choose.assert_called_once_with(
            3, 'eagerZeroedThick', pool_name='dc-2:ds-new',
            target='volume %s' % vol.id)
        self.assertRef('Folder', 'group-v3',
                       self.arg('ensure_folder', 'root_folder'))
        self.assertEqual('OpenStack/Volumes',
                         self.arg('ensure_folder', 'path'))
        self.assertIs(self.folder, self.arg('create_backing', 'folder'))
        self.assertRef('ResourcePool', 'resgroup-9',
                       self.arg('create_backing', 'resource_pool'))
        self.assertRef('HostSystem', 'host-9',
                       self.arg('create_backing', 'host'))
        spec = self.arg('create_backing', 'config_spec')
        self.assertEqual('VirtualMachineConfigSpec', type(spec).__name__)
        self.assertEqual('db%2fdata%251', spec.name)
        self.assertEqual(vol.id, spec.instanceUuid)
        self.assertEqual('[ds-new]', spec.files.vmPathName)
        controller, disk = spec.deviceChange
        self.assertEqual('ParaVirtualSCSIController',
                         type(controller.device).__name__)
        self.assertEqual(3 * GIB_KB, disk.device.capacityInKB)
        self.assertEqual('[ds-new]', disk.device.backing.fileName)
        self.assertFalse(disk.device.backing.thinProvisioned)
        self.assertTrue(disk.device.backing.eagerlyScrub)
        self.assertEqual(vol.id,
                         self.entries(spec)[specs.KEY_VOLUME_ID])
        self.assertIs(new_ref, self.driver._hints[vol.id])

    def test_defaults_from_options_and_no_pool(self):
        self.driver.options = dict(self.driver.options,
                                   vcenter_default_disk_type='thick',
                                   vcenter_default_adapter_type='busLogic',
                                   vcenter_volume_folder='A/B')
        vol = plain_objects.volume(host='cinder@vmware')
        self.driver.create_volume(vol)
        self.placement.choose.assert_called_once_with(
            1, 'thick', pool_name=None, target='volume %s' % vol.id)
        self.assertEqual('A/B', self.arg('ensure_folder', 'path'))
        spec = self.arg('create_backing', 'config_spec')
        controller, disk = spec.deviceChange
        self.assertEqual('VirtualBusLogicController',
                         type(controller.device).__name__)
        self.assertFalse(disk.device.backing.thinProvisioned)
        self.assertFalse(disk.device.backing.eagerlyScrub)
        self.assertEqual('volume-%s' % vol.id, spec.name)

    def test_no_datastore_creates_nothing(self):
        self.placement.choose.side_effect = exceptions.NoValidDatastore(
            size_gb=1, disk_type='thin', volume='v', reasons='full')
        self.assertRaises(exceptions.NoValidDatastore,
                          self.driver.create_volume, plain_objects.volume())
        self.assertNoChange()


class DeleteVolumeTest(DriverTestBase):

    def setUp(self):
        super().setUp()
        self.src = plain_objects.volume(size=2)
        self.clone = plain_objects.volume(size=2)
        self.marker = specs.KEY_CLONE_PREFIX + self.clone.id

    def add_source(self, snap_name, **kw):
        return self.add_backing(self.src, extra={self.marker: snap_name},
                                snapshots=[snap_name, 'snapshot-other'],
                                **kw)

    def add_clone(self, parent):
        return self.add_backing(self.clone, parent_disk='[ds1] src.vmdk',
                                extra={specs.KEY_PARENT: parent})

    def test_no_backing_is_already_deleted(self):
        self.driver.delete_volume(self.src)
        self.assertNoChange()

    def test_attached_volume_is_busy(self):
        self.add_backing(self.src)
        for status in ('in-use', 'attaching', 'detaching'):
            self.src.status = status
            self.assertRaises(exceptions.VolumeIsBusy,
                              self.driver.delete_volume, self.src)
        self.assertNoChange()

    def test_plain_volume_is_destroyed(self):
        ref = self.add_backing(self.src)
        self.driver.delete_volume(self.src)
        self.ops.destroy.assert_called_once_with(ref, mock.ANY)
        self.ops.set_extra_config.assert_not_called()
        self.assertNotIn(self.src.id, self.driver._hints)

    def test_live_linked_clone_makes_source_busy(self):
        self.add_source('snapshot-1')
        self.add_clone('%s:snapshot-1' % self.src.id)
        err = self.assertRaises(exceptions.VolumeIsBusy,
                                self.driver.delete_volume, self.src)
        self.assertIn(self.clone.id, str(err))
        self.assertNoChange()

    def test_marker_of_a_missing_clone_is_removed(self):
        ref = self.add_source('snapshot-1')
        self.driver.delete_volume(self.src)
        self.ops.set_extra_config.assert_called_once_with(
            ref, cleared(self.clone.id), mock.ANY)
        self.ops.destroy.assert_called_once_with(ref, mock.ANY)
        names = self.op_names()
        self.assertLess(names.index('set_extra_config'),
                        names.index('destroy'))

    def test_marker_of_a_clone_of_another_volume_is_removed(self):
        ref = self.add_source('snapshot-1')
        self.add_clone('%s:snapshot-1' % plain_objects.volume().id)
        self.driver.delete_volume(self.src)
        self.ops.set_extra_config.assert_called_once_with(
            ref, cleared(self.clone.id), mock.ANY)
        self.ops.destroy.assert_called_once_with(ref, mock.ANY)

    def test_marker_of_a_clone_of_another_snapshot_is_removed(self):
        ref = self.add_source('snapshot-1')
        self.add_clone('%s:snapshot-other' % self.src.id)
        self.driver.delete_volume(self.src)
        self.ops.set_extra_config.assert_called_once_with(
            ref, cleared(self.clone.id), mock.ANY)
        self.ops.destroy.assert_called_once_with(ref, mock.ANY)

    def test_stale_markers_are_removed_even_when_busy(self):
        stale = specs.KEY_CLONE_PREFIX + GONE_ID
        ref = self.add_backing(self.src, snapshots=['snapshot-1'], extra={
            self.marker: 'snapshot-1', stale: 'snapshot-1'})
        self.add_clone('%s:snapshot-1' % self.src.id)
        self.assertRaises(exceptions.VolumeIsBusy,
                          self.driver.delete_volume, self.src)
        self.ops.set_extra_config.assert_called_once_with(
            ref, cleared(GONE_ID), mock.ANY)
        self.ops.destroy.assert_not_called()

    def test_marker_of_a_clone_being_created_keeps_the_source(self):
        # Set moments ago: another process is about to start the clone.
        since = specs.KEY_CLONE_SINCE_PREFIX + self.clone.id
        self.add_backing(self.src, snapshots=['snapshot-1'], extra={
            self.marker: 'snapshot-1', since: str(NOW - 10)})
        err = self.assertRaises(exceptions.VolumeIsBusy,
                                self.driver.delete_volume, self.src)
        self.assertIn(self.clone.id, str(err))
        self.assertNoChange()

    def test_expired_marker_of_a_missing_clone_is_removed(self):
        since = specs.KEY_CLONE_SINCE_PREFIX + self.clone.id
        timeout = conf.option_defaults()['vcenter_task_timeout']
        ref = self.add_backing(self.src, snapshots=['snapshot-1'], extra={
            self.marker: 'snapshot-1',
            since: str(int(NOW - 2 * timeout - 61))})
        self.driver.delete_volume(self.src)
        self.ops.set_extra_config.assert_called_once_with(
            ref, cleared(self.clone.id), mock.ANY)
        self.ops.destroy.assert_called_once_with(ref, mock.ANY)

    def test_removed_markers_are_ignored(self):
        self.add_backing(self.src, extra={self.marker: ''})
        self.driver.delete_volume(self.src)
        self.ops.set_extra_config.assert_not_called()
        self.ops.destroy.assert_called_once()

    def test_deleting_a_linked_clone_releases_its_temporary_snapshot(self):
        snap_name = driver_mod.CLONE_SNAPSHOT_PREFIX + self.clone.id
        src_ref = self.add_source(snap_name)
        clone_ref = self.add_clone('%s:%s' % (self.src.id, snap_name))
        self.driver.delete_volume(self.clone)
        self.ops.destroy.assert_called_once_with(clone_ref, mock.ANY)
        self.ops.set_extra_config.assert_called_once_with(
            src_ref, cleared(self.clone.id), mock.ANY)
        self.ops.remove_snapshot.assert_called_once_with(
            self.snaps[snap_name], mock.ANY)
        # Destroyed first (after the attachment check), released after:
        # the temporary snapshot before the marker that protects it.
        self.assertEqual(['find_all_by_instance_uuid', 'properties',
                          'attachment_marks', 'destroy',
                          'find_all_by_instance_uuid', 'properties',
                          'remove_snapshot', 'set_extra_config'],
                         self.op_names())

    def test_deleting_a_linked_clone_keeps_a_cinder_snapshot(self):
        src_ref = self.add_source('snapshot-1')
        self.add_clone('%s:snapshot-1' % self.src.id)
        self.driver.delete_volume(self.clone)
        self.ops.destroy.assert_called_once()
        self.ops.set_extra_config.assert_called_once_with(
            src_ref, cleared(self.clone.id), mock.ANY)
        self.ops.remove_snapshot.assert_not_called()

    def test_deleting_a_clone_whose_source_is_gone(self):
        clone_ref = self.add_clone('%s:clone-x' % self.src.id)
        self.driver.delete_volume(self.clone)
        self.ops.destroy.assert_called_once_with(clone_ref, mock.ANY)
        self.ops.set_extra_config.assert_not_called()
        self.ops.remove_snapshot.assert_not_called()

    def test_failed_release_fails_the_delete_and_the_retry_releases(self):
        src_ref = self.add_source('snapshot-1')
        self.add_clone('%s:snapshot-1' % self.src.id)
        self.ops.set_extra_config.side_effect = failure('ReconfigVM_Task')
        self.assertRaises(exceptions.VCenterFault, self.driver.delete_volume,
                          self.clone)
        self.ops.destroy.assert_called_once()
        self.assertIn('releasing its source', self.log.output)
        # The retry finds no backing and releases the source.
        self.ops.set_extra_config.side_effect = None
        self.driver.delete_volume(self.clone)
        self.ops.set_extra_config.assert_called_with(
            src_ref, specs.clear_marker_entries(self.clone.id), mock.ANY)
        self.ops.destroy.assert_called_once()


class DeleteVolumePlainListTest(DeleteVolumeTest):
    wrap_arrays = False


class ExtendVolumeTest(DriverTestBase):

    def setUp(self):
        super().setUp()
        self.vol = plain_objects.volume(size=2)

    def test_shrink_is_refused(self):
        self.add_backing(self.vol)
        err = self.assertRaises(exceptions.InvalidVolume,
                                self.driver.extend_volume, self.vol, 1)
        self.assertIn('cannot shrink', str(err))
        self.assertNoChange()

    def test_extend_to_the_current_size_is_success(self):
        # A retry after a lost answer or a late task error finds the disk
        # grown already (even with snapshots taken since).
        self.add_backing(self.vol, size_gb=3, snapshots=['snapshot-1'])
        self.assertIsNone(self.driver.extend_volume(self.vol, 3))
        self.assertNoChange()

    def test_invalid_new_size_is_refused_before_any_call(self):
        for size in (0, 2.5, '3'):
            self.assertRaises(exceptions.InvalidVolume,
                              self.driver.extend_volume, self.vol, size)
        self.assertEqual([], self.ops.mock_calls)

    def test_volume_with_snapshots_is_refused(self):
        self.add_backing(self.vol, snapshots=['snapshot-1'])
        err = self.assertRaises(exceptions.InvalidVolume,
                                self.driver.extend_volume, self.vol, 3)
        self.assertIn('snapshots', str(err))
        self.assertNoChange()

    def test_linked_clone_child_disk_is_refused(self):
        self.add_backing(self.vol, parent_disk='[ds1] src/src.vmdk')
        err = self.assertRaises(exceptions.InvalidVolume,
                                self.driver.extend_volume, self.vol, 3)
        self.assertIn('linked clone', str(err))
        self.assertNoChange()

    def test_attached_volume_is_refused(self):
        self.add_backing(self.vol)
        self.vol.status = 'in-use'
        self.assertRaises(exceptions.VolumeIsBusy,
                          self.driver.extend_volume, self.vol, 3)
        self.assertNoChange()

    def test_missing_backing(self):
        self.assertRaises(exceptions.BackingNotFound,
                          self.driver.extend_volume, self.vol, 3)

    def test_grows_the_disk(self):
        ref = self.add_backing(self.vol)
        disk_key = self.backing_disk(ref).key
        self.driver.extend_volume(self.vol, 5)
        self.ops.reconfigure.assert_called_once_with(
            ref, mock.ANY, 'volume %s' % self.vol.id)
        spec = self.arg('reconfigure', 'spec')
        (change,) = spec.deviceChange
        self.assertEqual('edit', change.operation)
        self.assertEqual(disk_key, change.device.key)
        self.assertEqual(5 * GIB_KB, change.device.capacityInKB)


class SnapshotTest(DriverTestBase):

    def setUp(self):
        super().setUp()
        self.vol = plain_objects.volume(size=2)
        self.snap = plain_objects.snapshot(self.vol)

    def test_create_of_attached_volume_is_refused(self):
        self.add_backing(self.vol)
        self.vol.status = 'in-use'
        self.assertRaises(exceptions.SnapshotIsBusy,
                          self.driver.create_snapshot, self.snap)
        self.assertNoChange()

    def test_create_existing_snapshot_is_success(self):
        self.add_backing(self.vol, snapshots=[
            ('snapshot-0', ['snapshot-1', self.snap.name])])
        self.assertIsNone(self.driver.create_snapshot(self.snap))
        self.assertNoChange()

    def test_create(self):
        ref = self.add_backing(self.vol, snapshots=['snapshot-0'])
        self.driver.create_snapshot(self.snap)
        self.ops.create_snapshot.assert_called_once_with(
            ref, self.snap.name, mock.ANY, mock.ANY)

    def test_create_without_backing(self):
        self.assertRaises(exceptions.BackingNotFound,
                          self.driver.create_snapshot, self.snap)

    def test_delete_missing_snapshot_is_success(self):
        self.add_backing(self.vol, snapshots=['snapshot-0'])
        self.driver.delete_snapshot(self.snap)
        self.assertNoChange()

    def test_delete_without_backing_is_success(self):
        self.driver.delete_snapshot(self.snap)
        self.assertNoChange()

    def test_delete_with_live_dependent_is_busy(self):
        clone = plain_objects.volume(size=2)
        self.add_backing(self.vol, snapshots=[self.snap.name], extra={
            specs.KEY_CLONE_PREFIX + clone.id: self.snap.name})
        self.add_backing(clone, extra={
            specs.KEY_PARENT: '%s:%s' % (self.vol.id, self.snap.name)})
        err = self.assertRaises(exceptions.SnapshotIsBusy,
                                self.driver.delete_snapshot, self.snap)
        self.assertIn(clone.id, str(err))
        self.assertNoChange()

    def test_delete_with_clone_of_another_snapshot(self):
        clone = plain_objects.volume(size=2)
        self.add_backing(self.vol, snapshots=['snapshot-0', self.snap.name],
                         extra={specs.KEY_CLONE_PREFIX + clone.id:
                                'snapshot-0'})
        self.add_backing(clone, extra={
            specs.KEY_PARENT: '%s:snapshot-0' % self.vol.id})
        self.driver.delete_snapshot(self.snap)
        assert_ref_call(self, self.ops.remove_snapshot,
                        self.snaps[self.snap.name], mock.ANY)
        self.ops.set_extra_config.assert_not_called()

    def test_delete_with_stale_dependent(self):
        marker = specs.KEY_CLONE_PREFIX + GONE_ID
        ref = self.add_backing(self.vol, snapshots=[self.snap.name],
                               extra={marker: self.snap.name})
        self.driver.delete_snapshot(self.snap)
        self.ops.set_extra_config.assert_called_once_with(
            ref, cleared(GONE_ID), mock.ANY)
        assert_ref_call(self, self.ops.remove_snapshot,
                        self.snaps[self.snap.name], mock.ANY)


class RevertTest(DriverTestBase):

    def setUp(self):
        super().setUp()
        self.vol = plain_objects.volume(size=2)
        self.snap = plain_objects.snapshot(self.vol)

    def test_revert(self):
        self.add_backing(self.vol, snapshots=['snapshot-0', self.snap.name])
        self.driver.revert_to_snapshot(None, self.vol, self.snap)
        self.ops.revert_to_snapshot.assert_called_once_with(
            self.snaps[self.snap.name], mock.ANY)

    def test_attached_volume_is_refused(self):
        self.add_backing(self.vol, snapshots=[self.snap.name])
        self.vol.status = 'in-use'
        self.assertRaises(exceptions.VolumeIsBusy,
                          self.driver.revert_to_snapshot, None, self.vol,
                          self.snap)
        self.assertNoChange()

    def test_missing_snapshot_is_refused(self):
        self.add_backing(self.vol, snapshots=['snapshot-0'])
        self.assertRaises(exceptions.InvalidSnapshot,
                          self.driver.revert_to_snapshot, None, self.vol,
                          self.snap)
        self.assertNoChange()


class CloneTestBase(DriverTestBase):

    def setUp(self):
        super().setUp()
        self.src = plain_objects.volume(size=2)
        self.other_marker = specs.KEY_CLONE_PREFIX + 'other-clone'
        self.src_snap = plain_objects.snapshot(self.src)
        self.src_ref = self.add_backing(
            self.src, snapshots=[self.src_snap.name],
            extra={self.other_marker: self.src_snap.name,
                   specs.KEY_PARENT: 'grand-parent:snapshot-g'})
        self.src_props = self.vc.vms[vsphere_ops.moref_value(self.src_ref)]
        self.clones = []
        self.ops.clone.side_effect = self._clone
        self.temp_snap = vsphere_ops.moref('VirtualMachineSnapshot',
                                           'snapshot-temp')
        self.ops.create_snapshot.return_value = self.temp_snap

    def _clone(self, vm, folder, name, spec, target):
        """vCenter's clone: the source's disk size, the spec's identity."""
        ref = self.add_backing(spec.config.instanceUuid, size_gb=2)
        self.clones.append(ref)
        return ref

    def volume(self, size=2, clone_type='linked', host=None):
        return plain_objects.volume(
            size=size, host=host, specs={'vmware:clone_type': clone_type})

    def spec(self):
        return self.arg('clone', 'spec')

    def assertFullClone(self, vol, size_gb):
        self.placement.choose.assert_called_once_with(
            size_gb, 'thin', pool_name='dc-2:ds-new',
            target='volume %s' % vol.id)
        spec = self.spec()
        self.assertEqual('VirtualMachineCloneSpec', type(spec).__name__)
        self.assertEqual(specs.FULL_MOVE_TYPE, spec.location.diskMoveType)
        self.assertRef('Datastore', 'datastore-9', spec.location.datastore)
        self.assertRef('HostSystem', 'host-9', spec.location.host)
        self.assertRef('ResourcePool', 'resgroup-9', spec.location.pool)
        self.assertIs(self.folder, self.arg('clone', 'folder'))
        self.assertIs(self.src_ref, self.arg('clone', 'vm'))
        self.assertEqual(vol.id, spec.config.instanceUuid)
        self.assertEqual('volume-%s' % vol.id, spec.config.name)
        self.assertEqual('volume-%s' % vol.id, self.arg('clone', 'name'))
        entries = self.entries(spec.config)
        self.assertEqual('', entries[specs.KEY_PARENT])
        self.assertEqual('', entries[self.other_marker])
        self.assertEqual(vol.id, entries[specs.KEY_VOLUME_ID])
        self.ops.set_extra_config.assert_not_called()

    def assertLinkedClone(self, vol, snap_name):
        self.placement.choose.assert_not_called()
        self.ops.ensure_folder.assert_not_called()
        spec = self.spec()
        self.assertEqual(specs.LINKED_MOVE_TYPE,
                         spec.location.diskMoveType)
        self.assertIs(vsphere_ops.ref_list(self.src_props['datastore'])[0],
                      spec.location.datastore)
        self.assertIs(self.src_props['resourcePool'], spec.location.pool)
        self.assertIs(self.src_props['parent'], self.arg('clone', 'folder'))
        self.assertIs(self.src_ref, self.arg('clone', 'vm'))
        self.assertEqual(vol.id, spec.config.instanceUuid)
        entries = self.entries(spec.config)
        self.assertEqual('%s:%s' % (self.src.id, snap_name),
                         entries[specs.KEY_PARENT])
        self.assertEqual('', entries[self.other_marker])
        self.assertEqual('', entries[specs.KEY_CLONE_PREFIX + vol.id])
        self.assertEqual(vol.id, entries[specs.KEY_VOLUME_ID])
        self.ops.set_extra_config.assert_called_once_with(
            self.src_ref, marked(vol.id, snap_name),
            mock.ANY)
        names = self.op_names()
        self.assertLess(names.index('set_extra_config'),
                        names.index('clone'))
        self.ops.reconfigure.assert_not_called()


class CloneFromSnapshotTest(CloneTestBase):

    def test_linked_larger_is_a_grown_full_clone(self):
        vol = self.volume(size=3, host='c@b#dc-2:ds-new')
        self.driver.create_volume_from_snapshot(vol, self.src_snap)
        self.assertFullClone(vol, 3)
        self.assertIs(self.snaps[self.src_snap.name], self.spec().snapshot)
        self.assertEqual(['clone', 'properties', 'reconfigure'],
                         self.op_names()[-3:])
        clone_ref = self.clones[0]
        self.ops.reconfigure.assert_called_once_with(
            clone_ref, mock.ANY, 'volume %s' % vol.id)
        (change,) = self.arg('reconfigure', 'spec').deviceChange
        self.assertEqual('edit', change.operation)
        self.assertEqual(3 * GIB_KB, change.device.capacityInKB)
        self.assertIs(clone_ref, self.driver._hints[vol.id])

    def test_full_same_size_is_not_grown(self):
        vol = self.volume(clone_type='full', host='c@b#dc-2:ds-new')
        self.driver.create_volume_from_snapshot(vol, self.src_snap)
        self.assertFullClone(vol, 2)
        self.assertIs(self.snaps[self.src_snap.name], self.spec().snapshot)
        self.ops.reconfigure.assert_not_called()

    def test_linked_same_size_is_a_child_disk_next_to_the_source(self):
        vol = self.volume()
        self.driver.create_volume_from_snapshot(vol, self.src_snap)
        self.assertLinkedClone(vol, self.src_snap.name)
        self.assertIs(self.snaps[self.src_snap.name], self.spec().snapshot)

    def test_failed_linked_clone_removes_the_marker_and_leftover(self):
        vol = self.volume()
        leftover = []

        def clone(vm, folder, name, spec, target):
            leftover.append(self._clone(vm, folder, name, spec, target))
            raise failure('CloneVM_Task')

        self.ops.clone.side_effect = clone
        self.assertRaises(exceptions.VCenterFault,
                          self.driver.create_volume_from_snapshot, vol,
                          self.src_snap)
        self.assertEqual(
            [mock.call(self.src_ref,
                       marked(vol.id, self.src_snap.name),
                       mock.ANY),
             mock.call(self.src_ref, cleared(vol.id),
                       mock.ANY)],
            self.ops.set_extra_config.call_args_list)
        self.ops.destroy.assert_called_once_with(leftover[0], mock.ANY)
        names = self.op_names()
        # The leftover is checked to be the clone's before it goes; the
        # marker goes once vCenter shows no clone; the Cinder snapshot the
        # clone read from stays.
        self.assertEqual(['clone', 'find_all_by_instance_uuid', 'properties',
                          'destroy', 'find_all_by_instance_uuid',
                          'set_extra_config'],
                         names[names.index('clone'):])
        self.ops.remove_snapshot.assert_not_called()

    def test_failed_grow_destroys_the_clone(self):
        vol = self.volume(size=3)
        self.ops.reconfigure.side_effect = failure('ReconfigVM_Task')
        self.assertRaises(exceptions.VCenterFault,
                          self.driver.create_volume_from_snapshot, vol,
                          self.src_snap)
        self.ops.destroy.assert_called_once_with(self.clones[0], mock.ANY)
        self.ops.set_extra_config.assert_not_called()

    def test_missing_snapshot_is_refused(self):
        other = plain_objects.snapshot(self.src)
        self.assertRaises(exceptions.InvalidSnapshot,
                          self.driver.create_volume_from_snapshot,
                          self.volume(), other)
        self.assertNoChange()

    def test_smaller_than_snapshot_is_refused(self):
        self.assertRaises(exceptions.InvalidVolume,
                          self.driver.create_volume_from_snapshot,
                          self.volume(size=1), self.src_snap)
        self.assertEqual([], self.ops.mock_calls)


class CloneVolumeTest(CloneTestBase):

    def test_linked_uses_a_temporary_snapshot(self):
        vol = self.volume()
        self.driver.create_cloned_volume(vol, self.src)
        snap_name = driver_mod.CLONE_SNAPSHOT_PREFIX + vol.id
        self.ops.create_snapshot.assert_called_once_with(
            self.src_ref, snap_name, mock.ANY, mock.ANY)
        self.assertLinkedClone(vol, snap_name)
        self.assertIs(self.temp_snap, self.spec().snapshot)
        self.ops.remove_snapshot.assert_not_called()

    def test_failed_linked_clone_removes_the_temporary_snapshot(self):
        vol = self.volume()
        self.ops.clone.side_effect = failure('CloneVM_Task')
        self.assertRaises(exceptions.VCenterFault,
                          self.driver.create_cloned_volume, vol, self.src)
        self.ops.remove_snapshot.assert_called_once_with(self.temp_snap,
                                                         mock.ANY)
        self.ops.set_extra_config.assert_called_with(
            self.src_ref, cleared(vol.id), mock.ANY)
        # The marker protects the snapshot until the snapshot is gone.
        self.assertEqual(['remove_snapshot', 'set_extra_config'],
                         self.op_names()[-2:])

    def test_marker_comes_before_the_temporary_snapshot(self):
        vol = self.volume()
        self.driver.create_cloned_volume(vol, self.src)
        names = self.op_names()
        self.assertLess(names.index('set_extra_config'),
                        names.index('create_snapshot'))

    def test_failed_marker_takes_no_snapshot(self):
        vol = self.volume()
        self.ops.set_extra_config.side_effect = failure('ReconfigVM_Task')
        self.assertRaises(exceptions.VCenterFault,
                          self.driver.create_cloned_volume, vol, self.src)
        self.ops.create_snapshot.assert_not_called()
        self.ops.clone.assert_not_called()
        self.ops.remove_snapshot.assert_not_called()

    def test_failed_temporary_snapshot_clears_the_marker(self):
        vol = self.volume()
        self.ops.create_snapshot.side_effect = failure('CreateSnapshot_Task')
        self.assertRaises(exceptions.VCenterFault,
                          self.driver.create_cloned_volume, vol, self.src)
        self.ops.clone.assert_not_called()
        self.ops.set_extra_config.assert_called_with(
            self.src_ref, cleared(vol.id), mock.ANY)

    def test_linked_clone_of_attached_source_is_refused(self):
        self.src.status = 'in-use'
        self.assertRaises(exceptions.VolumeIsBusy,
                          self.driver.create_cloned_volume, self.volume(),
                          self.src)
        self.assertNoChange()

    def test_full_clone_copies_the_current_state(self):
        vol = self.volume(clone_type='full', host='c@b#dc-2:ds-new')
        self.driver.create_cloned_volume(vol, self.src)
        self.ops.create_snapshot.assert_not_called()
        self.assertFullClone(vol, 2)
        self.assertIsNone(getattr(self.spec(), 'snapshot', None))
        self.ops.reconfigure.assert_not_called()

    def test_linked_larger_is_a_grown_full_clone_without_snapshot(self):
        vol = self.volume(size=4, host='c@b#dc-2:ds-new')
        self.driver.create_cloned_volume(vol, self.src)
        self.ops.create_snapshot.assert_not_called()
        self.assertFullClone(vol, 4)
        self.assertIsNone(getattr(self.spec(), 'snapshot', None))
        self.ops.reconfigure.assert_called_once_with(
            self.clones[0], mock.ANY, mock.ANY)

    def test_smaller_than_source_is_refused(self):
        self.assertRaises(exceptions.InvalidVolume,
                          self.driver.create_cloned_volume,
                          self.volume(size=1), self.src)
        self.assertEqual([], self.ops.mock_calls)

    def test_missing_source(self):
        self.assertRaises(exceptions.BackingNotFound,
                          self.driver.create_cloned_volume, self.volume(),
                          plain_objects.volume(size=2))
        self.assertNoChange()


class ConnectionTest(DriverTestBase):

    def setUp(self):
        super().setUp()
        self.vol = plain_objects.volume(size=2)

    def connect(self, extra=None, ds=SOURCE_DS, visible=('datastore-7',),
                connector=None):
        self.ref = self.add_backing(self.vol, extra=extra, ds=ds)
        self.add_instance(host='host-3')
        self.placement.datastores_for_host.return_value = [
            pool(value) for value in visible]
        if connector is None:
            connector = {'instance': 'vm-inst', 'host': 'compute-1'}
        return self.driver.initialize_connection(self.vol, connector)

    def test_data_names_the_backing_and_no_credentials(self):
        info = self.connect(connector={})
        self.assertEqual('vmdk', info['driver_volume_type'])
        data = info['data']
        self.assertEqual(vsphere_ops.moref_value(self.ref), data['volume'])
        self.assertEqual(self.vol.id, data['volume_id'])
        self.assertEqual(self.vol.name, data['name'])
        for key in data:
            for word in ('pass', 'user', 'secret', 'token', 'cookie',
                         'vcenter', 'host'):
                self.assertNotIn(word, key.lower())
        self.assertNotIn(SECRET, repr(info))
        self.assertNotIn(USER, repr(info))

    def test_connector_without_instance_does_not_relocate(self):
        self.add_backing(self.vol)
        self.add_instance(host='host-3')
        for connector in ({}, None, {'host': 'compute-1'}):
            self.driver.initialize_connection(self.vol, connector)
        read = [vsphere_ops.moref_value(c.args[0])
                for c in self.ops.properties.call_args_list]
        self.assertNotIn('vm-inst', read)
        self.placement.datastores_for_host.assert_not_called()
        self.placement.choose.assert_not_called()
        self.assertNoChange()

    def test_instance_whose_host_sees_the_datastore(self):
        self.connect(visible=('datastore-7', SOURCE_DS))
        self.assertEqual(
            R('HostSystem', 'host-3'),
            inventory.from_suds(self.arg(
                'datastores_for_host', 'host',
                cls=placement_mod.PlacementService, owner=self.placement)))
        self.placement.choose.assert_not_called()
        self.assertNoChange()

    def test_instance_whose_host_does_not_see_it_moves_the_volume(self):
        info = self.connect()
        self.placement.choose.assert_called_once_with(
            2, 'thin', target='volume %s' % self.vol.id,
            host=R('HostSystem', 'host-3'))
        self.ops.relocate.assert_called_once_with(self.ref, mock.ANY,
                                                  mock.ANY)
        spec = self.arg('relocate', 'spec')
        self.assertEqual('VirtualMachineRelocateSpec', type(spec).__name__)
        self.assertRef('Datastore', 'datastore-9', spec.datastore)
        self.assertRef('HostSystem', 'host-9', spec.host)
        self.assertRef('ResourcePool', 'resgroup-9', spec.pool)
        self.placement.invalidate.assert_called_once_with()
        self.assertEqual(vsphere_ops.moref_value(self.ref),
                         info['data']['volume'])

    def test_instance_without_host_does_not_relocate(self):
        self.add_backing(self.vol)
        self.add_instance(host=None)
        self.driver.initialize_connection(self.vol, {'instance': 'vm-inst'})
        self.placement.datastores_for_host.assert_not_called()
        self.assertNoChange()

    def test_linked_clone_on_an_invisible_datastore_is_refused(self):
        err = self.assertRaises(
            exceptions.VolumeAttachmentError, self.connect,
            extra={specs.KEY_PARENT: 'src:snapshot-1'})
        self.assertIn('vm-inst', str(err))
        self.placement.choose.assert_not_called()
        self.assertNoChange()

    def test_linked_clone_source_on_an_invisible_datastore_is_refused(self):
        self.assertRaises(
            exceptions.VolumeAttachmentError, self.connect,
            extra={specs.KEY_CLONE_PREFIX + 'c1': 'snapshot-1'})
        self.placement.choose.assert_not_called()
        self.assertNoChange()

    def test_linked_clone_on_a_visible_datastore_is_fine(self):
        self.connect(extra={specs.KEY_PARENT: 'src:snapshot-1'},
                     visible=(SOURCE_DS,))
        self.assertNoChange()

    def test_missing_backing(self):
        self.assertRaises(exceptions.BackingNotFound,
                          self.driver.initialize_connection, self.vol, {})

    def test_reads_only_the_datastore_unless_it_moves(self):
        self.connect(visible=('datastore-7', SOURCE_DS))
        self.assertEqual(
            [(vsphere_ops.moref_value(self.ref),
              ('datastore', 'config.instanceUuid')),
             ('vm-inst', ('runtime.host',))],
            [(vsphere_ops.moref_value(c.args[0]), tuple(c.args[1]))
             for c in self.ops.properties.call_args_list])

    def test_a_move_reads_the_markers_and_disk_first(self):
        self.connect()
        self.assertEqual(
            [(vsphere_ops.moref_value(self.ref),
              ('datastore', 'config.instanceUuid')),
             ('vm-inst', ('runtime.host',)),
             (vsphere_ops.moref_value(self.ref),
              ('name', 'config.hardware.device', 'config.extraConfig',
               'snapshot', 'datastore', 'runtime.host', 'resourcePool',
               'parent', 'config.instanceUuid'))],
            [(vsphere_ops.moref_value(c.args[0]), tuple(c.args[1]))
             for c in self.ops.properties.call_args_list])

    def test_terminate_changes_nothing(self):
        self.assertIsNone(self.driver.terminate_connection(
            self.vol, {'instance': 'vm-inst'}))
        self.assertEqual([], self.ops.mock_calls)


class ConnectionPlainListTest(ConnectionTest):
    wrap_arrays = False


class InstanceTestBase(DriverTestBase):

    def setUp(self):
        super().setUp()
        self.vol = plain_objects.volume(size=2)
        self.ref = self.add_backing(self.vol)
        self.vdisk = self.backing_disk(self.ref)
        self.file_name = self.vdisk.backing.fileName

    def scsi_instance(self, units=(0,), type_name='VirtualLsiLogicController',
                      extra=None, disk_file='[ds1] inst/inst.vmdk'):
        devices = [self.controller(type_name, key=1000, bus=0)]
        devices += [self.disk(file_name='%s-%d' % (disk_file, u),
                              uuid='inst-%d' % u, key=3000 + u, unit=u)
                    for u in units]
        return devices


class AttachTest(InstanceTestBase):

    def test_already_attached_file_is_success(self):
        devices = self.scsi_instance()
        devices.append(self.disk(file_name=self.file_name, uuid=None,
                                 key=3100, unit=1))
        self.add_instance(devices)
        self.driver.attach_volume('vm-inst', self.vol)
        self.ops.reconfigure.assert_not_called()

    def test_already_attached_by_mark_is_success(self):
        devices = self.scsi_instance()
        devices.append(self.disk(file_name='[ds2] moved.vmdk',
                                 uuid=self.vdisk.backing.uuid, key=3100,
                                 unit=1))
        self.add_instance(devices, extra={
            specs.ATTACH_KEY_PREFIX + self.vol.id: self.vdisk.backing.uuid})
        self.driver.attach_volume('vm-inst', self.vol)
        self.ops.reconfigure.assert_not_called()

    def test_slot_skips_the_controller_unit(self):
        inst = self.add_instance(self.scsi_instance(units=range(7)))
        self.driver.attach_volume(inst, self.vol)
        self.ops.reconfigure.assert_called_once_with(inst, mock.ANY,
                                                     mock.ANY)
        spec = self.arg('reconfigure', 'spec')
        (change,) = spec.deviceChange
        self.assertEqual('add', change.operation)
        self.assertIsNone(getattr(change, 'fileOperation', None))
        self.assertEqual(1000, change.device.controllerKey)
        self.assertEqual(8, change.device.unitNumber)
        self.assertEqual(self.file_name, change.device.backing.fileName)
        self.assertEqual(self.vdisk.backing.uuid, change.device.backing.uuid)
        self.assertEqual('independent_persistent',
                         change.device.backing.diskMode)
        self.assertEqual(
            {specs.ATTACH_KEY_PREFIX + self.vol.id:
             self.vdisk.backing.uuid}, self.entries(spec))

    def test_instance_ref_by_value(self):
        self.add_instance(self.scsi_instance(units=(0, 1)))
        self.driver.attach_volume('vm-inst', self.vol)
        inst = self.arg('reconfigure', 'vm')
        self.assertRef('VirtualMachine', 'vm-inst', inst)
        self.assertEqual(2,
                         self.arg('reconfigure', 'spec').deviceChange[0]
                         .device.unitNumber)

    def test_new_controller_when_none_of_the_adapter_type(self):
        self.vol.volume_type.extra_specs['vmware:adapter_type'] = \
            'paraVirtual'
        self.add_instance(self.scsi_instance())
        self.driver.attach_volume('vm-inst', self.vol)
        controller, disk = self.arg('reconfigure', 'spec').deviceChange
        self.assertEqual('add', controller.operation)
        self.assertEqual('ParaVirtualSCSIController',
                         type(controller.device).__name__)
        self.assertEqual(1, controller.device.busNumber)
        self.assertLess(controller.device.key, 0)
        self.assertEqual(controller.device.key, disk.device.controllerKey)
        self.assertEqual(0, disk.device.unitNumber)

    def test_new_controller_on_an_instance_without_one(self):
        self.add_instance([])
        self.driver.attach_volume('vm-inst', self.vol)
        controller, disk = self.arg('reconfigure', 'spec').deviceChange
        self.assertEqual('VirtualLsiLogicController',
                         type(controller.device).__name__)
        self.assertEqual(0, controller.device.busNumber)
        self.assertEqual(controller.device.key, disk.device.controllerKey)

    def test_no_free_slot_is_an_error(self):
        self.vol.volume_type.extra_specs['vmware:adapter_type'] = 'ide'
        ide = self.controller('VirtualIDEController', key=200, bus=0)
        devices = [ide] + [self.disk(file_name='[ds1] i-%d' % u,
                                     key=3000 + u, controller_key=200,
                                     unit=u) for u in range(2)]
        self.add_instance(devices)
        self.assertRaises(exceptions.VolumeAttachmentError,
                          self.driver.attach_volume, 'vm-inst', self.vol)
        self.ops.reconfigure.assert_not_called()

    def test_missing_backing(self):
        self.add_instance(self.scsi_instance())
        self.assertRaises(exceptions.BackingNotFound,
                          self.driver.attach_volume, 'vm-inst',
                          plain_objects.volume())
        self.ops.reconfigure.assert_not_called()


class DetachTest(InstanceTestBase):

    def test_not_attached_is_success(self):
        self.add_instance(self.scsi_instance(units=(0, 1)))
        self.driver.detach_volume('vm-inst', self.vol)
        self.ops.reconfigure.assert_not_called()

    def test_detach_removes_the_disk_keeping_the_file(self):
        attached = self.disk(file_name=self.file_name, uuid=None, key=3100,
                             unit=1)
        inst = self.add_instance(self.scsi_instance() + [attached])
        self.driver.detach_volume(inst, self.vol)
        self.ops.reconfigure.assert_called_once_with(inst, mock.ANY,
                                                     mock.ANY)
        spec = self.arg('reconfigure', 'spec')
        (change,) = spec.deviceChange
        self.assertEqual('remove', change.operation)
        self.assertIsNone(getattr(change, 'fileOperation', None))
        self.assertIs(attached, change.device)
        self.assertEqual({specs.ATTACH_KEY_PREFIX + self.vol.id: ''},
                         self.entries(spec))

    def test_detach_by_mark_without_backing(self):
        attached = self.disk(file_name='[ds1] x.vmdk', uuid='u-77',
                             key=3100, unit=1)
        self.add_instance(self.scsi_instance() + [attached], extra={
            specs.ATTACH_KEY_PREFIX + self.vol.id: 'u-77'})
        self.vc.remove(self.ref)
        self.driver.detach_volume('vm-inst', self.vol)
        (change,) = self.arg('reconfigure', 'spec').deviceChange
        self.assertIs(attached, change.device)

    def test_detach_by_file_name_mark_without_backing(self):
        # A disk without uuid is recorded by its file name.
        attached = self.disk(file_name='[ds1] y.vmdk', uuid=None,
                             key=3100, unit=1)
        self.add_instance(self.scsi_instance() + [attached], extra={
            specs.ATTACH_KEY_PREFIX + self.vol.id: '[ds1] y.vmdk'})
        self.vc.remove(self.ref)
        self.driver.detach_volume('vm-inst', self.vol)
        (change,) = self.arg('reconfigure', 'spec').deviceChange
        self.assertIs(attached, change.device)


class CloneTargetExistsTest(CloneTestBase):
    """A retried clone finds the backing of its earlier attempt."""

    def test_cloned_volume_already_there_is_success(self):
        vol = self.volume(clone_type='full')
        self.add_backing(vol, size_gb=2)
        self.driver.create_cloned_volume(vol, self.src)
        self.assertNoChange()

    def test_volume_from_snapshot_already_there_is_success(self):
        vol = self.volume(clone_type='full')
        self.add_backing(vol, size_gb=2)
        self.driver.create_volume_from_snapshot(vol, self.src_snap)
        self.assertNoChange()

    def test_existing_backing_of_another_size_is_refused_untouched(self):
        vol = self.volume(clone_type='full')
        self.add_backing(vol, size_gb=5)
        self.assertRaises(exceptions.InvalidVolume,
                          self.driver.create_cloned_volume, vol, self.src)
        self.assertNoChange()


class LinkedCloneDiskSizeTest(CloneTestBase):

    def test_linked_decision_follows_the_disk_not_cinder(self):
        # Cinder says the source has 3 GiB, its disk has 2: a 3 GiB linked
        # clone cannot read from that disk, so no temporary snapshot is
        # taken and a full clone is made (nothing left behind).
        src = types.SimpleNamespace(**dict(vars(self.src), size=3))
        vol = self.volume(size=3, host='c@b#dc-2:ds-new')
        self.driver.create_cloned_volume(vol, src)
        self.ops.create_snapshot.assert_not_called()
        self.assertFullClone(vol, 3)


class CloneTimeoutTest(CloneTestBase):
    """A clone task past its deadline may still finish in vCenter."""

    def _timeout(self, *args, **kwargs):
        raise exceptions.TaskTimeout(task='task-1', name='CloneVM_Task',
                                     target='t', timeout=1, state='running')

    def test_linked_clone_timeout_keeps_marker_and_snapshot(self):
        vol = self.volume()
        self.ops.clone.side_effect = self._timeout
        self.assertRaises(exceptions.TaskTimeout,
                          self.driver.create_cloned_volume, vol, self.src)
        self.ops.remove_snapshot.assert_not_called()
        self.ops.set_extra_config.assert_called_once_with(
            self.src_ref, marked(vol.id, 'clone-' + vol.id),
            mock.ANY)

    def test_linked_clone_from_snapshot_timeout_keeps_marker(self):
        vol = self.volume()
        self.ops.clone.side_effect = self._timeout
        self.assertRaises(exceptions.TaskTimeout,
                          self.driver.create_volume_from_snapshot, vol,
                          self.src_snap)
        self.ops.set_extra_config.assert_called_once_with(
            self.src_ref, marked(vol.id, self.src_snap.name),
            mock.ANY)


class RetypeReadsTest(DriverTestBase):
    """What a retype reads of the backing."""

    def test_no_move_reads_the_disk_only(self):
        vol = plain_objects.volume(size=1, specs={'vmware:vmdk_type': 'thin'})
        ref = self.add_backing(vol)
        new_type = {'extra_specs': {'vmware:vmdk_type': 'thin',
                                    'vmware:clone_type': 'linked'}}
        self.assertTrue(self.driver.retype(None, vol, new_type, {}, None))
        self.assertEqual(
            [(vsphere_ops.moref_value(ref),
              ('config.hardware.device', 'config.instanceUuid'))],
            [(vsphere_ops.moref_value(c.args[0]), tuple(c.args[1]))
             for c in self.ops.properties.call_args_list])
        self.ops.reconfigure.assert_not_called()
        self.ops.relocate.assert_not_called()

    def test_no_move_reads_plain_values_first(self):
        vol = plain_objects.volume(size=1, specs={'vmware:vmdk_type': 'thin'})
        ref = self.add_backing(vol)
        paths = ('config.hardware.device', 'config.instanceUuid')
        # Nothing to change: the plain read alone.
        self.assertTrue(self.driver.retype(None, vol, {'extra_specs': {
            'vmware:vmdk_type': 'thin'}}, {}, None))
        self.assertEqual(
            [((ref, paths), {'raw': True})],
            [(c.args[:1] + (tuple(c.args[1]),), c.kwargs)
             for c in self.ops.properties.call_args_list])
        self.ops.reconfigure.assert_not_called()
        # An allocation to change: the disk is read again through suds and
        # the edit built from it.
        self.ops.properties.reset_mock()
        self.assertTrue(self.driver.retype(None, vol, {'extra_specs': {
            'vmware:vmdk_type': 'thin', 'vmware:iops_limit': '300'}}, {},
            None))
        self.assertEqual(
            [((ref, paths), {'raw': True}), ((ref, paths), {})],
            [(c.args[:1] + (tuple(c.args[1]),), c.kwargs)
             for c in self.ops.properties.call_args_list])
        [change] = self.ops.reconfigure.call_args.args[1].deviceChange
        self.assertEqual(300, change.device.storageIOAllocation.limit)

    def test_missing_backing_is_still_an_error(self):
        vol = plain_objects.volume(size=1)
        self.assertRaises(exceptions.BackingNotFound, self.driver.retype,
                          None, vol, {'extra_specs': {}}, {}, None)
