"""vSphere SOAP requests written by hand: property collector reads.

suds builds a request by walking the WSDL schema for every value
(``factory.create`` of each spec, then marshalling): for one small
``RetrievePropertiesEx`` about as much client time as the round trip on
the simulator. The requests here are the same XML written directly, for
the reads whose replies are parsed from their XML too
(:mod:`.rawxml`, :mod:`.rawsoap`). They follow the WSDL's element order
(``PropertyFilterSpec``: ``propSet``, ``objectSet``; ``PropertySpec``:
``type``, ``all``, ``pathSet``; ``ObjectSpec``: ``obj``, ``skip``,
``selectSet``; ``TraversalSpec``: ``name``, ``type``, ``path``, ``skip``,
``selectSet``); a traversal in a ``selectSet`` carries
``xsi:type="vim25:TraversalSpec"``.

Every value is escaped (``&``, ``<``, ``>``, quotes); a value XML 1.0
cannot carry at all (control characters) is refused with
:class:`ValueError` naming it, before anything is sent. Built fragments
are :class:`Markup`, which the builders insert as they are; anything else
is a value.
"""

import re
from xml.sax import saxutils

SOAP_ENV = 'http://schemas.xmlsoap.org/soap/envelope/'
XSI = 'http://www.w3.org/2001/XMLSchema-instance'
XSD = 'http://www.w3.org/2001/XMLSchema'
VIM25 = 'urn:vim25'
# Characters XML 1.0 has no representation for (not even escaped).
_NOT_XML = re.compile('[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]')
_NAME = re.compile(r'^[A-Za-z_][\w.-]*$')


class Markup(str):
    """XML built here, inserted as it is (not escaped again)."""


def text(value):
    """``value`` as escaped XML text (``true``/``false`` for booleans).

    :raises ValueError: ``value`` holds characters XML cannot carry.
    """
    if isinstance(value, Markup):
        return value
    if isinstance(value, bool):
        return 'true' if value else 'false'
    value = str(value)
    bad = _NOT_XML.search(value)
    if bad:
        raise ValueError('%r cannot be sent to vCenter: character %r is not '
                         'allowed in XML; remove it' % (value, bad.group()))
    return saxutils.escape(value, {'"': '&quot;', "'": '&apos;'})


def element(name, content=None, **attrs):
    """``<name attrs>content</name>``; ``content`` Markup or a value.

    ``None`` content gives nothing at all (an unset optional field); a list
    gives one element per item.
    """
    if not _NAME.match(name):
        raise ValueError('not an XML element name: %r' % (name,))
    if content is None:
        return Markup('')
    if isinstance(content, (list, tuple)):
        return Markup(''.join(element(name, item, **attrs)
                              for item in content))
    head = name + ''.join(' %s="%s"' % (key.replace('__', ':'), text(value))
                          for key, value in attrs.items())
    return Markup('<%s>%s</%s>' % (head, text(content), name))


def moref(name, ref):
    """A managed object reference element; ``ref``: (type, value)."""
    return element(name, ref[1], type=ref[0])


def property_spec(type_name, paths):
    """A ``PropertySpec``: some paths of one type (none: references)."""
    return element('propSet', Markup(
        element('type', type_name) + element('all', False) +
        element('pathSet', list(paths))))


def traversal_spec(name, type_name, path, skip=False, select=()):
    """A ``TraversalSpec`` in a ``selectSet`` (``select``: nested ones)."""
    return element('selectSet', Markup(
        element('name', name) + element('type', type_name) +
        element('path', path) + element('skip', skip) + ''.join(select)),
        xsi__type='vim25:TraversalSpec')


def object_spec(ref, skip=False, select=()):
    """An ``ObjectSpec`` starting at ``ref`` ((type, value))."""
    return element('objectSet', Markup(
        moref('obj', ref) + element('skip', skip) + ''.join(select)))


def filter_spec(property_specs, object_specs):
    """A ``PropertyFilterSpec`` (as the ``specSet`` parameter)."""
    return element('specSet', Markup(''.join(property_specs) +
                                     ''.join(object_specs)))


def retrieve_options(max_objects=None):
    """``RetrieveOptions`` (as the ``options`` parameter)."""
    return element('options', Markup(element('maxObjects', max_objects)))


def envelope(method, this, params, operation_id=None):
    """The SOAP request of ``method`` on ``this`` ((type, value)).

    :param params: (name, content) pairs in the WSDL's order; a Markup
        content is a whole parameter element (or several) as built above,
        anything else a value written as ``<name>value</name>``.
    :param operation_id: sent as the ``operationID`` SOAP header (as
        oslo.vmware does), for vCenter's logs.
    :returns: UTF-8 bytes.
    """
    body = [moref('_this', this)]
    for name, content in params:
        body.append(content if isinstance(content, Markup)
                    else element(name, content))
    header = ('<soapenv:Header>%s</soapenv:Header>'
              % element('operationID', operation_id)
              if operation_id else '')
    return ('<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope '
            'xmlns:soapenv="%s" xmlns:xsi="%s" xmlns:xsd="%s" '
            'xmlns:vim25="%s">%s<soapenv:Body>%s</soapenv:Body>'
            '</soapenv:Envelope>' % (
                SOAP_ENV, XSI, XSD, VIM25, header,
                element(method, Markup(''.join(body)), xmlns=VIM25))
            ).encode('utf-8')
