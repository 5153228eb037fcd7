"""An asynchronous VI/JSON connection (aiohttp): release, login, calls.

``https://{host}:{port}/sdk/vim25/{release}/{Type}/{moId}/{method}`` is a
method call (POST, the parameters as a JSON object),
``.../{Type}/{moId}/{property}`` a property read (GET). The release comes
from :meth:`Connection.negotiate`: ``POST /api/vcenter/system?action=hello``
with the releases this client was written for, in order of preference;
vCenter 8.0 U1, which has VI/JSON but not ``hello``, answers 404 and is
spoken to as ``8.0.1.0``; an empty answer means no common release.
``SessionManager.Login`` returns the session id in the
``vmware-api-session-id`` header, sent with every later request.

TLS is verified as for SOAP: against ``vcenter_ca_file`` when set, the
system's CAs otherwise; ``vcenter_insecure`` turns verification off. The
password is only ever in the Login request body, which is never logged
(and is masked in log records by :mod:`..secrets`, registered by the
session that owns the options).
"""

import functools
import os
import ssl
import threading
from urllib import parse

import aiohttp
from oslo_log import log as logging

from vmware_backend import exceptions
from vmware_backend.vsphere.json import codec
from vmware_backend.vsphere.refs import MoRef
from vmware_backend.vsphere import transport

LOG = logging.getLogger(__name__)

# Releases this client was written and tested for, most preferred first.
SUPPORTED_RELEASES = ('8.0.3.0', '8.0.2.0', '8.0.1.0')
# vCenter 8.0 U1 has VI/JSON but no System.hello (404).
FALLBACK_RELEASE = '8.0.1.0'
SESSION_HEADER = 'vmware-api-session-id'
SERVICE_INSTANCE = MoRef('ServiceInstance', 'ServiceInstance')
JSON_TYPE = 'application/json'


class NotOffered(Exception):
    """The server does not speak VI/JSON (or not this release)."""


class JSONFault(Exception):
    """A vSphere fault answered over VI/JSON (HTTP 500 with the fault)."""

    def __init__(self, method, fault, body):
        super().__init__('%s: %s' % (method, fault))
        self.method = method
        self.fault = fault
        self.body = body


_ssl_contexts = {}
_ssl_lock = threading.Lock()


def _context(cafile):
    """A verifying SSL context, made once per CA file version.

    Loading CAs costs milliseconds of CPU: contexts are kept, keyed by the
    file's path, size and modification time (a changed file gets a new
    one), or by None for the system's CAs.
    """
    key = None
    if cafile:
        stat = os.stat(cafile)
        key = (cafile, stat.st_size, stat.st_mtime_ns)
    with _ssl_lock:
        context = _ssl_contexts.get(key)
        if context is None:
            context = ssl.create_default_context(cafile=cafile)
            _ssl_contexts[key] = context
        return context


def ssl_option(options):
    """The aiohttp ``ssl`` argument for the connection options."""
    if options['vcenter_scheme'] != 'https':
        return None
    ca_file = options.get('vcenter_ca_file')
    if ca_file:
        return _context(ca_file)
    if options.get('vcenter_insecure'):
        return False
    return _context(None)


def new_http(options):
    """An aiohttp session for one vCenter (call it on the event loop).

    No cookies are kept: the session id travels in its header only, and
    a shared cookie jar would mix vCenters on one host.
    """
    return aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(total=options['vcenter_http_timeout']),
        cookie_jar=aiohttp.DummyCookieJar(),
        connector=aiohttp.TCPConnector(
            ssl=ssl_option(options),
            limit=options.get('vcenter_connection_pool_size', 10)))


@functools.lru_cache(maxsize=4096)
def _quote_text(text):
    return parse.quote(text, safe='')


def _quote(text):
    # the same few names (release, types, ids, methods) again and again
    return _quote_text(str(text))


class Connection:
    """One VI/JSON connection with one vCenter, for one event loop.

    :param options: the session's option dict (``vcenter_host``, port,
        scheme, user, password, CA options, ``vcenter_http_timeout``).
    :param release: a negotiated release, or None to negotiate.
    :param session_key: a session id to use, or None to log in.
    :param counter: callable(method) counting each vSphere call sent
        (but Login and Logout: the session's own login is counted once,
        by SOAP).
    :param http: an aiohttp session to send with (not closed here), or
        None for one of its own.
    """

    def __init__(self, options, release=None, session_key=None,
                 counter=None, http=None):
        self._options = options
        self.release = release
        self.session_key = session_key
        self._counter = counter
        opts = options
        self.base = '%s://%s:%s' % (opts['vcenter_scheme'],
                                    opts['vcenter_host'],
                                    opts['vcenter_port'])
        # a shared aiohttp session (see :func:`new_http`) is its owner's
        # to close; one made here is closed by :meth:`close`
        self._http = http
        self._owned = http is None

    @property
    def url(self):
        return self.base + '/sdk'

    def _client(self):
        if self._http is None:
            self._http = new_http(self._options)
        return self._http

    async def close(self):
        if self._owned and self._http is not None:
            http, self._http = self._http, None
            await http.close()

    async def _send(self, http_method, url, what, body=None, headers=None):
        """(status, headers, parsed JSON or None); transport errors raised
        as the backend's connection errors."""
        hdrs = {'Accept': JSON_TYPE}
        if self.session_key:
            hdrs[SESSION_HEADER] = self.session_key
        hdrs.update(headers or {})
        try:
            async with self._client().request(
                    http_method, url, json=body, headers=hdrs) as resp:
                payload = None
                if resp.content_type == JSON_TYPE:
                    payload = await resp.json(content_type=None)
                else:
                    await resp.read()
                return resp.status, resp.headers, payload
        except aiohttp.ClientConnectorCertificateError as err:
            detail, hint = transport.tls_hint(
                err.certificate_error, self._options['vcenter_host'],
                self._options.get('vcenter_ca_file'))
            raise exceptions.VCenterTLSError(url=self.url, reason=detail,
                                             hint=hint) from None
        except (aiohttp.ClientError, TimeoutError, OSError) as err:
            raise exceptions.VCenterConnectionError(
                url=self.url, reason='%s: %s' % (
                    what, transport.first_line(err) if str(err)
                    else type(err).__name__)) from None

    async def negotiate(self, releases=SUPPORTED_RELEASES):
        """The release to use: System.hello's choice; 404 -> 8.0.1.0.

        :raises exceptions.VCenterConnectionError: no common release, or
            an unexpected answer.
        """
        status, _hdrs, payload = await self._send(
            'POST', self.base + '/api/vcenter/system?action=hello',
            'System.hello', body={'api_releases': list(releases)})
        if status == 404:
            LOG.debug('vCenter %s has no System.hello; using VI/JSON '
                      'release %s', self.base, FALLBACK_RELEASE)
            self.release = FALLBACK_RELEASE
            return self.release
        if status != 200 or not isinstance(payload, dict):
            raise exceptions.VCenterConnectionError(
                url=self.url, reason='System.hello answered HTTP %s'
                % status)
        release = payload.get('api_release')
        if not release:
            raise exceptions.VCenterConnectionError(
                url=self.url, reason='vCenter shares no VI/JSON release '
                'with this driver (it offered none of %s); set '
                'vcenter_read_transport = soap' % ', '.join(releases))
        LOG.debug('vCenter %s: VI/JSON release %s', self.base, release)
        self.release = release
        return release

    def _path(self, ref, name):
        return '%s/sdk/vim25/%s/%s/%s/%s' % (
            self.base, _quote(self.release), _quote(ref.type),
            _quote(ref.value), _quote(name))

    async def invoke(self, ref, method, **params):
        """Call ``method`` on ``ref``; the result as parsed JSON (None for
        no result).

        :raises JSONFault: the server answered a fault.
        :raises NotOffered: 404, 405 or 501 (no such release or method,
            or VI/JSON not served at all).
        """
        if self._counter is not None and method not in ('Login', 'Logout'):
            self._counter(method)
        status, hdrs, payload = await self._send(
            'POST', self._path(ref, method), method,
            body=codec.encode(params))
        return self._result(method, status, payload), hdrs

    async def fetch(self, ref, prop):
        """Property ``prop`` of ``ref`` as parsed JSON."""
        status, _hdrs, payload = await self._send(
            'GET', self._path(ref, prop), '%s.%s' % (ref.type, prop))
        return self._result(prop, status, payload)

    def _result(self, method, status, payload):
        if status in (200, 204):
            return payload
        if status in (404, 405, 501):
            # no such release, method or resource: VI/JSON is not served
            raise NotOffered('%s: HTTP %s' % (method, status))
        if isinstance(payload, dict) and payload.get(codec.TYPE):
            raise JSONFault(method, payload[codec.TYPE], payload)
        raise exceptions.VCenterConnectionError(
            url=self.url, reason='%s answered HTTP %s without a fault'
            % (method, status))

    async def content(self):
        """ServiceInstance.content (readable before login)."""
        return await self.fetch(SERVICE_INSTANCE, 'content')

    async def login(self, session_manager):
        """Log in; keeps and returns the session id.

        :raises exceptions.VCenterLoginError: the login was refused.
        """
        opts = self._options
        self.session_key = None
        try:
            _user, hdrs = await self.invoke(
                session_manager, 'Login', userName=opts['vcenter_username'],
                password=opts['vcenter_password'])
        except JSONFault as fault:
            raise exceptions.VCenterLoginError(
                url=self.url, user=opts['vcenter_username'],
                reason=fault.fault) from None
        key = hdrs.get(SESSION_HEADER)
        if not key:
            raise exceptions.VCenterConnectionError(
                url=self.url, reason='Login returned no %s header'
                % SESSION_HEADER)
        self.session_key = key
        LOG.debug('VI/JSON session opened with %s as %s', self.base,
                  opts['vcenter_username'])
        return key

    async def logout(self, session_manager):
        if self.session_key:
            try:
                await self.invoke(session_manager, 'Logout')
            finally:
                self.session_key = None
