"""Import ("manage") decisions: references, safety, sizes, listing pages.

Pure functions over :mod:`vmware_backend.vsphere.vm_disks` records; the
I/O is in :mod:`vmware_backend.volume.manage`.

Reference forms (Cinder's ``existing_ref``):

* ``{'source-name': '<vmdk path>@<vm inventory path>'}``: a disk of a VM
  (Cinder's in-tree format), e.g. ``[ds1] vm1/vm1_1.vmdk@DC1/vm/vm1``;
* ``{'source-name': '[datastore] folder/file.vmdk'}``: a loose vmdk file;
* ``{'source-id': '<instanceUuid or VM moref value>'}``: a whole VM with
  exactly one disk (a backing of another deployment or of Cinder's in-tree
  driver), adopted in place.
"""

import collections
import functools
import json
import math
import re

from vmware_backend import exceptions
from vmware_backend.vsphere import specs
from vmware_backend.vsphere import vm_disks

KIB_PER_GIB = 1024 * 1024
# On an imported backing: where it came from (JSON).
KEY_IMPORTED_FROM = 'vmware_backend.imported_from'

VM_DISK = 'vm-disk'
LOOSE = 'loose'
VM = 'vm'

# extraConfig key Cinder's in-tree VMDK driver writes on its backings.
IN_TREE_VOLUME_KEY = 'cinder.volume.id'

Reference = collections.namedtuple('Reference', 'kind file vm_path vm_id')
Reference.__doc__ = ('A parsed reference: kind (VM_DISK, LOOSE or VM), the '
                     'vmdk file name, the VM inventory path, the VM id.')

_FILE_RE = re.compile(r'^\[([^\]]+)\] (\S.*\.vmdk)$')
SORT_KEYS = ('size', 'reference')
SORT_DIRS = ('asc', 'desc')


def _bad(reason):
    return exceptions.InvalidReference(reason=reason)


def parse_reference(existing_ref):
    """The :class:`Reference` of Cinder's ``existing_ref`` dict.

    :raises exceptions.InvalidReference: naming what is wrong and the forms
        accepted.
    """
    if not isinstance(existing_ref, dict):
        raise _bad('%r is not a dict' % (existing_ref,))
    keys = {'source-name', 'source-id'} & set(existing_ref)
    if len(keys) != 1:
        raise _bad('give exactly one of source-name and source-id, got %s'
                   % sorted(existing_ref))
    key = keys.pop()
    value = existing_ref[key]
    if not isinstance(value, str) or not value.strip():
        raise _bad('%s must be a non-empty string, got %r' % (key, value))
    value = value.strip()
    if key == 'source-id':
        return Reference(VM, None, None, value)
    head, sep, vm_path = value.partition('.vmdk@')
    if sep:
        file_name = head + '.vmdk'
        if not _FILE_RE.match(file_name) or not vm_path.strip('/'):
            raise _bad('source-name %r: expected "[datastore] path.vmdk@'
                       '<datacenter>/vm/<folders>/<VM name>"' % value)
        return Reference(VM_DISK, file_name, vm_path.strip('/'), None)
    if _FILE_RE.match(value):
        return Reference(LOOSE, value, None, None)
    raise _bad('source-name %r is neither "[datastore] path.vmdk" nor '
               '"[datastore] path.vmdk@<VM inventory path>"' % value)


def split_file(file_name):
    """(datastore, folder, file) of ``[datastore] folder/file.vmdk``."""
    match = _FILE_RE.match(file_name)
    if not match:
        raise _bad('%r is not "[datastore] folder/file.vmdk"' % file_name)
    folder, _sep, name = match.group(2).rpartition('/')
    return match.group(1), folder, name


def size_gb(capacity_kb):
    """Capacity rounded up to whole GiB (at least 1)."""
    return max(1, int(math.ceil(int(capacity_kb) / KIB_PER_GIB)))


def needs_growth(capacity_kb):
    """Whether the disk must grow to reach :func:`size_gb`."""
    return int(capacity_kb) != size_gb(capacity_kb) * KIB_PER_GIB


def is_backing_of_ours(vm):
    """Whether a VM carries this driver's ownership marks."""
    return (vm.extra.get(specs.KEY_MANAGED) == 'true' or
            bool(vm.extra.get(specs.KEY_VOLUME_ID)))


def refuse_adopted_elsewhere(vms, vm_id):
    """Refuse a source-id naming a VM already adopted as a volume.

    After an import Cinder reported failed (``error_managing``) the VM may
    carry the failed volume's id: deleting that volume gives it back.

    :raises exceptions.InvalidReference: naming that volume; returns
        quietly when no VM was adopted from ``vm_id``.
    """
    for vm in vms:
        try:
            origin = json.loads(vm.extra.get(KEY_IMPORTED_FROM) or '{}')
        except ValueError:
            continue
        if isinstance(origin, dict) and vm_id in (
                origin.get('instanceUuid'), origin.get('moref')):
            raise exceptions.InvalidReference(
                reason='VM %s (%s) was already imported as volume %s; if '
                       'that volume is in error_managing, delete it (the '
                       'VM is given back as it was) and manage again, '
                       'otherwise use that volume' % (
                           origin.get('name'), vm_id,
                           vm.extra.get(specs.KEY_VOLUME_ID) or
                           vm.instance_uuid))


def looks_like_backing(vm):
    """Whether a VM is another deployment's backing (offered as source-id).

    Cinder's in-tree backings carry ``cinder.volume.id``; backings this
    driver made and later unmanaged keep the name ``volume-<id>``.
    """
    if len(vm.disks) != 1:
        return False
    return (bool(vm.extra.get(IN_TREE_VOLUME_KEY)) or
            (vm.name or '').startswith('volume-'))


def disk_refusal(vm, disk, users, children):
    """Why ``disk`` of ``vm`` cannot be imported, or None.

    :param users: {file name: [VM]} (see ``vm_disks.file_users``).
    :param children: {file name: [VM]} reading from it
        (``vm_disks.parent_files``).
    """
    if vm is not None:
        if is_backing_of_ours(vm):
            return ('VM %s is already managed by a vmware_backend backend '
                    '(volume %s)' % (vm.name,
                                     vm.extra.get(specs.KEY_VOLUME_ID)))
        if vm.template:
            return 'VM %s is a template' % vm.name
        if vm.powered_on:
            return ('attached to powered-on VM %s; power it off first'
                    % vm.name)
        if vm.has_snapshots:
            return ('VM %s has snapshots, the disk is part of a snapshot '
                    'chain; remove or consolidate them first' % vm.name)
    if disk.parent_file:
        return ('the disk is a delta of %s (snapshot chain or linked clone)'
                % disk.parent_file)
    readers = children.get(disk.file_name) or []
    if readers:
        return ('the disk is the parent of linked clone(s) %s'
                % ', '.join(sorted(v.name for v in readers)))
    others = [v for v in users.get(disk.file_name) or []
              if vm is None or v.ref != vm.ref]
    if others:
        return ('the disk is also attached to VM(s) %s'
                % ', '.join(sorted(v.name for v in others)))
    return None


def vm_refusal(vm, users, children):
    """Why ``vm`` cannot be adopted in place (source-id), or None."""
    if len(vm.disks) != 1:
        return 'VM %s has %d disks; source-id needs exactly one' % (
            vm.name, len(vm.disks))
    return disk_refusal(vm, vm.disks[0], users, children)


def _extra_info(vm, disk):
    info = {'datastore': disk.datastore_name, 'file': disk.file_name,
            'disk_type': disk.disk_type}
    if vm is not None:
        info.update(vm=vm.name, vm_id=vm.ref.value)
    return info


def candidates(vms, cinder_ids, hosts=None):
    """Cinder's manageable-volume entries of the read VMs (unsorted).

    :param cinder_ids: the volume ids Cinder knows on this backend.
    :param hosts: host MoRefs of the backend's clusters; VMs on other
        hosts are left out (None: all).
    """
    users = vm_disks.file_users(vms)
    children = vm_disks.parent_files(vms)
    ours = {vm.disks[0].file_name for vm in vms
            if is_backing_of_ours(vm) and len(vm.disks) == 1}
    uuids = collections.Counter(vm.instance_uuid for vm in vms)
    entries = []
    for vm in vms:
        if hosts is not None and vm.host not in hosts:
            continue
        if is_backing_of_ours(vm) or looks_like_backing(vm):
            disk = vm.disks[0] if vm.disks else None
            if disk is None:
                continue
            volume_id = vm.extra.get(specs.KEY_VOLUME_ID)
            unique = vm.instance_uuid and uuids[vm.instance_uuid] == 1
            reason = vm_refusal(vm, users, children)
            entries.append({
                'reference': {'source-id': (vm.instance_uuid if unique
                                            else vm.ref.value)},
                'size': size_gb(disk.capacity_kb),
                'safe_to_manage': reason is None,
                'reason_not_safe': reason,
                'cinder_id': (volume_id if volume_id in cinder_ids
                              else None),
                'extra_info': _extra_info(vm, disk)})
            continue
        if not vm.inventory_path:
            continue
        for disk in vm.disks:
            if not disk.file_name or disk.file_name in ours:
                continue  # a volume's disk attached to an instance
            reason = disk_refusal(vm, disk, users, children)
            entries.append({
                'reference': {'source-name': '%s@%s' % (
                    disk.file_name, vm.inventory_path)},
                'size': size_gb(disk.capacity_kb),
                'safe_to_manage': reason is None,
                'reason_not_safe': reason,
                'cinder_id': None,
                'extra_info': _extra_info(vm, disk)})
    return entries


_DELTA_RE = re.compile(r'-\d{6}\.vmdk$')


def loose_candidates(disks, users, children):
    """Entries of loose vmdk files (no VM has them attached).

    :param disks: :class:`vm_disks.Disk` records from the datastore
        browser; files some VM uses are left out (they are listed with it).
    """
    entries = []
    for disk in disks:
        if users.get(disk.file_name):
            continue
        reason = disk_refusal(None, disk, users, children)
        if reason is None and _DELTA_RE.search(disk.file_name):
            reason = 'a snapshot delta file (name ends in -NNNNNN.vmdk)'
        entries.append({
            'reference': {'source-name': disk.file_name},
            'size': size_gb(disk.capacity_kb),
            'safe_to_manage': reason is None,
            'reason_not_safe': reason,
            'cinder_id': None,
            'extra_info': {'datastore': disk.datastore_name,
                           'file': disk.file_name,
                           'disk_type': disk.disk_type}})
    return entries


def _sort_value(value):
    if isinstance(value, dict):
        return sorted(value.values())[0]
    return value


def paginate(entries, marker, limit, offset, sort_keys, sort_dirs):
    """A page of ``entries`` as Cinder's ``paginate_entries_list`` makes it.

    Sorted by ``sort_keys`` (``size``, ``reference``; a reference sorts by
    its value) in ``sort_dirs`` (``asc``/``desc``); the page starts after
    the entry whose reference is ``marker`` (a dict or its JSON), skips
    ``offset`` more and holds at most ``limit`` entries.

    :raises exceptions.InvalidReference: bad sort key/dir or marker.
    """
    sort_keys = list(sort_keys or ['size', 'reference'])
    # As Cinder: keys without a direction are not used (zip).
    sort_dirs = list(sort_dirs or ['desc'] * len(sort_keys))
    for key in sort_keys:
        if key.strip() not in SORT_KEYS:
            raise _bad('sort key %r: use one of %s' % (key, SORT_KEYS))
    for direction in sort_dirs:
        if direction not in SORT_DIRS:
            raise _bad('sort dir %r: use one of %s' % (direction, SORT_DIRS))

    def compare(left, right):
        for key, direction in zip(sort_keys, sort_dirs):
            a = _sort_value(left[key.strip()])
            b = _sort_value(right[key.strip()])
            if a == b:
                continue
            smaller = a < b if direction == 'asc' else a > b
            return -1 if smaller else 1
        return 0

    ordered = sorted(entries, key=functools.cmp_to_key(compare))
    start = 0
    if marker:
        if not isinstance(marker, dict):
            try:
                marker = json.loads(marker)
            except ValueError:
                raise _bad('marker %r is not JSON like {"source-name": '
                           '"..."}' % (marker,))
        found = [i for i, e in enumerate(ordered)
                 if e['reference'] == marker]
        if not found:
            raise _bad('marker %s not found' % (marker,))
        start = found[0] + 1
    offset = offset or 0
    if limit is None:
        return ordered[start + offset:]
    return ordered[start + offset:start + offset + limit]
