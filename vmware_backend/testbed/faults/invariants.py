"""What the simulator holds, read without the driver, against the model.

:func:`read_vms` reads every VM (``config.instanceUuid``, extraConfig,
disks, snapshot tree) through a ContainerView and RetrievePropertiesEx over
its own session, straight to the simulator; :func:`check` compares that with
the campaign's model of Cinder's database.
"""

import collections

from oslo_vmware import vim_util

from vmware_backend.testbed.faults import model as model_mod

KEY_VOLUME_ID = 'vmware_backend.volume_id'
KEY_CLONE_PREFIX = 'vmware_backend.clone.'
# The marks an import writes and unmanage removes.
MARK_KEYS = ('vmware_backend.managed', KEY_VOLUME_ID,
             'vmware_backend.created', 'vmware_backend.imported_from')
CLONE_SNAPSHOT_PREFIX = 'clone-'
VM_PATHS = ['name', 'config.instanceUuid', 'config.extraConfig',
            'config.hardware.device', 'snapshot', 'parent']
# Each invariant: its name in the report and what it counts.
INVARIANTS = (
    ('leaked backings', 'backing of a volume deleted or unknown'),
    ('duplicate backings', 'extra VMs for one volume id'),
    ('lost volumes', 'available volume without backing'),
    ('size mismatches', 'disk size differs from the model'),
    ('lost snapshots', 'available snapshot missing on its backing'),
    ('leaked snapshots', 'deleted snapshot still on its backing'),
    ('leftover clone snapshots', 'clone-<id> whose clone is gone'),
    ('leftover clone markers', 'vmware_backend.clone.<id>, clone gone'),
    ('tasks left running', 'queued/running tasks of the TaskManager'),
    ('foreign VMs not as left', 'a VM (or vSphere snapshot) not imported, '
                                'or unmanaged, changed, marked, gone or '
                                'doubled; an imported one still there'),
    # Filled by the campaign's data operations (dataops.data_findings).
    ('temporary files left', 'files in vcenter_image_tmp_dir'),
    ('reported done, not done', 'a success whose data is not there'),
)


class VmState:
    """One VM as read from the simulator."""

    def __init__(self, ref, props):
        self.ref = ref
        self.name = props.get('name')
        self.instance_uuid = props.get('config.instanceUuid')
        options = props.get('config.extraConfig')
        options = getattr(options, 'OptionValue', options) or []
        self.extra = {o.key: getattr(o, 'value', None) for o in options}
        devices = props.get('config.hardware.device')
        devices = getattr(devices, 'VirtualDevice', devices) or []
        self.disk_kb = [d.capacityInKB for d in devices
                        if type(d).__name__ == 'VirtualDisk']
        self.snapshots = _snapshot_names(props.get('snapshot'))
        parent = props.get('parent')
        self.folder = vim_util.get_moref_value(parent) if parent else None

    @property
    def volume_id(self):
        return self.extra.get(KEY_VOLUME_ID)

    def markers(self):
        """Clone ids recorded as linked clones of this VM."""
        return [k[len(KEY_CLONE_PREFIX):] for k, v in self.extra.items()
                if k.startswith(KEY_CLONE_PREFIX) and v]


def _snapshot_names(info):
    names = []
    stack = list(getattr(info, 'rootSnapshotList', None) or [])
    while stack:
        tree = stack.pop()
        names.append(tree.name)
        stack.extend(getattr(tree, 'childSnapshotList', None) or [])
    return names


def read_vms(session):
    """Every VM of the simulator as :class:`VmState` (one view, paged)."""
    content = session.service_content
    view = session.invoke('CreateContainerView', content.viewManager,
                          container=content.rootFolder,
                          type=['VirtualMachine'], recursive=True)
    try:
        factory = session.factory
        traversal = factory.create('ns0:TraversalSpec')
        traversal.name, traversal.type = 'view', 'ContainerView'
        traversal.path, traversal.skip = 'view', False
        obj = factory.create('ns0:ObjectSpec')
        obj.obj, obj.skip, obj.selectSet = view, True, [traversal]
        prop = factory.create('ns0:PropertySpec')
        prop.type, prop.all, prop.pathSet = 'VirtualMachine', False, VM_PATHS
        spec = factory.create('ns0:PropertyFilterSpec')
        spec.objectSet, spec.propSet = [obj], [prop]
        options = factory.create('ns0:RetrieveOptions')
        options.maxObjects = 500
        collector = content.propertyCollector
        result = session.invoke('RetrievePropertiesEx', collector,
                                specSet=[spec], options=options)
        vms = []
        while result:
            for item in getattr(result, 'objects', None) or []:
                props = {p.name: p.val for p in
                         getattr(item, 'propSet', None) or []}
                vms.append(VmState(item.obj, props))
            token = getattr(result, 'token', None)
            if not token:
                break
            result = session.invoke('ContinueRetrievePropertiesEx',
                                    collector, token=token)
        return vms
    finally:
        session.invoke('DestroyView', view)


def running_tasks(session):
    """The TaskManager's recent tasks still queued or running."""
    manager = session.service_content.taskManager
    recent = session.get_properties(manager, ['recentTask'])
    refs = getattr(recent.get('recentTask'), 'ManagedObjectReference',
                   None) or []
    found = []
    for ref in refs:
        info = session.get_properties(ref, ['info']).get('info')
        if info is not None and info.state in ('queued', 'running'):
            found.append('%s %s on %s' % (vim_util.get_moref_value(ref),
                                          info.descriptionId,
                                          getattr(info, 'entityName', '?')))
    return found


def check(session, model, tasks=True):
    """Counts (and examples) of every invariant violation.

    :param tasks: also list running tasks (not while a run goes on: a task
        whose answer was lost may still be finishing).

    :returns: dict name -> list of descriptions (empty: holds).
    """
    vms = read_vms(session)
    by_volume = collections.defaultdict(list)
    for vm in vms:
        key = vm.volume_id or (vm.instance_uuid
                               if vm.instance_uuid in model.volumes else None)
        if key:
            by_volume[key].append(vm)
    found = {name: [] for name, _text in INVARIANTS}
    for volume_id, backings in sorted(by_volume.items()):
        record = model.volumes.get(volume_id)
        if record is None or record.status == model_mod.DELETED:
            found['leaked backings'].append(
                '%s (%s)' % (volume_id, record.status if record
                             else 'unknown to the model'))
        if len(backings) > 1:
            found['duplicate backings'].extend(
                '%s: %s' % (volume_id, vm.name) for vm in backings[1:])
    for record in model.volumes_in(model_mod.AVAILABLE):
        backings = by_volume.get(record.id)
        if not backings:
            found['lost volumes'].append(record.id)
            continue
        want = record.size * 1024 * 1024
        if backings[0].disk_kb != [want]:
            found['size mismatches'].append('%s: model %s GiB, disks %s KiB'
                                            % (record.id, record.size,
                                               backings[0].disk_kb))
    _check_snapshots(model, by_volume, found)
    _check_clone_leftovers(vms, by_volume, found)
    _check_foreign(model, vms, found['foreign VMs not as left'])
    _check_foreign_snapshots(model, by_volume,
                             found['foreign VMs not as left'])
    if tasks:
        found['tasks left running'] = running_tasks(session)
    return found


def _check_snapshots(model, by_volume, found):
    for snap in model.snapshots.values():
        backings = by_volume.get(snap.volume_id) or []
        present = any('snapshot-%s' % snap.id in vm.snapshots
                      for vm in backings)
        if snap.status == model_mod.AVAILABLE and not present:
            found['lost snapshots'].append(snap.id)
        if snap.status == model_mod.DELETED and present:
            found['leaked snapshots'].append(snap.id)


def _check_clone_leftovers(vms, by_volume, found):
    for vm in vms:
        for name in vm.snapshots:
            if name.startswith(CLONE_SNAPSHOT_PREFIX) and \
                    not by_volume.get(name[len(CLONE_SNAPSHOT_PREFIX):]):
                found['leftover clone snapshots'].append(
                    '%s on %s' % (name, vm.name))
        for clone_id in vm.markers():
            if not by_volume.get(clone_id):
                found['leftover clone markers'].append(
                    '%s on %s' % (clone_id, vm.name))


def _check_foreign(model, vms, found):
    """Each VM of nobody as the campaign left it (model.ForeignVm)."""
    by_uuid = collections.defaultdict(list)
    for vm in vms:
        by_uuid[vm.instance_uuid].append(vm)
    for foreign in model.foreign.values():
        if foreign.pending:
            continue
        same = by_uuid.get(foreign.uuid, [])
        if foreign.adopted_by:
            if same:
                found.append('%s: imported as %s, still %d VM(s) with its '
                             'instanceUuid' % (foreign.name,
                                               foreign.adopted_by, len(same)))
            continue
        if len(same) != 1:
            found.append('%s: %d VMs with instanceUuid %s'
                         % (foreign.name, len(same), foreign.uuid))
            continue
        vm = same[0]
        wrong = []
        if vm.name != foreign.name:
            wrong.append('named %s' % vm.name)
        if vm.folder != foreign.folder:
            wrong.append('in folder %s, not %s' % (vm.folder, foreign.folder))
        marks = sorted(k for k in MARK_KEYS if vm.extra.get(k))
        if marks:
            wrong.append('marked %s' % ', '.join(marks))
        if vm.disk_kb != foreign.disk_kb:
            wrong.append('disks %s KiB, not %s' % (vm.disk_kb,
                                                   foreign.disk_kb))
        if wrong:
            found.append('%s (%s): %s' % (foreign.name, foreign.uuid,
                                          '; '.join(wrong)))


def _check_foreign_snapshots(model, by_volume, found):
    """Each snapshot made outside Cinder as the campaign left it."""
    for snap in model.foreign_snapshots.values():
        record = model.volumes.get(snap.volume_id)
        if record is None or record.status == model_mod.DELETED:
            continue   # deleted with its volume
        names = [n for vm in by_volume.get(snap.volume_id, [])
                 for n in vm.snapshots]
        want = 0 if snap.adopted_by else 1
        if names.count(snap.name) != want:
            found.append('snapshot %s of %s: %d there, %d expected (%s)'
                         % (snap.name, snap.volume_id, names.count(snap.name),
                            want, 'imported as %s' % snap.adopted_by
                            if snap.adopted_by else 'not imported'))
