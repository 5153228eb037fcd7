"""Paged inventory reads over VI/JSON, the way :mod:`..inventory` does them.

A ContainerView over the root for the wanted types, one
``RetrievePropertiesEx`` traversing it with ``maxObjects``, pages continued
with ``ContinueRetrievePropertiesEx`` while a token comes back,
``CancelRetrievePropertiesEx`` when reading stops with a page pending (an
error, or a caller that stopped iterating) and ``DestroyView`` at the end,
always.

When vCenter answers ``NotAuthenticated`` (the session expired; as a fault,
or in a ``missingSet`` of the answer, as vCenter reports it for
``RetrievePropertiesEx``), the read logs in again (once for all readers that
met it, see :class:`.select.State`) and starts over with a new view,
``vcenter_api_retry_count`` times (at least once; :mod:`..expiry`), then
fails naming the cause and the fix; objects already yielded are not
yielded again, and a read that fails never ends as if it were complete.
A lost answer (connection reset or refused, HTTP timeout, an HTTP error
page) to any call of the read restarts it the same way,
``vcenter_api_retry_count`` times with the SOAP reads' back-off (a lost
``ContinueRetrievePropertiesEx`` page at least once: its cursor moved past
the page), as SOAP reads are sent again.
Faults become :class:`exceptions.VCenterFault`.

:func:`iter_container` is the synchronous face: each page is fetched by
running the asynchronous reader on an event loop of its own (on a private
thread when the calling thread already runs one).
"""

import asyncio
import contextlib
import threading

from oslo_log import log as logging

from vmware_backend import exceptions
from vmware_backend.vsphere import expiry
from vmware_backend.vsphere.json import bridge
from vmware_backend.vsphere.json import client
from vmware_backend.vsphere.json import codec
from vmware_backend.vsphere.json.codec import Typed

LOG = logging.getLogger(__name__)

NOT_AUTHENTICATED = 'NotAuthenticated'
# What the property collector answers for a view of a session that ended
# between CreateContainerView and the read: the view died with it.
VIEW_GONE = 'ManagedObjectNotFound'
_VIEW_TRAVERSAL = 'traverseContainerView'


class Expired(Exception):
    """The session of this read ended (NotAuthenticated)."""

    def __init__(self, method, key):
        super().__init__('%s: NotAuthenticated' % method)
        self.method = method
        self.key = key


class _Lost(Exception):
    """The answer to a call was lost: the read starts again."""

    def __init__(self, error):
        super().__init__(str(error))
        self.error = error


def filter_spec(view, type_paths):
    """The PropertyFilterSpec traversing ``view`` for ``type_paths``."""
    return Typed(
        'PropertyFilterSpec',
        objectSet=[Typed(
            'ObjectSpec', obj=view, skip=True,
            selectSet=[Typed('TraversalSpec', name=_VIEW_TRAVERSAL,
                             type='ContainerView', path='view',
                             skip=False)])],
        propSet=[Typed('PropertySpec', type=type_name, all=False,
                       pathSet=list(paths))
                 for type_name, paths in type_paths.items()])


def to_fault(err, method, target):
    body = err.body or {}
    messages = [m.get('message') for m in body.get('faultMessage') or []
                if isinstance(m, dict) and m.get('message')]
    return exceptions.VCenterFault(
        action=method, target=target, fault=err.fault,
        detail='; '.join(messages) or err.fault)


async def call(conn, ref, method, target, **params):
    """``conn.invoke``; faults as VCenterFault or :class:`Expired`.

    A lost answer is raised as :class:`_Lost`.
    """
    try:
        result, _hdrs = await conn.invoke(ref, method, **params)
    except exceptions.VCenterTLSError:
        raise
    except exceptions.VCenterConnectionError as err:
        raise _Lost(err) from None
    except client.JSONFault as err:
        if err.fault == NOT_AUTHENTICATED:
            raise Expired(method, conn.session_key) from None
        raise to_fault(err, method, target) from None
    except client.NotOffered as err:
        raise exceptions.VCenterConnectionError(
            url=conn.url, reason='VI/JSON %s (release %s) is not served: %s'
            % (method, conn.release, err)) from None
    for path, fault in codec.missing_faults(result):
        if fault == NOT_AUTHENTICATED:
            raise Expired(method, conn.session_key)
        raise exceptions.VCenterFault(
            action=method, target=target, fault=fault or 'MissingProperty',
            detail='property %s could not be read' % path)
    return result


async def quietly(conn, ref, method, target, **params):
    try:
        await call(conn, ref, method, target, **params)
    except Exception as err:  # clean-up is best effort
        LOG.warning('%s while reading %s failed: %s', method, target, err)


async def _read_call(conn, collector, method, target, **params):
    """A read of the view; the view gone is a lost answer.

    Its session ended since it was made (the property collector answers
    ManagedObjectNotFound for it): the read starts again, meets the
    expiry and logs in again.
    """
    try:
        return await call(conn, collector, method, target, **params)
    except exceptions.VCenterFault as err:
        if err.fault == VIEW_GONE:
            raise _Lost(err) from None
        raise


async def read_once(conn, content, type_paths, root, page_size, recursive,
                    target):
    """Pages of ``(MoRef, props)`` of one read with one view."""
    collector = content['propertyCollector']
    view = codec.decode(await call(
        conn, content['viewManager'], 'CreateContainerView', target,
        container=root, type=list(type_paths), recursive=recursive))
    token = None
    try:
        result = await _read_call(
            conn, collector, 'RetrievePropertiesEx', target,
            specSet=[filter_spec(view, type_paths)],
            options=Typed('RetrieveOptions', maxObjects=page_size))
        while True:
            token = (result or {}).get('token')
            yield list(codec.object_contents(result))
            if not token:
                break
            # a lost page (_Lost) restarts the read: the token's cursor is
            # past it
            result = await _read_call(conn, collector,
                                      'ContinueRetrievePropertiesEx', target,
                                      token=token)
    except Expired:
        # the view and the token died with the session
        view = token = None
        raise
    finally:
        try:
            if token:
                await quietly(conn, collector, 'CancelRetrievePropertiesEx',
                              target, token=token)
        finally:
            if view is not None:
                await quietly(conn, view, 'DestroyView', target)


def _backoff(lost):
    """Seconds to wait after the ``lost``-th lost answer.

    As the SOAP session waits before sending a read again.
    """
    return min(0.5 * 2 ** (lost - 1), 10)


async def read_pages(state, conn, type_paths, root, page_size, recursive):
    """Pages of new ``(MoRef, props)``.

    Restarts after an expiry (logging in again) and after a lost answer,
    each up to ``vcenter_api_retry_count`` times (at least once).
    """
    content = await state.ready(conn)
    if root is None:
        root = content['rootFolder']
    target = 'objects below %s:%s' % root
    seen = set()
    retries = max(1, state.options.get('vcenter_api_retry_count', 3))
    relogins = expiry.relogins_allowed(state.options)
    expiries = lost = 0
    while True:
        try:
            # closed here, not by the garbage collector: its clean-up
            # (cancel, destroy) must run before the connection closes
            async with contextlib.aclosing(read_once(
                    conn, content, type_paths, root, page_size, recursive,
                    target)) as pages:
                async for page in pages:
                    fresh = [item for item in page if item[0] not in seen]
                    seen.update(ref for ref, _props in fresh)
                    yield fresh
            return
        except Expired as expired:
            expiries += 1
            if expiries > relogins:
                raise exceptions.VCenterConnectionError(
                    url=conn.url, reason=expiry.keeps_expiring(
                        expired.method, target, expiries,
                        state.options)) from None
            await state.relogin(conn, expired.key)
            LOG.info('VI/JSON session expired during %s; logged in again, '
                     'reading %s again from the start', expired.method,
                     target)
        except _Lost as lost_answer:
            lost += 1
            if lost > retries:
                raise lost_answer.error from None
            LOG.warning('Reading %s failed (%s); reading it again from the '
                        'start.', target, lost_answer.error)
            await asyncio.sleep(_backoff(lost))


class Runner:
    """Runs coroutines to completion from synchronous code.

    Inside :func:`.bridge.run_sync` (the operator CLI's fan-out) on the
    event loop already running, through :func:`.bridge.await_`. Elsewhere
    on an event loop of its own; on a private thread when the calling
    thread is already running a loop (asyncio code calling a synchronous
    read).
    """

    def __init__(self):
        self._loop = self._thread = None
        if bridge.active():
            return
        self._loop = asyncio.new_event_loop()
        try:
            asyncio.get_running_loop()
            nested = True
        except RuntimeError:
            nested = False
        if nested:
            self._thread = threading.Thread(target=self._loop.run_forever,
                                            name='vijson-reader',
                                            daemon=True)
            self._thread.start()

    def run(self, coro):
        if self._loop is None:
            return bridge.await_(coro)
        if self._thread is None:
            return self._loop.run_until_complete(coro)
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def close(self):
        if self._loop is None:
            return
        if self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join()
        self._loop.close()


def iter_container(state, type_paths, root=None, page_size=1000,
                   recursive=True):
    """Synchronous generator of ``(MoRef, props)``.

    As :func:`vmware_backend.vsphere.inventory.iter_container`.
    """
    runner = Runner()
    conn = state.connection()
    pages = read_pages(state, conn, type_paths, root, page_size, recursive)
    try:
        while True:
            try:
                page = runner.run(pages.__anext__())
            except StopAsyncIteration:
                return
            yield from page
    finally:
        try:
            runner.run(pages.aclose())
        finally:
            try:
                runner.run(conn.close())
            finally:
                runner.close()
