"""Volume create, delete and extend, in Cinder's vocabulary.
"""

from oslo_log import log as logging

from vmware_backend import exceptions
from vmware_backend.volume import volume_types
from vmware_backend.vsphere import inventory
from vmware_backend.vsphere import ops as vsphere_ops
from vmware_backend.vsphere import specs

LOG = logging.getLogger(__name__)


class LifecycleMixin:
    """Create, delete and extend; mixed into the driver."""

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
        spec = specs.backing_config_spec(
            self.session.factory,
            specs.backing_name(volume_types.volume_name(volume)),
            volume.id, size, profile.disk_type, profile.adapter_type,
            place.datastore_name, self.options['vcenter_backing_memory_mb'],
            owner=self.backend_id)
        with self._cleanup_on_failure(volume.id):
            ref = self._in_volume_folder(
                place, lambda folder: self.ops.create_backing(
                    folder, inventory.to_suds(place.resource_pool),
                    inventory.to_suds(place.host), spec, target))
        self._remember(volume.id, ref)
        LOG.info('Created backing %s of volume %s (%s GiB, %s, %s) on '
                 'datastore %s.', vsphere_ops.moref_value(ref), volume.id,
                 size, profile.disk_type, profile.adapter_type,
                 place.datastore_name)
        return None

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
        self._refuse_if_attached(volume.id, props)
        extra = vsphere_ops.extra_config_dict(props)
        clones = self._live_clones(volume.id, ref, extra)
        if clones:
            raise exceptions.VolumeIsBusy(
                volume=volume.id,
                reason='linked clone(s) %s depend on its snapshots'
                       % ', '.join(clones))
        self.ops.destroy(ref, 'volume %s' % volume.id)
        self._remember(volume.id, None)
        parent = extra.get(specs.KEY_PARENT)
        if parent:
            try:
                self._release_parent(volume.id, parent)
            except exceptions.VMwareBackendException:
                LOG.exception('Volume %s is deleted, but its source %s still '
                              'records it as a linked clone; '
                              '"vmware-backend-manage audit" reports it.',
                              volume.id, parent)
        LOG.info('Deleted backing of volume %s.', volume.id)

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
        self._refuse_if_attached(volume.id, props)
        disk = self._disk(props, volume.id)
        current_kb = disk.capacityInKB
        if specs.gib_to_kib(new_size) <= current_kb:
            raise exceptions.InvalidVolume(
                volume=volume.id,
                reason='new size %s GiB is not larger than the current '
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
