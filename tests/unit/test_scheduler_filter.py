"""The scheduler filter's rule, without Cinder (its path through Cinder's
scheduler is tests.openstack.test_extend_refusal)."""

import testtools

from vmware_backend.openstack import scheduler_filter
from vmware_backend.volume import driver


class RefusalTest(testtools.TestCase):

    def test_extend_of_a_volume_with_snapshots_on_vmdk_is_refused(self):
        self.assertEqual(
            'the volume has 2 snapshot(s) (snap-a, snap-b); vSphere cannot '
            'extend a disk with snapshots: delete them first',
            scheduler_filter.refusal('VMware', 'vmdk', 2,
                                     ['snap-b', 'snap-a']))

    def test_no_snapshots_passes(self):
        self.assertIsNone(scheduler_filter.refusal('VMware', 'vmdk', 2, []))

    def test_not_an_extend_passes(self):
        for new_size in (None, 0):
            self.assertIsNone(scheduler_filter.refusal(
                'VMware', 'vmdk', new_size, ['snap-a']))

    def test_other_backends_pass(self):
        for vendor, protocol in (('VMware', 'iSCSI'), ('Open Source', 'vmdk'),
                                 ('Open Source', 'iSCSI')):
            self.assertIsNone(scheduler_filter.refusal(
                vendor, protocol, 2, ['snap-a']))

    def test_the_identity_is_the_one_the_driver_reports(self):
        self.assertEqual(('VMware', 'vmdk'),
                         (scheduler_filter.VENDOR_NAME,
                          scheduler_filter.STORAGE_PROTOCOL))
        self.assertEqual((driver.VENDOR, driver.STORAGE_PROTOCOL),
                         ('VMware', 'vmdk'))
