"""Finding a volume's backing, its disk and its folder.

A volume is a "backing" VM holding one virtual disk. Its identity is the VM's
``instanceUuid`` (= the volume id), found through the SearchIndex; a moref
cached from an earlier call is only a hint, re-resolved once when vCenter
says the object is gone.
"""

import threading

from oslo_log import log as logging

from vmware_backend import exceptions
from vmware_backend.volume import placement as placement_mod
from vmware_backend.volume import volume_types
from vmware_backend.vsphere import inventory
from vmware_backend.vsphere import ops as vsphere_ops
from vmware_backend.vsphere import session as vc_session
from vmware_backend.vsphere import specs

LOG = logging.getLogger(__name__)


class BackingAccess:
    """Finds backings and their disks; shared by the driver's parts.

    :param options: option values, see
        :func:`vmware_backend.conf.read_options`.
    :param session: a :class:`~vmware_backend.vsphere.session.VCenterSession`;
        one is made from ``options`` when omitted.
    :param placement: a
        :class:`~vmware_backend.volume.placement.PlacementService`; one is
        made when omitted.
    """

    def __init__(self, options, session=None, placement=None):
        self.options = dict(options)
        self._session = session
        self._placement = placement
        self._ops = None
        self._hints = {}
        self._hint_lock = threading.Lock()

    @property
    def session(self):
        if self._session is None:
            self._session = vc_session.VCenterSession(self.options)
        return self._session

    @property
    def ops(self):
        if self._ops is None:
            self._ops = vsphere_ops.VolumeOps(self.session)
        return self._ops

    @property
    def backend_id(self):
        """The owner recorded on the backings this driver makes."""
        return specs.backend_id(self.options['vcenter_backend_name'],
                                self.options['vcenter_volume_folder'])

    @property
    def placement(self):
        if self._placement is None:
            self._placement = placement_mod.PlacementService(self.session,
                                                             self.options)
        return self._placement

    def _remember(self, volume_id, ref):
        with self._hint_lock:
            if ref is None:
                self._hints.pop(volume_id, None)
            else:
                self._hints[volume_id] = ref

    def _backing(self, volume_id, paths=vsphere_ops.BACKING_PROPERTIES):
        """(moref, properties) of the backing of ``volume_id`` or None.

        Tries the cached moref first; when vCenter says it is gone (or it
        now belongs to another VM), looks the backing up again by
        instanceUuid, once.

        :raises exceptions.InvalidVolume: ``volume_id`` is not a UUID
            (checked before anything is sent to vCenter).
        """
        volume_types.checked_id(volume_id)
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
        disks = specs.disks(vsphere_ops.devices_of(props))
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
        extra = vsphere_ops.extra_config_dict(props)
        if extra.get(specs.KEY_VOLUME_ID) != volume.id:
            raise exceptions.InvalidVolume(
                volume=volume.id,
                reason='VM %s already uses this id as instanceUuid and is '
                       'not a backing of this backend' % props.get('name'))
        disk = self._disk(props, volume.id)
        if disk.capacityInKB != specs.gib_to_kib(size):
            raise exceptions.InvalidVolume(
                volume=volume.id,
                reason='a backing of %s KiB already exists'
                       % disk.capacityInKB)
        LOG.info('Backing of volume %s already exists.', volume.id)

    def _refuse_if_attached(self, volume_id, props, snapshot=None):
        """Refuse an operation on a volume a VM has attached on vCenter.

        Cinder's ``status`` is not enough: a volume may be attached without
        Cinder knowing (or its status reset). One ``RetrievePropertiesEx``
        reads the ``volume-<id>`` attachment mark of the VMs on the
        backing's datastores (see :meth:`vmware_backend.vsphere.ops.
        VolumeOps.attachment_marks`).

        :param props: the backing's properties (with ``datastore``).
        :param snapshot: the snapshot being taken, to refuse with
            SnapshotIsBusy instead of VolumeIsBusy.
        """
        marks = self.ops.attachment_marks(
            vsphere_ops.ref_list(props.get('datastore')), volume_id)
        if not marks:
            return
        reason = ('vCenter shows it attached to VM(s) %s (extraConfig '
                  '%s%s); detach it first'
                  % (', '.join(sorted(marks)), specs.ATTACH_KEY_PREFIX,
                     volume_id))
        if snapshot is not None:
            raise exceptions.SnapshotIsBusy(
                snapshot=snapshot.id,
                reason='volume %s is attached: %s' % (volume_id, reason))
        raise exceptions.VolumeIsBusy(volume=volume_id, reason=reason)

    def _cleanup_on_failure(self, volume_id):
        return _DestroyOnFailure(self, volume_id)

    def _destroy_leftover(self, volume_id):
        """Destroy whatever backing a failed operation left for the id."""
        self._remember(volume_id, None)
        ref = self.ops.find_vm_by_instance_uuid(volume_id)
        if ref is not None:
            LOG.warning('Removing backing %s left by a failed operation on '
                        'volume %s.', vsphere_ops.moref_value(ref), volume_id)
            self.ops.destroy(ref, 'volume %s' % volume_id)


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
