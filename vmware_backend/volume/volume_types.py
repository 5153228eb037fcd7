"""Reading and checking what a volume asks for: size and extra specs.

Pure functions over Cinder-like volume objects (attribute access only), so
they work with Cinder's versioned objects and with plain test doubles.
"""

import collections
import numbers

from vmware_backend import conf
from vmware_backend import exceptions

SPEC_DISK_TYPE = 'vmware:vmdk_type'
SPEC_ADAPTER_TYPE = 'vmware:adapter_type'
SPEC_CLONE_TYPE = 'vmware:clone_type'

VolumeProfile = collections.namedtuple(
    'VolumeProfile', 'disk_type adapter_type clone_type')

_ALLOWED = {
    SPEC_DISK_TYPE: conf.DISK_TYPES,
    SPEC_ADAPTER_TYPE: conf.ADAPTER_TYPES,
    SPEC_CLONE_TYPE: conf.CLONE_TYPES,
}


def describe(volume):
    """How error messages name a volume."""
    return getattr(volume, 'id', None) or repr(volume)


def extra_specs(volume):
    """The extra specs of the volume's type as a dict ({} without type)."""
    volume_type = getattr(volume, 'volume_type', None)
    if volume_type is None:
        return {}
    specs = getattr(volume_type, 'extra_specs', None)
    if specs is None and isinstance(volume_type, dict):
        specs = volume_type.get('extra_specs')
    return dict(specs or {})


def _spec(specs, key, default, volume):
    value = specs.get(key)
    if value is None or value == '':
        return default
    if value not in _ALLOWED[key]:
        raise exceptions.InvalidExtraSpec(
            volume=describe(volume), spec=key, value=value,
            allowed=', '.join(_ALLOWED[key]))
    return value


def profile(volume, options):
    """Disk, adapter and clone type of ``volume``, checked.

    :raises exceptions.InvalidExtraSpec: naming the spec and the allowed
        values.
    """
    specs = extra_specs(volume)
    return VolumeProfile(
        disk_type=_spec(specs, SPEC_DISK_TYPE,
                        options['vcenter_default_disk_type'], volume),
        adapter_type=_spec(specs, SPEC_ADAPTER_TYPE,
                           options['vcenter_default_adapter_type'], volume),
        clone_type=_spec(specs, SPEC_CLONE_TYPE,
                         options['vcenter_default_clone_type'], volume))


def checked_size(volume, size=None):
    """The size in GiB, which must be a positive whole number.

    :raises exceptions.InvalidVolume: naming the bad size.
    """
    size = getattr(volume, 'size', None) if size is None else size
    if isinstance(size, bool) or not isinstance(size, numbers.Number) or \
            size != int(size) or size <= 0:
        raise exceptions.InvalidVolume(
            volume=describe(volume),
            reason='size %r is not a positive whole number of GiB' % (size,))
    return int(size)


def pool_name(volume):
    """The pool Cinder's scheduler chose ('host@backend#pool'), or None."""
    host = getattr(volume, 'host', None) or ''
    return host.split('#', 1)[1] if '#' in host else None


def volume_name(volume):
    """Cinder's volume name ('volume-<id>' by default)."""
    return getattr(volume, 'name', None) or 'volume-%s' % volume.id


def snapshot_name(snapshot):
    """Cinder's snapshot name ('snapshot-<id>' by default)."""
    return getattr(snapshot, 'name', None) or 'snapshot-%s' % snapshot.id


def _loaded(obj, name):
    """``obj.name``, or None; never lazy-loads a Cinder object's field."""
    is_set = getattr(obj, 'obj_attr_is_set', None)
    if is_set is not None and not is_set(name):
        return None
    return getattr(obj, name, None)


def in_use(volume):
    """Whether Cinder reports the volume attached (or being attached).

    Cinder sets ``status`` to ``extending`` or ``retyping`` while it calls
    the driver, also for attached volumes; ``attach_status`` and
    ``previous_status`` still tell.
    """
    return (_loaded(volume, 'status') in ('in-use', 'attaching',
                                          'detaching') or
            _loaded(volume, 'attach_status') == 'attached' or
            _loaded(volume, 'previous_status') == 'in-use')
