"""Cinder-like volume and snapshot objects without Cinder.

The driver reads volumes and snapshots by attribute only; the demo, the
benchmarks and the tests use these plain objects where Cinder would pass its
versioned objects.
"""

import types
import uuid


def volume(size=1, specs=None, name=None, status='available', host=None,
           source_volid=None, snapshot_id=None):
    """A volume with a fresh uuid4 id and the attributes the driver reads.

    :param specs: extra specs of its volume type (``vmware:*`` keys).
    :param host: Cinder's ``host@backend#pool``, naming the pool.
    :param source_volid, snapshot_id: what it was cloned from, as Cinder
        records it (a retried delete of a linked clone reads them).
    """
    volume_id = str(uuid.uuid4())
    return types.SimpleNamespace(
        id=volume_id, name=name or 'volume-%s' % volume_id, size=size,
        volume_type=types.SimpleNamespace(extra_specs=dict(specs or {})),
        status=status, host=host, source_volid=source_volid,
        snapshot_id=snapshot_id)


def snapshot(of_volume):
    """A snapshot of ``of_volume`` with a fresh uuid4 id."""
    snapshot_id = str(uuid.uuid4())
    return types.SimpleNamespace(
        id=snapshot_id, name='snapshot-%s' % snapshot_id, volume=of_volume,
        volume_id=of_volume.id, volume_size=of_volume.size)
