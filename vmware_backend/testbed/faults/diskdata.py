"""Disk data for the campaign's data operations, made and read back.

:func:`campaign_images` makes the images the campaign imports (with
``qemu-img``): a streamOptimized VMDK, streamed to vCenter as it is read,
and a qcow2 image, converted in the driver's temporary directory; both of
a 1 GiB disk beginning with known data. :class:`HeadReader` reads the
beginning of a backing's disk straight from the simulator (its datastore
file access, not through the fault proxy, over the checking session), so a
transfer the driver reports done is checked on what vCenter holds.
"""

import os
import subprocess
import tempfile
import urllib.error
import urllib.parse
import urllib.request

from vmware_backend.testbed.faults import dataops
from vmware_backend.testbed import imageservice
from vmware_backend.volume import images as images_mod
from vmware_backend.vsphere import ops as vsphere_ops

HEAD = dataops.HEAD
GIB = 1024 ** 3
DATACENTER = 'DC0'


def _image(work, head, fmt, subformat=None):
    raw, out = os.path.join(work, 'raw'), os.path.join(work, 'out')
    with open(raw, 'wb') as f:
        f.write(head)
        f.truncate(GIB)
    args = ['qemu-img', 'convert', '-f', 'raw', '-O', fmt]
    if subformat:
        args += ['-o', 'subformat=%s' % subformat]
    subprocess.run(args + [raw, out], check=True, capture_output=True)
    with open(out, 'rb') as f:
        return f.read()


def campaign_images():
    """(an ImageService with the images, {image id: first HEAD bytes})."""
    service = imageservice.ImageService()
    heads = {}
    with tempfile.TemporaryDirectory() as work:
        head = dataops.pattern('streamOptimized image')
        data = _image(work, head, 'vmdk', 'streamOptimized')
        # as a VMware writer ends a stream (see images.end_marker)
        data += images_mod.end_marker(data[:512])
        service.add('image-stream', data, 'vmdk',
                    vmware_disktype='streamOptimized')
        heads['image-stream'] = head
        head = dataops.pattern('qcow2 image')
        service.add('image-qcow2', _image(work, head, 'qcow2'), 'qcow2')
        heads['image-qcow2'] = head
    return service, heads


class HeadReader:
    """callable(volume id) -> the first ``length`` bytes of its disk.

    None when there is no backing or its disk is a linked clone's child
    (whose data is its parent's); ``b''`` when the disk has no data file.
    """

    def __init__(self, session, port, length=HEAD):
        self.session = session
        self.port = port
        self.length = length

    def disk(self, volume_id):
        """The backing's disk (None: no backing, or not one disk)."""
        refs = self.session.invoke(
            'FindAllByUuid', self.session.service_content.searchIndex,
            uuid=volume_id, vmSearch=True, instanceUuid=True) or []
        if not refs:
            return None
        props = self.session.get_properties(refs[0],
                                            ['config.hardware.device'])
        disks = [d for d in vsphere_ops.devices_of(props)
                 if type(d).__name__ == 'VirtualDisk']
        return disks[0] if len(disks) == 1 else None

    def datastore(self, volume_id):
        """The name of the datastore of the backing's disk, or None."""
        disk = self.disk(volume_id)
        if disk is None:
            return None
        return disk.backing.fileName[1:].split(']', 1)[0]

    def __call__(self, volume_id):
        disk = self.disk(volume_id)
        if disk is None or getattr(disk.backing, 'parent', None):
            return None
        return self._read(disk.backing.fileName)

    def _read(self, file_name):
        datastore, path = file_name[1:].split('] ', 1)
        path = path[:-len('.vmdk')] + '-flat.vmdk'
        url = 'http://127.0.0.1:%d/folder/%s?%s' % (
            self.port, urllib.parse.quote(path),
            urllib.parse.urlencode({'dcPath': DATACENTER,
                                    'dsName': datastore}))
        request = urllib.request.Request(
            url, headers={'Range': 'bytes=0-%d' % (self.length - 1)})
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.read()
        except urllib.error.HTTPError as err:
            if err.code == 404:
                return b''
            raise
