"""Helpers of the image tests: an image-service double, image files made
with qemu-img, and the disk's data read back through the simulator's
datastore file access (``/folder``, HTTP Range).

The image service stands in for Glance only (Glance itself is exercised by
the OpenStack stack's tempest run); vCenter is the simulator, never faked.
"""

import hashlib
import os
import subprocess
import tempfile
import urllib.request

from vmware_backend.testbed import imageservice
from vmware_backend.vsphere import ops as vsphere_ops

MIB = 1024 * 1024
GIB = 1024 * MIB


def pattern(size):
    """``size`` bytes of test data.

    A pattern in the first MiB, zeros, a pattern in the last 64 KiB (when
    there is room).
    """
    data = bytearray(size)
    for i in range(min(size, MIB)):
        data[i] = (i * 7 + i // 4096) & 0xff
    if size > 2 * MIB:
        for i in range(size - 65536, size):
            data[i] = i % 251
    return bytes(data)


def sha(data):
    return hashlib.sha256(data).hexdigest()


def qemu_img(*args):
    subprocess.run(('qemu-img',) + args, check=True, capture_output=True)


def make_image(raw, fmt, subformat=None, virtual_size=None):
    """The bytes of an image of ``raw`` in qemu-img format ``fmt``."""
    with tempfile.TemporaryDirectory() as work:
        src, dst = os.path.join(work, 'raw'), os.path.join(work, 'out')
        with open(src, 'wb') as f:
            f.write(raw)
        if virtual_size:
            qemu_img('resize', '-f', 'raw', src, str(virtual_size))
        args = ['convert', '-f', 'raw', '-O', fmt]
        if subformat:
            args += ['-o', 'subformat=%s' % subformat]
        qemu_img(*(args + [src, dst]))
        with open(dst, 'rb') as f:
            return f.read()


def to_raw(data, fmt):
    """``data`` (an image in ``fmt``) converted to raw by qemu-img."""
    with tempfile.TemporaryDirectory() as work:
        src, dst = os.path.join(work, 'in'), os.path.join(work, 'raw')
        with open(src, 'wb') as f:
            f.write(data)
        qemu_img('convert', '-f', fmt, '-O', 'raw', src, dst)
        with open(dst, 'rb') as f:
            return f.read()


# The image-service double lives in the test bed (the fault campaign uses
# it too).
ImageService = imageservice.ImageService


def disk_flat_path(state):
    """(datastore name, path of the -flat.vmdk) of a backing's disk."""
    name = state.disk.backing.fileName
    ds, path = name[1:].split('] ', 1)
    return ds, path[:-len('.vmdk')] + '-flat.vmdk'


def read_disk(vcsim, state, length):
    """(first ``length`` bytes, total size) of the backing's disk data.

    Read over the simulator's datastore HTTP access.
    """
    ds, path = disk_flat_path(state)
    url = 'http://127.0.0.1:%d/folder/%s?dcPath=DC0&dsName=%s' % (
        vcsim.port, path, ds)
    request = urllib.request.Request(
        url, headers={'Range': 'bytes=0-%d' % (length - 1)})
    with urllib.request.urlopen(request, timeout=60) as response:
        data = response.read()
        total = int(response.headers['Content-Range'].rsplit('/', 1)[1])
    return data, total


def vm_names_in(session, folder_ref):
    """Names of the VMs in a folder."""
    children = session.get_properties(folder_ref, ['childEntity'])
    refs = vsphere_ops.ref_list(children.get('childEntity'))
    return [session.get_properties(r, ['name'])['name'] for r in refs
            if r._type == 'VirtualMachine']
