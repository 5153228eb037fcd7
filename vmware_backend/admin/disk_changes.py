"""Changing virtual disk files through ``VirtualDiskManager``.

create (``CreateVirtualDisk_Task``: thin, thick (lazily zeroed,
vSphere's ``preallocated``) or eagerZeroedThick; adapter lsiLogic,
busLogic or ide), delete (``DeleteVirtualDisk_Task``), copy and move
(``CopyVirtualDisk_Task``, ``MoveVirtualDisk_Task``; to another datastore
or datacenter), extend (``ExtendVirtualDisk_Task``), inflate a thin disk
to eagerZeroedThick (``InflateVirtualDisk_Task``) and eager-zero a lazily
zeroed thick disk (``EagerZeroVirtualDisk_Task``).

Every function checks its input first, supports a dry run (the plan,
nothing changed) and returns a :class:`DiskChange` with the disk as
vCenter reports it afterwards. A disk a VM uses or reads from (a volume's
backing included) is not deleted, moved, extended, inflated or
eager-zeroed unless forced; copying only reads it. Errors name the path
and the datacenter.

Nothing is left half-done: a create or copy whose task fails removes what
it made (the new disk and a folder made for it); a move or delete whose
task fails is checked on vCenter and reported done only when the disk is
where it was asked to be.
"""

import dataclasses

from oslo_log import log as logging

from vmware_backend.admin import disks
from vmware_backend import exceptions
from vmware_backend.vsphere import inventory

LOG = logging.getLogger(__name__)

DISK_TYPES = {'thin': 'thin', 'thick': 'preallocated',
              'preallocated': 'preallocated',
              'eagerZeroedThick': 'eagerZeroedThick'}
ADAPTER_TYPES = ('lsiLogic', 'busLogic', 'ide')
MAX_GB = 62 * 1024


@dataclasses.dataclass
class DiskChange:
    """The outcome of a disk change."""

    action: str
    path: str
    datacenter: str
    dry_run: bool
    ok: bool
    detail: str = None
    target: str = None
    target_datacenter: str = None
    disk: disks.DiskInfo = None


def _size_kb(name, gb):
    try:
        value = float(gb)
    except (TypeError, ValueError):
        value = None
    if value is None or not 0 < value <= MAX_GB:
        raise exceptions.InvalidAdminInput(
            name=name, value=gb,
            reason='give a size in GiB above 0 and at most %d' % MAX_GB)
    return int(round(value * disks.KB_PER_GIB))


def _vdm(session):
    return session.service_content.virtualDiskManager


def _dc(loc):
    return inventory.to_suds(loc.datacenter_ref)


def _run(session, method, loc, dest=None, **kwargs):
    target = loc.describe()
    if dest is not None:
        target += ' to %s' % dest.describe()
    return session.invoke_task(method, _vdm(session), target=target,
                               **kwargs)


def _make_folder(session, loc):
    """Create the disk's folder when missing; True when this call made it."""
    if not loc.folder or disks.folder_files(session, loc) is not None:
        return False
    try:
        session.invoke('MakeDirectory', session.service_content.fileManager,
                       target=loc.describe(), name=disks.folder_path(loc),
                       datacenter=_dc(loc), createParentDirectories=True)
        return True
    except exceptions.VCenterFault as err:
        if err.fault == 'FileAlreadyExists':
            return False
        raise


def _undo_new(session, loc, made_folder):
    """Remove a disk (and the folder made for it) after a failed step."""
    try:
        if disks.exists(session, loc):
            _run(session, 'DeleteVirtualDisk_Task', loc, name=loc.path,
                 datacenter=_dc(loc))
        if made_folder and disks.folder_files(session, loc) == []:
            # Made by this call and empty again (never another's files).
            session.invoke_task(
                'DeleteDatastoreFile_Task',
                session.service_content.fileManager, target=loc.describe(),
                name=disks.folder_path(loc), datacenter=_dc(loc))
    except Exception:
        LOG.exception('Could not remove %s after a failed change; remove '
                      'it by hand.', loc.describe())


def _refuse_existing(session, loc, action):
    if disks.exists(session, loc):
        raise exceptions.AdminRefused(
            action=action, target=loc.describe(),
            reason='a disk of that name exists (FileAlreadyExists)')


def create(session, path, size_gb, disk_type='thin', adapter_type='lsiLogic',
           datacenter=None, dry_run=False):
    """Create a disk of ``size_gb`` GiB; its folder is made if missing."""
    if disk_type not in DISK_TYPES:
        raise exceptions.InvalidAdminInput(
            name='disk type', value=disk_type,
            reason='use thin, thick or eagerZeroedThick')
    if adapter_type not in ADAPTER_TYPES:
        raise exceptions.InvalidAdminInput(
            name='adapter type', value=adapter_type,
            reason='use %s' % ', '.join(ADAPTER_TYPES))
    kb = _size_kb('size', size_gb)
    loc = disks.locate(session, path, datacenter)
    _refuse_existing(session, loc, 'Creating')
    result = DiskChange(action='create', path=loc.path,
                        datacenter=loc.datacenter, dry_run=dry_run, ok=True,
                        detail='%s GiB %s %s' % (size_gb, disk_type,
                                                 adapter_type))
    if dry_run:
        return result
    spec = session.factory.create('ns0:FileBackedVirtualDiskSpec')
    spec.diskType = DISK_TYPES[disk_type]
    spec.adapterType = adapter_type
    spec.capacityKb = kb
    made = _make_folder(session, loc)
    try:
        _run(session, 'CreateVirtualDisk_Task', loc, name=loc.path,
             datacenter=_dc(loc), spec=spec)
    except Exception:
        _undo_new(session, loc, made)
        raise
    result.disk = disks.info(session, loc.path, loc=loc)
    return result


def delete(session, path, datacenter=None, force=False, dry_run=False):
    """Delete a disk (descriptor and extents)."""
    loc = disks.locate(session, path, datacenter)
    before = disks.info(session, loc.path, loc=loc)
    disks.check_untouched(session, loc, 'Deleting', force=force)
    result = DiskChange(action='delete', path=loc.path,
                        datacenter=loc.datacenter, dry_run=dry_run, ok=True,
                        disk=before)
    if dry_run:
        return result
    try:
        _run(session, 'DeleteVirtualDisk_Task', loc, name=loc.path,
             datacenter=_dc(loc))
    except exceptions.VCenterFault as err:
        if disks.exists(session, loc):
            raise
        result.detail = 'vCenter reported %s, but the disk is gone' % (
            err.fault)
    return result


def _pair(session, source, dest, datacenter, dest_datacenter, action):
    src = disks.locate(session, source, datacenter)
    dst = disks.locate(session, dest, dest_datacenter or datacenter)
    if (src.path, src.datacenter) == (dst.path, dst.datacenter):
        raise exceptions.InvalidAdminInput(
            name='destination', value=dest,
            reason='it is the source; give another path')
    disks.info(session, src.path, loc=src)  # exists, or a clear refusal
    _refuse_existing(session, dst, action)
    return src, dst


def _start_pair(session, action, src, dst, dry_run):
    """The DiskChange of a copy or move and, unless a dry run, its folder.

    :returns: ``(result, made)``; ``made`` (see :func:`_make_folder`) is
        None on a dry run, which makes nothing.
    """
    result = DiskChange(action=action, path=src.path,
                        datacenter=src.datacenter, dry_run=dry_run, ok=True,
                        target=dst.path, target_datacenter=dst.datacenter)
    if dry_run:
        return result, None
    return result, _make_folder(session, dst)


def _run_pair(session, method, src, dst):
    """A copy or move task (``method``) of ``src`` to ``dst``."""
    _run(session, method, src, dest=dst, sourceName=src.path,
         sourceDatacenter=_dc(src), destName=dst.path,
         destDatacenter=_dc(dst), force=False)


def copy(session, source, dest, datacenter=None, dest_datacenter=None,
         dry_run=False):
    """Copy a disk to a new path (same or another datastore/datacenter).

    The copy gets a new uuid. Only reads the source.
    """
    src, dst = _pair(session, source, dest, datacenter, dest_datacenter,
                     'Copying to')
    result, made = _start_pair(session, 'copy', src, dst, dry_run)
    if dry_run:
        return result
    try:
        _run_pair(session, 'CopyVirtualDisk_Task', src, dst)
    except Exception:
        _undo_new(session, dst, made)
        raise
    result.disk = disks.info(session, dst.path, loc=dst)
    return result


def move(session, source, dest, datacenter=None, dest_datacenter=None,
         force=False, dry_run=False):
    """Move (or rename) a disk; refused for a disk in use unless forced."""
    src, dst = _pair(session, source, dest, datacenter, dest_datacenter,
                     'Moving to')
    disks.check_untouched(session, src, 'Moving', force=force)
    result, made = _start_pair(session, 'move', src, dst, dry_run)
    if dry_run:
        return result
    try:
        _run_pair(session, 'MoveVirtualDisk_Task', src, dst)
    except exceptions.VCenterFault as err:
        if disks.exists(session, src) or not disks.exists(session, dst):
            if not disks.exists(session, dst):
                _undo_new(session, dst, made)
            raise
        result.detail = 'vCenter reported %s, but the disk moved' % (
            err.fault)
    result.disk = disks.info(session, dst.path, loc=dst)
    return result


def extend(session, path, size_gb, datacenter=None, eager_zero=False,
           force=False, dry_run=False):
    """Grow a disk to ``size_gb`` GiB; the same size is a no-op."""
    kb = _size_kb('new size', size_gb)
    loc = disks.locate(session, path, datacenter)
    before = disks.info(session, loc.path, loc=loc)
    if kb < before.capacity_kb:
        raise exceptions.AdminRefused(
            action='Extending', target=loc.describe(),
            reason='%s GiB is smaller than its %s GiB; disks cannot shrink'
                   % (size_gb, before.capacity_gb))
    disks.check_untouched(session, loc, 'Extending', force=force)
    result = DiskChange(action='extend', path=loc.path,
                        datacenter=loc.datacenter, dry_run=dry_run, ok=True,
                        detail='%s -> %s GiB' % (before.capacity_gb,
                                                 size_gb), disk=before)
    if dry_run or kb == before.capacity_kb:
        if kb == before.capacity_kb:
            result.detail = 'already %s GiB' % before.capacity_gb
        return result
    _run(session, 'ExtendVirtualDisk_Task', loc, name=loc.path,
         datacenter=_dc(loc), newCapacityKb=kb, eagerZero=bool(eager_zero))
    result.disk = disks.info(session, loc.path, loc=loc)
    return result


def _provisioning_change(session, path, datacenter, force, dry_run, name,
                         action, method, allowed, refusal):
    loc = disks.locate(session, path, datacenter)
    before = disks.info(session, loc.path, loc=loc)
    if before.provisioning not in allowed:
        raise exceptions.AdminRefused(
            action=action.capitalize(), target=loc.describe(),
            reason=refusal % (before.provisioning or 'unknown'))
    disks.check_untouched(session, loc, action.capitalize(), force=force)
    result = DiskChange(action=name, path=loc.path,
                        datacenter=loc.datacenter, dry_run=dry_run, ok=True,
                        disk=before)
    if dry_run:
        return result
    _run(session, method, loc, name=loc.path, datacenter=_dc(loc))
    result.disk = disks.info(session, loc.path, loc=loc)
    return result


def inflate(session, path, datacenter=None, force=False, dry_run=False):
    """Inflate a thin disk to its full size (eagerZeroedThick)."""
    return _provisioning_change(
        session, path, datacenter, force, dry_run, 'inflate', 'inflating',
        'InflateVirtualDisk_Task', ('thin',),
        'it is %s, not thin; only thin disks are inflated')


def eager_zero(session, path, datacenter=None, force=False, dry_run=False):
    """Zero the unwritten blocks of a (lazily zeroed) thick disk."""
    return _provisioning_change(
        session, path, datacenter, force, dry_run, 'eager-zero',
        'eager-zeroing',
        'EagerZeroVirtualDisk_Task', ('thick', 'eagerZeroedThick'),
        'it is %s; only thick disks are eager-zeroed (inflate a thin one)')
