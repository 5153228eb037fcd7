"""Stable pool names, and the names earlier releases used.

A pool is named after its datastore's managed object id (``datastore-42``
on vCenter): unique within the vCenter a backend talks to and unchanged
when the datastore is renamed or when another datacenter gets a datastore
of the same name. The datastore's display name is the separate
``datastore_name`` statistic.

Earlier releases named a pool after its datastore (``LocalDS_0``), or
``<datacenter>:<datastore>`` while two usable datastores shared a name, so
the name of one pool could flip. Volumes created then keep such a pool in
Cinder's ``host@backend#pool``; :func:`legacy_matches` lets placement
still understand those names, and ``vmware-backend-manage pool-names``
prints the ``cinder-manage volume update_host`` commands that move
Cinder's records to the stable names.

Pure functions, no I/O.
"""

from vmware_backend import exceptions

LEGACY_SEPARATOR = ':'


def stable_name(ref):
    """The stable pool name of the datastore ``ref`` (a MoRef)."""
    return ref.value


def legacy_names(pools):
    """The names earlier releases gave ``pools``, as name -> pool.

    A datastore name shared by several pools maps to none of them under
    its plain form (earlier releases qualified it with the datacenter);
    every pool also answers to ``<datacenter>:<datastore>``.
    """
    by_name = {}
    for pool in pools:
        by_name.setdefault(pool.datastore_name, []).append(pool)
    names = {}
    for name, group in by_name.items():
        if len(group) == 1:
            names[name] = group[0]
        for pool in group:
            if pool.datacenter_name:
                names['%s%s%s' % (pool.datacenter_name, LEGACY_SEPARATOR,
                                  name)] = pool
    return names


def legacy_matches(pools, name):
    """The pools an old-style pool ``name`` refers to.

    :returns: a list: empty when nothing matches, one pool normally.
    :raises exceptions.NoValidDatastore: ``name`` is a plain datastore name
        shared by several pools; the message lists their stable names.
    """
    pool = legacy_names(pools).get(name)
    if pool is not None:
        return [pool]
    same = [p for p in pools if p.datastore_name == name]
    if len(same) > 1:
        raise exceptions.NoValidDatastore(
            'Pool name %(name)s is ambiguous: datastores %(names)s all have '
            'this name; use the stable pool name (one of %(names)s) or '
            '<datacenter>:%(name)s.' % {
                'name': name,
                'names': ', '.join(sorted(p.name for p in same))},
            reasons='ambiguous name')
    return []


def migration(pools, old_names):
    """How to move Cinder's records from old pool names to stable ones.

    :param pools: the usable pools.
    :param old_names: pool names found in Cinder's ``volume.host`` values
        (or every legacy name when empty).
    :returns: a list of ``{'old', 'new', 'datastore', 'datacenter'}``
        dicts, sorted by old name; ``new`` is None for an old name that
        matches no usable pool (or is ambiguous).
    """
    legacy = legacy_names(pools)
    stable = {pool.name for pool in pools}
    rows = []
    for old in sorted(set(old_names or legacy)):
        if old in stable:
            continue
        pool = legacy.get(old)
        rows.append({'old': old, 'new': pool.name if pool else None,
                     'datastore': pool.datastore_name if pool else None,
                     'datacenter': pool.datacenter_name if pool else None})
    return rows


def rejected_key(datastores, rejected, name):
    """The key of ``rejected`` (datastore name -> reason) for pool ``name``.

    :param datastores: the inventory's datastores, MoRef -> properties.
    :returns: the key under which the datastore whose stable name is
        ``name`` was rejected, or ``name`` itself.
    """
    for ref, props in datastores.items():
        if stable_name(ref) != name:
            continue
        display = props.get('name') or ref.value
        for key in (display, '%s (%s)' % (display, ref.value)):
            if key in rejected:
                return key
    return name


def label(pools, pool):
    """How errors name ``pool``: its datastore name.

    The stable name is added when another pool's datastore has the same
    name.
    """
    shared = sum(1 for p in pools if p.datastore_name == pool.datastore_name)
    if shared > 1:
        return '%s (%s)' % (pool.datastore_name, pool.name)
    return pool.datastore_name
