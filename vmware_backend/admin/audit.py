"""Leftovers on vCenter that Cinder does not know about, and their removal.

Given the volume ids Cinder knows and the backings read by
:func:`vmware_backend.admin.listing.read`, :func:`find` reports:

``orphaned-backing``
    a managed backing whose volume id Cinder does not know;
``failed-clone``
    the same, for a backing that is a linked clone (it carries
    ``vmware_backend.parent``): what a clone operation that failed half-way
    leaves behind;
``stale-temporary-snapshot``
    a snapshot ``clone-<id>`` (taken for a linked clone of a volume) whose
    clone backing no longer exists;
``stale-clone-marker``
    an extraConfig entry ``vmware_backend.clone.<id>`` whose clone no
    longer exists, or that does not protect anything: the clone's
    ``vmware_backend.parent`` names another backing (vCenter copies
    extraConfig into a clone, markers included).

Nothing Cinder knows is ever reported for removal: a marker or temporary
snapshot naming a volume id Cinder knows (a clone being created right now)
is left alone, and so is an orphan that a volume Cinder knows depends on
(through a linked clone) or that an instance VM still has attached.

The id list is taken before vCenter is read, so what was created after it
looks unknown: a new volume's backing, the marker and temporary snapshot of
a linked clone being made right now. Given ``min_age``, a finding younger
than that is *recent*: reported, never removed, not counted as a leftover
(a later run decides). Its age comes from the backing's
``vmware_backend.created``, the marker's ``vmware_backend.clone_since.<id>``
or the snapshot's ``createTime``; without a time (made before the driver
recorded it) a backing or marker counts as old. An old orphan a recent one
depends on (through a linked clone) is kept as well.

:func:`find` and :func:`removal_order` are pure; :func:`fix` removes the
findings through :class:`vmware_backend.vsphere.ops.VolumeOps`.
"""

import dataclasses
import time
import uuid

from oslo_log import log as logging

from vmware_backend.vsphere import inventory
from vmware_backend.vsphere import ops as vsphere_ops
from vmware_backend.vsphere import specs

LOG = logging.getLogger(__name__)

ORPHAN = 'orphaned-backing'
FAILED_CLONE = 'failed-clone'
STALE_SNAPSHOT = 'stale-temporary-snapshot'
STALE_MARKER = 'stale-clone-marker'
KINDS = (STALE_MARKER, STALE_SNAPSHOT, FAILED_CLONE, ORPHAN)

TEMP_SNAPSHOT_PREFIX = 'clone-'
DEFAULT_MIN_AGE = 3600


@dataclasses.dataclass
class Finding:
    """One leftover.

    ``volume_id``/``ref``/``backing_name`` name the backing it is on (or
    is); ``item`` the extraConfig key or snapshot name; ``blocked`` why it
    is kept even with ``--fix`` (None when it can be removed); ``since``
    when the object was made (epoch seconds, None when unknown) and
    ``recent`` whether that is less than the minimum age ago (then it is
    skipped: neither removed nor counted).
    """

    kind: str
    volume_id: str
    ref: inventory.MoRef
    backing_name: str
    item: str = None
    item_ref: inventory.MoRef = None
    detail: str = ''
    blocked: str = None
    parent: str = None
    since: float = None
    recent: bool = False

    @property
    def fixable(self):
        return self.blocked is None and not self.recent

    @property
    def clone_id(self):
        """The clone volume id a marker finding names, or None."""
        if self.kind != STALE_MARKER or not self.item:
            return None
        return self.item[len(specs.KEY_CLONE_PREFIX):]

    def as_dict(self):
        """Plain values for tables and JSON."""
        return {
            'kind': self.kind,
            'volume_id': self.volume_id,
            'backing': self.backing_name,
            'moref': self.ref.value,
            'item': self.item,
            'detail': self.detail,
            'since': self.since,
            'recent': self.recent,
            'action': self.action(),
        }

    def action(self):
        """What ``--fix`` does about it."""
        if self.recent:
            return 'recent, skipped'
        if self.blocked:
            return 'kept: %s' % self.blocked
        if self.kind == STALE_MARKER:
            return 'remove extraConfig key'
        if self.kind == STALE_SNAPSHOT:
            return 'remove snapshot'
        if self.kind == FAILED_CLONE:
            return 'destroy backing, release its source'
        return 'destroy backing'


def parse_volume_ids(lines):
    """The set of volume ids in ``lines`` (one per line).

    Blank lines and lines starting with ``#`` are skipped.

    :raises ValueError: a line is not a UUID (naming the line), so that a
        wrong file cannot make every backing look orphaned.
    """
    ids = set()
    for number, line in enumerate(lines, 1):
        text = line.strip()
        if not text or text.startswith('#'):
            continue
        try:
            ids.add(str(uuid.UUID(text)))
        except ValueError:
            raise ValueError('line %d is not a volume id (UUID): %r'
                             % (number, text[:80]))
    return ids


def _source_id(parent):
    return (parent or '').partition(':')[0] or None


def marker_problem(backing, clone_id, by_id, known):
    """Why the clone marker for ``clone_id`` on ``backing`` is stale.

    :param by_id: {volume id: Backing} of every backing.
    :param known: the volume ids Cinder knows.
    :returns: None while the marker protects a clone: the clone exists
        and names ``backing`` as its parent, or it does not exist (yet)
        but Cinder knows its id.
    """
    clone = by_id.get(clone_id)
    if clone is None:
        if clone_id in known:
            return None
        return 'linked clone %s no longer exists' % clone_id
    source = _source_id(clone.parent)
    if source != backing.volume_id:
        return ('volume %s is a linked clone of %s, not of this volume: '
                'the entry was copied by a clone'
                % (clone_id, source or 'nothing'))
    return None


def dependents(backings, known=()):
    """{volume id: set of volume ids of linked clones depending on it}.

    A clone depends on the source its ``vmware_backend.parent`` names; a
    marker on a source also counts while its clone does not exist but is
    known to Cinder (a clone being created).
    """
    by_id = {b.volume_id: b for b in backings}
    found = {}
    for backing in backings:
        source = _source_id(backing.parent)
        if source:
            found.setdefault(source, set()).add(backing.volume_id)
        for clone_id in backing.clone_markers:
            if clone_id not in by_id and clone_id in known:
                found.setdefault(backing.volume_id, set()).add(clone_id)
    return found


def is_recent(since, now, min_age):
    """Whether ``since`` (epoch seconds or None) is under ``min_age`` ago.

    An unknown time counts as old; ``min_age`` 0 (or less) makes nothing
    recent.
    """
    if not min_age or min_age <= 0 or since is None:
        return False
    return now - since < min_age


def _blocked_orphans(orphans, deps, known, attached, recent=()):
    """{orphan id: reason} of orphans that must be kept.

    ``recent``: orphans that are skipped as recent; what they depend on is
    kept too.
    """
    blocked = {}
    for volume_id in orphans:
        if volume_id in attached:
            blocked[volume_id] = ('attached to instance(s) %s'
                                  % ', '.join(sorted(attached[volume_id])))
            continue
        needed = sorted(d for d in deps.get(volume_id, ()) if d in known)
        if needed:
            blocked[volume_id] = ('volume(s) %s known to Cinder depend on it'
                                  % ', '.join(needed))
    changed = True
    while changed:
        changed = False
        for volume_id in orphans:
            if volume_id in blocked:
                continue
            kept = sorted(d for d in deps.get(volume_id, ())
                          if d in blocked or d in recent)
            if kept:
                blocked[volume_id] = ('linked clone(s) %s that are kept '
                                      'depend on it' % ', '.join(kept))
                changed = True
    return blocked


def find(backings, known_ids, instances=(), min_age=0, now=None):
    """Every leftover among ``backings`` given the ids Cinder knows.

    :param backings: :class:`vmware_backend.admin.listing.Backing` records.
    :param known_ids: the volume ids Cinder knows.
    :param instances: :class:`vmware_backend.admin.listing.Instance` records;
        an orphan an instance has attached is kept.
    :param min_age: seconds; younger findings are marked ``recent``
        (0: none is).
    :param now: the current time in epoch seconds (default: now).
    :returns: a list of :class:`Finding`, in :data:`KINDS` order.
    """
    now = time.time() if now is None else now
    known = set(known_ids)
    by_id = {b.volume_id: b for b in backings}
    alive = set(by_id) | known
    deps = dependents(backings, known)
    attached = {}
    for inst in instances:
        for volume_id in inst.marks:
            attached.setdefault(volume_id, set()).add(inst.name)
    orphans = {b.volume_id for b in backings if b.volume_id not in known}
    recent_orphans = {b.volume_id for b in backings
                      if b.volume_id in orphans and
                      is_recent(b.created, now, min_age)}
    blocked = _blocked_orphans(orphans, deps, known, attached,
                               recent_orphans)

    findings = []
    for b in backings:
        in_use = set()
        recent_snaps = set()
        for clone_id, snap_name in sorted(b.clone_markers.items()):
            problem = marker_problem(b, clone_id, by_id, known)
            if problem is None:
                in_use.add(snap_name)
                continue
            since = b.marker_since(clone_id)
            recent = is_recent(since, now, min_age)
            if recent:
                # The snapshot a clone being made reads is as young.
                recent_snaps.add(snap_name)
            findings.append(Finding(
                STALE_MARKER, b.volume_id, b.ref, b.name,
                item=specs.KEY_CLONE_PREFIX + clone_id,
                detail='%s (snapshot %s)' % (problem, snap_name),
                since=since, recent=recent))
        for snap_name, snap_ref in sorted(b.snapshots.items()):
            if not snap_name or \
                    not snap_name.startswith(TEMP_SNAPSHOT_PREFIX):
                continue
            clone_id = snap_name[len(TEMP_SNAPSHOT_PREFIX):]
            if clone_id in alive or snap_name in in_use:
                continue
            since = b.snapshot_times.get(snap_name)
            findings.append(Finding(
                STALE_SNAPSHOT, b.volume_id, b.ref, b.name, item=snap_name,
                item_ref=snap_ref,
                detail='temporary snapshot for linked clone %s, which no '
                       'longer exists' % clone_id,
                since=since,
                recent=(snap_name in recent_snaps or
                        is_recent(since, now, min_age))))
        if b.volume_id in orphans:
            kind = FAILED_CLONE if b.parent else ORPHAN
            detail = 'volume id unknown to Cinder'
            if b.parent:
                detail += '; linked clone of %s' % b.parent
            findings.append(Finding(
                kind, b.volume_id, b.ref, b.name, detail=detail,
                blocked=blocked.get(b.volume_id), parent=b.parent,
                since=b.created, recent=b.volume_id in recent_orphans))
    findings.sort(key=lambda f: (KINDS.index(f.kind), f.volume_id,
                                 f.item or ''))
    return findings


def removal_order(findings, backings):
    """The fixable findings in a safe order of removal.

    Markers first, then temporary snapshots, then backings, linked clones
    before the backings they depend on (deepest first).
    """
    by_id = {b.volume_id: b for b in backings}

    def depth(volume_id, seen=()):
        backing = by_id.get(volume_id)
        source = _source_id(backing.parent) if backing else None
        if source is None or source in seen or source not in by_id:
            return 0
        return 1 + depth(source, seen + (volume_id,))

    items = [f for f in findings if f.fixable]
    small = [f for f in items if f.kind in (STALE_MARKER, STALE_SNAPSHOT)]
    small.sort(key=lambda f: (KINDS.index(f.kind), f.volume_id, f.item))
    large = [f for f in items if f.kind in (FAILED_CLONE, ORPHAN)]
    large.sort(key=lambda f: (-depth(f.volume_id), f.volume_id))
    return small + large


def summary(findings):
    """{kind: count} over every kind (zeros included), recent ones out."""
    counts = {kind: 0 for kind in KINDS}
    for f in problems(findings):
        counts[f.kind] += 1
    return counts


def problems(findings):
    """The findings that are leftovers: all but the recent ones."""
    return [f for f in findings if not f.recent]


class Fixer:
    """Removes findings through :class:`vmware_backend.vsphere.ops.VolumeOps`.

    :param ops: a ``VolumeOps``.
    :param backings: the backings the findings were computed from (to find
        the source of a failed clone).
    :param known_ids: the ids Cinder knows; checked again before each
        removal.
    :param min_age: seconds; a backing or marker found (re)made less than
        that ago when it is read again just before its removal is kept.
    """

    def __init__(self, ops, backings, known_ids, min_age=0, clock=time.time):
        self._ops = ops
        self._by_id = {b.volume_id: b for b in backings}
        self._known = set(known_ids)
        self._min_age = min_age
        self._clock = clock

    def _extra(self, ref):
        return vsphere_ops.extra_config_dict(
            self._ops.properties(ref, ('config.extraConfig',)))

    def fix(self, finding):
        """Remove one finding; raises what the vCenter call raised."""
        if finding.blocked:
            raise ValueError('%s of %s is kept: %s'
                             % (finding.kind, finding.volume_id,
                                finding.blocked))
        if finding.recent:
            raise ValueError('%s of %s is recent: skipped'
                             % (finding.kind, finding.volume_id))
        if finding.kind == STALE_MARKER:
            self._clear_marker(finding)
        elif finding.kind == STALE_SNAPSHOT:
            self._ops.remove_snapshot(
                inventory.to_suds(finding.item_ref),
                'snapshot %s of volume %s' % (finding.item,
                                              finding.volume_id))
        else:
            self._destroy(finding)

    def _recent(self, since):
        return is_recent(since, self._clock(), self._min_age)

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

    def _destroy(self, finding):
        if finding.volume_id in self._known:
            raise ValueError('volume %s is known to Cinder'
                             % finding.volume_id)
        ref = inventory.to_suds(finding.ref)
        extra = self._extra(ref)
        if extra.get(specs.KEY_VOLUME_ID) != finding.volume_id:
            raise ValueError('VM %s is no longer the backing of volume %s'
                             % (finding.ref.value, finding.volume_id))
        try:
            created = int(extra.get(specs.KEY_CREATED))
        except (TypeError, ValueError):
            created = None
        if created != finding.since and self._recent(created):
            raise ValueError('the backing of volume %s was made again '
                             'meanwhile' % finding.volume_id)
        self._ops.destroy(ref, 'volume %s' % finding.volume_id)
        LOG.info('Destroyed backing %s of unknown volume %s.',
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
        if snap_name.startswith(TEMP_SNAPSHOT_PREFIX) and \
                snap_name == TEMP_SNAPSHOT_PREFIX + clone_id and \
                snap_ref is not None:
            self._ops.remove_snapshot(
                inventory.to_suds(snap_ref),
                'snapshot %s of volume %s' % (snap_name, source_id))
