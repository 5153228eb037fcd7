"""Helpers of the lifecycle tests: volumes, and reading vCenter state back.

State is read straight through the session (SearchIndex + property
collector), not through the driver's own look-ups, so a driver bug cannot
hide itself.
"""

import types

from tests.functional import base
from vmware_backend import exceptions
from vmware_backend.volume import driver as vmware_driver
from vmware_backend.volume import plain_objects
from vmware_backend.vsphere import inventory
from vmware_backend.vsphere import ops as vsphere_ops
from vmware_backend.vsphere import specs

STATE_PATHS = ('name', 'parent', 'config.guestId', 'config.hardware.numCPU',
               'config.hardware.memoryMB', 'config.hardware.device',
               'config.extraConfig', 'config.instanceUuid', 'snapshot',
               'datastore', 'runtime.host')


make_volume = plain_objects.volume
make_snapshot = plain_objects.snapshot


class BackingState:
    """What vCenter says about one VM, as plain attributes."""

    def __init__(self, ref, props):
        self.ref = ref
        self.props = props
        self.devices = vsphere_ops.devices_of(props)
        self.extra = vsphere_ops.extra_config_dict(props)

    @property
    def disks(self):
        return [d for d in self.devices
                if type(d).__name__ == 'VirtualDisk']

    @property
    def disk(self):
        disks = self.disks
        assert len(disks) == 1, 'expected one disk, got %d' % len(disks)
        return disks[0]

    def controller(self, disk):
        return [d for d in self.devices if d.key == disk.controllerKey][0]

    @property
    def snapshot_names(self):
        return [tree.name for tree, _depth in
                vsphere_ops.snapshot_trees(self.props)]

    @property
    def datastore_values(self):
        return [vsphere_ops.moref_value(d) for d in
                vsphere_ops.ref_list(self.props.get('datastore'))]


class LifecycleTestCase(base.FunctionalTestCase):
    """A driver on the shared simulator, cleaning up its volumes."""

    def setUp(self):
        super().setUp()
        self.driver = vmware_driver.VMwareVolumeDriver(self.options,
                                                       session=self.session)

    def create(self, size=1, specs=None, **kw):
        volume = make_volume(size, specs, **kw)
        self.driver.create_volume(volume)
        self.addCleanup(self._delete_quietly, volume)
        return volume

    def track(self, volume):
        """Clean up a volume made by another driver call."""
        self.addCleanup(self._delete_quietly, volume)
        return volume

    def _delete_quietly(self, volume):
        try:
            self.driver.delete_volume(
                types.SimpleNamespace(**dict(vars(volume),
                                             status='available')))
        except exceptions.VolumeIsBusy:
            pass

    def find(self, volume_id):
        found = self.session.invoke(
            'FindAllByUuid', self.session.service_content.searchIndex,
            uuid=volume_id, vmSearch=True, instanceUuid=True)
        found = list(found or [])
        self.assertLessEqual(len(found), 1, found)
        return found[0] if found else None

    def state(self, volume_id_or_ref):
        ref = volume_id_or_ref
        if isinstance(ref, str):
            ref = self.find(ref)
            self.assertIsNotNone(ref, 'no VM with instanceUuid %s'
                                 % volume_id_or_ref)
        return BackingState(ref, self.session.get_properties(ref,
                                                             STATE_PATHS))

    def entity_name(self, ref):
        return self.session.get_properties(ref, ['name'])['name']

    def simulator_vm(self, name):
        ref = self.session.invoke(
            'FindByInventoryPath', self.session.service_content.searchIndex,
            inventoryPath='DC0/vm/%s' % name)
        self.assertIsNotNone(ref, 'simulator VM %s not found' % name)
        return ref

    def move_to_standalone(self, volume, datastore_name):
        """Relocate the backing onto the standalone host DC0_H0.

        Behind the driver's back (a plain RelocateVM_Task), onto its
        datastore ``datastore_name``; returns that datastore.
        """
        placement = self.driver.placement
        standalone = [h for h, p in placement.inventory().hosts.items()
                      if p['name'] == 'DC0_H0'][0]
        datastore = placement.find_datastore(datastore_name)
        where = placement.place_on(datastore, host=standalone)
        self.session.invoke_task('RelocateVM_Task', self.find(volume.id),
                                 spec=specs.relocate_spec(
                                     self.session.factory,
                                     inventory.to_suds(datastore),
                                     host=inventory.to_suds(where.host),
                                     resource_pool=inventory.to_suds(
                                         where.resource_pool)))
        return datastore

    def make_instance(self, near='DC0_C0_RP0_VM0'):
        """A new instance VM (lsiLogic controller, one disk) beside a VM.

        It is destroyed at clean-up, after whatever the test attached to it
        was detached (clean-ups run last-in first-out).
        """
        template = self.simulator_vm(near)
        where = self.session.get_properties(
            template, ['parent', 'resourcePool', 'runtime.host',
                       'datastore'])
        datastore = vsphere_ops.ref_list(where['datastore'])[0]
        ds_name = self.entity_name(datastore)
        uuid = base.new_id()
        spec = specs.backing_config_spec(
            self.session.factory, 'instance-%s' % uuid[:8], uuid, 1, 'thin',
            'lsiLogic', ds_name, 256)
        spec.extraConfig = []
        ref = self.session.invoke_task(
            'CreateVM_Task', where['parent'], config=spec,
            pool=where['resourcePool'], host=where['runtime.host'])
        self.addCleanup(self.session.invoke_task, 'Destroy_Task', ref)
        return ref

    def assertGone(self, volume_id):
        self.assertIsNone(self.find(volume_id),
                          'backing of %s still exists' % volume_id)
