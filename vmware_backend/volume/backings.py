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
from vmware_backend.volume import settle
from vmware_backend.volume import volume_types
from vmware_backend.vsphere import inventory
from vmware_backend.vsphere import ops as vsphere_ops
from vmware_backend.vsphere import session as vc_session
from vmware_backend.vsphere import specs

LOG = logging.getLogger(__name__)


class BackingAccess(settle.SettleMixin):
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
        # volume id -> tasks an earlier attempt left running (see settle).
        self._unsettled = {}
        # volume id -> parent record of a linked clone whose delete failed
        # after reading it, for the retry that finds no backing.
        self._parents = {}
        # ids of linked clones this process is making right now.
        self._cloning = set()

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

    def _backing(self, volume_id, paths=vsphere_ops.BACKING_PROPERTIES,
                 markers=True, marks=False, raw=False):
        """(moref, properties) of the backing of ``volume_id`` or None.

        Tries the cached moref first; when vCenter says it is gone (or it
        now belongs to another VM), looks the backing up again by
        instanceUuid, once. Several VMs with the id are resolved by
        :meth:`_resolve_duplicates`.

        :param markers: read ``config.extraConfig`` too (the markers);
            without it, only when several VMs carry the id (to tell them
            apart), with one more read each.
        :param marks: see :meth:`_lookup_all`; ``raw`` too.
        :raises exceptions.InvalidVolume: ``volume_id`` is not a UUID
            (checked before anything is sent to vCenter).
        """
        found = self._lookup_all(volume_id, paths, markers, raw=raw,
                                 marks=marks)
        if not found:
            return None
        if len(found) > 1:
            if not markers:
                found = self._with_markers(found, paths)
            return self._resolve_duplicates(volume_id, found)
        return found[0]

    def _with_markers(self, found, paths):
        """``found`` read again with ``config.extraConfig``.

        (And the datastores, for the attachment marks of
        :meth:`_refuse_if_attached`, which a look-up with ``marks`` read
        with the backing.)
        """
        paths = tuple(paths) + tuple(
            path for path in ('config.instanceUuid', 'config.extraConfig',
                              'datastore') if path not in paths)
        again = []
        for ref, _props in found:
            try:
                again.append((ref, self.ops.properties(ref, paths)))
            except exceptions.VCenterFault as err:
                if not err.object_gone:
                    raise
        return again

    def _read(self, ref, paths, raw, marks_of=None):
        if marks_of is not None:
            return self.ops.read_with_marks(ref, paths, marks_of)
        if raw:
            return self.ops.properties(ref, paths, raw=True)
        return self.ops.properties(ref, paths)

    def _lookup_all(self, volume_id, paths=vsphere_ops.BACKING_PROPERTIES,
                    markers=True, raw=False, marks=False):
        """[(moref, properties)] of the VMs carrying ``volume_id``.

        A valid cached moref is trusted alone: it was set by this process
        when it created the backing or resolved a look-up (duplicates are
        resolved there), so the common path stays one call.

        :param markers: add ``config.extraConfig`` to ``paths``
            (``config.instanceUuid`` is always added).
        :param raw: plain values parsed from the replies' XML (see
            :meth:`.VolumeOps.properties`), not suds objects.
        :param marks: plain values too, read with the attachment marks of
            the VMs on the backing's datastores in the same call
            (:meth:`.VolumeOps.read_with_marks`; for
            :meth:`_refuse_if_attached`). Every VM on them answers with
            ``paths`` too: keep them few and small.
        :raises exceptions.InvalidVolume: ``volume_id`` is not a UUID.
        """
        volume_types.checked_id(volume_id)
        with self._hint_lock:
            hint = self._hints.get(volume_id)
        paths = tuple(paths)
        added = ('config.instanceUuid', 'config.extraConfig') if markers \
            else ('config.instanceUuid',)
        for extra_path in added:
            if extra_path not in paths:
                paths += (extra_path,)
        marks_of = volume_id if marks else None
        if hint is not None:
            try:
                props = self._read(hint, paths, raw, marks_of)
                if props.get('config.instanceUuid') == volume_id:
                    return [(hint, props)]
            except exceptions.VCenterFault as err:
                if not err.object_gone:
                    raise
            self._remember(volume_id, None)
        found = []
        for ref in self.ops.find_all_by_instance_uuid(volume_id):
            try:
                found.append((ref, self._read(ref, paths, raw, marks_of)))
            except exceptions.VCenterFault as err:
                # Destroyed between the search and the read.
                if not err.object_gone:
                    raise
        if len(found) == 1:
            self._remember(volume_id, found[0][0])
        return found

    @staticmethod
    def _is_ours(volume_id, props):
        return vsphere_ops.extra_config_dict(props).get(
            specs.KEY_VOLUME_ID) == volume_id

    def _resolve_duplicates(self, volume_id, found):
        """The one backing to use among several VMs carrying the id.

        The rule: among the VMs marked as backing of this volume
        (``vmware_backend.volume_id``), the earliest created one
        (``vmware_backend.created``, then moref) is the volume; the others
        are half-made or duplicate attempts and are destroyed when nothing
        can depend on them (no snapshot, no linked-clone marker, no parent
        record, no task of ours still running for the id); otherwise they
        are left and logged ("vmware-backend-manage audit" reports them).
        VMs not marked as ours are never touched.
        """
        ours = [(ref, props) for ref, props in found
                if self._is_ours(volume_id, props)]
        if not ours:
            return found[0]

        def age(item):
            extra = vsphere_ops.extra_config_dict(item[1])
            try:
                created = int(extra.get(specs.KEY_CREATED))
            except (TypeError, ValueError):
                created = float('inf')
            return created, vsphere_ops.moref_value(item[0])

        ours.sort(key=age)
        keeper = ours[0]
        for ref, props in ours[1:]:
            extra = vsphere_ops.extra_config_dict(props)
            if vsphere_ops.snapshot_trees(props) or \
                    specs.clone_markers(extra) or \
                    extra.get(specs.KEY_PARENT) or \
                    self._has_unsettled(volume_id):
                LOG.warning('Volume %s has a second backing %s that may be '
                            'in use; leaving it (keeping %s).', volume_id,
                            vsphere_ops.moref_value(ref),
                            vsphere_ops.moref_value(keeper[0]))
                continue
            LOG.warning('Volume %s has a duplicate backing %s; destroying '
                        'it (keeping %s).', volume_id,
                        vsphere_ops.moref_value(ref),
                        vsphere_ops.moref_value(keeper[0]))
            try:
                self.ops.destroy(ref, 'duplicate backing of volume %s'
                                 % volume_id)
            except Exception:
                LOG.exception('Could not destroy duplicate backing %s of '
                              'volume %s.', vsphere_ops.moref_value(ref),
                              volume_id)
        self._remember(volume_id, keeper[0])
        return keeper

    def _require_backing(self, volume_id,
                         paths=vsphere_ops.BACKING_PROPERTIES, markers=True,
                         marks=False):
        found = self._backing(volume_id, paths, markers, marks)
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
        self._await_unsettled(volume.id)
        existing = self._backing(volume.id)
        if existing is None:
            return False
        self._check_existing(volume, existing[1], size)
        return True

    def _check_existing(self, volume, props, size, size_kb=None):
        extra = vsphere_ops.extra_config_dict(props)
        if extra.get(specs.KEY_VOLUME_ID) != volume.id:
            raise exceptions.InvalidVolume(
                volume=volume.id,
                reason='VM %s already uses this id as instanceUuid and is '
                       'not a backing of this backend' % props.get('name'))
        disk = self._disk(props, volume.id)
        if size_kb is None:
            size_kb = specs.gib_to_kib(size)
        if disk.capacityInKB != size_kb:
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

        :param props: the backing's properties (with ``datastore``), or
            of a look-up that read the marks with them (``marks``).
        :param snapshot: the snapshot being taken, to refuse with
            SnapshotIsBusy instead of VolumeIsBusy.
        """
        marks = props.get(vsphere_ops.MARKS_KEY)
        if marks is None:
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
        """Destroy every backing of ``volume_id`` a failed operation left.

        Only VMs marked as this volume's backing; a VM still being made by
        a task of ours that has not ended is left to the next attempt.
        """
        self._remember(volume_id, None)
        if self._has_unsettled(volume_id):
            LOG.warning('Not removing the backing of volume %s now: a task '
                        'for it is still running.', volume_id)
            return
        for ref, props in self._lookup_all(volume_id,
                                           ('config.extraConfig',)):
            if not self._is_ours(volume_id, props):
                LOG.warning('VM %s carries the id of volume %s but is not '
                            'its backing; leaving it.',
                            vsphere_ops.moref_value(ref), volume_id)
                continue
            LOG.warning('Removing backing %s left by a failed operation on '
                        'volume %s.', vsphere_ops.moref_value(ref), volume_id)
            self.ops.destroy(ref, 'volume %s' % volume_id)
        self._remember(volume_id, None)

    def _create_settled(self, volume, size_kb, start, target, action, entity,
                        kinds):
        """Run the task making the backing of ``volume``; its moref.

        When it fails, what vCenter did decides (see
        :mod:`~vmware_backend.volume.settle`): a backing made after all is
        success (a lost answer, a failed poll); a task that ended in error
        has whatever it made removed; a task still running is left alone
        (the next create or delete waits for it). The original error is
        raised in every failing case.
        """
        try:
            return self._run_task(start, target, action)
        except settle.TaskFailure as failure:
            outcome = self._settle(failure, entity, kinds, volume.id)
            if outcome.state in (settle.RUNNING, settle.UNREADABLE):
                LOG.error('%s for volume %s failed (%s) and its outcome is '
                          'not known yet; nothing is removed now.', action,
                          volume.id, failure.error)
                raise failure.error from None
            if outcome.state in (settle.SUCCESS, settle.ENDED):
                found = self._backing(volume.id)
                if found is not None:
                    try:
                        self._check_existing(volume, found[1], None,
                                             size_kb=size_kb)
                    except exceptions.InvalidVolume:
                        LOG.warning('A backing of volume %s appeared after '
                                    '%s failed, but does not fit.',
                                    volume.id, action)
                    else:
                        LOG.info('%s for volume %s failed (%s) but vCenter '
                                 'made the backing %s: using it.', action,
                                 volume.id, failure.error,
                                 vsphere_ops.moref_value(found[0]))
                        return found[0]
            self._cleanup_after(volume.id, failure.error)
            raise failure.error from None

    def _cleanup_after(self, volume_id, error):
        try:
            self._destroy_leftover(volume_id)
        except Exception:
            LOG.exception('Could not remove the backing of volume %s after '
                          '%s; "vmware-backend-manage audit" reports it.',
                          volume_id, error)


class _DestroyOnFailure:
    """Context manager removing a half-made backing when its block fails."""

    def __init__(self, driver, volume_id):
        self._driver = driver
        self._volume_id = volume_id

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None or issubclass(exc_type, settle.TaskFailure):
            return False
        try:
            self._driver._destroy_leftover(self._volume_id)
        except Exception:
            LOG.exception('Could not remove the backing of volume %s after '
                          'a failure; "vmware-backend-manage audit" reports '
                          'it.', self._volume_id)
        return False
