"""An image-service double with the calling contract of Cinder's
``GlanceImageService`` (what the driver's image and backup paths call).

Used by the functional tests and the fault campaign; it stands in for
Glance only (Glance itself is exercised by the OpenStack stack's tempest
run); vCenter is the simulator, never faked.
"""

import io
import uuid


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
