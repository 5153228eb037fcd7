"""Which fields of which vSphere data types are ``xsd:dateTime``.

VI/JSON writes a typed field's value bare (``"loginTime": "2023-12-28T10:
30:07.269899Z"``); only the schema says that string is a date. suds turns
such fields into :class:`datetime.datetime`, so the JSON decoder does too,
for exactly the fields the vSphere 8.0 type schemas shipped with
oslo.vmware (``oslo_vmware/wsdl/8.0/*-types.xsd``) declare as
``xsd:dateTime``, inherited fields included.

Parsing those files (1.5 MB of XML) costs about 60 ms of CPU, more than a
whole VI/JSON command on a backend. The package therefore carries the table
made from them (:data:`TABLE_FILE`) together with the SHA-256 of the files
it was made from (their names, sizes and contents: :func:`digest`). On
first use in a process the installed files are hashed (a few ms) and the
carried table is used only when the digest is the same; any other
oslo.vmware schema (another release, an edited file) is parsed as before.
So the table is never stale. ``python -m
vmware_backend.vsphere.json.schema`` writes the table again for the
installed oslo.vmware (a unit test says when it must be run).
"""

import functools
import hashlib
import json
import os
import sys
from xml.etree import ElementTree

from oslo_log import log as logging
import oslo_vmware

LOG = logging.getLogger(__name__)

XSD = '{http://www.w3.org/2001/XMLSchema}'
TYPES_VERSION = '8.0'
SCHEMA_FILES = ('core-types.xsd', 'query-types.xsd', 'reflect-types.xsd',
                'vim-types.xsd')
# The precomputed table (see the module doc); FORMAT changes with its shape.
TABLE_FILE = os.path.join(os.path.dirname(__file__),
                          'datefields-%s.json' % TYPES_VERSION)
FORMAT = 1


def schema_dir():
    return os.path.join(os.path.dirname(oslo_vmware.__file__), 'wsdl',
                        TYPES_VERSION)


def schema_paths():
    """The schema files of the table, in :data:`SCHEMA_FILES` order.

    Missing ones too: :func:`digest` tells them apart.
    """
    return [os.path.join(schema_dir(), name) for name in SCHEMA_FILES]


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


def digest(paths):
    """SHA-256 (hex) of the files' names, sizes and contents, in order.

    A missing file counts as such (the table is made of those present).
    """
    sha = hashlib.sha256(b'vmware_backend-datefields-%d\n' % FORMAT)
    for path in paths:
        name = os.path.basename(path).encode('utf-8')
        try:
            with open(path, 'rb') as handle:
                content = handle.read()
        except FileNotFoundError:
            sha.update(b'missing %s\n' % name)
            continue
        sha.update(b'file %s %d\n' % (name, len(content)))
        sha.update(content)
    return sha.hexdigest()


def parse_table(paths):
    """The table parsed from the schema files ``paths`` (those present)."""
    return date_fields_of(parse_schemas(p for p in paths
                                        if os.path.exists(p)))


def load_table(path, wanted_digest):
    """The table in ``path`` if it was made from ``wanted_digest``.

    None when it was not, or ``path`` cannot be read as a table.
    """
    try:
        with open(path, encoding='utf-8') as handle:
            data = json.load(handle)
        if (data.get('format') != FORMAT or
                data.get('digest') != wanted_digest):
            return None
        return {name: frozenset(fields)
                for name, fields in data['fields'].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def table_text(paths):
    """The JSON text of :data:`TABLE_FILE` for the files ``paths``.

    One line per type.
    """
    table = parse_table(paths)
    lines = ['{"format": %d,' % FORMAT,
             ' "types_version": %s,' % json.dumps(TYPES_VERSION),
             ' "digest": %s,' % json.dumps(digest(paths)),
             ' "fields": {']
    entries = ['  %s: %s' % (json.dumps(name), json.dumps(sorted(fields)))
               for name, fields in sorted(table.items())]
    lines.append(',\n'.join(entries))
    lines.append(' }}')
    return '\n'.join(lines) + '\n'


def date_fields_for(paths, table_file=TABLE_FILE):
    """The table for the schema files ``paths``.

    The precomputed one when it was made from exactly these files, else
    parsed from them.
    """
    found = load_table(table_file, digest(paths))
    if found is None:
        LOG.debug('The vSphere schema files in %s are not those %s was '
                  'made from: parsing them', os.path.dirname(paths[0]),
                  table_file)
        found = parse_table(paths)
    return found


@functools.lru_cache(maxsize=1)
def date_fields():
    """The table for the schemas shipped with oslo.vmware (once)."""
    return date_fields_for(schema_paths())


def main(argv=None):
    """Write :data:`TABLE_FILE` for the installed oslo.vmware."""
    argv = sys.argv[1:] if argv is None else argv
    target = argv[0] if argv else TABLE_FILE
    with open(target, 'w', encoding='utf-8') as handle:
        handle.write(table_text(schema_paths()))
    print('wrote %s' % target)
    return 0


if __name__ == '__main__':
    sys.exit(main())
