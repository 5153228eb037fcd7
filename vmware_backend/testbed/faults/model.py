"""A model of Cinder's database for the fault campaign.

Cinder's volume manager keeps a status per volume and snapshot and reacts
to a driver's failure by changing it; the campaign keeps the same records
here and hands the driver plain objects built from them (the attributes
the driver reads, as Cinder's versioned objects carry them).
"""

import itertools
import types

# Statuses, as Cinder names them.
CREATING, AVAILABLE, ERROR = 'creating', 'available', 'error'
DELETING, ERROR_DELETING, DELETED = 'deleting', 'error_deleting', 'deleted'
EXTENDING = 'extending'
# manage_existing failed / unmanaged (gone from Cinder, the VM stays).
ERROR_MANAGING, UNMANAGED = 'error_managing', 'unmanaged'
FAILED_IMPORT_DELETING = 'error_managing_deleting'


class VolumeRecord:
    """One row of Cinder's ``volumes`` table (the fields that matter).

    :param kind: how it was made: ``plain``, ``snapshot-linked``,
        ``snapshot-full``, ``clone-linked``, ``clone-full``.
    :param source: the snapshot or volume id it was made from.
    """

    def __init__(self, volume_id, size, kind='plain', clone_type='full',
                 source=None, seq=0):
        self.id = volume_id
        self.size = size
        self.kind = kind
        self.clone_type = clone_type
        self.source = source
        self.status = CREATING
        self.created_ok = False
        self.seq = seq
        # set by a retype: the new type's extra specs, the chosen pool
        self.specs = {}
        self.host = None
        # Cinder's status while deleting it ('error_managing_deleting'
        # for the record of a failed import).
        self.delete_status = DELETING

    def __repr__(self):
        return '<Volume %s %s %s GiB %s>' % (
            self.id[:8], self.kind, self.size, self.status)

    def obj(self, status=None):
        """The object handed to the driver."""
        return types.SimpleNamespace(
            id=self.id, name='volume-%s' % self.id, size=self.size,
            volume_type=types.SimpleNamespace(
                extra_specs=dict(self.specs,
                                 **{'vmware:clone_type': self.clone_type})),
            status=status or self.status, host=self.host,
            source_volid=(self.source if self.kind.startswith('clone')
                          else None),
            snapshot_id=(self.source if self.kind.startswith('snapshot')
                         else None))


class SnapshotRecord:
    """One row of Cinder's ``snapshots`` table."""

    def __init__(self, snapshot_id, volume, seq=0):
        self.id = snapshot_id
        self.volume_id = volume.id
        self.volume_size = volume.size
        self.status = CREATING
        self.seq = seq

    def __repr__(self):
        return '<Snapshot %s of %s %s>' % (self.id[:8], self.volume_id[:8],
                                           self.status)

    def obj(self, volume):
        """The object handed to the driver (``volume``: a VolumeRecord)."""
        return types.SimpleNamespace(
            id=self.id, name='snapshot-%s' % self.id, volume=volume.obj(),
            volume_id=self.volume_id, volume_size=self.volume_size)


class ForeignVm:
    """A VM of nobody (not in Cinder) and how it must look on vCenter.

    :param uuid: its instanceUuid (an unmanaged volume's: the volume id).
    :param adopted_by: the volume it was imported as (then no VM may have
        ``uuid`` any more), or None: exactly one VM has it, with this name,
        folder and disk and no mark of the driver.
    :param pending: the id of a failed import's record not yet deleted
        (the VM may be half adopted until it is: not checked meanwhile).
    """

    def __init__(self, uuid, name, folder, disk_kb):
        self.uuid = uuid
        self.name = name
        self.folder = folder
        self.disk_kb = list(disk_kb)
        self.adopted_by = None
        self.pending = None

    @property
    def size(self):
        return self.disk_kb[0] // (1024 * 1024)

    def __repr__(self):
        return '<Foreign VM %s %s>' % (self.uuid[:8], self.name)


class ForeignSnapshot:
    """A vSphere snapshot made outside Cinder on a volume's backing.

    ``adopted_by``: the Cinder snapshot it was imported as (renamed), or
    None: it must still be there under ``name`` while its volume lives.
    """

    def __init__(self, volume_id, name):
        self.volume_id = volume_id
        self.name = name
        self.adopted_by = None

    def __repr__(self):
        return '<Foreign snapshot %s of %s>' % (self.name,
                                                self.volume_id[:8])


class Model:
    """Volumes and snapshots by id, in creation order."""

    def __init__(self):
        self.volumes = {}
        self.snapshots = {}
        # VMs of nobody, by original instanceUuid (see ForeignVm).
        self.foreign = {}
        # Snapshots made outside Cinder, by name (see ForeignSnapshot).
        self.foreign_snapshots = {}
        self._seq = itertools.count()

    def add_volume(self, volume_id, size, **kwargs):
        record = VolumeRecord(volume_id, size, seq=next(self._seq), **kwargs)
        self.volumes[volume_id] = record
        return record

    def add_snapshot(self, snapshot_id, volume):
        record = SnapshotRecord(snapshot_id, volume, seq=next(self._seq))
        self.snapshots[snapshot_id] = record
        return record

    def volumes_in(self, *statuses):
        return [v for v in self.volumes.values() if v.status in statuses]

    def snapshots_in(self, *statuses):
        return [s for s in self.snapshots.values() if s.status in statuses]

    def snapshots_of(self, volume_id, *statuses):
        """Snapshots of a volume not yet deleted (or in ``statuses``)."""
        return [s for s in self.snapshots.values()
                if s.volume_id == volume_id and
                (s.status in statuses if statuses else s.status != DELETED)]

    def children_of(self, volume_id):
        """Volumes not deleted made from this volume or its snapshots."""
        snaps = {s.id for s in self.snapshots.values()
                 if s.volume_id == volume_id}
        return [v for v in self.volumes.values() if v.status != DELETED and
                (v.source == volume_id or v.source in snaps)]

    def extendable(self):
        """Available volumes vSphere can grow.

        No snapshots (also none kept for a linked clone of it), and not a
        linked clone.
        """
        outside = {f.volume_id for f in self.foreign_snapshots.values()
                   if not f.adopted_by}
        return [v for v in self.volumes_in(AVAILABLE)
                if not self.snapshots_of(v.id) and v.id not in outside and
                not (v.clone_type == 'linked' and v.kind != 'plain') and
                not [c for c in self.children_of(v.id)
                     if c.kind == 'clone-linked']]

    def teardown_order(self):
        """Everything not deleted, newest first.

        Children come before parents: a clone is newer than its snapshot,
        a snapshot newer than its volume.
        """
        items = [r for r in itertools.chain(self.volumes.values(),
                                            self.snapshots.values())
                 if r.status not in (DELETED, UNMANAGED)]
        return sorted(items, key=lambda r: r.seq, reverse=True)
