"""Property collector pages parsed from their XML, without suds objects.

suds builds a Python object for every element of a reply, by the WSDL
schema: for a paged read of thousands of VMs' device lists that is most of
the time (at 1 000 VMs about 23 s of 28, the reply itself 5 s; see the
README's listing figures). :class:`RawService` sends the same
``RetrievePropertiesEx``/``ContinueRetrievePropertiesEx`` requests through
a clone of the session's suds client with ``retxml`` (same transport and
cookies, same request counting); its transport keeps a successful reply's
XML and hands suds a stub instead (suds would parse the whole reply with
its pure-Python SAX parser before returning it). :func:`page` turns the
XML into the plain values :func:`.inventory.to_plain`
gives: references (made by the caller's ``moref``, e.g.
:class:`.inventory.MoRef`), lists for arrays, dicts for data objects,
ints/bools/datetimes by ``xsi:type`` or, for the untyped fields of the
objects read here, by field name. With ``typed``, a data object's dict
also keeps its ``xsi:type`` under :data:`TYPE_KEY` (e.g. which device of
a list is a ``VirtualDisk``).

A fault reply goes to suds unchanged and raises as usual; it becomes
oslo.vmware's exception, so
:meth:`.session.VCenterSession.invoke` handles them (re-login, lost
answers) as for any call.
"""

import re
import threading
import xml.etree.ElementTree as etree

from oslo_vmware import exceptions as vexc
import requests
import suds
import suds.client
import suds.options
import suds.properties
import suds.sax.date
import suds.transport

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


def _fault_names(err):
    names = []
    document = getattr(err, 'document', None)
    detail = document.childAtPath('/Envelope/Body/Fault/detail') \
        if document is not None else None
    for fault in (detail.getChildren() if detail else None) or []:
        fault_type = fault.get('type') or fault.name
        if fault_type.endswith(vexc.NOT_AUTHENTICATED):
            fault_type = vexc.NOT_AUTHENTICATED
        names.append(fault_type)
    return names


# What suds gets to parse instead of a successful reply (suds parses a
# reply with its pure-Python SAX parser before it looks at ``retxml``).
_STUB = (b'<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:'
         b'soapenv="http://schemas.xmlsoap.org/soap/envelope/">'
         b'<soapenv:Body/></soapenv:Envelope>')


class _Stub(bytes):
    """The stub suds parses; ``came``: the size of the reply kept.

    (:class:`.apisession.RequestProbe` counts that size as received.)
    """

    came = None


_FAULT = re.compile(rb'<(?:[\w-]+:)?Body[^>]*>\s*<(?:[\w-]+:)?Fault\b')


class _SharedTransport(suds.transport.Transport):
    """Sends through another transport (its HTTP session and cookies).

    A successful reply is kept (per thread) for :class:`RawService`, and
    suds gets a stub to parse; a fault goes to suds as it is.
    """

    def __init__(self, inner):
        super().__init__()
        self._inner = inner
        self.kept = threading.local()

    def send(self, request):
        reply = self._inner.send(request)
        self.kept.message = None
        if reply.code in (None, 200) and not _FAULT.search(
                reply.message[:4096]):
            self.kept.message = reply.message
            stub = _Stub(_STUB)
            stub.came = len(reply.message)
            return suds.transport.Reply(200, reply.headers, stub)
        return reply

    def open(self, request):
        return self._inner.open(request)


class _Uninitialized(suds.client.Client):
    def __init__(self):  # pylint: disable=super-init-not-called
        pass


def _raw_clone(client):
    """A suds client answering with the reply's XML.

    It shares ``client``'s WSDL, transport (cookies) and plugins (request
    counting). (suds' own ``clone`` deep-copies the options, transport
    included.)
    """
    clone = _Uninitialized()
    clone.options = suds.options.Options()
    values = suds.properties.Unskin(client.options)
    for key in values.keys():
        if key == 'transport':
            continue
        try:
            clone.set_options(**{key: values.get(key)})
        except AttributeError:
            pass  # a property of the transport, not of the client
    clone.set_options(transport=_SharedTransport(client.options.transport))
    clone.wsdl = client.wsdl
    clone.factory = client.factory
    clone.service = suds.client.ServiceSelector(clone, client.wsdl.services)
    clone.sd = client.sd
    clone.messages = dict(tx=None, rx=None)
    clone.set_options(retxml=True)
    return clone


class RawService:
    """The session's vSphere calls, answering with the reply's XML.

    :param api: the oslo.vmware session (:class:`.apisession.APISession`)
        whose client, transport and request counting it shares.
    """

    def __init__(self, api):
        self._client = _raw_clone(api.vim.client)
        self._transport = self._client.options.transport

    def __getattr__(self, method):
        call = getattr(self._client.service, method)

        def invoke(moref, **kwargs):
            try:
                call(moref, **kwargs)
                return self._transport.kept.message
            except suds.WebFault as err:
                fault = getattr(err, 'fault', None)
                raise vexc.VimFaultException(
                    _fault_names(err), getattr(fault, 'faultstring', None)
                    or str(err), err)
            except requests.RequestException as err:
                raise vexc.VimConnectionException(
                    'requests error in %s.' % method, err)
        return invoke
