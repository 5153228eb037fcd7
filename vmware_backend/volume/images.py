"""Volumes from images and images from volumes, in Cinder's vocabulary.

Creating a volume from an image (``copy_image_to_volume``) imports a new
backing through ``ResourcePool.ImportVApp`` and uploads the disk through
the ``HttpNfcLease`` (:mod:`vmware_backend.vsphere.nfc`), with the driver's
own vCenter session: no credential leaves the driver.

* ``disk_format=vmdk`` with ``vmware_disktype=streamOptimized`` is streamed
  from the image service to vCenter as it is read (no local space).
* ``vmdk`` ``sparse`` (monolithicSparse) and ``preallocated`` (a flat
  extent: raw bytes), ``raw`` and ``qcow2`` are downloaded into a private
  temporary directory (free space checked first), converted to
  streamOptimized with ``qemu-img`` and uploaded; the files are removed on
  every path.

Cinder's volume manager calls ``create_volume`` before
``copy_image_to_volume``, so the volume usually has an empty backing: it is
replaced (destroyed, then the import creates the new backing with the same
instanceUuid). Every check of the image (format, properties, size, free
space) happens before that. A failed transfer aborts the lease, and vCenter
removes the unfinished import; the driver checks and destroys it itself if
it is still there: the volume is left without a backing, never with a
half-written one (Cinder sets it to ``error``; deleting it is then a no-op).

Uploading a volume to an image (``copy_volume_to_image``) exports the
backing with ``VirtualMachine.ExportVm``: the disk arrives as a
streamOptimized VMDK and is streamed into the image service
(``disk_format=vmdk``, properties ``vmware_disktype=streamOptimized`` and
``vmware_adaptertype``), or converted locally when the image asks for
``raw`` or ``qcow2``.
"""

import os

from oslo_log import log as logging

from vmware_backend import exceptions
from vmware_backend.volume import image_files
from vmware_backend.volume import lifecycle
from vmware_backend.volume import volume_types
from vmware_backend.vsphere import inventory
from vmware_backend.vsphere import nfc
from vmware_backend.vsphere import ops as vsphere_ops
from vmware_backend.vsphere import specs

LOG = logging.getLogger(__name__)

DISK_FORMATS = ('vmdk', 'raw', 'qcow2')
VMDK_DISK_TYPES = ('streamOptimized', 'sparse', 'preallocated')
CONTAINER_FORMATS = ('bare',)
PROP_DISK_TYPE = 'vmware_disktype'
PROP_ADAPTER_TYPE = 'vmware_adaptertype'
GIB = 1024 ** 3
_VMDK_MAGIC = b'KDMV'
# Controller class -> vmware_adaptertype (names as Glance and Nova use them).
_CONTROLLER_ADAPTERS = {
    'VirtualLsiLogicController': 'lsiLogic',
    'VirtualBusLogicController': 'busLogic',
    'VirtualLsiLogicSASController': 'lsiLogicsas',
    'ParaVirtualSCSIController': 'paraVirtual',
    'VirtualIDEController': 'ide',
}
ADAPTER_TYPES = tuple(sorted(set(_CONTROLLER_ADAPTERS.values())))


def _properties(meta):
    props = dict(meta.get('properties') or {})
    for key in (PROP_DISK_TYPE, PROP_ADAPTER_TYPE):
        if key in meta and key not in props:  # flat (Glance v2) meta
            props[key] = meta[key]
    return props


def image_source(image_id, meta, volume_size_gb):
    """(qemu-img source format, vmware_disktype, adapter or None), checked.

    :raises exceptions.InvalidImage: naming the bad value and the
        accepted ones.
    """
    disk_format = meta.get('disk_format')
    if disk_format not in DISK_FORMATS:
        raise exceptions.InvalidImage(
            image=image_id, reason='disk_format %r is not supported; use '
            'one of %s' % (disk_format, ', '.join(DISK_FORMATS)))
    container = meta.get('container_format') or 'bare'
    if container not in CONTAINER_FORMATS:
        raise exceptions.InvalidImage(
            image=image_id, reason='container_format %r is not supported; '
            'use bare' % container)
    props = _properties(meta)
    adapter = props.get(PROP_ADAPTER_TYPE)
    if adapter is not None and adapter not in ADAPTER_TYPES:
        raise exceptions.InvalidImage(
            image=image_id, reason='%s %r is unknown; use one of %s'
            % (PROP_ADAPTER_TYPE, adapter, ', '.join(ADAPTER_TYPES)))
    disk_type = None
    if disk_format == 'vmdk':
        disk_type = props.get(PROP_DISK_TYPE) or 'preallocated'
        if disk_type not in VMDK_DISK_TYPES:
            raise exceptions.InvalidImage(
                image=image_id, reason='%s %r is not supported; use one of '
                '%s' % (PROP_DISK_TYPE, disk_type,
                        ', '.join(VMDK_DISK_TYPES)))
    size = meta.get('size')
    if size is not None and disk_format == 'raw' and \
            int(size) > volume_size_gb * GIB:
        raise exceptions.InvalidImage(
            image=image_id, reason='the image (%s bytes) is larger than '
            'the volume (%s GiB)' % (size, volume_size_gb))
    src_fmt = 'raw' if disk_type == 'preallocated' else disk_format
    return src_fmt, disk_type, adapter


def stream_capacity(first, image_id):
    """Sectors of the disk whose streamOptimized VMDK begins with ``first``.

    :raises exceptions.InvalidImage: not a sparse VMDK header.
    """
    if len(first) < 512 or first[:4] != _VMDK_MAGIC:
        raise exceptions.InvalidImage(
            image=image_id, reason='vmware_disktype is streamOptimized but '
            'the data is not a sparse VMDK (no KDMV header)')
    flags = int.from_bytes(first[8:12], 'little')
    if not flags & (1 << 16):
        raise exceptions.InvalidImage(
            image=image_id, reason='vmware_disktype is streamOptimized but '
            'the VMDK has no compressed grains; declare it as sparse')
    return int.from_bytes(first[12:20], 'little')


# The end-of-stream marker of a streamOptimized VMDK: one sector with
# numSectors = size = type = 0 ("Virtual Disk Format 5.0").
EOS_MARKER = bytes(512)
_GD_AT_END = 0xffffffffffffffff


def end_marker(head):
    """What to send after a streamOptimized VMDK qemu-img made (``head``).

    VMware's writers put the grain directory at the end (``gdOffset`` =
    GD_AT_END) and close the stream with an end-of-stream marker. qemu-img
    (7.2) keeps the grain directory in the header area and ends the file
    right after its last grain, with no marker (unless that grain's
    padding happens to look like one); vCenter's NFC reader needs the
    marker. So a file converted here (complete: qemu-img wrote it) gets an
    end-of-stream marker appended (after an existing one it is padding,
    which the reader ignores). Streams from the image service are sent as
    they are: there the missing marker is what shows a truncated stream.
    """
    if int.from_bytes(head[56:64], 'little') == _GD_AT_END:
        return b''
    return EOS_MARKER


def _with_tail(chunks, tail):
    yield from chunks
    if tail:
        yield tail


def _peek(chunks, nbytes):
    """(first ``nbytes`` bytes, iterator giving back the whole stream)."""
    head, taken = b'', []
    iterator = iter(chunks)
    for chunk in iterator:
        taken.append(chunk)
        head += chunk
        if len(head) >= nbytes:
            break

    def whole():
        yield from taken
        yield from iterator

    return head[:nbytes], whole()


def adapter_of(devices, disk):
    """vmware_adaptertype of the controller of ``disk``."""
    for device in devices:
        if getattr(device, 'key', None) == disk.controllerKey:
            return _CONTROLLER_ADAPTERS.get(type(device).__name__,
                                            'lsiLogic')
    return 'lsiLogic'


def _update_kwargs(volume):
    """The image service ``update`` arguments Cinder's own upload passes.

    ``store_id`` from the volume type's ``image_service:store_id``,
    ``base_image_ref`` from the volume's Glance metadata; read without
    making a Cinder object load anything.
    """
    kwargs = {'purge_props': False}
    vtype = volume_types.loaded_field(volume, 'volume_type')
    store = (getattr(vtype, 'extra_specs', None) or {}).get(
        'image_service:store_id')
    if store:
        kwargs['store_id'] = store
    glance = volume_types.loaded_field(volume, 'glance_metadata') or {}
    if isinstance(glance, dict) and glance.get('image_id'):
        kwargs['base_image_ref'] = glance['image_id']
    return kwargs


def refuse_if_snapshots(volume_id, props):
    """Replacing a backing would destroy its snapshots: refuse."""
    if vsphere_ops.snapshot_trees(props):
        raise exceptions.InvalidVolume(
            volume=volume_id, reason='it has snapshots, which replacing its '
            'disk would destroy; delete them first')


class ImageMixin:
    """copy_image_to_volume / copy_volume_to_image; mixed into the driver."""

    # Volume from image ---------------------------------------------------

    def copy_image_to_volume(self, context, volume, image_service, image_id,
                             disable_sparse=False):
        """Make the volume's backing from image ``image_id``."""
        size = volume_types.checked_size(volume)
        profile = volume_types.profile(volume, self.options)
        target = 'image %s -> volume %s' % (image_id, volume.id)
        meta = image_service.show(context, image_id)
        src_fmt, disk_type, adapter = image_source(image_id, meta, size)
        adapter = adapter or profile.adapter_type
        if disk_type == 'streamOptimized':
            chunks = image_service.download(context, image_id)
            head, chunks = _peek(chunks, 512)
            self._check_capacity(image_id, stream_capacity(head, image_id)
                                 * 512, size)
            length = meta.get('size')
            self._import_stream(volume, size, profile.disk_type, adapter,
                                chunks, target,
                                length=int(length) if length else None)
            return
        with image_files.work_dir(self.options.get('vcenter_image_tmp_dir'),
                                  target) as work:
            image_files.check_space(work, int(meta.get('size') or 0) * 2,
                                    target)
            source = os.path.join(work, 'image')
            with open(source, 'wb') as f:
                image_service.download(context, image_id, f)
            details = image_files.info(source, src_fmt, target)
            if disk_type == 'sparse' and \
                    image_files.vmdk_create_type(details) != \
                    'monolithicSparse':
                raise exceptions.InvalidImage(
                    image=image_id, reason='vmware_disktype is sparse but '
                    'the data is a %r vmdk'
                    % image_files.vmdk_create_type(details))
            self._check_capacity(image_id, details['virtual-size'], size)
            image_files.check_space(work, os.path.getsize(source), target)
            stream = os.path.join(work, 'disk.vmdk')
            image_files.convert(source, src_fmt, stream, 'streamOptimized',
                                target, image_files.QEMU_ADAPTERS[adapter])
            os.unlink(source)
            with open(stream, 'rb') as f:
                tail = end_marker(f.read(512))
            self._import_stream(volume, size, profile.disk_type, adapter,
                                _with_tail(image_files.file_chunks(stream),
                                           tail), target,
                                length=os.path.getsize(stream) + len(tail))

    @staticmethod
    def _check_capacity(image_id, virtual_bytes, size_gb):
        if virtual_bytes > size_gb * GIB:
            raise exceptions.InvalidImage(
                image=image_id, reason='its virtual size (%d bytes) is '
                'larger than the volume (%d GiB); make the volume at least '
                '%d GiB' % (virtual_bytes, size_gb,
                            -(-virtual_bytes // GIB)))

    def _import_stream(self, volume, size, disk_type, adapter, chunks,
                       target, length=None):
        """Replace the volume's backing by an import of ``chunks``."""
        if volume_types.in_use(volume):
            raise exceptions.VolumeIsBusy(volume=volume.id,
                                          reason='it is attached')
        existing = self._backing(volume.id)
        if existing is not None:
            refuse_if_snapshots(volume.id, existing[1])
            LOG.info('Replacing the backing of volume %s by new data.',
                     volume.id)
            self._delete_for_image(volume)
        place = self.placement.choose(
            size, disk_type, pool_name=volume_types.pool_name(volume),
            target='volume %s' % volume.id)
        spec = specs.backing_config_spec(
            self.session.factory,
            specs.backing_name(volume_types.volume_name(volume)),
            volume.id, size, disk_type, adapter, place.datastore_name,
            self.options['vcenter_backing_memory_mb'],
            owner=self.backend_id,
            multiattach=volume_types.multiattach(volume))
        import_spec = specs.create(self.session.factory,
                                   'VirtualMachineImportSpec',
                                   configSpec=spec)
        pool = inventory.to_suds(place.resource_pool)
        host = inventory.to_suds(place.host)
        entity = None
        try:
            lease_ref = self._in_volume_folder(
                place, lambda folder: self.session.invoke(
                    'ImportVApp', pool, target=target, spec=import_spec,
                    folder=folder, host=host))
            with nfc.leased(self.session, lease_ref, target) as lease:
                entity = lease.info.entity
                urls = lease.disk_urls()
                if len(urls) != 1:
                    raise exceptions.ImageTransferError(
                        target=target, reason='the import lease has %d '
                        'disk URLs, expected 1' % len(urls))
                nfc.upload(self.session, lease, urls[0][1], chunks, length)
        except BaseException:
            self._remove_failed_import(volume, entity)
            raise
        self._remember(volume.id, entity)
        LOG.info('Volume %s made from the image (%s GiB, %s, %s) on '
                 'datastore %s.', volume.id, size, disk_type, adapter,
                 place.datastore_name)

    def _delete_for_image(self, volume):
        """Destroy the (empty) backing Cinder created before the copy.

        The caller holds the volume's lock: the lifecycle's own delete
        (refused while linked clones depend on the backing).
        """
        lifecycle.LifecycleMixin.delete_volume(self, volume)

    def _remove_failed_import(self, volume, entity):
        """Make sure an unfinished import leaves no backing."""
        refs = [ref for ref, _props in self._lookup_all(volume.id)]
        if entity is not None and all(
                vsphere_ops.moref_value(r) != vsphere_ops.moref_value(entity)
                for r in refs):
            refs.append(entity)
        for ref in refs:
            if not self._exists(ref):
                continue
            LOG.warning('Removing the unfinished import %s of volume %s.',
                        vsphere_ops.moref_value(ref), volume.id)
            try:
                self.ops.destroy(ref, 'volume %s' % volume.id)
            except exceptions.VMwareBackendException as err:
                LOG.error('Could not remove the unfinished import %s of '
                          'volume %s: %s', vsphere_ops.moref_value(ref),
                          volume.id, err)
        self._remember(volume.id, None)

    # Image from volume ---------------------------------------------------

    def copy_volume_to_image(self, context, volume, image_service,
                             image_meta):
        """Upload the volume's disk to image ``image_meta['id']``."""
        image_id = image_meta['id']
        disk_format = image_meta.get('disk_format') or 'vmdk'
        if disk_format not in DISK_FORMATS:
            raise exceptions.InvalidImage(
                image=image_id, reason='disk_format %r is not supported for '
                'an upload; use one of %s' % (disk_format,
                                              ', '.join(DISK_FORMATS)))
        container = image_meta.get('container_format') or 'bare'
        if container not in CONTAINER_FORMATS:
            raise exceptions.InvalidImage(
                image=image_id, reason='container_format %r is not '
                'supported; use bare' % container)
        if volume_types.in_use(volume):
            raise exceptions.VolumeIsBusy(
                volume=volume.id, reason='it is attached; detach it to '
                'upload it to an image')
        ref, props = self._require_backing(volume.id)
        self._refuse_if_attached(volume.id, props)
        devices = vsphere_ops.devices_of(props)
        disk = self._disk(props, volume.id)
        adapter = adapter_of(devices, disk)
        target = 'volume %s -> image %s' % (volume.id, image_id)
        # disk_format and container_format were set when the image was
        # created (Glance refuses to change them once it has data); the
        # properties are added, the image's others kept (purge_props off).
        meta = {'properties': {PROP_ADAPTER_TYPE: adapter}}
        if disk_format == 'vmdk':
            meta['properties'].update({PROP_DISK_TYPE: 'streamOptimized',
                                       'vmware_image_version': '1'})
        extra = _update_kwargs(volume)

        def sink(reader):
            if disk_format == 'vmdk':
                image_service.update(context, image_id, meta, reader,
                                     **extra)
            else:
                self._upload_converted(context, image_service, image_id,
                                       (meta, extra), reader, disk,
                                       disk_format, target)

        self._export_disk(ref, target, sink)
        LOG.info('Volume %s uploaded to image %s (%s, adapter %s).',
                 volume.id, image_id, disk_format, adapter)

    def _export_disk(self, ref, target, sink):
        """``sink(reader)`` of the backing's disk (ExportVm, streamOptimized).

        The lease is completed when ``sink`` returns, aborted if it raises.
        """
        lease_ref = self.session.invoke('ExportVm', ref, target=target)
        with nfc.leased(self.session, lease_ref, target) as lease:
            urls = lease.disk_urls()
            if len(urls) != 1:
                raise exceptions.ImageTransferError(
                    target=target, reason='the export lease has %d disk '
                    'URLs, expected 1' % len(urls))
            with nfc.download(self.session, lease, urls[0][1]) as reader:
                sink(reader)

    def _upload_converted(self, context, image_service, image_id, update,
                          reader, disk, disk_format, target):
        with image_files.work_dir(self.options.get('vcenter_image_tmp_dir'),
                                  target) as work:
            stream = os.path.join(work, 'disk.vmdk')
            # Both files are at most the disk's size (raw is sparse).
            image_files.check_space(work, disk.capacityInKB * 1024 * 2,
                                    target)
            with open(stream, 'wb') as f:
                for chunk in reader:
                    f.write(chunk)
            out = os.path.join(work, 'image.' + disk_format)
            image_files.convert(stream, 'vmdk', out, disk_format, target)
            os.unlink(stream)
            meta, extra = update
            with open(out, 'rb') as f:
                image_service.update(context, image_id, meta, f, **extra)
