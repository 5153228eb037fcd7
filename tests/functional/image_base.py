"""Helpers of the image tests: an image-service double, image files made
with qemu-img, and the disk's data read back through the simulator's
datastore file access (``/folder``, HTTP Range).

The image service stands in for Glance only (Glance itself is exercised by
the OpenStack stack's tempest run); vCenter is the simulator, never faked.
"""

import hashlib
import io
import os
import subprocess
import tempfile
import urllib.request
import uuid

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


class ImageService:
    """Glance's calling contract as Cinder's ``GlanceImageService`` has it.

    ``show`` -> meta dict with ``properties``; ``download(context, id)`` ->
    an iterator of chunks, or writes into ``data``; ``update(context, id,
    meta, data)`` stores the data (file-like or iterable).
    """

    def __init__(self, chunk=256 * 1024):
        self.images = {}
        self.chunk = chunk
        self.downloads = 0

    def add(self, image_id, data, disk_format, **properties):
        self.images[image_id] = {
            'meta': {'id': image_id, 'disk_format': disk_format,
                     'container_format': 'bare', 'size': len(data),
                     'properties': dict(properties)},
            'data': data}

    def show(self, context, image_id):
        return dict(self.images[image_id]['meta'])

    def chunks(self, image_id):
        data = self.images[image_id]['data']
        for i in range(0, len(data), self.chunk):
            yield data[i:i + self.chunk]

    def download(self, context, image_id, data=None):
        self.downloads += 1
        if data is None:
            return self.chunks(image_id)
        for chunk in self.chunks(image_id):
            data.write(chunk)

    def queued(self, disk_format):
        """A new image without data, as Cinder's API creates it."""
        image_id = str(uuid.uuid4())
        self.images[image_id] = {
            'meta': {'id': image_id, 'disk_format': disk_format,
                     'container_format': 'bare',
                     'properties': {'from_api': 'kept'}},
            'data': None}
        return image_id

    def update(self, context, image_id, meta, data=None, purge_props=True,
               store_id=None, base_image_ref=None):
        self.update_kwargs = {'purge_props': purge_props,
                              'store_id': store_id,
                              'base_image_ref': base_image_ref}
        if hasattr(data, 'read'):
            body = io.BytesIO()
            while True:
                chunk = data.read(65536)
                if not chunk:
                    break
                body.write(chunk)
            body = body.getvalue()
        else:
            body = b''.join(data)
        image = self.images[image_id]
        meta = dict(meta)
        properties = dict(meta.pop('properties', {}))
        if not purge_props:
            properties = dict(image['meta']['properties'], **properties)
        image['meta'].update(meta, properties=properties)
        image['data'] = body
        return image['meta']


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
