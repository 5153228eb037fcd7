"""Browsing a datastore: its folders and files, and who owns each disk.

:func:`browse` runs ``HostDatastoreBrowser.SearchDatastoreSubFolders_Task``
(or ``SearchDatastore_Task`` for one folder) with match patterns and a
``FileQuery`` asking for size, modification time and, for virtual disks
(``VmDiskFileQuery``), capacity, disk type and thin provisioning. It then
reads the VMs the datastore lists in ``Datastore.vm`` (one paged read:
name, devices, config file path, this backend's marks) and marks every
vmdk with its owner: a volume of this backend (its id), another VM (its
name), or ``loose`` when no VM uses it. Other files belong to the VM whose
folder holds them.
"""

import dataclasses
import posixpath
import re

from vmware_backend.admin import datastores
from vmware_backend import exceptions
from vmware_backend.vsphere import inventory
from vmware_backend.vsphere import objects
from vmware_backend.vsphere import specs

VM_PATHS = ['name', 'config.hardware.device', 'config.files.vmPathName',
            datastores.MANAGED_PATH,
            'config.extraConfig["%s"]' % specs.KEY_VOLUME_ID]
_DS_PATH = re.compile(r'^\[(?P<ds>[^\]]*)\]\s*(?P<path>.*)$')
_KIND = {'FolderFileInfo': 'folder', 'VmDiskFileInfo': 'vmdk',
         'VmConfigFileInfo': 'vmx', 'VmLogFileInfo': 'log',
         'VmNvramFileInfo': 'nvram', 'IsoImageFileInfo': 'iso',
         'FloppyImageFileInfo': 'floppy', 'VmSnapshotFileInfo': 'snapshot'}


@dataclasses.dataclass
class FileEntry:
    """One file or folder of a datastore."""

    path: str
    kind: str
    size: int
    modified: str
    capacity_gb: float = None
    disk_type: str = None
    thin: bool = None
    owner: str = None       # volume, vm, loose (vmdk) or None
    volume_id: str = None
    vm: str = None


@dataclasses.dataclass
class BrowseResult:
    """What a search found."""

    datastore: str
    id: str
    path: str
    patterns: list
    files: list


def split_path(ds_path):
    """``(datastore name, normalised relative path)`` of ``[ds] a/b``."""
    match = _DS_PATH.match(ds_path or '')
    if not match:
        return None, ds_path
    rel = posixpath.normpath('/' + match.group('path')).lstrip('/')
    return match.group('ds'), rel


def join(ds_name, *parts):
    """``[ds] a/b`` from a datastore name and path parts."""
    rel = posixpath.normpath('/' + '/'.join(p for p in parts if p))
    return '[%s] %s' % (ds_name, rel.lstrip('/'))


def _spec(factory, patterns):
    spec = factory.create('ns0:HostDatastoreBrowserSearchSpec')
    flags = factory.create('ns0:FileQueryFlags')
    flags.fileType = True
    flags.fileSize = True
    flags.modification = True
    flags.fileOwner = False
    spec.details = flags
    disk = factory.create('ns0:VmDiskFileQuery')
    disk_flags = factory.create('ns0:VmDiskFileQueryFlags')
    disk_flags.diskType = True
    disk_flags.capacityKb = True
    disk_flags.hardwareVersion = False
    disk_flags.thin = True
    disk.details = disk_flags
    spec.query = [factory.create('ns0:FolderFileQuery'), disk,
                  factory.create('ns0:FileQuery')]
    spec.matchPattern = list(patterns)
    spec.sortFoldersFirst = True
    return spec


def _owners(session, vms):
    """{vmdk path: (owner, volume id, vm name)}, {folder: vm name}."""
    disks, folders = {}, {}
    for ref, props in objects.read_objects(
            session, vms, {'VirtualMachine': VM_PATHS}).items():
        name = props.get('name') or ref.value
        managed = str((props.get(datastores.MANAGED_PATH) or {}).get(
            'value', '')).lower() == 'true'
        volume_id = (props.get(VM_PATHS[-1]) or {}).get('value')
        vmx = props.get('config.files.vmPathName')
        if vmx:
            ds_name, rel = split_path(vmx)
            folders[join(ds_name, posixpath.dirname(rel))] = name
        for device in props.get('config.hardware.device') or []:
            backing = device.get('backing') or {}
            if 'capacityInKB' not in device or not backing.get('fileName'):
                continue
            key = join(*split_path(backing['fileName']))
            if managed and volume_id:
                disks[key] = ('volume', volume_id, name)
            else:
                disks.setdefault(key, ('vm', None, name))
    return disks, folders


def _entry(folder_path, info, disks, folders):
    ds_name, rel = split_path(folder_path)
    path = join(ds_name, rel, info.get('path'))
    kind = info.get('_type') or 'file'
    entry = FileEntry(path=path, kind=kind, size=info.get('fileSize'),
                      modified=_iso(info.get('modification')))
    if kind == 'vmdk':
        if info.get('capacityKb') is not None:
            entry.capacity_gb = round(info['capacityKb'] / 1024 ** 2, 2)
        entry.disk_type = info.get('diskType')
        entry.thin = info.get('thin')
        owner, volume_id, vm = disks.get(path, ('loose', None, None))
        entry.owner, entry.volume_id, entry.vm = owner, volume_id, vm
    else:
        entry.vm = folders.get(path if kind == 'folder' else
                               join(ds_name, rel))
    return entry


def _iso(value):
    return value.isoformat() if hasattr(value, 'isoformat') else value


def _plain_files(result):
    """(folderPath, [file dicts with '_type']) of each result object."""
    items = result if isinstance(result, list) else \
        getattr(result, 'HostDatastoreBrowserSearchResults', None) or \
        [result]
    for res in items:
        files = []
        for info in getattr(res, 'file', None) or []:
            plain = inventory.to_plain(info)
            plain['_type'] = _KIND.get(type(info).__name__, 'file')
            files.append(plain)
        yield str(getattr(res, 'folderPath', '')), files


def browse(session, ident, path='', patterns=('*',), recursive=True):
    """Search datastore ``ident`` below ``path``.

    :param patterns: match patterns of file names (``*.vmdk``).
    :param recursive: also the sub-folders
        (``SearchDatastoreSubFolders_Task``).
    :returns: a :class:`BrowseResult`, files sorted by path.
    :raises exceptions.InvalidAdminInput: unknown datastore, bad path.
    """
    if '..' in (path or '').split('/'):
        raise exceptions.InvalidAdminInput(
            name='path', value=path, reason='".." is not allowed; give a '
                                            'folder relative to the root')
    patterns = [p for p in patterns if p] or ['*']
    inv = datastores.read(session)
    ref, props = datastores.find(inv, ident)
    name = props.get('name')
    browser = inventory.get_properties(session, ref, ['browser'])['browser']
    method = ('SearchDatastoreSubFolders_Task' if recursive else
              'SearchDatastore_Task')
    result = session.invoke_task(
        method, inventory.to_suds(browser), target='datastore %s' % name,
        datastorePath=join(name, path), searchSpec=_spec(session.factory,
                                                         patterns))
    disks, folders = _owners(session, props.get('vm') or [])
    files = [_entry(folder, info, disks, folders)
             for folder, infos in _plain_files(result) for info in infos]
    return BrowseResult(datastore=name, id=ref.value, path=join(name, path),
                        patterns=patterns,
                        files=sorted(files, key=lambda f: f.path))
