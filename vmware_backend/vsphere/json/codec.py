"""VI/JSON values to and from plain Python values.

Decoding gives what :func:`vmware_backend.vsphere.inventory.to_plain` gives
for the same value read over SOAP, so callers cannot tell the transports
apart:

* ``{"_typeName": "ManagedObjectReference", "type": T, "value": V}`` ->
  :class:`~vmware_backend.vsphere.inventory.MoRef`;
* a wrapped value ``{"_typeName": T, "_value": V}`` (what VI/JSON writes
  where the declared type is ``anyType``: primitives, enums, ``ArrayOf*``)
  -> the value (a list for ``ArrayOf*``, a datetime for ``dateTime``);
* any other object -> a dict of its fields, without ``_typeName``; fields
  the schema declares ``xsd:dateTime`` (see :mod:`.schema`) become
  timezone-aware datetimes, as suds makes them;
* strings, numbers, booleans, lists stay; an empty string field of a data
  object is None, as suds reads the empty element.

One difference remains and is documented in :mod:`..inventory`: suds parses
an empty array as ``''``, JSON has ``[]``; callers read arrays as
``props.get(path) or []``.

Encoding (:func:`encode`) turns request parameters written as plain values
into VI/JSON: a MoRef becomes its object form, a :class:`Typed` becomes
``{"_typeName": ..., fields...}``, everything else is written as is.
"""

import datetime
import re

from vmware_backend.vsphere.json import schema
from vmware_backend.vsphere.refs import MoRef

TYPE = '_typeName'
VALUE = '_value'
MOREF = 'ManagedObjectReference'


class Typed(dict):
    """A data object to send: its type name and its fields."""

    def __init__(self, type_name, **fields):
        super().__init__(fields)
        self.type_name = type_name


def moref(ref):
    """The VI/JSON form of a :class:`MoRef`."""
    return {TYPE: MOREF, 'type': ref.type, 'value': ref.value}


def encode(value):
    """Request parameters (plain values) as VI/JSON-ready values."""
    if isinstance(value, MoRef):
        return moref(value)
    if isinstance(value, Typed):
        out = {TYPE: value.type_name}
        out.update((k, encode(v)) for k, v in value.items()
                   if v is not None)
        return out
    if isinstance(value, dict):
        return {k: encode(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [encode(item) for item in value]
    if isinstance(value, datetime.datetime):
        return _format_date(value)
    return value


def _format_date(value):
    if value.tzinfo is not None:
        value = value.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    return value.isoformat() + 'Z'


_FRACTION = re.compile(r'T\d\d:\d\d:\d\d\.(\d+)')


def parse_date(text):
    """An ``xsd:dateTime`` string as an aware datetime (UTC if unzoned)."""
    if not isinstance(text, str):
        return text
    match = _FRACTION.search(text)
    round_up = False
    if match and len(match.group(1)) > 6:
        # Sub-microsecond digits are rounded (half up on the 7th digit),
        # as suds does, so both transports give the same datetime.
        round_up = match.group(1)[6] >= '5'
        text = text[:match.start(1) + 6] + text[match.end(1):]
    value = datetime.datetime.fromisoformat(
        text[:-1] + '+00:00' if text.endswith('Z') else text)
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.timezone.utc)
    if round_up:
        value += datetime.timedelta(microseconds=1)
    return value


# JSON scalars: decoded as themselves, without a call (the decoder's hot
# path: most values of a page are strings and numbers).
_SCALARS = frozenset((str, int, float, bool, type(None)))
_tuple_new = tuple.__new__


def _moref(value):
    # MoRef(type, value) without namedtuple's keyword-argument wrapper
    return _tuple_new(MoRef, (value['type'], value['value']))


def decode(value, _dates=None):
    """A VI/JSON value as plain Python values (see the module doc)."""
    if isinstance(value, list):
        return [item if type(item) in _SCALARS else
                _moref(item) if type(item) is dict and
                item.get(TYPE) == MOREF else decode(item, _dates)
                for item in value]
    if not isinstance(value, dict):
        return value
    type_name = value.get(TYPE)
    if type_name == MOREF:
        return _moref(value)
    if VALUE in value:
        inner = value[VALUE]
        if type_name == 'dateTime':
            return parse_date(inner)
        if type_name == 'ArrayOfDateTime':
            return [parse_date(item) for item in inner or []]
        return decode(inner, _dates)
    if _dates is None:
        _dates = schema.date_fields()
    dates = _dates.get(type_name, ())
    out = {}
    for key, item in value.items():
        if key == TYPE:
            continue
        if key in dates:
            out[key] = ([parse_date(i) for i in item]
                        if isinstance(item, list) else parse_date(item))
        elif item == '':
            out[key] = None  # suds reads an empty element as None
        elif type(item) in _SCALARS:
            out[key] = item
        elif type(item) is dict and item.get(TYPE) == MOREF:
            out[key] = _moref(item)
        else:
            out[key] = decode(item, _dates)
    return out


def object_contents(result):
    """(MoRef, {path: plain value}) of each object of a RetrieveResult.

    ``result`` is the decoded-as-JSON (not yet plain) result, or None.
    Raises nothing: the caller looks at ``missing_faults`` first.
    """
    dates = schema.date_fields()
    for content in (result or {}).get('objects') or []:
        props = {prop['name']: decode(prop.get('val'), dates)
                 for prop in content.get('propSet') or []}
        yield decode(content['obj']), props


def missing_faults(result):
    """The ``_typeName`` of each fault in the result's missingSets."""
    faults = []
    for content in (result or {}).get('objects') or []:
        for missing in content.get('missingSet') or []:
            fault = (missing.get('fault') or {}).get('fault') or {}
            faults.append((missing.get('path'), fault.get(TYPE)))
    return faults
