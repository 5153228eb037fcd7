"""Retype (disk type, pool) and driver-assisted migration between pools.

Both move or rewrite the backing's disk with one ``RelocateVM_Task``: to
another datastore (storage vMotion of the backing) and/or with a disk
locator giving the disk's new format (thin, thick, eagerZeroedThick).
Detached volumes only (an attached disk belongs to the running instance
too); linked clones and volumes linked clones read from are refused, since
moving either side would break or copy the shared chain.

A destination that is another backend of this driver on the same vCenter
is reached by :mod:`.migration` (relocation to its cluster, datastore and
folder, and its owner mark); any other is refused (see there why Cinder's
generic migration cannot work with this driver).
"""

import types

from oslo_log import log as logging

from vmware_backend import exceptions
from vmware_backend.volume import locations
from vmware_backend.volume import multiattach
from vmware_backend.volume import qos
from vmware_backend.volume import undo as undo_mod
from vmware_backend.volume import volume_types
from vmware_backend.vsphere import inventory
from vmware_backend.vsphere import ops as vsphere_ops
from vmware_backend.vsphere import rawxml
from vmware_backend.vsphere import specs
from vmware_backend.vsphere import storage_policies

LOG = logging.getLogger(__name__)


def disk_format(disk):
    """thin, thick or eagerZeroedThick, from a disk's backing."""
    backing = disk.backing
    if getattr(backing, 'thinProvisioned', False):
        return 'thin'
    return 'eagerZeroedThick' if getattr(backing, 'eagerlyScrub', False) \
        else 'thick'


def check_convertible(volume, props, disk_type):
    """Refuse a format change (``disk_type``) of a disk with snapshots.

    :raises exceptions.InvalidVolume: vSphere cannot convert it.
    """
    if disk_type is not None and vsphere_ops.snapshot_trees(props):
        raise exceptions.InvalidVolume(
            volume=volume.id,
            reason='it has snapshots; vSphere cannot convert the format '
                   'of a disk with snapshots, delete them first')


def settled(retyped, props):
    """Whether a retype without move leaves the backing's disk as it is.

    ``props``: the backing's ``config.hardware.device`` as plain values
    with types (:meth:`.VolumeOps.properties` with ``raw``). True when
    it has one ``VirtualDisk``, without the multi-writer flag, whose I/O
    allocation is already ``retyped``'s type's; False otherwise (something
    to change, or to refuse: decided on the disk read through suds).
    """
    devices = props.get('config.hardware.device') or []
    disks = [d for d in devices if isinstance(d, dict) and
             d.get(rawxml.TYPE_KEY) == 'VirtualDisk']
    if len(disks) != 1:
        return False
    backing = disks[0].get('backing')
    sharing = backing.get('sharing') if isinstance(backing, dict) else None
    if (sharing or specs.SHARING_NONE) == specs.SHARING_MULTI_WRITER:
        return False
    return qos.change_for_plain(retyped, disks[0]) is None


class RetypeMixin:
    """retype and migrate_volume; mixed into the driver."""

    def _target_pool(self, host):
        """Our pool name in Cinder's ``host`` dict, or None if not ours.

        Ours: the pool's ``location_info`` names this vCenter and our
        volume folder, and the backend name is ours.
        """
        capabilities = (host or {}).get('capabilities') or {}
        location = locations.parse(capabilities.get('location_info'))
        if location is None or \
                location.vcenter_id != self.placement._vcenter_id():
            return None
        backend = capabilities.get('volume_backend_name')
        if backend and backend != self.options['vcenter_backend_name']:
            return None
        if location.folder not in (None,
                                   self.options['vcenter_volume_folder']):
            return None
        name = str((host or {}).get('host') or '')
        return name.split('#', 1)[1] if '#' in name else None

    def _movable(self, volume, props, what):
        extra = vsphere_ops.extra_config_dict(props)
        if volume_types.in_use(volume):
            raise exceptions.VolumeIsBusy(
                volume=volume.id, reason='it is attached; %s detached '
                                         'volumes only' % what)
        if extra.get(specs.KEY_PARENT) or specs.clone_markers(extra):
            raise exceptions.InvalidVolume(
                volume=volume.id,
                reason='it is a linked clone or linked clones read from it; '
                       'vSphere would copy or break the shared disk chain')

    def migrate_volume(self, ctxt, volume, host):
        """Move the backing to another pool of this or another backend.

        Another backend must be one of this driver on the same vCenter
        (:mod:`.migration`).

        :returns: ``(True, None)`` when moved (or already there),
            ``(False, None)`` when ``host`` names no pool of this backend.
        :raises exceptions.InvalidVolume: ``host`` is no backend of this
            driver on this vCenter (Cinder's generic migration would fail),
            or the volume cannot move (linked clone, source of one).
        :raises exceptions.VolumeIsBusy: it is attached.
        """
        dest = self._destination(volume, host)
        if dest is not None:
            self._migrate_to(volume, dest, self._storage_policy(volume))
            return True, None
        pool_name = self._target_pool(host)
        if pool_name is None:
            return False, None
        ref, props = self._require_backing(volume.id)
        self._relocate(volume, ref, props, pool_name, None, 'migrate',
                       policy=self._storage_policy(volume))
        return True, None

    def retype(self, ctxt, volume, new_type, diff, host):
        """Change disk type (thin/thick/eagerZeroedThick), pool and QoS.

        The disk types come from the old and new types' extra specs (and
        the defaults); ``vmware:clone_type`` is metadata only; a
        ``vmware:adapter_type`` change is refused (the disk would need
        another controller). The disk's I/O allocation becomes the new
        type's (its QoS specs, loaded as ``new_type['qos_specs']`` by the
        Cinder adapter, and ``vmware:iops_*``/``shares`` extra specs), first,
        and is put back if the relocation after it fails. ``diff`` is not
        needed.

        With ``host`` another backend of this driver on this vCenter (Cinder
        itself migrates then, see :meth:`migrate_volume`), the backing moves
        there with the new disk type, QoS and storage policy.

        :returns: True when done; False when ``host`` names no pool.
        :raises exceptions.InvalidVolume: ``host`` is no backend of this
            driver on this vCenter.
        """
        # The types alone: Cinder's API changes the volume's multiattach
        # field around the retype.
        old = volume_types.profile(types.SimpleNamespace(
            id=volume.id, volume_type=getattr(volume, 'volume_type', None)),
            self.options)
        retyped = types.SimpleNamespace(id=volume.id, volume_type=new_type)
        new = volume_types.profile(retyped, self.options)
        qos.allocation(retyped)  # a bad QoS value changes nothing
        if new.adapter_type != old.adapter_type:
            raise exceptions.InvalidExtraSpec(
                volume=volume.id, spec=volume_types.SPEC_ADAPTER_TYPE,
                value=new.adapter_type,
                allowed='%s (the current one: changing the adapter type is '
                        'not supported; create a new volume from this one)'
                        % old.adapter_type)
        dest = self._destination(volume, host) if host else None
        pool_name = self._target_pool(host)
        if host and dest is None and pool_name is None:
            return False
        disk_type = new.disk_type if new.disk_type != old.disk_type \
            else None
        policy = self._storage_policy(retyped)
        policy_change = volume_types.storage_policy(volume) != \
            volume_types.storage_policy(retyped)
        if dest is not None:
            self._retype_to(volume, retyped, dest, disk_type, policy,
                            policy_change)
            return True
        moves = disk_type is not None or policy_change or pool_name not in (
            None, volume_types.pool_name(volume))
        whole = moves or new.multiattach or old.multiattach
        if whole:
            ref, props = self._require_backing(volume.id)
        else:
            # Only the disk's I/O allocation may change: no markers,
            # snapshots or placement needed. Read as plain values first
            # (suds objects for the device list were most of the call's
            # time); only a disk to change (or to refuse) is read again
            # through suds, to build the edit from.
            found = self._lookup_all(volume.id, vsphere_ops.DISK_PROPERTIES,
                                     markers=False, raw=True)
            if not found:
                raise exceptions.BackingNotFound(volume=volume.id)
            if len(found) == 1 and settled(retyped, found[0][1]):
                return True
            ref, props = self._require_backing(
                volume.id, vsphere_ops.DISK_PROPERTIES, markers=False)
        if new.multiattach and \
                disk_format(self._disk(props, volume.id)) != new.disk_type:
            disk_type = new.disk_type
            moves = True
        sharing = self._shared(props, volume.id) != new.multiattach
        if sharing and not whole:
            # A multi-writer disk its type does not ask for: the whole
            # backing is needed to change it.
            ref, props = self._require_backing(volume.id)
        if moves or sharing:
            self._movable(volume, props, 'retype')
        if sharing and new.multiattach and vsphere_ops.snapshot_trees(props):
            raise exceptions.InvalidVolume(
                volume=volume.id,
                reason='it has snapshots; vSphere does not share a disk '
                       'with snapshots between VMs (multi-writer), delete '
                       'them first')
        with undo_mod.Undo('volume %s' % volume.id) as undo:
            qos_changed = self._retype_qos(retyped, ref, props, undo)
            if not moves and not sharing:
                return True
            if qos_changed:
                # The disk read before carries the old allocation: a policy
                # edit built from it would put that back.
                ref, props = self._require_backing(volume.id)
            if sharing and not new.multiattach:
                # Single-writer first, then the format: a disk never has
                # the multi-writer flag without being eagerly zeroed.
                self._set_sharing(volume.id, ref, props, False)
                undo.push('giving the disk the multi-writer flag back',
                          lambda: self._set_sharing_of(volume.id, ref, True))
                ref, props = self._require_backing(volume.id)
            if policy_change:
                self._reapply_policy(volume, ref, props, pool_name, policy,
                                     undo)
            if moves:
                self._relocate(volume, ref, props, pool_name, disk_type,
                               'retype', policy=policy)
            if sharing and new.multiattach:
                self._set_sharing_of(volume.id, ref, True)
        return True

    def _retype_to(self, volume, retyped, dest, disk_type, policy,
                   policy_change):
        """retype onto another backend: QoS, policy, then the move."""
        ref, props = self._require_backing(volume.id)
        self._movable(volume, props, 'retype')
        with undo_mod.Undo('volume %s' % volume.id) as undo:
            if self._retype_qos(retyped, ref, props, undo):
                ref, props = self._require_backing(volume.id)

            def apply_policy(ref, props, place):
                self._reapply_policy(volume, ref, props, None, policy, undo,
                                     ds=place.datastore)

            self._migrate_to(volume, dest, policy, disk_type, 'retype',
                             before_move=apply_policy if policy_change
                             else None)

    def _retype_qos(self, retyped, ref, props, undo):
        """Give the disk the new type's I/O allocation (undoable).

        :returns: True when the disk was reconfigured.
        """
        disk = self._disk(props, retyped.id)
        wanted = qos.change_for(retyped, disk)
        if wanted is None:
            return False
        factory = self.session.factory
        target = 'volume %s' % retyped.id
        before = qos.of_disk(disk)
        self.ops.reconfigure(ref, specs.create(
            factory, 'VirtualMachineConfigSpec', deviceChange=[
                specs.disk_io_edit(factory, disk, **wanted._asdict())]),
            target)
        undo.push('giving the disk its I/O allocation back',
                  lambda: self.ops.reconfigure(ref, specs.create(
                      factory, 'VirtualMachineConfigSpec', deviceChange=[
                          specs.disk_io_edit(factory, disk,
                                             **before._asdict())]), target))
        LOG.info('retype of volume %s: I/O allocation now %s.', retyped.id,
                 dict(wanted._asdict()))
        return True

    def _reapply_policy(self, volume, ref, props, pool_name, policy, undo,
                        ds=None):
        """Apply the new type's storage policy (None: remove it).

        The datastore it ends on (``ds``, else the pool's, else the
        current one) must comply (checked first); a failure of the later
        relocate puts the policy it had back.
        """
        if ds is None and pool_name:
            ds = self.placement.find_datastore(pool_name)
        elif ds is None:
            ds = inventory.from_suds(vsphere_ops.ref_list(
                props.get('datastore'))[0])
        self._check_compliant(volume, policy, ds, pool_name or ds.value)
        before = storage_policies.associated_policy(self.session, ref)
        self._set_policy(volume, ref, props, policy and policy.profile_id)
        undo.push('putting storage policy %s back' % before,
                  lambda: self._set_policy(volume, ref, props, before))

    def _set_policy(self, volume, ref, props, profile_id):
        spec = specs.create(self.session.factory, 'VirtualMachineConfigSpec')
        storage_policies.apply_to_backing(
            self.session.factory, spec, profile_id,
            disk=self._disk(props, volume.id))
        self.ops.reconfigure(ref, spec, 'volume %s' % volume.id)

    def _relocate(self, volume, ref, props, pool_name, disk_type, what,
                  policy=None):
        self._movable(volume, props, what)
        disk = self._disk(props, volume.id)
        current = [inventory.from_suds(d) for d in vsphere_ops.ref_list(
            props.get('datastore'))]
        target = 'volume %s' % volume.id
        if pool_name:
            place = self.placement.place_on(pool_name, target=target)
        else:
            place = self.placement.place_on(current[0], target=target)
        self._check_compliant(volume, policy, place.datastore,
                              place.datastore_name)
        if place.datastore in current and disk_type is None:
            LOG.info('Volume %s is already on %s.', volume.id,
                     place.datastore_name)
            return
        if self._shared(props, volume.id):
            raise exceptions.InvalidVolume(volume=volume.id,
                                           reason=multiattach.NO_MOVE)
        check_convertible(volume, props, disk_type)
        factory = self.session.factory
        datastore = inventory.to_suds(place.datastore)
        locators = [specs.disk_locator(factory, disk.key, datastore,
                                       disk_type)] if disk_type else None
        spec = specs.relocate_spec(
            factory, datastore, host=inventory.to_suds(place.host),
            resource_pool=inventory.to_suds(place.resource_pool),
            disks=locators)
        self.ops.relocate(ref, spec, target)
        # Both pools' free space changed: the next placement and the next
        # get_volume_stats (even without refresh) read them again.
        self.placement.invalidate()
        self._stats = None
        LOG.info('%s of volume %s: now on %s%s.', what, volume.id,
                 place.datastore_name,
                 ' as %s' % disk_type if disk_type else '')
