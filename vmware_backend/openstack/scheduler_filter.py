"""A cinder-scheduler filter: no extend of a volume with snapshots here.

vSphere does not grow a virtual disk that has snapshots, so this driver
refuses such an extend. Refused by the driver, the extend fails in
cinder-volume, and Cinder's volume manager (29.0.0,
``VolumeManager.extend_volume_completion``) then sets *every* failed extend
to ``error_extending``: the volume is stuck until an administrator resets
its state, although nothing changed on vCenter. No exception a driver can
raise avoids that.

The scheduler runs before cinder-volume: when no backend passes its filters,
``SchedulerManager.extend_volume`` puts the volume back to its previous
status (``available``), rolls the quota reservation back and records a user
message (``extend volume``: ``No storage could be allocated...``). This
filter makes the scheduler refuse the extend of a volume that has snapshots
on a VMware vmdk backend (``vendor_name`` ``VMware``, ``storage_protocol``
``vmdk``), reading the snapshots from Cinder's database; the volume stays
``available`` and its snapshots untouched. Every other request (create,
retype, migrate, a volume without snapshots, other backends) passes.

Enable it in cinder.conf of cinder-scheduler (the class is registered under
Cinder's ``cinder.scheduler.filters`` entry point, so only its name is
needed), keeping Cinder's default filters::

    [DEFAULT]
    scheduler_default_filters = AvailabilityZoneFilter,CapacityFilter,
        CapabilitiesFilter,VMwareExtendFilter
"""

from oslo_log import log as logging

try:
    from cinder import objects as cinder_objects
    from cinder.scheduler import filters as cinder_filters
except ImportError:  # Cinder is an optional dependency of this package.
    cinder_objects = cinder_filters = None

LOG = logging.getLogger(__name__)

# The backend-level identity a VMware vmdk backend reports.
VENDOR_NAME = 'VMware'
STORAGE_PROTOCOL = 'vmdk'


def refusal(backend_vendor, backend_protocol, new_size, snapshot_ids):
    """Why the scheduler must not extend here, or None.

    :param backend_vendor: the backend's ``vendor_name``.
    :param backend_protocol: the backend's ``storage_protocol``.
    :param new_size: the extend's new size (None when the request is not an
        extend).
    :param snapshot_ids: ids of the volume's snapshots in Cinder.
    """
    if not new_size or not snapshot_ids:
        return None
    if (backend_vendor, backend_protocol) != (VENDOR_NAME, STORAGE_PROTOCOL):
        return None
    return ('the volume has %d snapshot(s) (%s); vSphere cannot extend a '
            'disk with snapshots: delete them first'
            % (len(snapshot_ids), ', '.join(sorted(snapshot_ids))))


_Base = cinder_filters.BaseBackendFilter if cinder_filters else object


class VMwareExtendFilter(_Base):
    """Refuses the extend of a volume with snapshots on a vmdk backend."""

    def backend_passes(self, backend_state, filter_properties):
        new_size = filter_properties.get('new_size')
        spec = filter_properties.get('request_spec') or {}
        volume_id = spec.get('volume_id')
        if not new_size or not volume_id:
            return True
        if (backend_state.vendor_name, backend_state.storage_protocol) != (
                VENDOR_NAME, STORAGE_PROTOCOL):
            return True
        context = filter_properties['context'].elevated()
        snapshots = cinder_objects.SnapshotList.get_all_for_volume(
            context, volume_id)
        reason = refusal(backend_state.vendor_name,
                         backend_state.storage_protocol, new_size,
                         [snapshot.id for snapshot in snapshots])
        if reason is None:
            return True
        LOG.info('Backend %(backend)s cannot extend volume %(volume)s to '
                 '%(size)s GiB: %(reason)s.',
                 {'backend': backend_state.backend_id, 'volume': volume_id,
                  'size': new_size, 'reason': reason})
        return False
