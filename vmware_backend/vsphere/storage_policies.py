"""vSphere storage policies (SPBM): look-ups on the PBM service, specs.

* :func:`find_policy`: a VM storage policy's id by its name
  (``PbmQueryProfile`` of the STORAGE requirement profiles, then one
  ``PbmRetrieveContent``); None when vCenter has none of that name;
* :func:`matching_datastores`: which of some datastores comply with a
  policy (``PbmQueryMatchingHub``), one call whatever their number;
* :func:`associated_policy`: the policy a VM or one of its disks has
  (``PbmQueryAssociatedProfile``);
* :func:`profile_spec`: the ``VirtualMachineDefinedProfileSpec`` (or,
  without a policy, ``VirtualMachineEmptyProfileSpec``) that a create,
  reconfigure or relocate spec carries to apply a policy.
"""

import collections

from vmware_backend.vsphere import inventory
from vmware_backend.vsphere import specs

Policy = collections.namedtuple('Policy', 'name profile_id')
Policy.__doc__ = 'A storage policy: its name and PBM profile id.'


def _content(session):
    return session.pbm.service_content


def policies(session):
    """Every storage requirement policy: {name: profile id}."""
    pbm = session.pbm
    factory = pbm.client.factory
    resource = factory.create('ns0:PbmProfileResourceType')
    resource.resourceType = 'STORAGE'
    manager = _content(session).profileManager
    ids = session.invoke_pbm('PbmQueryProfile', manager,
                             target='storage policies',
                             resourceType=resource,
                             profileCategory='REQUIREMENT') or []
    if not ids:
        return {}
    found = session.invoke_pbm('PbmRetrieveContent', manager,
                               target='storage policies',
                               profileIds=list(ids)) or []
    return {str(p.name): str(p.profileId.uniqueId) for p in found}


def find_policy(session, name):
    """(:class:`Policy` or None, sorted names of all policies)."""
    known = policies(session)
    if name in known:
        return Policy(name, known[name]), sorted(known)
    return None, sorted(known)


def matching_datastores(session, profile_id, datastores):
    """The datastores (MoRefs) among ``datastores`` complying with it."""
    datastores = list(datastores)
    if not datastores:
        return set()
    factory = session.pbm.client.factory
    hubs = []
    for ref in datastores:
        hub = factory.create('ns0:PbmPlacementHub')
        hub.hubType = 'Datastore'
        hub.hubId = ref.value
        hubs.append(hub)
    profile = factory.create('ns0:PbmProfileId')
    profile.uniqueId = profile_id
    matched = session.invoke_pbm(
        'PbmQueryMatchingHub', _content(session).placementSolver,
        target='storage policy %s' % profile_id, hubsToSearch=hubs,
        profile=profile) or []
    values = {str(h.hubId) for h in matched}
    return {ref for ref in datastores if ref.value in values}


def associated_policy(session, vm, disk_key=None):
    """The profile id of a VM (or of its disk ``disk_key``), or None."""
    factory = session.pbm.client.factory
    entity = factory.create('ns0:PbmServerObjectRef')
    value = inventory.from_suds(vm).value
    if disk_key is None:
        entity.objectType = 'virtualMachine'
        entity.key = value
    else:
        entity.objectType = 'virtualDiskId'
        entity.key = '%s:%s' % (value, disk_key)
    entity.serverUuid = session.service_content.about.instanceUuid
    found = session.invoke_pbm(
        'PbmQueryAssociatedProfile', _content(session).profileManager,
        target='policy of %s' % entity.key, entity=entity) or []
    return str(found[0].uniqueId) if found else None


def profile_spec(factory, profile_id):
    """The profile spec applying ``profile_id`` (None: no policy)."""
    if profile_id is None:
        return specs.create(factory, 'VirtualMachineEmptyProfileSpec')
    return specs.create(factory, 'VirtualMachineDefinedProfileSpec',
                        profileId=profile_id)


def apply_to_backing(factory, spec, profile_id, disk=None):
    """Add the policy to a VM config spec: the VM home and its disk.

    :param disk: the VirtualDisk to edit (a reconfigure); None when
        ``spec`` creates the disk (its last device change is the disk).
    """
    spec.vmProfile = [profile_spec(factory, profile_id)]
    if disk is None:
        spec.deviceChange[-1].profile = [profile_spec(factory, profile_id)]
        return spec
    change = specs.create(factory, 'VirtualDeviceConfigSpec',
                          operation='edit', device=disk,
                          profile=[profile_spec(factory, profile_id)])
    spec.deviceChange = list(getattr(spec, 'deviceChange', None) or []) + [
        change]
    return spec


def apply_to_clone(factory, clone_spec, profile_id, disk_key, datastore):
    """Give a clone (and its disk ``disk_key``) the policy ``profile_id``.

    In the clone spec's location: ``profile`` for the clone's home and
    the disk locator's ``profile`` for its disk (a locator is added, onto
    ``datastore``, when the spec has none for that disk). vCenter applies
    them as it makes the clone, so it never exists without its policy.
    """
    location = clone_spec.location
    location.profile = [profile_spec(factory, profile_id)]
    locators = list(getattr(location, 'disk', None) or [])
    mine = [loc for loc in locators if loc.diskId == disk_key]
    if not mine:
        mine = [specs.create(factory, 'VirtualMachineRelocateSpecDiskLocator',
                             diskId=disk_key, datastore=datastore)]
        if getattr(location, 'diskMoveType', None):
            mine[0].diskMoveType = location.diskMoveType
        locators.extend(mine)
    mine[0].profile = [profile_spec(factory, profile_id)]
    location.disk = locators
    return clone_spec
