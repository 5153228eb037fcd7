"""Pure builders of vSphere data objects.

Every function takes plain values and a suds client factory
(``session.factory``) and returns vSphere data objects: config specs, device
specs, relocate and clone specs. Nothing here talks to vCenter, so all of it
is tested without a server, against the real WSDL types.
"""

import time

from vmware_backend import conf

# Keys of the extraConfig entries this backend writes on backings.
KEY_MANAGED = 'vmware_backend.managed'
KEY_VOLUME_ID = 'vmware_backend.volume_id'
# On a linked clone: "<source volume id>:<snapshot name>" it depends on.
KEY_PARENT = 'vmware_backend.parent'
# On a source backing, one entry per linked clone depending on one of its
# snapshots: key prefix + clone volume id -> snapshot name.
KEY_CLONE_PREFIX = 'vmware_backend.clone.'
# Beside each clone marker: when it was set (seconds since the epoch), so
# a marker whose clone is still being created is told from a stale one.
KEY_CLONE_SINCE_PREFIX = 'vmware_backend.clone_since.'
# On a backing: when it was created (seconds since the epoch).
KEY_CREATED = 'vmware_backend.created'
# On a backing: the backend that owns it, see backend_id().
KEY_BACKEND = 'vmware_backend.backend'
# On a backing "audit --fix" moved to quarantine: when (epoch seconds).
KEY_QUARANTINED = 'vmware_backend.quarantined'
# On an instance VM: "volume-<id>" -> the attached disk's backing uuid, the
# same convention Nova's vmwareapi driver uses.
ATTACH_KEY_PREFIX = 'volume-'

BACKING_GUEST_ID = 'otherGuest'
CONTROLLER_UNIT = 7          # a SCSI controller's own unit number
SCSI_UNITS = 16
IDE_UNITS = 2
DEFAULT_IDE_CONTROLLER_KEY = 200

DISK_MODE_BACKING = 'persistent'
# VirtualDiskFlatVer2BackingInfo.sharing (vSphere 6.0+): a multi-attach
# volume's disk is opened by several VMs at once (multi-writer).
SHARING_NONE = 'sharingNone'
SHARING_MULTI_WRITER = 'sharingMultiWriter'
DISK_MODE_ATTACHED = 'independent_persistent'

LINKED_MOVE_TYPE = 'createNewChildDiskBacking'
FULL_MOVE_TYPE = 'moveAllDiskBackingsAndDisallowSharing'

_CONTROLLER_TYPES = {
    'lsiLogic': 'VirtualLsiLogicController',
    'busLogic': 'VirtualBusLogicController',
    'lsiLogicsas': 'VirtualLsiLogicSASController',
    'paraVirtual': 'ParaVirtualSCSIController',
    'ide': 'VirtualIDEController',
}
CONTROLLER_ADAPTER = {v: k for k, v in _CONTROLLER_TYPES.items()}

# vSphere escapes these in inventory names; we keep them out of names.
_ESCAPED_CHARS = {'%': '%25', '/': '%2f', '\\': '%5c'}


def create(factory, type_name, **attrs):
    """Create a vSphere data object of ``type_name`` with ``attrs`` set."""
    obj = factory.create('ns0:%s' % type_name)
    for key, value in attrs.items():
        setattr(obj, key, value)
    return obj


def escape_name(name):
    """Escape the characters vSphere escapes in inventory names."""
    return ''.join(_ESCAPED_CHARS.get(ch, ch) for ch in name)


def backing_name(volume_name):
    """Name of the backing VM of a volume called ``volume_name``."""
    return escape_name(volume_name)


def gib_to_kib(size_gb):
    return int(size_gb) * 1024 * 1024


def option_value(factory, key, value):
    return create(factory, 'OptionValue', key=key, value=value)


def extra_config(factory, entries):
    """OptionValues for ``entries``; a value of '' removes the key."""
    return [option_value(factory, key, value)
            for key, value in sorted(entries.items())]


def backend_id(backend_name, volume_folder):
    """What identifies a backend on a vCenter: ``<name>@<volume folder>``.

    The backend's name (``vcenter_backend_name``; inside Cinder its
    ``volume_backend_name``) and its ``vcenter_volume_folder``: two
    backends sharing a vCenter differ in at least one of them, while the
    cinder-volume services of one backend (active-active) share both.
    """
    return '%s@%s' % (backend_name, volume_folder)


def backing_extra_config(volume_id, parent=None, created=None, owner=None):
    """The extraConfig entries every backing of ``volume_id`` carries.

    :param created: creation time, seconds since the epoch (default: now).
    :param owner: the owning backend's :func:`backend_id`.
    """
    entries = {KEY_MANAGED: 'true', KEY_VOLUME_ID: volume_id,
               KEY_CREATED: str(int(time.time() if created is None
                                    else created))}
    if parent:
        entries[KEY_PARENT] = parent
    if owner:
        entries[KEY_BACKEND] = owner
    return entries


def clone_markers(extra):
    """The linked-clone markers (non-empty) among extraConfig entries."""
    return {key: value for key, value in extra.items()
            if key.startswith(KEY_CLONE_PREFIX) and value}


def marker_entries(clone_id, snapshot_name, now=None):
    """extraConfig entries recording that ``clone_id`` reads a snapshot."""
    return {KEY_CLONE_PREFIX + clone_id: snapshot_name,
            KEY_CLONE_SINCE_PREFIX + clone_id: str(int(
                time.time() if now is None else now))}


def clear_marker_entries(clone_id):
    """extraConfig entries removing the marker of ``clone_id``."""
    return {KEY_CLONE_PREFIX + clone_id: '',
            KEY_CLONE_SINCE_PREFIX + clone_id: ''}


def marker_since(extra, clone_id):
    """When the marker of ``clone_id`` was set, or None when unknown."""
    try:
        return int(extra.get(KEY_CLONE_SINCE_PREFIX + clone_id))
    except (TypeError, ValueError):
        return None


def inherited_markers(extra):
    """Entries blanking dependency records a clone copied from its source.

    vCenter copies the source's extraConfig into a clone.
    """
    entries = {key: '' for key in extra
               if key.startswith((KEY_CLONE_PREFIX, KEY_CLONE_SINCE_PREFIX))}
    entries[KEY_PARENT] = ''
    if extra.get(KEY_QUARANTINED):
        entries[KEY_QUARANTINED] = ''
    return entries


def controller_spec(factory, adapter_type, key, bus_number=0):
    """A device spec adding a disk controller of ``adapter_type``."""
    controller = create(factory, _CONTROLLER_TYPES[adapter_type], key=key,
                        busNumber=bus_number)
    if adapter_type != 'ide':
        controller.sharedBus = 'noSharing'
    return create(factory, 'VirtualDeviceConfigSpec', operation='add',
                  device=controller)


def _flat_backing(factory, file_name, disk_type, disk_mode):
    backing = create(factory, 'VirtualDiskFlatVer2BackingInfo',
                     fileName=file_name, diskMode=disk_mode)
    if disk_type is not None:
        backing.thinProvisioned = disk_type == 'thin'
        backing.eagerlyScrub = disk_type == 'eagerZeroedThick'
    return backing


def sharing(multiattach):
    """The disk backing's ``sharing`` value for a (non) multi-attach disk."""
    return SHARING_MULTI_WRITER if multiattach else SHARING_NONE


def sharing_of(disk):
    """A disk's ``sharing`` (unset, as before vSphere 6.0: none)."""
    return getattr(disk.backing, 'sharing', None) or SHARING_NONE


def new_disk_spec(factory, size_kb, disk_type, controller_key, unit_number,
                  datastore_name, key=-100, multiattach=False):
    """A device spec creating a new disk file of ``size_kb``.

    ``multiattach``: with the multi-writer sharing flag (the disk type
    must then be eagerZeroedThick, see :mod:`vmware_backend.volume.
    volume_types`).
    """
    backing = _flat_backing(factory, '[%s]' % datastore_name, disk_type,
                            DISK_MODE_BACKING)
    if multiattach:
        backing.sharing = SHARING_MULTI_WRITER
    disk = create(factory, 'VirtualDisk', key=key,
                  controllerKey=controller_key, unitNumber=unit_number,
                  capacityInKB=size_kb, backing=backing)
    return create(factory, 'VirtualDeviceConfigSpec', operation='add',
                  fileOperation='create', device=disk)


def backing_config_spec(factory, name, volume_id, size_gb, disk_type,
                        adapter_type, datastore_name, memory_mb,
                        extra_entries=None, owner=None, multiattach=False):
    """Config spec of a new backing VM holding one disk of ``size_gb``.

    The backing has minimal hardware (otherGuest, 1 vCPU, no NIC), its
    ``instanceUuid`` is the volume id and its extraConfig marks it as
    managed by this backend (``owner``: the backend's :func:`backend_id`).
    """
    if disk_type not in conf.DISK_TYPES:
        raise ValueError('disk type %r not in %s' % (disk_type,
                                                     conf.DISK_TYPES))
    changes = []
    if adapter_type == 'ide':
        controller_key = DEFAULT_IDE_CONTROLLER_KEY
    else:
        controller_key = -101
        changes.append(controller_spec(factory, adapter_type,
                                       controller_key))
    changes.append(new_disk_spec(factory, gib_to_kib(size_gb), disk_type,
                                 controller_key, 0, datastore_name,
                                 multiattach=multiattach))
    entries = backing_extra_config(volume_id, owner=owner)
    entries.update(extra_entries or {})
    return create(
        factory, 'VirtualMachineConfigSpec', name=name,
        guestId=BACKING_GUEST_ID, numCPUs=1, memoryMB=memory_mb,
        instanceUuid=volume_id,
        annotation='Backing of volume %s, managed by vmware_backend; do '
                   'not edit.' % volume_id,
        files=create(factory, 'VirtualMachineFileInfo',
                     vmPathName='[%s]' % datastore_name),
        deviceChange=changes,
        extraConfig=extra_config(factory, entries))


def extra_config_spec(factory, entries):
    """Reconfigure spec that only sets (or, with '', removes) extraConfig."""
    return create(factory, 'VirtualMachineConfigSpec',
                  extraConfig=extra_config(factory, entries))


def extend_disk_spec(factory, disk, new_size_gb):
    """Reconfigure spec growing ``disk`` (a VirtualDisk) to the new size."""
    disk.capacityInKB = gib_to_kib(new_size_gb)
    if hasattr(disk, 'capacityInBytes'):
        disk.capacityInBytes = gib_to_kib(new_size_gb) * 1024
    change = create(factory, 'VirtualDeviceConfigSpec', operation='edit',
                    device=disk)
    return create(factory, 'VirtualMachineConfigSpec', deviceChange=[change])


def disk_sharing_spec(factory, disk, sharing_value):
    """Reconfigure spec setting the ``sharing`` of ``disk``'s backing."""
    disk.backing.sharing = sharing_value
    change = create(factory, 'VirtualDeviceConfigSpec', operation='edit',
                    device=disk)
    return create(factory, 'VirtualMachineConfigSpec', deviceChange=[change])


def disk_locator(factory, disk_key, datastore, disk_type):
    """Where and in which format a relocated or cloned disk is written."""
    return create(factory, 'VirtualMachineRelocateSpecDiskLocator',
                  diskId=disk_key, datastore=datastore,
                  diskBackingInfo=_flat_backing(factory, '', disk_type,
                                                DISK_MODE_BACKING))


def relocate_spec(factory, datastore, host=None, resource_pool=None,
                  disk_move_type=None, disks=None):
    """A VirtualMachineRelocateSpec onto ``datastore`` (suds morefs).

    :param disks: disk locators (see :func:`disk_locator`) converting the
        disks' format on the way.
    """
    spec = create(factory, 'VirtualMachineRelocateSpec', datastore=datastore)
    if disks:
        spec.disk = disks
    if host is not None:
        spec.host = host
    if resource_pool is not None:
        spec.pool = resource_pool
    if disk_move_type:
        spec.diskMoveType = disk_move_type
    return spec


def clone_spec(factory, name, volume_id, location, snapshot=None,
               extra_entries=None, owner=None):
    """Clone spec giving the clone its own name, instanceUuid, extraConfig.

    :param location: a relocate spec (see :func:`relocate_spec`), whose
        ``diskMoveType`` decides between a linked and a full clone.
    :param snapshot: moref of the snapshot to clone from, or None for the
        current state.
    :param owner: the owning backend's :func:`backend_id` (it replaces the
        one vCenter copies from the source).
    """
    entries = backing_extra_config(volume_id, owner=owner)
    entries.update(extra_entries or {})
    config = create(factory, 'VirtualMachineConfigSpec', name=name,
                    instanceUuid=volume_id,
                    extraConfig=extra_config(factory, entries))
    spec = create(factory, 'VirtualMachineCloneSpec', location=location,
                  powerOn=False, template=False, config=config)
    if snapshot is not None:
        spec.snapshot = snapshot
    return spec


def attach_disk_spec(factory, file_name, controller_key, unit_number,
                     volume_id, disk_uuid=None, new_controller=None,
                     multiattach=False):
    """Reconfigure spec attaching an existing vmdk file to an instance VM.

    No file operation: the disk is the volume's own file. The disk mode is
    independent-persistent so instance snapshots leave the volume alone.
    ``new_controller`` is a controller spec to add in the same reconfigure.
    ``multiattach``: the instance opens the disk with the multi-writer
    flag too (every VM sharing the file must).
    """
    disk = create(factory, 'VirtualDisk', key=-100,
                  controllerKey=controller_key, unitNumber=unit_number,
                  backing=_flat_backing(factory, file_name, None,
                                        DISK_MODE_ATTACHED))
    if multiattach:
        disk.backing.sharing = SHARING_MULTI_WRITER
    if disk_uuid:
        disk.backing.uuid = disk_uuid
    changes = [create(factory, 'VirtualDeviceConfigSpec', operation='add',
                      device=disk)]
    if new_controller is not None:
        changes.insert(0, new_controller)
    entries = {ATTACH_KEY_PREFIX + volume_id: disk_uuid or file_name}
    return create(factory, 'VirtualMachineConfigSpec', deviceChange=changes,
                  extraConfig=extra_config(factory, entries))


def detach_disk_spec(factory, disk, volume_id):
    """Reconfigure spec removing ``disk`` without deleting its file."""
    change = create(factory, 'VirtualDeviceConfigSpec', operation='remove',
                    device=disk)
    return create(factory, 'VirtualMachineConfigSpec', deviceChange=[change],
                  extraConfig=extra_config(
                      factory, {ATTACH_KEY_PREFIX + volume_id: ''}))


def free_unit(devices, controller, reserved=(CONTROLLER_UNIT,)):
    """First free unit number on ``controller`` or None.

    :param devices: the VM's device list (suds objects).
    """
    limit = IDE_UNITS if type(controller).__name__ == \
        'VirtualIDEController' else SCSI_UNITS
    used = {getattr(d, 'unitNumber', None) for d in devices
            if getattr(d, 'controllerKey', None) == controller.key}
    for unit in range(limit):
        if unit in used or (limit == SCSI_UNITS and unit in reserved):
            continue
        return unit
    return None


def find_slot(devices, adapter_type):
    """Pick (controller key, unit, None) or (key, 0, 'needs new bus number').

    Returns ``(controller_key, unit_number, new_bus_number)``: when no
    controller of ``adapter_type`` has a free unit, ``controller_key`` is a
    negative placeholder and ``new_bus_number`` the bus to create it on.
    """
    type_name = _CONTROLLER_TYPES[adapter_type]
    controllers = sorted((d for d in devices
                          if type(d).__name__ == type_name),
                         key=lambda d: d.key)
    for controller in controllers:
        unit = free_unit(devices, controller)
        if unit is not None:
            return controller.key, unit, None
    if adapter_type == 'ide':
        return None, None, None
    used_buses = {d.busNumber for d in devices
                  if type(d).__name__ in CONTROLLER_ADAPTER and
                  type(d).__name__ != 'VirtualIDEController'}
    bus = next(b for b in range(4) if b not in used_buses) \
        if len(used_buses) < 4 else None
    if bus is None:
        return None, None, None
    return -101, 0, bus


def disks(devices):
    """The VirtualDisk devices of a device list."""
    return [d for d in devices if type(d).__name__ == 'VirtualDisk']


def io_allocation_info(factory, limit=None, reservation=None,
                       shares_level=None, shares=None):
    """A ``StorageIOAllocationInfo``, or None when every value is None.

    ``limit`` and ``reservation`` are IOPS (limit -1: unlimited);
    ``shares_level`` is low, normal, high or custom (with ``shares``).
    """
    if (limit, reservation, shares_level, shares) == (None,) * 4:
        return None
    info = create(factory, 'StorageIOAllocationInfo')
    if limit is not None:
        info.limit = limit
    if reservation is not None:
        info.reservation = reservation
    if shares_level is not None:
        info.shares = create(factory, 'SharesInfo', level=shares_level,
                             shares=shares if shares is not None else 0)
    return info


def set_io_allocation(factory, config_spec, limit=None, reservation=None,
                      shares_level=None, shares=None):
    """Give the new disk(s) of ``config_spec`` a ``StorageIOAllocationInfo``.

    All values None: the spec is left as it is (vSphere's defaults).
    """
    info = io_allocation_info(factory, limit, reservation, shares_level,
                              shares)
    if info is None:
        return config_spec
    for change in config_spec.deviceChange or []:
        if type(change.device).__name__ == 'VirtualDisk' and \
                change.operation == 'add':
            change.device.storageIOAllocation = info
    return config_spec


def disk_io_edit(factory, disk, limit=None, reservation=None,
                 shares_level=None, shares=None):
    """A device ``edit`` giving ``disk`` (as read) a new I/O allocation.

    Only the disk's identity (key, controller, unit, backing, capacity) and
    the allocation are sent. Used in a reconfigure spec, or in a clone
    spec's ``config.deviceChange``, where vCenter applies it to the
    clone's copy of the disk (same key). None when every value is None.
    """
    info = io_allocation_info(factory, limit, reservation, shares_level,
                              shares)
    if info is None:
        return None
    edit = create(factory, 'VirtualDisk', key=disk.key,
                  controllerKey=disk.controllerKey,
                  unitNumber=disk.unitNumber, backing=disk.backing,
                  capacityInKB=disk.capacityInKB, storageIOAllocation=info)
    return create(factory, 'VirtualDeviceConfigSpec', operation='edit',
                  device=edit)


def existing_disk_spec(factory, file_name, capacity_kb, controller_key,
                       unit_number, key=-100):
    """A device spec adding an existing vmdk file as a backing's disk.

    No ``fileOperation``: vSphere uses the file as it is (import of an
    existing disk).
    """
    disk = create(factory, 'VirtualDisk', key=key,
                  controllerKey=controller_key, unitNumber=unit_number,
                  capacityInKB=capacity_kb,
                  backing=_flat_backing(factory, file_name, None,
                                        DISK_MODE_BACKING))
    return create(factory, 'VirtualDeviceConfigSpec', operation='add',
                  device=disk)


def remove_disk_spec(factory, disk):
    """Reconfigure spec removing ``disk`` from a VM; its file is kept."""
    change = create(factory, 'VirtualDeviceConfigSpec', operation='remove',
                    device=disk)
    return create(factory, 'VirtualMachineConfigSpec', deviceChange=[change])
