"""Driver-assisted migration to another backend of this driver.

Two backends of this driver on one vCenter (two clusters, or two volume
folders) move a volume between them with no data copy by Cinder: the
backing is relocated (``RelocateVM_Task``) to the other backend's cluster
(a usable host and the cluster's resource pool), its datastore (the pool
Cinder chose) and its volume folder, then its owner mark
(``vmware_backend.backend``) becomes the other backend's. Snapshots go
with the backing (vSphere relocates them with the VM); its instanceUuid,
disk uuid and moref stay. What the other backend is comes from the pool's
``location_info`` (:mod:`.locations`) and ``volume_backend_name`` in
Cinder's host dict.

Any other destination is refused with a clear error: Cinder's fallback,
the generic host-copy migration, attaches both volumes to the
cinder-volume host through os-brick's vmdk connector, which needs vCenter
credentials in the connection info, and this driver never puts them there.

Steps and their convergence (each step is checked before it is done, so a
re-run of the migration, after any failure or a killed process, finishes
what is left and repeats nothing):

1. relocate (datastore, host, resource pool and folder in one task). A lost
   answer or a task ending in error is settled (:mod:`.settle`): the
   backing read again decides; a task still running is waited for by the
   next attempt.
2. the move into the volume folder, if the relocation left it elsewhere.
3. the owner mark. Until it is set, the backing, already in the other
   backend's folder, is listed there as foreign (owner: this backend) and
   Cinder still has the volume on this backend, which still serves it
   (backings are found by instanceUuid anywhere).
"""

import collections

from oslo_log import log as logging

from vmware_backend import exceptions
from vmware_backend.volume import locations
from vmware_backend.volume import multiattach
from vmware_backend.volume import retype
from vmware_backend.volume import settle
from vmware_backend.vsphere import inventory
from vmware_backend.vsphere import ops as vsphere_ops
from vmware_backend.vsphere import specs

LOG = logging.getLogger(__name__)

RELOCATE_KINDS = ('VirtualMachine.relocate',)

Destination = collections.namedtuple(
    'Destination', 'host location backend_name backend_id')

_GENERIC = ("Cinder's generic migration would attach both volumes through "
            "os-brick, which needs vCenter credentials in the connection "
            "info; this driver never hands them out. Use a backend of this "
            "driver on the same vCenter, or copy the data through an image "
            "(upload-to-image, then create from it)")


# ``thin``, ``thick`` or ``eagerZeroedThick`` of a suds VirtualDisk: the
# same reading as retype's.
disk_type_of = retype.disk_format


class MigrationMixin:
    """Moves backings to another backend of this driver (a driver mixin)."""

    def _destination(self, volume, host):
        """Where Cinder's ``host`` dict sends ``volume``.

        :returns: None when ``host`` is a pool of this backend; a
            :class:`Destination` for another backend of this driver on this
            vCenter.
        :raises exceptions.InvalidVolume: anything else, naming why.
        """
        host = host or {}
        name = str(host.get('host') or '')
        capabilities = host.get('capabilities') or {}
        location = locations.parse(capabilities.get('location_info'))
        vcenter_id = self.placement._vcenter_id()

        def refuse(why):
            return exceptions.InvalidVolume(
                volume=volume.id,
                reason='cannot migrate it to %s: %s. %s' % (
                    name or host, why, _GENERIC))

        if location is None or location.vcenter_id != vcenter_id:
            raise refuse('it is not a backend of this driver on vCenter %s '
                         '(its location_info is %r)'
                         % (vcenter_id, capabilities.get('location_info')))
        backend = capabilities.get('volume_backend_name')
        ours = self.options['vcenter_backend_name']
        folder = self.options['vcenter_volume_folder']
        if location.folder is None:
            if backend and backend != ours:
                raise refuse('its pool statistics name no clusters and '
                             'volume folder (an earlier release of the '
                             'driver); upgrade it')
            return None
        if backend in (None, '', ours) and location.folder == folder:
            return None
        if not backend:
            raise refuse('its capabilities name no volume_backend_name')
        pool = name.split('#', 1)[1] if '#' in name else None
        if pool not in (None, location.datastore.value):
            raise refuse('the host names pool %s but its location_info '
                         'datastore %s' % (pool, location.datastore.value))
        return Destination(name, location, backend,
                           specs.backend_id(backend, location.folder))

    def before_volume_copy(self, context, src_vol, dest_vol, remote=None):
        """Refuse Cinder's generic migration of ``src_vol``.

        Cinder calls it only there (``_migrate_volume_generic``), after
        making ``dest_vol`` and before attaching both through os-brick,
        which cannot work with this driver. Cinder goes there directly
        for a retype changing more than the backend (QoS, other extra
        specs), without asking :meth:`migrate_volume`.

        :raises exceptions.InvalidVolume: always, saying what to do.
        """
        raise exceptions.InvalidVolume(
            volume=src_vol.id,
            reason='Cinder\'s generic migration (to volume %s on %s) is not '
                   'supported: %s. To retype onto another backend and change '
                   'other type properties, retype to a type that differs '
                   'only by volume_backend_name first (the driver migrates '
                   'it), then retype on the new backend'
                   % (dest_vol.id, getattr(dest_vol, 'host', None),
                      _GENERIC.split('; ')[0]))

    def _migrate_to(self, volume, dest, policy, disk_type=None, what='migrate',
                    before_move=None):
        """Move the backing of ``volume`` to the backend ``dest``.

        :param policy: the storage policy the volume must keep (or get);
            the destination datastore must comply.
        :param disk_type: a new disk format for the move, or None.
        :param before_move: ``f(ref, props, placement)`` called before the
            relocation (a retype applies its storage policy there).
        """
        target = 'volume %s' % volume.id
        self._await_unsettled(volume.id)
        ref, props = self._require_backing(volume.id)
        extra = vsphere_ops.extra_config_dict(props)
        owner = extra.get(specs.KEY_BACKEND)
        if owner == dest.backend_id and self._placed_at(props, dest,
                                                        disk_type):
            LOG.info('Volume %s is already on backend %s.', volume.id,
                     dest.backend_id)
            return
        if extra.get(specs.KEY_VOLUME_ID) != volume.id:
            raise exceptions.InvalidVolume(
                volume=volume.id,
                reason='VM %s carries its id but is not a backing of this '
                       'driver' % props.get('name'))
        if owner not in (None, '', self.backend_id, dest.backend_id):
            raise exceptions.InvalidVolume(
                volume=volume.id,
                reason='its backing belongs to backend %s, neither this one '
                       '(%s) nor the destination (%s)'
                       % (owner, self.backend_id, dest.backend_id))
        self._movable(volume, props, what)
        self._refuse_if_attached(volume.id, props)
        place = self.placement.place_at(dest.location, target=target)
        self._check_compliant(volume, policy, place.datastore,
                              place.datastore_name)
        folder = self._in_volume_folder_of(place, dest.location.folder)
        if not self._placed_at(props, dest, disk_type):
            moved_from = [inventory.from_suds(d) for d in
                          vsphere_ops.ref_list(props.get('datastore'))]
            if moved_from != [place.datastore] and \
                    self._shared(props, volume.id):
                raise exceptions.InvalidVolume(volume=volume.id,
                                               reason=multiattach.NO_MOVE)
            retype.check_convertible(volume, props, disk_type)
            if before_move is not None:
                before_move(ref, props, place)
            self._relocate_to(volume, ref, props, place, folder, dest,
                              disk_type)
            ref, props = self._require_backing(volume.id)
        if vsphere_ops.moref_value(props.get('parent')) != \
                vsphere_ops.moref_value(folder):
            self.ops.move_into_folder(folder, [ref], target)
        self.ops.set_extra_config(ref, {specs.KEY_BACKEND: dest.backend_id},
                                  target)
        self.placement.invalidate()
        self._stats = None
        LOG.info('%s of volume %s: now on backend %s, datastore %s, host '
                 '%s.', what, volume.id, dest.backend_id,
                 place.datastore_name, place.host_name)

    def _in_volume_folder_of(self, place, folder):
        """The moref of volume folder ``folder`` of ``place``'s datacenter."""
        root = inventory.to_suds(place.vm_folder)
        try:
            return self.ops.ensure_folder(root, folder)
        except exceptions.VCenterFault as err:
            if err.fault != 'ManagedObjectNotFound':
                raise
            self.ops.forget_folder(root, folder)
            return self.ops.ensure_folder(root, folder)

    def _placed_at(self, props, dest, disk_type):
        """Whether the backing sits on ``dest``'s datastore and clusters.

        (and has ``disk_type``, when one is asked for).
        """
        datastores = [inventory.from_suds(d) for d in
                      vsphere_ops.ref_list(props.get('datastore'))]
        if datastores != [dest.location.datastore]:
            return False
        host = props.get('runtime.host')
        if host is None:
            return False
        host_props = self.placement.inventory().hosts.get(
            inventory.from_suds(host)) or {}
        if host_props.get('parent') not in dest.location.clusters:
            return False
        if disk_type is None:
            return True
        return disk_type_of(self._disk(props, props.get(
            'config.instanceUuid'))) == disk_type

    def _relocate_to(self, volume, ref, props, place, folder, dest,
                     disk_type):
        """One ``RelocateVM_Task``; its unknown outcome settled."""
        target = 'volume %s' % volume.id
        factory = self.session.factory
        datastore = inventory.to_suds(place.datastore)
        locators = None
        if disk_type is not None:
            disk = self._disk(props, volume.id)
            locators = [specs.disk_locator(factory, disk.key, datastore,
                                           disk_type)]
        spec = specs.relocate_spec(
            factory, datastore, host=inventory.to_suds(place.host),
            resource_pool=inventory.to_suds(place.resource_pool),
            disks=locators)
        spec.folder = folder
        try:
            self._run_task(
                lambda: self.session.invoke('RelocateVM_Task', ref,
                                            target=target, spec=spec),
                target, 'RelocateVM_Task')
        except settle.TaskFailure as failure:
            outcome = self._settle(failure, ref, RELOCATE_KINDS, volume.id)
            if outcome.state in (settle.RUNNING, settle.UNREADABLE):
                LOG.error('Moving volume %s to backend %s failed (%s) and '
                          'the outcome is not known yet; the next attempt '
                          'waits for it.', volume.id, dest.backend_id,
                          failure.error)
                raise failure.error from None
            self.placement.invalidate()
            found = self._backing(volume.id)
            if found is None or not self._placed_at(found[1], dest,
                                                    disk_type):
                raise failure.error from None
            LOG.info('Moving volume %s failed (%s) but vCenter moved it: '
                     'going on.', volume.id, failure.error)
