"""The fault proxy's HTTP plumbing: server, request handler, task gate.

:class:`Server` admits a bounded number of client connections for the
:class:`~vmware_backend.testbed.faults.proxy.FaultProxy` that owns it;
:class:`Handler` reads requests (with a length or chunked) and answers
them, or resets the connection; :class:`TaskGate` lets task calls pass
together and a call with a task rule alone.
"""

import contextlib
import http.server
import logging
import socket
import struct
import threading

LOG = logging.getLogger('vmware_backend.testbed.faults.proxy')

LOOPBACK = '127.0.0.1'
HOP_BY_HOP = frozenset(('connection', 'keep-alive', 'transfer-encoding',
                        'content-length', 'proxy-connection', 'te',
                        'trailer', 'upgrade'))


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = False
    block_on_close = True

    def __init__(self, proxy):
        self.proxy = proxy
        super().__init__((LOOPBACK, 0), Handler)

    def process_request(self, request, client_address):
        if not self.proxy._admit(request):
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request, client_address):
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.proxy._release(request)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    server_version = 'faultproxy'

    def setup(self):
        self.timeout = self.server.proxy.idle_timeout
        super().setup()
        # Headers and body leave in one write; no Nagle delay either way.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._was_reset = False

    def log_message(self, fmt, *args):
        LOG.debug('faultproxy: ' + fmt, *args)

    def do_POST(self):
        self.server.proxy._handle(self)

    do_GET = do_PUT = do_DELETE = do_POST

    def read_body(self):
        if 'chunked' in (self.headers.get('Transfer-Encoding') or ''):
            return self._read_chunked()
        length = int(self.headers.get('Content-Length') or 0)
        return self.rfile.read(length) if length else b''

    def _read_chunked(self):
        """A chunked body (an upload of unknown length), whole."""
        parts = []
        while True:
            size = int(self.rfile.readline().split(b';')[0].strip(), 16)
            if not size:
                while self.rfile.readline() not in (b'\r\n', b'\n', b''):
                    pass  # trailers
                return b''.join(parts)
            parts.append(self.rfile.read(size))
            self.rfile.readline()

    def reset(self):
        """Abort the client connection (RST) without an answer."""
        self._was_reset = True
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack('ii', 1, 0))
            self.connection.close()
        except OSError:
            pass

    def send_answer(self, status, reason, headers, body, close=False):
        """Answer; the connection stays open unless ``close``.

        ``headers`` are an answer's end-to-end headers (hop-by-hop ones,
        e.g. the simulator's ``Connection``, are dropped). With ``close``
        the answer says ``Connection: close`` and the connection is closed
        after it: a server that closes a connection must say so in the
        answer (RFC 9112 9.6), or the client keeps it for its next request,
        which then meets the close without an answer.
        """
        self.send_response(status, reason)
        for name, value in headers:
            if name.lower() not in HOP_BY_HOP:
                self.send_header(name, value)
        if close:
            self.send_header('Connection', 'close')
            self.close_connection = True
        self.send_header('Content-Length', str(len(body)))
        self._headers_buffer.append(b'\r\n')
        self.wfile.write(b''.join(self._headers_buffer) + body)
        self._headers_buffer = []

    def finish(self):
        if self._was_reset:
            return
        super().finish()


class TaskGate:
    """Task calls pass together; a call with a task rule passes alone."""

    def __init__(self):
        self._cond = threading.Condition()
        self._plain = 0
        self._exclusive = False
        self._owner = None

    @contextlib.contextmanager
    def shared(self):
        with self._cond:
            while self._exclusive:
                self._cond.wait()
            self._plain += 1
        try:
            yield
        finally:
            with self._cond:
                self._plain -= 1
                self._cond.notify_all()

    def acquire_exclusive(self):
        with self._cond:
            while self._exclusive:
                self._cond.wait()
            self._exclusive = True
            self._owner = threading.get_ident()
            while self._plain:
                self._cond.wait()

    def held(self):
        """Whether this thread holds the gate alone."""
        with self._cond:
            return self._exclusive and self._owner == threading.get_ident()

    def release_exclusive(self):
        """Release (once; a second release by the owner is a no-op)."""
        with self._cond:
            if self._exclusive and self._owner == threading.get_ident():
                self._exclusive = False
                self._owner = None
                self._cond.notify_all()
