"""A vCenter session that speaks VI/JSON only, for the operator's reads.

The operator CLI's reads of several backends (``check``, ``pools``,
``volumes``, ``audit`` without ``--fix``/``--purge``) run on one asyncio
event loop (:mod:`vmware_backend.cmd.backends`). For a backend whose
vCenter offers VI/JSON, :class:`JSONSession` stands in for
:class:`~vmware_backend.vsphere.session.VCenterSession`: System.hello and
the service content (:meth:`JSONSession.start`), Login, the reads and
Logout all go over VI/JSON with aiohttp, one aiohttp session per vCenter;
no SOAP session, no suds. What the read commands use of a session is here
with the same meaning and the same plain results:

* ``url``, ``options``, ``api`` (logs in), ``service_content`` (the
  VI/JSON ``ServiceInstance.content``, its fields as attributes, managed
  object references as :class:`~..refs.MoRef`);
* ``invoke`` for reads (``FindChild``...): anything that changes vCenter
  is refused (writes stay on SOAP, through oslo.vmware);
* container reads through :mod:`.select` (the session's :class:`.State`
  is adopted there) and :mod:`.reader`; ``get_properties``,
  ``read_through`` and ``read_objects`` (``json_reads``, used by
  :mod:`..inventory`), with ``CancelRetrievePropertiesEx`` when a paged
  read fails;
* NotAuthenticated (the session expired) logs in again and the call or
  the whole read starts over, ``vcenter_api_retry_count`` times (at least
  once, :mod:`..expiry`), then fails naming the cause and the fix;
* request counts, close hooks and ``close`` (Logout, best effort).

Its synchronous methods run inside :func:`.bridge.run_sync`, on the event
loop that started it: the aiohttp session belongs to that loop.
"""

from oslo_log import log as logging

from vmware_backend import conf
from vmware_backend import exceptions
from vmware_backend.vsphere import expiry
from vmware_backend.vsphere.json import bridge
from vmware_backend.vsphere.json import client
from vmware_backend.vsphere.json import codec
from vmware_backend.vsphere.json.codec import Typed
from vmware_backend.vsphere.json import reader
from vmware_backend.vsphere.json import select
from vmware_backend.vsphere.refs import MoRef
from vmware_backend.vsphere import sessionbase

LOG = logging.getLogger(__name__)

# Methods invoke() sends: reads only.
READ_PREFIXES = ('Retrieve', 'Find', 'Query', 'CurrentTime')
_KEY = 'vcenter_session'


class Attrs:
    """A decoded VI/JSON data object read through attributes (as suds)."""

    __slots__ = ('_values',)

    def __init__(self, values):
        self._values = values

    def __getattr__(self, name):
        try:
            value = self._values[name]
        except KeyError:
            raise AttributeError(name) from None
        return Attrs(value) if isinstance(value, dict) else value

    def __repr__(self):
        return 'Attrs(%r)' % (self._values,)


def plain_ref(value):
    """A :class:`MoRef` for a MoRef or a suds managed object reference."""
    if isinstance(value, MoRef):
        return value
    if hasattr(value, '_type') and hasattr(value, 'value'):
        return MoRef(str(value._type), str(value.value))
    return value


def _plain_params(value):
    if isinstance(value, dict):
        return {k: _plain_params(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain_params(v) for v in value]
    return plain_ref(value)


def _specs(object_specs, type_paths):
    return Typed('PropertyFilterSpec', objectSet=object_specs,
                 propSet=[Typed('PropertySpec', type=type_name, all=False,
                                pathSet=list(paths))
                          for type_name, paths in type_paths.items()])


def _target(refs):
    return ', '.join('%s:%s' % ref for ref in refs[:3]) + (
        ' and %d more' % (len(refs) - 3) if len(refs) > 3 else '')


def prepared(options):
    """The session :func:`run_sync_with` prepared for this code, or None.

    None outside it, once that session is closed, or for other options.
    """
    found = bridge.values()
    session = found.get(_KEY) if found else None
    if session is None or session.closed or session.options != options:
        return None
    return session


async def run_sync_with(session, fn, *args):
    """Await ``fn(*args)`` run by :func:`.bridge.run_sync`.

    :func:`prepared` gives ``session`` to the code it runs.
    """
    return await bridge.run_sync(fn, *args, _values={_KEY: session})


class JSONSession(sessionbase.SessionBase):
    """A session with one vCenter over VI/JSON only (see the module doc).

    :param options: option values as for ``VCenterSession``.
    """

    json_only = True

    def __init__(self, options):
        super().__init__(options)
        self.mode = select.mode_of(self._options)
        self.state = select.State(self)
        self._conn = None
        self._error = None
        self._content = None
        self.started = False
        self.closed = False

    @property
    def json_reads(self):
        """The per-object reads :mod:`..inventory` delegates to."""
        return self

    def _connection(self):
        if self._conn is None:
            self._conn = self.state.connection()
        return self._conn

    async def start(self):
        """System.hello and the service content; no login yet.

        :returns: False when the server does not offer VI/JSON and the
            mode is ``auto`` (read this backend over SOAP); True otherwise.
            An error (unreachable, TLS, ``json`` mode without VI/JSON) is
            kept and raised by the first use of the session, as a SOAP
            session raises it at its login.
        """
        self.started = True
        try:
            conf.check_files(self._options)
            self.state.http = client.new_http(self._options)
            if not await select.offered(self.state, self._connection(),
                                        self.mode):
                return False
        except Exception as err:  # one backend's error, not the fan-out's
            self._error = err
            return True
        select.adopt(self, self.state)
        self._content = Attrs(self.state.content)
        return True

    def _run(self, coro):
        if not bridge.active():
            coro.close()
            raise RuntimeError('%r is used outside bridge.run_sync' % self)
        return bridge.await_(coro)

    def _ready(self):
        if self.closed:
            raise exceptions.VCenterConnectionError(
                url=self.url, reason='the session is closed')
        if not self.started:
            if not self._run(self.start()):
                self._error = exceptions.VCenterConnectionError(
                    url=self.url, reason='it does not serve VI/JSON')
        if self._error is not None:
            raise self._error
        if self.state.session_key is None:
            self._run(self.state.ready(self._connection()))

    @property
    def api(self):
        """Logs in (on first use); the session itself."""
        self._ready()
        return self

    @property
    def service_content(self):
        self._ready()
        return self._content

    async def _again_after_expiry(self, attempt_fn, what):
        """``attempt_fn()``, again after logging in again (see
        :mod:`..expiry`: ``vcenter_api_retry_count`` times)."""
        conn = self._connection()
        relogins = expiry.relogins_allowed(self.state.options)
        for attempt in range(relogins + 1):
            await self.state.ready(conn)
            try:
                return await attempt_fn(conn)
            except reader.Expired as expired:
                if attempt == relogins:
                    raise exceptions.VCenterConnectionError(
                        url=self.url, reason=expiry.keeps_expiring(
                            expired.method, what, attempt + 1,
                            self.state.options)) from None
                await self.state.relogin(conn, expired.key)
                LOG.info('VI/JSON session expired during %s; logged in '
                         'again, reading %s again', expired.method, what)

    def invoke(self, method, moref, target=None, session_bound=False,
               via=None, **kwargs):
        """Call the read ``method`` on ``moref``; its plain result.

        :raises exceptions.VMwareBackendException: not a read.
        """
        if not method.startswith(READ_PREFIXES):
            raise exceptions.VMwareBackendException(
                '%s is not a read: a VI/JSON-only session sends reads only '
                '(writes go over SOAP)' % method)
        ref = plain_ref(moref)
        target = target or '%s:%s' % ref
        params = _plain_params(kwargs)

        async def attempt(conn):
            return codec.decode(await reader.call(conn, ref, method,
                                                  target, **params))

        self._ready()
        return self._run(self._again_after_expiry(attempt, target))

    def _retrieve_all(self, spec, page_size, target):
        options = (Typed('RetrieveOptions', maxObjects=page_size)
                   if page_size is not None else Typed('RetrieveOptions'))
        collector = self.state.content['propertyCollector']

        async def attempt(conn):
            result = await reader.call(
                conn, collector, 'RetrievePropertiesEx', target,
                specSet=[spec], options=options)
            found, token = [], None
            try:
                while True:
                    token = (result or {}).get('token')
                    found.extend(codec.object_contents(result))
                    if not token:
                        return found
                    result = await reader.call(
                        conn, collector, 'ContinueRetrievePropertiesEx',
                        target, token=token)
            except reader.Expired:
                raise   # the token died with the session
            except BaseException:
                if token:
                    await reader.quietly(conn, collector,
                                         'CancelRetrievePropertiesEx',
                                         target, token=token)
                raise

        self._ready()
        return self._run(self._again_after_expiry(attempt, target))

    def get_properties(self, ref, paths):
        """As :func:`..inventory.get_properties`."""
        ref = plain_ref(ref)
        spec = _specs([Typed('ObjectSpec', obj=ref, skip=False)],
                      {ref.type: paths})
        for _ref, props in self._retrieve_all(spec, 1, '%s:%s' % ref):
            return props
        return {}

    def read_through(self, roots, path, type_paths, page_size=None):
        """As :func:`..inventory.read_through`."""
        roots = [plain_ref(root) for root in roots]
        if not roots:
            return []
        traversal = Typed('TraversalSpec', name='readThrough',
                          type=roots[0].type, path=path, skip=False)
        spec = _specs([Typed('ObjectSpec', obj=root, skip=True,
                             selectSet=[traversal]) for root in roots],
                      type_paths)
        target = '%s of %s' % (path, ', '.join('%s:%s' % r for r in roots))
        return self._retrieve_all(spec, page_size, target)

    def read_objects(self, refs, type_paths, page_size=None):
        """As :func:`..inventory.read_objects`."""
        refs = [plain_ref(ref) for ref in refs]
        if not refs:
            return []
        spec = _specs([Typed('ObjectSpec', obj=ref, skip=False)
                       for ref in refs], type_paths)
        return self._retrieve_all(spec, page_size, _target(refs))

    async def aclose(self):
        """Log out (best effort) and close the aiohttp session."""
        self.closed = True
        state, key = self.state, self.state.session_key
        state.session_key = None
        try:
            if key and state.content is not None:
                conn = self._connection()
                conn.session_key = key
                try:
                    await conn.logout(state.content['sessionManager'])
                except Exception as err:  # the session ends on its own
                    LOG.debug('VI/JSON logout failed: %s', err)
        finally:
            http, state.http = state.http, None
            if http is not None:
                await http.close()

    def _end(self):
        """:meth:`aclose`, unless done (``close``: hooks, this, secret)."""
        if not self.closed:
            self._run(self.aclose())
