"""The backings this backend manages, read from vCenter as plain records.

:func:`read` reads, through :mod:`vmware_backend.vsphere.inventory`, only
the property paths it needs. Given the backend's volume folder (the
operator commands ``volumes`` and ``audit``) it reads the VMs below that
folder of each datacenter (found with ``SearchIndex.FindChild``, see
:func:`volume_folders`; paged ContainerView reads), then, for the
instances the backings are attached to, only the attachment marks of the
backings' ids on the VMs of the backings' datastores and the marked VMs
(:func:`read_instances`): nothing else of the inventory. Without a folder
it reads every VM below a root. It is never used by the volume
operations, whose look-ups go through the SearchIndex.

Everything else here is pure: :func:`parse` turns the read objects into
:class:`Backing` and :class:`Instance` records, and :func:`link_attachments`
finds which instance VMs use a backing's disk. An instance VM is found
cheaply by its extraConfig key ``volume-<volume id>`` (written on attach),
then confirmed by a disk of the instance backed by the volume's vmdk file.
"""

import dataclasses
import datetime

from vmware_backend import exceptions
from vmware_backend.vsphere import inventory
from vmware_backend.vsphere import specs

KiB_PER_GiB = 1024 * 1024

VM_PATHS = ('name', 'config.instanceUuid', 'config.extraConfig', 'snapshot',
            'datastore', 'parent')

# How a backing relates to the backend reading it (see ownership()).
OWN = 'own'
LEGACY = 'legacy'
FOREIGN = 'foreign'

DEVICE_PATH = 'config.hardware.device'


@dataclasses.dataclass
class Backing:
    """A backing VM managed by this backend."""

    ref: inventory.MoRef
    name: str
    volume_id: str
    instance_uuid: str
    extra: dict
    datastores: list
    snapshots: dict
    disks: list = None
    attached_to: list = dataclasses.field(default_factory=list)
    # {snapshot name: its createTime in seconds since the epoch}
    snapshot_times: dict = dataclasses.field(default_factory=dict)
    # The folder holding the VM, and the backend's volume folder it was
    # read below (None when the whole inventory was read).
    parent_folder: inventory.MoRef = None
    folder: inventory.MoRef = None
    # The datastores' MoRefs (``datastores`` holds their names).
    datastore_refs: list = dataclasses.field(default_factory=list)

    @property
    def owner(self):
        """The backend id recorded on the backing, or None (older ones)."""
        return self.extra.get(specs.KEY_BACKEND) or None

    @property
    def quarantined(self):
        """When ``audit --fix`` quarantined it (epoch seconds), or None."""
        try:
            return int(self.extra.get(specs.KEY_QUARANTINED))
        except (TypeError, ValueError):
            return None

    @property
    def created(self):
        """When the backing was created (epoch seconds), or None.

        Backings made before the driver recorded it carry no time.
        """
        try:
            return int(self.extra.get(specs.KEY_CREATED))
        except (TypeError, ValueError):
            return None

    def marker_since(self, clone_id):
        """When the clone marker of ``clone_id`` was set, or None."""
        return specs.marker_since(self.extra, clone_id)

    @property
    def parent(self):
        """'<source id>:<snapshot name>' of a linked clone, or None."""
        return self.extra.get(specs.KEY_PARENT) or None

    @property
    def clone_markers(self):
        """{clone volume id: snapshot name} of linked clones of this one."""
        prefix = specs.KEY_CLONE_PREFIX
        return {key[len(prefix):]: value
                for key, value in self.extra.items()
                if key.startswith(prefix) and value}

    @property
    def size_gb(self):
        """Capacity of its disk(s) in GiB, or None when not read."""
        if self.disks is None:
            return None
        return sum(d.get('capacityInKB') or 0
                   for d in self.disks) / KiB_PER_GiB

    @property
    def file_names(self):
        """The vmdk file names of its disks."""
        return [_file_name(d) for d in self.disks or () if _file_name(d)]


@dataclasses.dataclass
class Instance:
    """A VM that is not a backing and has volumes marked as attached."""

    ref: inventory.MoRef
    name: str
    marks: dict
    disks: list = None


def extra_config(props):
    """A VM's extraConfig as a plain {key: value} dict."""
    options = props.get('config.extraConfig') or []
    return {str(o.get('key')): o.get('value') for o in options
            if isinstance(o, dict)}


def _snapshot_trees(props):
    info = props.get('snapshot') or {}
    stack = list(info.get('rootSnapshotList') or []) \
        if isinstance(info, dict) else []
    while stack:
        tree = stack.pop()
        yield tree
        stack.extend(tree.get('childSnapshotList') or [])


def snapshot_names(props):
    """{name: snapshot MoRef} of every snapshot in a VM's snapshot tree."""
    return {tree.get('name'): tree.get('snapshot')
            for tree in _snapshot_trees(props)}


def epoch_seconds(value):
    """A vSphere ``xsd:dateTime`` (datetime or ISO text) as epoch seconds.

    A time without a zone is taken as UTC; None when there is no time.
    """
    if isinstance(value, str):
        try:
            value = datetime.datetime.fromisoformat(
                value.replace('Z', '+00:00'))
        except ValueError:
            return None
    if not isinstance(value, datetime.datetime):
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.timezone.utc)
    return value.timestamp()


def snapshot_times(props):
    """{name: createTime in epoch seconds} of a VM's snapshots.

    Snapshots whose ``createTime`` was not read are left out.
    """
    found = {}
    for tree in _snapshot_trees(props):
        created = epoch_seconds(tree.get('createTime'))
        if created is not None:
            found[tree.get('name')] = created
    return found


def current_snapshot(props):
    """The MoRef of a VM's current snapshot, or None."""
    info = props.get('snapshot') or {}
    return info.get('currentSnapshot') if isinstance(info, dict) else None


def disks(props):
    """The virtual disks in a VM's plain device list.

    Plain values carry no type name; a VirtualDisk is the only device with
    ``capacityInKB``.
    """
    devices = props.get(DEVICE_PATH) or []
    return [d for d in devices
            if isinstance(d, dict) and 'capacityInKB' in d]


def _file_name(disk):
    return (disk.get('backing') or {}).get('fileName')


def is_managed(extra):
    """Whether extraConfig marks a VM as a backing of this backend."""
    return (str(extra.get(specs.KEY_MANAGED, '')).lower() == 'true' and
            bool(extra.get(specs.KEY_VOLUME_ID)))


def attachment_marks(extra):
    """{volume id: disk uuid or file} from an instance's extraConfig."""
    prefix = specs.ATTACH_KEY_PREFIX
    return {key[len(prefix):]: value for key, value in extra.items()
            if key.startswith(prefix) and value}


def parse(objects):
    """Backings and instance VMs from ``(MoRef, props)`` pairs.

    :param objects: virtual machines (with :data:`VM_PATHS`, and
        optionally :data:`DEVICE_PATH`) and datastores (with ``name``).
    :returns: ``(backings, instances)``: lists of :class:`Backing` sorted
        by volume id and of :class:`Instance` (VMs with attachment marks).
    """
    objects = list(objects)
    ds_names = {ref: props.get('name') for ref, props in objects
                if ref.type == 'Datastore'}
    backings = []
    instances = []
    for ref, props in objects:
        if ref.type != 'VirtualMachine':
            continue
        extra = extra_config(props)
        vm_disks = disks(props) if DEVICE_PATH in props else None
        if is_managed(extra):
            backings.append(Backing(
                ref=ref, name=props.get('name') or ref.value,
                volume_id=str(extra[specs.KEY_VOLUME_ID]),
                instance_uuid=props.get('config.instanceUuid'),
                extra=extra,
                datastores=sorted(ds_names.get(d) or d.value
                                  for d in props.get('datastore') or []),
                snapshots=snapshot_names(props),
                disks=vm_disks,
                snapshot_times=snapshot_times(props),
                parent_folder=props.get('parent'),
                datastore_refs=list(props.get('datastore') or [])))
            continue
        marks = attachment_marks(extra)
        if marks:
            instances.append(Instance(ref=ref,
                                      name=props.get('name') or ref.value,
                                      marks=marks, disks=vm_disks))
    backings.sort(key=lambda b: (b.volume_id, b.ref.value))
    return backings, instances


def link_attachments(backings, instances):
    """Fill each backing's ``attached_to`` with the instances using it.

    An instance counts when it carries the ``volume-<id>`` mark and, if its
    disks were read, has a disk with the backing's vmdk file (or the disk
    uuid recorded in the mark).
    """
    by_volume = {}
    for inst in instances:
        for volume_id in inst.marks:
            by_volume.setdefault(volume_id, []).append(inst)
    for backing in backings:
        backing.attached_to = []
        files = set(backing.file_names)
        for inst in by_volume.get(backing.volume_id, ()):
            mark = inst.marks[backing.volume_id]
            if inst.disks is None or any(
                    _file_name(d) in files or
                    (d.get('backing') or {}).get('uuid') == mark
                    for d in inst.disks):
                backing.attached_to.append(inst.name)
        backing.attached_to.sort()
    return backings


def volume_folders(session, path):
    """The folder ``path`` ("a/b") below each datacenter's VM folder.

    One ContainerView read of the datacenters, then one
    ``SearchIndex.FindChild`` per level and datacenter (the names escaped
    as the driver escapes them when it creates the folders).

    :returns: a list of :class:`vmware_backend.vsphere.inventory.MoRef`; a
        datacenter without the folder adds nothing.
    """
    datacenters = inventory.read_container(
        session, {'Datacenter': ['name', 'vmFolder']})
    search_index = session.service_content.searchIndex
    found = []
    for ref, props in sorted(datacenters, key=lambda item: item[0].value):
        folder = props.get('vmFolder')
        for name in path.split('/'):
            if folder is None:
                break
            name = specs.escape_name(name.strip())
            folder = session.invoke(
                'FindChild', search_index, target='folder %s' % name,
                entity=inventory.to_suds(folder), name=name)
            folder = inventory.from_suds(folder) if folder else None
        if folder is not None and folder not in found:
            found.append(folder)
    return found


def read(session, devices=True, root=None, volume_folder=None,
         progress=lambda text: None):
    """Read the managed backings (and the instances they are attached to).

    :param session: a :class:`vmware_backend.vsphere.session.VCenterSession`.
    :param devices: also read the device lists (sizes, attachments).
    :param root: the container to read below when ``volume_folder`` is not
        given; default: the root folder.
    :param volume_folder: the backend's ``vcenter_volume_folder``: when
        given, only the VMs below that folder of each datacenter are read
        (managed VMs elsewhere, e.g. another backend's, are ignored), and
        the instances through :func:`read_instances`; nothing else of the
        inventory is read, so the calls and the bytes do not grow with
        the number of other VMs in folders of their own.
    :param progress: called with a line of text before each step.
    :returns: ``(backings, instances)``, see :func:`parse`; with
        ``devices``, ``attached_to`` is filled.
    """
    vm_paths = list(VM_PATHS) + ([DEVICE_PATH] if devices else [])
    if volume_folder is None:
        objects = inventory.read_container(
            session, {'VirtualMachine': vm_paths, 'Datastore': ['name']},
            root=root)
        backings, instances = parse(objects)
    else:
        objects = inventory.read_container(session, {'Datastore': ['name']})
        read_below = {}
        for folder in volume_folders(session, volume_folder):
            progress('Reading the VMs below folder %s (%s) ...'
                     % (volume_folder, folder.value))
            for ref, props in inventory.iter_container(
                    session, {'VirtualMachine': vm_paths}, root=folder):
                if ref not in read_below:
                    read_below[ref] = folder
                    objects.append((ref, props))
        backings, _instances = parse(objects)
        for backing in backings:
            backing.folder = read_below.get(backing.ref)
        instances = read_instances(session, backings, devices=devices,
                                   progress=progress)
    if devices:
        link_attachments(backings, instances)
    return backings, instances


# Volume ids whose attachment marks one read asks for (keyed paths per VM).
MARKS_PER_READ = 100


def mark_path(volume_id):
    """The keyed property path of the attachment mark of ``volume_id``."""
    key = specs.ATTACH_KEY_PREFIX + volume_id
    return 'config.extraConfig["%s"]' % key


def read_instances(session, backings, devices=True,
                   progress=lambda text: None):
    """The VMs marking one of ``backings`` as attached, as Instance records.

    An attached disk's VM has a file on the disk's datastore, so it is
    listed in that ``Datastore.vm``: the VMs of the backings' datastores
    are read (paged) for the keyed paths ``config.extraConfig["volume-<id>"]``
    of the backings' volume ids only (:data:`MARKS_PER_READ` ids a read),
    which a VM without the marks answers with an empty object; then the
    name (and with ``devices`` the device list) of the marked VMs only,
    in one read. The backings themselves are never instances.
    """
    by_datastore = {}
    backing_refs = {b.ref for b in backings}
    for backing in backings:
        for datastore in backing.datastore_refs:
            by_datastore.setdefault(datastore, set()).add(backing.volume_id)
    if not by_datastore:
        return []
    ids = sorted({v for found in by_datastore.values() for v in found})
    datastores = sorted(by_datastore, key=lambda ref: ref.value)
    page_size = session.options['vcenter_inventory_page_size']
    marks = {}
    for start in range(0, len(ids), MARKS_PER_READ):
        chunk = ids[start:start + MARKS_PER_READ]
        progress('Reading the attachment marks of %d volume(s) on the VMs '
                 'of %d datastore(s) ...' % (len(chunk), len(datastores)))
        paths = [mark_path(volume_id) for volume_id in chunk]
        for ref, props in inventory.read_through(
                session, datastores, 'vm', {'VirtualMachine': paths},
                page_size=page_size):
            if ref in backing_refs:
                continue
            for volume_id, path in zip(chunk, paths):
                option = props.get(path)
                value = option.get('value') if isinstance(option,
                                                          dict) else None
                if value:
                    marks.setdefault(ref, {})[volume_id] = value
    if not marks:
        return []
    paths = ['name'] + ([DEVICE_PATH] if devices else [])
    progress('Reading %d instance VM(s) with attachment marks ...'
             % len(marks))
    refs = sorted(marks, key=lambda r: r.value)
    try:
        found = inventory.read_objects(session, refs,
                                       {'VirtualMachine': paths})
    except exceptions.VCenterFault as err:
        if not err.object_gone:
            raise
        # A VM removed since the marks were read: one at a time, without it.
        found = []
        for ref in refs:
            try:
                found.append((ref, inventory.get_properties(session, ref,
                                                            paths)))
            except exceptions.VCenterFault as one_err:
                if not one_err.object_gone:
                    raise
    instances = []
    for ref, props in found:
        instances.append(Instance(
            ref=ref, name=props.get('name') or ref.value, marks=marks[ref],
            disks=disks(props) if devices else None))
    return instances


def ownership(backing, backend):
    """How ``backing`` relates to the backend whose id is ``backend``.

    :data:`OWN`: it records ``backend`` as its owner. :data:`LEGACY`: it
    records no owner (made before backings recorded one) and sits directly
    in the backend's volume folder, so it is taken as the backend's.
    :data:`FOREIGN`: anything else (another backend's, or an ownerless
    backing elsewhere, e.g. in a sub-folder).
    """
    owner = backing.owner
    if owner:
        return OWN if owner == backend else FOREIGN
    if backing.folder is not None and backing.parent_folder == backing.folder:
        return LEGACY
    return FOREIGN


def split_by_owner(backings, backend):
    """This backend's backings (own and legacy) and the others.

    :returns: ``(owned, foreign)``, each in the given order.
    """
    owned, foreign = [], []
    for backing in backings:
        (foreign if ownership(backing, backend) == FOREIGN
         else owned).append(backing)
    return owned, foreign


def volume_row(backing, backend=None):
    """A backing as a plain dict for tables and JSON."""
    return {
        'volume_id': backing.volume_id,
        'name': backing.name,
        'moref': backing.ref.value,
        'size_gb': backing.size_gb,
        'datastores': list(backing.datastores),
        'snapshots': sorted(backing.snapshots),
        'attached_to': list(backing.attached_to),
        'parent': backing.parent,
        'linked_clones': dict(backing.clone_markers),
        'owner': backing.owner,
        'ownership': ownership(backing, backend) if backend else None,
        'quarantined': backing.quarantined,
    }
