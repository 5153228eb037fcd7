"""The backend as a Cinder volume driver.

Enable it in a backend section of cinder.conf (a backend named in
``[DEFAULT] enabled_backends``) with ``volume_driver =
vmware_backend.openstack.cinder_driver.VMwareBackendCinderDriver``, a
``volume_backend_name`` and at least ``vcenter_host``, ``vcenter_username``
and ``vcenter_password``; ``etc/vmware_backend/cinder.conf.sample-snippet``
shows every option.

cinder-volume starts one service per enabled backend; its ``VolumeManager``
imports the class named by ``volume_driver`` and calls it with keyword
arguments only: ``configuration`` (a ``cinder.volume.configuration.
Configuration`` for the backend section), ``host``, ``cluster_name``,
``is_vol_db_empty`` and ``active_backend_id``. ``init_host`` then calls
``do_setup`` and ``check_for_setup_error``, and a periodic task calls
``get_volume_stats(refresh=True)``.

This class only translates: it reads the options of the backend section into
the plain dict that :class:`~vmware_backend.volume.driver.VMwareVolumeDriver`
takes, hands every call over to it, and turns the backend's exceptions into
the Cinder exceptions the volume manager reacts to (``VolumeIsBusy``,
``SnapshotIsBusy``...). It is the only module of the package that imports
Cinder; without Cinder it still imports (for documentation and option
listing) on a minimal stand-in base class.

The core driver takes its per-volume locks through Cinder's coordination
(:class:`CinderLocks`: ``cinder.coordination.COORDINATOR``, configured by
``[coordination] backend_url``), so they follow Cinder's own configuration:
a file backend on one node, or a distributed one for services on several
nodes. ``SUPPORTS_ACTIVE_ACTIVE`` is True: two cinder-volume services in
one Cinder ``cluster`` with a redis tooz backend ran tempest's volume API
tests, and one of them killed while volumes were being created lost or
duplicated nothing (``tools/openstack-cluster.sh``).
"""

import contextlib
import copy
import functools
import threading

from oslo_log import log as logging

from vmware_backend import conf as vb_conf
from vmware_backend import exceptions
from vmware_backend.volume import driver as core_driver
from vmware_backend.volume import locking

try:
    from cinder import coordination as cinder_coordination
    from cinder import exception as cinder_exception
    from cinder import interface as cinder_interface
    from cinder.volume import driver as cinder_driver
except ImportError:  # Cinder is an optional dependency of this package.
    cinder_coordination = cinder_exception = cinder_interface = None
    cinder_driver = None

LOG = logging.getLogger(__name__)

DEFAULT_GROUP = 'DEFAULT'


class _StandInBaseDriver:
    """Takes the place of ``cinder.volume.driver.VolumeDriver`` without Cinder.

    Accepts the constructor arguments Cinder's volume manager passes.
    """

    VERSION = 'N/A'

    def __init__(self, execute=None, host=None, cluster_name=None, *,
                 configuration, **kwargs):
        self.host = host
        self.cluster_name = cluster_name
        self.configuration = configuration
        self._stats = {}


if cinder_driver is not None:
    _BaseDriver = cinder_driver.VolumeDriver
    _register = cinder_interface.volumedriver
else:
    _BaseDriver = _StandInBaseDriver

    def _register(cls):
        return cls


def _cinder_error(err):
    """The Cinder exception standing for backend error ``err``, or None.

    The backend's own message is kept; the template arguments Cinder's
    exceptions define are filled in as well.
    """
    if cinder_exception is None:
        return None
    kwargs = err.kwargs
    if isinstance(err, exceptions.VolumeIsBusy):
        return cinder_exception.VolumeIsBusy(
            err.msg, volume_name=kwargs.get('volume'))
    if isinstance(err, exceptions.SnapshotIsBusy):
        return cinder_exception.SnapshotIsBusy(
            err.msg, snapshot_name=kwargs.get('snapshot'))
    if isinstance(err, exceptions.InvalidExtraSpec):
        return cinder_exception.InvalidVolumeType(err.msg, reason=err.msg)
    if isinstance(err, exceptions.InvalidVolume):
        return cinder_exception.InvalidVolume(err.msg, reason=err.msg)
    if isinstance(err, exceptions.InvalidSnapshot):
        return cinder_exception.InvalidSnapshot(err.msg, reason=err.msg)
    if isinstance(err, exceptions.InvalidReference):
        return cinder_exception.ManageExistingInvalidReference(
            err.msg, existing_ref=kwargs.get('existing_ref'),
            reason=err.msg)
    if isinstance(err, exceptions.InvalidImage):
        return cinder_exception.ImageUnacceptable(
            err.msg, image_id=kwargs.get('image'), reason=err.msg)
    if isinstance(err, exceptions.ImageTransferError):
        return cinder_exception.ImageCopyFailure(err.msg, reason=err.msg)
    if isinstance(err, exceptions.InvalidConfiguration):
        return cinder_exception.InvalidConfigurationValue(
            err.msg, option=kwargs.get('option'), value=None)
    return cinder_exception.VolumeBackendAPIException(data=err.msg)


def _translated(method):
    """Re-raise the backend's exceptions as Cinder exceptions."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except exceptions.VMwareBackendException as err:
            translated = _cinder_error(err)
            if translated is None:
                raise
            raise translated from err

    return wrapper


def _over_subscription_ratio(value, group):
    """Cinder's ``max_over_subscription_ratio`` (a string) as a float."""
    text = str(value).strip()
    try:
        ratio = float(text)
    except ValueError:
        ratio = None
    if ratio is None or ratio < 1.0:
        raise exceptions.InvalidConfiguration(
            group=group, option='max_over_subscription_ratio',
            reason='%r is not supported by this driver: a number of at '
                   'least 1.0 is needed ("auto" is not supported)' % text)
    return ratio


class CinderLocks(locking.LockProvider):
    """Locks from Cinder's coordinator (``[coordination] backend_url``).

    cinder-volume starts the coordinator before it sets up its drivers;
    :meth:`start` starts it too when it is not (a driver used outside the
    service), and nothing here stops it: it belongs to the service.
    """

    option = '[coordination] backend_url'

    def __init__(self, coordinator=None):
        if coordinator is None:
            if cinder_coordination is None:
                raise RuntimeError('cinder.coordination is not available: '
                                   'Cinder is not installed')
            coordinator = cinder_coordination.COORDINATOR
        self.coordinator = coordinator

    def _error(self, reason):
        url = None
        try:
            from oslo_config import cfg
            url = cfg.CONF.coordination.backend_url
        except Exception:  # the option is Cinder's; it may be missing
            pass
        return exceptions.CoordinationError(
            url=locking.redacted_url(url) if url else '(unknown)',
            option=self.option, reason=locking.scrubbed(reason, url))

    def start(self):
        if self.coordinator.started:
            return
        try:
            self.coordinator.start()
        except Exception as err:
            raise self._error('cannot connect: %s'
                              % locking.error_text(err)) from None

    @contextlib.contextmanager
    def lock(self, name):
        self.start()
        try:
            lock = self.coordinator.get_lock(name)
            acquired = lock.acquire(True)
        except Exception as err:
            raise self._error('cannot take lock %s: %s'
                              % (name, locking.error_text(err))) from None
        if not acquired:
            raise self._error('lock %s was not granted' % name)
        try:
            yield
        finally:
            try:
                lock.release()
            except Exception as err:
                LOG.warning('Releasing lock %s failed: %s', name,
                            locking.error_text(err))


# Cinder's generic backend options that replace ours inside Cinder: the
# scheduler applies the values reported in the statistics, so placement must
# use the same ones. (Cinder option, our option, converter)
_CINDER_EQUIVALENTS = (
    ('reserved_percentage', 'vcenter_reserved_percentage',
     lambda value, group: int(value)),
    ('max_over_subscription_ratio', 'vcenter_max_over_subscription_ratio',
     _over_subscription_ratio),
)


@_register
class VMwareBackendCinderDriver(_BaseDriver):
    """Volumes as vmdk disks of "backing" VMs managed through vCenter.

    Attachments are made by Nova's vmwareapi driver (connection type
    ``vmdk``): the instance VM and the volume's backing must be in the same
    vCenter.
    """

    VERSION = core_driver.VERSION
    # Per-volume locks go through Cinder's coordination; proven in a
    # two-service cluster (README, "Tested with OpenStack").
    SUPPORTS_ACTIVE_ACTIVE = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.configuration.append_config_values(vb_conf.ALL_OPTS)
        self._core = None
        self._core_lock = threading.Lock()

    @staticmethod
    def get_driver_options():
        """The options this driver reads from its backend section."""
        return vb_conf.ALL_OPTS

    # Options and the core driver ------------------------------------

    def backend_options(self):
        """The core driver's option dict, read from the backend section.

        Our ``vcenter_*`` options are read and checked as
        :func:`vmware_backend.conf.read_options` does; the backend name and
        the reserve and over-subscription settings come from Cinder's own
        options (``volume_backend_name``, ``reserved_percentage``,
        ``max_over_subscription_ratio``).

        :raises exceptions.InvalidConfiguration: naming the bad option.
        """
        config = self.configuration
        group = config.config_group or DEFAULT_GROUP
        options = vb_conf.read_options({group: config}, group)
        if not options['vcenter_host']:
            raise exceptions.InvalidConfiguration(
                group=group, option='vcenter_host',
                reason='required: the Cinder driver has no embedded '
                       'simulator to fall back on')
        options['vcenter_backend_name'] = (
            config.safe_get('volume_backend_name') or type(self).__name__)
        defaults = vb_conf.option_defaults()
        for cinder_name, our_name, convert in _CINDER_EQUIVALENTS:
            value = config.safe_get(cinder_name)
            if value is None:
                continue
            value = convert(value, group)
            ours = options[our_name]
            if ours != defaults[our_name] and ours != value:
                LOG.warning('[%(group)s] %(ours)s = %(value)s is ignored '
                            'inside Cinder; set %(cinder)s instead (now '
                            '%(cinder_value)s).',
                            {'group': group, 'ours': our_name, 'value': ours,
                             'cinder': cinder_name, 'cinder_value': value})
            options[our_name] = value
        if options['vcenter_coordination_url'] != \
                defaults['vcenter_coordination_url']:
            LOG.warning('[%s] vcenter_coordination_url is ignored inside '
                        'Cinder: the per-volume locks use [coordination] '
                        'backend_url.', group)
        return options

    @property
    def core(self):
        """The core driver (:mod:`vmware_backend.volume.driver`)."""
        if self._core is None:
            with self._core_lock:
                if self._core is None:
                    locks = CinderLocks() if cinder_coordination else None
                    self._core = core_driver.VMwareVolumeDriver(
                        self.backend_options(), locks=locks)
        return self._core

    # Set-up and statistics --------------------------------------------

    @_translated
    def do_setup(self, context):
        self.core.do_setup(context)

    @_translated
    def check_for_setup_error(self):
        self.core.check_for_setup_error()

    @_translated
    def get_volume_stats(self, refresh=False):
        # The volume manager adds its own keys to the dict it gets (and to
        # each pool); keep them out of the core's cached copy.
        self._stats = copy.deepcopy(self.core.get_volume_stats(refresh))
        return self._stats

    # Volumes and snapshots ---------------------------------------------

    @_translated
    def create_volume(self, volume):
        return self.core.create_volume(volume)

    @_translated
    def delete_volume(self, volume):
        return self.core.delete_volume(volume)

    @_translated
    def extend_volume(self, volume, new_size):
        return self.core.extend_volume(volume, new_size)

    @_translated
    def create_snapshot(self, snapshot):
        return self.core.create_snapshot(snapshot)

    @_translated
    def delete_snapshot(self, snapshot):
        return self.core.delete_snapshot(snapshot)

    @_translated
    def revert_to_snapshot(self, context, volume, snapshot):
        return self.core.revert_to_snapshot(context, volume, snapshot)

    @_translated
    def create_volume_from_snapshot(self, volume, snapshot):
        return self.core.create_volume_from_snapshot(volume, snapshot)

    @_translated
    def create_cloned_volume(self, volume, src_vref):
        return self.core.create_cloned_volume(volume, src_vref)

    # Connections ---------------------------------------------------------

    # Nova attaches the backing's vmdk itself; there is nothing to export.
    def ensure_export(self, context, volume):
        pass

    def create_export(self, context, volume, connector):
        pass

    def remove_export(self, context, volume):
        pass

    @_translated
    def initialize_connection(self, volume, connector, **kwargs):
        return self.core.initialize_connection(volume, connector)

    @_translated
    def terminate_connection(self, volume, connector, **kwargs):
        return self.core.terminate_connection(volume, connector, **kwargs)

    # Import of existing disks ------------------------------------------

    @_translated
    def manage_existing(self, volume, existing_ref):
        return self.core.manage_existing(volume, existing_ref)

    @_translated
    def manage_existing_get_size(self, volume, existing_ref):
        return self.core.manage_existing_get_size(volume, existing_ref)

    @_translated
    def unmanage(self, volume):
        return self.core.unmanage(volume)

    @_translated
    def get_manageable_volumes(self, cinder_volumes, marker, limit, offset,
                               sort_keys, sort_dirs):
        return self.core.get_manageable_volumes(
            cinder_volumes, marker, limit, offset, sort_keys, sort_dirs)

    @_translated
    def manage_existing_snapshot(self, snapshot, existing_ref):
        return self.core.manage_existing_snapshot(snapshot, existing_ref)

    @_translated
    def manage_existing_snapshot_get_size(self, snapshot, existing_ref):
        return self.core.manage_existing_snapshot_get_size(snapshot,
                                                           existing_ref)

    @_translated
    def unmanage_snapshot(self, snapshot):
        return self.core.unmanage_snapshot(snapshot)

    @_translated
    def get_manageable_snapshots(self, cinder_snapshots, marker, limit,
                                 offset, sort_keys, sort_dirs):
        return self.core.get_manageable_snapshots(
            cinder_snapshots, marker, limit, offset, sort_keys, sort_dirs)

    # Retype and migration -----------------------------------------------

    @_translated
    def retype(self, context, volume, new_type, diff, host):
        return self.core.retype(context, volume,
                                _with_qos_specs(context, new_type), diff,
                                host)

    @_translated
    def migrate_volume(self, context, volume, host):
        return self.core.migrate_volume(context, volume, host)

    # Cinder's generic migration (a retype changing more than the backend)
    # calls it before attaching both volumes through os-brick: refused
    # there, before any attach; Cinder then removes its new volume.
    @_translated
    def before_volume_copy(self, context, src_vol, dest_vol, remote=None):
        return self.core.before_volume_copy(context, src_vol, dest_vol,
                                            remote=remote)

    # Images ----------------------------------------------------------------

    # Cinder's generic image copy would attach the volume to the
    # cinder-volume host through os-brick, whose "vmdk" connector needs the
    # vCenter credentials in the connection info. The core driver moves the
    # disk through vCenter's HttpNfcLease with its own session instead
    # (vmware_backend.volume.images).

    @_translated
    def copy_image_to_volume(self, context, volume, image_service, image_id,
                             disable_sparse=False):
        """Fill the volume from a Glance image.

        The volume manager calls it after :meth:`create_volume`; the
        backing is replaced by an import of the image (vmdk
        streamOptimized streamed; sparse/preallocated vmdk, raw and qcow2
        converted with qemu-img in ``vcenter_image_tmp_dir``). A refused
        image is ``ImageUnacceptable`` (naming the bad format, property or
        size); a failed transfer ``ImageCopyFailure``, with no backing left.
        """
        return self.core.copy_image_to_volume(context, volume, image_service,
                                              image_id,
                                              disable_sparse=disable_sparse)

    @_translated
    def copy_volume_to_image(self, context, volume, image_service,
                             image_meta):
        """Upload the volume to the Glance image ``image_meta['id']``.

        ``disk_format`` vmdk: the disk exported as streamOptimized with the
        image properties ``vmware_disktype=streamOptimized`` and
        ``vmware_adaptertype``; raw and qcow2 are converted locally.
        """
        return self.core.copy_volume_to_image(context, volume, image_service,
                                              image_meta)


def _with_qos_specs(context, new_type):
    """Retype's ``new_type`` dict with its QoS specs loaded.

    Cinder passes the new type as a dict naming its QoS specs by id only
    (``qos_specs_id``); the driver reads ``qos_specs`` (consumer, specs).
    """
    if not isinstance(new_type, dict) or 'qos_specs' in new_type or \
            not new_type.get('qos_specs_id'):
        return new_type
    from cinder.volume import qos_specs
    found = qos_specs.get_qos_specs(context, new_type['qos_specs_id'])
    return dict(new_type, qos_specs={'consumer': found.consumer,
                                     'specs': dict(found.specs or {})})
