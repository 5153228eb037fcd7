"""Virtual disk files: where they are, what they are, who uses them.

A disk is named by its datastore path (``[datastore] folder/name.vmdk``)
and its datacenter: the datacenter is found from the datastore when only
one datacenter has a datastore of that name, else it must be given.

:func:`info` reads a disk as vCenter reports it: a
``HostDatastoreBrowser.SearchDatastore_Task`` of its folder with a
``VmDiskFileQuery`` (capacity, thin provisioning, controller type),
``VirtualDiskManager.QueryVirtualDiskUuid``, and the VMs that use it (one
paged read of every VM's disks): a volume of this backend, another VM,
VMs whose disks read from it (linked clones, snapshot deltas), or none
(loose). vSphere's API does not say whether a thick disk is lazily or
eagerly zeroed unless a VM uses it (its backing's ``eagerlyScrub``).

:func:`check_untouched` is the refusal every change of a disk goes
through: a disk that a VM (a volume's backing included) uses or reads
from is not changed unless forced. :mod:`.disk_changes` has the changes.
"""

import dataclasses
import posixpath

from vmware_backend.admin import browse
from vmware_backend.admin import datastores
from vmware_backend import exceptions
from vmware_backend.vsphere import inventory
from vmware_backend.vsphere import specs
from vmware_backend.vsphere import vm_disks

KB_PER_GIB = 1024 * 1024


@dataclasses.dataclass
class Location:
    """A disk path resolved to its datastore and datacenter."""

    path: str
    datastore: str
    datastore_id: str
    datacenter: str
    datacenter_ref: inventory.MoRef
    folder: str
    file: str
    vm_folder: inventory.MoRef = None

    def describe(self):
        """``disk [ds] a/b.vmdk in datacenter DC`` (for messages)."""
        return 'disk %s in datacenter %s' % (self.path, self.datacenter)


@dataclasses.dataclass
class DiskInfo:
    """A virtual disk as vCenter reports it."""

    path: str
    datacenter: str
    datastore: str
    capacity_gb: float
    capacity_kb: int
    provisioning: str       # thin, thick, eagerZeroedThick (thick: lazy
    #                         or eager unknown), None if not reported
    controller_type: str
    uuid: str
    owner: str              # volume, vm, parent (VMs read from it), loose
    volume_id: str = None
    vms: list = dataclasses.field(default_factory=list)
    children: list = dataclasses.field(default_factory=list)


def _split(path):
    ds_name, rel = browse.split_path(path)
    raw = (path or '').split(']', 1)[-1].strip()
    if not ds_name or not rel or not rel.endswith('.vmdk') or \
            '..' in raw.split('/') or rel.endswith('-flat.vmdk'):
        raise exceptions.InvalidAdminInput(
            name='disk path', value=path,
            reason='give "[datastore] folder/name.vmdk" (the descriptor, '
                   'not -flat.vmdk; no "..")')
    return ds_name, rel


def locate(session, path, datacenter=None, inv=None):
    """Resolve ``path`` (and an optional datacenter name) to a Location.

    :raises exceptions.InvalidAdminInput: bad path, no such datastore (or
        datacenter), or a datastore name several datacenters have.
    """
    ds_name, rel = _split(path)
    inv = inv or datastores.read(session)
    found = []
    for ref, props in inv.datastores.items():
        if props.get('name') != ds_name:
            continue
        dc_name = datastores._datacenter_name(inv, props)
        if datacenter in (None, dc_name):
            found.append((ref, dc_name))
    if not found:
        raise exceptions.InvalidAdminInput(
            name='disk path', value=path,
            reason='no datastore %s%s' % (
                ds_name, ' in datacenter %s' % datacenter if datacenter
                else ''))
    if len(found) > 1:
        raise exceptions.InvalidAdminInput(
            name='disk path', value=path,
            reason='datastore %s is in several datacenters (%s); give '
                   '--datacenter' % (ds_name, ', '.join(sorted(
                       dc or '?' for _r, dc in found))))
    ref, dc_name = found[0]
    dc_ref = [r for r, p in inv.datacenters.items()
              if p.get('name') == dc_name][0]
    folder, _sep, name = rel.rpartition('/')
    return Location(path=browse.join(ds_name, rel), datastore=ds_name,
                    datastore_id=ref.value, datacenter=dc_name,
                    datacenter_ref=dc_ref, folder=folder, file=name)


def _browser(session, loc):
    return inventory.to_suds(inventory.get_properties(
        session, inventory.MoRef('Datastore', loc.datastore_id),
        ['browser'])['browser'])


def folder_files(session, loc):
    """Names in the disk's folder, or None when the folder is missing."""
    if not loc.folder:
        return None
    spec = session.factory.create('ns0:HostDatastoreBrowserSearchSpec')
    spec.matchPattern = ['*']
    try:
        result = session.invoke_task(
            'SearchDatastore_Task', _browser(session, loc),
            target=loc.describe(), datastorePath=folder_path(loc),
            searchSpec=spec)
    except exceptions.VCenterFault as err:
        if err.fault == 'FileNotFound':
            return None
        raise
    return [f.path for f in getattr(result, 'file', None) or []]


def _search(session, loc):
    """The VmDiskFileInfo of the disk (plain dict), or None if absent."""
    factory = session.factory
    spec = factory.create('ns0:HostDatastoreBrowserSearchSpec')
    query = factory.create('ns0:VmDiskFileQuery')
    flags = factory.create('ns0:VmDiskFileQueryFlags')
    flags.diskType = True
    flags.capacityKb = True
    flags.hardwareVersion = False
    flags.thin = True
    flags.controllerType = True
    query.details = flags
    spec.query = [query]
    spec.matchPattern = [loc.file]
    try:
        result = session.invoke_task(
            'SearchDatastore_Task', _browser(session, loc),
            target=loc.describe(),
            datastorePath=browse.join(loc.datastore, loc.folder),
            searchSpec=spec)
    except exceptions.VCenterFault as err:
        if err.fault == 'FileNotFound':
            return None
        raise
    for item in getattr(result, 'file', None) or []:
        if getattr(item, 'path', None) == loc.file:
            return inventory.to_plain(item)
    return None


def exists(session, loc):
    """Whether the disk's descriptor file is on its datastore."""
    return _search(session, loc) is not None


def users(session, loc):
    """``(VMs using the file, VMs whose disks read from it)``."""
    vms = [vm for vm in vm_disks.read(session)
           if _in_datacenter(session, vm, loc)]
    using = vm_disks.file_users(vms).get(loc.path, [])
    reading = vm_disks.parent_files(vms).get(loc.path, [])
    return using, reading


def _in_datacenter(session, vm, loc):
    if vm.vm_folder is None:
        return True
    if loc.vm_folder is None:
        loc.vm_folder = inventory.from_suds(inventory.get_properties(
            session, loc.datacenter_ref, ['vmFolder'])['vmFolder'])
    return vm.vm_folder == loc.vm_folder


def _volume_of(vm):
    extra = vm.extra or {}
    if str(extra.get(specs.KEY_MANAGED, '')).lower() == 'true':
        return extra.get(specs.KEY_VOLUME_ID)
    return None


def check_untouched(session, loc, action, force=False):
    """Refuse to change a disk a VM uses or reads from, unless forced.

    :returns: ``(using, reading)`` VM lists (see :func:`users`).
    :raises exceptions.AdminRefused: naming the volume or VMs.
    """
    using, reading = users(session, loc)
    reasons = []
    for vm in using:
        volume_id = _volume_of(vm)
        reasons.append('it is the disk of volume %s (backing %s)' % (
            volume_id, vm.name) if volume_id else
            'VM %s (%s) uses it' % (vm.name, vm.ref.value))
    if reading:
        reasons.append('the disks of VM(s) %s read from it (linked clone or '
                       'snapshot chain)' % ', '.join(sorted(
                           vm.name for vm in reading)))
    if reasons and not force:
        raise exceptions.AdminRefused(
            action=action, target=loc.describe(),
            reason='%s; pass --force to do it anyway' % '; '.join(reasons))
    return using, reading


def info(session, path, datacenter=None, loc=None):
    """The :class:`DiskInfo` of disk ``path``.

    :raises exceptions.InvalidAdminInput: bad path or datastore.
    :raises exceptions.AdminRefused: no such disk (naming path and
        datacenter).
    """
    loc = loc or locate(session, path, datacenter)
    found = _search(session, loc)
    if found is None:
        raise exceptions.AdminRefused(
            action='Reading', target=loc.describe(),
            reason='no such disk (FileNotFound)')
    uuid = session.invoke(
        'QueryVirtualDiskUuid',
        session.service_content.virtualDiskManager, target=loc.describe(),
        name=loc.path, datacenter=inventory.to_suds(loc.datacenter_ref))
    using, reading = users(session, loc)
    provisioning = None
    if found.get('thin') is not None:
        provisioning = 'thin' if found['thin'] else 'thick'
    for vm in using:
        for disk in vm.disks:
            if disk.file_name == loc.path and disk.disk_type:
                provisioning = disk.disk_type
    volume_ids = [v for v in (_volume_of(vm) for vm in using) if v]
    owner = 'volume' if volume_ids else 'vm' if using else \
        'parent' if reading else 'loose'
    capacity_kb = found.get('capacityKb') or 0
    return DiskInfo(
        path=loc.path, datacenter=loc.datacenter, datastore=loc.datastore,
        capacity_gb=round(capacity_kb / KB_PER_GIB, 2),
        capacity_kb=capacity_kb, provisioning=provisioning,
        controller_type=found.get('controllerType'), uuid=str(uuid),
        owner=owner, volume_id=volume_ids[0] if volume_ids else None,
        vms=sorted(vm.name for vm in using),
        children=sorted(vm.name for vm in reading))


def folder_path(loc):
    """``[ds] folder`` of a Location."""
    return browse.join(loc.datastore, posixpath.dirname(
        browse.split_path(loc.path)[1]))
