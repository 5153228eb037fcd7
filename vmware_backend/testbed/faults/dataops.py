"""The campaign's data and day-2 operations: images, backups, retype.

A mixin of :class:`~.campaign.Campaign`; each operation runs as Cinder's
managers run it and reacts to a failure as they and a user do:

* volume from an image (``create_volume``, then ``copy_image_to_volume``
  with the volume ``downloading``): a failure leaves the volume in
  ``error``; the user deletes it;
* volume to an image (``copy_volume_to_image``, the volume ``uploading``):
  a failure deletes the image; the volume is ``available`` again;
* backup (``initialize_connection`` for a Cinder host's connector with the
  volume ``backing-up``, the backup service reads the staged file,
  ``terminate_connection``);
* restore (the same with ``restoring-backup``, the backup service writes
  the staged file, ``terminate_connection`` imports it): a failure leaves
  the volume in ``error_restoring``; the user deletes it;
* statistics (``get_volume_stats(refresh=True)``: the placement
  inventory, over VI/JSON when the run reads over VI/JSON);
* retype to a type with another disk format and a pool Cinder's scheduler
  chose (``retype`` with the pool's host, the volume ``retyping``: a
  ``RelocateVM_Task`` moving and converting the disk): a failure leaves
  the volume ``available`` with its old type, as Cinder does.

What a success reports is checked, not believed: the first
:data:`HEAD` bytes of an imported disk, read straight from the simulator,
are the data sent; an uploaded image or a staged backup has the volume's
size and data; a statistics answer lists every pool; a retyped volume's
disk is on the chosen pool's datastore. A difference is a "reported done,
not done" finding. Every temporary file (conversions,
staged disks) lives in ``vcenter_image_tmp_dir``, which must hold no file
between operations.
"""

import os

from vmware_backend.testbed.faults import model as model_mod
from vmware_backend.volume import images as images_mod

GIB = 1024 ** 3
HEAD = 64 * 1024
# os-brick's connector of a Cinder host (cinder-backup), not Nova's.
BACKUP_CONNECTOR = {'os_type': 'linux', 'platform': 'x86_64',
                    'host': 'campaign-backup', 'multipath': False}
BACKING_UP, RESTORING = 'backing-up', 'restoring-backup'
OPERATIONS = (
    ('image to volume', 1), ('volume to image', 1), ('backup', 1),
    ('restore', 1), ('stats', 1), ('retype', 1),
)
DISK_TYPES = ('thin', 'thick')
UPLOAD_FORMATS = ('vmdk', 'qcow2')
_QCOW2_MAGIC = b'QFI\xfb'


def pattern(tag):
    """:data:`HEAD` bytes of test data, different for each ``tag``."""
    seed = sum(tag.encode()) & 0xff
    return bytes((i * 7 + seed + i // 251) & 0xff for i in range(HEAD))


def uploaded_size(data, disk_format):
    """Virtual size in bytes of an uploaded image, or None when malformed."""
    if disk_format == 'vmdk':
        try:
            return images_mod.stream_capacity(data[:512], 'upload') * 512
        except Exception:
            return None
    if data[:4] != _QCOW2_MAGIC:
        return None
    return int.from_bytes(data[24:32], 'big')


class DataOperations:
    """Images, backups, restores and statistics, for :class:`Campaign`.

    :meth:`setup_data` must be called first.
    """

    def setup_data(self, images, image_heads, tmp_dir, read_head,
                   read_datastore):
        """Images, the temporary directory and the disk reader to use.

        :param images: an :class:`~vmware_backend.testbed.imageservice.
            ImageService` holding ``image_heads``' images.
        :param image_heads: {image id: its disk's first HEAD bytes}.
        :param tmp_dir: the driver's ``vcenter_image_tmp_dir``.
        :param read_head: callable(volume id) -> the first HEAD bytes of
            the backing's disk read straight from the simulator, or None
            (no backing, or a linked clone, whose data is its parent's).
        :param read_datastore: callable(volume id) -> the datastore name
            of the backing's disk, read straight from the simulator.
        """
        self.read_datastore = read_datastore
        self.images = images
        self.image_heads = image_heads
        self.tmp_dir = tmp_dir
        self.read_head = read_head
        self.contents = {}
        self.wrong = []
        self.pools = self._pool_names()

    def _pool_names(self):
        stats = self.driver.get_volume_stats(refresh=True)
        self.backend = stats['volume_backend_name']
        self.pool_caps = {p['pool_name']: dict(
            p, volume_backend_name=stats['volume_backend_name'])
            for p in stats['pools']}
        return sorted(self.pool_caps)

    def data_findings(self):
        """{check name: [items]} of the data checks (see the module)."""
        left = []
        for folder, _dirs, files in os.walk(self.tmp_dir):
            left.extend(os.path.join(folder, f) for f in files)
        return {'temporary files left': sorted(left),
                'reported done, not done': list(self.wrong)}

    def expected_head(self, volume):
        """The data a volume's disk begins with (zeros when never written)."""
        return self.contents.get(volume.id, bytes(HEAD))

    def inherit_contents(self, volume):
        """A new clone holds its source's data.

        From a snapshot: its volume's, which cannot change under a
        snapshot (restores are refused).
        """
        source = None
        if volume.kind.startswith('clone'):
            source = volume.source
        elif volume.kind.startswith('snapshot'):
            source = self.model.snapshots[volume.source].volume_id
        if source in self.contents:
            self.contents[volume.id] = self.contents[source]

    def _wrong(self, op, volume, what):
        self.wrong.append('%s of %s: %s' % (op, volume.id, what))

    def _verify_disk(self, op, volume, want):
        """The backing's disk, read from the simulator, begins with want."""
        got = self.read_head(volume.id)
        if got is None:
            self._wrong(op, volume, 'no backing disk after success')
        elif got != want:
            self._wrong(op, volume, 'the disk does not hold the data sent')

    def data_step(self, name):
        """Run data operation ``name``; False when it does not apply."""
        if name == 'stats':
            return self.volume_stats()
        if name == 'image to volume':
            return self.image_to_volume()
        volumes = self.model.volumes_in(model_mod.AVAILABLE)
        if name in ('restore', 'retype'):
            # A restore replaces the backing, a retype moves it: not under
            # snapshots or linked clones (refused), nor a linked clone.
            volumes = self.model.extendable()
        if not volumes:
            return False
        volume = self.rng.choice(volumes)
        if name == 'volume to image':
            return self.volume_to_image(volume)
        if name == 'backup':
            return self.backup(volume)
        if name == 'retype':
            return self.retype(volume)
        return self.restore(volume)

    def retype(self, volume):
        op = 'retype'
        pool = self.rng.choice(self.pools)
        disk_type = self.rng.choice(DISK_TYPES)
        specs = dict(volume.specs, **{'vmware:vmdk_type': disk_type})
        new_type = {'id': 'campaign-%s' % disk_type, 'name': disk_type,
                    'extra_specs': dict(specs, **{
                        'vmware:clone_type': volume.clone_type}),
                    'qos_specs': None}
        host = {'host': 'campaign@%s#%s' % (self.backend, pool),
                'capabilities': self.pool_caps[pool]}
        volume.status = 'retyping'
        err = self._call(op, self.driver.retype, None, volume.obj(),
                         new_type, {}, host)
        volume.status = model_mod.AVAILABLE
        if err is not None:
            return True
        if self.result is not True:
            self._wrong(op, volume, 'retype answered %r' % (self.result,))
            return True
        volume.specs, volume.host = specs, host['host']
        where = self.read_datastore(volume.id)
        want = self.pool_caps[pool]['datastore_name']
        if where != want:
            self._wrong(op, volume, 'the disk is on %s, not on %s'
                        % (where, want))
        return True

    def volume_stats(self):
        op = 'stats'
        if self._call(op, self.driver.get_volume_stats, True) is None:
            names = sorted(p['pool_name'] for p in self.result['pools'])
            if names != self.pools:
                self.wrong.append('stats: pools %s instead of %s'
                                  % (names, self.pools))
        return True

    def image_to_volume(self):
        op = 'image to volume'
        image_id = self.rng.choice(sorted(self.image_heads))
        volume = self.model.add_volume(self.new_id(), 1, kind='image')
        err = self._call(op + ': create', self.driver.create_volume,
                         volume.obj())
        if err is None:
            err = self._call(op, self.driver.copy_image_to_volume, None,
                             volume.obj('downloading'), self.images,
                             image_id)
        if err is None:
            volume.status = model_mod.AVAILABLE
            volume.created_ok = True
            self.contents[volume.id] = self.image_heads[image_id]
            self._verify_disk(op, volume, self.image_heads[image_id])
            return True
        volume.status = model_mod.ERROR
        self.delete(volume, 'delete after failed create')
        return True

    def volume_to_image(self, volume):
        op = 'volume to image'
        disk_format = self.rng.choice(UPLOAD_FORMATS)
        image_id = self.images.queued(disk_format)
        meta = {'id': image_id, 'disk_format': disk_format,
                'container_format': 'bare'}
        volume.status = 'uploading'
        err = self._call(op, self.driver.copy_volume_to_image, None,
                         volume.obj(), self.images, meta)
        volume.status = model_mod.AVAILABLE
        data = self.images.images.pop(image_id)['data']
        if err is None:
            size = uploaded_size(data or b'', disk_format)
            if size != volume.size * GIB:
                self._wrong(op, volume, 'a %s image of %s bytes for a %s '
                            'GiB volume' % (disk_format, size, volume.size))
        return True

    def backup(self, volume):
        op = 'backup'
        volume.status = BACKING_UP
        obj = volume.obj()
        if self._call(op + ': attach', self.driver.initialize_connection,
                      obj, BACKUP_CONNECTOR) is None:
            path = self.result['data']['device_path']
            try:
                size = os.path.getsize(path)
                with open(path, 'rb') as f:
                    head = f.read(HEAD)
            except OSError as err:
                size, head = None, str(err)
            if size != volume.size * GIB:
                self._wrong(op, volume, 'staged %s bytes for %s GiB'
                            % (size, volume.size))
            elif head != self.expected_head(volume):
                self._wrong(op, volume, 'the staged disk does not hold '
                            'the volume\'s data')
            self._detach(op, obj)
        # A failed detach of a backup changes nothing on vCenter.
        volume.status = model_mod.AVAILABLE
        return True

    def _detach(self, op, obj):
        """terminate_connection, once.

        Cinder's backup manager does not retry it (a failed restore is
        ``error_restoring``).
        """
        return self._call(op + ': detach', self.driver.terminate_connection,
                          obj, BACKUP_CONNECTOR)

    def restore(self, volume):
        op = 'restore'
        volume.status = RESTORING
        obj = volume.obj()
        err = self._call(op + ': attach', self.driver.initialize_connection,
                         obj, BACKUP_CONNECTOR)
        data = pattern(self.new_id())
        if err is None:
            # The backup service writes the volume's data into the file.
            with open(self.result['data']['device_path'], 'r+b') as f:
                f.write(data)
            err = self._detach(op, obj)
        if err is None:
            volume.status = model_mod.AVAILABLE
            self.contents[volume.id] = data
            self._verify_disk(op, volume, data)
            return True
        # Cinder: error_restoring; the user deletes the volume.
        volume.status = model_mod.ERROR
        self.delete(volume, 'delete after failed restore')
        return True
