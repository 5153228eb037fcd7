"""Snapshots of a volume: the backing's vSphere snapshots.
"""

from oslo_log import log as logging

from vmware_backend import exceptions
from vmware_backend.volume import multiattach
from vmware_backend.volume import settle
from vmware_backend.volume import volume_types
from vmware_backend.vsphere import ops as vsphere_ops

LOG = logging.getLogger(__name__)


class SnapshotMixin:
    """Snapshot create, delete and revert; mixed into the driver."""

    def create_snapshot(self, snapshot):
        """Snapshot the backing (no memory, no quiescing)."""
        volume = snapshot.volume
        name = volume_types.snapshot_name(snapshot)
        if volume_types.in_use(volume):
            raise exceptions.SnapshotIsBusy(
                snapshot=snapshot.id,
                reason='volume %s is attached; the instance writes to its '
                       'disk directly' % volume.id)
        if volume_types.multiattach(volume):
            # Cinder's flag, kept equal to the disk's multi-writer flag by
            # create and retype: no device list read for every snapshot.
            raise exceptions.SnapshotIsBusy(
                snapshot=snapshot.id,
                reason='volume %s is a multi-attach volume: %s'
                       % (volume.id, multiattach.NO_SNAPSHOT))
        # The snapshot tree, with the attachment marks of the VMs on its
        # datastores in the same call; no markers of its own needed.
        ref, props = self._require_backing(
            volume.id, vsphere_ops.SNAPSHOT_PROPERTIES, markers=False,
            marks=True)
        self._refuse_if_attached(volume.id, props, snapshot=snapshot)
        if vsphere_ops.find_snapshot(props, name) is not None:
            LOG.info('Snapshot %s already exists.', name)
            return None
        self.ops.create_snapshot(
            ref, name, 'Snapshot %s of volume %s' % (snapshot.id, volume.id),
            'snapshot %s of volume %s' % (snapshot.id, volume.id))
        LOG.info('Created snapshot %s of volume %s.', name, volume.id)
        return None

    def _snapshot_of(self, snapshot, props):
        return vsphere_ops.find_snapshot(props,
                                         volume_types.snapshot_name(snapshot))

    def delete_snapshot(self, snapshot):
        """Remove the snapshot; a missing one is already gone.

        Refused while a linked clone reads from it. When it is not found, a
        snapshot task running on the backing (another service may have
        died after starting it) is waited for first.
        """
        volume_id = snapshot.volume_id
        # Plain values read as XML (no suds objects needed).
        found = self._backing(volume_id, vsphere_ops.TREE_PROPERTIES,
                              raw=True)
        if found is None:
            return
        ref, props = found
        name = volume_types.snapshot_name(snapshot)
        snap = vsphere_ops.find_snapshot(props, name)
        if snap is None:
            # A service that died may have left the snapshot task running.
            waited, running = self._await_others(settle.SNAPSHOT_KINDS, ref)
            if running:
                raise exceptions.SnapshotIsBusy(
                    snapshot=snapshot.id,
                    reason='snapshot task(s) %s are still running on the '
                           'backing of volume %s' % (', '.join(running),
                                                     volume_id))
            if waited:
                found = self._backing(volume_id, vsphere_ops.STATE_PROPERTIES)
                if found is None:
                    return
                ref, props = found
                snap = vsphere_ops.find_snapshot(props, name)
        if snap is None:
            LOG.info('Snapshot %s not found; nothing to delete.', name)
            return
        extra = vsphere_ops.extra_config_dict(props)
        clones = self._live_clones(volume_id, ref, extra, snapshot_name=name,
                                   props=props)
        if clones:
            raise exceptions.SnapshotIsBusy(
                snapshot=snapshot.id,
                reason='linked clone(s) %s read from it' % ', '.join(clones))
        self.ops.remove_snapshot(snap, 'snapshot %s of volume %s'
                                 % (snapshot.id, volume_id))
        LOG.info('Deleted snapshot %s of volume %s.', name, volume_id)

    def revert_to_snapshot(self, context, volume, snapshot):
        """Revert the volume's disk to the snapshot."""
        if volume_types.in_use(volume):
            raise exceptions.VolumeIsBusy(volume=volume.id,
                                          reason='it is attached')
        ref, props = self._require_backing(volume.id)
        snap = self._snapshot_of(snapshot, props)
        if snap is None:
            raise exceptions.InvalidSnapshot(
                snapshot=snapshot.id,
                reason='not found on the backing of volume %s' % volume.id)
        self.ops.revert_to_snapshot(snap, 'snapshot %s of volume %s'
                                    % (snapshot.id, volume.id))
        LOG.info('Reverted volume %s to snapshot %s.', volume.id,
                 snapshot.id)
