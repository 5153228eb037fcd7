"""Synchronous code run on an asyncio event loop, without threads.

The operator commands are synchronous code (:mod:`vmware_backend.admin`,
the placement service, :mod:`..inventory`); their VI/JSON I/O is
asynchronous (aiohttp). To read many vCenters at once on one event loop,
:func:`run_sync` runs a synchronous function in a greenlet of its own on
the loop's thread; each time that function needs a result of a coroutine
it calls :func:`await_`, which hands the coroutine to the event loop's task
(switching back to it) and resumes the function with the result, or the
exception, once the loop has it. Meanwhile the loop runs the other
backends' tasks. No thread, no lock handing and no GIL switching between
the backends: their CPU work runs one after another, their waits overlap.

Outside :func:`run_sync` (:func:`active` is False), synchronous callers run
coroutines on an event loop of their own (:class:`.reader.Runner`).
"""

import sys

import greenlet


class _Bridged(greenlet.greenlet):
    """A greenlet running synchronous code for an event loop's task."""

    def __init__(self, fn, parent):
        super().__init__(fn, parent)
        self.values = {}


def current():
    """The running :class:`_Bridged` greenlet, or None."""
    running = greenlet.getcurrent()
    return running if isinstance(running, _Bridged) else None


def active():
    """Whether :func:`await_` can be called here."""
    return current() is not None


def values():
    """A dict kept with the running bridged function (None outside one)."""
    running = current()
    return None if running is None else running.values


def await_(coro):
    """The result of ``coro``, awaited by the event loop's task.

    :raises RuntimeError: not inside :func:`run_sync` (``coro`` is closed).
    """
    running = current()
    if running is None:
        coro.close()
        raise RuntimeError('await_ outside run_sync')
    return running.parent.switch(coro)


async def run_sync(fn, *args, _values=None, **kwargs):
    """Await ``fn(*args, **kwargs)`` run as described in the module doc.

    :param _values: initial content of :func:`values` for ``fn``.
    """
    bridged = _Bridged(lambda: fn(*args, **kwargs), greenlet.getcurrent())
    bridged.values.update(_values or {})
    # A value handed back by the greenlet is a coroutine to await for it,
    # until it ends: then switch() returns its result (or raises).
    pending = bridged.switch()
    while not bridged.dead:
        try:
            result = await pending
        except BaseException:
            error = sys.exc_info()
            pending = bridged.throw(*error)
        else:
            pending = bridged.switch(result)
    return pending
