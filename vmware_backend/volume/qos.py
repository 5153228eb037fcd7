"""Per-volume I/O allocation (QoS) from Cinder's QoS specs and extra specs.

A volume's disk gets a ``StorageIOAllocationInfo`` (honoured by vSphere's
Storage I/O Control) built from, in this order (later wins):

1. the volume type's extra specs ``vmware:iops_limit``,
   ``vmware:iops_reservation``, ``vmware:shares_level``, ``vmware:shares``;
2. the volume type's QoS specs when their consumer is ``back-end`` or
   ``both``: ``total_iops_sec`` (the IOPS limit), and the vendor keys
   ``vmware:iops_reservation``, ``vmware:shares_level`` and
   ``vmware:shares``.

``vmware:shares_level`` is ``low``, ``normal``, ``high`` or ``custom``;
``vmware:shares`` (a count) implies ``custom``. Limits and reservations are
whole IOPS (``-1``: unlimited limit); a reservation above the limit is an
error.

QoS specs with consumer ``front-end`` or ``both`` also travel to the
hypervisor side: ``initialize_connection`` carries them as
``connection_info['data']['qos_specs']`` (as Cinder's volume manager puts
them there), and this driver's own instance-side attach gives the
instance's disk the same allocation (:func:`front_end_allocation`). Nova's
vmwareapi driver (Nova 34) does not read them when it attaches a ``vmdk``
volume. Pure functions; nothing here talks to vCenter.
"""

import collections

from vmware_backend import exceptions

SHARES_LEVELS = ('low', 'normal', 'high', 'custom')
BACK_END_CONSUMERS = ('back-end', 'both')
FRONT_END_CONSUMERS = ('front-end', 'both')

KEY_LIMIT = 'vmware:iops_limit'
KEY_RESERVATION = 'vmware:iops_reservation'
KEY_SHARES_LEVEL = 'vmware:shares_level'
KEY_SHARES = 'vmware:shares'
# The volume-type extra specs read here (volume_types accepts them).
SPEC_KEYS = (KEY_LIMIT, KEY_RESERVATION, KEY_SHARES_LEVEL, KEY_SHARES)
QOS_LIMIT = 'total_iops_sec'

Allocation = collections.namedtuple(
    'Allocation', 'limit reservation shares_level shares')
Allocation.__doc__ = ('A disk\'s I/O allocation; None fields are left to '
                      'vSphere\'s defaults.')
NONE = Allocation(None, None, None, None)


def _loaded(obj, name):
    if isinstance(obj, dict):
        # Cinder passes retype's new type as a dict.
        return obj.get(name)
    is_set = getattr(obj, 'obj_attr_is_set', None)
    if is_set is not None and not is_set(name):
        return None
    return getattr(obj, name, None)


def _qos_specs(volume):
    """(consumer, specs dict) of the volume type's QoS specs, if loaded."""
    vtype = _loaded(volume, 'volume_type')
    qos = _loaded(vtype, 'qos_specs') if vtype is not None else None
    if not qos:
        return None, {}
    if isinstance(qos, dict):
        return qos.get('consumer'), dict(qos.get('specs') or {})
    return getattr(qos, 'consumer', None), dict(getattr(qos, 'specs', None)
                                                or {})


def _int(volume, key, value, minimum):
    try:
        number = int(str(value).strip())
    except ValueError:
        number = None
    if number is None or number < minimum:
        raise exceptions.InvalidExtraSpec(
            volume=volume.id, spec=key, value=value,
            allowed='a whole number >= %d' % minimum)
    return number


def allocation(volume):
    """The :class:`Allocation` for ``volume`` (``NONE`` without QoS).

    :raises exceptions.InvalidExtraSpec: a bad value, naming the key.
    """
    vtype = _loaded(volume, 'volume_type')
    merged = dict(_loaded(vtype, 'extra_specs') or {}) if vtype else {}
    merged = {k: v for k, v in merged.items()
              if k in (KEY_LIMIT, KEY_RESERVATION, KEY_SHARES_LEVEL,
                       KEY_SHARES)}
    consumer, qos = _qos_specs(volume)
    if consumer in BACK_END_CONSUMERS:
        merged.update(_from_qos_specs(qos))
    return _parsed(volume, merged)


def _from_qos_specs(qos):
    found = {}
    if QOS_LIMIT in qos:
        found[KEY_LIMIT] = qos[QOS_LIMIT]
    for key in (KEY_RESERVATION, KEY_SHARES_LEVEL, KEY_SHARES):
        if key in qos:
            found[key] = qos[key]
    return found


def front_end_allocation(volume):
    """The allocation an instance's disk of the volume gets on attach.

    From the QoS specs with consumer ``front-end`` or ``both`` only
    (``total_iops_sec`` and the ``vmware:*`` vendor keys); ``NONE``
    without them.

    :raises exceptions.InvalidExtraSpec: a bad value, naming the key.
    """
    consumer, qos = _qos_specs(volume)
    if consumer not in FRONT_END_CONSUMERS:
        return NONE
    return _parsed(volume, _from_qos_specs(qos))


def _parsed(volume, merged):
    if not merged:
        return NONE
    limit = reservation = shares = level = None
    if KEY_LIMIT in merged:
        limit = _int(volume, KEY_LIMIT, merged[KEY_LIMIT], -1)
    if KEY_RESERVATION in merged:
        reservation = _int(volume, KEY_RESERVATION, merged[KEY_RESERVATION],
                           0)
    if KEY_SHARES in merged:
        shares = _int(volume, KEY_SHARES, merged[KEY_SHARES], 1)
        level = 'custom'
    if KEY_SHARES_LEVEL in merged:
        level = str(merged[KEY_SHARES_LEVEL]).strip()
        if level not in SHARES_LEVELS:
            raise exceptions.InvalidExtraSpec(
                volume=volume.id, spec=KEY_SHARES_LEVEL, value=level,
                allowed=', '.join(SHARES_LEVELS))
        if level == 'custom' and shares is None:
            raise exceptions.InvalidExtraSpec(
                volume=volume.id, spec=KEY_SHARES_LEVEL, value=level,
                allowed='custom only with %s (a count)' % KEY_SHARES)
        if level != 'custom' and shares is not None:
            raise exceptions.InvalidExtraSpec(
                volume=volume.id, spec=KEY_SHARES, value=shares,
                allowed='only with %s=custom (or without it)'
                        % KEY_SHARES_LEVEL)
    if limit not in (None, -1) and reservation is not None and \
            reservation > limit:
        raise exceptions.InvalidExtraSpec(
            volume=volume.id, spec=KEY_RESERVATION, value=reservation,
            allowed='at most the IOPS limit %d' % limit)
    return Allocation(limit, reservation, level, shares)


def front_end_specs(volume):
    """QoS specs for the hypervisor (consumer front-end/both), or None."""
    consumer, qos = _qos_specs(volume)
    if consumer in FRONT_END_CONSUMERS and qos:
        return dict(qos)
    return None


# vSphere's defaults for a disk without an explicit allocation.
DEFAULT = Allocation(-1, 0, 'normal', None)


def complete(alloc):
    """``alloc`` with vSphere's defaults for the values it leaves open.

    A volume's whole allocation: what a disk copied from another (a clone,
    an adopted disk) or a retyped one must end up with.
    """
    limit, reservation, level, shares = (
        value if value is not None else default
        for value, default in zip(alloc, DEFAULT))
    return Allocation(limit, reservation, level,
                      shares if level == 'custom' else None)


def of_disk(disk):
    """The complete :class:`Allocation` a disk device (as read) has."""
    info = getattr(disk, 'storageIOAllocation', None)
    shares = getattr(info, 'shares', None)
    level = getattr(shares, 'level', None)
    return complete(Allocation(
        getattr(info, 'limit', None), getattr(info, 'reservation', None),
        str(level) if level is not None else None,
        getattr(shares, 'shares', None)))


def of_plain_disk(device):
    """:func:`of_disk` of a disk device read as plain values.

    ``device``: a dict as :mod:`..vsphere.rawxml` gives it (fields by
    name, integers as ints).
    """
    info = device.get('storageIOAllocation')
    info = info if isinstance(info, dict) else {}
    shares = info.get('shares')
    shares = shares if isinstance(shares, dict) else {}
    return complete(Allocation(
        info.get('limit'), info.get('reservation'), shares.get('level'),
        shares.get('shares')))


def change_for_plain(volume, device):
    """:func:`change_for` of a disk device read as plain values."""
    wanted = complete(allocation(volume))
    return None if wanted == of_plain_disk(device) else wanted


def change_for(volume, disk):
    """The allocation to give ``disk`` so it matches ``volume``'s type.

    None when the disk already has it (nothing to change).

    :raises exceptions.InvalidExtraSpec: a bad QoS value, naming the key.
    """
    wanted = complete(allocation(volume))
    return None if wanted == of_disk(disk) else wanted
