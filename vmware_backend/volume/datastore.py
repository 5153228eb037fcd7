"""Datastores as Cinder pools: filtering, statistics and selection.

Pure functions over the plain inventory data read by
:mod:`vmware_backend.vsphere.inventory` (see :data:`INVENTORY_PATHS`); no
I/O, so everything here is tested without a server.

Which datastores are pools
--------------------------
A datastore is a usable pool when all of these hold:

* ``summary.accessible`` is true;
* ``summary.maintenanceMode`` is ``normal`` (or unset);
* its name matches ``vcenter_datastore_regex`` (``re.match``, i.e.
  anchored at the start, as in Cinder's VMDK driver) when that is set;
* ``summary.type`` is one of ``vcenter_datastore_types``;
* it is mounted (``mountInfo.mounted`` and ``mountInfo.accessible`` true or
  unset in its ``host`` list) on at least one *usable host*: a host of one
  of the ``vcenter_cluster_names`` clusters (every cluster when empty;
  standalone hosts are never used by default) whose
  ``runtime.connectionState`` is ``connected`` and which is not in
  maintenance mode.

Any other datastore is not reported as a pool at all (an inaccessible
datastore, or one whose hosts are all in maintenance, *disappears* from the
statistics until it is usable again, so Cinder's scheduler stops sending
volumes to it); :func:`build_pools` says why each one was left out, and
those reasons end up in :class:`~vmware_backend.exceptions.NoValidDatastore`.

Pool names are stable: the datastore's managed object id (see
:mod:`vmware_backend.volume.pool_names`, which also reads old names).

Selection
---------
See :func:`fits` for when a volume fits a pool and :func:`select` for which
fitting pool is chosen.
"""

import collections
import dataclasses
import math
import random
import re

from vmware_backend import exceptions
from vmware_backend.volume import pool_names
from vmware_backend.vsphere import inventory as inv

GiB = 1024 ** 3

THIN = 'thin'
THICK_TYPES = ('thick', 'eagerZeroedThick')
DISK_TYPES = (THIN,) + THICK_TYPES

# Fitting pools whose free space is within this fraction of the best one's
# are equally good; one of them is picked at random.
TIE_TOLERANCE = 0.01

CLUSTER_TYPE = 'ClusterComputeResource'

# What the functions of this module read, per managed object type. The
# ContainerView of 'ComputeResource' also returns clusters (a subtype).
INVENTORY_PATHS = {
    'Datacenter': ['name', 'vmFolder', 'hostFolder'],
    'Folder': ['parent'],
    'ComputeResource': ['name', 'parent', 'host', 'resourcePool'],
    'HostSystem': ['name', 'parent', 'runtime.connectionState',
                   'runtime.inMaintenanceMode'],
    'Datastore': ['name', 'summary.accessible', 'summary.capacity',
                  'summary.freeSpace', 'summary.uncommitted',
                  'summary.maintenanceMode', 'summary.type', 'host'],
}

# The inventory needed for placement: per kind, a dict of MoRef ->
# {property path: plain value}.
Inventory = collections.namedtuple(
    'Inventory', 'datacenters folders compute_resources hosts datastores')

# Where to create a backing: the datastore, a host that mounts it, its
# compute resource (cluster) and resource pool, and the datacenter whose VM
# folder holds the volume folder. Every reference is a MoRef.
Placement = collections.namedtuple(
    'Placement', 'pool_name datastore datastore_name host host_name '
                 'cluster resource_pool datacenter datacenter_name vm_folder')


@dataclasses.dataclass(frozen=True)
class Pool:
    """A usable datastore, in bytes.

    ``hosts`` are the usable hosts that mount it, sorted; ``name`` is
    the stable pool name, ``datastore_name`` the display name.
    """

    name: str
    datastore: inv.MoRef
    datastore_name: str
    type: str
    capacity: int
    free: int
    uncommitted: int
    reserved_percentage: int
    max_over_subscription_ratio: float
    hosts: tuple
    datacenter_name: str = ''

    @property
    def provisioned(self):
        """Space used plus thin space promised but not written."""
        return self.capacity - self.free + self.uncommitted

    @property
    def reserve(self):
        """Space kept free by ``reserved_percentage``."""
        return self.capacity * self.reserved_percentage // 100

    @property
    def usable_free(self):
        """Free space minus the reserve (may be negative)."""
        return self.free - self.reserve


def index_inventory(objects):
    """Group ``(MoRef, props)`` pairs of an inventory read by kind.

    :returns: an :class:`Inventory`; objects of other types are ignored.
    """
    kinds = {'Datacenter': {}, 'Folder': {}, 'ComputeResource': {},
             'HostSystem': {}, 'Datastore': {}}
    for ref, props in objects:
        kind = 'ComputeResource' if ref.type == CLUSTER_TYPE else ref.type
        if kind in kinds:
            kinds[kind][ref] = props
    return Inventory(datacenters=kinds['Datacenter'],
                     folders=kinds['Folder'],
                     compute_resources=kinds['ComputeResource'],
                     hosts=kinds['HostSystem'],
                     datastores=kinds['Datastore'])


def datacenter_of(inventory, ref):
    """The datacenter above ``ref`` (walking ``parent``), or None."""
    seen = set()
    while ref is not None and ref not in seen:
        if ref.type == 'Datacenter':
            return ref if ref in inventory.datacenters else None
        seen.add(ref)
        props = (inventory.folders.get(ref) or
                 inventory.compute_resources.get(ref) or
                 inventory.hosts.get(ref) or {})
        ref = props.get('parent')
    return None


def _name(inventory, ref):
    for kind in inventory:
        props = kind.get(ref)
        if props and props.get('name'):
            return props['name']
    return ref.value


def host_problem(inventory, host):
    """Why ``host`` cannot take a backing, or None when it can.

    A usable host is connected, not in maintenance mode, and its compute
    resource (with a resource pool) and datacenter are known.
    """
    props = inventory.hosts.get(host)
    if props is None:
        return 'unknown host'
    state = props.get('runtime.connectionState')
    if state != 'connected':
        return 'is %s' % (state or 'in an unknown connection state')
    if props.get('runtime.inMaintenanceMode'):
        return 'is in maintenance mode'
    parent = props.get('parent')
    if not inventory.compute_resources.get(parent, {}).get('resourcePool'):
        return 'has no known resource pool'
    if datacenter_of(inventory, parent) is None:
        return 'has no known datacenter'
    return None


def cluster_hosts(inventory, cluster_names=()):
    """Hosts of the named clusters (every cluster when none is named).

    :returns: ``(hosts, missing)``: the set of host MoRefs, and the sorted
        cluster names that match no cluster.
    """
    wanted = set(cluster_names or ())
    hosts = set()
    found = set()
    for ref, props in inventory.compute_resources.items():
        if ref.type != CLUSTER_TYPE:
            continue
        name = props.get('name')
        if wanted and name not in wanted:
            continue
        found.add(name)
        hosts.update(props.get('host') or ())
    return hosts, sorted(wanted - found)


def _mount_problem(mount):
    info = mount.get('mountInfo') or {}
    if info.get('mounted') is False:
        return 'not mounted'
    if info.get('accessible') is False:
        return 'mount not accessible'
    return None


def _scope(cluster_names, host_name):
    if host_name is not None:
        return 'host %s' % host_name
    if cluster_names:
        return 'cluster(s) %s' % ', '.join(cluster_names)
    return 'any cluster'


def _no_host_reason(inventory, mounts, eligible, scope):
    details = []
    outside = 0
    for mount in mounts:
        host = mount.get('key')
        if host not in eligible:
            outside += 1
            continue
        problem = (host_problem(inventory, host) or _mount_problem(mount))
        details.append('%s %s' % (_name(inventory, host), problem))
    if outside:
        details.append('%d mount(s) on hosts outside %s' % (outside, scope))
    if not mounts:
        details.append('mounted on no host')
    return 'no connected, non-maintenance host of %s mounts it (%s)' % (
        scope, '; '.join(details))


def _datastore_problems(props, regex, types):
    problems = []
    if props.get('summary.accessible') is not True:
        problems.append('not accessible')
    mode = props.get('summary.maintenanceMode') or 'normal'
    if mode != 'normal':
        problems.append('maintenance mode is %s' % mode)
    if regex is not None and not regex.match(props.get('name') or ''):
        problems.append('name does not match vcenter_datastore_regex %r'
                        % regex.pattern)
    ds_type = props.get('summary.type')
    if ds_type not in types:
        problems.append('type %s is not one of vcenter_datastore_types (%s)'
                        % (ds_type, ', '.join(types)))
    return problems


def build_pools(inventory, options, host=None):
    """The usable datastores as pools, and why the others are not.

    :param inventory: an :class:`Inventory`.
    :param options: option values (``vcenter_cluster_names``,
        ``vcenter_datastore_regex``, ``vcenter_datastore_types``,
        ``vcenter_reserved_percentage``,
        ``vcenter_max_over_subscription_ratio``).
    :param host: consider only this host (a MoRef, any compute resource)
        instead of the configured clusters' hosts: the datastores a given
        host can use.
    :returns: ``(pools, rejected)``: a list of :class:`Pool` sorted by
        name, and a dict of datastore name -> reason.
    """
    cluster_names = list(options.get('vcenter_cluster_names') or ())
    pattern = options.get('vcenter_datastore_regex')
    regex = re.compile(pattern) if pattern else None
    types = list(options.get('vcenter_datastore_types') or ())
    if host is None:
        eligible, _missing = cluster_hosts(inventory, cluster_names)
        scope = _scope(cluster_names, None)
    else:
        eligible = {host}
        scope = _scope(None, _name(inventory, host))
    usable = {h for h in eligible if host_problem(inventory, h) is None}

    candidates = []
    rejected = {}
    for ref, props in inventory.datastores.items():
        name = props.get('name') or ref.value
        problems = _datastore_problems(props, regex, types)
        mounts = props.get('host') or []
        hosts = tuple(sorted(
            m['key'] for m in mounts
            if m.get('key') in usable and _mount_problem(m) is None))
        if not hosts:
            problems.append(_no_host_reason(inventory, mounts, eligible,
                                            scope))
        if problems:
            rejected[_unique_key(rejected, name, ref)] = '; '.join(problems)
        else:
            candidates.append((ref, props, hosts))

    pools = []
    for ref, props, hosts in candidates:
        # A usable host has a known datacenter (host_problem).
        dc = datacenter_of(inventory, inventory.hosts[hosts[0]]['parent'])
        pools.append(_pool(ref, props, hosts, options, _name(inventory, dc)))
    pools.sort(key=lambda pool: pool.name)
    return pools, rejected


def _unique_key(mapping, name, ref):
    return name if name not in mapping else '%s (%s)' % (name, ref.value)


def _pool(ref, props, hosts, options, datacenter_name):
    return Pool(
        name=pool_names.stable_name(ref),
        datastore=ref,
        datastore_name=props.get('name') or ref.value,
        type=props.get('summary.type'),
        capacity=int(props.get('summary.capacity') or 0),
        free=int(props.get('summary.freeSpace') or 0),
        uncommitted=int(props.get('summary.uncommitted') or 0),
        reserved_percentage=int(
            options.get('vcenter_reserved_percentage') or 0),
        max_over_subscription_ratio=float(
            options.get('vcenter_max_over_subscription_ratio') or 1.0),
        hosts=hosts, datacenter_name=datacenter_name)


def _gib(value):
    return round(value / GiB, 2)


def _gib_floor(value):
    return math.floor(value * 100 / GiB) / 100


def pool_stats(pool, vcenter_id=''):
    """Cinder's statistics of one pool (sizes in GiB).

    ``free_capacity_gb`` is rounded down to 2 decimals, the other sizes to
    the nearest; free space is reported without subtracting the reserve
    (Cinder's scheduler applies ``reserved_percentage`` itself).
    ``location_info`` is ``vmware_backend:<vcenter_id>:<datastore moref>``.
    """
    return {
        'pool_name': pool.name,
        'total_capacity_gb': _gib(pool.capacity),
        'free_capacity_gb': _gib_floor(pool.free),
        'provisioned_capacity_gb': _gib(pool.provisioned),
        'reserved_percentage': pool.reserved_percentage,
        'max_over_subscription_ratio': pool.max_over_subscription_ratio,
        'thin_provisioning_support': True,
        'thick_provisioning_support': True,
        # Attached volumes are extended through the instance, not here.
        'online_extend_support': False,
        'multiattach': True,
        'QoS_support': True,
        'datastore_type': pool.type,
        'datastore_name': pool.datastore_name,
        'location_info': 'vmware_backend:%s:%s' % (vcenter_id,
                                                   pool.datastore.value),
    }


def fits(pool, size_gb, disk_type):
    """Why a ``size_gb`` GiB disk of ``disk_type`` does not fit, or None.

    With *reserve* = ``capacity * reserved_percentage / 100`` and
    *provisioned* = ``capacity - free + uncommitted``:

    * thick and eagerZeroedThick disks are written out, so they need
      ``free - reserve >= size``;
    * thin disks honour over-subscription: ``provisioned + size <=
      capacity * max_over_subscription_ratio``, and the datastore must have
      real space left: ``free - reserve > 0``.
    """
    if disk_type not in DISK_TYPES:
        raise ValueError('unknown disk type %r' % (disk_type,))
    size = size_gb * GiB
    if disk_type in THICK_TYPES:
        if pool.usable_free < size:
            return ('%.2f GiB free after the %d%% reserve, a %s disk needs '
                    '%s GiB' % (_gib_floor(max(pool.usable_free, 0)),
                                pool.reserved_percentage, disk_type,
                                size_gb))
        return None
    if pool.usable_free <= 0:
        return 'no free space left after the %d%% reserve' % (
            pool.reserved_percentage)
    limit = pool.capacity * pool.max_over_subscription_ratio
    if pool.provisioned + size > limit:
        return ('over-subscribed: %.2f GiB provisioned + %s GiB exceeds '
                '%.2f GiB x ratio %s' % (_gib(pool.provisioned), size_gb,
                                         _gib(pool.capacity),
                                         pool.max_over_subscription_ratio))
    return None


def _reasons_text(reasons):
    if not reasons:
        return 'no datastore found'
    return '; '.join('%s: %s' % (name, reasons[name])
                     for name in sorted(reasons))


def select(pools, size_gb, disk_type, pool_name=None, rejected=None,
           target=None, rng=None, tie_tolerance=TIE_TOLERANCE):
    """The pool to create a ``size_gb`` GiB ``disk_type`` disk on.

    :param pools: usable pools (:func:`build_pools`).
    :param pool_name: the pool Cinder chose (after ``#`` in
        ``volume.host``): only that pool is considered; an old-style name
        (:func:`pool_names.legacy_matches`) is accepted too.
    :param rejected: name -> reason of the unusable datastores, quoted in
        the error.
    :param target: what is placed, for the error (``volume <id>``).
    :param rng: a :class:`random.Random` for tie-breaking.

    Rule: among the pools the disk :func:`fits`, the one with the most free
    space after the reserve wins; all pools within ``tie_tolerance`` (1%)
    of that best free space tie, and one of them is chosen at random so
    that concurrent creates spread over equally good datastores.

    :raises exceptions.NoValidDatastore: listing each candidate datastore
        with why it was rejected.
    """
    rng = rng or random
    reasons = dict(rejected or {})
    target = target or 'a volume'
    if pool_name:
        matches = ([pool for pool in pools if pool.name == pool_name] or
                   pool_names.legacy_matches(pools, pool_name))
        problem = (fits(matches[0], size_gb, disk_type) if matches else
                   reasons.get(pool_name, 'no such datastore'))
        if problem:
            raise exceptions.NoValidDatastore(
                size_gb=size_gb, disk_type=disk_type, volume=target,
                reasons='%s: %s' % (pool_name, problem))
        return matches[0]
    fitting = []
    for pool in pools:
        problem = fits(pool, size_gb, disk_type)
        if problem:
            reasons[pool_names.label(pools, pool)] = problem
        else:
            fitting.append(pool)
    if not fitting:
        raise exceptions.NoValidDatastore(
            size_gb=size_gb, disk_type=disk_type, volume=target,
            reasons=_reasons_text(reasons))
    best = max(pool.usable_free for pool in fitting)
    floor = best - abs(best) * tie_tolerance
    ties = sorted((pool for pool in fitting if pool.usable_free >= floor),
                  key=lambda pool: pool.name)
    return rng.choice(ties)


def place(inventory, pool, host=None, rng=None):
    """The :class:`Placement` of a backing on ``pool``.

    :param host: use this host (it must be one of ``pool.hosts``);
        otherwise one of ``pool.hosts`` is picked at random.
    :raises ValueError: ``host`` does not mount the pool.
    """
    rng = rng or random
    if host is None:
        host = rng.choice(pool.hosts)
    elif host not in pool.hosts:
        raise ValueError('host %s cannot use datastore %s'
                         % (host.value, pool.datastore_name))
    cluster = inventory.hosts[host]['parent']
    datacenter = datacenter_of(inventory, cluster)
    return Placement(
        pool_name=pool.name,
        datastore=pool.datastore,
        datastore_name=pool.datastore_name,
        host=host,
        host_name=_name(inventory, host),
        cluster=cluster,
        resource_pool=inventory.compute_resources[cluster]['resourcePool'],
        datacenter=datacenter,
        datacenter_name=_name(inventory, datacenter),
        vm_folder=inventory.datacenters[datacenter]['vmFolder'])


def consume(props, size_gb, disk_type):
    """Datastore ``props`` updated for a new ``size_gb`` GiB disk.

    Thick disks take free space; thin disks add to the uncommitted space.
    Used to account for one's own placements until the next inventory read.
    """
    props = dict(props)
    size = size_gb * GiB
    if disk_type in THICK_TYPES:
        props['summary.freeSpace'] = int(
            props.get('summary.freeSpace') or 0) - size
    else:
        props['summary.uncommitted'] = int(
            props.get('summary.uncommitted') or 0) + size
    return props
