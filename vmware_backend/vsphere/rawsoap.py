"""Property collector reads sent and answered as XML, without suds.

:class:`RawService` is the ``via`` service of
:meth:`.session.VCenterSession.invoke` for the reads whose replies are
parsed from their XML (:mod:`.rawxml`): it sends a request written by
:mod:`.soapxml` and returns the reply's bytes. Only the marshalling and
unmarshalling of suds are left out; everything else is the suds client's:

* the same HTTP session (the ``vmware_soap_session`` cookie, connection
  pool), TLS settings and time-out: the request goes through the client's
  transport (:class:`.apisession.CheckedTransport`, which also turns an
  answer that is not SOAP, e.g. an HTML 5xx page, into an error), to the
  client's location with the WSDL's SOAPAction;
* the same message plugins, called as suds calls them (``sending`` with
  the envelope, ``received`` with the reply as it came): the session's
  request counting (:class:`.apisession.RequestProbe`) and any other
  probe see these requests like any other;
* the same exceptions as oslo.vmware's service raises for a call through
  suds: a SOAP fault becomes ``VimFaultException`` with the fault names of
  its detail (``NotAuthenticated`` for a ``SecurityError`` too), the
  faultstring and the detail's fields; a ``RetrievePropertiesEx`` answer
  with a ``missingSet`` raises as oslo.vmware's fault checker does;
  ``requests`` errors become ``VimConnectionException`` and httplib's
  overload errors ``VimSessionOverLoadException``. The session then
  handles them as for any call (log in again, send a read again).
"""

import http.client as httplib
import re
import uuid
import xml.etree.ElementTree as etree

from oslo_vmware import exceptions as vexc
import requests
import suds.plugin
import suds.properties
import suds.transport

from vmware_backend.vsphere import soapxml

_FAULT_TAG = '{%s}Fault' % soapxml.SOAP_ENV
_BODY_TAG = '{%s}Body' % soapxml.SOAP_ENV
_XSI_TYPE = '{%s}type' % soapxml.XSI
_HAS_FAULT = re.compile(rb'<(?:[\w-]+:)?Body[^>]*>\s*<(?:[\w-]+:)?Fault\b')
_MISSING = re.compile(rb'<(?:[\w-]+:)?missingSet[\s>]')
OP_ID_PREFIX = 'vmware_backend'


def _local(tag):
    return tag.rsplit('}', 1)[-1]


class SoapCallError(Exception):
    """The cause of a fault raised by :class:`RawService` (as suds' WebFault).

    :param name: the method called; ``faultstring``: the fault's text.
    """

    def __init__(self, name, faultstring):
        super().__init__('Server raised fault in %s: %s' % (name, faultstring))
        self.faultstring = faultstring


def fault_exception(method, reply):
    """The ``VimFaultException`` oslo.vmware raises for a fault reply.

    None when ``reply`` is no SOAP fault.
    """
    root = etree.fromstring(reply)
    body = root.find(_BODY_TAG)
    fault = body[0] if body is not None and len(body) else None
    if fault is None or fault.tag != _FAULT_TAG:
        return None
    faultstring = fault.findtext('faultstring')
    fault_list, details = [], {}
    detail = fault.find('detail')
    for item in (detail if detail is not None else ()):
        # suds' Element.get('type'): the xsi:type attribute as written.
        fault_type = item.get(_XSI_TYPE) or item.get('type') or \
            _local(item.tag)
        if fault_type.endswith(vexc.SECURITY_ERROR) or \
                fault_type.endswith(vexc.NOT_AUTHENTICATED):
            fault_type = vexc.NOT_AUTHENTICATED
        fault_list.append(fault_type)
        for child in item:
            details[_local(child.tag)] = child.text
    return vexc.VimFaultException(
        fault_list, faultstring, SoapCallError(method, faultstring), details)


def missing_exception(reply):
    """oslo.vmware's fault checker on a RetrievePropertiesEx answer.

    A ``missingSet`` entry (a property vCenter could not read, e.g.
    ``NotAuthenticated`` for an expired session) raises there; the same
    exception here, or None.
    """
    if not _MISSING.search(reply):
        return None
    fault_list, details = [], {}
    for element in etree.fromstring(reply).iter():
        if _local(element.tag) != 'missingSet':
            continue
        for part in element:
            if _local(part.tag) != 'fault':
                continue
            for inner in part:
                if _local(inner.tag) != 'fault':
                    continue
                name = (inner.get(_XSI_TYPE) or '').rsplit(':', 1)[-1]
                fault_list.append(name)
                if name == vexc.NO_PERMISSION:
                    for field in inner:
                        if _local(field.tag) in ('object', 'privilegeId'):
                            details[_local(field.tag)] = field.text
    if not fault_list:
        return None
    return vexc.VimFaultException(
        fault_list, 'Error occurred while calling RetrievePropertiesEx.',
        details=details)


class RawService:
    """The session's vSphere calls as hand-written XML; replies as bytes.

    ``service.RetrievePropertiesEx(collector, specSet=..., options=...)``:
    the parameters are :mod:`.soapxml` fragments (or plain values, e.g.
    ``token``), in the WSDL's order; the reference called is a suds
    reference or a (type, value) pair.

    :param api: the oslo.vmware session (:class:`.apisession.APISession`)
        whose suds client's transport, location, SOAPAction and plugins it
        uses.
    """

    def __init__(self, api):
        client = api.vim.client
        self._options = client.options
        method = client.wsdl.services[0].ports[0].methods[
            'RetrievePropertiesEx']
        self._location = suds.properties.Unskin(client.options).get(
            'location', method.location)
        action = method.soap.action
        self._action = action if isinstance(action, str) else \
            action.decode()

    def __getattr__(self, method):
        if method.startswith('_'):
            raise AttributeError(method)

        def invoke(moref, **params):
            this = (moref if isinstance(moref, tuple) else
                    (moref._type, moref.value))
            body = soapxml.envelope(
                method, this, params.items(),
                operation_id='%s-%s' % (OP_ID_PREFIX, uuid.uuid4()))
            return self.send(method, body)
        return invoke

    def send(self, method, body):
        """POST ``body``; the reply's bytes, or the exception suds' gives."""
        plugins = suds.plugin.PluginContainer(self._options.plugins)
        body = plugins.message.sending(envelope=body).envelope
        request = suds.transport.Request(self._location, body)
        request.headers = {'Content-Type': 'text/xml; charset=utf-8',
                           'SOAPAction': self._action}
        try:
            reply = self._options.transport.send(request)
        except (httplib.CannotSendRequest, httplib.ResponseNotReady,
                httplib.CannotSendHeader) as err:
            raise vexc.VimSessionOverLoadException(
                'httplib error in %s.' % method, err)
        except requests.RequestException as err:
            raise vexc.VimConnectionException(
                'requests error in %s.' % method, err)
        message = plugins.message.received(reply=reply.message).reply
        # suds reads a fault whatever the HTTP status (vCenter: 500).
        if _HAS_FAULT.search(message[:4096]):
            try:
                fault = fault_exception(method, message)
            except etree.ParseError as err:
                raise vexc.VimException('Exception in %s.' % method, err)
            if fault is not None:
                raise fault
        if method == 'RetrievePropertiesEx':
            missing = missing_exception(message)
            if missing is not None:
                raise missing
        return message


def service(api):
    """The :class:`RawService` of an oslo.vmware session (made once)."""
    found = getattr(api, '_vmware_backend_raw', None)
    if found is None:
        found = api._vmware_backend_raw = RawService(api)
    return found


def property_specs(type_paths):
    """``PropertySpec`` XML of {type name: paths}."""
    return [soapxml.property_spec(type_name, paths)
            for type_name, paths in type_paths.items()]


def view_spec(view, type_paths, traversal_name):
    """The filter spec reading a view's objects; ``view``: (type, value)."""
    return soapxml.filter_spec(
        property_specs(type_paths),
        [soapxml.object_spec(view, skip=True, select=[
            soapxml.traversal_spec(traversal_name, 'ContainerView',
                                   'view')])])
