"""Clones: volumes from snapshots and from volumes, linked or full.

Dependencies between linked clones and the snapshots they read from are kept
in the backings' extraConfig (markers on the source, a parent record on the
clone), so they survive restarts.
"""

import time

from oslo_log import log as logging

from vmware_backend import exceptions
from vmware_backend.volume import volume_types
from vmware_backend.vsphere import inventory
from vmware_backend.vsphere import ops as vsphere_ops
from vmware_backend.vsphere import specs

LOG = logging.getLogger(__name__)


CLONE_SNAPSHOT_PREFIX = 'clone-'


class CloneMixin:
    """Volumes from snapshots and cloned volumes; mixed into the driver."""

    def create_volume_from_snapshot(self, volume, snapshot):
        """Clone the snapshot's state into a new volume.

        ``vmware:clone_type`` linked gives a clone whose child disk reads
        from the snapshot (kept while the clone exists); a linked clone
        cannot be larger than the snapshot, so a larger volume falls back
        to a full clone, logged.
        """
        size = volume_types.checked_size(volume)
        source_size = getattr(snapshot, 'volume_size', None) or \
            getattr(snapshot.volume, 'size', None)
        if source_size and size < source_size:
            raise exceptions.InvalidVolume(
                volume=volume.id,
                reason='size %s GiB is smaller than snapshot %s (%s GiB)'
                       % (size, snapshot.id, source_size))
        if self._already_created(volume, size):
            return
        ref, props = self._require_backing(snapshot.volume_id)
        snap = self._snapshot_of(snapshot, props)
        if snap is None:
            raise exceptions.InvalidSnapshot(
                snapshot=snapshot.id,
                reason='not found on the backing of volume %s'
                       % snapshot.volume_id)
        self._clone(volume, size, snapshot.volume_id, ref, props, snap,
                    volume_types.snapshot_name(snapshot))

    def create_cloned_volume(self, volume, src_vref):
        """Clone a volume's current state into a new volume.

        A full clone copies the disk; a linked clone reads from a snapshot
        of the source taken for it and removed with the clone.
        """
        size = volume_types.checked_size(volume)
        if size < volume_types.checked_size(src_vref):
            raise exceptions.InvalidVolume(
                volume=volume.id,
                reason='size %s GiB is smaller than source volume %s'
                       % (size, src_vref.id))
        profile = volume_types.profile(volume, self.options)
        if self._already_created(volume, size):
            return
        ref, props = self._require_backing(src_vref.id)
        # The disk decides, not Cinder's record of the source's size: a
        # linked clone cannot be larger than the disk it reads from.
        source_kb = self._disk(props, src_vref.id).capacityInKB
        if profile.clone_type == 'linked' and \
                specs.gib_to_kib(size) <= source_kb:
            if volume_types.in_use(src_vref):
                raise exceptions.VolumeIsBusy(
                    volume=src_vref.id,
                    reason='a linked clone needs a snapshot of it, and it '
                           'is attached')
            self._refuse_if_attached(src_vref.id, props)
            snap_name = CLONE_SNAPSHOT_PREFIX + volume.id
            # The marker comes first: a crash after it leaves a marker that
            # expires, never a snapshot nothing points to.
            self._mark_clone(ref, src_vref.id, volume.id, snap_name)
            snap = None
            try:
                snap = self.ops.create_snapshot(
                    ref, snap_name, 'Kept for linked clone %s' % volume.id,
                    'volume %s' % src_vref.id)
                self._clone(volume, size, src_vref.id, ref, props, snap,
                            snap_name, marked=True)
            except exceptions.TaskTimeout:
                # The clone may still appear: keep what it will read from;
                # the record expires if it never does.
                raise
            except Exception:
                if snap is not None:
                    self._remove_quietly(snap, snap_name, src_vref.id)
                self._unmark_clone(ref, src_vref.id, volume.id)
                raise
            return
        self._clone(volume, size, src_vref.id, ref, props, None, None)

    def _mark_clone(self, source_ref, source_id, clone_id, snapshot_name):
        self.ops.set_extra_config(
            source_ref, specs.marker_entries(clone_id, snapshot_name),
            'volume %s' % source_id)

    def _unmark_clone(self, source_ref, source_id, clone_id):
        try:
            self.ops.set_extra_config(
                source_ref, specs.clear_marker_entries(clone_id),
                'volume %s' % source_id)
        except exceptions.VMwareBackendException:
            LOG.exception('Could not remove the marker of clone %s from '
                          'volume %s; it expires, and "vmware-backend-manage '
                          'audit" reports it.', clone_id, source_id)

    def _remove_quietly(self, snap, name, volume_id):
        try:
            self.ops.remove_snapshot(snap, 'snapshot %s of volume %s'
                                     % (name, volume_id))
        except exceptions.VMwareBackendException:
            LOG.exception('Could not remove temporary snapshot %s of volume '
                          '%s; "vmware-backend-manage audit" reports it.',
                          name, volume_id)

    def _clone(self, volume, size, source_id, source_ref, source_props,
               snapshot_ref, snapshot_name, marked=False):
        """Clone the source into the backing of ``volume``.

        :param marked: the caller already recorded (and will clear on
            failure) the linked-clone marker on the source.
        """
        profile = volume_types.profile(volume, self.options)
        linked = profile.clone_type == 'linked' and snapshot_ref is not None
        source_disk = self._disk(source_props, source_id)
        if linked and specs.gib_to_kib(size) > source_disk.capacityInKB:
            LOG.info('Volume %s is larger than its source; making a full '
                     'clone instead of a linked one.', volume.id)
            linked = False
        target = 'volume %s' % volume.id
        name = specs.backing_name(volume_types.volume_name(volume))
        extra = specs.inherited_markers(
            vsphere_ops.extra_config_dict(source_props))
        extra.update(specs.clear_marker_entries(volume.id))
        if linked:
            extra[specs.KEY_PARENT] = '%s:%s' % (source_id, snapshot_name)
            if not marked:
                # Record the dependency before it exists: a crash then
                # leaves a marker that expires, never an unprotected
                # snapshot.
                self._mark_clone(source_ref, source_id, volume.id,
                                 snapshot_name)
        try:
            with self._cleanup_on_failure(volume.id):
                if linked:
                    clone = self._linked_clone(source_ref, source_props,
                                               name, volume.id, extra,
                                               snapshot_ref, target)
                else:
                    clone = self._full_clone(source_ref, source_disk, name,
                                             volume, size, profile, extra,
                                             snapshot_ref, target)
                self._remember(volume.id, clone)
                if not linked and \
                        specs.gib_to_kib(size) > source_disk.capacityInKB:
                    self._grow_clone(volume.id, clone, size)
        except Exception as err:
            # After a timeout the clone may still appear: its record stays
            # (and expires if it never does).
            if linked and not marked and \
                    not isinstance(err, exceptions.TaskTimeout):
                self._unmark_clone(source_ref, source_id, volume.id)
            raise
        LOG.info('Created volume %s as a %s clone of volume %s%s.',
                 volume.id, 'linked' if linked else 'full', source_id,
                 ' (snapshot %s)' % snapshot_name if snapshot_name else '')

    def _linked_clone(self, source_ref, source_props, name, volume_id,
                      extra, snapshot_ref, target):
        # A linked clone stays where its parent disk is.
        factory = self.session.factory
        location = specs.relocate_spec(
            factory, vsphere_ops.ref_list(source_props['datastore'])[0],
            resource_pool=source_props.get('resourcePool'),
            disk_move_type=specs.LINKED_MOVE_TYPE)
        spec = specs.clone_spec(factory, name, volume_id, location,
                                snapshot=snapshot_ref, extra_entries=extra,
                                owner=self.backend_id)
        return self.ops.clone(source_ref, source_props['parent'], name, spec,
                              target)

    def _full_clone(self, source_ref, source_disk, name, volume, size,
                    profile, extra, snapshot_ref, target):
        factory = self.session.factory
        place = self.placement.choose(
            size, profile.disk_type,
            pool_name=volume_types.pool_name(volume), target=target)
        datastore = inventory.to_suds(place.datastore)
        location = specs.relocate_spec(
            factory, datastore, host=inventory.to_suds(place.host),
            resource_pool=inventory.to_suds(place.resource_pool),
            disk_move_type=specs.FULL_MOVE_TYPE,
            disks=[specs.disk_locator(factory, source_disk.key, datastore,
                                      profile.disk_type)])
        spec = specs.clone_spec(factory, name, volume.id, location,
                                snapshot=snapshot_ref, extra_entries=extra,
                                owner=self.backend_id)
        return self._in_volume_folder(
            place, lambda folder: self.ops.clone(source_ref, folder, name,
                                                 spec, target))

    def _grow_clone(self, volume_id, clone, size):
        props = self.ops.properties(clone, ('config.hardware.device',))
        disk = self._disk(props, volume_id)
        self.ops.reconfigure(
            clone, specs.extend_disk_spec(self.session.factory, disk, size),
            'volume %s' % volume_id)

    def _live_clones(self, volume_id, ref, extra, snapshot_name=None):
        """Ids of linked clones that read (or will read) from this volume.

        A marker counts while its clone exists and names this volume (and
        snapshot) as its parent, and while its clone is still being created
        (the marker is set before the clone task starts). Other markers,
        left by a crash or copied into a clone by vCenter, are removed.
        """
        live, stale = [], {}
        for key, snap in sorted(specs.clone_markers(extra).items()):
            clone_id = key[len(specs.KEY_CLONE_PREFIX):]
            found = self._backing(clone_id, ('config.extraConfig',))
            if found is None:
                alive = self._clone_in_progress(extra, clone_id)
            else:
                alive = vsphere_ops.extra_config_dict(found[1]).get(
                    specs.KEY_PARENT) == '%s:%s' % (volume_id, snap)
            if not alive:
                stale.update(specs.clear_marker_entries(clone_id))
            elif snapshot_name in (None, snap):
                live.append(clone_id)
        if stale:
            LOG.info('Dropping stale linked-clone markers of volume %s: %s.',
                     volume_id, ', '.join(sorted(stale)))
            self.ops.set_extra_config(ref, stale, 'volume %s' % volume_id)
        return live

    def _clone_in_progress(self, extra, clone_id):
        """Whether a marker without its clone may still see it created.

        A clone task cannot outlive its deadline; twice that (and a minute)
        after the marker was set, the clone is not coming.
        """
        since = specs.marker_since(extra, clone_id)
        if since is None:
            return False
        grace = 2 * self.options['vcenter_task_timeout'] + 60
        return time.time() - since < grace

    def _release_parent(self, clone_id, parent):
        """Drop a deleted linked clone's dependency on its source."""
        source_id, _sep, snap_name = parent.partition(':')
        found = self._backing(source_id)
        if found is None:
            return
        ref, props = found
        self.ops.set_extra_config(ref, specs.clear_marker_entries(clone_id),
                                  'volume %s' % source_id)
        if snap_name.startswith(CLONE_SNAPSHOT_PREFIX):
            # The snapshot was taken only to serve this clone.
            snap = vsphere_ops.find_snapshot(props, snap_name)
            if snap is not None:
                self.ops.remove_snapshot(snap, 'snapshot %s of volume %s'
                                         % (snap_name, source_id))
