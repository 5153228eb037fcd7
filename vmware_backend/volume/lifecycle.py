"""Volume create, delete and extend, in Cinder's vocabulary.
"""

from oslo_log import log as logging

from vmware_backend import exceptions
from vmware_backend.volume import clones
from vmware_backend.volume import qos
from vmware_backend.volume import settle
from vmware_backend.volume import volume_types
from vmware_backend.vsphere import inventory
from vmware_backend.vsphere import ops as vsphere_ops
from vmware_backend.vsphere import specs
from vmware_backend.vsphere import storage_policies

LOG = logging.getLogger(__name__)


def qos_of(volume):
    """The volume's I/O allocation as keyword arguments of the spec."""
    return qos.allocation(volume)._asdict()


class LifecycleMixin:
    """Create, delete and extend; mixed into the driver."""

    def create_volume(self, volume):
        """Create the volume's backing VM with one disk of its size."""
        size = volume_types.checked_size(volume)
        profile = volume_types.profile(volume, self.options)
        io = qos_of(volume)
        if self._already_created(volume, size):
            return None
        target = 'volume %s' % volume.id
        policy = self._storage_policy(volume)
        # Only the datastores complying with the storage policy, if any.
        only = {'allowed': self._compliant(policy)} if policy else {}
        place = self.placement.choose(size, profile.disk_type,
                                      pool_name=volume_types.pool_name(volume),
                                      target=target, **only)
        spec = specs.backing_config_spec(
            self.session.factory,
            specs.backing_name(volume_types.volume_name(volume)),
            volume.id, size, profile.disk_type, profile.adapter_type,
            place.datastore_name, self.options['vcenter_backing_memory_mb'],
            owner=self.backend_id, multiattach=profile.multiattach)
        specs.set_io_allocation(self.session.factory, spec, **io)
        if policy is not None:
            storage_policies.apply_to_backing(self.session.factory, spec,
                                              policy.profile_id)
        pool = inventory.to_suds(place.resource_pool)
        host = inventory.to_suds(place.host)
        ref = self._in_volume_folder(
            place, lambda folder: self._create_settled(
                volume, specs.gib_to_kib(size),
                lambda: self.ops.start_create_backing(folder, pool, host,
                                                      spec, target),
                target, 'CreateVM_Task', folder, settle.CREATE_KINDS))
        self._remember(volume.id, ref)
        LOG.info('Created backing %s of volume %s (%s GiB, %s, %s) on '
                 'datastore %s.', vsphere_ops.moref_value(ref), volume.id,
                 size, profile.disk_type, profile.adapter_type,
                 place.datastore_name)
        return None

    def delete_volume(self, volume):
        """Destroy every backing of the volume; none left is success.

        Refused while a linked clone depends on one of its snapshots. A
        task an earlier attempt left running for the volume is waited for
        first; when no backing is found, so are the create and clone tasks
        running on vCenter (another service may have died after starting
        one). A linked clone whose backing is already gone (a retry after
        a lost answer) still releases its source (``source_volid``, or the
        parent record read by the failed attempt).
        """
        if volume_types.in_use(volume):
            raise exceptions.VolumeIsBusy(volume=volume.id,
                                          reason='it is attached')
        if getattr(volume, 'status', None) == 'error_managing_deleting' \
                and self._delete_failed_import(volume):
            # An import Cinder saw fail: the VM or disk goes back to its
            # owner, it is never destroyed (volume/manage_revert.py).
            return
        self._await_unsettled(volume.id)
        # Plain values read as XML (no suds objects needed).
        found = self._lookup_all(volume.id, vsphere_ops.STATE_PROPERTIES,
                                 raw=True)
        if not found:
            # A service that died may have left the create running.
            waited, running = self._await_others(settle.CREATE_KINDS +
                                                 settle.CLONE_KINDS)
            if running:
                raise exceptions.VolumeIsBusy(
                    volume=volume.id,
                    reason='create or clone task(s) %s, which may make its '
                           'backing, are still running' % ', '.join(running))
            if waited:
                found = self._lookup_all(volume.id,
                                         vsphere_ops.STATE_PROPERTIES,
                                         raw=True)
        if len(found) > 1:
            # Ours only, the one a look-up would keep first.
            keeper = self._resolve_duplicates(volume.id, found)
            found = [keeper] + [item for item in found
                                if item[0] is not keeper[0] and
                                self._is_ours(volume.id, item[1]) and
                                self._exists(item[0])]
        if not found:
            self._release_gone_clone(volume)
            LOG.info('Volume %s has no backing; nothing to delete.',
                     volume.id)
            return
        for _ref, props in found:
            self._refuse_if_attached(volume.id, props)
        for ref, props in found:
            self._destroy_backing(volume, ref, props)
        self._remember(volume.id, None)
        with self._hint_lock:
            self._parents.pop(volume.id, None)
        LOG.info('Deleted backing of volume %s.', volume.id)

    def _exists(self, ref):
        try:
            self.ops.properties(ref, ('name',))
            return True
        except exceptions.VCenterFault as err:
            if err.object_gone:
                return False
            raise

    def _destroy_backing(self, volume, ref, props):
        extra = vsphere_ops.extra_config_dict(props)
        clones = self._live_clones(volume.id, ref, extra, props=props)
        if clones:
            raise exceptions.VolumeIsBusy(
                volume=volume.id,
                reason='linked clone(s) %s depend on its snapshots'
                       % ', '.join(clones))
        parent = extra.get(specs.KEY_PARENT)
        target = 'volume %s' % volume.id
        try:
            self._run_task(lambda: self.ops.start_destroy(ref, target),
                           target, 'Destroy_Task')
        except settle.TaskFailure as failure:
            outcome = self._settle(failure, ref, settle.DESTROY_KINDS,
                                   volume.id)
            gone = outcome.state in (settle.SUCCESS, settle.ENDED,
                                     settle.ERROR) and not self._exists(ref)
            if not gone:
                if parent:
                    with self._hint_lock:
                        self._parents[volume.id] = parent
                raise failure.error from None
            LOG.info('Destroy_Task of volume %s failed (%s) but the backing '
                     'is gone.', volume.id, failure.error)
        if parent:
            self._release(volume.id, parent)

    def _release(self, volume_id, parent):
        """Release the source of a deleted linked clone, or say it failed.

        The parent record is kept for the retry: the delete reports the
        failure (never done what was not done), and the retried delete,
        finding no backing, releases the source again.
        """
        try:
            self._release_parent(volume_id, parent)
        except Exception:
            with self._hint_lock:
                self._parents[volume_id] = parent
            LOG.error('The backing of volume %s is gone, but releasing its '
                      'source %s failed; deleting the volume again releases '
                      'it.', volume_id, parent)
            raise

    def _release_gone_clone(self, volume):
        """Release the source of a linked clone whose backing is gone."""
        with self._hint_lock:
            parent = self._parents.pop(volume.id, None)
        if parent:
            self._release(volume.id, parent)
            return
        source_id = volume_types.loaded_field(volume, 'source_volid')
        if source_id:
            self._release(volume.id, '%s:%s%s' % (
                source_id, clones.CLONE_SNAPSHOT_PREFIX, volume.id))

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
        ref, props = self._require_backing(
            volume.id, vsphere_ops.EXTEND_PROPERTIES, markers=False)
        self._refuse_if_attached(volume.id, props)
        disk = self._disk(props, volume.id)
        current_kb = disk.capacityInKB
        if specs.gib_to_kib(new_size) == current_kb:
            # A retry after a lost answer or a late task error: the disk
            # already has the size.
            LOG.info('Volume %s already has %s GiB.', volume.id, new_size)
            return
        if specs.gib_to_kib(new_size) < current_kb:
            raise exceptions.InvalidVolume(
                volume=volume.id,
                reason='new size %s GiB is smaller than the current '
                       '%s GiB; volumes cannot shrink'
                       % (new_size, current_kb / (1024 * 1024)))
        self._check_extendable(volume.id, props, disk)
        spec = specs.extend_disk_spec(self.session.factory, disk, new_size)
        self.ops.reconfigure(ref, spec, 'volume %s' % volume.id)
        LOG.info('Extended volume %s to %s GiB.', volume.id, new_size)

    @staticmethod
    def _check_extendable(volume_id, props, disk):
        if vsphere_ops.snapshot_trees(props):
            raise exceptions.InvalidVolume(
                volume=volume_id,
                reason='it has snapshots; vSphere cannot extend a disk with '
                       'snapshots, delete them first')
        if getattr(disk.backing, 'parent', None) is not None:
            raise exceptions.InvalidVolume(
                volume=volume_id,
                reason='it is a linked clone; vSphere cannot extend its '
                       'child disk')
