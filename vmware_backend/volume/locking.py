"""Per-volume locks: one operation at a time on a volume's backing.

vCenter does not refuse a second VM with the same ``instanceUuid``, so two
creates of one volume id that both look before either creates make two
backings; a delete racing a clone of its source destroys the disk the clone
reads from. The driver therefore runs every operation that creates, changes
or removes a backing (or its snapshots and clone markers) holding the lock of
each volume id it touches.

A lock provider has one method that matters, :meth:`LockProvider.lock`, a
context manager held while the operation runs:

* :class:`ToozLocks` (outside Cinder: operator commands, benchmarks, tests)
  takes them through `tooz`_, configured by ``vcenter_coordination_url``;
  the default, a file-lock backend, serialises the processes of one node.
* inside Cinder, the adapter hands the driver a provider built on Cinder's
  own coordinator (``[coordination] backend_url``), so the locks hold
  across the cinder-volume services of an active-active cluster.

:class:`VolumeLocks` turns volume ids into lock names (the backend name and
the id: two backends on one vCenter never wait for each other, two services
of one backend do), takes several in one fixed order, and lets a thread that
already holds a lock go through it again instead of waiting for itself.

.. _tooz: https://docs.openstack.org/tooz/
"""

import contextlib
import hashlib
import os
import re
import socket
import threading
import urllib.parse
import uuid

from oslo_log import log as logging

from vmware_backend import exceptions

LOG = logging.getLogger(__name__)

OPTION = '[vmware] vcenter_coordination_url'
# Cinder's coordinator puts "cinder-" in front of every lock name. The tooz
# provider does the same, so with vcenter_coordination_url set to Cinder's
# [coordination] backend_url the operator commands and cinder-volume take
# the very same locks.
NAME_PREFIX = 'cinder-'
_SAFE_PART = re.compile(r'[A-Za-z0-9_-][A-Za-z0-9_.-]{0,63}$')


def _part(text):
    """``text`` if it is safe in a lock (file) name, else a digest of it."""
    text = str(text)
    if _SAFE_PART.match(text):
        return text
    return 'x' + hashlib.sha1(text.encode('utf-8')).hexdigest()


def lock_name(backend_name, volume_id):
    """The name of the lock of ``volume_id`` on backend ``backend_name``.

    Names are ASCII and usable as file names whatever the id holds (a part
    that is not is replaced by its SHA-1).
    """
    return 'vmware_backend-%s-volume-%s' % (
        _part(backend_name), _part(volume_id))


def redacted_url(url):
    """``url`` without a password (in the user part or the query)."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return '<unparsable URL>'
    netloc = parts.netloc
    if '@' in netloc:
        user, _sep, host = netloc.rpartition('@')
        if ':' in user:
            user = user.split(':', 1)[0] + ':***'
        netloc = '%s@%s' % (user, host)
    query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    query = [(k, '***' if 'pass' in k.lower() else v) for k, v in query]
    return urllib.parse.urlunsplit(
        (parts.scheme, netloc, parts.path, urllib.parse.urlencode(query),
         parts.fragment))


def scrubbed(text, url):
    """``text`` with the password of ``url`` (user part, query) masked."""
    secrets = []
    try:
        parts = urllib.parse.urlsplit(url or '')
        secrets.append(parts.password)
        secrets.extend(v for k, v in urllib.parse.parse_qsl(parts.query)
                       if 'pass' in k.lower())
    except ValueError:
        pass
    for secret in secrets:
        if secret:
            text = text.replace(secret, '***')
    return text


class LockProvider:
    """Where locks come from: subclasses implement :meth:`lock`.

    :attr:`option` names the setting that chooses the lock backend; errors
    name it.
    """

    option = None

    def start(self):
        """Connect to the lock backend (idempotent)."""

    def stop(self):
        """Disconnect from the lock backend (idempotent)."""

    def lock(self, name):
        """A context manager holding the lock ``name`` while it runs.

        :raises exceptions.CoordinationError: the backend cannot be used.
        """
        raise NotImplementedError


class ToozLocks(LockProvider):
    """Locks from a tooz backend, e.g. ``file:///var/lib/x/locks``.

    The coordinator is started on first use (or by :meth:`start`, which
    ``do_setup`` calls so a bad backend fails at start-up) and stopped by
    :meth:`stop`.

    :param url: the tooz backend URL.
    :param member_id: this process' name towards the backend; made from the
        host name, the process id and a random part when omitted.
    """

    option = OPTION

    def __init__(self, url, member_id=None):
        self.url = url
        self.member_id = member_id or '%s-%d-%s' % (
            socket.gethostname(), os.getpid(), uuid.uuid4().hex[:8])
        self._coordinator = None
        self._state_lock = threading.Lock()

    def __repr__(self):
        return '<%s %s>' % (type(self).__name__, redacted_url(self.url))

    def _error(self, reason):
        return exceptions.CoordinationError(
            url=redacted_url(self.url), option=self.option,
            reason=scrubbed(reason, self.url))

    def start(self):
        """Start the coordinator (once); return it."""
        with self._state_lock:
            if self._coordinator is not None:
                return self._coordinator
            # Imported here: tooz loads its drivers through entry points,
            # which nothing needs until a lock is taken.
            from tooz import coordination
            if not self.url or '://' not in self.url:
                raise self._error('not a tooz backend URL; e.g. '
                                  'file:///var/lib/vmware_backend/locks')
            try:
                coordinator = coordination.get_coordinator(
                    self.url, self.member_id.encode('utf-8'))
            except Exception as err:  # stevedore's NoMatches and others
                raise self._error(
                    'no tooz driver for scheme %r (%s); e.g. file://DIR, '
                    'redis://HOST:PORT, etcd3+http://HOST:PORT'
                    % (urllib.parse.urlsplit(self.url).scheme,
                       type(err).__name__)) from None
            try:
                coordinator.start(start_heart=True)
            except Exception as err:
                raise self._error('cannot connect: %s'
                                  % error_text(err)) from None
            self._coordinator = coordinator
            LOG.debug('Lock backend %s started.', redacted_url(self.url))
            return coordinator

    def stop(self):
        with self._state_lock:
            coordinator, self._coordinator = self._coordinator, None
        if coordinator is None:
            return
        try:
            coordinator.stop()
        except Exception as err:
            LOG.warning('Stopping the lock backend %s failed: %s',
                        redacted_url(self.url), error_text(err))

    @contextlib.contextmanager
    def lock(self, name):
        coordinator = self.start()
        try:
            lock = coordinator.get_lock((NAME_PREFIX + name).encode('ascii'))
            acquired = lock.acquire(blocking=True)
        except Exception as err:
            raise self._error('cannot take lock %s: %s'
                              % (name, error_text(err))) from None
        if not acquired:
            raise self._error('lock %s was not granted' % name)
        try:
            yield
        finally:
            try:
                lock.release()
            except Exception as err:
                # A backend lost after the work was done must not turn a
                # finished operation into a failure; the backend frees the
                # lock when this member's session ends.
                LOG.warning('Releasing lock %s on %s failed: %s', name,
                            redacted_url(self.url), error_text(err))


def error_text(err):
    """``err`` as one line: its class name and its text."""
    text = str(err).strip()
    return '%s: %s' % (type(err).__name__, text) if text else \
        type(err).__name__


class VolumeLocks:
    """The locks of volumes, by id, from a :class:`LockProvider`.

    :param provider: where the locks come from.
    :param backend_name: goes into every lock name.
    """

    def __init__(self, provider, backend_name):
        self.provider = provider
        self.backend_name = backend_name
        self._local = threading.local()

    def _held(self):
        held = getattr(self._local, 'held', None)
        if held is None:
            held = self._local.held = set()
        return held

    def names(self, volume_ids):
        """Sorted lock names of the non-empty ids in ``volume_ids``."""
        return sorted({lock_name(self.backend_name, v)
                       for v in volume_ids if v})

    def holds(self, volume_id):
        """Whether the calling thread holds the lock of ``volume_id``."""
        return lock_name(self.backend_name, volume_id) in self._held()

    @contextlib.contextmanager
    def hold(self, *volume_ids):
        """Hold the locks of ``volume_ids`` (empty ids are skipped).

        The locks are taken in sorted order, so two callers wanting the same
        set cannot each wait for the other. Locks this thread already holds
        are not taken again.
        """
        held = self._held()
        with contextlib.ExitStack() as stack:
            for name in self.names(volume_ids):
                if name in held:
                    continue
                stack.enter_context(self.provider.lock(name))
                held.add(name)
                stack.callback(held.discard, name)
            yield
