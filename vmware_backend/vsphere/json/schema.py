"""Which fields of which vSphere data types are ``xsd:dateTime``.

VI/JSON writes a typed field's value bare (``"loginTime": "2023-12-28T10:
30:07.269899Z"``); only the schema says that string is a date. suds turns
such fields into :class:`datetime.datetime`, so the JSON decoder does too,
for exactly the fields the vSphere 8.0 type schemas shipped with
oslo.vmware (``oslo_vmware/wsdl/8.0/*-types.xsd``) declare as
``xsd:dateTime``, inherited fields included. The table is built once per
process, on first use.
"""

import functools
import os
from xml.etree import ElementTree

import oslo_vmware

XSD = '{http://www.w3.org/2001/XMLSchema}'
TYPES_VERSION = '8.0'
SCHEMA_FILES = ('core-types.xsd', 'query-types.xsd', 'reflect-types.xsd',
                'vim-types.xsd')


def schema_dir():
    return os.path.join(os.path.dirname(oslo_vmware.__file__), 'wsdl',
                        TYPES_VERSION)


def _local(name):
    return name.split(':', 1)[-1] if name else name


def parse_schemas(paths):
    """{type: (base type or None, {field: local type name})} of the files."""
    types = {}
    for path in paths:
        root = ElementTree.parse(path).getroot()
        for ctype in root.iter(XSD + 'complexType'):
            name = ctype.get('name')
            if not name:
                continue
            ext = ctype.find('%scomplexContent/%sextension' % (XSD, XSD))
            base = _local(ext.get('base')) if ext is not None else None
            fields = {}
            for element in ctype.iter(XSD + 'element'):
                if element.get('name'):
                    fields[element.get('name')] = _local(element.get('type'))
            types[name] = (base, fields)
    return types


def date_fields_of(types):
    """{type: frozenset of its xsd:dateTime fields, inherited too}."""
    memo = {}

    def fields(name, depth=0):
        if name in memo:
            return memo[name]
        base, own = types.get(name, (None, {}))
        found = {f for f, t in own.items() if t == 'dateTime'}
        if base and depth < 32:
            found |= fields(base, depth + 1)
        memo[name] = frozenset(found)
        return memo[name]

    return {name: fields(name) for name in types if fields(name)}


@functools.lru_cache(maxsize=1)
def date_fields():
    """The table for the schemas shipped with oslo.vmware."""
    paths = [os.path.join(schema_dir(), name) for name in SCHEMA_FILES]
    return date_fields_of(parse_schemas(p for p in paths
                                        if os.path.exists(p)))
