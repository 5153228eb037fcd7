"""Clusters: create (``Folder.CreateClusterEx``) and remove
(``ClusterComputeResource.Destroy_Task``).

A new cluster is made in its datacenter's host folder with an empty
``ClusterConfigSpecEx`` (vSphere's defaults). Removing is refused while
the cluster holds hosts (vCenter would remove them and their VMs from the
inventory with it), volumes of this backend or other VMs (whose resource
pool is the cluster's); the refusal names what is in the way.
"""

import dataclasses

from vmware_backend.admin import datastores
from vmware_backend import exceptions
from vmware_backend.volume import datastore as pools
from vmware_backend.vsphere import inventory
from vmware_backend.vsphere import specs

MAX_NAME = 80


@dataclasses.dataclass
class ClusterChange:
    """The outcome of a cluster change."""

    action: str
    cluster: str
    id: str
    datacenter: str
    dry_run: bool
    ok: bool
    detail: str = None


def _datacenter(inv, name):
    dcs = {p.get('name'): r for r, p in inv.datacenters.items()}
    if name is None and len(dcs) == 1:
        return next(iter(dcs.items()))
    if name in dcs:
        return name, dcs[name]
    raise exceptions.InvalidAdminInput(
        name='datacenter', value=name,
        reason='give one of %s' % ', '.join(sorted(dcs)) if name else
        'several datacenters (%s); give --datacenter' % ', '.join(
            sorted(dcs)))


def _clusters(inv):
    return {r: p for r, p in inv.compute_resources.items()
            if r.type == 'ClusterComputeResource'}


def create(session, name, datacenter=None, dry_run=False):
    """Create an empty cluster ``name`` in ``datacenter``.

    :raises exceptions.InvalidAdminInput: bad name or datacenter.
    :raises exceptions.AdminRefused: the datacenter has a cluster of that
        name.
    """
    if not name or not name.strip() or len(name) > MAX_NAME or '/' in name:
        raise exceptions.InvalidAdminInput(
            name='cluster name', value=name,
            reason='give 1 to %d characters, no "/"' % MAX_NAME)
    inv = datastores.read(session)
    dc_name, dc_ref = _datacenter(inv, datacenter)
    for ref, props in _clusters(inv).items():
        if props.get('name') == name and \
                pools.datacenter_of(inv, ref) == dc_ref:
            raise exceptions.AdminRefused(
                action='Creating', target='cluster %s in datacenter %s' % (
                    name, dc_name),
                reason='it exists (%s)' % ref.value)
    result = ClusterChange(action='create', cluster=name, id=None,
                           datacenter=dc_name, dry_run=dry_run, ok=True)
    if dry_run:
        return result
    folder = inv.datacenters[dc_ref].get('hostFolder')
    ref = session.invoke(
        'CreateClusterEx', inventory.to_suds(folder),
        target='cluster %s in datacenter %s' % (name, dc_name), name=name,
        spec=session.factory.create('ns0:ClusterConfigSpecEx'))
    result.id = inventory.from_suds(ref).value
    return result


def find(inv, ident, datacenter=None):
    """``(MoRef, props, datacenter name)`` of the cluster ``ident``.

    ``ident`` is a moref value (``domain-c7``) or a name (with
    ``datacenter`` when several datacenters have one).
    """
    found = []
    for ref, props in _clusters(inv).items():
        dc = pools.datacenter_of(inv, ref)
        dc_name = pools._name(inv, dc) if dc else None
        if ident in (ref.value, props.get('name')) and \
                datacenter in (None, dc_name):
            found.append((ref, props, dc_name))
    if len(found) == 1:
        return found[0]
    raise exceptions.InvalidAdminInput(
        name='cluster', value=ident,
        reason='no such cluster; known: %s' % ', '.join(sorted(
            p.get('name') for p in _clusters(inv).values())) if not found
        else 'clusters of that name are in %s; give --datacenter or the '
             'id' % ', '.join(sorted(dc or '?' for _r, _p, dc in found)))


VM_PATHS = ['name', 'resourcePool',
            'config.extraConfig["%s"]' % specs.KEY_MANAGED,
            'config.extraConfig["%s"]' % specs.KEY_VOLUME_ID]


def vms_in(session, cluster_props):
    """``(volume ids of this backend, other VM names)`` in the cluster.

    A VM is in the cluster when its resource pool is the cluster's root
    pool (one paged read of every VM's pool and marks).
    """
    pool = cluster_props.get('resourcePool')
    volumes, others = [], []
    if pool is None:
        return volumes, others
    for ref, props in inventory.read_container(
            session, {'VirtualMachine': VM_PATHS}):
        if props.get('resourcePool') != pool:
            continue
        managed = str((props.get(VM_PATHS[2]) or {}).get('value', ''))
        volume_id = (props.get(VM_PATHS[3]) or {}).get('value')
        if managed.lower() == 'true' and volume_id:
            volumes.append(volume_id)
        else:
            others.append(props.get('name') or ref.value)
    return sorted(volumes), sorted(others)


def remove(session, ident, datacenter=None, dry_run=False):
    """Destroy an empty cluster.

    :raises exceptions.AdminRefused: it holds hosts or volumes of this
        backend.
    """
    inv = datastores.read(session)
    ref, props, dc_name = find(inv, ident, datacenter)
    target = 'cluster %s (%s) in datacenter %s' % (props.get('name'),
                                                   ref.value, dc_name)
    hosts = [inv.hosts.get(h, {}).get('name') or h.value
             for h in props.get('host') or []]
    if hosts:
        raise exceptions.AdminRefused(
            action='Removing', target=target,
            reason='it holds host(s) %s; move them out of the cluster '
                   'first' % ', '.join(sorted(hosts)))
    volumes, others = vms_in(session, props)
    if volumes or others:
        raise exceptions.AdminRefused(
            action='Removing', target=target,
            reason='; '.join(filter(None, (
                volumes and 'volume(s) %s of this backend are in it'
                % ', '.join(volumes),
                others and 'VM(s) %s are in it' % ', '.join(others)))))
    result = ClusterChange(action='remove', cluster=props.get('name'),
                           id=ref.value, datacenter=dc_name, dry_run=dry_run,
                           ok=True)
    if dry_run:
        return result
    session.invoke_task('Destroy_Task', inventory.to_suds(ref),
                        target=target)
    return result
