"""Every VM's disks, read in one paged ContainerView read, as plain records.

:func:`read` asks for virtual machines, folders and datacenters below the
root folder in ONE ContainerView read (``RetrievePropertiesEx`` pages of
``vcenter_inventory_page_size`` objects), with only the property paths the
manageable listing and the import checks need: its number of SOAP calls
grows with the number of pages, never per VM. :func:`parse` (pure) turns
the objects into :class:`VM` and :class:`Disk` records with each VM's
inventory path (``<datacenter>/vm/<folders>/<name>``, the form
``SearchIndex.FindByInventoryPath`` takes) and the disk-file relations the
import checks need: which VMs use a file, which files are parents of other
disks (linked clones, snapshot deltas).
"""

import dataclasses

from vmware_backend.vsphere import inventory

VM_PATHS = ('name', 'parent', 'config.instanceUuid', 'config.template',
            'config.hardware.device', 'config.extraConfig', 'snapshot',
            'runtime.powerState', 'runtime.host')
TYPE_PATHS = {
    'VirtualMachine': list(VM_PATHS),
    'Folder': ['name', 'parent'],
    'Datacenter': ['name', 'vmFolder'],
}

# Disk backings: which ones a thin/thick type can be told from.
_THIN = 'thin'
_THICK = 'thick'
_EAGER = 'eagerZeroedThick'


@dataclasses.dataclass
class Disk:
    """One VirtualDisk of a VM, as plain values."""

    key: int
    file_name: str
    capacity_kb: int
    controller_key: int
    unit_number: int
    parent_file: str = None
    disk_type: str = None

    @property
    def datastore_name(self):
        """The datastore of ``[datastore] path``, or None."""
        return datastore_of(self.file_name)


@dataclasses.dataclass
class Snapshot:
    """One vSphere snapshot of a VM (a node of its snapshot tree)."""

    moref: str
    name: str
    description: str = None
    create_time: object = None
    depth: int = 0


@dataclasses.dataclass
class VM:
    """A virtual machine with what the import decisions look at."""

    ref: inventory.MoRef
    name: str
    inventory_path: str
    instance_uuid: str
    powered_on: bool
    template: bool
    has_snapshots: bool
    host: inventory.MoRef
    extra: dict
    disks: list
    vm_folder: inventory.MoRef = None
    snapshots: list = dataclasses.field(default_factory=list)


def datastore_of(file_name):
    """The datastore name of a ``[datastore] path`` file name, or None."""
    if not file_name or not file_name.startswith('['):
        return None
    end = file_name.find(']')
    return file_name[1:end] if end > 0 else None


def _disk_type(backing):
    if backing.get('thinProvisioned'):
        return _THIN
    if 'thinProvisioned' not in backing:
        return None
    return _EAGER if backing.get('eagerlyScrub') else _THICK


def _disk(device):
    backing = device.get('backing') or {}
    parent = backing.get('parent') or {}
    return Disk(key=device.get('key'), file_name=backing.get('fileName'),
                capacity_kb=int(device.get('capacityInKB') or 0),
                controller_key=device.get('controllerKey'),
                unit_number=device.get('unitNumber'),
                parent_file=(parent.get('fileName')
                             if isinstance(parent, dict) else None),
                disk_type=_disk_type(backing))


def extra_config(props):
    """A VM's extraConfig as {key: value}."""
    options = props.get('config.extraConfig') or []
    return {str(o.get('key')): o.get('value') for o in options
            if isinstance(o, dict)}


def snapshots_of(info):
    """Flattened :class:`Snapshot` list of a plain ``snapshot`` value."""
    roots = info.get('rootSnapshotList') if isinstance(info, dict) else None
    stack = [(tree, 0) for tree in reversed(roots or [])]
    found = []
    while stack:
        tree, depth = stack.pop()
        if not isinstance(tree, dict):
            continue
        ref = tree.get('snapshot')
        found.append(Snapshot(
            moref=getattr(ref, 'value', None), name=tree.get('name'),
            description=tree.get('description'),
            create_time=tree.get('createTime'), depth=depth))
        stack.extend((child, depth + 1) for child in
                     reversed(tree.get('childSnapshotList') or []))
    return found


def _paths(objects):
    """Functions: inventory path of a folder; its datacenter's vm folder."""
    names, parents, roots = {}, {}, {}
    for ref, props in objects:
        if ref.type == 'Folder':
            names[ref] = props.get('name')
            parents[ref] = props.get('parent')
        elif ref.type == 'Datacenter':
            if props.get('vmFolder') is not None:
                roots[props['vmFolder']] = '%s/vm' % props.get('name')
    cache = dict(roots)

    def path_of(ref, depth=0):
        if ref in cache:
            return cache[ref]
        parent = parents.get(ref)
        if parent is None or depth > 64:
            return None
        base = path_of(parent, depth + 1)
        cache[ref] = None if base is None else '%s/%s' % (base, names[ref])
        return cache[ref]

    def root_of(ref, depth=0):
        while ref is not None and ref not in roots and depth < 64:
            ref, depth = parents.get(ref), depth + 1
        return ref if ref in roots else None

    return path_of, root_of


def parse(objects):
    """:class:`VM` records of the read objects (pure)."""
    path_of, root_of = _paths(objects)
    vms = []
    for ref, props in objects:
        if ref.type != 'VirtualMachine':
            continue
        devices = [d for d in props.get('config.hardware.device') or []
                   if isinstance(d, dict)]
        disks = [_disk(d) for d in devices if 'capacityInKB' in d]
        folder = props.get('parent')
        base = path_of(folder) if folder is not None else None
        snapshot = props.get('snapshot') or {}
        snapshots = snapshots_of(snapshot)
        vms.append(VM(
            ref=ref, name=props.get('name'),
            inventory_path=('%s/%s' % (base, props.get('name'))
                            if base else None),
            instance_uuid=props.get('config.instanceUuid'),
            powered_on=props.get('runtime.powerState') == 'poweredOn',
            template=bool(props.get('config.template')),
            has_snapshots=bool(snapshots),
            host=props.get('runtime.host'), extra=extra_config(props),
            disks=disks, vm_folder=root_of(folder), snapshots=snapshots))
    return vms


def read(session, root=None, raw=True):
    """:class:`VM` records of every VM below ``root`` (default: all).

    :param raw: parse the pages from their XML (:mod:`.rawxml`): the same
        records, about five times faster at thousands of VMs; False reads
        them through suds objects.
    """
    return parse(inventory.read_container(session, TYPE_PATHS, root=root,
                                          raw=raw))


def file_users(vms):
    """{vmdk file name: [VM, ...]} of every disk file in use."""
    users = {}
    for vm in vms:
        for disk in vm.disks:
            if disk.file_name:
                users.setdefault(disk.file_name, []).append(vm)
    return users


def parent_files(vms):
    """{parent vmdk file name: [VM, ...]} whose disks read from it."""
    children = {}
    for vm in vms:
        for disk in vm.disks:
            if disk.parent_file:
                children.setdefault(disk.parent_file, []).append(vm)
    return children
