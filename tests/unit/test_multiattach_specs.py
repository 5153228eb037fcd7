"""Multi-writer sharing in the specs, and a disk's format from its backing."""

import types

import testtools

from tests.unit import wsdl_factory
from vmware_backend.volume import retype
from vmware_backend.vsphere import specs


def backing(**attrs):
    return types.SimpleNamespace(backing=types.SimpleNamespace(**attrs))


class SharingSpecTest(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.factory = wsdl_factory.factory()

    def new_disk(self, multiattach):
        spec = specs.backing_config_spec(
            self.factory, 'volume-x', '0f8fad5b-d9cb-469f-a165-70867728950e',
            1, 'eagerZeroedThick', 'lsiLogic', 'ds1', 128,
            multiattach=multiattach)
        [disk] = [c.device for c in spec.deviceChange
                  if type(c.device).__name__ == 'VirtualDisk']
        return disk.backing

    def test_new_disk(self):
        shared = self.new_disk(True)
        self.assertEqual('sharingMultiWriter', shared.sharing)
        self.assertTrue(shared.eagerlyScrub)
        self.assertFalse(shared.thinProvisioned)
        # Not set at all otherwise (as before vSphere 6.0: no sharing).
        self.assertIsNone(getattr(self.new_disk(False), 'sharing', None))

    def test_attach_disk(self):
        for multiattach, wanted in ((True, 'sharingMultiWriter'),
                                    (False, None)):
            spec = specs.attach_disk_spec(
                self.factory, '[ds1] v/v.vmdk', 1000, 1, 'vol-1',
                disk_uuid='u-1', multiattach=multiattach)
            disk = spec.deviceChange[0].device
            self.assertEqual(wanted, getattr(disk.backing, 'sharing', None))
            self.assertEqual('independent_persistent',
                             disk.backing.diskMode)

    def test_sharing_edit(self):
        disk = specs.create(self.factory, 'VirtualDisk', key=2000,
                            backing=specs.create(
                                self.factory,
                                'VirtualDiskFlatVer2BackingInfo',
                                fileName='[ds1] v/v.vmdk',
                                diskMode='persistent'))
        spec = specs.disk_sharing_spec(self.factory, disk,
                                       'sharingMultiWriter')
        [change] = spec.deviceChange
        self.assertEqual('edit', change.operation)
        self.assertIsNone(getattr(change, 'fileOperation', None))
        self.assertEqual(2000, change.device.key)
        self.assertEqual('sharingMultiWriter', change.device.backing.sharing)
        self.assertEqual('[ds1] v/v.vmdk', change.device.backing.fileName)

    def test_sharing_of(self):
        self.assertEqual('sharingNone', specs.sharing_of(backing()))
        self.assertEqual('sharingNone',
                         specs.sharing_of(backing(sharing=None)))
        self.assertEqual('sharingMultiWriter', specs.sharing_of(
            backing(sharing='sharingMultiWriter')))
        self.assertEqual('sharingMultiWriter', specs.sharing(True))
        self.assertEqual('sharingNone', specs.sharing(False))


class DiskFormatTest(testtools.TestCase):

    def test_formats(self):
        self.assertEqual('thin', retype.disk_format(backing(
            thinProvisioned=True, eagerlyScrub=False)))
        self.assertEqual('thick', retype.disk_format(backing(
            thinProvisioned=False, eagerlyScrub=False)))
        self.assertEqual('thick', retype.disk_format(backing(
            thinProvisioned=False)))
        self.assertEqual('eagerZeroedThick', retype.disk_format(backing(
            thinProvisioned=False, eagerlyScrub=True)))
