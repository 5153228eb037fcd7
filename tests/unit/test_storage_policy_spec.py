"""vmware:storage_profile: reading the extra spec (pure)."""

import testtools

from tests.unit import test_volume_types
from vmware_backend import conf
from vmware_backend import exceptions
from vmware_backend.volume import volume_types


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
