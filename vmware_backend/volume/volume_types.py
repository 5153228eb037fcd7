"""Reading and checking what a volume asks for: size and extra specs.

Pure functions over Cinder-like volume objects (attribute access only), so
they work with Cinder's versioned objects and with plain test doubles.
"""

import collections
import difflib
import math
import numbers
import re
import uuid

from vmware_backend import conf
from vmware_backend import exceptions
from vmware_backend.volume import qos

SPEC_DISK_TYPE = 'vmware:vmdk_type'
SPEC_ADAPTER_TYPE = 'vmware:adapter_type'
SPEC_CLONE_TYPE = 'vmware:clone_type'
# The name of a vCenter VM storage policy (SPBM) for the backing and disk.
SPEC_STORAGE_PROFILE = 'vmware:storage_profile'
SPEC_NAMESPACE = 'vmware:'
# Cinder's own extra spec of a multi-attach volume type, and the only value
# Cinder's API (volume/api.py ``_is_multiattach``) takes for "yes".
SPEC_MULTIATTACH = 'multiattach'
MULTIATTACH_YES = '<is> True'
# vSphere's multi-writer sharing needs an eagerly zeroed thick disk.
MULTIATTACH_DISK_TYPE = 'eagerZeroedThick'

# The largest virtual disk vSphere creates (VMFS 5/6, NFS, vSAN): 62 TiB.
MAX_SIZE_GB = 62 * 1024
# How much of a bad volume id error messages quote.
_ID_QUOTE_CHARS = 60

VolumeProfile = collections.namedtuple(
    'VolumeProfile', 'disk_type adapter_type clone_type multiattach')

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


def _check_spec_keys(specs, volume):
    """Refuse ``vmware:*`` keys this driver does not know.

    A misspelt key would otherwise be ignored silently and the volume made
    with the default; keys of other namespaces (``capabilities:``,
    ``volume_backend_name``...) belong to Cinder and are left alone.
    """
    known = sorted(set(_ALLOWED) | set(qos.SPEC_KEYS) |
                   {SPEC_STORAGE_PROFILE})
    for key in sorted(str(k) for k in specs):
        if not key.startswith(SPEC_NAMESPACE) or key in known:
            continue
        # Compared without the namespace every key shares, so that only a
        # near miss of the name itself gets a suggestion.
        close = difflib.get_close_matches(
            key[len(SPEC_NAMESPACE):],
            [name[len(SPEC_NAMESPACE):] for name in known], n=1, cutoff=0.6)
        raise exceptions.UnknownExtraSpec(
            volume=describe(volume), spec=key,
            hint=('did you mean %s%s? ' % (SPEC_NAMESPACE, close[0])
                  if close else ''),
            known=', '.join(known))


def multiattach(volume):
    """Whether the volume is (or, by its type, becomes) multi-attach.

    As Cinder decides it: the volume's ``multiattach`` field (Cinder also
    sets it on a clone of a multi-attach volume) or the type's extra spec
    ``multiattach`` equal to ``'<is> True'`` (Cinder's API takes no other
    spelling).
    """
    if loaded_field(volume, 'multiattach') is True:
        return True
    return extra_specs(volume).get(SPEC_MULTIATTACH) == MULTIATTACH_YES


def profile(volume, options):
    """Disk, adapter and clone type of ``volume``, checked.

    A multi-attach volume (see :func:`multiattach`) gets an
    eagerZeroedThick disk (vSphere shares only those between VMs, with
    the multi-writer flag) and full clones; a type asking for another disk
    type or for linked clones is refused.

    :raises exceptions.InvalidExtraSpec: naming the spec and the allowed
        values; :class:`exceptions.UnknownExtraSpec` for a ``vmware:`` key
        this driver does not know, with the closest known one.
    """
    specs = extra_specs(volume)
    _check_spec_keys(specs, volume)
    shared = multiattach(volume)
    disk_default = options['vcenter_default_disk_type']
    clone_default = options['vcenter_default_clone_type']
    if shared:
        _refuse_for_multiattach(specs, volume, SPEC_DISK_TYPE,
                                MULTIATTACH_DISK_TYPE,
                                'vSphere shares a disk between VMs '
                                '(multi-writer) only when it is eagerly '
                                'zeroed thick')
        _refuse_for_multiattach(specs, volume, SPEC_CLONE_TYPE, 'full',
                                'a linked clone\'s disk reads from a '
                                'snapshot, and vSphere neither snapshots '
                                'nor shares such a disk with multi-writer')
        disk_default, clone_default = MULTIATTACH_DISK_TYPE, 'full'
    return VolumeProfile(
        disk_type=_spec(specs, SPEC_DISK_TYPE, disk_default, volume),
        adapter_type=_spec(specs, SPEC_ADAPTER_TYPE,
                           options['vcenter_default_adapter_type'], volume),
        clone_type=_spec(specs, SPEC_CLONE_TYPE, clone_default, volume),
        multiattach=shared)


def _refuse_for_multiattach(specs, volume, key, wanted, why):
    value = specs.get(key)
    if value in (None, '', wanted):
        return
    raise exceptions.InvalidExtraSpec(
        volume=describe(volume), spec=key, value=value,
        allowed='%s only, with %s=%r (%s); set %s=%s or remove it from '
                'the volume type' % (wanted, SPEC_MULTIATTACH,
                                     MULTIATTACH_YES, why, key, wanted))


def storage_policy(volume):
    """The storage policy name ``vmware:storage_profile`` asks for, or None.

    :raises exceptions.InvalidExtraSpec: a blank or non-text value.
    """
    specs = extra_specs(volume)
    value = specs.get(SPEC_STORAGE_PROFILE)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise exceptions.InvalidExtraSpec(
            volume=describe(volume), spec=SPEC_STORAGE_PROFILE, value=value,
            allowed='the name of a VM storage policy of vCenter')
    return value.strip()


_FROM_VOLUME = object()


def checked_size(volume, size=_FROM_VOLUME):
    """The size in GiB: a whole number from 1 to :data:`MAX_SIZE_GB`.

    :param size: the size to check (e.g. an extend's new size); default:
        ``volume.size``. None is refused like any other bad value.
    :raises exceptions.InvalidVolume: naming the bad size and what is
        allowed.
    """
    size = getattr(volume, 'size', None) if size is _FROM_VOLUME else size
    whole = (isinstance(size, numbers.Integral) or
             (isinstance(size, numbers.Real) and math.isfinite(size) and
              size == int(size)))
    if isinstance(size, bool) or not whole or size <= 0:
        raise exceptions.InvalidVolume(
            volume=describe(volume),
            reason='size %r is not a positive whole number of GiB; give '
                   'a size from 1 to %d GiB' % (size, MAX_SIZE_GB))
    if size > MAX_SIZE_GB:
        raise exceptions.InvalidVolume(
            volume=describe(volume),
            reason='size %r GiB is larger than the largest virtual disk '
                   'vSphere supports (62 TiB = %d GiB); give a size from 1 '
                   'to %d GiB' % (size, MAX_SIZE_GB, MAX_SIZE_GB))
    return int(size)


def quoted_id(value):
    """``value`` for an error message: escaped, and shortened when long."""
    text = repr(value)
    if len(text) > _ID_QUOTE_CHARS:
        length = len(value) if isinstance(value, str) else len(text)
        text = '%s... (%d characters)' % (text[:_ID_QUOTE_CHARS], length)
    return text


def checked_id(volume_id):
    """``volume_id`` if it is a UUID in Cinder's text form (lower case).

    The id becomes the backing's ``instanceUuid`` and part of its name, so
    anything else (an empty string, a path, a 300-character string) is
    refused before vCenter is asked anything.

    :raises exceptions.InvalidVolume: naming the (escaped, shortened) id.
    """
    try:
        valid = (isinstance(volume_id, str) and
                 str(uuid.UUID(volume_id)) == volume_id)
    except ValueError:
        valid = False
    if not valid:
        raise exceptions.InvalidVolume(
            volume=quoted_id(volume_id),
            reason='the volume id is not a UUID (like '
                   '0f8fad5b-d9cb-469f-a165-70867728950e); Cinder volume ids '
                   'are UUIDs, so pass the id Cinder gave the volume')
    return volume_id


def pool_name(volume):
    """The pool Cinder's scheduler chose ('host@backend#pool'), or None."""
    host = getattr(volume, 'host', None) or ''
    return host.split('#', 1)[1] if '#' in host else None


def with_pool(host, pool):
    """Cinder's ``host@backend#pool`` (or cluster name) with ``pool``."""
    return '%s#%s' % (host.split('#', 1)[0], pool) if host else host


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


_IMAGE_VOLUME_NAME = re.compile(
    r'^image-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$')


def is_image_volume(volume):
    """Whether Cinder made the volume as an image's volume.

    Cinder's volume manager (``_clone_image_volume``: image-volume cache
    entries, and image locations with ``image_upload_use_cinder_backend``)
    names the clone it makes of a volume ``image-<image id>``.
    """
    return bool(_IMAGE_VOLUME_NAME.match(
        str(loaded_field(volume, 'display_name') or '')))


def loaded_field(obj, name):
    """``obj.<name>``, or None when unset, never making Cinder load it.

    Reading a field that a Cinder versioned object has not set makes it
    query the database; plain objects just may lack the attribute.
    """
    is_set = getattr(obj, 'obj_attr_is_set', None)
    if is_set is not None and name in getattr(obj, 'fields', ()) and \
            not is_set(name):
        return None
    return getattr(obj, name, None)
