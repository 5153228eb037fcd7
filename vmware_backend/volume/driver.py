"""The volume driver in Cinder's vocabulary.

:class:`VMwareVolumeDriver` puts together the parts of the driver, one module
per concern: :mod:`.backings` (finding backings), :mod:`.lifecycle`
(create, delete, extend), :mod:`.snapshots`, :mod:`.clones` and
:mod:`.connections`. Method names and signatures follow Cinder's volume
driver interface; volume and snapshot objects are read by attribute only, so
Cinder's objects and plain ones both work. Nothing here imports Cinder.

Every operation that creates, changes or removes a backing, its snapshots or
its clone markers runs holding the per-volume locks (:mod:`.locking`) of the
volume ids it touches: two creates of one volume id, in two threads or two
processes, make one backing, and a source cannot be deleted while a clone of
it is being made.
"""

import functools

from vmware_backend import conf
from vmware_backend import exceptions
from vmware_backend.volume import backings
from vmware_backend.volume import backups
from vmware_backend.volume import clones
from vmware_backend.volume import connections
from vmware_backend.volume import datastore
from vmware_backend.volume import images
from vmware_backend.volume import lifecycle
from vmware_backend.volume import locking
from vmware_backend.volume import manage
from vmware_backend.volume import manage_snapshots
from vmware_backend.volume import migration
from vmware_backend.volume import multiattach
from vmware_backend.volume import policies
from vmware_backend.volume import retype
from vmware_backend.volume import snapshots
from vmware_backend.volume import volume_types


VERSION = '1.0.0'
VENDOR = 'VMware'
STORAGE_PROTOCOL = connections.STORAGE_PROTOCOL
CLONE_SNAPSHOT_PREFIX = clones.CLONE_SNAPSHOT_PREFIX


class _Parts(lifecycle.LifecycleMixin, snapshots.SnapshotMixin,
             clones.CloneMixin, connections.ConnectionMixin,
             manage.ManageMixin, manage_snapshots.ManageSnapshotsMixin,
             retype.RetypeMixin, migration.MigrationMixin,
             policies.StoragePolicyMixin,
             images.ImageMixin, backups.BackupStagingMixin,
             multiattach.MultiAttachMixin,
             backings.BackingAccess):
    """The concern modules put together, without locks."""


def _snapshot_volume_id(snapshot):
    return (volume_types.loaded_field(snapshot, 'volume_id') or
            snapshot.volume.id)


def _serialised(name, volume_ids):
    """``_Parts.<name>``, run holding the locks of ``volume_ids(*args)``.

    ``volume_ids`` takes the method's arguments (without ``self``) and
    returns the ids of the volumes the call creates, changes or removes.
    """
    method = getattr(_Parts, name)

    @functools.wraps(method)
    def locked(self, *args, **kwargs):
        with self.locks.hold(*volume_ids(*args, **kwargs)):
            return method(self, *args, **kwargs)

    return locked


class VMwareVolumeDriver(_Parts):
    """Maps Cinder volume operations onto vCenter.

    :param options: option values, see :func:`vmware_backend.conf.
        read_options`.
    :param session: a :class:`~vmware_backend.vsphere.session.VCenterSession`;
        one is made from ``options`` when omitted.
    :param locks: a :class:`~vmware_backend.volume.locking.LockProvider`;
        by default a :class:`~vmware_backend.volume.locking.ToozLocks` on
        ``vcenter_coordination_url``, started by :meth:`do_setup` (or the
        first locked call) and stopped by :meth:`close`.
    """

    VERSION = VERSION

    def __init__(self, options, session=None, placement=None, locks=None):
        super().__init__(options, session=session, placement=placement)
        self._stats = None
        defaults = conf.option_defaults()
        if locks is None:
            locks = locking.ToozLocks(
                self.options.get('vcenter_coordination_url') or
                defaults['vcenter_coordination_url'])
        self.locks = locking.VolumeLocks(
            locks, self.options.get('vcenter_backend_name') or
            defaults['vcenter_backend_name'])

    # The operations that change vCenter state, each holding the locks of
    # the volumes it changes. A clone also locks its source: it records a
    # marker on it and may snapshot it. A delete also locks the source
    # Cinder names (``source_volid``): deleting a linked clone releases its
    # source (marker, temporary snapshot).
    create_volume = _serialised(
        'create_volume', lambda volume: (volume.id,))
    delete_volume = _serialised(
        'delete_volume',
        lambda volume: (volume.id,
                        volume_types.loaded_field(volume, 'source_volid')))
    extend_volume = _serialised(
        'extend_volume', lambda volume, new_size: (volume.id,))
    create_snapshot = _serialised(
        'create_snapshot', lambda snapshot: (_snapshot_volume_id(snapshot),))
    delete_snapshot = _serialised(
        'delete_snapshot', lambda snapshot: (_snapshot_volume_id(snapshot),))
    revert_to_snapshot = _serialised(
        'revert_to_snapshot',
        lambda context, volume, snapshot: (volume.id,))
    create_volume_from_snapshot = _serialised(
        'create_volume_from_snapshot',
        lambda volume, snapshot: (volume.id, _snapshot_volume_id(snapshot)))
    create_cloned_volume = _serialised(
        'create_cloned_volume', lambda volume, src_vref: (volume.id,
                                                          src_vref.id))
    # May move the backing to another datastore.
    initialize_connection = _serialised(
        'initialize_connection', lambda volume, connector: (volume.id,))
    # After a backup restore it imports the restored disk.
    terminate_connection = _serialised(
        'terminate_connection',
        lambda volume, connector, **kw: (volume.id,))
    # Read the backing's disk file and add it to (or remove it from) the
    # instance: the file must not move meanwhile.
    attach_volume = _serialised(
        'attach_volume', lambda instance_ref, volume: (volume.id,))
    detach_volume = _serialised(
        'detach_volume', lambda instance_ref, volume: (volume.id,))
    # Import, release, retype and move change the backing (name,
    # instanceUuid, marks, disk, datastore) or its snapshots.
    manage_existing = _serialised(
        'manage_existing', lambda volume, existing_ref: (volume.id,))
    unmanage = _serialised('unmanage', lambda volume: (volume.id,))
    manage_existing_snapshot = _serialised(
        'manage_existing_snapshot',
        lambda snapshot, existing_ref: (_snapshot_volume_id(snapshot),))
    unmanage_snapshot = _serialised(
        'unmanage_snapshot',
        lambda snapshot: (_snapshot_volume_id(snapshot),))
    retype = _serialised(
        'retype', lambda ctxt, volume, new_type, diff, host: (volume.id,))
    migrate_volume = _serialised(
        'migrate_volume', lambda ctxt, volume, host: (volume.id,))
    # Replace the backing by an import / read it for the whole export.
    copy_image_to_volume = _serialised(
        'copy_image_to_volume',
        lambda context, volume, image_service, image_id, **kw: (volume.id,))
    copy_volume_to_image = _serialised(
        'copy_volume_to_image',
        lambda context, volume, image_service, image_meta: (volume.id,))

    def do_setup(self, context=None):
        """Log in to vCenter and start the lock backend.

        Errors name the server and the user, or the lock backend's option.
        """
        self.locks.provider.start()
        self.session.api

    def close(self):
        """Stop the lock backend (a later locked call starts it again)."""
        self.locks.provider.stop()

    def check_for_setup_error(self):
        """Refuse to start when no volume could ever be created.

        Cinder reports a backend whose ``check_for_setup_error`` returns as
        up, and then sends it volumes; a configured cluster that does not
        exist (a typo) or a configuration leaving no usable datastore would
        make every create fail later. One inventory read.

        :raises exceptions.BackendSetupError: naming the problem and the
            option to fix.
        """
        pools = self.placement.pools(refresh=True)
        inventory = self.placement.inventory()
        names = self.options.get('vcenter_cluster_names') or ()
        _hosts, missing = datastore.cluster_hosts(inventory, names)
        if missing:
            found = sorted(props.get('name') or ref.value for ref, props in
                           inventory.compute_resources.items()
                           if ref.type == datastore.CLUSTER_TYPE)
            raise exceptions.BackendSetupError(
                problem='cluster(s) %s named in vcenter_cluster_names do '
                        'not exist in vCenter (clusters found: %s)'
                        % (', '.join(repr(n) for n in missing),
                           ', '.join(found) or 'none'),
                fix='correct vcenter_cluster_names, or leave it empty to '
                    'use every cluster')
        if not pools:
            rejected = self.placement.rejected()
            raise exceptions.BackendSetupError(
                problem='no usable datastore: %s' % (
                    '; '.join('%s: %s' % item
                              for item in sorted(rejected.items())) or
                    'vCenter has no datastore'),
                fix='check vcenter_datastore_regex, vcenter_datastore_types '
                    'and vcenter_cluster_names ("vmware-backend-manage '
                    'check" lists every datastore and why it is rejected)')

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
                # vSphere multi-writer disks (volume types with
                # multiattach='<is> True', see volume/multiattach.py).
                'multiattach': True,
                'online_extend_support': False,
                'pools': pools,
            }
        return self._stats
