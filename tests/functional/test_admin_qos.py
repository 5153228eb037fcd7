"""QoS on the simulator: disk I/O allocation at create, datastore SIOC."""

import types

from tests.functional import base
from tests.functional import test_manage_cli
from vmware_backend.admin import qos as admin_qos
from vmware_backend import exceptions
from vmware_backend.volume import driver as vmware_driver
from vmware_backend.volume import plain_objects
from vmware_backend.vsphere import inventory
from vmware_backend.vsphere import ops


class QosTest(test_manage_cli.CliMixin, base.FunctionalTestCase):

    VCSIM_FLAGS = {'datastores': 3, 'ds-type': 'LocalDS_2=NFS41'}

    def setUp(self):
        super().setUp()
        self.driver = vmware_driver.VMwareVolumeDriver(self.options,
                                                       session=self.session)

    def disk_allocation(self, volume):
        ref = ops.VolumeOps(self.session).find_vm_by_instance_uuid(volume.id)
        props = self.session.get_properties(ref, ['config.hardware.device'])
        disk = [d for d in ops.devices_of(props)
                if type(d).__name__ == 'VirtualDisk'][0]
        return getattr(disk, 'storageIOAllocation', None)

    def test_qos_specs_reach_the_disk(self):
        volume = plain_objects.volume(1, {'vmware:iops_limit': '900'})
        volume.volume_type.qos_specs = types.SimpleNamespace(
            consumer='back-end',
            specs={'total_iops_sec': '500', 'vmware:shares': '1500',
                   'vmware:iops_reservation': '50'})
        self.driver.create_volume(volume)
        self.addCleanup(self.driver.delete_volume, volume)
        info = self.disk_allocation(volume)
        self.assertEqual((500, 50, 'custom', 1500),
                         (info.limit, info.reservation, info.shares.level,
                          info.shares.shares))
        read = admin_qos.volume_allocation(self.session, volume.id)
        self.assertEqual((500, 50, 'custom', 1500),
                         (read.limit_iops, read.reservation_iops,
                          read.shares_level, read.shares))
        stats = self.driver.get_volume_stats(refresh=True)
        self.assertTrue(all(p['QoS_support'] for p in stats['pools']))

    def test_bad_qos_creates_nothing(self):
        volume = plain_objects.volume(1, {'vmware:shares_level': 'max'})
        err = self.assertRaises(exceptions.InvalidExtraSpec,
                                self.driver.create_volume, volume)
        self.assertIn('vmware:shares_level', str(err))
        self.assertIsNone(ops.VolumeOps(self.session)
                          .find_vm_by_instance_uuid(volume.id))

    def test_sioc_configure_and_refusals(self):
        name, ident, _type, before = admin_qos.sioc(self.session,
                                                    'LocalDS_0')
        self.assertFalse(before.enabled)
        _n, _i, _t, after = admin_qos.configure_sioc(
            self.session, 'LocalDS_0', enabled=True, mode='manual',
            threshold_ms=40, stats=True)
        iorm = inventory.get_properties(
            self.session, inventory.MoRef('Datastore', ident),
            ['iormConfiguration'])['iormConfiguration']
        self.assertEqual((True, 'manual', 40, 90, True), (
            iorm['enabled'], iorm['congestionThresholdMode'],
            iorm['congestionThreshold'], iorm['percentOfPeakThroughput'],
            iorm['statsCollectionEnabled']))
        self.assertTrue(after.enabled)
        for kwargs, text in [({'threshold_ms': 4}, '5 to 100'),
                             ({'percent': 101}, '50 to 100'),
                             ({'mode': 'fast'}, 'automatic or manual'),
                             ({}, 'at least one setting')]:
            err = self.assertRaises(exceptions.InvalidAdminInput,
                                    admin_qos.configure_sioc, self.session,
                                    'LocalDS_0', **kwargs)
            self.assertIn(text, str(err))
        err = self.assertRaises(exceptions.AdminRefused,
                                admin_qos.configure_sioc, self.session,
                                'LocalDS_2', enabled=True)
        self.assertIn('this one is NFS41', str(err))
        # vCenter (the test bed) checks the ranges itself too.
        spec = self.session.factory.create('ns0:StorageIORMConfigSpec')
        spec.congestionThreshold = 200
        err = self.assertRaises(
            exceptions.VCenterFault, self.session.invoke_task,
            'ConfigureDatastoreIORM_Task',
            self.session.service_content.storageResourceManager,
            datastore=inventory.to_suds(inventory.MoRef('Datastore', ident)),
            spec=spec)
        self.assertEqual('InvalidArgument', err.fault)

    def test_cli(self):
        config = self.ini(self.vcsim)
        proc = self.cli('sioc-set', 'LocalDS_1', '--enable', '--percent',
                        '70', '--dry-run', config=config)
        self.assertExit(0, proc)
        self.assertIn('DRY RUN', proc.stdout)
        proc = self.cli('--format', 'json', 'sioc-set', 'LocalDS_1',
                        '--enable', '--percent', '70', '--yes',
                        config=config)
        self.assertExit(0, proc)
        self.assertEqual(70, self.json_of(proc)['sioc'][
            'percent_of_peak_throughput'])
        proc = self.cli('--format', 'json', 'sioc', 'LocalDS_1',
                        config=config)
        self.assertTrue(self.json_of(proc)['sioc']['enabled'])
        proc = self.cli('sioc-set', 'LocalDS_1', '--threshold-ms', '2',
                        '--yes', config=config)
        self.assertExit(2, proc)
        self.assertIn('vSphere accepts 5 to 100', proc.stderr)
        volume = plain_objects.volume(1, {'vmware:iops_limit': '250'})
        self.driver.create_volume(volume)
        self.addCleanup(self.driver.delete_volume, volume)
        proc = self.cli('qos', volume.id, config=config)
        self.assertExit(0, proc)
        self.assertIn('IOPS limit:', proc.stdout)
        self.assertIn('250', proc.stdout)
