"""Property collector pages parsed from their XML, without suds objects.

suds builds a Python object for every element of a reply, by the WSDL
schema: for a paged read of thousands of VMs' device lists that is most of
the time (at 1 000 VMs about 23 s of 28, the reply itself 5 s; see the
README's listing figures). The requests of these reads are written by
hand too and their replies returned as bytes (:mod:`.rawsoap`: same
transport and cookies, same request counting, same exceptions).
:func:`page` turns the XML into the plain values :func:`.inventory.to_plain`
gives: references (made by the caller's ``moref``, e.g.
:class:`.inventory.MoRef`), lists for arrays, dicts for data objects,
ints/bools/datetimes by ``xsi:type`` or, for the untyped fields of the
objects read here, by field name. With ``typed``, a data object's dict
also keeps its ``xsi:type`` under :data:`TYPE_KEY` (e.g. which device of
a list is a ``VirtualDisk``).
"""

import xml.etree.ElementTree as etree

import suds.sax.date

_XSI_TYPE = '{http://www.w3.org/2001/XMLSchema-instance}type'
_INTS = ('xsd:int', 'xsd:long', 'xsd:short', 'xsd:byte')
# Fields without xsi:type in the objects read here (schema types).
INT_FIELDS = frozenset((
    'key', 'capacityInKB', 'capacityInBytes', 'controllerKey', 'unitNumber',
    'id', 'busNumber', 'numCPU', 'memoryMB', 'device', 'scsiCtlrUnitNumber',
    'pciSlotNumber', 'limit', 'reservation', 'shares'))
BOOL_FIELDS = frozenset((
    'thinProvisioned', 'eagerlyScrub', 'quiesced', 'replaySupported',
    'writeThrough', 'split', 'connected', 'startConnected',
    'allowGuestControl', 'template', 'digestEnabled', 'useAutoDetect',
    'allowUnrestrictedCommunication', 'wakeOnLanEnabled'))
DATETIME_FIELDS = frozenset(('createTime', 'modified'))
# Data objects whose untyped fields are text whatever their names.
_TEXT_KEYED = frozenset(('OptionValue', 'KeyValue'))
# Array fields of data objects that may hold one element (no ArrayOf*
# wrapper around them).
# Where ``typed`` keeps a data object's xsi:type (no vSphere field name
# starts with "@").
TYPE_KEY = '@type'
LIST_FIELDS = frozenset(('rootSnapshotList', 'childSnapshotList', 'device',
                         'extraConfig', 'vDiskId'))


def _local(tag):
    return tag.rsplit('}', 1)[-1]


def _text(value, name, xsi_type):
    if not value:
        return None  # as suds: an empty element has no value
    text = value
    if xsi_type in _INTS or (xsi_type is None and name in INT_FIELDS):
        return int(text)
    untyped = xsi_type is None
    if xsi_type == 'xsd:boolean' or (untyped and name in BOOL_FIELDS):
        return text.strip() == 'true'
    if xsi_type == 'xsd:dateTime' or (untyped and name in DATETIME_FIELDS):
        # suds' own parser: the same rounding to microseconds.
        return suds.sax.date.DateTime(text).value
    return text


def to_plain(element, moref, name=None, typed=False):
    """The plain value of one element (see the module doc).

    :param moref: makes a reference from (type, value).
    :param typed: keep data objects' ``xsi:type`` (:data:`TYPE_KEY`).
    """
    xsi_type = element.get(_XSI_TYPE)
    children = list(element)
    if xsi_type and xsi_type.startswith('ArrayOf'):
        return [to_plain(child, moref, _local(child.tag), typed)
                for child in children]
    if not children:
        if element.get('type') is not None and (
                xsi_type in (None, 'ManagedObjectReference')):
            return moref(element.get('type'), element.text or '')
        return _text(element.text, name, xsi_type)
    result = {TYPE_KEY: xsi_type} if typed and xsi_type else {}
    # An OptionValue's key is text (a device's key is an int).
    by_name = xsi_type not in _TEXT_KEYED
    for child in children:
        field = _local(child.tag)
        value = to_plain(child, moref, field if by_name else None,
                         typed)
        if field in result:
            if not isinstance(result[field], list) or \
                    field not in LIST_FIELDS:
                result[field] = [result[field]]
            result[field].append(value)
        elif field in LIST_FIELDS:
            result[field] = [value]
        else:
            result[field] = value
    return result


def page(reply, moref, typed=False):
    """(token or None, [(reference, {path: value})]) of a reply's XML.

    :param typed: keep data objects' ``xsi:type`` (:data:`TYPE_KEY`).
    """
    root = etree.fromstring(reply)
    returnval = None
    for element in root.iter():
        if _local(element.tag) == 'returnval':
            returnval = element
            break
    if returnval is None:
        return None, []
    token = None
    objects = []
    for child in returnval:
        field = _local(child.tag)
        if field == 'token':
            token = child.text
        elif field == 'objects':
            ref, props = None, {}
            for part in child:
                part_name = _local(part.tag)
                if part_name == 'obj':
                    ref = moref(part.get('type'), part.text)
                elif part_name == 'propSet':
                    path, val = None, None
                    for item in part:
                        if _local(item.tag) == 'name':
                            path = item.text
                        elif _local(item.tag) == 'val':
                            val = item
                    props[path] = (to_plain(val, moref,
                                            path.rsplit('.', 1)[-1], typed)
                                   if val is not None else None)
            objects.append((ref, props))
    return token, objects
