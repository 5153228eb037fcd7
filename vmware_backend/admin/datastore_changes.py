"""Changing datastores: rename, create an NFS datastore, remove.

Each function checks what it can before calling vCenter, supports a dry
run (the plan, nothing changed) and returns a typed result naming every
host it touched. Refusals raise :class:`exceptions.AdminRefused`, bad input
:class:`exceptions.InvalidAdminInput`; vCenter's own faults stay
:class:`exceptions.VCenterFault` and name the call and the object.

Creating an NFS datastore on a cluster calls
``HostDatastoreSystem.CreateNasDatastore`` on each connected host of the
cluster (found through ``HostSystem.configManager.datastoreSystem``); a
host that already mounts the same export under the same name is left as
it is. When a host fails, the hosts mounted by this call are unmounted
again (``RemoveDatastore``) unless ``rollback`` is off; either way every
host's outcome is in the result.

Removing unmounts the datastore from every host that mounts it
(``RemoveDatastore`` per host; vCenter drops a datastore mounted nowhere).
It is refused while the datastore holds volumes of this backend or any
VM's files (``Datastore.vm``) unless forced; vCenter itself still refuses
a host whose registered VMs have files there.
"""

import dataclasses
import re

from oslo_log import log as logging

from vmware_backend.admin import datastores
from vmware_backend import exceptions
from vmware_backend.volume import datastore as pools
from vmware_backend.vsphere import inventory
from vmware_backend.vsphere import objects

LOG = logging.getLogger(__name__)

NFS_TYPES = ('NFS', 'NFS41')
ACCESS_MODES = ('readWrite', 'readOnly')
MAX_NAME = 80
_HOST_RE = re.compile(r'^[A-Za-z0-9.:\[\]_-]+$')


@dataclasses.dataclass
class HostOutcome:
    """What happened on one host."""

    host: str
    status: str          # mounted, already mounted, unmounted, skipped,
    #                      failed, rolled back, would mount, would unmount
    error: str = None


@dataclasses.dataclass
class ChangeResult:
    """The outcome of a datastore change."""

    action: str
    datastore: str
    id: str
    dry_run: bool
    ok: bool
    hosts: list = dataclasses.field(default_factory=list)
    detail: str = None


def check_name(name):
    """Refuse an empty or too long datastore name."""
    if not name or not name.strip() or len(name) > MAX_NAME or '/' in name:
        raise exceptions.InvalidAdminInput(
            name='datastore name', value=name,
            reason='give 1 to %d characters, no "/"' % MAX_NAME)


def rename(session, ident, new_name, dry_run=False):
    """Rename a datastore (``Datastore.RenameDatastore``).

    Its pool keeps its stable name (the id); only ``datastore_name``
    changes.

    :raises exceptions.InvalidAdminInput: bad name, unknown datastore, or
        the name is taken in the same datacenter.
    """
    check_name(new_name)
    inv = datastores.read(session)
    ref, props = datastores.find(inv, ident)
    old = props.get('name')
    dc = datastores._datacenter_name(inv, props)
    for other, other_props in inv.datastores.items():
        if other != ref and other_props.get('name') == new_name and \
                datastores._datacenter_name(inv, other_props) == dc:
            raise exceptions.InvalidAdminInput(
                name='datastore name', value=new_name,
                reason='datastore %s of datacenter %s already has it' % (
                    other.value, dc))
    result = ChangeResult(action='rename', datastore=old, id=ref.value,
                          dry_run=dry_run, ok=True,
                          detail='%s -> %s' % (old, new_name))
    if not dry_run and old != new_name:
        session.invoke('RenameDatastore', inventory.to_suds(ref),
                       target='datastore %s (%s)' % (old, ref.value),
                       newName=new_name)
    return result


def _cluster(inv, name):
    for ref, props in inv.compute_resources.items():
        if ref.type == pools.CLUSTER_TYPE and props.get('name') == name:
            return ref, props
    raise exceptions.InvalidAdminInput(
        name='cluster', value=name, reason='no such cluster; known: %s' % (
            ', '.join(sorted(p.get('name') for r, p in
                             inv.compute_resources.items()
                             if r.type == pools.CLUSTER_TYPE)) or 'none'))


def _datastore_systems(session, hosts):
    path = 'configManager.datastoreSystem'
    found = objects.read_objects(session, hosts, {'HostSystem': [path]})
    return {host: props.get(path) for host, props in found.items()}


def _nas_spec(session, name, remote_host, remote_path, nfs_type,
              access_mode):
    spec = session.factory.create('ns0:HostNasVolumeSpec')
    spec.remoteHost = remote_host
    spec.remotePath = remote_path
    spec.localPath = name
    spec.accessMode = access_mode
    spec.type = nfs_type
    return spec


def check_nfs_input(name, remote_host, remote_path, nfs_type, access_mode):
    """Refuse bad NFS parameters, naming the value and the fix."""
    check_name(name)
    if not remote_host or not _HOST_RE.match(remote_host):
        raise exceptions.InvalidAdminInput(
            name='NFS server', value=remote_host,
            reason='give a host name or IP address')
    if not remote_path or not remote_path.startswith('/'):
        raise exceptions.InvalidAdminInput(
            name='NFS export path', value=remote_path,
            reason='give an absolute path such as /exports/cinder')
    if nfs_type not in NFS_TYPES:
        raise exceptions.InvalidAdminInput(
            name='NFS type', value=nfs_type,
            reason='use one of %s' % ', '.join(NFS_TYPES))
    if access_mode not in ACCESS_MODES:
        raise exceptions.InvalidAdminInput(
            name='access mode', value=access_mode,
            reason='use one of %s' % ', '.join(ACCESS_MODES))


def _existing_export(session, inv, name, remote_host, remote_path):
    """Hosts already mounting export ``name`` (a set of MoRefs).

    :raises exceptions.AdminRefused: the name belongs to another datastore.
    """
    for ref, props in inv.datastores.items():
        if props.get('name') != name:
            continue
        info = inventory.get_properties(session, ref, ['info']).get('info')
        nas = (info or {}).get('nas') or {}
        if (nas.get('remoteHost'), nas.get('remotePath')) == (remote_host,
                                                              remote_path):
            return datastores._mounted_hosts(props), ref
        raise exceptions.AdminRefused(
            action='Creating datastore', target=name,
            reason='datastore %s (type %s) already has this name; pick '
                   'another name, or rename or remove that one first' % (
                       ref.value, props.get('summary.type')))
    return set(), None


def create_nfs(session, cluster, name, remote_host, remote_path,
               nfs_type='NFS', access_mode='readWrite', dry_run=False,
               rollback=True, progress=None):
    """Mount an NFS export as datastore ``name`` on a cluster's hosts.

    :param progress: called with a line of text per host.
    :returns: a :class:`ChangeResult`; ``ok`` is False when a host failed.
    """
    check_nfs_input(name, remote_host, remote_path, nfs_type, access_mode)
    inv = datastores.read(session)
    _ref, cluster_props = _cluster(inv, cluster)
    already, existing = _existing_export(session, inv, name, remote_host,
                                         remote_path)
    hosts = sorted(cluster_props.get('host') or [],
                   key=lambda h: pools._name(inv, h))
    result = ChangeResult(action='create-nfs', datastore=name,
                          id=existing.value if existing else None,
                          dry_run=dry_run, ok=True,
                          detail='%s:%s (%s, %s) on cluster %s' % (
                              remote_host, remote_path, nfs_type,
                              access_mode, cluster))
    connected = []
    for host in hosts:
        host_name = pools._name(inv, host)
        state = inv.hosts.get(host, {}).get('runtime.connectionState')
        if state != 'connected':
            result.hosts.append(HostOutcome(host_name, 'skipped',
                                            'host is %s' % state))
        elif host in already:
            result.hosts.append(HostOutcome(host_name, 'already mounted'))
        else:
            connected.append(host)
    if not connected and not already:
        raise exceptions.AdminRefused(
            action='Creating datastore', target=name,
            reason='cluster %s has no connected host' % cluster)
    if dry_run:
        result.hosts += [HostOutcome(pools._name(inv, h), 'would mount')
                         for h in connected]
        return result
    systems = _datastore_systems(session, connected)
    spec = _nas_spec(session, name, remote_host, remote_path, nfs_type,
                     access_mode)
    done = []
    for host in connected:
        host_name = pools._name(inv, host)
        try:
            ds = session.invoke('CreateNasDatastore',
                                inventory.to_suds(systems[host]),
                                target='host %s' % host_name, spec=spec)
        except exceptions.VMwareBackendException as err:
            result.ok = False
            result.hosts.append(HostOutcome(host_name, 'failed', str(err)))
            _say(progress, '%s: failed: %s' % (host_name, err))
            break
        result.id = inventory.from_suds(ds).value
        done.append((host, host_name))
        result.hosts.append(HostOutcome(host_name, 'mounted'))
        _say(progress, '%s: mounted' % host_name)
    if not result.ok:
        failed_at = len(done) + 1
        for host in connected[failed_at:]:
            result.hosts.append(HostOutcome(pools._name(inv, host),
                                            'not tried'))
        if rollback and done:
            _roll_back(session, systems, done, result, progress)
    return result


def _roll_back(session, systems, done, result, progress):
    outcomes = {o.host: o for o in result.hosts}
    ref = inventory.MoRef('Datastore', result.id)
    for host, host_name in reversed(done):
        try:
            session.invoke('RemoveDatastore',
                           inventory.to_suds(systems[host]),
                           target='host %s' % host_name,
                           datastore=inventory.to_suds(ref))
            outcomes[host_name].status = 'rolled back'
            _say(progress, '%s: unmounted again' % host_name)
        except exceptions.VMwareBackendException as err:
            outcomes[host_name].status = 'mounted (rollback failed)'
            outcomes[host_name].error = str(err)
            LOG.warning('Rollback of %s on %s failed: %s', result.datastore,
                        host_name, err)


def _say(progress, text):
    if progress:
        progress(text)


def remove(session, ident, force=False, dry_run=False, progress=None):
    """Unmount a datastore from every host that mounts it.

    :raises exceptions.AdminRefused: it holds this backend's volumes or
        any VM's files, and ``force`` is not set.
    """
    inv = datastores.read(session)
    ref, props = datastores.find(inv, ident)
    name = props.get('name') or ref.value
    vms = props.get('vm') or []
    managed = datastores.managed_vms(session, vms) if vms else set()
    if vms and not force:
        raise exceptions.AdminRefused(
            action='Removing datastore', target='%s (%s)' % (name, ref.value),
            reason='it holds %d volume(s) of this backend and files of %d '
                   'VM(s) in all; move or delete them first (--force '
                   'removes it anyway where vCenter allows)' % (
                       len(managed), len(vms)))
    mounts = sorted((m['key'] for m in props.get('host') or []),
                    key=lambda h: pools._name(inv, h))
    result = ChangeResult(action='remove', datastore=name, id=ref.value,
                          dry_run=dry_run, ok=True,
                          detail='%d volume(s), %d VM(s) with files' % (
                              len(managed), len(vms)))
    if dry_run:
        result.hosts = [HostOutcome(pools._name(inv, h), 'would unmount')
                        for h in mounts]
        return result
    systems = _datastore_systems(session, mounts)
    for host in mounts:
        host_name = pools._name(inv, host)
        try:
            session.invoke('RemoveDatastore',
                           inventory.to_suds(systems[host]),
                           target='host %s' % host_name,
                           datastore=inventory.to_suds(ref))
            result.hosts.append(HostOutcome(host_name, 'unmounted'))
            _say(progress, '%s: unmounted' % host_name)
        except exceptions.VMwareBackendException as err:
            result.ok = False
            result.hosts.append(HostOutcome(host_name, 'failed', str(err)))
            _say(progress, '%s: failed: %s' % (host_name, err))
    return result
