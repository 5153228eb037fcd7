"""A backing's snapshot tree, and renaming or re-describing a snapshot.

:func:`snapshot_tree` finds the volume's backing by instanceUuid
(``SearchIndex.FindAllByUuid``) and reads its ``snapshot`` property and
extraConfig in one call. Each node says whether it is the current
snapshot, which Cinder snapshot or temporary clone snapshot it is, and
which linked clones read from it (the ``vmware_backend.clone.<clone id>``
records the driver writes on the source before a linked clone starts).

:func:`rename` calls ``VirtualMachineSnapshot.RenameSnapshot``. The driver
finds its snapshots by name (``snapshot-<id>`` for Cinder snapshots,
``clone-<id>`` for temporary ones), and linked-clone records name the
snapshot they read from, so renaming such a snapshot is refused unless
forced; the description may always change.
"""

import dataclasses

from vmware_backend import exceptions
from vmware_backend.vsphere import inventory
from vmware_backend.vsphere import ops
from vmware_backend.vsphere import specs

PATHS = ['name', 'snapshot', 'config.extraConfig']
MANAGED_PREFIXES = ('snapshot-', 'clone-')
MAX_NAME = 80


@dataclasses.dataclass
class SnapshotNode:
    """One snapshot of a backing."""

    name: str
    description: str
    created: str
    id: str
    depth: int
    parent: str
    current: bool
    kind: str          # cinder, temporary or other
    clones: list


@dataclasses.dataclass
class SnapshotTree:
    """A backing's snapshots, depth first."""

    volume_id: str
    backing: str
    backing_name: str
    snapshots: list


def _backing(session, volume_id):
    found = list(session.invoke(
        'FindAllByUuid', session.service_content.searchIndex,
        target='instanceUuid %s' % volume_id, uuid=volume_id,
        vmSearch=True, instanceUuid=True) or [])
    if not found:
        raise exceptions.InvalidAdminInput(
            name='volume', value=volume_id,
            reason='no backing VM has this instanceUuid; check the id with '
                   '"vmware-backend-manage volumes"')
    if len(found) > 1:
        raise exceptions.AdminRefused(
            action='Reading snapshots of', target='volume %s' % volume_id,
            reason='%d VMs share this instanceUuid (%s); run audit' % (
                len(found), ', '.join(ops.moref_value(r) for r in found)))
    return found[0]


def _kind(name):
    if name.startswith('snapshot-'):
        return 'cinder'
    if name.startswith('clone-'):
        return 'temporary'
    return 'other'


def read_tree(session, volume_id):
    """``(backing moref, SnapshotTree)`` of volume ``volume_id``."""
    ref = _backing(session, volume_id)
    props = session.get_properties(ref, PATHS)
    extra = ops.extra_config_dict(props)
    prefix = specs.KEY_CLONE_PREFIX
    clones = {}
    for key, value in extra.items():
        if key.startswith(prefix) and value:
            clones.setdefault(value, []).append(key[len(prefix):])
    current = getattr(props.get('snapshot'), 'currentSnapshot', None)
    current = ops.moref_value(current) if current is not None else None
    nodes = []
    parents = []
    for tree, depth in ops.snapshot_trees(props):
        del parents[depth:]
        name = str(tree.name)
        created = getattr(tree, 'createTime', None)
        nodes.append(SnapshotNode(
            name=name, description=str(getattr(tree, 'description', '') or
                                       ''),
            created=created.isoformat() if created else None,
            id=ops.moref_value(tree.snapshot), depth=depth,
            parent=parents[-1] if parents else None,
            current=ops.moref_value(tree.snapshot) == current,
            kind=_kind(name), clones=sorted(clones.get(name, []))))
        parents.append(name)
    return ref, SnapshotTree(volume_id=volume_id,
                             backing=ops.moref_value(ref),
                             backing_name=str(props.get('name')),
                             snapshots=nodes)


def snapshot_tree(session, volume_id):
    """The :class:`SnapshotTree` of volume ``volume_id``."""
    return read_tree(session, volume_id)[1]


def find_node(tree, volume_id, snapshot):
    """The node of ``tree`` whose name or id is ``snapshot``.

    :raises InvalidAdminInput: none or several match (the message lists
        the volume's snapshots).
    """
    matches = [n for n in tree.snapshots if snapshot in (n.name, n.id)]
    if len(matches) != 1:
        raise exceptions.InvalidAdminInput(
            name='snapshot', value=snapshot,
            reason='%s; snapshots of volume %s: %s' % (
                'several have this name, give its id' if matches else
                'no such snapshot', volume_id,
                ', '.join('%s (%s)' % (n.name, n.id)
                          for n in tree.snapshots) or 'none'))
    return matches[0]


def rename(session, volume_id, snapshot, new_name=None, description=None,
           force=False, dry_run=False):
    """Rename and/or re-describe a snapshot of a volume's backing.

    :param snapshot: the snapshot's current name or id (moref value).
    :returns: the :class:`SnapshotTree` after the change (or as it is, for
        a dry run).
    :raises exceptions.InvalidAdminInput: unknown snapshot, a name taken
        by another snapshot of the backing, or nothing to change.
    :raises exceptions.AdminRefused: renaming a snapshot the driver or a
        linked clone finds by name, without ``force``.
    """
    if new_name is None and description is None:
        raise exceptions.InvalidAdminInput(
            name='change', value=None,
            reason='give a new name and/or a description')
    if new_name is not None and (not new_name.strip() or
                                 len(new_name) > MAX_NAME):
        raise exceptions.InvalidAdminInput(
            name='snapshot name', value=new_name,
            reason='give 1 to %d characters' % MAX_NAME)
    _ref, tree = read_tree(session, volume_id)
    node = find_node(tree, volume_id, snapshot)
    renaming = new_name is not None and new_name != node.name
    if renaming and any(n.name == new_name for n in tree.snapshots):
        raise exceptions.InvalidAdminInput(
            name='snapshot name', value=new_name,
            reason='another snapshot of volume %s has it' % volume_id)
    if renaming and not force and (node.kind != 'other' or node.clones or
                                   new_name.startswith(MANAGED_PREFIXES)):
        raise exceptions.AdminRefused(
            action='Renaming snapshot', target='%s of volume %s' % (
                node.name, volume_id),
            reason='the driver%s finds it by this name (Cinder snapshot '
                   'snapshot-<id>, temporary clone-<id>, or a name of that '
                   'form); change only the description, or pass --force' % (
                       ' and linked clone(s) %s' % ', '.join(node.clones)
                       if node.clones else ''))
    if dry_run:
        return tree
    kwargs = {}
    if renaming:
        kwargs['name'] = new_name
    if description is not None:
        kwargs['description'] = description
    session.invoke('RenameSnapshot',
                   inventory.to_suds(inventory.MoRef('VirtualMachineSnapshot',
                                                     node.id)),
                   target='snapshot %s of volume %s' % (node.name, volume_id),
                   **kwargs)
    return snapshot_tree(session, volume_id)
