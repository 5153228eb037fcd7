"""Backups through Cinder's backup service without vCenter credentials.

Cinder 29's backup manager always attaches the volume on the cinder-backup
host: it calls ``initialize_connection`` with that host's os-brick
connector, connects with the os-brick connector named by the returned
``driver_volume_type``, and hands the opened device to the backup service
(``backup(backup, file)`` or ``restore(backup, volume_id, file,
volume_is_new)``); ``terminate_connection`` follows, also after a failure.
os-brick's ``vmdk`` connector would log in to vCenter with credentials from
the connection info, which this driver never returns. Instead, for a Cinder
host's connector (os-brick properties: ``os_type``, no Nova ``instance``)
while the volume is ``backing-up`` or ``restoring-backup``, the driver
stages the disk in a raw file with its own session and returns os-brick's
``local`` connection (``device_path``):

* backing up: the backing is exported (``ExportVm`` -> ``HttpNfcLease``,
  streamOptimized) and converted to raw with ``qemu-img`` in
  ``<vcenter_image_tmp_dir>/vmware-backend-backup/<volume id>.raw`` (mode
  0600 in a 0700 directory, free space checked first);
* restoring: an empty (sparse) raw file of the volume's size is handed out;
  at ``terminate_connection`` it is converted to streamOptimized and
  imported as the volume's new backing (as for images); a backing with
  snapshots is refused before anything is written. ``terminate_connection``
  cannot tell a failed restore from a good one (Cinder marks the volume
  ``error_restoring`` afterwards): what the backup service wrote is
  imported, as a partial restore onto a block device would stay; a file
  left empty (nothing written) keeps the old backing.

The staged file is removed at ``terminate_connection`` on every path. It
must be reachable by cinder-backup at the same path: run cinder-backup on
the cinder-volume host (or point ``vcenter_image_tmp_dir`` at a shared
directory).
"""

import os
import tempfile

from oslo_log import log as logging

from vmware_backend.volume import image_files
from vmware_backend.volume import images
from vmware_backend.volume import volume_types
from vmware_backend.vsphere import ops as vsphere_ops

LOG = logging.getLogger(__name__)

BACKING_UP = 'backing-up'
RESTORING = 'restoring-backup'
LOCAL_PROTOCOL = 'local'
STAGING_DIR = 'vmware-backend-backup'
GIB = 1024 ** 3


def is_cinder_host(connector):
    """Whether ``connector`` is os-brick's, of a Cinder host (not Nova's)."""
    return bool(connector) and 'instance' not in connector and \
        'os_type' in connector


class BackupStagingMixin:
    """Local staging of a disk for Cinder's backup service."""

    def _staging_path(self, volume_id):
        base = self.options.get('vcenter_image_tmp_dir') or \
            tempfile.gettempdir()
        folder = os.path.join(base, STAGING_DIR)
        os.makedirs(folder, mode=0o700, exist_ok=True)
        os.chmod(folder, 0o700)
        return os.path.join(folder, '%s.raw' % volume_types.checked_id(
            volume_id))

    def _stage_for_backup(self, volume, connector):
        """The ``local`` connection info of a staged disk, or None."""
        status = volume_types.loaded_field(volume, 'status')
        if status not in (BACKING_UP, RESTORING) or \
                not is_cinder_host(connector):
            return None
        ref, props = self._require_backing(volume.id)
        disk = self._disk(props, volume.id)
        size = disk.capacityInKB * 1024
        path = self._staging_path(volume.id)
        target = 'volume %s (%s)' % (volume.id, status)
        if status == RESTORING:
            images.refuse_if_snapshots(volume.id, props)
            image_files.check_space(path, size, target)
            with open(os.open(path, os.O_CREAT | os.O_TRUNC | os.O_WRONLY,
                              0o600), 'wb') as f:
                f.truncate(size)
        else:
            self._export_raw(ref, disk, path, target)
        LOG.info('Staged the disk of volume %s in %s for Cinder\'s backup '
                 'service (%s).', volume.id, path, status)
        return {'driver_volume_type': LOCAL_PROTOCOL,
                'data': {'device_path': path, 'volume_id': volume.id,
                         'access_mode': 'rw', 'encrypted': False}}

    def _export_raw(self, ref, disk, path, target):
        with image_files.work_dir(self.options.get('vcenter_image_tmp_dir'),
                                  target) as work:
            # The stream (at most the disk) and the raw file (sparse).
            image_files.check_space(work, disk.capacityInKB * 1024 * 2,
                                    target)
            stream = os.path.join(work, 'disk.vmdk')

            def sink(reader):
                with open(stream, 'wb') as f:
                    for chunk in reader:
                        f.write(chunk)

            try:
                self._export_disk(ref, target, sink)
                image_files.convert(stream, 'vmdk', path, 'raw', target)
                os.chmod(path, 0o600)
            except BaseException:
                if os.path.exists(path):
                    os.unlink(path)
                raise

    def _unstage(self, volume):
        """After the backup service: import a restore, remove the file."""
        path = self._staging_path(volume.id)
        if not os.path.exists(path):
            return
        status = volume_types.loaded_field(volume, 'status')
        try:
            if status == RESTORING and os.path.getsize(path) == 0:
                # Cinder opens the device with 'wb' (truncating it): the
                # restore failed before writing anything.
                LOG.warning('The staged disk of volume %s is empty: the '
                            'restore wrote nothing; the backing is left as '
                            'it was.', volume.id)
            elif status == RESTORING:
                self._import_restored(volume, path)
        finally:
            os.unlink(path)
            LOG.info('Removed the staged disk of volume %s.', volume.id)

    def _import_restored(self, volume, path):
        target = 'volume %s (restore)' % volume.id
        size_gb = -(-os.path.getsize(path) // GIB)
        found = self._backing(volume.id)
        adapter = volume_types.profile(volume, self.options).adapter_type
        if found is not None:
            props = found[1]
            disk = self._disk(props, volume.id)
            adapter = images.adapter_of(vsphere_ops.devices_of(props), disk)
            size_gb = disk.capacityInKB // (1024 * 1024)
        disk_type = volume_types.profile(volume, self.options).disk_type
        with image_files.work_dir(self.options.get('vcenter_image_tmp_dir'),
                                  target) as work:
            image_files.check_space(work, os.path.getsize(path), target)
            stream = os.path.join(work, 'disk.vmdk')
            image_files.convert(path, 'raw', stream, 'streamOptimized',
                                target, image_files.QEMU_ADAPTERS[adapter])
            self._import_stream(volume, size_gb, disk_type, adapter,
                                image_files.file_chunks(stream), target,
                                length=os.path.getsize(stream))
        LOG.info('Restored volume %s from the backup service\'s data.',
                 volume.id)
