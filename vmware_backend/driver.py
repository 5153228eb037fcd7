"""The volume lifecycle on vCenter, in Cinder's vocabulary.

A volume is a "backing" VM holding one virtual disk. Its identity is the VM's
``instanceUuid`` (= the volume id), found through the SearchIndex; a moref
cached from an earlier call is only a hint, re-resolved once when vCenter
says the object is gone. Dependencies between linked clones and the
snapshots they read from are kept in the backings' extraConfig, so they
survive restarts.

Method names and signatures follow Cinder's volume driver interface; volume
and snapshot objects are read by attribute only, so Cinder's objects and
plain ones both work. Nothing here imports Cinder.
"""

import threading
import time

from oslo_log import log as logging

from vmware_backend import exceptions
from vmware_backend import inventory
from vmware_backend import placement as placement_mod
from vmware_backend import session as vc_session
from vmware_backend import vm_util
from vmware_backend import volume_types
from vmware_backend import volumeops

LOG = logging.getLogger(__name__)

VERSION = '1.0.0'
VENDOR = 'VMware'
STORAGE_PROTOCOL = 'vmdk'
CLONE_SNAPSHOT_PREFIX = 'clone-'


class VMwareVolumeDriver:
    """Maps Cinder volume operations onto vCenter.

    :param options: option values, see :func:`vmware_backend.conf.
        read_options`.
    :param session: a :class:`~vmware_backend.session.VCenterSession`; one
        is made from ``options`` when omitted.
    """

    VERSION = VERSION

    def __init__(self, options, session=None, placement=None):
        self.options = dict(options)
        self._session = session
        self._placement = placement
        self._ops = None
        self._hints = {}
        self._hint_lock = threading.Lock()
        self._stats = None

    # Set-up ------------------------------------------------------------

    @property
    def session(self):
        if self._session is None:
            self._session = vc_session.VCenterSession(self.options)
        return self._session

    @property
    def ops(self):
        if self._ops is None:
            self._ops = volumeops.VolumeOps(self.session)
        return self._ops

    @property
    def placement(self):
        if self._placement is None:
            self._placement = placement_mod.PlacementService(self.session,
                                                             self.options)
        return self._placement

    def do_setup(self, context=None):
        """Log in to vCenter; errors name the server and the user."""
        self.session.api

    def check_for_setup_error(self):
        """Check that the configured clusters exist and have a pool."""
        pools = self.placement.pools(refresh=True)
        if not pools:
            LOG.warning('No usable datastore found: %s',
                        self.placement.rejected())

    def get_volume_stats(self, refresh=False):
        """Backend statistics with one pool per usable datastore."""
        if self._stats is None or refresh:
            pools = self.placement.pools(refresh=refresh)
            self._stats = {
                'volume_backend_name': self.options['vcenter_backend_name'],
                'vendor_name': VENDOR,
                'driver_version': VERSION,
                'storage_protocol': STORAGE_PROTOCOL,
                'total_capacity_gb': round(sum(
                    p['total_capacity_gb'] for p in pools), 2),
                'free_capacity_gb': round(sum(
                    p['free_capacity_gb'] for p in pools), 2),
                'reserved_percentage':
                    self.options['vcenter_reserved_percentage'],
                'max_over_subscription_ratio':
                    self.options['vcenter_max_over_subscription_ratio'],
                'thin_provisioning_support': True,
                'thick_provisioning_support': True,
                'multiattach': False,
                'online_extend_support': False,
                'pools': pools,
            }
        return self._stats

    # Look-ups ------------------------------------------------------------

    def _remember(self, volume_id, ref):
        with self._hint_lock:
            if ref is None:
                self._hints.pop(volume_id, None)
            else:
                self._hints[volume_id] = ref

    def _backing(self, volume_id, paths=volumeops.BACKING_PROPERTIES):
        """(moref, properties) of the backing of ``volume_id`` or None.

        Tries the cached moref first; when vCenter says it is gone (or it
        now belongs to another VM), looks the backing up again by
        instanceUuid, once.
        """
        with self._hint_lock:
            hint = self._hints.get(volume_id)
        paths = tuple(paths)
        if 'config.instanceUuid' not in paths:
            paths += ('config.instanceUuid',)
        if hint is not None:
            try:
                props = self.ops.properties(hint, paths)
                if props.get('config.instanceUuid') == volume_id:
                    return hint, props
            except exceptions.VCenterFault as err:
                if err.fault not in ('ManagedObjectNotFound',
                                     'ManagedObjectNotFoundException'):
                    raise
            self._remember(volume_id, None)
        ref = self.ops.find_vm_by_instance_uuid(volume_id)
        if ref is None:
            return None
        props = self.ops.properties(ref, paths)
        self._remember(volume_id, ref)
        return ref, props

    def _require_backing(self, volume_id):
        found = self._backing(volume_id)
        if found is None:
            raise exceptions.BackingNotFound(volume=volume_id)
        return found

    @staticmethod
    def _disk(props, volume_id):
        disks = vm_util.disks(volumeops.devices_of(props))
        if len(disks) != 1:
            raise exceptions.InvalidVolume(
                volume=volume_id,
                reason='backing has %d disks, expected 1' % len(disks))
        return disks[0]

    def _volume_folder(self, vm_folder):
        return self.ops.ensure_folder(inventory.to_suds(vm_folder),
                                      self.options['vcenter_volume_folder'])

    def _in_volume_folder(self, place, create):
        """``create(folder)`` in the volume folder of ``place``.

        The folder's moref is cached; when vCenter says it is gone (an
        administrator removed it), it is found or created again, once.
        """
        try:
            return create(self._volume_folder(place.vm_folder))
        except exceptions.VCenterFault as err:
            if err.fault != 'ManagedObjectNotFound':
                raise
            self.ops.forget_folder(inventory.to_suds(place.vm_folder),
                                   self.options['vcenter_volume_folder'])
            return create(self._volume_folder(place.vm_folder))

    # Volumes ---------------------------------------------------------------

    def create_volume(self, volume):
        """Create the volume's backing VM with one disk of its size."""
        size = volume_types.checked_size(volume)
        profile = volume_types.profile(volume, self.options)
        if self._already_created(volume, size):
            return None
        target = 'volume %s' % volume.id
        place = self.placement.choose(size, profile.disk_type,
                                      pool_name=volume_types.pool_name(volume),
                                      target=target)
        spec = vm_util.backing_config_spec(
            self.session.factory,
            vm_util.backing_name(volume_types.volume_name(volume)),
            volume.id, size, profile.disk_type, profile.adapter_type,
            place.datastore_name, self.options['vcenter_backing_memory_mb'])
        with self._cleanup_on_failure(volume.id):
            ref = self._in_volume_folder(
                place, lambda folder: self.ops.create_backing(
                    folder, inventory.to_suds(place.resource_pool),
                    inventory.to_suds(place.host), spec, target))
        self._remember(volume.id, ref)
        LOG.info('Created backing %s of volume %s (%s GiB, %s, %s) on '
                 'datastore %s.', volumeops.moref_value(ref), volume.id,
                 size, profile.disk_type, profile.adapter_type,
                 place.datastore_name)
        return None

    def _already_created(self, volume, size):
        """Whether a backing for ``volume`` exists already (and fits).

        A retried create finds the backing of its earlier attempt: the same
        volume and size is success, anything else an error; never a second
        VM with the same instanceUuid.
        """
        existing = self._backing(volume.id)
        if existing is None:
            return False
        self._check_existing(volume, existing[1], size)
        return True

    def _check_existing(self, volume, props, size):
        extra = volumeops.extra_config_dict(props)
        if extra.get(vm_util.KEY_VOLUME_ID) != volume.id:
            raise exceptions.InvalidVolume(
                volume=volume.id,
                reason='VM %s already uses this id as instanceUuid and is '
                       'not a backing of this backend' % props.get('name'))
        disk = self._disk(props, volume.id)
        if disk.capacityInKB != vm_util.gib_to_kib(size):
            raise exceptions.InvalidVolume(
                volume=volume.id,
                reason='a backing of %s KiB already exists'
                       % disk.capacityInKB)
        LOG.info('Backing of volume %s already exists.', volume.id)

    def _cleanup_on_failure(self, volume_id):
        return _DestroyOnFailure(self, volume_id)

    def _destroy_leftover(self, volume_id):
        """Destroy whatever backing a failed operation left for the id."""
        self._remember(volume_id, None)
        ref = self.ops.find_vm_by_instance_uuid(volume_id)
        if ref is not None:
            LOG.warning('Removing backing %s left by a failed operation on '
                        'volume %s.', volumeops.moref_value(ref), volume_id)
            self.ops.destroy(ref, 'volume %s' % volume_id)

    def delete_volume(self, volume):
        """Destroy the backing; a volume without backing is already gone.

        Refused while a linked clone depends on one of its snapshots.
        """
        if volume_types.in_use(volume):
            raise exceptions.VolumeIsBusy(volume=volume.id,
                                          reason='it is attached')
        found = self._backing(volume.id)
        if found is None:
            LOG.info('Volume %s has no backing; nothing to delete.',
                     volume.id)
            return
        ref, props = found
        extra = volumeops.extra_config_dict(props)
        clones = self._live_clones(volume.id, ref, extra)
        if clones:
            raise exceptions.VolumeIsBusy(
                volume=volume.id,
                reason='linked clone(s) %s depend on its snapshots'
                       % ', '.join(clones))
        self.ops.destroy(ref, 'volume %s' % volume.id)
        self._remember(volume.id, None)
        parent = extra.get(vm_util.KEY_PARENT)
        if parent:
            try:
                self._release_parent(volume.id, parent)
            except exceptions.VMwareBackendException:
                LOG.exception('Volume %s is deleted, but its source %s still '
                              'records it as a linked clone; '
                              '"vmware-backend-manage audit" reports it.',
                              volume.id, parent)
        LOG.info('Deleted backing of volume %s.', volume.id)

    def _live_clones(self, volume_id, ref, extra, snapshot_name=None):
        """Ids of linked clones that read (or will read) from this volume.

        A marker counts while its clone exists and names this volume (and
        snapshot) as its parent, and while its clone is still being created
        (the marker is set before the clone task starts). Other markers,
        left by a crash or copied into a clone by vCenter, are removed.
        """
        live, stale = [], {}
        for key, snap in sorted(vm_util.clone_markers(extra).items()):
            clone_id = key[len(vm_util.KEY_CLONE_PREFIX):]
            found = self._backing(clone_id, ('config.extraConfig',))
            if found is None:
                alive = self._clone_in_progress(extra, clone_id)
            else:
                alive = volumeops.extra_config_dict(found[1]).get(
                    vm_util.KEY_PARENT) == '%s:%s' % (volume_id, snap)
            if not alive:
                stale.update(vm_util.clear_marker_entries(clone_id))
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
        since = vm_util.marker_since(extra, clone_id)
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
        self.ops.set_extra_config(ref, vm_util.clear_marker_entries(clone_id),
                                  'volume %s' % source_id)
        if snap_name.startswith(CLONE_SNAPSHOT_PREFIX):
            # The snapshot was taken only to serve this clone.
            snap = volumeops.find_snapshot(props, snap_name)
            if snap is not None:
                self.ops.remove_snapshot(snap, 'snapshot %s of volume %s'
                                         % (snap_name, source_id))

    def extend_volume(self, volume, new_size):
        """Grow the volume's disk to ``new_size`` GiB.

        vSphere cannot grow a disk that has snapshots or is a linked clone's
        child disk; both are refused with an error saying so.
        """
        new_size = volume_types.checked_size(volume, new_size)
        if volume_types.in_use(volume):
            raise exceptions.VolumeIsBusy(
                volume=volume.id,
                reason='it is attached; this driver does not extend '
                       'attached volumes')
        ref, props = self._require_backing(volume.id)
        disk = self._disk(props, volume.id)
        current_kb = disk.capacityInKB
        if vm_util.gib_to_kib(new_size) <= current_kb:
            raise exceptions.InvalidVolume(
                volume=volume.id,
                reason='new size %s GiB is not larger than the current '
                       '%s GiB; volumes cannot shrink'
                       % (new_size, current_kb / (1024 * 1024)))
        self._check_extendable(volume.id, props, disk)
        spec = vm_util.extend_disk_spec(self.session.factory, disk, new_size)
        self.ops.reconfigure(ref, spec, 'volume %s' % volume.id)
        LOG.info('Extended volume %s to %s GiB.', volume.id, new_size)

    @staticmethod
    def _check_extendable(volume_id, props, disk):
        if volumeops.snapshot_trees(props):
            raise exceptions.InvalidVolume(
                volume=volume_id,
                reason='it has snapshots; vSphere cannot extend a disk with '
                       'snapshots, delete them first')
        if getattr(disk.backing, 'parent', None) is not None:
            raise exceptions.InvalidVolume(
                volume=volume_id,
                reason='it is a linked clone; vSphere cannot extend its '
                       'child disk')

    # Snapshots -------------------------------------------------------------

    def create_snapshot(self, snapshot):
        """Snapshot the backing (no memory, no quiescing)."""
        volume = snapshot.volume
        name = volume_types.snapshot_name(snapshot)
        if volume_types.in_use(volume):
            raise exceptions.SnapshotIsBusy(
                snapshot=snapshot.id,
                reason='volume %s is attached; the instance writes to its '
                       'disk directly' % volume.id)
        ref, props = self._require_backing(volume.id)
        if volumeops.find_snapshot(props, name) is not None:
            LOG.info('Snapshot %s already exists.', name)
            return None
        self.ops.create_snapshot(
            ref, name, 'Snapshot %s of volume %s' % (snapshot.id, volume.id),
            'snapshot %s of volume %s' % (snapshot.id, volume.id))
        LOG.info('Created snapshot %s of volume %s.', name, volume.id)
        return None

    def _snapshot_of(self, snapshot, props):
        return volumeops.find_snapshot(props,
                                       volume_types.snapshot_name(snapshot))

    def delete_snapshot(self, snapshot):
        """Remove the snapshot; a missing one is already gone.

        Refused while a linked clone reads from it.
        """
        volume_id = snapshot.volume_id
        found = self._backing(volume_id)
        if found is None:
            return
        ref, props = found
        name = volume_types.snapshot_name(snapshot)
        snap = volumeops.find_snapshot(props, name)
        if snap is None:
            LOG.info('Snapshot %s not found; nothing to delete.', name)
            return
        extra = volumeops.extra_config_dict(props)
        clones = self._live_clones(volume_id, ref, extra, snapshot_name=name)
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

    # Clones ------------------------------------------------------------

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
                vm_util.gib_to_kib(size) <= source_kb:
            if volume_types.in_use(src_vref):
                raise exceptions.VolumeIsBusy(
                    volume=src_vref.id,
                    reason='a linked clone needs a snapshot of it, and it '
                           'is attached')
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
            source_ref, vm_util.marker_entries(clone_id, snapshot_name),
            'volume %s' % source_id)

    def _unmark_clone(self, source_ref, source_id, clone_id):
        try:
            self.ops.set_extra_config(
                source_ref, vm_util.clear_marker_entries(clone_id),
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
        if linked and vm_util.gib_to_kib(size) > source_disk.capacityInKB:
            LOG.info('Volume %s is larger than its source; making a full '
                     'clone instead of a linked one.', volume.id)
            linked = False
        target = 'volume %s' % volume.id
        name = vm_util.backing_name(volume_types.volume_name(volume))
        extra = vm_util.inherited_markers(
            volumeops.extra_config_dict(source_props))
        extra.update(vm_util.clear_marker_entries(volume.id))
        if linked:
            extra[vm_util.KEY_PARENT] = '%s:%s' % (source_id, snapshot_name)
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
                        vm_util.gib_to_kib(size) > source_disk.capacityInKB:
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
        location = vm_util.relocate_spec(
            factory, volumeops.ref_list(source_props['datastore'])[0],
            resource_pool=source_props.get('resourcePool'),
            disk_move_type=vm_util.LINKED_MOVE_TYPE)
        spec = vm_util.clone_spec(factory, name, volume_id, location,
                                  snapshot=snapshot_ref, extra_entries=extra)
        return self.ops.clone(source_ref, source_props['parent'], name, spec,
                              target)

    def _full_clone(self, source_ref, source_disk, name, volume, size,
                    profile, extra, snapshot_ref, target):
        factory = self.session.factory
        place = self.placement.choose(
            size, profile.disk_type,
            pool_name=volume_types.pool_name(volume), target=target)
        datastore = inventory.to_suds(place.datastore)
        location = vm_util.relocate_spec(
            factory, datastore, host=inventory.to_suds(place.host),
            resource_pool=inventory.to_suds(place.resource_pool),
            disk_move_type=vm_util.FULL_MOVE_TYPE,
            disks=[vm_util.disk_locator(factory, source_disk.key, datastore,
                                        profile.disk_type)])
        spec = vm_util.clone_spec(factory, name, volume.id, location,
                                  snapshot=snapshot_ref, extra_entries=extra)
        return self._in_volume_folder(
            place, lambda folder: self.ops.clone(source_ref, folder, name,
                                                 spec, target))

    def _grow_clone(self, volume_id, clone, size):
        props = self.ops.properties(clone, ('config.hardware.device',))
        disk = self._disk(props, volume_id)
        self.ops.reconfigure(
            clone, vm_util.extend_disk_spec(self.session.factory, disk, size),
            'volume %s' % volume_id)

    # Connections -------------------------------------------------------

    def initialize_connection(self, volume, connector):
        """Connection info in the format Nova's vmwareapi driver reads.

        When ``connector['instance']`` names an instance VM whose host
        cannot see the backing's datastore, the backing is first moved to a
        datastore that host mounts. Never contains credentials.
        """
        ref, props = self._require_backing(volume.id)
        instance = (connector or {}).get('instance')
        if instance:
            self._make_visible_to(volume, ref, props, instance)
        return {
            'driver_volume_type': STORAGE_PROTOCOL,
            'data': {
                'volume': volumeops.moref_value(ref),
                'volume_id': volume.id,
                'name': volume_types.volume_name(volume),
                'profile_id': None,
                'qos_specs': None,
                'access_mode': 'rw',
                'encrypted': False,
            },
        }

    def terminate_connection(self, volume, connector, **kwargs):
        """Nothing to undo on the storage side: attach is done by Nova."""
        return None

    def _make_visible_to(self, volume, ref, props, instance):
        inst_ref = volumeops.moref('VirtualMachine', instance)
        host = self.ops.properties(inst_ref, ('runtime.host',),
                                   target='instance %s' % instance)
        host = host.get('runtime.host')
        if host is None:
            return
        mounted = {pool.datastore.value for pool in
                   self.placement.datastores_for_host(host)}
        current = [volumeops.moref_value(d) for d in
                   volumeops.ref_list(props.get('datastore'))]
        if any(value in mounted for value in current):
            return
        extra = volumeops.extra_config_dict(props)
        if extra.get(vm_util.KEY_PARENT) or vm_util.clone_markers(extra):
            raise exceptions.VolumeAttachmentError(
                action='attach', volume=volume.id, instance=instance,
                reason='its host cannot see the volume\'s datastore and '
                       'linked clones tie the volume to it')
        size = self._disk(props, volume.id).capacityInKB // (1024 * 1024)
        place = self.placement.choose(
            size, volume_types.profile(volume, self.options).disk_type,
            target='volume %s' % volume.id, host=inventory.from_suds(host))
        LOG.info('Moving volume %s to datastore %s, which host %s of '
                 'instance %s mounts.', volume.id, place.datastore_name,
                 volumeops.moref_value(host), instance)
        self.ops.relocate(ref, vm_util.relocate_spec(
            self.session.factory, inventory.to_suds(place.datastore),
            host=inventory.to_suds(place.host),
            resource_pool=inventory.to_suds(place.resource_pool)),
            'volume %s' % volume.id)
        self.placement.invalidate()

    # Instance side (what Nova's vmwareapi volumeops does) -----------------

    def attach_volume(self, instance_ref, volume):
        """Attach the volume's vmdk file to an instance VM.

        Attaching an already attached volume is a no-op (idempotent).
        """
        inst = self._instance(instance_ref)
        disk = self._disk(self._require_backing(volume.id)[1], volume.id)
        inst_props = self.ops.properties(inst, volumeops.INSTANCE_PROPERTIES)
        devices = volumeops.devices_of(inst_props)
        file_name = disk.backing.fileName
        if self._attached_disk(inst_props, volume.id, file_name) is not None:
            LOG.info('Volume %s is already attached to %s.', volume.id,
                     volumeops.moref_value(inst))
            return
        adapter = volume_types.profile(volume, self.options).adapter_type
        key, unit, bus = vm_util.find_slot(devices, adapter)
        if key is None:
            raise exceptions.VolumeAttachmentError(
                action='attach', volume=volume.id,
                instance=volumeops.moref_value(inst),
                reason='no free %s controller slot' % adapter)
        new_controller = None
        if bus is not None:
            new_controller = vm_util.controller_spec(
                self.session.factory, adapter, key, bus_number=bus)
        spec = vm_util.attach_disk_spec(
            self.session.factory, file_name, key, unit, volume.id,
            disk_uuid=getattr(disk.backing, 'uuid', None),
            new_controller=new_controller)
        self.ops.reconfigure(inst, spec, 'instance %s'
                             % volumeops.moref_value(inst))
        LOG.info('Attached volume %s to %s.', volume.id,
                 volumeops.moref_value(inst))

    def detach_volume(self, instance_ref, volume):
        """Remove the volume's disk from the instance, keeping its file.

        Detaching a volume that is not attached is a no-op (idempotent).
        """
        inst = self._instance(instance_ref)
        found = self._backing(volume.id)
        file_name = None
        if found is not None:
            file_name = self._disk(found[1], volume.id).backing.fileName
        inst_props = self.ops.properties(inst, volumeops.INSTANCE_PROPERTIES)
        disk = self._attached_disk(inst_props, volume.id, file_name)
        if disk is None:
            LOG.info('Volume %s is not attached to %s.', volume.id,
                     volumeops.moref_value(inst))
            return
        self.ops.reconfigure(
            inst, vm_util.detach_disk_spec(self.session.factory, disk,
                                           volume.id),
            'instance %s' % volumeops.moref_value(inst))
        LOG.info('Detached volume %s from %s.', volume.id,
                 volumeops.moref_value(inst))

    @staticmethod
    def _instance(instance_ref):
        if isinstance(instance_ref, str):
            return volumeops.moref('VirtualMachine', instance_ref)
        return instance_ref

    @staticmethod
    def _attached_disk(inst_props, volume_id, file_name):
        extra = volumeops.extra_config_dict(inst_props)
        mark = extra.get(vm_util.ATTACH_KEY_PREFIX + volume_id)
        for disk in vm_util.disks(volumeops.devices_of(inst_props)):
            backing = disk.backing
            if mark and mark in (getattr(backing, 'uuid', None),
                                 getattr(backing, 'fileName', None)):
                return disk
            if file_name and getattr(backing, 'fileName', None) == file_name:
                return disk
        return None


class _DestroyOnFailure:
    """Context manager removing a half-made backing when its block fails."""

    def __init__(self, driver, volume_id):
        self._driver = driver
        self._volume_id = volume_id

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            return False
        try:
            self._driver._destroy_leftover(self._volume_id)
        except Exception:
            LOG.exception('Could not remove the backing of volume %s after '
                          'a failure; "vmware-backend-manage audit" reports '
                          'it.', self._volume_id)
        return False
