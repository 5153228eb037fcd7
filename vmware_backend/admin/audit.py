"""Leftovers on vCenter that Cinder does not know about.

Given the volume ids Cinder knows and this backend's backings (see
:func:`vmware_backend.admin.listing.split_by_owner`), :func:`find` reports
(:data:`KINDS`): orphaned backings (volume id unknown to Cinder), failed
clones (orphans that are linked clones), stale temporary snapshots
(``clone-<id>`` whose clone is gone), stale clone markers
(``vmware_backend.clone.<id>`` whose clone is gone, or copied into a clone
by vCenter), duplicate backings of a known id (never removed
automatically), quarantined backings, and quarantined backings whose id
Cinder knows (restored by ``--fix``).

Orphans are never destroyed by ``--fix``: they are quarantined (extraConfig
``vmware_backend.quarantined`` = when, moved to the ``quarantine`` folder
below the volume folder) and ``--purge`` destroys them after a grace
period. The driver still finds a quarantined backing by its instanceUuid,
so a volume quarantined by mistake keeps working until it is restored.

Nothing Cinder knows is reported for removal, nor an orphan that a known
volume depends on (through a linked clone) or an instance has attached.
The id list predates the read, so a finding younger than ``min_age`` (from
``vmware_backend.created``, ``vmware_backend.clone_since.<id>`` or the
snapshot's ``createTime``; no time counts as old) is *recent*: reported,
never removed, not counted. An id list that misses volumes would make live
ones look orphaned: :func:`list_problem` says when it looks incomplete.

Everything here is pure; :mod:`vmware_backend.admin.audit_fix` carries the
findings out on vCenter.
"""

import collections
import dataclasses
import datetime
import time
import uuid

from vmware_backend.vsphere import inventory
from vmware_backend.vsphere import specs

ORPHAN = 'orphaned-backing'
FAILED_CLONE = 'failed-clone'
STALE_SNAPSHOT = 'stale-temporary-snapshot'
STALE_MARKER = 'stale-clone-marker'
DUPLICATE = 'duplicate-backing'
RESTORE = 'quarantined-known-volume'
QUARANTINED = 'quarantined-backing'
INTERRUPTED_MIGRATION = 'interrupted-migration'  # audit_migration.py
KINDS = (STALE_MARKER, STALE_SNAPSHOT, FAILED_CLONE, ORPHAN, DUPLICATE,
         RESTORE, QUARANTINED, INTERRUPTED_MIGRATION)
ORPHAN_KINDS = (FAILED_CLONE, ORPHAN)

TEMP_SNAPSHOT_PREFIX = 'clone-'
DEFAULT_MIN_AGE = 3600
# How long a quarantined backing is kept before --purge may destroy it.
DEFAULT_GRACE = 7 * 24 * 3600
# --fix and --purge refuse an id list that leaves more than this
# percentage of the backend's backings without their volume id.
DEFAULT_MAX_ORPHAN_PERCENT = 50


@dataclasses.dataclass
class Finding:
    """One leftover, on (or being) the backing ``volume_id``/``ref``.

    ``item``: the extraConfig key or snapshot name; ``blocked``: why it is
    kept (None: it can go); ``since``: when it was made (quarantined, for
    a quarantined backing), epoch seconds or None; ``recent``: younger than
    the minimum age (skipped), or in its grace period until ``purge_at``;
    ``folder``: the volume folder the backing was read below.
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
    folder: inventory.MoRef = None
    purge_at: float = None

    @property
    def fixable(self):
        """Whether ``--fix`` acts on it."""
        return (self.blocked is None and not self.recent and
                self.kind != QUARANTINED)

    @property
    def purgeable(self):
        """Whether ``--purge`` destroys it."""
        return (self.kind == QUARANTINED and self.blocked is None and
                not self.recent)

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
            'purge_at': self.purge_at,
            'action': self.action(),
        }

    def action(self):
        """What ``--fix`` (or for a quarantined backing ``--purge``) does."""
        if self.kind == QUARANTINED:
            if self.blocked:
                return 'kept in quarantine: %s' % self.blocked
            if self.recent:
                return 'in quarantine; --purge after %s' % iso_time(
                    self.purge_at)
            return 'destroy with --purge'
        if self.recent:
            return 'recent, skipped'
        if self.blocked:
            return 'kept: %s' % self.blocked
        if self.kind == STALE_MARKER:
            return 'remove extraConfig key'
        if self.kind == STALE_SNAPSHOT:
            return 'remove snapshot'
        if self.kind == RESTORE:
            return 'restore from quarantine'
        return 'move to quarantine'


def iso_time(epoch):
    """Epoch seconds as UTC ISO 8601 text ('-' for None)."""
    if epoch is None:
        return '-'
    return datetime.datetime.fromtimestamp(
        epoch, datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')


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


def _blocked_purges(candidates, deps, attached):
    """{id: reason} of purge candidates kept: attached, or a clone's."""
    blocked = {}
    purge = set(candidates)
    changed = True
    while changed:
        changed = False
        for volume_id in sorted(purge):
            if volume_id in attached:
                reason = ('attached to instance(s) %s'
                          % ', '.join(sorted(attached[volume_id])))
            else:
                kept = sorted(d for d in deps.get(volume_id, ())
                              if d not in purge)
                reason = ('linked clone(s) %s that are kept depend on it'
                          % ', '.join(kept)) if kept else None
            if reason:
                blocked[volume_id] = reason
                purge.discard(volume_id)
                changed = True
    return blocked


def _duplicates(active, known):
    """Findings for the backings of known ids carried by several VMs."""
    counts = collections.Counter(b.volume_id for b in active)
    findings = []
    for b in active:
        if counts[b.volume_id] < 2 or b.volume_id not in known:
            continue
        others = sorted(o.ref.value for o in active
                        if o.volume_id == b.volume_id and o is not b)
        findings.append(Finding(
            DUPLICATE, b.volume_id, b.ref, b.name,
            detail='%d backings carry this volume id (also %s); this one '
                   'was created %s' % (counts[b.volume_id],
                                       ', '.join(others),
                                       iso_time(b.created)),
            blocked='never removed automatically: find the copy Cinder '
                    'uses (attachments, data), then delete the other VM(s) '
                    'in vSphere',
            since=b.created, folder=b.folder))
    return findings


def find(backings, known_ids, instances=(), min_age=0, now=None,
         grace=DEFAULT_GRACE):
    """Every leftover among ``backings`` given the ids Cinder knows.

    :param backings: this backend's
        :class:`vmware_backend.admin.listing.Backing` records.
    :param known_ids: the volume ids Cinder knows.
    :param instances: :class:`vmware_backend.admin.listing.Instance` records;
        an orphan an instance has attached is kept.
    :param min_age: seconds; younger findings are marked ``recent``
        (0: none is).
    :param now: the current time in epoch seconds (default: now).
    :param grace: seconds a quarantined backing is kept before it may be
        purged.
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
    active = [b for b in backings if b.quarantined is None]
    held = [b for b in backings if b.quarantined is not None]
    orphans = {b.volume_id for b in active if b.volume_id not in known}
    recent_orphans = {b.volume_id for b in active
                      if b.volume_id in orphans and
                      is_recent(b.created, now, min_age)}
    blocked = _blocked_orphans(orphans, deps, known, attached,
                               recent_orphans)
    purge_blocked = _blocked_purges(
        {b.volume_id for b in held if b.volume_id not in known and
         now - b.quarantined >= grace}, deps, attached)

    findings = _duplicates(active, known)
    for b in backings:
        findings.extend(_marker_and_snapshot_findings(
            b, by_id, known, alive, now, min_age))
        if b.quarantined is not None:
            findings.append(_quarantine_finding(
                b, known, now, grace, purge_blocked,
                any(a.volume_id == b.volume_id for a in active)))
        elif b.volume_id in orphans:
            kind = FAILED_CLONE if b.parent else ORPHAN
            detail = 'volume id unknown to Cinder'
            if b.parent:
                detail += '; linked clone of %s' % b.parent
            findings.append(Finding(
                kind, b.volume_id, b.ref, b.name, detail=detail,
                blocked=blocked.get(b.volume_id), parent=b.parent,
                since=b.created, recent=b.volume_id in recent_orphans,
                folder=b.folder))
    findings.sort(key=lambda f: (KINDS.index(f.kind), f.volume_id,
                                 f.item or '', f.ref.value))
    return findings


def _quarantine_finding(b, known, now, grace, purge_blocked, copy_active):
    if b.volume_id in known and copy_active:
        return Finding(
            DUPLICATE, b.volume_id, b.ref, b.name,
            detail='quarantined %s; another backing carries this volume id '
                   'Cinder knows' % iso_time(b.quarantined),
            blocked='never restored or removed automatically: find the '
                    'copy Cinder uses, then delete the other VM(s) in '
                    'vSphere', since=b.quarantined, folder=b.folder)
    if b.volume_id in known:
        return Finding(
            RESTORE, b.volume_id, b.ref, b.name,
            detail='quarantined %s, but Cinder knows this volume id'
                   % iso_time(b.quarantined),
            parent=b.parent, since=b.quarantined, folder=b.folder)
    purge_at = b.quarantined + grace
    return Finding(
        QUARANTINED, b.volume_id, b.ref, b.name,
        detail='quarantined %s; volume id unknown to Cinder'
               % iso_time(b.quarantined),
        blocked=purge_blocked.get(b.volume_id), parent=b.parent,
        since=b.quarantined, recent=now < purge_at, folder=b.folder,
        purge_at=purge_at)


def _marker_and_snapshot_findings(b, by_id, known, alive, now, min_age):
    findings = []
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
            since=since, recent=recent, folder=b.folder))
    for snap_name, snap_ref in sorted(b.snapshots.items()):
        if not snap_name or not snap_name.startswith(TEMP_SNAPSHOT_PREFIX):
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
                    is_recent(since, now, min_age)),
            folder=b.folder))
    return findings


def _depth_key(backings):
    by_id = {b.volume_id: b for b in backings}

    def depth(volume_id, seen=()):
        backing = by_id.get(volume_id)
        source = _source_id(backing.parent) if backing else None
        if source is None or source in seen or source not in by_id:
            return 0
        return 1 + depth(source, seen + (volume_id,))

    return lambda f: (-depth(f.volume_id), f.volume_id, f.ref.value)


def removal_order(findings, backings):
    """``--fix``'s work: markers, snapshots, restores, then quarantines.

    Linked clones come before the backings they depend on.
    """
    items = [f for f in findings if f.fixable]
    small = [f for f in items if f.kind in (STALE_MARKER, STALE_SNAPSHOT)]
    small.sort(key=lambda f: (KINDS.index(f.kind), f.volume_id, f.item))
    restores = sorted((f for f in items if f.kind == RESTORE),
                      key=lambda f: (f.volume_id, f.ref.value))
    large = [f for f in items if f.kind in ORPHAN_KINDS]
    large.sort(key=_depth_key(backings))
    return small + restores + large


def purge_order(findings, backings):
    """The quarantined backings ``--purge`` destroys, clones first."""
    items = [f for f in findings if f.purgeable]
    items.sort(key=_depth_key(backings))
    return items


def list_problem(findings, backings, max_percent=DEFAULT_MAX_ORPHAN_PERCENT):
    """Why the id list looks incomplete, or None when it may be trusted.

    Rule: of the volume ids of this backend's backings (quarantined ones
    and recent orphans left out), at most ``max_percent`` percent may be
    missing from the list; a healthy backend has few orphans, a list of
    one project or cut short has many. 100 turns the check off.
    """
    recent = {f.volume_id for f in findings
              if f.kind in ORPHAN_KINDS and f.recent}
    judged = {b.volume_id for b in backings
              if b.quarantined is None} - recent
    missing = {f.volume_id for f in findings
               if f.kind in ORPHAN_KINDS and not f.recent}
    if not judged or len(missing) * 100 <= max_percent * len(judged):
        return None
    return ('%d of the %d volume ids of this backend\'s backings (%d%%) are '
            'not on the id list, more than --max-orphan-percent %d: the '
            'list looks incomplete (one project only, another cloud, cut '
            'short?). Check the list (e.g. "openstack volume list '
            '--all-projects"), or pass --max-orphan-percent 100 if they '
            'really are leftovers'
            % (len(missing), len(judged),
               round(100.0 * len(missing) / len(judged)), max_percent))


def summary(findings):
    """{kind: count} of the leftovers (zeros included).

    Recent findings and quarantined backings are not leftovers.
    """
    counts = {kind: 0 for kind in KINDS if kind != QUARANTINED}
    for f in problems(findings):
        counts[f.kind] += 1
    return counts


def problems(findings):
    """The findings that are leftovers: not recent, not quarantined."""
    return [f for f in findings if not f.recent and f.kind != QUARANTINED]
