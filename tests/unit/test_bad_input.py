"""Bad input is refused with an error naming the value and the fix.

Sizes, volume ids, extra-spec keys, the port option and the start-up check
(issue 8, defect 9). Every refusal happens before any vCenter call.
"""

import testtools

from tests.unit import test_driver
from tests.unit import test_volume_types
from vmware_backend import conf
from vmware_backend import exceptions
from vmware_backend.volume import datastore
from vmware_backend.volume import plain_objects
from vmware_backend.volume import volume_types
from vmware_backend.vsphere import inventory

R = inventory.MoRef
MAX = volume_types.MAX_SIZE_GB


class SizeTest(testtools.TestCase):

    def test_non_finite_and_odd_sizes_are_invalid_volume(self):
        # NaN raised ValueError and inf OverflowError from int().
        for bad in (float('nan'), float('inf'), float('-inf'), -3, 0, 0.0,
                    True, False, '5', 'abc', b'1', 2 + 0j, [1], None):
            err = self.assertRaises(
                exceptions.InvalidVolume, volume_types.checked_size,
                test_volume_types.volume(bad))
            self.assertIn(repr(bad), str(err))
            self.assertIn('give a size from 1 to %d GiB' % MAX, str(err))

    def test_explicit_none_is_refused_not_the_current_size(self):
        # extend_volume(volume, None) used the volume's own size.
        err = self.assertRaises(exceptions.InvalidVolume,
                                volume_types.checked_size,
                                test_volume_types.volume(3), None)
        self.assertIn('size None', str(err))

    def test_limit_is_62_tib(self):
        self.assertEqual(63488, MAX)
        self.assertEqual(MAX, volume_types.checked_size(
            test_volume_types.volume(MAX)))
        for bad in (MAX + 1, 2 ** 40, float(2 ** 40)):
            err = self.assertRaises(exceptions.InvalidVolume,
                                    volume_types.checked_size,
                                    test_volume_types.volume(bad))
            self.assertIn('62 TiB', str(err))
            self.assertIn(repr(bad), str(err))

    def test_whole_floats_still_accepted(self):
        self.assertEqual(4, volume_types.checked_size(
            test_volume_types.volume(4.0)))


class VolumeIdTest(testtools.TestCase):

    def test_uuid_accepted(self):
        volume_id = '0f8fad5b-d9cb-469f-a165-70867728950e'
        self.assertEqual(volume_id, volume_types.checked_id(volume_id))

    def test_non_uuids_refused_with_the_value(self):
        for bad in ('', 'a/b', '../../etc', 'x' * 300, None, 42,
                    '0F8FAD5B-D9CB-469F-A165-70867728950E',
                    '{0f8fad5b-d9cb-469f-a165-70867728950e}',
                    '0f8fad5bd9cb469fa16570867728950e'):
            err = self.assertRaises(exceptions.InvalidVolume,
                                    volume_types.checked_id, bad)
            self.assertIn('is not a UUID', str(err))
            self.assertIn(repr(bad)[:40], str(err))

    def test_long_value_is_shortened_and_escaped(self):
        err = self.assertRaises(exceptions.InvalidVolume,
                                volume_types.checked_id, 'x' * 300)
        self.assertIn('(300 characters)', str(err))
        self.assertLess(len(str(err)), 300)
        err = self.assertRaises(exceptions.InvalidVolume,
                                volume_types.checked_id, 'a\nb\x00')
        self.assertIn("'a\\nb\\x00'", str(err))
        self.assertNotIn('\n', str(err))


class ExtraSpecKeyTest(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.options = conf.option_defaults()

    def test_unknown_vmware_key_names_key_and_suggests(self):
        vol = test_volume_types.volume(specs={'vmware:vmdk_typo': 'thin'})
        err = self.assertRaises(exceptions.UnknownExtraSpec,
                                volume_types.profile, vol, self.options)
        self.assertIsInstance(err, exceptions.InvalidExtraSpec)
        self.assertIn("'vmware:vmdk_typo'", str(err))
        self.assertIn('did you mean vmware:vmdk_type?', str(err))
        self.assertIn('vol-1', str(err))

    def test_far_off_key_lists_the_known_ones(self):
        vol = test_volume_types.volume(specs={'vmware:zzz': '1'})
        err = self.assertRaises(exceptions.UnknownExtraSpec,
                                volume_types.profile, vol, self.options)
        self.assertNotIn('did you mean', str(err))
        self.assertIn('vmware:adapter_type, vmware:clone_type, '
                      'vmware:iops_limit, vmware:iops_reservation, '
                      'vmware:shares, vmware:shares_level, '
                      'vmware:storage_profile, vmware:vmdk_type', str(err))

    def test_other_namespaces_are_ignored(self):
        vol = test_volume_types.volume(specs={
            'capabilities:storage_protocol': 'vmdk',
            'volume_backend_name': 'vmware-1', 'vmwarex:foo': 'bar',
            'vmware:clone_type': 'linked'})
        self.assertEqual('linked', volume_types.profile(
            vol, self.options).clone_type)


class PortOptionTest(testtools.TestCase):

    def test_port_zero_refused_naming_the_option(self):
        err = self.assertRaises(
            exceptions.InvalidConfiguration, conf.read_options,
            _config('[vmware]\nvcenter_port = 0\n'))
        self.assertIn('[vmware] vcenter_port', str(err))

    def test_port_one_accepted(self):
        self.assertEqual(1, conf.read_options(_config(
            '[vmware]\nvcenter_port = 1\n'))['vcenter_port'])


def _config(text):
    from tests.unit import test_conf
    return test_conf._conf(text)


class DriverRefusesBeforeAnyCallTest(test_driver.DriverTestBase):

    def assertNoCall(self):
        self.assertEqual([], self.ops.mock_calls)
        self.assertEqual([], self.placement.mock_calls)

    def test_bad_ids_refused_everywhere(self):
        for bad in ('', 'a/b', '../../etc', 'x' * 300):
            vol = plain_objects.volume()
            vol.id = bad
            for call in (lambda: self.driver.create_volume(vol),
                         lambda: self.driver.delete_volume(vol),
                         lambda: self.driver.extend_volume(vol, 2),
                         lambda: self.driver.create_snapshot(
                             plain_objects.snapshot(vol))):
                err = self.assertRaises(exceptions.InvalidVolume, call)
                self.assertIn(repr(bad)[:40], str(err))
            src = plain_objects.volume()
            self.assertRaises(exceptions.InvalidVolume,
                              self.driver.create_cloned_volume, vol, src)
        self.assertNoCall()

    def test_create_with_unknown_spec_key(self):
        vol = plain_objects.volume(specs={'vmware:vmdk_typo': 'thick'})
        err = self.assertRaises(exceptions.InvalidExtraSpec,
                                self.driver.create_volume, vol)
        self.assertIn('vmware:vmdk_type?', str(err))
        self.assertNoCall()

    def test_create_nan_inf_and_too_large(self):
        for size in (float('nan'), float('inf'), MAX + 1):
            self.assertRaises(exceptions.InvalidVolume,
                              self.driver.create_volume,
                              plain_objects.volume(size=size))
        self.assertNoCall()

    def test_extend_to_none_or_too_large_refused(self):
        vol = plain_objects.volume(size=1)
        self.add_backing(vol)
        self.ops.reset_mock()
        for size in (None, 2 ** 40, float('nan')):
            err = self.assertRaises(exceptions.InvalidVolume,
                                    self.driver.extend_volume, vol, size)
            self.assertIn(repr(size), str(err))
        self.assertNoCall()


class SetupCheckTest(test_driver.DriverTestBase):
    """check_for_setup_error fails instead of warning."""

    def inventory(self, clusters=('C1',)):
        return datastore.Inventory(
            datacenters={}, folders={}, hosts={}, datastores={},
            compute_resources={
                R('ClusterComputeResource', 'domain-c%d' % i):
                    {'name': name, 'host': []}
                for i, name in enumerate(clusters)})

    def setup(self, pools, cluster_names=(), rejected=None):
        self.driver.options['vcenter_cluster_names'] = list(cluster_names)
        self.placement.pools.return_value = pools
        self.placement.inventory.return_value = self.inventory()
        self.placement.rejected.return_value = rejected or {}

    def test_unknown_cluster_raises(self):
        self.setup([{'pool_name': 'p'}], cluster_names=['C1', 'Typo'])
        err = self.assertRaises(exceptions.BackendSetupError,
                                self.driver.check_for_setup_error)
        self.assertIn("'Typo'", str(err))
        self.assertIn('vcenter_cluster_names', str(err))
        self.assertIn('clusters found: C1', str(err))

    def test_no_usable_datastore_raises(self):
        self.setup([], rejected={'ds1': 'name does not match '
                                        'vcenter_datastore_regex'})
        err = self.assertRaises(exceptions.BackendSetupError,
                                self.driver.check_for_setup_error)
        self.assertIn('no usable datastore: ds1: name does not match',
                      str(err))
        self.assertIn('vcenter_datastore_regex', str(err))

    def test_fine_setup_passes_with_one_inventory_read(self):
        self.setup([{'pool_name': 'p'}], cluster_names=['C1'])
        self.driver.check_for_setup_error()
        self.placement.pools.assert_called_once_with(refresh=True)
        self.placement.inventory.assert_called_once_with()
