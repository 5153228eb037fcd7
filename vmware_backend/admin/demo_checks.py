"""What the demo reads back from vCenter to check each step's claims."""

from vmware_backend.admin import listing
from vmware_backend.vsphere import inventory
from vmware_backend.vsphere import ops as vsphere_ops
from vmware_backend.vsphere import specs


class CheckFailed(Exception):
    """vCenter's state is not what the step claims."""


def pick_instance(session):
    """(moref value, name) of a VM that is not a backing, or None.

    Reads every VM's name and extraConfig; meant for the simulator, whose
    inventory is small.
    """
    vms = inventory.read_container(
        session, {'VirtualMachine': ['name', 'config.extraConfig',
                                     'config.template']})
    candidates = sorted(
        (props.get('name') or '', ref.value) for ref, props in vms
        if not props.get('config.template') and
        not listing.is_managed(listing.extra_config(props)))
    if not candidates:
        return None
    name, value = candidates[0]
    return value, name


class BackingState:
    """A backing's properties as read for a check."""

    def __init__(self, ref, props):
        self.ref = ref
        self.props = props
        self.disks = specs.disks(vsphere_ops.devices_of(props))
        self.extra = vsphere_ops.extra_config_dict(props)
        self.snapshots = {tree.name: tree.snapshot for tree, _depth in
                          vsphere_ops.snapshot_trees(props)}

    @property
    def moref(self):
        return vsphere_ops.moref_value(self.ref)

    @property
    def current_snapshot(self):
        info = self.props.get('snapshot')
        current = getattr(info, 'currentSnapshot', None)
        return vsphere_ops.moref_value(current) if current else None

    def disk(self):
        if len(self.disks) != 1:
            raise CheckFailed('backing %s has %d disks, expected 1'
                              % (self.moref, len(self.disks)))
        return self.disks[0]

    def file_name(self):
        return self.disk().backing.fileName

    def datastore(self):
        name = self.file_name() or ''
        return name[1:name.index(']')] if name.startswith('[') else '?'


def expect(condition, message, *args):
    if not condition:
        raise CheckFailed(message % args if args else message)


def error_text(err):
    text = getattr(err, 'msg', None) or str(err) or ''
    return '%s: %s' % (type(err).__name__, text.strip().splitlines()[0]
                       if text.strip() else '')
