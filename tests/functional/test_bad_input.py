"""Bad input on the simulator: refused before vCenter is asked anything.

And the start-up check (``check_for_setup_error``) fails, rather than
warns, for a configured cluster that does not exist and for a datastore
regex that matches nothing (issue 8, defect 9).
"""

from tests.functional import base
from vmware_backend import exceptions
from vmware_backend.volume import driver as vmware_driver
from vmware_backend.volume import plain_objects
from vmware_backend.vsphere import inventory


class SetupCheckTest(base.FunctionalTestCase):

    def driver(self, **overrides):
        options = dict(self.options, **overrides)
        return vmware_driver.VMwareVolumeDriver(options, session=self.session)

    def test_default_configuration_passes(self):
        self.driver().check_for_setup_error()

    def test_unknown_cluster_fails(self):
        drv = self.driver(vcenter_cluster_names=['DC0_C0', 'NoSuchCluster'])
        err = self.assertRaises(exceptions.BackendSetupError,
                                drv.check_for_setup_error)
        self.assertIn("cluster(s) 'NoSuchCluster' named in "
                      "vcenter_cluster_names do not exist in vCenter "
                      "(clusters found: DC0_C0)", str(err))
        self.assertIn('Fix: correct vcenter_cluster_names', str(err))

    def test_datastore_regex_matching_nothing_fails(self):
        drv = self.driver(vcenter_datastore_regex='^NoSuchDatastore$')
        err = self.assertRaises(exceptions.BackendSetupError,
                                drv.check_for_setup_error)
        self.assertIn('no usable datastore: LocalDS_0: ', str(err))
        self.assertIn('LocalDS_1: ', str(err))
        self.assertIn('vcenter_datastore_regex', str(err))


class BadIdsTest(base.FunctionalTestCase):

    def vm_names(self):
        return sorted(props.get('name') for _ref, props in
                      inventory.read_container(
                          self.session, {'VirtualMachine': ['name']}))

    def test_bad_ids_send_nothing_and_leave_nothing(self):
        drv = vmware_driver.VMwareVolumeDriver(self.options,
                                               session=self.session)
        before = self.vm_names()
        calls = self.session.counts_snapshot()
        for bad in ('', 'a/b', '../../etc', 'x' * 300):
            volume = plain_objects.volume()
            volume.id = bad
            volume.name = 'volume-%s' % bad
            err = self.assertRaises(exceptions.InvalidVolume,
                                    drv.create_volume, volume)
            self.assertIn('is not a UUID', str(err))
            self.assertRaises(exceptions.InvalidVolume, drv.delete_volume,
                              volume)
        self.assertEqual(calls, self.session.counts_snapshot())
        self.assertEqual(before, self.vm_names())

    def test_bad_sizes_send_nothing(self):
        drv, volume = self.driver_and_volume()
        calls = self.session.counts_snapshot()
        for size in (None, float('nan'), float('inf'), 2 ** 40):
            err = self.assertRaises(exceptions.InvalidVolume,
                                    drv.extend_volume, volume, size)
            self.assertIn(repr(size), str(err))
        self.assertRaises(exceptions.InvalidVolume, drv.create_volume,
                          plain_objects.volume(float('nan')))
        self.assertEqual(calls, self.session.counts_snapshot())
