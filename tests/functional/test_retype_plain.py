"""retype without move: the disk read as plain values first, on vcsim.

The disk is read back from vCenter after each retype; the SOAP calls are
counted by the session.
"""

from tests.functional import lifecycle_base as lb
from tests.functional import test_qos_paths
from vmware_backend import exceptions

MULTI = {'multiattach': '<is> True'}


class RetypePlainTest(lb.LifecycleTestCase):

    io = test_qos_paths.QosPathsTest.io
    disk = test_qos_paths.QosPathsTest.disk

    def retype(self, volume, new_type):
        counts = self.session.counts_snapshot()
        self.assertIs(True, self.driver.retype(None, volume, new_type, {},
                                               None))
        return dict(self.session.counts_snapshot() - counts)

    def test_same_allocation_is_one_read(self):
        volume = self.create(size=1, specs={'vmware:iops_limit': '900'})
        calls = self.retype(volume, {'extra_specs': {
            'vmware:iops_limit': '900', 'other': 'x'}})
        self.assertEqual({'RetrievePropertiesEx': 1}, calls)
        self.assertEqual((900, 0, 'normal'), self.io(volume.id))

    def test_other_allocation_is_read_again_and_set(self):
        volume = self.create(size=1, specs={'vmware:iops_limit': '900'})
        calls = self.retype(volume, {'extra_specs': {
            'vmware:iops_limit': '100', 'vmware:shares': '1500'}})
        # The plain read, the disk read again through suds (the one call
        # more of this path) and the reconfiguration's task read.
        self.assertEqual({'RetrievePropertiesEx': 3, 'ReconfigVM_Task': 1},
                         calls)
        self.assertEqual((100, 0, 'custom', 1500), self.io(volume.id))
        # Back to no QoS: vSphere's defaults, through the same path.
        calls = self.retype(volume, {'extra_specs': {}})
        self.assertEqual(1, calls.get('ReconfigVM_Task'))
        self.assertEqual((-1, 0, 'normal'), self.io(volume.id))
        # And now nothing to change: one read.
        self.assertEqual({'RetrievePropertiesEx': 1},
                         self.retype(volume, {'extra_specs': {}}))

    def test_missing_backing(self):
        volume = lb.make_volume(1, {'vmware:iops_limit': '900'})  # never made
        err = self.assertRaises(exceptions.BackingNotFound,
                                self.driver.retype, None, volume,
                                {'extra_specs': {}}, {}, None)
        self.assertIn(volume.id, str(err))

    def test_multi_writer_disk_its_type_does_not_ask_for(self):
        # The disk has the flag, the volume's type (as Cinder has it) not:
        # the plain read sees the flag, the disk becomes single-writer.
        volume = self.create(size=1, specs=MULTI)
        self.assertEqual('sharingMultiWriter',
                         self.disk(volume.id).backing.sharing)
        volume.volume_type.extra_specs = {
            'vmware:vmdk_type': 'eagerZeroedThick'}
        calls = self.retype(volume, {'extra_specs': {
            'vmware:vmdk_type': 'eagerZeroedThick'}})
        self.assertEqual(1, calls.get('ReconfigVM_Task'))
        self.assertEqual('sharingNone', self.disk(volume.id).backing.sharing)
