"""Which transport a session's inventory reads use: VI/JSON or SOAP.

``vcenter_read_transport``:

* ``auto`` (default): VI/JSON when the server offers it, SOAP otherwise.
  "Offers" is found out once per session, at its first read: System.hello
  (404 means 8.0 U1, release 8.0.1.0) and then ``ServiceInstance.content``
  over VI/JSON. A server that answers 404/405/501 there, or shares no
  release with this driver, is read over SOAP (logged once). A process
  monkey-patched by eventlet (cinder-volume) also reads over SOAP: asyncio
  and aiohttp do not run on eventlet's green sockets.
* ``json``: VI/JSON or an error naming the option (no fallback).
* ``soap``: always SOAP.

Writes always go over SOAP (oslo.vmware).

The VI/JSON side of a session (:class:`State`: release, service content,
session id) lives as long as the :class:`~..session.VCenterSession`; its
close logs the VI/JSON session out.
"""

import sys
import threading
import weakref

from oslo_log import log as logging

from vmware_backend import exceptions
from vmware_backend.vsphere.json import client
from vmware_backend.vsphere.json import codec
from vmware_backend.vsphere.json import reader

LOG = logging.getLogger(__name__)

AUTO, SOAP, JSON = 'auto', 'soap', 'json'
OPTION = 'vcenter_read_transport'

_states = weakref.WeakKeyDictionary()
_states_lock = threading.Lock()


def eventlet_patched():
    """Whether eventlet monkey-patched sockets in this process."""
    patcher = sys.modules.get('eventlet.patcher')
    return bool(patcher and patcher.is_monkey_patched('socket'))


class State:
    """A session's VI/JSON side: shared by its threads, one lock."""

    def __init__(self, session):
        self.options = session.options
        # weak: _states' value must not keep its key (the session) alive
        self._count_ref = weakref.WeakMethod(session.count_request)
        self._lock = threading.Lock()
        self.release = None
        self.content = None
        self.session_key = None
        self.offered = None
        # an aiohttp session its connections share (a JSON-only session's)
        self.http = None

    def _count(self, method):
        count = self._count_ref()
        if count is not None:
            count(method)

    def connection(self):
        return client.Connection(self.options, release=self.release,
                                 session_key=self.session_key,
                                 counter=self._count, http=self.http)

    async def probe(self, conn):
        """Negotiate the release and read the service content."""
        await conn.negotiate()
        self.content = codec.decode(await conn.content())
        self.release = conn.release

    async def ready(self, conn):
        """The service content, with ``conn`` logged in."""
        with self._lock:
            if self.content is None:
                await self.probe(conn)
            conn.release = self.release
            if self.session_key is None:
                self.session_key = await conn.login(
                    self.content['sessionManager'])
            conn.session_key = self.session_key
        return self.content

    async def relogin(self, conn, expired_key):
        """Log in again unless another reader already did."""
        with self._lock:
            if self.session_key in (None, expired_key):
                self.session_key = None
                self.session_key = await conn.login(
                    self.content['sessionManager'])
            conn.session_key = self.session_key

    def close(self):
        """Log the VI/JSON session out (best effort)."""
        with self._lock:
            key, self.session_key = self.session_key, None
        if not key or self.content is None:
            return
        runner = reader.Runner()
        conn = client.Connection(self.options, release=self.release,
                                 session_key=key, counter=self._count)
        try:
            runner.run(conn.logout(self.content['sessionManager']))
        except Exception as err:  # the session ends on its own later
            LOG.debug('VI/JSON logout failed: %s', err)
        finally:
            runner.run(conn.close())
            runner.close()


async def offered(state, conn, mode):
    """Probe ``state``'s server: whether its reads go over VI/JSON.

    :returns: True (probed: release and service content kept), or False
        in ``auto`` mode for a server without VI/JSON (logged).
    :raises exceptions.VCenterConnectionError: ``json`` mode and no
        VI/JSON, or the server cannot be reached.
    """
    try:
        await state.probe(conn)
        return True
    except (client.NotOffered, client.JSONFault) as err:
        reason = 'it does not serve VI/JSON (%s)' % err
    except exceptions.VCenterTLSError:
        raise
    except exceptions.VCenterConnectionError as err:
        if mode == JSON or 'no VI/JSON release' not in str(err):
            raise
        reason = str(err)
    if mode == JSON:
        raise exceptions.VCenterConnectionError(
            url=conn.url, reason='%s = json, but %s; set it to auto or '
            'soap' % (OPTION, reason))
    LOG.info('vCenter %s: inventory reads over SOAP: %s', conn.base, reason)
    return False


def _decide(state, mode):
    """Whether ``state``'s server speaks VI/JSON (probing once)."""
    runner = reader.Runner()
    conn = state.connection()
    try:
        return runner.run(offered(state, conn, mode))
    finally:
        try:
            runner.run(conn.close())
        finally:
            runner.close()


def mode_of(options):
    """``options``' read transport; SOAP in an eventlet process (auto)."""
    mode = options.get(OPTION) or AUTO
    if mode == AUTO and eventlet_patched():
        return SOAP
    return mode


def state_for(session):
    """The session's VI/JSON :class:`State`, or None for SOAP reads."""
    mode = mode_of(session.options)
    if mode == SOAP:
        return None
    with _states_lock:
        state = _states.get(session)
        if state is None:
            state = _states[session] = State(session)
            session.add_close_hook(state.close)
    if state.offered is None:
        with state._lock:
            if state.offered is None:
                state.offered = _decide(state, mode)
    return state if state.offered else None


def adopt(session, state):
    """Make ``state`` (probed, VI/JSON offered) ``session``'s own.

    For a session that is VI/JSON only (:mod:`.session`): it closes the
    state itself, no close hook is added.
    """
    state.offered = True
    with _states_lock:
        _states[session] = state


def iter_container(session, type_paths, root, page_size, recursive):
    """A generator of the read over VI/JSON, or None to read over SOAP."""
    state = state_for(session)
    if state is None:
        return None
    return reader.iter_container(state, type_paths, root=root,
                                 page_size=page_size, recursive=recursive)
