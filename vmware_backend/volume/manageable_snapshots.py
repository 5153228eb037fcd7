"""Which vSphere snapshots of backings Cinder can import (pure).

Cinder's ``get_manageable_snapshots`` entries, made from the same one paged
read of all VMs the volume listing makes (:mod:`vmware_backend.vsphere.
vm_disks`, whose records carry each VM's snapshot tree):

* every snapshot of a backing this backend manages is a candidate, named
  by ``source-name`` (its vSphere name) or, when the backing has several
  snapshots of that name, by ``source-id`` (its moref value) -- the two
  forms :meth:`.manage_snapshots.ManageSnapshotsMixin.
  manage_existing_snapshot` takes;
* ``source_reference`` is the reference of its volume's backing
  (``{'source-id': <instanceUuid>}``, the volume id);
* not safe: a snapshot already carrying a Cinder snapshot name
  (``snapshot-<id>``; ``cinder_id`` set when Cinder knows it), a
  temporary ``clone-*`` snapshot of a linked clone, a snapshot of a
  backing no Cinder volume of this backend owns (another deployment's or
  Cinder's in-tree backing: import the volume first).
"""

import collections
import re

from vmware_backend.volume import clones
from vmware_backend.volume import manage_refs as refs
from vmware_backend.vsphere import specs

_CINDER_NAME = re.compile(r'^snapshot-([0-9a-f-]{36})$')


def cinder_snapshot_id(name):
    """The id in a Cinder snapshot name (``snapshot-<id>``), or None."""
    match = _CINDER_NAME.match(name or '')
    return match.group(1) if match else None


def _reason(snapshot, owned, cinder_id):
    if not owned:
        return None
    if cinder_id:
        return 'already managed (Cinder snapshot %s)' % cinder_id
    if (snapshot.name or '').startswith(clones.CLONE_SNAPSHOT_PREFIX):
        return 'a temporary snapshot of a linked clone'
    return None


def snapshot_candidates(vms, cinder_snapshot_ids=(), hosts=None):
    """Cinder's manageable-snapshot entries of the read VMs (unsorted).

    :param vms: :class:`vm_disks.VM` records.
    :param cinder_snapshot_ids: snapshot ids Cinder knows on this backend.
    :param hosts: host MoRefs of the backend's clusters; VMs on other hosts
        are left out (None: all).
    """
    known = set(cinder_snapshot_ids or ())
    entries = []
    for vm in vms:
        if hosts is not None and vm.host not in hosts:
            continue
        if not vm.snapshots or len(vm.disks) != 1:
            continue
        ours = refs.is_backing_of_ours(vm)
        if not ours and not refs.looks_like_backing(vm):
            continue
        volume_id = vm.extra.get(specs.KEY_VOLUME_ID) if ours else None
        names = collections.Counter(s.name for s in vm.snapshots)
        size = refs.size_gb(vm.disks[0].capacity_kb)
        for snap in vm.snapshots:
            cinder_id = cinder_snapshot_id(snap.name)
            reason = _reason(snap, ours, cinder_id)
            if not ours:
                reason = ('the backing %s is not a volume of this backend; '
                          'import it first (source-id %s)'
                          % (vm.name, vm.instance_uuid or vm.ref.value))
            reference = ({'source-name': snap.name}
                         if names[snap.name] == 1 and snap.name
                         else {'source-id': snap.moref})
            entries.append({
                'reference': reference,
                'size': size,
                'safe_to_manage': reason is None,
                'reason_not_safe': reason,
                'cinder_id': cinder_id if cinder_id in known else None,
                'source_reference': {
                    'source-id': volume_id or vm.instance_uuid or
                    vm.ref.value},
                'extra_info': {
                    'volume_id': volume_id, 'backing': vm.name,
                    'snapshot_moref': snap.moref,
                    'description': snap.description or '',
                    'created': (snap.create_time.isoformat()
                                if hasattr(snap.create_time, 'isoformat')
                                else snap.create_time),
                    'datastore': vm.disks[0].datastore_name}})
    return entries
