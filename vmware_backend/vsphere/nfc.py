"""Disk transfer through an ``HttpNfcLease`` (import and export of disks).

``ResourcePool.ImportVApp``, ``VirtualMachine.ExportVm`` and
``VirtualMachineSnapshot.ExportSnapshot`` return a lease; once it is
``ready`` its ``info.deviceUrl`` names one HTTP(S) URL per disk. A disk is
uploaded (PUT, a streamOptimized VMDK) or downloaded (GET, streamOptimized)
there with the session's own ``vmware_soap_session`` cookie, as oslo.vmware
does: no credential is handed to anything else. vCenter times the lease out
unless ``HttpNfcLeaseProgress`` is called within ``info.leaseTimeout``
seconds, so :class:`Lease` runs a keep-alive thread reporting progress for
as long as the transfer lasts. :func:`leased` completes the lease when the
transfer succeeds and aborts it on any failure (vCenter then removes an
unfinished import).
"""

import contextlib
import threading
import time
import urllib.parse

from oslo_log import log as logging
import requests

from vmware_backend import exceptions
from vmware_backend.vsphere import ops as vsphere_ops

LOG = logging.getLogger(__name__)

CHUNK = 1024 * 1024
# The call's answer was lost (a reset, a timeout, an HTTP error page).
LOST_ANSWER = (exceptions.VCenterOutcomeUnknown,
               exceptions.VCenterConnectionError)
STREAM_CONTENT_TYPE = 'application/x-vnd.vmware-streamVmdk'
READY_TIMEOUT = 300


class Lease:
    """An ``HttpNfcLease`` of this session, with a keep-alive thread.

    :param session: the :class:`~vmware_backend.vsphere.session.
        VCenterSession` that obtained the lease.
    :param ref: the lease's moref.
    :param target: what the transfer is about, for messages.
    """

    def __init__(self, session, ref, target):
        self.session = session
        self.ref = ref
        self.target = target
        self.info = None
        self.total = 0
        self.done = 0
        self._percent = 0
        self._stop = threading.Event()
        self._thread = None
        self.keepalive_error = None

    def wait_ready(self, timeout=READY_TIMEOUT):
        """Wait while the lease is ``initializing``; return its info.

        :raises exceptions.VCenterFault: the lease went to ``error``.
        :raises exceptions.TaskTimeout: still initializing after timeout.
        """
        deadline = time.monotonic() + timeout
        delay = 0.05
        while True:
            props = self.session.get_properties(
                self.ref, ('state', 'info', 'error'), target=self.target)
            state = props.get('state')
            if state == 'ready':
                self.info = props.get('info')
                return self.info
            if state in ('error', 'done'):
                error = props.get('error')
                raise exceptions.VCenterFault(
                    fault=type(getattr(error, 'fault', None)).__name__
                    if error is not None else 'InvalidState',
                    action='HttpNfcLease', target=self.target,
                    detail=getattr(error, 'localizedMessage', None) or
                    'the lease is %s before the transfer' % state)
            if time.monotonic() > deadline:
                raise exceptions.TaskTimeout(
                    task=vsphere_ops.moref_value(self.ref),
                    name='HttpNfcLease', target=self.target,
                    timeout=timeout, state=state)
            time.sleep(delay)
            delay = min(delay * 2, 1.0)

    def disk_urls(self):
        """[(deviceUrl, absolute URL)] of the lease's disks."""
        found = []
        for device in getattr(self.info, 'deviceUrl', None) or []:
            if getattr(device, 'disk', False):
                found.append((device, self.absolute_url(device.url)))
        return found

    def absolute_url(self, url):
        """``url`` with vCenter's ``*`` host placeholder replaced.

        vSphere: "If a '*' is returned the client must substitute it with
        the host name or IP address used when connecting to the server";
        the scheme and port are then those of the session too.
        """
        parts = urllib.parse.urlsplit(url)
        if parts.hostname == '*':
            opts = self.session.options
            netloc = '%s:%s' % (opts['vcenter_host'], opts['vcenter_port'])
            parts = parts._replace(scheme=opts['vcenter_scheme'],
                                   netloc=netloc)
        return urllib.parse.urlunsplit(parts)

    # Progress and keep-alive ------------------------------------------

    def advance(self, nbytes):
        """Count ``nbytes`` more transferred (drives the reported percent)."""
        self.done += nbytes
        if self.total:
            self._percent = min(99, int(self.done * 100 / self.total))

    @property
    def percent(self):
        return self._percent

    def progress(self, percent):
        """``HttpNfcLeaseProgress``; sent once more after a lost answer.

        Reporting a percentage again changes nothing: a lost answer does
        not fail the transfer.
        """
        for attempt in (1, 2):
            try:
                self.session.invoke('HttpNfcLeaseProgress', self.ref,
                                    target=self.target,
                                    percent=int(percent))
                return
            except LOST_ANSWER as err:
                if attempt == 2:
                    raise
                LOG.warning('HttpNfcLeaseProgress for %s: %s; sending it '
                            'again.', self.target, err)

    def start_keepalive(self, interval=None):
        """Report progress every ``interval`` s until :meth:`stop_keepalive`.

        Default interval: a third of ``info.leaseTimeout``, at most 60 s. A
        report whose answer is lost is tried again at the next interval
        while the lease has not been silent for two thirds of its timeout;
        any other failure (or a longer silence) fails the transfer.
        """
        timeout = getattr(self.info, 'leaseTimeout', None) or 300
        interval = interval or max(0.2, min(timeout / 3.0, 60.0))

        def run():
            last = -1
            reported = time.monotonic()
            while not self._stop.wait(interval):
                try:
                    self.progress(self._percent)
                    reported = time.monotonic()
                except LOST_ANSWER as err:
                    if time.monotonic() - reported < timeout * 2 / 3.0:
                        LOG.warning('HttpNfcLeaseProgress for %s failed '
                                    '(%s); trying again in %.1f s.',
                                    self.target, err, interval)
                        continue
                    self.keepalive_error = err
                    return
                except Exception as err:  # recorded, reported by leased()
                    self.keepalive_error = err
                    LOG.warning('HttpNfcLeaseProgress for %s failed: %s',
                                self.target, err)
                    return
                if self._percent != last:
                    LOG.info('%s: %d%% (%d bytes)', self.target,
                             self._percent, self.done)
                    last = self._percent

        self._thread = threading.Thread(target=run, daemon=True,
                                        name='nfc-keepalive')
        self._thread.start()

    def stop_keepalive(self):
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    # Ends -------------------------------------------------------------

    def complete(self):
        """``HttpNfcLeaseComplete``; a lost answer is settled.

        The lease's state tells: ``done`` (vCenter completed it) is
        success, still ``ready`` (the call never arrived) gets the call
        once more.
        """
        for attempt in (1, 2):
            try:
                self.session.invoke('HttpNfcLeaseComplete', self.ref,
                                    target=self.target)
                return
            except LOST_ANSWER as err:
                state = self.session.get_properties(
                    self.ref, ('state',), target=self.target).get('state')
                if state == 'done':
                    LOG.info('The answer to HttpNfcLeaseComplete for %s was '
                             'lost (%s); the lease is done.', self.target,
                             err)
                    return
                if state != 'ready' or attempt == 2:
                    raise

    def abort(self):
        """``HttpNfcLeaseAbort``; a lease already ended is logged only."""
        try:
            self.session.invoke('HttpNfcLeaseAbort', self.ref,
                                target=self.target)
        except exceptions.VMwareBackendException as err:
            LOG.warning('Aborting the lease of %s: %s', self.target, err)


@contextlib.contextmanager
def leased(session, ref, target):
    """A ready :class:`Lease` with its keep-alive running.

    Leaving the block normally completes the lease (after a last 100%
    progress); an exception aborts it and is raised again. A keep-alive
    that failed (the lease timed out) fails the transfer.
    """
    lease = Lease(session, ref, target)
    try:
        lease.wait_ready()
        lease.total = (getattr(lease.info, 'totalDiskCapacityInKB', 0) or
                       0) * 1024
        lease.start_keepalive()
        try:
            yield lease
        finally:
            lease.stop_keepalive()
        if lease.keepalive_error is not None:
            raise exceptions.ImageTransferError(
                target=target, reason='the lease was not kept alive: %s'
                % lease.keepalive_error)
        lease.progress(100)
        lease.complete()
    except BaseException:
        lease.abort()
        raise
    LOG.info('%s: transfer complete (%d bytes).', target, lease.done)


def _http(session):
    opts = session.options
    verify = True
    if opts.get('vcenter_ca_file'):
        verify = opts['vcenter_ca_file']
    elif opts.get('vcenter_insecure'):
        verify = False
    # (connect, read): a read waits for the next data of the transfer
    return verify, (opts.get('vcenter_http_timeout') or 120,
                    opts.get('vcenter_transfer_timeout') or 300)


def _cookies(session):
    cookie = session.vim.get_http_cookie()
    if not cookie:
        raise exceptions.VCenterConnectionError(
            url=session.url, reason='the session has no vmware_soap_session '
                                    'cookie for the disk transfer')
    return {'vmware_soap_session': cookie}


def upload(session, lease, url, chunks, length=None):
    """PUT the streamOptimized VMDK ``chunks`` (bytes iterator) to ``url``.

    With ``length`` (bytes, when known) the request carries a
    Content-Length, as oslo.vmware's uploads do, instead of chunked
    encoding; data ending short of it fails the upload at once.

    :raises exceptions.ImageTransferError: vCenter refused the data (names
        the HTTP status and vCenter's reason) or the connection broke.
    """
    verify, timeout = _http(session)
    body = _Body(chunks, lease, length)
    try:
        response = requests.put(
            url, data=body if length else iter(body),
            cookies=_cookies(session), verify=verify, timeout=timeout,
            headers={'Content-Type': STREAM_CONTENT_TYPE,
                     'Overwrite': 't'})
    except Exception as err:
        if body.error is not None:
            raise _source_error(body.error, lease) from err
        if isinstance(err, requests.RequestException):
            raise exceptions.ImageTransferError(
                target=lease.target, reason='upload failed: %s' % _safe(err))
        raise
    if body.error is not None:
        raise _source_error(body.error, lease)
    if response.status_code not in (200, 201, 204):
        raise exceptions.ImageTransferError(
            target=lease.target, reason='vCenter answered the upload with '
            'HTTP %s: %s' % (response.status_code,
                             response.text.strip()[:300]))


def _source_error(error, lease):
    if isinstance(error, exceptions.ImageTransferError):
        return error
    return exceptions.ImageTransferError(
        target=lease.target, reason='reading the source failed: %s' % error)


class _Body:
    """The upload body: counts progress, has a length when one is known."""

    def __init__(self, chunks, lease, length):
        self._chunks = iter(chunks)
        self._lease = lease
        self._length = length
        self._buffer = b''
        self.sent = 0
        self.error = None

    def __len__(self):
        return self._length or 0

    def _next(self):
        try:
            chunk = next(self._chunks)
        except StopIteration:
            if self._length and self.sent < self._length:
                self.error = exceptions.ImageTransferError(
                    target=self._lease.target, reason='the source ended '
                    'after %d of its %d bytes' % (self.sent, self._length))
                raise self.error
            return b''
        except Exception as err:
            self.error = err
            raise
        self.sent += len(chunk)
        self._lease.advance(len(chunk))
        return chunk

    def read(self, size=-1):
        while not self._buffer:
            chunk = self._next()
            if not chunk:
                return b''
            self._buffer = chunk
        if size is None or size < 0:
            size = len(self._buffer)
        data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data

    def __iter__(self):
        while True:
            chunk = self._next()
            if not chunk:
                return
            yield chunk


@contextlib.contextmanager
def download(session, lease, url):
    """A file-like reader of the disk at ``url`` (GET, streamOptimized)."""
    verify, timeout = _http(session)
    try:
        response = requests.get(url, cookies=_cookies(session),
                                verify=verify, timeout=timeout, stream=True)
    except requests.RequestException as err:
        raise exceptions.ImageTransferError(
            target=lease.target, reason='download failed: %s' % _safe(err))
    try:
        if response.status_code != 200:
            raise exceptions.ImageTransferError(
                target=lease.target, reason='vCenter answered the download '
                'with HTTP %s: %s' % (response.status_code,
                                      response.text.strip()[:300]))
        yield _Reader(response, lease)
    finally:
        response.close()


class _Reader:
    """File-like view of a streamed HTTP body, counting progress."""

    def __init__(self, response, lease):
        self._chunks = response.iter_content(CHUNK)
        self._buffer = b''
        self._lease = lease

    def read(self, size=-1):
        while size < 0 or len(self._buffer) < size:
            try:
                chunk = next(self._chunks)
            except StopIteration:
                break
            except requests.RequestException as err:
                raise exceptions.ImageTransferError(
                    target=self._lease.target,
                    reason='download broke: %s' % _safe(err))
            self._lease.advance(len(chunk))
            self._buffer += chunk
        if size < 0:
            data, self._buffer = self._buffer, b''
        else:
            data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data

    def __iter__(self):
        while True:
            data = self.read(CHUNK)
            if not data:
                return
            yield data


def _safe(err):
    """An HTTP error's text without a URL query string.

    requests never puts cookies in messages, but a URL may carry a query.
    """
    return str(err).split('?')[0]
