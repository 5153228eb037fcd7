"""The audit's finding for a migration that stopped before its owner mark.

A migration to another backend of this driver (:mod:`vmware_backend.
volume.migration`) relocates the backing, moves it into the destination's
volume folder and sets the owner mark (``vmware_backend.backend``) last.
A process killed between the move and the mark (or a mark whose call
failed) leaves the backing in the destination's folder, marked as the
source's: the source backend still serves it (it finds backings by
instanceUuid anywhere) but its audit, reading its own folder, does not see
it, and the destination's audit used to count it among "other owners" and
say nothing.

:func:`find` reports it, in the audit of the backend whose folder holds
it, as :data:`~.audit.INTERRUPTED_MIGRATION`: a backing of another backend
of this driver (an owner ``<name>@<folder>`` whose folder is not this
backend's) directly in this backend's volume folder. What to do depends on
where Cinder has the volume:

* not in this backend's id list (Cinder still has it on the source, the
  usual case): run the migration again; it sees the relocation done and
  only sets the mark. ``--fix`` leaves it alone (it cannot know the
  source's host);
* in the list (Cinder already moved the volume here): ``--fix`` sets the
  mark to this backend (:meth:`.audit_fix.Fixer.fix`).

Backings of a backend sharing this folder (same folder, other name) are
not findings: that is how two backends may share one folder.
"""

import dataclasses

from vmware_backend.admin import audit


@dataclasses.dataclass
class MigrationFinding(audit.Finding):
    """An :data:`~.audit.INTERRUPTED_MIGRATION` finding.

    ``item``: the old owner; ``parent``: this backend (what ``--fix``
    writes as the owner).
    """

    def action(self):
        if self.blocked:
            return 'kept: %s' % self.blocked
        return 'set the owner mark to %s' % self.parent


def _folder_of(backend_id):
    return backend_id.rpartition('@')[2] if '@' in (backend_id or '') \
        else None


def find(foreign, backend, known_ids):
    """Findings for ``foreign`` backings (see the module).

    :param foreign: the backings of other owners read below this backend's
        volume folder (``listing.split_by_owner``).
    :param backend: this backend's id (``<name>@<volume folder>``).
    :param known_ids: the volume ids Cinder has on this backend.
    """
    known = set(known_ids)
    folder = _folder_of(backend)
    name = backend.rpartition('@')[0]
    found = []
    for b in foreign:
        old = _folder_of(b.owner)
        if old is None or old == folder or b.folder is None or \
                b.parent_folder != b.folder:
            continue
        blocked = None
        if b.volume_id not in known:
            blocked = ('Cinder has the volume on another backend (not in '
                       'the id list): run the migration again ("openstack '
                       'volume migrate --host <host>@%s#<pool> %s", or the '
                       'retype that started it); it only sets the mark'
                       % (name, b.volume_id))
        found.append(MigrationFinding(
            kind=audit.INTERRUPTED_MIGRATION, volume_id=b.volume_id,
            ref=b.ref, backing_name=b.name, item=b.owner, parent=backend,
            blocked=blocked, folder=b.folder,
            detail='in volume folder %s of backend %s (datastore %s) but '
                   'marked as backend %s\'s: a migration to this backend '
                   'stopped before its last step (the owner mark); the '
                   'source backend still serves it'
                   % (folder.rpartition('/')[2], backend,
                      ', '.join(b.datastores) or '?', b.owner)))
    return found


def fix_order(findings):
    """The interrupted migrations ``--fix`` finishes (Cinder has them)."""
    return sorted((f for f in findings
                   if f.kind == audit.INTERRUPTED_MIGRATION and f.fixable),
                  key=lambda f: f.volume_id)
