"""Images through the Cinder driver, with Cinder's objects and call path.

A volume is made from an image the way the create flow does it
(``driver.create_volume`` then Cinder's ``volume_utils.
copy_image_to_volume``, which calls the driver), and uploaded the way
``VolumeManager.copy_volume_to_image`` calls the driver. Glance is the
image-service double of the functional tests (same calling contract as
``cinder.image.glance.GlanceImageService``); vCenter is the simulator, and
the disk's data is read back through its datastore file access.
"""

import types

from tests.functional import image_base as ib
from tests.openstack import test_cinder_driver as tcd

from cinder import exception as cinder_exception  # noqa: E402
from cinder.volume import volume_utils  # noqa: E402

RAW = ib.pattern(3 * ib.MIB)
WANT_4M = ib.sha(RAW + bytes(ib.MIB))


class CinderImagesTest(tcd.DriverTestCase):

    def setUp(self):
        super().setUp()
        self.type = self.objects.volume_type(**{
            'vmware:vmdk_type': 'thin', 'vmware:adapter_type': 'lsiLogic'})
        self.images = ib.ImageService()

    def from_image(self, image_id):
        volume = self.last = self.create(self.type)
        volume.encryption_key_id = None
        volume.status = 'downloading'
        meta = self.images.show(self.context, image_id)
        volume_utils.copy_image_to_volume(self.driver, self.context, volume,
                                          meta, None, self.images)
        volume.status = 'available'
        return volume

    def disk_data(self, volume):
        state = types.SimpleNamespace(disk=self.disk(self.state(volume.id)))
        return ib.read_disk(self.vcsim, state, 4 * ib.MIB)

    def test_volume_from_image_and_back(self):
        image_id = tcd.base.new_id()
        self.images.add(image_id, ib.make_image(RAW, 'qcow2'), 'qcow2')
        volume = self.from_image(image_id)
        data, total = self.disk_data(volume)
        self.assertEqual((WANT_4M, ib.GIB), (ib.sha(data), total))

        upload_id = self.images.queued('vmdk')
        volume.status = 'uploading'
        self.driver.copy_volume_to_image(
            self.context, volume, self.images,
            {'id': upload_id, 'disk_format': 'vmdk',
             'container_format': 'bare'})
        image = self.images.images[upload_id]
        self.assertEqual('streamOptimized',
                         image['meta']['properties']['vmware_disktype'])
        self.assertEqual('lsiLogic',
                         image['meta']['properties']['vmware_adaptertype'])
        raw = ib.to_raw(image['data'], 'vmdk')
        self.assertEqual(WANT_4M, ib.sha(raw[:4 * ib.MIB]))

    def test_refused_image_is_image_unacceptable(self):
        image_id = tcd.base.new_id()
        self.images.add(image_id, RAW, 'raw', vmware_adaptertype='scsi9')
        err = self.assertRaises(cinder_exception.ImageUnacceptable,
                                self.from_image, image_id)
        self.assertIn("vmware_adaptertype 'scsi9' is unknown", str(err))
        self.assertIsNotNone(self.find(self.last.id))  # untouched

    def test_broken_transfer_is_image_copy_failure(self):
        image_id = tcd.base.new_id()
        stream = ib.make_image(RAW, 'vmdk', 'streamOptimized')
        self.images.add(image_id, stream[:len(stream) // 2], 'vmdk',
                        vmware_disktype='streamOptimized')
        err = self.assertRaises(cinder_exception.ImageCopyFailure,
                                self.from_image, image_id)
        self.assertIn('HTTP 400', str(err))
        self.assertIsNone(self.find(self.last.id))
