"""Volumes from images and images from volumes, on vcsim.

The disk's data is read back through the simulator's datastore file access
and checksummed; exported images are read by qemu-img.
"""

import os
import time
import types

from tests.functional import base
from tests.functional import image_base as ib
from tests.functional import lifecycle_base
from vmware_backend import exceptions

RAW = ib.pattern(3 * ib.MIB)
# The disk's first 4 MiB after an import of RAW: RAW, then zeros.
WANT_4M = ib.sha(RAW + bytes(ib.MIB))


class ImageToVolumeTest(lifecycle_base.LifecycleTestCase):

    def setUp(self):
        super().setUp()
        self.images = ib.ImageService()

    def _folder(self):
        return self.session.invoke(
            'FindByInventoryPath', self.session.service_content.searchIndex,
            inventoryPath='DC0/vm/OpenStack/Volumes')

    def _import(self, data, disk_format, **props):
        image_id = base.new_id()
        self.images.add(image_id, data, disk_format, **props)
        volume = self.create(1, {'vmware:adapter_type': 'lsiLogic'})
        self.driver.copy_image_to_volume(None, volume, self.images,
                                         image_id)
        return volume

    def assertDiskHolds(self, volume, adapter='VirtualLsiLogicController'):
        state = self.state(volume.id)
        self.assertEqual(1024 * 1024, state.disk.capacityInKB)
        self.assertEqual(adapter,
                         type(state.controller(state.disk)).__name__)
        data, total = ib.read_disk(self.vcsim, state, 4 * ib.MIB)
        self.assertEqual(ib.GIB, total)
        self.assertEqual(WANT_4M, ib.sha(data))
        return state

    def test_stream_optimized_vmdk_is_streamed(self):
        volume = self._import(
            ib.make_image(RAW, 'vmdk', 'streamOptimized'), 'vmdk',
            vmware_disktype='streamOptimized',
            vmware_adaptertype='paraVirtual')
        state = self.assertDiskHolds(volume, 'ParaVirtualSCSIController')
        self.assertEqual(volume.id, state.props['config.instanceUuid'])
        self.assertEqual('volume-%s' % volume.id, state.props['name'])

    def test_incompressible_raw_image(self):
        # qemu-img's streamOptimized conversion of incompressible data ends
        # right after its last grain, with no end-of-stream marker (shown
        # below); the driver adds it to the file it converted.
        raw = os.urandom(ib.MIB)
        stream = ib.make_image(raw, 'vmdk', 'streamOptimized')
        self.assertNotEqual(bytes(512), stream[-512:])
        volume = self._import(raw, 'raw')
        state = self.state(volume.id)
        data, total = ib.read_disk(self.vcsim, state, 2 * ib.MIB)
        self.assertEqual(ib.sha(raw + bytes(ib.MIB)), ib.sha(data))

    def test_raw_image(self):
        self.assertDiskHolds(self._import(RAW, 'raw'))

    def test_qcow2_image(self):
        self.assertDiskHolds(self._import(ib.make_image(RAW, 'qcow2'),
                                          'qcow2'))

    def test_sparse_vmdk(self):
        self.assertDiskHolds(self._import(
            ib.make_image(RAW, 'vmdk', 'monolithicSparse'), 'vmdk',
            vmware_disktype='sparse'))

    def test_preallocated_vmdk(self):
        self.assertDiskHolds(self._import(RAW, 'vmdk',
                                          vmware_disktype='preallocated'))

    # Refusals: named value, the volume's backing untouched -------------

    def _refused(self, data, disk_format, meta_size=None, **props):
        image_id = base.new_id()
        self.images.add(image_id, data, disk_format, **props)
        if meta_size is not None:
            self.images.images[image_id]['meta']['size'] = meta_size
        volume = self.create(1)
        before = self.state(volume.id).ref
        err = self.assertRaises(
            (exceptions.InvalidImage, exceptions.ImageTransferError),
            self.driver.copy_image_to_volume, None, volume, self.images,
            image_id)
        self.assertEqual(before.value, self.state(volume.id).ref.value)
        return str(err)

    def test_bad_disk_format_named(self):
        msg = self._refused(RAW, 'iso')
        self.assertIn("disk_format 'iso' is not supported", msg)

    def test_unknown_adapter_named(self):
        msg = self._refused(RAW, 'raw', vmware_adaptertype='scsiFoo')
        self.assertIn("vmware_adaptertype 'scsiFoo' is unknown", msg)

    def test_bad_vmdk_disktype_named(self):
        msg = self._refused(RAW, 'vmdk', vmware_disktype='thin')
        self.assertIn("vmware_disktype 'thin' is not supported", msg)

    def test_not_a_stream_named(self):
        msg = self._refused(RAW, 'vmdk', vmware_disktype='streamOptimized')
        self.assertIn('not a sparse VMDK (no KDMV header)', msg)

    def test_image_larger_than_volume(self):
        msg = self._refused(ib.make_image(RAW, 'qcow2',
                                          virtual_size=2 * ib.GIB),
                            'qcow2')
        self.assertIn('its virtual size (2147483648 bytes) is larger than '
                      'the volume (1 GiB); make the volume at least 2 GiB',
                      msg)

    def test_not_enough_space(self):
        # The image service says 100 PiB: refused before any download.
        msg = self._refused(RAW, 'qcow2', meta_size=100 * 1024 ** 5)
        self.assertIn('not enough space in', msg)
        self.assertIn('225179981368524800 bytes needed', msg)
        self.assertEqual(0, self.images.downloads)

    # Broken transfers: lease aborted, no backing left ------------------

    def _broken(self, chunks, error, size=None):
        image_id = base.new_id()
        self.images.add(image_id, b'', 'vmdk',
                        vmware_disktype='streamOptimized')
        self.images.images[image_id]['meta']['size'] = size
        self.images.chunks = lambda _id: chunks
        volume = self.create(1)
        err = self.assertRaises(error, self.driver.copy_image_to_volume,
                                None, volume, self.images, image_id)
        self.assertGone(volume.id)
        self.assertNotIn(volume.name, ib.vm_names_in(self.session,
                                                     self._folder()))
        return str(err)

    def test_download_breaking_midway_leaves_no_backing(self):
        stream = ib.make_image(RAW, 'vmdk', 'streamOptimized')

        def chunks():
            yield stream[:len(stream) // 2]
            raise IOError('image service connection reset (injected)')

        msg = self._broken(chunks(), exceptions.ImageTransferError)
        self.assertIn('connection reset (injected)', msg)

    def test_image_shorter_than_its_size_leaves_no_backing(self):
        stream = ib.make_image(RAW, 'vmdk', 'streamOptimized')
        half = len(stream) // 2
        msg = self._broken(iter([stream[:half]]),
                           exceptions.ImageTransferError, size=len(stream))
        self.assertIn('the source ended after %d of its %d bytes'
                      % (half, len(stream)), msg)

    def test_truncated_stream_leaves_no_backing(self):
        stream = ib.make_image(RAW, 'vmdk', 'streamOptimized')
        msg = self._broken(iter([stream[:len(stream) // 2]]),
                           exceptions.ImageTransferError)
        self.assertIn('vCenter answered the upload with HTTP 400', msg)
        self.assertIn('stream ended', msg)


class VolumeToImageTest(lifecycle_base.LifecycleTestCase):

    def setUp(self):
        super().setUp()
        self.images = ib.ImageService()
        image_id = base.new_id()
        self.images.add(image_id, RAW, 'raw')
        self.volume = self.create(1, {'vmware:adapter_type': 'busLogic'})
        self.driver.copy_image_to_volume(None, self.volume, self.images,
                                         image_id)

    def _upload(self, disk_format):
        image_id = self.images.queued(disk_format)
        self.driver.copy_volume_to_image(
            None, self.volume, self.images,
            {'id': image_id, 'disk_format': disk_format,
             'container_format': 'bare'})
        return self.images.images[image_id]

    def _check_disk_unchanged(self):
        data, total = ib.read_disk(self.vcsim, self.state(self.volume.id),
                                   4 * ib.MIB)
        self.assertEqual((WANT_4M, ib.GIB), (ib.sha(data), total))

    def test_vmdk_upload_is_stream_optimized(self):
        image = self._upload('vmdk')
        self.assertEqual('vmdk', image['meta']['disk_format'])
        self.assertEqual({'vmware_disktype': 'streamOptimized',
                          'vmware_adaptertype': 'busLogic',
                          'vmware_image_version': '1',
                          'from_api': 'kept'},
                         image['meta']['properties'])
        self.assertEqual({'purge_props': False, 'store_id': None,
                          'base_image_ref': None},
                         self.images.update_kwargs)
        self.assertEqual(b'KDMV', image['data'][:4])
        self.assertLess(len(image['data']), 200 * 1024)
        raw = ib.to_raw(image['data'], 'vmdk')
        self.assertEqual(ib.GIB, len(raw))
        self.assertEqual(WANT_4M, ib.sha(raw[:4 * ib.MIB]))
        self.assertEqual(bytes(16), raw[ib.GIB - 16:])
        self._check_disk_unchanged()

    def test_qcow2_upload(self):
        # (raw takes the same path; a 1 GiB raw image is slow to compare)
        for fmt in ('qcow2',):
            image = self._upload(fmt)
            self.assertEqual(fmt, image['meta']['disk_format'])
            self.assertEqual({'vmware_adaptertype': 'busLogic',
                              'from_api': 'kept'},
                             image['meta']['properties'])
            raw = ib.to_raw(image['data'], fmt)
            self.assertEqual(WANT_4M, ib.sha(raw[:4 * ib.MIB]))
        self._check_disk_unchanged()

    def test_round_trip_through_an_image(self):
        image = self._upload('vmdk')
        image_id = base.new_id()
        self.images.add(image_id, image['data'], 'vmdk',
                        **image['meta']['properties'])
        copy = self.create(1)
        self.driver.copy_image_to_volume(None, copy, self.images, image_id)
        state = self.state(copy.id)
        self.assertEqual('VirtualBusLogicController',
                         type(state.controller(state.disk)).__name__)
        data, _total = ib.read_disk(self.vcsim, state, 4 * ib.MIB)
        self.assertEqual(WANT_4M, ib.sha(data))

    def test_bad_disk_format_named(self):
        err = self.assertRaises(exceptions.InvalidImage, self._upload,
                                'vhdx')
        self.assertIn("disk_format 'vhdx' is not supported", str(err))

    def test_attached_volume_refused(self):
        attached = types.SimpleNamespace(**dict(vars(self.volume),
                                                status='in-use'))
        err = self.assertRaises(
            exceptions.VolumeIsBusy, self.driver.copy_volume_to_image, None,
            attached, self.images, {'id': base.new_id(),
                                    'disk_format': 'vmdk'})
        self.assertIn('detach it', str(err))


class LeaseKeepAliveTest(lifecycle_base.LifecycleTestCase):
    """A 1 s lease timeout and an image arriving over ~2.5 s."""

    VCSIM_FLAGS = {'nfc-lease-timeout-s': 1}

    def test_slow_image_is_kept_alive(self):
        images = ib.ImageService(chunk=64 * 1024)
        image_id = base.new_id()
        images.add(image_id, ib.make_image(RAW, 'vmdk', 'streamOptimized'),
                   'vmdk', vmware_disktype='streamOptimized')
        fast = images.chunks

        def slow(_id):
            for chunk in fast(_id):
                time.sleep(2.5 / 3)
                yield chunk

        images.chunks = slow
        self.assertGreaterEqual(len(list(fast(image_id))), 3)
        volume = self.create(1)
        started = time.monotonic()
        self.driver.copy_image_to_volume(None, volume, images, image_id)
        self.assertGreater(time.monotonic() - started, 2.0)
        data, _total = ib.read_disk(self.vcsim, self.state(volume.id),
                                    4 * ib.MIB)
        self.assertEqual(WANT_4M, ib.sha(data))


HOST_CONNECTOR = {'platform': 'x86_64', 'os_type': 'linux',
                  'ip': '127.0.0.1', 'host': 'backup-host',
                  'multipath': False, 'initiator': 'iqn.1993-08.org.debian'}


class BackupStagingTest(lifecycle_base.LifecycleTestCase):
    """The disk staged for Cinder's backup service, and restored."""

    def setUp(self):
        super().setUp()
        self.images = ib.ImageService()
        self.images.add('image-1', RAW, 'raw')

    def test_backup_then_restore(self):
        volume = self.create(1)
        self.driver.copy_image_to_volume(None, volume, self.images,
                                         'image-1')
        volume.status = 'backing-up'
        conn = self.driver.initialize_connection(volume, HOST_CONNECTOR)
        self.assertEqual('local', conn['driver_volume_type'])
        path = conn['data']['device_path']
        self.assertEqual(0o600, os.stat(path).st_mode & 0o777)
        with open(path, 'rb') as f:
            self.assertEqual(WANT_4M, ib.sha(f.read(4 * ib.MIB)))
        self.assertEqual(ib.GIB, os.path.getsize(path))
        self.driver.terminate_connection(volume, HOST_CONNECTOR, force=True)
        self.assertFalse(os.path.exists(path))

        target = self.create(1, {'vmware:adapter_type': 'paraVirtual'})
        target.status = 'restoring-backup'
        conn = self.driver.initialize_connection(target, HOST_CONNECTOR)
        path = conn['data']['device_path']
        with open(path, 'r+b') as f:
            f.write(RAW)
        before = self.state(target.id).ref.value
        self.driver.terminate_connection(target, HOST_CONNECTOR, force=True)
        self.assertFalse(os.path.exists(path))
        state = self.state(target.id)
        self.assertNotEqual(before, state.ref.value)
        self.assertEqual('ParaVirtualSCSIController',
                         type(state.controller(state.disk)).__name__)
        data, total = ib.read_disk(self.vcsim, state, 4 * ib.MIB)
        self.assertEqual((WANT_4M, ib.GIB), (ib.sha(data), total))

    def test_nova_and_other_statuses_get_vmdk(self):
        volume = self.create(1)
        instance = self.make_instance().value
        for status, connector in (('backing-up', {'instance': instance,
                                                  'ip': '1.2.3.4'}),
                                  ('available', HOST_CONNECTOR)):
            volume.status = status
            conn = self.driver.initialize_connection(volume, connector)
            self.assertEqual('vmdk', conn['driver_volume_type'])

    def test_restore_refused_with_snapshots(self):
        volume = self.create(1)
        snap = lifecycle_base.make_snapshot(volume)
        self.driver.create_snapshot(snap)
        self.addCleanup(self.driver.delete_snapshot, snap)
        volume.status = 'restoring-backup'
        err = self.assertRaises(exceptions.InvalidVolume,
                                self.driver.initialize_connection, volume,
                                HOST_CONNECTOR)
        self.assertIn('it has snapshots', str(err))
        self.assertEqual(['snapshot-%s' % snap.id],
                         self.state(volume.id).snapshot_names)


class ClonesOfImagesTest(lifecycle_base.LifecycleTestCase):
    """Clones of a volume made from an image carry its data."""

    def test_full_and_linked_clones(self):
        images = ib.ImageService()
        images.add('image-1', RAW, 'raw')
        source = self.create(1)
        self.driver.copy_image_to_volume(None, source, images, 'image-1')
        full = self.track(lifecycle_base.make_volume(1))
        self.driver.create_cloned_volume(full, source)
        data, _total = ib.read_disk(self.vcsim, self.state(full.id),
                                    4 * ib.MIB)
        self.assertEqual(WANT_4M, ib.sha(data))
        linked = self.track(lifecycle_base.make_volume(
            1, {'vmware:clone_type': 'linked'}, source_volid=source.id))
        self.driver.create_cloned_volume(linked, source)
        image_id = images.queued('vmdk')
        self.driver.copy_volume_to_image(
            None, linked, images, {'id': image_id, 'disk_format': 'vmdk'})
        raw = ib.to_raw(images.images[image_id]['data'], 'vmdk')
        self.assertEqual(WANT_4M, ib.sha(raw[:4 * ib.MIB]))
