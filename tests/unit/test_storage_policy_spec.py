"""vmware:storage_profile: reading the extra spec; the clone spec (pure)."""

import testtools

from tests.unit import test_volume_types
from tests.unit import wsdl_factory
from vmware_backend import conf
from vmware_backend import exceptions
from vmware_backend.volume import volume_types
from vmware_backend.vsphere import ops as vsphere_ops
from vmware_backend.vsphere import specs
from vmware_backend.vsphere import storage_policies


class StoragePolicySpecTest(testtools.TestCase):

    def test_name_read_and_stripped(self):
        vol = test_volume_types.volume(specs={
            'vmware:storage_profile': ' Gold '})
        self.assertEqual('Gold', volume_types.storage_policy(vol))
        # A known key: the profile check accepts it.
        volume_types.profile(vol, conf.option_defaults())

    def test_absent(self):
        self.assertIsNone(volume_types.storage_policy(
            test_volume_types.volume(specs={'vmware:vmdk_type': 'thin'})))
        self.assertIsNone(volume_types.storage_policy(
            test_volume_types.volume()))

    def test_blank_refused_naming_the_spec(self):
        for value in ('', '  '):
            err = self.assertRaises(
                exceptions.InvalidExtraSpec, volume_types.storage_policy,
                test_volume_types.volume(specs={
                    'vmware:storage_profile': value}))
            self.assertIn("vmware:storage_profile=%r" % value, str(err))
            self.assertIn('the name of a VM storage policy', str(err))

    def test_near_miss_suggested(self):
        err = self.assertRaises(
            exceptions.UnknownExtraSpec, volume_types.profile,
            test_volume_types.volume(specs={'vmware:storage_policy': 'x'}),
            conf.option_defaults())
        self.assertIn('did you mean vmware:storage_profile?', str(err))


class CloneSpecPolicyTest(testtools.TestCase):
    """storage_policies.apply_to_clone, on the real vSphere types."""

    def setUp(self):
        super().setUp()
        self.factory = wsdl_factory.factory()
        self.ds = vsphere_ops.moref('Datastore', 'datastore-2')

    def test_full_clone_locator_gets_the_profile(self):
        locator = specs.disk_locator(self.factory, 2000, self.ds, 'thin')
        spec = specs.clone_spec(self.factory, 'volume-1', '1111',
                                specs.relocate_spec(
                                    self.factory, self.ds,
                                    disk_move_type=specs.FULL_MOVE_TYPE,
                                    disks=[locator]))
        storage_policies.apply_to_clone(self.factory, spec, 'p-1', 2000,
                                        self.ds)
        [home] = spec.location.profile
        self.assertEqual('VirtualMachineDefinedProfileSpec',
                         type(home).__name__)
        self.assertEqual('p-1', home.profileId)
        [disk] = spec.location.disk
        self.assertIs(locator, disk)
        self.assertEqual(['p-1'], [p.profileId for p in disk.profile])
        self.assertTrue(disk.diskBackingInfo.thinProvisioned)

    def test_linked_clone_gets_a_locator_keeping_the_move_type(self):
        spec = specs.clone_spec(self.factory, 'volume-1', '1111',
                                specs.relocate_spec(
                                    self.factory, self.ds,
                                    disk_move_type=specs.LINKED_MOVE_TYPE))
        storage_policies.apply_to_clone(self.factory, spec, 'p-2', 2001,
                                        self.ds)
        self.assertEqual(['p-2'],
                         [p.profileId for p in spec.location.profile])
        [disk] = spec.location.disk
        self.assertEqual(2001, disk.diskId)
        self.assertEqual(self.ds, disk.datastore)
        self.assertEqual('createNewChildDiskBacking', disk.diskMoveType)
        self.assertEqual(['p-2'], [p.profileId for p in disk.profile])
        self.assertIsNone(getattr(disk, 'diskBackingInfo', None))
