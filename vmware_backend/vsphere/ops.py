"""vCenter actions on backings, one method per action.

Each method builds its spec with :mod:`vmware_backend.vsphere.specs`,
invokes the vSphere method through the session and waits for its task.
Look-ups go through the SearchIndex (by instanceUuid, by child name), never
through a scan of the inventory, so their cost does not grow with its size.
"""

import threading
import time

from oslo_log import log as logging
from oslo_vmware import vim_util

from vmware_backend import exceptions
from vmware_backend.vsphere import inventory
from vmware_backend.vsphere import soapxml
from vmware_backend.vsphere import specs

LOG = logging.getLogger(__name__)

BACKING_PROPERTIES = ('name', 'config.hardware.device', 'config.extraConfig',
                      'snapshot', 'datastore', 'runtime.host',
                      'resourcePool', 'parent', 'config.instanceUuid')
# What the steps that check snapshots, linked-clone records and
# attachments need of a backing (create_snapshot, delete_snapshot,
# delete_volume): no device list (kilobytes), host or pool. A look-up adds
# config.instanceUuid and config.extraConfig to any path set.
STATE_PROPERTIES = ('name', 'snapshot', 'datastore')
# create_snapshot: the snapshot tree, no markers; the attachment marks
# of the VMs on its datastores in the same read (read_with_marks).
SNAPSHOT_PROPERTIES = ('snapshot',)
# Where a look-up made with read_with_marks keeps the marks in the
# backing's properties (no vSphere path starts with "@").
MARKS_KEY = '@attachmentMarks'
# extend_volume: the disk, snapshots (refused) and datastores
# (attachment marks); no markers.
EXTEND_PROPERTIES = ('config.hardware.device', 'snapshot', 'datastore')
# delete_snapshot: the snapshot tree (with the markers a look-up adds, for
# the linked clones reading from it).
TREE_PROPERTIES = ('snapshot',)
# A retype that moves nothing: the disk (its I/O allocation) only.
DISK_PROPERTIES = ('config.hardware.device',)
# initialize_connection: is the backing on a datastore the instance's host
# mounts? (The disk and markers are read again only to move it.)
PLACE_PROPERTIES = ('datastore',)
INSTANCE_PROPERTIES = ('name', 'config.hardware.device',
                       'config.extraConfig', 'runtime.host')


def moref(type_name, value):
    """A suds managed object reference."""
    return vim_util.get_moref(value, type_name)


def moref_value(ref):
    return vim_util.get_moref_value(ref)


def is_moref(value):
    """Whether ``value`` is a suds managed object reference."""
    return getattr(value, '_type', None) is not None


def extra_config_dict(props):
    """extraConfig of a property dict as a plain {key: value} dict.

    (Of suds objects, or of plain values read as XML.)
    """
    options = props.get('config.extraConfig')
    options = getattr(options, 'OptionValue', options) or []
    return {_field(o, 'key'): _field(o, 'value') for o in options}


def ref_list(value):
    """A list of morefs from a suds ArrayOfManagedObjectReference."""
    return list(getattr(value, 'ManagedObjectReference', value) or [])


def devices_of(props):
    devices = props.get('config.hardware.device')
    return list(getattr(devices, 'VirtualDevice', devices) or [])


def _field(value, name):
    """A field of a suds object or of a plain dict (:mod:`.rawxml`)."""
    if isinstance(value, dict):
        return value.get(name)
    return getattr(value, name, None)


def snapshot_trees(props):
    """Flattened (tree, depth) list of a VM's snapshot tree.

    The trees are suds objects, or dicts when ``props`` were read as
    plain values.
    """
    roots = _field(props.get('snapshot'), 'rootSnapshotList') or []
    found = []
    stack = [(tree, 0) for tree in reversed(roots)]
    while stack:
        tree, depth = stack.pop()
        found.append((tree, depth))
        children = _field(tree, 'childSnapshotList') or []
        stack.extend((child, depth + 1) for child in reversed(children))
    return found


def tree_name(tree):
    """The name of a snapshot tree (suds object or plain dict)."""
    return _field(tree, 'name')


def tree_snapshot(tree):
    """The (suds) moref of a snapshot tree's snapshot."""
    return inventory.to_suds(_field(tree, 'snapshot'))


def find_snapshot(props, name):
    """(suds) moref of the snapshot called ``name``, or None."""
    for tree, _depth in snapshot_trees(props):
        if tree_name(tree) == name:
            return tree_snapshot(tree)
    return None


class VolumeOps:
    """Calls on vCenter for volume backings."""

    def __init__(self, session):
        self._session = session
        self._folders = {}
        self._folder_lock = threading.Lock()

    # Look-ups ------------------------------------------------------------

    def find_all_by_instance_uuid(self, uuid):
        """Morefs of every VM whose instanceUuid is ``uuid`` (one call).

        vCenter does not forbid two VMs with one instanceUuid.
        """
        found = self._session.invoke(
            'FindAllByUuid', self._session.service_content.searchIndex,
            target='instanceUuid %s' % uuid, uuid=uuid, vmSearch=True,
            instanceUuid=True)
        return list(found or [])

    def find_vm_by_instance_uuid(self, uuid):
        """Moref of the VM whose instanceUuid is ``uuid``, or None.

        When several share it, the first one (with a warning); the volume
        driver resolves such duplicates itself.
        """
        found = self.find_all_by_instance_uuid(uuid)
        if len(found) > 1:
            LOG.warning('%d VMs share instanceUuid %s; using %s.',
                        len(found), uuid, moref_value(found[0]))
        return found[0] if found else None

    def properties(self, vm, paths=BACKING_PROPERTIES, target=None,
                   raw=False):
        """Read ``paths`` of ``vm`` (one call).

        :param raw: plain values parsed from the reply's XML, data objects
            with their ``xsi:type`` (:func:`.inventory.get_properties`),
            instead of suds objects.
        """
        if raw:
            return inventory.get_properties(self._session, vm, paths,
                                            raw=True, target=target)
        return self._session.get_properties(vm, paths, target=target)

    def find_child(self, parent, name):
        """Moref of the child entity ``name`` of folder ``parent``."""
        return self._session.invoke(
            'FindChild', self._session.service_content.searchIndex,
            target='folder %s' % name, entity=parent, name=name)

    def ensure_folder(self, root_folder, path):
        """Moref of folder ``path`` ("a/b") below ``root_folder``.

        Missing levels are created; a DuplicateName from a concurrent
        creator is resolved by looking the folder up again. Results are
        cached per root.
        """
        key = (moref_value(root_folder), path)
        with self._folder_lock:
            if key in self._folders:
                return self._folders[key]
        parent = root_folder
        for name in path.split('/'):
            name = specs.escape_name(name.strip())
            child = self.find_child(parent, name)
            if child is None:
                try:
                    child = self._session.invoke(
                        'CreateFolder', parent, target='folder %s' % name,
                        name=name)
                except exceptions.VCenterFault as err:
                    if err.fault != 'DuplicateName':
                        raise
                    child = self.find_child(parent, name)
                    if child is None:
                        raise
            parent = child
        with self._folder_lock:
            self._folders[key] = parent
        return parent

    def forget_folder(self, root_folder, path):
        with self._folder_lock:
            self._folders.pop((moref_value(root_folder), path), None)

    # Tasks -----------------------------------------------------------------

    def wait_for_task(self, task, target, action):
        """Wait for ``task`` (deadline, cancel); returns its ``info.result``.

        The second half of the ``start_*`` methods below.
        """
        info = self._session.wait_for_task(task, target=target,
                                           action=action)
        return getattr(info, 'result', None)

    def task_info(self, task):
        """The task's ``info`` now (one call)."""
        return self._session.get_properties(task, ['info'])['info']

    def await_task(self, task, timeout):
        """The task's final ``info`` (or the last one read at the timeout).

        None when no read succeeded. For finding out what a task did whose
        caller lost track of it: it never cancels the task (it may be
        another caller's), and a failed read is tried again until the
        timeout.
        """
        deadline = time.monotonic() + timeout
        delay, info = 0.01, None
        while True:
            try:
                info = self.task_info(task)
                if info.state in ('success', 'error'):
                    return info
            except Exception as err:
                LOG.warning('Reading task %s failed (%s); trying again.',
                            moref_value(task), err)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return info
            time.sleep(min(delay, remaining))
            delay = min(delay * 2, 1.0)

    def cancel_task(self, task):
        """``Task.CancelTask`` (vCenter refuses it for some kinds)."""
        self._session.invoke('CancelTask', task,
                             target='task %s' % moref_value(task))

    def recent_tasks(self):
        """(task moref, info) of the TaskManager's ``recentTask`` (2 calls).

        vCenter lists there the tasks that are queued, running or ended
        recently.
        """
        manager = self._session.service_content.taskManager
        refs = ref_list(self.properties(manager, ('recentTask',)).get(
            'recentTask'))
        if not refs:
            return []
        factory = self._session.factory
        spec = specs.create(factory, 'PropertyFilterSpec')
        spec.objectSet = [specs.create(factory, 'ObjectSpec', obj=ref,
                                       skip=False) for ref in refs]
        spec.propSet = [specs.create(factory, 'PropertySpec', type='Task',
                                     all=False, pathSet=['info'])]
        collector = self._session.service_content.propertyCollector
        result = self._session.invoke(
            'RetrievePropertiesEx', collector, target='recent tasks',
            specSet=[spec], options=specs.create(factory, 'RetrieveOptions'))
        found = []
        while result:
            for content in getattr(result, 'objects', None) or []:
                for prop in getattr(content, 'propSet', None) or []:
                    if prop.name == 'info':
                        found.append((content.obj, prop.val))
            token = getattr(result, 'token', None)
            if not token:
                break
            result = self._session.invoke(
                'ContinueRetrievePropertiesEx', collector,
                target='recent tasks', token=token, session_bound=True)
        return found

    # Actions ---------------------------------------------------------------

    def create_backing(self, folder, resource_pool, host, config_spec,
                       target):
        """``Folder.CreateVM_Task``; returns the new VM's moref."""
        return self.wait_for_task(
            self.start_create_backing(folder, resource_pool, host,
                                      config_spec, target),
            target, 'CreateVM_Task')

    def start_create_backing(self, folder, resource_pool, host, config_spec,
                             target):
        """Send ``Folder.CreateVM_Task``; returns the task."""
        return self._session.invoke(
            'CreateVM_Task', folder, target=target, config=config_spec,
            pool=resource_pool, host=host)

    def reconfigure(self, vm, spec, target):
        """``VirtualMachine.ReconfigVM_Task``."""
        self._session.invoke_task('ReconfigVM_Task', vm, target=target,
                                  spec=spec)

    def set_extra_config(self, vm, entries, target):
        """Set (value '') or remove extraConfig entries of ``vm``."""
        self.reconfigure(vm, specs.extra_config_spec(
            self._session.factory, entries), target)

    def destroy(self, vm, target):
        """``Destroy_Task``: removes the VM and its files."""
        self.wait_for_task(self.start_destroy(vm, target), target,
                           'Destroy_Task')

    def start_destroy(self, vm, target):
        """Send ``Destroy_Task``; returns the task."""
        return self._session.invoke('Destroy_Task', vm, target=target)

    def create_snapshot(self, vm, name, description, target):
        """``CreateSnapshot_Task`` without memory or quiescing."""
        return self.wait_for_task(
            self.start_create_snapshot(vm, name, description, target),
            target, 'CreateSnapshot_Task')

    def start_create_snapshot(self, vm, name, description, target):
        """Send ``CreateSnapshot_Task``; returns the task."""
        return self._session.invoke(
            'CreateSnapshot_Task', vm, target=target, name=name,
            description=description, memory=False, quiesce=False)

    def remove_snapshot(self, snapshot, target):
        """``RemoveSnapshot_Task`` keeping child snapshots."""
        self._session.invoke_task('RemoveSnapshot_Task', snapshot,
                                  target=target, removeChildren=False)

    def revert_to_snapshot(self, snapshot, target):
        """``RevertToSnapshot_Task``."""
        self._session.invoke_task('RevertToSnapshot_Task', snapshot,
                                  target=target)

    def clone(self, vm, folder, name, spec, target):
        """``CloneVM_Task``; returns the clone's moref."""
        return self.wait_for_task(
            self.start_clone(vm, folder, name, spec, target), target,
            'CloneVM_Task')

    def start_clone(self, vm, folder, name, spec, target):
        """Send ``CloneVM_Task``; returns the task."""
        return self._session.invoke('CloneVM_Task', vm, target=target,
                                    folder=folder, name=name, spec=spec)

    def relocate(self, vm, spec, target):
        """``RelocateVM_Task``."""
        self._session.invoke_task('RelocateVM_Task', vm, target=target,
                                  spec=spec)

    def move_into_folder(self, folder, vms, target):
        """``Folder.MoveIntoFolder_Task``: move the VMs ``vms`` into it."""
        self._session.invoke_task('MoveIntoFolder_Task', folder,
                                  target=target, list=vms)

    # Attachments -----------------------------------------------------------

    def read_with_marks(self, vm, paths, volume_id, target=None):
        """``paths`` of ``vm`` and the attachment marks, in one call.

        One ``RetrievePropertiesEx`` (written and read as XML) starting at
        ``vm``, traversing its datastores to their VMs (``Datastore.vm``,
        as :meth:`attachment_marks`). The property collector reads the
        same paths of every VM it reports (the union of a type's paths),
        so each VM on those datastores also answers with ``paths``: keep
        them few and small.

        :returns: dict of ``vm``'s plain values (:mod:`.rawxml`, typed),
            with {VM moref value: mark} under :data:`MARKS_KEY`.
        """
        ref = inventory.from_suds(vm)
        mark_path = _mark_path(volume_id)
        spec = soapxml.filter_spec(
            [soapxml.property_spec('VirtualMachine',
                                   list(paths) + [mark_path])],
            [soapxml.object_spec(ref, select=[soapxml.traversal_spec(
                'vmDatastores', 'VirtualMachine', 'datastore', skip=True,
                select=[soapxml.traversal_spec('datastoreVms', 'Datastore',
                                               'vm')])])])
        props, marks = {}, {}
        for obj, values in inventory.retrieve_raw(
                self._session, spec, target or '%s:%s' % ref, typed=True):
            mark = values.pop(mark_path, None)
            mark = mark.get('value') if isinstance(mark, dict) else None
            if mark:
                marks[obj.value] = mark
            if obj == ref:
                props = values
        props[MARKS_KEY] = marks
        return props

    def attachment_marks(self, datastores, volume_id):
        """{VM moref value: mark} of VMs marking ``volume_id`` attached.

        Reads, in one ``RetrievePropertiesEx``, the VMs of ``datastores``
        (``Datastore.vm``: every VM with a file there, attached disks
        included) and of each only the keyed path
        ``config.extraConfig["volume-<id>"]``, the mark Nova's vmwareapi
        driver and :meth:`~vmware_backend.volume.connections.
        ConnectionMixin.attach_volume` write on attach and blank on detach.
        The answer holds one small object per VM on the datastores (those
        without the mark carry no property), in one round trip.
        """
        path = _mark_path(volume_id)
        found = inventory.read_through(self._session, datastores, 'vm',
                                       {'VirtualMachine': [path]}, raw=True)
        marks = {}
        for ref, props in found:
            option = props.get(path)
            mark = option.get('value') if isinstance(option, dict) else None
            if mark:
                marks[ref.value] = mark
        return marks


def _mark_path(volume_id):
    """The keyed path of ``volume_id``'s attachment mark on a VM."""
    return 'config.extraConfig["%s%s"]' % (specs.ATTACH_KEY_PREFIX,
                                           volume_id)
