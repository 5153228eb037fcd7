"""Logging in to vCenter without suds: two small SOAP envelopes.

A session needs ``RetrieveServiceContent`` (where the SessionManager is)
and ``SessionManager.Login``; vCenter answers the Login with the
``vmware_soap_session`` cookie that every later request carries. Through
suds both need the parsed service description (about 500 000 objects, see
:mod:`.wsdlcache`) and the oslo/suds imports: most of a new process's
start. Here the two requests are written by hand, sent with ``requests``
and their replies read with ElementTree; the suds client is built later,
on the first call that needs it (:mod:`.apisession`), and shares this
module's HTTP session, so the cookie (and the connection pool) are its own.

:class:`SoapLogin` is the login state of one
:class:`~.session.VCenterSession`: the HTTP session, the session key, the
service content (as references and as the reply's XML, which suds later
reads instead of asking again) and the bounded login with the errors the
backend reports (never with the password: it is only in the request body,
which no error or log record here contains).
"""

import logging
import re
import threading
import time
import xml.etree.ElementTree as etree
from xml.sax import saxutils

import requests

from vmware_backend import exceptions
from vmware_backend.vsphere import transport

LOG = logging.getLogger(__name__)

SOAP_ENV = 'http://schemas.xmlsoap.org/soap/envelope/'
XSI = 'http://www.w3.org/2001/XMLSchema-instance'
VIM25 = 'urn:vim25'
# The SOAPAction (the API release vCenter answers in) before suds has read
# a WSDL in this process: Login and RetrieveServiceContent are the same in
# every release, and vCenter 6.0 to 8 serve release 6.0 (its ServiceContent
# has every field this package uses). Then: the WSDL's (use_action).
DEFAULT_ACTION = '"urn:vim25/6.0"'
_action = [DEFAULT_ACTION]
COOKIE = 'vmware_soap_session'
_XSI_TYPE = '{%s}type' % XSI
_BODY = '{%s}Body' % SOAP_ENV
_FAULT = '{%s}Fault' % SOAP_ENV


def use_action(action):
    """Send the SOAPAction of the WSDL suds read (``urn:vim25/x.y``)."""
    action = action if isinstance(action, str) else action.decode()
    _action[0] = action if action.startswith('"') else '"%s"' % action


def soap_action():
    """The SOAPAction header sent with the login's requests."""
    return _action[0]


class SoapFault(Exception):
    """vCenter answered with a SOAP fault.

    :param name: the vSphere fault's type (``InvalidLogin``...), or the
        faultcode when there is no detail.
    :param text: the faultstring.
    """

    def __init__(self, name, text):
        super().__init__('%s: %s' % (name, text))
        self.name = name
        self.text = text


def _escape(value):
    return saxutils.escape(str(value), {'"': '&quot;'})


def envelope(method, this, **params):
    """The SOAP request of ``method`` on the reference ``this``.

    :param this: (type, value) of the managed object called.
    :param params: parameter name -> text value (None: left out), in the
        order the WSDL lists them (the caller's order).
    :returns: UTF-8 bytes.
    """
    parts = ['<?xml version="1.0" encoding="UTF-8"?>'
             '<soapenv:Envelope xmlns:soapenv="%s" xmlns:xsi="%s">'
             '<soapenv:Body><%s xmlns="%s">'
             '<_this type="%s">%s</_this>'
             % (SOAP_ENV, XSI, method, VIM25, _escape(this[0]),
                _escape(this[1]))]
    for name, value in params.items():
        if value is not None:
            parts.append('<%s>%s</%s>' % (name, _escape(value), name))
    parts.append('</%s></soapenv:Body></soapenv:Envelope>' % method)
    return ''.join(parts).encode('utf-8')


def _local(tag):
    return tag.rsplit('}', 1)[-1]


def _body_child(reply):
    """The first element in the reply's Body (ParseError when not XML)."""
    root = etree.fromstring(reply)
    body = root.find(_BODY)
    if body is None or not len(body):
        raise etree.ParseError('no SOAP Body in the answer')
    return body[0]


def _fault(element):
    code = element.findtext('faultcode') or 'Fault'
    text = (element.findtext('faultstring') or '').strip()
    name = code.rsplit(':', 1)[-1]
    detail = element.find('detail')
    if detail is not None and len(detail):
        name = detail[0].get(_XSI_TYPE) or _local(detail[0].tag)
        name = name.rsplit(':', 1)[-1]
        if name.endswith('Fault') and detail[0].get(_XSI_TYPE) is None:
            name = name[:-len('Fault')]
    return SoapFault(name, text or name)


def parse_reply(reply):
    """The ``returnval`` element of a reply.

    :raises SoapFault: the reply is a SOAP fault.
    :raises xml.etree.ElementTree.ParseError: it is not a SOAP reply.
    """
    element = _body_child(reply)
    if element.tag == _FAULT:
        raise _fault(element)
    for child in element:
        if _local(child.tag) == 'returnval':
            return child
    return None


def service_content(returnval):
    """A ServiceContent's references and ``about`` as a dict.

    References are (type, value) tuples, ``about`` a dict of its text
    fields; other fields are left out.
    """
    content = {}
    for child in returnval:
        name = _local(child.tag)
        if name == 'about':
            content['about'] = {_local(item.tag): item.text or ''
                                for item in child}
        elif child.get('type') is not None:
            content[name] = (child.get('type'), child.text or '')
    return content


def user_session(returnval):
    """(key, userName) of a UserSession."""
    fields = {_local(child.tag): child.text for child in returnval}
    return fields.get('key'), fields.get('userName')


def new_http(cacert=None, insecure=False, pool_size=10):
    """(``requests`` session, verify) with oslo.vmware's settings.

    TLS verification is on unless ``insecure``; ``cacert`` names the CA
    bundle (as oslo.vmware's transport, which then shares this session).
    """
    http = requests.Session()
    http.mount('https://', requests.adapters.HTTPAdapter(
        pool_connections=pool_size, pool_maxsize=pool_size))
    return http, (cacert if cacert else not insecure)


class SoapLogin:
    """The login state of one vCenter session, kept without suds.

    :param url: the SOAP endpoint (``https://host:port/sdk``).
    :param counter: called with the method name of every request sent
        (the session's request counters); ``byte_counter`` a Counter of
        bytes ``sent``/``received``, under ``count_lock``.
    """

    def __init__(self, url, host, username, password, retry_count=3,
                 timeout=None, cacert=None, insecure=False, pool_size=10,
                 counter=None, byte_counter=None, count_lock=None):
        self.url = url
        self.host = host
        self.username = username
        self._password = password
        self.retry_count = retry_count
        self.timeout = timeout
        self.cacert = cacert
        self.http, self.verify = new_http(cacert, insecure, pool_size)
        self._counter = counter
        self._bytes = byte_counter
        self._count_lock = count_lock or threading.Lock()
        self.lock = threading.Lock()
        self.key = None
        self.user_name = None
        self.content = None
        self.content_xml = None

    def __repr__(self):
        return '<SoapLogin %s user=%s>' % (self.url, self.username)

    def post(self, method, body):
        """POST one envelope; the reply's bytes (SOAP, fault or not).

        :raises transport.HTTPStatusError: the answer is not SOAP.
        :raises requests.RequestException: no answer.
        """
        if self._counter is not None:
            self._counter(method)
        reply = self.http.post(
            self.url, data=body, verify=self.verify, timeout=self.timeout,
            headers={'Content-Type': 'text/xml; charset=utf-8',
                     'SOAPAction': soap_action()})
        if self._bytes is not None:
            with self._count_lock:
                self._bytes['sent'] += len(body)
                self._bytes['received'] += len(reply.content)
        if not transport.looks_like_soap(reply.content):
            raise transport.HTTPStatusError(
                reply.status_code, transport.reason_phrase(reply.status_code),
                reply.headers.get('Content-Type'))
        return reply.content

    def call(self, method, this, **params):
        """Send ``method``; its ``returnval`` element (or None).

        :raises SoapFault: vCenter answered with a fault.
        """
        reply = self.post(method, envelope(method, this, **params))
        try:
            return parse_reply(reply)
        except etree.ParseError as err:
            raise transport.HTTPStatusError(
                200, 'unreadable SOAP answer (%s)' % err, 'text/xml')

    def retrieve_service_content(self):
        """RetrieveServiceContent (once); the content as a dict."""
        if self.content is None:
            body = envelope('RetrieveServiceContent',
                            ('ServiceInstance', 'ServiceInstance'))
            reply = self.post('RetrieveServiceContent', body)
            try:
                returnval = parse_reply(reply)
            except etree.ParseError as err:
                raise transport.HTTPStatusError(
                    200, 'unreadable SOAP answer (%s)' % err, 'text/xml')
            if returnval is None:
                raise SoapFault('InvalidResponse', 'no ServiceContent in '
                                'the answer to RetrieveServiceContent')
            self.content = service_content(returnval)
            self.content_xml = reply
        return self.content

    def cookie(self):
        """The ``vmware_soap_session`` cookie's value, or None."""
        for cookie in self.http.cookies:
            if cookie.name.lower() == COOKIE:
                return cookie.value
        return None

    def login(self):
        """Log in (again): at most ``retry_count`` + 1 attempts.

        Connection errors (no answer, an HTTP error page) are tried again
        with back-off; a fault is not.

        :raises exceptions.VCenterLoginError: vCenter refused the login
            (names the server and the user).
        :raises exceptions.VCenterTLSError: the certificate failed
            verification.
        :raises exceptions.VCenterConnectionError: no usable answer.
        """
        attempts = self.retry_count + 1
        for attempt in range(attempts):
            try:
                self._login_once()
                return
            except SoapFault as err:
                raise exceptions.VCenterLoginError(
                    url=self.url, user=self.username,
                    reason=err.text.splitlines()[0])
            except requests.RequestException as err:
                verify = transport.tls_verification_error(err)
                if verify is not None:
                    raise self.tls_error(verify)
                if attempt + 1 == attempts:
                    raise exceptions.VCenterConnectionError(
                        url=self.url, reason=_reason(err))
                LOG.warning('Logging in to %s failed (%s); trying again.',
                            self.url, _reason(err))
                time.sleep(min(2 ** attempt, 10))

    def _login_once(self):
        manager = self.retrieve_service_content().get('sessionManager')
        if manager is None:
            raise SoapFault('InvalidResponse',
                            'the ServiceContent names no SessionManager')
        LOG.debug('Logging in to %s as %s.', self.url, self.username)
        returnval = self.call('Login', manager, userName=self.username,
                              password=self._password, locale='en')
        key, user_name = (user_session(returnval)
                          if returnval is not None else (None, None))
        if not key:
            raise SoapFault('InvalidResponse',
                            'no session key in the answer to Login')
        self.key, self.user_name = key, user_name
        LOG.info('Logged in to vCenter %s as %s.', self.url, self.username)

    def ensure(self):
        """Log in unless logged in already (thread-safe)."""
        with self.lock:
            if self.key is None:
                self.login()

    def logout(self):
        """Log out (best effort: the session ends on vCenter anyway)."""
        with self.lock:
            if self.key is None:
                return
            manager = (self.content or {}).get('sessionManager')
            try:
                self.call('Logout', manager)
            except (SoapFault, requests.RequestException) as err:
                LOG.warning('Logging out of %s failed: %s', self.url,
                            transport.first_line(err))
            finally:
                self.key = None

    def tls_error(self, verify_error):
        """:class:`exceptions.VCenterTLSError` for a verification error."""
        reason, hint = transport.tls_hint(verify_error, self.host,
                                          self.cacert)
        return exceptions.VCenterTLSError(url=self.url, reason=reason,
                                          hint=hint)


def from_options(url, opts, counter=None, byte_counter=None,
                 count_lock=None):
    """A :class:`SoapLogin` for ``url`` with the ``vcenter_*`` options."""
    return SoapLogin(
        url, opts['vcenter_host'], opts['vcenter_username'],
        opts['vcenter_password'], retry_count=opts['vcenter_api_retry_count'],
        timeout=opts['vcenter_http_timeout'],
        cacert=opts.get('vcenter_ca_file'),
        insecure=opts['vcenter_insecure'],
        pool_size=opts['vcenter_connection_pool_size'], counter=counter,
        byte_counter=byte_counter, count_lock=count_lock)


_SPACE = re.compile(r'\s+')


def _reason(err):
    status = transport.http_status_error(err)
    if status is not None:
        return str(status)
    return _SPACE.sub(' ', transport.first_line(err))
