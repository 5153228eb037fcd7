"""Datastores as the storage administrator sees them.

:func:`list_datastores` reads, in ONE paged ContainerView read, the
datacenters, compute resources, hosts and datastores (never a VM), then the
``config.extraConfig["vmware_backend.managed"]`` mark of only the VMs that
the datastores' ``vm`` lists name (one paged ``RetrievePropertiesEx`` over
those objects), so the cost follows the number of VMs on the datastores,
not a scan of the inventory. Each datastore becomes a
:class:`DatastoreInfo`: capacity, free and uncommitted space, type,
accessibility and maintenance, mounting hosts and clusters, whether each
configured cluster can reach it (every connected host of the cluster
mounts it), its Storage I/O Control state (``iormConfiguration``), how
many of this backend's volumes and how many VMs in all have files there,
and its pool (stable name) or why it is not one.

:func:`find` resolves what an operator typed (stable pool name / moref,
``<datacenter>:<name>`` or a name unique in vCenter).
"""

import dataclasses

from vmware_backend import exceptions
from vmware_backend.volume import datastore as pools
from vmware_backend.vsphere import inventory
from vmware_backend.vsphere import objects
from vmware_backend.vsphere import specs

GiB = 1024 ** 3

DATASTORE_PATHS = ['summary.url', 'vm', 'iormConfiguration', 'parent']
MANAGED_PATH = 'config.extraConfig["%s"]' % specs.KEY_MANAGED


@dataclasses.dataclass
class Sioc:
    """A datastore's Storage I/O Control settings (``StorageIORMInfo``)."""

    enabled: bool
    congestion_threshold_mode: str
    congestion_threshold_ms: int
    percent_of_peak_throughput: int
    stats_collection_enabled: bool


@dataclasses.dataclass
class DatastoreInfo:
    """One datastore (sizes in GiB)."""

    id: str
    name: str
    datacenter: str
    type: str
    url: str
    capacity_gb: float
    free_gb: float
    uncommitted_gb: float
    accessible: bool
    maintenance_mode: str
    hosts: list
    clusters: list
    cluster_reach: dict
    sioc: Sioc
    volumes: int
    vms: int
    pool: str
    not_a_pool: str

    @property
    def provisioned_gb(self):
        """Used plus promised thin space."""
        return round(self.capacity_gb - self.free_gb + self.uncommitted_gb,
                     2)


def _gib(value):
    return round(int(value or 0) / GiB, 2)


def read(session):
    """The placement inventory plus what the datastore views need.

    :returns: a :class:`pools.Inventory`.
    """
    paths = {kind: list(p) for kind, p in pools.INVENTORY_PATHS.items()}
    paths['Datastore'] = paths['Datastore'] + DATASTORE_PATHS
    return pools.index_inventory(inventory.read_container(session, paths))


def managed_vms(session, refs):
    """The VMs of ``refs`` that are backings of this backend (a set)."""
    marks = objects.read_objects(session, refs,
                                 {'VirtualMachine': [MANAGED_PATH]})
    found = set()
    for ref, props in marks.items():
        option = props.get(MANAGED_PATH) or {}
        if str(option.get('value', '')).lower() == 'true':
            found.add(ref)
    return found


def sioc_of(props):
    """The :class:`Sioc` of datastore ``props``, or None when unset."""
    info = props.get('iormConfiguration')
    if not info:
        return None
    return Sioc(enabled=bool(info.get('enabled')),
                congestion_threshold_mode=info.get('congestionThresholdMode'),
                congestion_threshold_ms=info.get('congestionThreshold'),
                percent_of_peak_throughput=info.get(
                    'percentOfPeakThroughput'),
                stats_collection_enabled=bool(
                    info.get('statsCollectionEnabled')))


def _names(inv, refs):
    return sorted(pools._name(inv, ref) for ref in refs)


def _reach(inv, mounted, cluster_names):
    """{cluster name: every connected host of it mounts the datastore}."""
    reach = {}
    wanted = set(cluster_names or ())
    for ref, props in inv.compute_resources.items():
        if ref.type != pools.CLUSTER_TYPE:
            continue
        name = props.get('name')
        if wanted and name not in wanted:
            continue
        connected = [h for h in props.get('host') or []
                     if inv.hosts.get(h, {}).get('runtime.connectionState')
                     == 'connected']
        reach[name] = bool(connected) and all(h in mounted
                                              for h in connected)
    for name in wanted - set(reach):
        reach[name] = False
    return reach


def _mounted_hosts(props):
    return {m['key'] for m in props.get('host') or []
            if m.get('key') is not None and pools._mount_problem(m) is None}


def describe(inv, ref, props, options, usable, rejected, managed):
    """The :class:`DatastoreInfo` of one datastore of ``inv``."""
    mounted = _mounted_hosts(props)
    clusters = {inv.hosts.get(h, {}).get('parent') for h in mounted}
    clusters = [c for c in clusters
                if c is not None and c.type == pools.CLUSTER_TYPE]
    dc = None
    for host in sorted(mounted):
        dc = pools.datacenter_of(inv, inv.hosts.get(host, {}).get('parent'))
        if dc:
            break
    if dc is None:
        dc = pools.datacenter_of(inv, props.get('parent'))
    vms = props.get('vm') or []
    pool = usable.get(ref)
    name = props.get('name') or ref.value
    reason = None
    if pool is None:
        reason = rejected.get(name) or rejected.get(
            '%s (%s)' % (name, ref.value)) or 'not usable'
    return DatastoreInfo(
        id=ref.value, name=name,
        datacenter=pools._name(inv, dc) if dc else None,
        type=props.get('summary.type'), url=props.get('summary.url'),
        capacity_gb=_gib(props.get('summary.capacity')),
        free_gb=_gib(props.get('summary.freeSpace')),
        uncommitted_gb=_gib(props.get('summary.uncommitted')),
        accessible=props.get('summary.accessible') is True,
        maintenance_mode=props.get('summary.maintenanceMode') or 'normal',
        hosts=_names(inv, mounted), clusters=_names(inv, clusters),
        cluster_reach=_reach(inv, mounted,
                             options.get('vcenter_cluster_names')),
        sioc=sioc_of(props),
        volumes=len([vm for vm in vms if vm in managed]), vms=len(vms),
        pool=pool.name if pool else None, not_a_pool=reason)


def list_datastores(session, options, inv=None):
    """Every datastore of vCenter as :class:`DatastoreInfo`, by name.

    :param options: option values (cluster names and pool filters).
    :param inv: an inventory already read with :func:`read`.
    """
    inv = inv or read(session)
    usable_pools, rejected = pools.build_pools(inv, options)
    usable = {pool.datastore: pool for pool in usable_pools}
    all_vms = [vm for props in inv.datastores.values()
               for vm in props.get('vm') or []]
    managed = managed_vms(session, all_vms)
    infos = [describe(inv, ref, props, options, usable, rejected, managed)
             for ref, props in inv.datastores.items()]
    return sorted(infos, key=lambda i: (i.name, i.datacenter or '', i.id))


def find(inv, ident):
    """The datastore ``ident`` names: ``(MoRef, props)``.

    ``ident`` is a stable pool name (the moref value), ``<datacenter>:<name>``
    or a datastore name that is unique in vCenter.

    :raises exceptions.InvalidAdminInput: no such datastore, or a name
        shared by several (the message lists the ids to use).
    """
    by_id = [(r, p) for r, p in inv.datastores.items() if r.value == ident]
    if by_id:
        return by_id[0]
    named = [(r, p) for r, p in inv.datastores.items()
             if p.get('name') == ident]
    if not named and ':' in ident:
        dc_name, name = ident.split(':', 1)
        named = [(r, p) for r, p in inv.datastores.items()
                 if p.get('name') == name and
                 _datacenter_name(inv, p) == dc_name]
    if len(named) == 1:
        return named[0]
    if named:
        raise exceptions.InvalidAdminInput(
            name='datastore', value=ident,
            reason='%d datastores have this name; name one by its id (%s) '
                   'or as <datacenter>:<name>' % (
                       len(named), ', '.join(sorted(r.value
                                                    for r, _p in named))))
    raise exceptions.InvalidAdminInput(
        name='datastore', value=ident,
        reason='no such datastore; known: %s' % ', '.join(sorted(
            p.get('name') or r.value for r, p in inv.datastores.items())))


def _datacenter_name(inv, props):
    for mount in props.get('host') or []:
        host = inv.hosts.get(mount.get('key'))
        if host:
            dc = pools.datacenter_of(inv, host.get('parent'))
            if dc:
                return pools._name(inv, dc)
    dc = pools.datacenter_of(inv, props.get('parent'))
    return pools._name(inv, dc) if dc else None
