"""Image checks and lease URL handling (logic only).

Transfers are proven end to end in tests/functional/test_images.py.
"""

import collections
from unittest import mock

import testtools

from vmware_backend import exceptions
from vmware_backend.volume import image_files
from vmware_backend.volume import images
from vmware_backend.vsphere import nfc


def meta(disk_format, size=None, container='bare', **props):
    return {'disk_format': disk_format, 'container_format': container,
            'size': size, 'properties': props}


class ImageSourceTest(testtools.TestCase):

    def test_formats(self):
        self.assertEqual(('raw', None, None),
                         images.image_source('i', meta('raw'), 1))
        self.assertEqual(('qcow2', None, 'ide'), images.image_source(
            'i', meta('qcow2', vmware_adaptertype='ide'), 1))
        self.assertEqual(('raw', 'preallocated', None),
                         images.image_source('i', meta('vmdk'), 1))
        self.assertEqual(('vmdk', 'sparse', None), images.image_source(
            'i', meta('vmdk', vmware_disktype='sparse'), 1))
        self.assertEqual(('vmdk', 'streamOptimized', 'paraVirtual'),
                         images.image_source('i', {
                             'disk_format': 'vmdk',
                             'vmware_disktype': 'streamOptimized',
                             'vmware_adaptertype': 'paraVirtual'}, 1))

    def test_refusals_name_the_value(self):
        cases = (
            (meta('vhd'), "Image i cannot be used: disk_format 'vhd' is not "
                          "supported; use one of vmdk, raw, qcow2"),
            (meta('raw', container='ova'),
             "container_format 'ova' is not supported; use bare"),
            (meta('raw', vmware_adaptertype='x'),
             "vmware_adaptertype 'x' is unknown; use one of busLogic, ide, "
             "lsiLogic, lsiLogicsas, paraVirtual"),
            (meta('vmdk', vmware_disktype='thin'),
             "vmware_disktype 'thin' is not supported; use one of "
             "streamOptimized, sparse, preallocated"),
            (meta('raw', size=2 * 1024 ** 3),
             'the image (2147483648 bytes) is larger than the volume '
             '(1 GiB)'),
        )
        for image_meta, text in cases:
            err = self.assertRaises(exceptions.InvalidImage,
                                    images.image_source, 'i', image_meta, 1)
            self.assertIn(text, str(err))

    def test_stream_header(self):
        header = bytearray(512)
        header[:4] = b'KDMV'
        header[8:12] = (1 | 1 << 16 | 1 << 17).to_bytes(4, 'little')
        header[12:20] = (2097152).to_bytes(8, 'little')
        self.assertEqual(2097152, images.stream_capacity(bytes(header), 'i'))
        header[8:12] = (1).to_bytes(4, 'little')
        err = self.assertRaises(exceptions.InvalidImage,
                                images.stream_capacity, bytes(header), 'i')
        self.assertIn('no compressed grains; declare it as sparse', str(err))
        qcow2 = b'QFI\xfb' + bytes(508)
        err = self.assertRaises(exceptions.InvalidImage,
                                images.stream_capacity, qcow2, 'i')
        self.assertIn('no KDMV header', str(err))

    def test_end_marker_only_for_streams_with_metadata_in_front(self):
        header = bytearray(512)
        header[:4] = b'KDMV'
        # qemu-img: grain directory at sector 26, no end-of-stream marker
        header[56:64] = (26).to_bytes(8, 'little')
        self.assertEqual(bytes(512), images.end_marker(bytes(header)))
        # VMware: gdOffset = GD_AT_END, the stream ends with its marker
        header[56:64] = b'\xff' * 8
        self.assertEqual(b'', images.end_marker(bytes(header)))

    def test_peek_gives_the_whole_stream_back(self):
        head, whole = images._peek(iter([b'ab', b'cd', b'ef', b'gh']), 3)
        self.assertEqual(b'abc', head)
        self.assertEqual(b'abcdefgh', b''.join(whole))

    def test_adapter_of_the_disk_controller(self):
        Device = collections.namedtuple('Device', 'key')
        pv = type('ParaVirtualSCSIController', (), {'key': 1000})()
        disk = type('VirtualDisk', (), {'controllerKey': 1000})()
        self.assertEqual('paraVirtual', images.adapter_of([pv, disk], disk))
        self.assertEqual('lsiLogic',
                         images.adapter_of([Device(7)], disk))


class SpaceTest(testtools.TestCase):

    def test_not_enough_space_names_the_numbers(self):
        usage = mock.Mock(free=100 * 1024 * 1024)
        with mock.patch('shutil.disk_usage', return_value=usage):
            err = self.assertRaises(exceptions.ImageTransferError,
                                    image_files.check_space, '/w/x',
                                    50 * 1024 * 1024, 'image i')
            self.assertIn('52428800 bytes needed (+67108864 spare), '
                          '104857600 free', str(err))
            self.assertEqual(usage.free, image_files.check_space(
                '/w/x', 10 * 1024 * 1024, 'image i'))


class LeaseUrlTest(testtools.TestCase):

    def lease(self, scheme='https', host='vc.example.org', port=443):
        session = mock.Mock(options={'vcenter_scheme': scheme,
                                     'vcenter_host': host,
                                     'vcenter_port': port})
        return nfc.Lease(session, None, 't')

    def test_star_is_the_vcenter_we_talk_to(self):
        self.assertEqual(
            'https://vc.example.org:443/nfc/52a/disk-0.vmdk',
            self.lease().absolute_url('https://*/nfc/52a/disk-0.vmdk'))
        self.assertEqual(
            'http://127.0.0.1:8989/nfc/1/d.vmdk',
            self.lease('http', '127.0.0.1', 8989).absolute_url(
                'https://*/nfc/1/d.vmdk'))

    def test_a_named_host_is_kept(self):
        self.assertEqual(
            'https://esx1.example.org/nfc/52a/disk-0.vmdk',
            self.lease().absolute_url(
                'https://esx1.example.org/nfc/52a/disk-0.vmdk'))

    def test_progress_percent_is_capped_below_100(self):
        lease = self.lease()
        lease.total = 1000
        lease.advance(500)
        self.assertEqual(50, lease.percent)
        lease.advance(600)
        self.assertEqual(99, lease.percent)
