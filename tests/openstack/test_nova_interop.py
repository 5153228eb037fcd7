"""Nova's vmwareapi volume code attaching volumes made by our driver.

Nova 34's ``nova.virt.vmwareapi.volumeops.VMwareVolumeOps`` attaches and
detaches volumes of connection type ``vmdk`` to an instance VM; the test
gives it what our driver's ``initialize_connection`` returns and then reads
the instance's devices back through the property collector.

The process is prepared as nova-compute prepares it (``nova/cmd/compute.py``
line 19: ``monkey_patch.patch(backend='threading')``). Nova's code runs
unmodified from ``VMwareVolumeOps`` down (``vm_util``, ``session``,
oslo.vmware); what was replaced or left out of Nova's code path, and why:

* **The compute driver.** ``VMwareVCDriver`` is not constructed: its
  ``__init__`` needs ``[vmware] host_ip``/``cluster_name`` configuration,
  the compute manager's ``virtapi`` and registers a vCenter extension. Its
  ``attach_volume``/``detach_volume``/``get_volume_connector``
  (``nova/virt/vmwareapi/driver.py`` lines 552-566) only delegate to
  ``VMwareVolumeOps``, which is called directly with the cluster the driver
  would pass (``vm_util.get_cluster_ref_by_name``).
* **The session's WSDL.** ``nova.virt.vmwareapi.session.VMwareAPISession``
  takes no WSDL location (vCenter serves ``/sdk/vimService.wsdl``; the
  simulator serves none) and logs in from its constructor. A subclass sets
  oslo.vmware's ``_vim_wsdl_loc`` in ``_create_session`` before the login;
  the ``http`` scheme is its ordinary ``scheme`` argument.
* **The instance.** A real ``nova.objects.Instance`` built without a
  database, with the fields Nova reads here: ``uuid`` (the VM is found by
  ``FindAllByUuid`` on its instanceUuid, ``vm_util.get_vm_ref``), ``id``
  (``instance.name``, logged by ``attach_disk_to_vm``), ``vcpus`` and
  ``memory_mb`` (the VM's create spec).
* **The instance VM.** Built with Nova's own ``vm_util.get_vm_create_spec``
  and ``vm_util.create_vm`` (what ``VMwareVMOps.build_virtual_machine``
  does) on the datastore ``ds_util.get_datastore`` picks, in the cluster's
  root resource pool; the image part of ``VMwareVMOps.spawn`` (Glance,
  image cache, root disk) is left out: attaching needs only the VM.
* **Cinder.** It cannot share the process with Nova (see
  ``tests/openstack/__init__.py``), so volumes are made by the core
  ``VMwareVolumeDriver`` with plain volume objects. The connector is the one
  ``VMwareVolumeOps.get_volume_connector`` builds and the connection info
  is what ``initialize_connection`` returns, plus the ``serial`` key Nova's
  ``DriverVolumeBlockDevice`` adds.
"""

import types

from tests import openstack

openstack.load_nova()  # before the imports below, as nova-compute does

import nova.conf  # noqa: E402
from nova import objects as nova_objects  # noqa: E402
from nova.virt.vmwareapi import ds_util  # noqa: E402
from nova.virt.vmwareapi import session as nova_session  # noqa: E402
from nova.virt.vmwareapi import vm_util as nova_vm_util  # noqa: E402
from nova.virt.vmwareapi import volumeops as nova_volumeops  # noqa: E402

from tests.functional import base  # noqa: E402
from vmware_backend.volume import driver as core_driver  # noqa: E402
from vmware_backend.vsphere import ops as vsphere_ops  # noqa: E402

CONF = nova.conf.CONF
CLUSTER = 'DC0_C0'
CONTROLLER_CLASSES = {
    'lsiLogic': 'VirtualLsiLogicController',
    'busLogic': 'VirtualBusLogicController',
    'lsiLogicsas': 'VirtualLsiLogicSASController',
    'paraVirtual': 'ParaVirtualSCSIController',
}


class SimulatorSession(nova_session.VMwareAPISession):
    """Nova's session, given the WSDL the simulator does not serve."""

    def __init__(self, wsdl_loc, **kwargs):
        self._simulator_wsdl = wsdl_loc
        super().__init__(**kwargs)

    def _create_session(self):
        self._vim_wsdl_loc = self._simulator_wsdl
        super()._create_session()


class NovaInteropTest(base.FunctionalTestCase):

    def setUp(self):
        super().setUp()
        CONF.set_override('task_poll_interval', 0.1, group='vmware')
        self.addCleanup(CONF.clear_override, 'task_poll_interval',
                        group='vmware')
        self.driver = core_driver.VMwareVolumeDriver(self.options,
                                                     session=self.session)
        self.driver.do_setup()
        self.nova = SimulatorSession(
            'file://' + self.vcsim.wsdl, host_ip='127.0.0.1',
            host_port=self.vcsim.port, username=self.vcsim.username,
            password=self.vcsim.password, scheme='http')
        self.addCleanup(self.nova.logout)
        self.cluster = nova_vm_util.get_cluster_ref_by_name(self.nova,
                                                            CLUSTER)
        self.volumeops = nova_volumeops.VMwareVolumeOps(self.nova,
                                                        self.cluster)

    # Nova side -------------------------------------------------------------

    def make_instance(self):
        """An instance and its VM, made with Nova's vm_util."""
        instance = nova_objects.Instance(
            uuid=base.new_id(), id=4242, vcpus=1, memory_mb=256,
            display_name='interop')
        datastore = ds_util.get_datastore(self.nova, self.cluster)
        dc_info = ds_util.get_dc_info(self.nova, datastore.ref)
        spec = nova_vm_util.get_vm_create_spec(
            self.nova.vim.client.factory, instance, datastore.name, [],
            nova_vm_util.ExtraSpecs())
        vm_ref = nova_vm_util.create_vm(
            self.nova, instance, dc_info.vmFolder, spec,
            nova_vm_util.get_res_pool_ref(self.nova, self.cluster))
        self.addCleanup(nova_vm_util.vm_ref_cache_delete, instance.uuid)
        self.addCleanup(nova_vm_util.destroy_vm, self.nova, instance, vm_ref)
        return instance, vm_ref

    # Cinder side (our driver) ------------------------------------------------

    def make_volume(self, adapter_type='lsiLogic', size=1):
        volume_id = base.new_id()
        volume = types.SimpleNamespace(
            id=volume_id, name='volume-%s' % volume_id, size=size,
            status='creating', host=None,
            volume_type=types.SimpleNamespace(extra_specs={
                'vmware:adapter_type': adapter_type,
                'vmware:vmdk_type': 'thin'}))
        self.driver.create_volume(volume)
        volume.status = 'available'
        self.addCleanup(self._delete_volume, volume)
        return volume

    def _delete_volume(self, volume):
        volume.status = 'deleting'
        self.driver.delete_volume(volume)

    def connect(self, volume, instance):
        """Connector and connection info, as Nova and Cinder build them."""
        connector = self.volumeops.get_volume_connector(instance)
        volume.status = 'attaching'
        info = self.driver.initialize_connection(volume, connector)
        info['serial'] = volume.id
        return connector, info

    # Reading vCenter back -----------------------------------------------

    def vm_state(self, ref):
        props = self.session.get_properties(
            ref, ('config.hardware.device', 'config.extraConfig'))
        return (vsphere_ops.devices_of(props),
                vsphere_ops.extra_config_dict(props))

    def backing_disk(self, volume):
        ref = self.session.invoke(
            'FindAllByUuid', self.session.service_content.searchIndex,
            uuid=volume.id, vmSearch=True, instanceUuid=True)[0]
        devices, _extra = self.vm_state(ref)
        disks = [d for d in devices if type(d).__name__ == 'VirtualDisk']
        self.assertEqual(1, len(disks), disks)
        return ref, disks[0]

    @staticmethod
    def disks_of(devices):
        return [d for d in devices if type(d).__name__ == 'VirtualDisk']

    # Tests -----------------------------------------------------------------

    def _attach_detach(self, adapter_type, stale_moref=False):
        instance, vm_ref = self.make_instance()
        volume = self.make_volume(adapter_type)
        backing_ref, backing_disk = self.backing_disk(volume)

        connector, info = self.connect(volume, instance)
        self.assertEqual(vsphere_ops.moref_value(vm_ref),
                         connector['instance'])
        self.assertEqual('vmdk', info['driver_volume_type'])
        self.assertEqual(vsphere_ops.moref_value(backing_ref),
                         info['data']['volume'])
        if stale_moref:
            # A moref gone stale since Cinder handed it out: Nova finds
            # the backing again by FindAllByUuid(volume_id, instanceUuid).
            info['data']['volume'] = 'vm-999999'

        self.volumeops.attach_volume(info, instance)
        volume.status = 'in-use'

        devices, extra = self.vm_state(vm_ref)
        disks = self.disks_of(devices)
        self.assertEqual(1, len(disks), disks)
        attached = disks[0]
        self.assertEqual(backing_disk.backing.fileName,
                         attached.backing.fileName)
        self.assertEqual(backing_disk.backing.uuid, attached.backing.uuid)
        controller = [d for d in devices
                      if d.key == attached.controllerKey][0]
        self.assertEqual(CONTROLLER_CLASSES[adapter_type],
                         type(controller).__name__)
        self.assertEqual(backing_disk.backing.uuid,
                         extra.get('volume-%s' % volume.id))

        volume.status = 'detaching'
        self.volumeops.detach_volume(info, instance)
        self.driver.terminate_connection(volume, connector)
        volume.status = 'available'

        devices, extra = self.vm_state(vm_ref)
        self.assertEqual([], self.disks_of(devices))
        self.assertNotIn('volume-%s' % volume.id, extra)
        # The volume keeps its disk.
        _ref, after = self.backing_disk(volume)
        self.assertEqual(backing_disk.backing.fileName,
                         after.backing.fileName)
        self.assertEqual(backing_disk.backing.uuid, after.backing.uuid)

    def test_attach_detach_lsilogic(self):
        self._attach_detach('lsiLogic')

    def test_attach_detach_paravirtual(self):
        self._attach_detach('paraVirtual')

    def test_attach_with_stale_volume_moref(self):
        self._attach_detach('lsiLogic', stale_moref=True)

    def test_front_end_qos_in_connection_info(self):
        """QoS specs for the front end travel to Nova in connection_info.

        Nova 34's vmwareapi does NOT apply them: ``_attach_volume_vmdk``
        (``nova/virt/vmwareapi/volumeops.py``) calls ``attach_disk_to_vm``
        without ``disk_io_limits`` (only a flavor's ``quota:disk_io_*`` at
        spawn sets them), so the instance's disk keeps vSphere's defaults;
        this test pins that fact, which the README states. This driver's
        own instance-side attach applies them, read back on the same VM.
        """
        instance, vm_ref = self.make_instance()
        volume = self.make_volume()
        volume.volume_type.qos_specs = types.SimpleNamespace(
            consumer='front-end',
            specs={'total_iops_sec': '500', 'vmware:shares': '1500'})
        _connector, info = self.connect(volume, instance)
        self.assertEqual({'total_iops_sec': '500', 'vmware:shares': '1500'},
                         info['data']['qos_specs'])

        self.volumeops.attach_volume(info, instance)
        [disk] = self.disks_of(self.vm_state(vm_ref)[0])
        io = getattr(disk, 'storageIOAllocation', None)
        self.assertIn(getattr(io, 'limit', None), (None, -1))
        self.volumeops.detach_volume(info, instance)
        self.assertEqual([], self.disks_of(self.vm_state(vm_ref)[0]))

        self.driver.attach_volume(vm_ref, volume)
        [disk] = self.disks_of(self.vm_state(vm_ref)[0])
        io = disk.storageIOAllocation
        self.assertEqual((500, 'custom', 1500),
                         (io.limit, str(io.shares.level), io.shares.shares))
        # The backing's own disk is the back end's: no back-end QoS here.
        _ref, backing = self.backing_disk(volume)
        self.assertIn(getattr(getattr(backing, 'storageIOAllocation', None),
                              'limit', None), (None, -1))
        self.driver.detach_volume(vm_ref, volume)
        volume.status = 'available'

    def test_no_qos_specs_without_front_end_consumer(self):
        instance, _vm_ref = self.make_instance()
        volume = self.make_volume()
        volume.volume_type.qos_specs = types.SimpleNamespace(
            consumer='back-end', specs={'total_iops_sec': '500'})
        _connector, info = self.connect(volume, instance)
        self.assertIsNone(info['data']['qos_specs'])
