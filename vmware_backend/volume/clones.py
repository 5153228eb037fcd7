"""Clones: volumes from snapshots and from volumes, linked or full.

Dependencies between linked clones and the snapshots they read from are kept
in the backings' extraConfig (markers on the source, a parent record on the
clone), so they survive restarts.
"""

import time

from oslo_log import log as logging

from vmware_backend import exceptions
from vmware_backend.volume import qos
from vmware_backend.volume import settle
from vmware_backend.volume import volume_types
from vmware_backend.vsphere import inventory
from vmware_backend.vsphere import ops as vsphere_ops
from vmware_backend.vsphere import specs
from vmware_backend.vsphere import storage_policies

LOG = logging.getLogger(__name__)


CLONE_SNAPSHOT_PREFIX = 'clone-'
# A marker younger than this counts as a clone being started (by another
# process: this one knows its own clones), whatever vCenter shows.
MARKER_GRACE = 60


class CloneMixin:
    """Volumes from snapshots and cloned volumes; mixed into the driver."""

    def create_volume_from_snapshot(self, volume, snapshot):
        """Clone the snapshot's state into a new volume.

        ``vmware:clone_type`` linked gives a clone whose child disk reads
        from the snapshot (kept while the clone exists); a linked clone
        cannot be larger than the snapshot, so a larger volume falls back
        to a full clone, logged; so does a volume whose type's storage
        policy the snapshot's datastore does not comply with.
        """
        size = volume_types.checked_size(volume)
        qos.allocation(volume)  # a bad QoS value creates nothing
        policy = self._storage_policy(volume)  # unknown: nothing made
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
        # vCenter gives a clone of a snapshot the extraConfig the source
        # had when the snapshot was taken: dependency records of clones
        # gone since then must be blanked too, not only the current ones.
        taken = self.ops.properties(snap, ('config.extraConfig',),
                                    target='snapshot %s' % snapshot.id)
        self._clone(volume, size, snapshot.volume_id, ref, props, snap,
                    volume_types.snapshot_name(snapshot),
                    copied_extra=vsphere_ops.extra_config_dict(taken),
                    policy=policy)

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
        qos.allocation(volume)  # a bad QoS value creates nothing
        policy = self._storage_policy(volume)  # unknown: nothing made
        if self._already_created(volume, size):
            return
        ref, props = self._require_backing(src_vref.id)
        profile = self._clone_profile(volume, props, src_vref.id)
        # The disk decides, not Cinder's record of the source's size: a
        # linked clone cannot be larger than the disk it reads from.
        source_kb = self._disk(props, src_vref.id).capacityInKB
        if profile.clone_type == 'linked' and \
                specs.gib_to_kib(size) <= source_kb and \
                self._linked_complies(volume, policy, props):
            if volume_types.in_use(src_vref):
                raise exceptions.VolumeIsBusy(
                    volume=src_vref.id,
                    reason='a linked clone needs a snapshot of it, and it '
                           'is attached')
            self._refuse_if_attached(src_vref.id, props)
            self._linked_volume_clone(volume, size, src_vref.id, ref, props,
                                      policy)
            return
        self._clone(volume, size, src_vref.id, ref, props, None, None,
                    policy=policy)

    def _linked_complies(self, volume, policy, source_props):
        """Whether a linked clone (on its source's datastore) may be made.

        Not when the volume type has a storage policy that datastore does
        not comply with: the clone is then a full one on a compliant
        datastore (logged), as for a clone larger than its source.
        """
        if policy is None:
            return True
        source_ds = inventory.from_suds(vsphere_ops.ref_list(
            source_props['datastore'])[0])
        compliant, _why = self._compliant(policy)
        if source_ds in compliant:
            return True
        LOG.info('Volume %s: the datastore of its source does not comply '
                 'with its storage policy %s; making a full clone on a '
                 'compliant datastore instead of a linked one.', volume.id,
                 policy.name)
        return False

    def _linked_volume_clone(self, volume, size, source_id, ref, props,
                             policy=None):
        """A linked clone of a volume, from a snapshot taken for it.

        The marker comes first: whatever happens after it, the marker
        names what may exist (the snapshot ``clone-<id>``, the clone), and
        it is dropped with the snapshot once vCenter shows neither the clone
        nor a task that may still make it. A re-run reuses the snapshot of
        an earlier attempt.
        """
        snap_name = CLONE_SNAPSHOT_PREFIX + volume.id
        snap = None
        with self._hint_lock:
            self._cloning.add(volume.id)
        try:
            self._mark_clone(ref, source_id, volume.id, snap_name)
            snap = vsphere_ops.find_snapshot(props, snap_name)
            if snap is None:
                snap = self._clone_snapshot(ref, snap_name, volume.id,
                                            source_id)
            else:
                LOG.info('Reusing snapshot %s of volume %s left by an '
                         'earlier attempt.', snap_name, source_id)
            self._clone(volume, size, source_id, ref, props, snap,
                        snap_name, marked=True, policy=policy)
        except Exception as err:
            self._release_failed_clone(volume.id, source_id, ref, snap_name,
                                       err, known_snap=snap)
            raise
        finally:
            with self._hint_lock:
                self._cloning.discard(volume.id)

    def _clone_snapshot(self, ref, snap_name, clone_id, source_id):
        """Take snapshot ``snap_name`` of the source for a linked clone.

        When the call's answer or the task is lost, the snapshot is looked
        for by name once vCenter's snapshot tasks on the source have ended;
        a task that ended in error has its snapshot removed.
        """
        target = 'volume %s' % source_id
        try:
            return self._run_task(
                lambda: self.ops.start_create_snapshot(
                    ref, snap_name, 'Kept for linked clone %s' % clone_id,
                    target), target, 'CreateSnapshot_Task')
        except settle.TaskFailure as failure:
            outcome = self._settle(failure, ref, settle.SNAPSHOT_KINDS,
                                   clone_id)
            if outcome.state in (settle.SUCCESS, settle.ENDED):
                snap = vsphere_ops.find_snapshot(
                    self.ops.properties(ref, ('snapshot',)), snap_name)
                if snap is not None:
                    LOG.info('CreateSnapshot_Task of %s failed (%s) but '
                             'vCenter made the snapshot: using it.',
                             snap_name, failure.error)
                    return snap
            raise failure.error from None

    def _release_failed_clone(self, clone_id, source_id, ref, snap_name,
                              error, known_snap=None):
        """After a failed linked clone: drop its snapshot, then its marker.

        Nothing is dropped while the clone exists or a task of ours for it
        may still be running (the marker then protects what the clone
        reads; a later delete drops it once vCenter shows the clone will
        not come). The marker goes only once its snapshot is gone.
        """
        try:
            if self._has_unsettled(clone_id) or \
                    self._backing(clone_id, ('name',)) is not None:
                LOG.warning('Keeping snapshot %s and the marker of clone %s '
                            'on volume %s after %s: the clone exists or may '
                            'still appear.', snap_name, clone_id, source_id,
                            error)
                return
            if snap_name == CLONE_SNAPSHOT_PREFIX + clone_id:
                # Taken for this clone alone (never a Cinder snapshot).
                snap = known_snap or vsphere_ops.find_snapshot(
                    self.ops.properties(ref, ('snapshot',)), snap_name)
                if snap is not None:
                    self.ops.remove_snapshot(snap, 'snapshot %s of volume %s'
                                             % (snap_name, source_id))
            self.ops.set_extra_config(
                ref, specs.clear_marker_entries(clone_id),
                'volume %s' % source_id)
        except Exception:
            # The delete of the failed clone (what Cinder does next)
            # releases the source again.
            with self._hint_lock:
                self._parents[clone_id] = '%s:%s' % (source_id, snap_name)
            LOG.exception('Could not remove snapshot %s or the marker of '
                          'clone %s from volume %s after %s; deleting the '
                          'clone volume tries again, and the next delete of '
                          'the volume or of one of its snapshots drops them.',
                          snap_name, clone_id, source_id, error)

    def _mark_clone(self, source_ref, source_id, clone_id, snapshot_name):
        self.ops.set_extra_config(
            source_ref, specs.marker_entries(clone_id, snapshot_name),
            'volume %s' % source_id)

    def _clone(self, volume, size, source_id, source_ref, source_props,
               snapshot_ref, snapshot_name, marked=False, copied_extra=None,
               policy=None):
        """Clone the source into the backing of ``volume``.

        :param marked: the caller already recorded (and will clear on
            failure) the linked-clone marker on the source (and checked
            the source's datastore complies with ``policy``).
        :param copied_extra: extraConfig vCenter copies into the clone
            besides the source's current one (a snapshot's).
        :param policy: the volume type's storage policy, given to the
            clone and its disk in the clone spec.
        """
        profile = self._clone_profile(volume, source_props, source_id)
        linked = profile.clone_type == 'linked' and snapshot_ref is not None
        source_disk = self._disk(source_props, source_id)
        if linked and specs.gib_to_kib(size) > source_disk.capacityInKB:
            LOG.info('Volume %s is larger than its source; making a full '
                     'clone instead of a linked one.', volume.id)
            linked = False
        if linked and not marked and \
                not self._linked_complies(volume, policy, source_props):
            linked = False
        target = 'volume %s' % volume.id
        name = specs.backing_name(volume_types.volume_name(volume))
        extra = specs.inherited_markers(dict(
            copied_extra or {}, **vsphere_ops.extra_config_dict(source_props)))
        extra.update(specs.clear_marker_entries(volume.id))
        grow = not linked and \
            specs.gib_to_kib(size) > source_disk.capacityInKB
        if linked:
            extra[specs.KEY_PARENT] = '%s:%s' % (source_id, snapshot_name)
        io_edit = self._clone_io_edit(volume, source_disk, snapshot_ref)
        mark = linked and not marked
        if mark:
            with self._hint_lock:
                self._cloning.add(volume.id)
        try:
            if mark:
                # Record the dependency before it exists: the marker is
                # dropped once vCenter shows the clone will not come.
                self._mark_clone(source_ref, source_id, volume.id,
                                 snapshot_name)
            if linked:
                clone = self._linked_clone(source_ref, source_props, name,
                                           volume, extra, snapshot_ref,
                                           target, source_disk,
                                           io_edit, policy)
            else:
                clone = self._full_clone(source_ref, source_disk, name,
                                         volume, size, profile, extra,
                                         snapshot_ref, target, io_edit,
                                         policy)
            self._remember(volume.id, clone)
            if grow:
                with self._cleanup_on_failure(volume.id):
                    self._grow_clone(volume.id, clone, size)
            if profile.multiattach:
                with self._cleanup_on_failure(volume.id):
                    self._set_sharing_of(volume.id, clone, True)
        except Exception as err:
            if mark:
                self._release_failed_clone(volume.id, source_id, source_ref,
                                           snapshot_name, err)
            raise
        finally:
            if mark:
                with self._hint_lock:
                    self._cloning.discard(volume.id)
        LOG.info('Created volume %s as a %s clone of volume %s%s.',
                 volume.id, 'linked' if linked else 'full', source_id,
                 ' (snapshot %s)' % snapshot_name if snapshot_name else '')

    def _clone_io_edit(self, volume, source_disk, snapshot_ref):
        """The disk edit giving the clone its volume type's I/O allocation.

        In the clone spec itself (``config.deviceChange``), so the clone
        never exists without it. None when the source's disk already has it
        (a snapshot's disk may differ from the current one: always sent).
        """
        wanted = qos.complete(qos.allocation(volume))
        if snapshot_ref is None and wanted == qos.of_disk(source_disk):
            return None
        return specs.disk_io_edit(self.session.factory, source_disk,
                                  **wanted._asdict())

    def _linked_clone(self, source_ref, source_props, name, volume, extra,
                      snapshot_ref, target, source_disk, io_edit=None,
                      policy=None):
        # A linked clone stays where its parent disk is.
        factory = self.session.factory
        datastore = vsphere_ops.ref_list(source_props['datastore'])[0]
        location = specs.relocate_spec(
            factory, datastore,
            resource_pool=source_props.get('resourcePool'),
            disk_move_type=specs.LINKED_MOVE_TYPE)
        spec = specs.clone_spec(factory, name, volume.id, location,
                                snapshot=snapshot_ref, extra_entries=extra,
                                owner=self.backend_id)
        if io_edit is not None:
            spec.config.deviceChange = [io_edit]
        if policy is not None:
            storage_policies.apply_to_clone(factory, spec, policy.profile_id,
                                            source_disk.key, datastore)
        return self._create_settled(
            volume, source_disk.capacityInKB, lambda: self.ops.start_clone(
                source_ref, source_props['parent'], name, spec, target),
            target, 'CloneVM_Task', source_ref, settle.CLONE_KINDS)

    def _full_clone(self, source_ref, source_disk, name, volume, size,
                    profile, extra, snapshot_ref, target, io_edit=None,
                    policy=None):
        factory = self.session.factory
        # Only the datastores complying with the storage policy, if any.
        only = {'allowed': self._compliant(policy)} if policy else {}
        place = self.placement.choose(
            size, profile.disk_type,
            pool_name=volume_types.pool_name(volume), target=target, **only)
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
        if io_edit is not None:
            spec.config.deviceChange = [io_edit]
        if policy is not None:
            storage_policies.apply_to_clone(factory, spec, policy.profile_id,
                                            source_disk.key, datastore)
        return self._in_volume_folder(
            place, lambda folder: self._create_settled(
                volume, source_disk.capacityInKB,
                lambda: self.ops.start_clone(source_ref, folder, name, spec,
                                             target),
                target, 'CloneVM_Task', source_ref, settle.CLONE_KINDS))

    def _grow_clone(self, volume_id, clone, size):
        props = self.ops.properties(clone, ('config.hardware.device',))
        disk = self._disk(props, volume_id)
        self.ops.reconfigure(
            clone, specs.extend_disk_spec(self.session.factory, disk, size),
            'volume %s' % volume_id)

    def _live_clones(self, volume_id, ref, extra, snapshot_name=None,
                     props=None):
        """Ids of linked clones that read (or will read) from this volume.

        A marker counts while its clone exists and names this volume (and
        snapshot) as its parent, and while its clone may still be created
        (:meth:`_clone_in_progress`). Other markers, left by a failure or a
        crash or copied into a clone by vCenter, are removed, with the
        temporary snapshot ``clone-<id>`` they name (when ``props`` holds
        the snapshot tree).
        """
        live, stale, snaps = [], {}, []
        for key, snap in sorted(specs.clone_markers(extra).items()):
            clone_id = key[len(specs.KEY_CLONE_PREFIX):]
            found = self._backing(clone_id, ('config.extraConfig',))
            if found is None:
                alive = self._clone_in_progress(extra, clone_id, ref,
                                                props=props, snap=snap)
            else:
                alive = vsphere_ops.extra_config_dict(found[1]).get(
                    specs.KEY_PARENT) == '%s:%s' % (volume_id, snap)
            if not alive:
                stale.update(specs.clear_marker_entries(clone_id))
                if found is None and props is not None and \
                        snap == CLONE_SNAPSHOT_PREFIX + clone_id:
                    snap_ref = vsphere_ops.find_snapshot(props, snap)
                    if snap_ref is not None:
                        snaps.append((snap, snap_ref))
            elif snapshot_name in (None, snap):
                live.append(clone_id)
        snaps.extend(self._orphan_clone_snapshots(ref, extra, props))
        for snap, snap_ref in snaps:
            LOG.info('Removing temporary snapshot %s of volume %s: its clone '
                     'never came.', snap, volume_id)
            self.ops.remove_snapshot(snap_ref, 'snapshot %s of volume %s'
                                     % (snap, volume_id))
        if stale:
            LOG.info('Dropping stale linked-clone markers of volume %s: %s.',
                     volume_id, ', '.join(sorted(stale)))
            self.ops.set_extra_config(ref, stale, 'volume %s' % volume_id)
        return live

    def _orphan_clone_snapshots(self, ref, extra, props):
        """Temporary snapshots without marker whose clone will not come.

        Left when removing a snapshot failed after its marker went.
        """
        found = []
        markers = specs.clone_markers(extra)
        for tree, _depth in vsphere_ops.snapshot_trees(props or {}):
            name = vsphere_ops.tree_name(tree)
            clone_id = name[len(CLONE_SNAPSHOT_PREFIX):]
            if not name.startswith(CLONE_SNAPSHOT_PREFIX) or \
                    specs.KEY_CLONE_PREFIX + clone_id in markers:
                continue
            if self._backing(clone_id, ('name',)) is None and \
                    not self._clone_in_progress(extra, clone_id, ref):
                found.append((name, vsphere_ops.tree_snapshot(tree)))
        return found

    def _clone_in_progress(self, extra, clone_id, source_ref, props=None,
                           snap=None):
        """Whether a marker without its clone may still see it created.

        Decided from what is known, not from the marker's age alone: this
        process is making the clone or waits for a task of it; vCenter
        runs a clone or snapshot task on the source (``recentTask``; it may
        be another process's); or the marker was set less than
        ``MARKER_GRACE`` seconds ago (between the marker and the start of
        the clone task in another process) and the snapshot it names is on
        this VM (a clone made from a snapshot whose config carried markers
        has copies of them, but none of the source's snapshots).
        """
        with self._hint_lock:
            if clone_id in self._cloning or self._unsettled.get(clone_id):
                return True
        since = specs.marker_since(extra, clone_id)
        if since is not None and time.time() - since < MARKER_GRACE and (
                props is None or snap is None or
                vsphere_ops.find_snapshot(props, snap) is not None):
            return True
        for _task, info in self.ops.recent_tasks():
            if settle.busy(info) and settle.matches(
                    info, source_ref,
                    settle.CLONE_KINDS + settle.SNAPSHOT_KINDS):
                return True
        return False

    def _release_parent(self, clone_id, parent):
        """Drop a deleted linked clone's dependency on its source.

        Writes only what is there: the marker, and the snapshot taken for
        this clone alone.
        """
        source_id, _sep, snap_name = parent.partition(':')
        found = self._backing(source_id)
        if found is None:
            return
        ref, props = found
        extra = vsphere_ops.extra_config_dict(props)
        if snap_name == CLONE_SNAPSHOT_PREFIX + clone_id:
            # The snapshot was taken only to serve this clone; it goes
            # first, so a failure leaves the marker naming it.
            snap = vsphere_ops.find_snapshot(props, snap_name)
            if snap is not None:
                self.ops.remove_snapshot(snap, 'snapshot %s of volume %s'
                                         % (snap_name, source_id))
        if extra.get(specs.KEY_CLONE_PREFIX + clone_id) or \
                extra.get(specs.KEY_CLONE_SINCE_PREFIX + clone_id):
            self.ops.set_extra_config(
                ref, specs.clear_marker_entries(clone_id),
                'volume %s' % source_id)
