"""Carrying out the findings of :mod:`vmware_backend.admin.audit` on vCenter.

:class:`Fixer` removes stale markers and temporary snapshots, moves orphans
into quarantine (never destroys them), restores quarantined backings Cinder
knows, and purges quarantined backings past their grace period. Before each
change it reads the object again and refuses when it changed meanwhile.
"""

import time

from oslo_log import log as logging

from vmware_backend.admin import audit
from vmware_backend.vsphere import inventory
from vmware_backend.vsphere import ops as vsphere_ops
from vmware_backend.vsphere import specs

LOG = logging.getLogger(__name__)

# The quarantine folder's name, below the backend's volume folder.
QUARANTINE_FOLDER = 'quarantine'


class Fixer:
    """Acts on findings through :class:`vmware_backend.vsphere.ops.VolumeOps`.

    :param ops: a ``VolumeOps``.
    :param backings: the backings the findings were computed from (to find
        the source of a failed clone).
    :param known_ids: the ids Cinder knows; checked again before each
        change.
    :param min_age: seconds; a backing or marker found (re)made less than
        that ago when it is read again just before its removal is kept.
    :param backend: this backend's id, recorded as the owner of what it
        quarantines (backings of earlier releases carry none).
    """

    def __init__(self, ops, backings, known_ids, min_age=0, clock=time.time,
                 backend=None):
        self._ops = ops
        self._by_id = {b.volume_id: b for b in backings}
        self._known = set(known_ids)
        self._min_age = min_age
        self._clock = clock
        self._backend = backend

    def _extra(self, ref):
        return vsphere_ops.extra_config_dict(
            self._ops.properties(ref, ('config.extraConfig',)))

    def fix(self, finding):
        """Carry out one finding; raises what the vCenter call raised.

        :raises ValueError: the finding is kept (blocked, recent, in its
            grace period, a duplicate) or its object changed meanwhile.
        """
        if finding.blocked:
            raise ValueError('%s of %s is kept: %s'
                             % (finding.kind, finding.volume_id,
                                finding.blocked))
        if finding.recent:
            raise ValueError('%s of %s is recent: skipped'
                             % (finding.kind, finding.volume_id))
        if finding.kind == audit.STALE_MARKER:
            self._clear_marker(finding)
        elif finding.kind == audit.STALE_SNAPSHOT:
            self._ops.remove_snapshot(
                inventory.to_suds(finding.item_ref),
                'snapshot %s of volume %s' % (finding.item,
                                              finding.volume_id))
        elif finding.kind in audit.ORPHAN_KINDS:
            self._quarantine(finding)
        elif finding.kind == audit.RESTORE:
            self._restore(finding)
        elif finding.kind == audit.QUARANTINED:
            self._purge(finding)
        elif finding.kind == audit.INTERRUPTED_MIGRATION:
            self._finish_migration(finding)
        else:
            raise ValueError('%s of %s is never changed automatically'
                             % (finding.kind, finding.volume_id))

    def _finish_migration(self, finding):
        """Set the owner mark of a migrated backing Cinder has here."""
        ref = inventory.to_suds(finding.ref)
        owner = self._extra(ref).get(specs.KEY_BACKEND)
        if owner != finding.item or finding.volume_id not in self._known:
            raise ValueError('volume %s changed meanwhile (owner mark %s): '
                             'run the audit again' % (finding.volume_id,
                                                      owner))
        self._ops.set_extra_config(ref, {specs.KEY_BACKEND: finding.parent},
                                   'volume %s' % finding.volume_id)
        LOG.info('Set the owner mark of volume %s to %s (its migration had '
                 'stopped before it).', finding.volume_id, finding.parent)

    def _recent(self, since):
        return audit.is_recent(since, self._clock(), self._min_age)

    def _clear_marker(self, finding):
        ref = inventory.to_suds(finding.ref)
        clone_id = finding.clone_id
        extra = self._extra(ref)
        since = specs.marker_since(extra, clone_id)
        if since != finding.since and self._recent(since):
            raise ValueError('the marker of clone %s on volume %s was set '
                             'again meanwhile' % (clone_id,
                                                  finding.volume_id))
        self._ops.set_extra_config(
            ref, specs.clear_marker_entries(clone_id),
            'volume %s' % finding.volume_id)

    def _unknown_backing(self, finding):
        """The suds ref and extraConfig of the finding's backing, checked.

        :raises ValueError: Cinder knows the id, or the VM is no longer
            the backing of that id.
        """
        if finding.volume_id in self._known:
            raise ValueError('volume %s is known to Cinder'
                             % finding.volume_id)
        ref = inventory.to_suds(finding.ref)
        extra = self._extra(ref)
        if extra.get(specs.KEY_VOLUME_ID) != finding.volume_id:
            raise ValueError('VM %s is no longer the backing of volume %s'
                             % (finding.ref.value, finding.volume_id))
        return ref, extra

    def _quarantine(self, finding):
        """Mark the orphan quarantined (with the time), then move it.

        The mark is what counts: a backing whose move failed is still
        quarantined, only outside the folder.
        """
        ref, extra = self._unknown_backing(finding)
        try:
            created = int(extra.get(specs.KEY_CREATED))
        except (TypeError, ValueError):
            created = None
        if created != finding.since and self._recent(created):
            raise ValueError('the backing of volume %s was made again '
                             'meanwhile' % finding.volume_id)
        target = 'volume %s' % finding.volume_id
        entries = {specs.KEY_QUARANTINED: str(int(self._clock()))}
        if self._backend and not extra.get(specs.KEY_BACKEND):
            entries[specs.KEY_BACKEND] = self._backend
        self._ops.set_extra_config(ref, entries, target)
        if finding.folder is not None:
            folder = self._ops.ensure_folder(
                inventory.to_suds(finding.folder), QUARANTINE_FOLDER)
            self._ops.move_into_folder(folder, [ref], target)
        LOG.info('Quarantined backing %s of unknown volume %s.',
                 finding.ref.value, finding.volume_id)

    def _restore(self, finding):
        """Take a backing Cinder knows out of quarantine."""
        ref = inventory.to_suds(finding.ref)
        if self._extra(ref).get(specs.KEY_VOLUME_ID) != finding.volume_id:
            raise ValueError('VM %s is no longer the backing of volume %s'
                             % (finding.ref.value, finding.volume_id))
        target = 'volume %s' % finding.volume_id
        self._ops.set_extra_config(ref, {specs.KEY_QUARANTINED: ''}, target)
        if finding.folder is not None:
            self._ops.move_into_folder(inventory.to_suds(finding.folder),
                                       [ref], target)
        LOG.info('Restored backing %s of volume %s from quarantine.',
                 finding.ref.value, finding.volume_id)

    def _purge(self, finding):
        """Destroy a quarantined backing still quarantined as found."""
        ref, extra = self._unknown_backing(finding)
        try:
            since = int(extra.get(specs.KEY_QUARANTINED))
        except (TypeError, ValueError):
            since = None
        if since is None or since != finding.since:
            raise ValueError('the backing of volume %s was restored or '
                             'quarantined again meanwhile'
                             % finding.volume_id)
        self._ops.destroy(ref, 'volume %s' % finding.volume_id)
        LOG.info('Purged quarantined backing %s of unknown volume %s.',
                 finding.ref.value, finding.volume_id)
        if finding.parent:
            self._release_source(finding.volume_id, finding.parent)

    def _release_source(self, clone_id, parent):
        source_id, _sep, snap_name = parent.partition(':')
        source = self._by_id.get(source_id)
        if source is None:
            return
        ref = inventory.to_suds(source.ref)
        entries = specs.clear_marker_entries(clone_id)
        if any(key in source.extra for key in entries):
            self._ops.set_extra_config(ref, entries,
                                       'volume %s' % source_id)
        snap_ref = source.snapshots.get(snap_name)
        if snap_name == audit.TEMP_SNAPSHOT_PREFIX + clone_id and \
                snap_ref is not None:
            self._ops.remove_snapshot(
                inventory.to_suds(snap_ref),
                'snapshot %s of volume %s' % (snap_name, source_id))
