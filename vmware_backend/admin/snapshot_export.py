"""Export a snapshot's disk of a volume to a local file.

``VirtualMachineSnapshot.ExportSnapshot`` returns an ``HttpNfcLease``
whose disk URL serves the disk as it was when the snapshot was taken, as
a streamOptimized VMDK; :func:`export_snapshot` downloads it with the
operator's own vCenter session (:mod:`vmware_backend.vsphere.nfc`: the
session cookie, keep-alive progress, the lease completed on success and
aborted on every failure). The data goes to ``<file>.part`` and is renamed
to ``<file>`` only when complete, so a failed export leaves no file; the
result carries the file's size and SHA-256.

The file is readable by ``qemu-img`` (``qemu-img convert -f vmdk -O raw``)
and can be imported as a Glance image with ``disk_format=vmdk`` and
``vmware_disktype=streamOptimized``.
"""

import dataclasses
import hashlib
import os

from vmware_backend.admin import snapshot_trees
from vmware_backend import exceptions
from vmware_backend.vsphere import inventory
from vmware_backend.vsphere import nfc


@dataclasses.dataclass
class SnapshotExport:
    """What an export did (or, for a dry run, would do)."""

    volume_id: str
    snapshot: str
    snapshot_id: str
    path: str
    format: str
    dry_run: bool
    bytes: int = 0
    sha256: str = None
    capacity_kb: int = 0


def _check_path(path, force):
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise exceptions.InvalidAdminInput(
            name='file', value=path,
            reason='its directory %s does not exist' % folder)
    if os.path.isdir(path):
        raise exceptions.InvalidAdminInput(
            name='file', value=path, reason='it is a directory')
    if os.path.exists(path) and not force:
        raise exceptions.InvalidAdminInput(
            name='file', value=path,
            reason='it exists; choose another name or pass --force to '
                   'replace it')


def export_snapshot(session, volume_id, snapshot, path, force=False,
                    dry_run=False, progress=None):
    """Write the disk of ``snapshot`` of volume ``volume_id`` to ``path``.

    :param snapshot: the snapshot's name or id (moref value).
    :param progress: called as ``progress(done_bytes, total_bytes)`` while
        the disk arrives (``total``: the disk's capacity, an upper bound).
    :returns: a :class:`SnapshotExport` with the file's size and SHA-256.
    :raises exceptions.InvalidAdminInput: unknown snapshot, a file that
        exists (without ``force``) or a missing directory.
    :raises exceptions.ImageTransferError: the transfer failed (the lease
        is aborted and no file is left).
    """
    _ref, tree = snapshot_trees.read_tree(session, volume_id)
    node = snapshot_trees.find_node(tree, volume_id, snapshot)
    _check_path(path, force)
    result = SnapshotExport(volume_id=volume_id, snapshot=node.name,
                            snapshot_id=node.id, path=os.path.abspath(path),
                            format='vmdk (streamOptimized)', dry_run=dry_run)
    if dry_run:
        return result
    target = 'snapshot %s of volume %s' % (node.name, volume_id)
    lease_ref = session.invoke(
        'ExportSnapshot',
        inventory.to_suds(inventory.MoRef('VirtualMachineSnapshot',
                                          node.id)), target=target)
    partial = path + '.part'
    digest = hashlib.sha256()
    try:
        with nfc.leased(session, lease_ref, target) as lease:
            result.capacity_kb = getattr(lease.info, 'totalDiskCapacityInKB',
                                         0) or 0
            urls = lease.disk_urls()
            if len(urls) != 1:
                raise exceptions.ImageTransferError(
                    target=target, reason='the export lease has %d disk '
                    'URLs, expected 1' % len(urls))
            with nfc.download(session, lease, urls[0][1]) as reader, \
                    open(partial, 'wb') as out:
                for chunk in reader:
                    out.write(chunk)
                    digest.update(chunk)
                    result.bytes += len(chunk)
                    if progress is not None:
                        progress(lease.done, lease.total)
                out.flush()
                os.fsync(out.fileno())
        os.replace(partial, path)
    except BaseException:
        if os.path.exists(partial):
            os.unlink(partial)
        raise
    result.sha256 = digest.hexdigest()
    return result
