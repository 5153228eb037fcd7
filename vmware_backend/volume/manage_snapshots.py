"""Importing an existing vSphere snapshot of a volume's backing, and back.

A snapshot of a volume is found by name (Cinder's ``snapshot-<id>``); an
import renames the backing's existing snapshot to that name
(``VirtualMachineSnapshot.RenameSnapshot``), so every snapshot operation
finds it as if Cinder had made it. ``unmanage_snapshot`` renames it to
``unmanaged-<id>``: it stays, and no Cinder snapshot name matches it.

A rename whose answer was lost is settled by reading the tree again: a
snapshot vCenter renamed is imported (once), never reported failed (Cinder
would leave it ``error`` and the user's delete would remove it).
"""

from oslo_log import log as logging

from vmware_backend import exceptions
from vmware_backend.volume import clones
from vmware_backend.volume import datastore as datastore_mod
from vmware_backend.volume import manage_refs as refs
from vmware_backend.volume import manageable_snapshots
from vmware_backend.volume import volume_types
from vmware_backend.vsphere import ops as vsphere_ops
from vmware_backend.vsphere import vm_disks

LOG = logging.getLogger(__name__)

UNMANAGED_PREFIX = 'unmanaged-'


class ManageSnapshotsMixin:
    """manage_existing_snapshot(_get_size) and unmanage_snapshot."""

    def _snapshot_import(self, snapshot, existing_ref):
        """(backing ref, props, snapshot tree) the reference names.

        :raises exceptions.InvalidReference: naming why.
        """
        if not isinstance(existing_ref, dict) or len(
                {'source-name', 'source-id'} & set(existing_ref)) != 1:
            raise exceptions.InvalidReference(
                existing_ref=existing_ref,
                reason='give a snapshot of the backing of volume %s as '
                       'source-name (its name) or source-id (its moref)'
                       % snapshot.volume_id)
        volume_id = snapshot.volume_id
        ref, props = self._require_backing(volume_id)
        trees = [tree for tree, _depth in vsphere_ops.snapshot_trees(props)]
        if 'source-id' in existing_ref:
            key = existing_ref['source-id']
            found = [t for t in trees
                     if vsphere_ops.moref_value(t.snapshot) == key]
        else:
            key = existing_ref['source-name']
            found = [t for t in trees if t.name == key]
        wanted = volume_types.snapshot_name(snapshot)
        if not found:
            # A retried import: the first attempt renamed it already.
            found = [t for t in trees if t.name == wanted][:1]
        if not found:
            raise exceptions.InvalidReference(
                existing_ref=existing_ref,
                reason='no snapshot %s on the backing of volume %s; its '
                       'snapshots: %s' % (key, volume_id, ', '.join(
                           t.name for t in trees) or 'none'))
        if len(found) > 1:
            raise exceptions.InvalidReference(
                existing_ref=existing_ref,
                reason='ambiguous: %d snapshots are called %s; use the '
                       'moref value as source-id (%s)' % (
                           len(found), key, ', '.join(
                               vsphere_ops.moref_value(t.snapshot)
                               for t in found)))
        tree = found[0]
        if tree.name == wanted:
            return ref, props, tree
        if tree.name.startswith(clones.CLONE_SNAPSHOT_PREFIX):
            raise exceptions.InvalidReference(
                existing_ref=existing_ref,
                reason='%s is a temporary snapshot of a linked clone'
                       % tree.name)
        if manageable_snapshots.cinder_snapshot_id(tree.name):
            raise exceptions.InvalidReference(
                existing_ref=existing_ref,
                reason='%s is already managed (Cinder snapshot name)'
                       % tree.name)
        if any(t.name == wanted for t in trees):
            raise exceptions.InvalidReference(
                existing_ref=existing_ref,
                reason='the backing already has a snapshot called %s'
                       % wanted)
        return ref, props, tree

    def manage_existing_snapshot_get_size(self, snapshot, existing_ref):
        """Size in GiB (rounded up) of the volume the snapshot is of."""
        _ref, props, _tree = self._snapshot_import(snapshot, existing_ref)
        disk = self._disk(props, snapshot.volume_id)
        return refs.size_gb(disk.capacityInKB)

    def manage_existing_snapshot(self, snapshot, existing_ref):
        """Adopt a snapshot of the volume's backing (renamed to Cinder's)."""
        _ref, _props, tree = self._snapshot_import(snapshot, existing_ref)
        wanted = volume_types.snapshot_name(snapshot)
        if tree.name == wanted:
            LOG.info('Snapshot %s is already managed.', wanted)
            return None
        try:
            self._rename_snapshot(
                tree.snapshot, wanted,
                'Snapshot %s of volume %s (imported from %s)'
                % (snapshot.id, snapshot.volume_id, tree.name),
                'snapshot %s' % snapshot.id)
        except exceptions.VMwareBackendException:
            # The answer may be lost after vCenter renamed it: reported as
            # a failure, Cinder's snapshot would be 'error' and the user's
            # delete would remove the imported snapshot. The tree decides.
            if self._snapshot_name(snapshot.volume_id,
                                   tree.snapshot) != wanted:
                raise
            LOG.warning('The answer to renaming snapshot %s to %s was lost; '
                        'vCenter renamed it.', tree.name, wanted)
        LOG.info('Imported snapshot %s of volume %s as %s.', tree.name,
                 snapshot.volume_id, wanted)
        return None

    def unmanage_snapshot(self, snapshot):
        """Forget the snapshot: it stays, renamed ``unmanaged-<id>``."""
        found = self._backing(snapshot.volume_id)
        name = volume_types.snapshot_name(snapshot)
        snap = vsphere_ops.find_snapshot(found[1], name) if found else None
        if snap is None:
            LOG.info('Snapshot %s not found; nothing to unmanage.', name)
            return
        self._rename_snapshot(snap, UNMANAGED_PREFIX + snapshot.id, None,
                              'snapshot %s' % snapshot.id)

    # Listing ---------------------------------------------------------------

    def get_manageable_snapshots(self, cinder_snapshots, marker, limit,
                                 offset, sort_keys, sort_dirs):
        """Snapshots of this backend's backings that can be imported.

        The same one paged ContainerView read of all VMs as
        ``get_manageable_volumes``; entries as Cinder's
        ``get_manageable_snapshots`` returns them (with
        ``source_reference``), paged and sorted as Cinder's
        ``volume_utils.paginate_entries_list`` does.
        """
        entries = self.manageable_snapshot_entries(cinder_snapshots)
        return refs.paginate(entries, marker, limit, offset, sort_keys,
                             sort_dirs)

    def manageable_snapshot_entries(self, cinder_snapshots=()):
        """All manageable-snapshot entries, unsorted (see above)."""
        ids = {getattr(s, 'id', None) or s['id'] for s in cinder_snapshots}
        hosts, _missing = datastore_mod.cluster_hosts(
            self.placement.inventory(),
            self.options.get('vcenter_cluster_names'))
        return manageable_snapshots.snapshot_candidates(
            vm_disks.read(self.session, raw=self.raw_reads), ids, hosts)

    def _snapshot_name(self, volume_id, snap):
        """The current name of snapshot ``snap`` of the volume's backing."""
        _ref, props = self._require_backing(volume_id)
        for tree, _depth in vsphere_ops.snapshot_trees(props):
            if vsphere_ops.moref_value(tree.snapshot) == \
                    vsphere_ops.moref_value(snap):
                return tree.name
        return None

    def _rename_snapshot(self, snap, name, description, target):
        kwargs = {'name': name}
        if description:
            kwargs['description'] = description
        self.session.invoke('RenameSnapshot', snap, target=target, **kwargs)
