"""QoS as vCenter holds it: a volume disk's I/O allocation, datastore SIOC.

:func:`volume_allocation` reads the ``storageIOAllocation`` of a volume's
backing disk. :func:`sioc` and :func:`configure_sioc` show and change a
datastore's Storage I/O Control (``iormConfiguration``,
``StorageResourceManager.ConfigureDatastoreIORM_Task``), checking
vSphere's documented ranges first: congestion threshold 5-100 ms,
percent of peak throughput 50-100, mode ``automatic`` or ``manual``. SIOC
works on VMFS and NFS (v3) datastores only, not on NFS 4.1, vSAN, vVol or
local ones.
"""

import dataclasses

from vmware_backend.admin import datastores
from vmware_backend.admin import snapshot_trees
from vmware_backend import exceptions
from vmware_backend.vsphere import inventory
from vmware_backend.vsphere import ops

SIOC_TYPES = ('VMFS', 'NFS')
THRESHOLD_MS = (5, 100)
PERCENT = (50, 100)
MODES = ('automatic', 'manual')


@dataclasses.dataclass
class DiskAllocation:
    """A volume disk's I/O allocation as vCenter reports it."""

    volume_id: str
    backing: str
    disk: str
    limit_iops: int
    reservation_iops: int
    shares_level: str
    shares: int


def volume_allocation(session, volume_id):
    """The :class:`DiskAllocation` of volume ``volume_id``'s disk."""
    ref = snapshot_trees._backing(session, volume_id)
    props = session.get_properties(ref, ['config.hardware.device'])
    disks = [d for d in ops.devices_of(props)
             if type(d).__name__ == 'VirtualDisk']
    if not disks:
        raise exceptions.AdminRefused(
            action='Reading the I/O allocation of', target='volume %s' %
            volume_id, reason='its backing has no disk')
    disk = disks[0]
    info = getattr(disk, 'storageIOAllocation', None)
    shares = getattr(info, 'shares', None)
    return DiskAllocation(
        volume_id=volume_id, backing=ops.moref_value(ref),
        disk=str(disk.backing.fileName),
        limit_iops=getattr(info, 'limit', None),
        reservation_iops=getattr(info, 'reservation', None),
        shares_level=str(shares.level) if shares is not None else None,
        shares=getattr(shares, 'shares', None))


def sioc(session, ident):
    """``(name, id, type, Sioc)`` of datastore ``ident``."""
    inv = datastores.read(session)
    ref, props = datastores.find(inv, ident)
    return (props.get('name'), ref.value, props.get('summary.type'),
            datastores.sioc_of(props))


def _check_range(name, value, bounds):
    if value is not None and not bounds[0] <= value <= bounds[1]:
        raise exceptions.InvalidAdminInput(
            name=name, value=value,
            reason='vSphere accepts %d to %d' % bounds)


def check_sioc_input(enabled, mode, threshold_ms, percent, stats):
    """Refuse values outside vSphere's documented ranges."""
    if (enabled, mode, threshold_ms, percent, stats) == (None,) * 5:
        raise exceptions.InvalidAdminInput(
            name='change', value=None,
            reason='give at least one setting to change')
    if mode is not None and mode not in MODES:
        raise exceptions.InvalidAdminInput(
            name='congestion threshold mode', value=mode,
            reason='use %s' % ' or '.join(MODES))
    _check_range('congestion threshold (ms)', threshold_ms, THRESHOLD_MS)
    _check_range('percent of peak throughput', percent, PERCENT)
    if threshold_ms is not None and mode == 'automatic':
        raise exceptions.InvalidAdminInput(
            name='congestion threshold (ms)', value=threshold_ms,
            reason='a threshold in ms applies to the manual mode; with '
                   'automatic give --percent')


def configure_sioc(session, ident, enabled=None, mode=None,
                   threshold_ms=None, percent=None, stats=None,
                   dry_run=False):
    """Change a datastore's Storage I/O Control settings.

    :returns: ``(name, id, type, Sioc)`` after the change (before, for a
        dry run).
    :raises exceptions.InvalidAdminInput: a value out of range.
    :raises exceptions.AdminRefused: the datastore's type has no SIOC, or it
        is not accessible.
    """
    check_sioc_input(enabled, mode, threshold_ms, percent, stats)
    inv = datastores.read(session)
    ref, props = datastores.find(inv, ident)
    name, ds_type = props.get('name'), props.get('summary.type')
    if ds_type not in SIOC_TYPES:
        raise exceptions.AdminRefused(
            action='Configuring Storage I/O Control on', target=name,
            reason='SIOC works on VMFS and NFS v3 datastores only; this one '
                   'is %s' % ds_type)
    if props.get('summary.accessible') is not True:
        raise exceptions.AdminRefused(
            action='Configuring Storage I/O Control on', target=name,
            reason='the datastore is not accessible')
    before = (name, ref.value, ds_type, datastores.sioc_of(props))
    if dry_run:
        return before
    spec = session.factory.create('ns0:StorageIORMConfigSpec')
    for attr, value in (('enabled', enabled),
                        ('congestionThresholdMode', mode),
                        ('congestionThreshold', threshold_ms),
                        ('percentOfPeakThroughput', percent),
                        ('statsCollectionEnabled', stats)):
        if value is not None:
            setattr(spec, attr, value)
    session.invoke_task(
        'ConfigureDatastoreIORM_Task',
        session.service_content.storageResourceManager,
        target='datastore %s' % name,
        datastore=inventory.to_suds(ref), spec=spec)
    after = inventory.get_properties(session, ref, ['iormConfiguration'])
    return name, ref.value, ds_type, datastores.sioc_of(after)
