"""VMs of nobody for the campaign's imports, made and read over the
checker's own session (straight to the simulator, never faulted).
"""

import collections

from vmware_backend.vsphere import ops as vsphere_ops
from vmware_backend.vsphere import specs

# A simulator VM whose folder, pool and host the foreign VMs share.
TEMPLATE_PATH = 'DC0/vm/DC0_C0_RP0_VM0'
DATASTORE = 'LocalDS_0'
GIB_KB = 1024 * 1024

Seen = collections.namedtuple('Seen', 'name folder disk_kb')


def make(session, uuid, name, size_gb=1):
    """Create a powered-off VM ``name`` with one thin disk, no marks.

    :returns: the moref value of its folder.
    """
    template = session.invoke(
        'FindByInventoryPath', session.service_content.searchIndex,
        inventoryPath=TEMPLATE_PATH)
    where = session.get_properties(template, ['parent', 'resourcePool',
                                              'runtime.host'])
    spec = specs.backing_config_spec(session.factory, name, uuid, size_gb,
                                     'thin', 'lsiLogic', DATASTORE, 256,
                                     extra_entries=None)
    spec.extraConfig = []
    session.invoke_task('CreateVM_Task', where['parent'], config=spec,
                        pool=where['resourcePool'],
                        host=where['runtime.host'])
    return vsphere_ops.moref_value(where['parent'])


def seen(session, uuid):
    """Name, folder and disk sizes of the VM with instanceUuid ``uuid``."""
    found = session.invoke('FindAllByUuid',
                           session.service_content.searchIndex, uuid=uuid,
                           vmSearch=True, instanceUuid=True) or []
    if len(found) != 1:
        return None
    props = session.get_properties(found[0], ['name', 'parent',
                                              'config.hardware.device'])
    return Seen(props['name'], vsphere_ops.moref_value(props['parent']),
                [d.capacityInKB for d in specs.disks(
                    vsphere_ops.devices_of(props))])


def make_snapshot(session, volume_id, name):
    """A vSphere snapshot ``name`` of the backing of ``volume_id``.

    :returns: False when the volume has not exactly one backing.
    """
    found = session.invoke('FindAllByUuid',
                           session.service_content.searchIndex,
                           uuid=volume_id, vmSearch=True,
                           instanceUuid=True) or []
    if len(found) != 1:
        return False
    session.invoke_task('CreateSnapshot_Task', found[0], name=name,
                        memory=False, quiesce=False)
    return True
