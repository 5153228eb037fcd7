"""A fault-injecting HTTP proxy in front of the simulator's ``/sdk``.

The driver is pointed at the proxy (``vcenter_host``/``vcenter_port``); the
proxy forwards each request to the simulator, unless the
:class:`~vmware_backend.testbed.faults.rules.FaultPlan` picks a fault for its
SOAP method:

* ``reset``: the client connection is reset before forwarding (nothing
  done);
* ``drop_answer``: forwarded, answered by the simulator, then the client
  connection is reset (the simulator did it, the client never hears);
* ``http_500`` / ``http_503``: an HTML error page, as a load balancer
  sends it, without forwarding;
* ``slow``: forwarded, and the answer held ``slow_hold`` seconds (past the
  client's HTTP timeout) before the connection is reset;
* ``not_authenticated``: the client's session is really ended first (a
  second client's ``TerminateSession``), then the request is forwarded and
  the simulator itself answers ``NotAuthenticated``;
* ``task_*``: a one-shot rule is set through the simulator's control
  endpoint (error before/after the work, hang until cancelled -- made
  cancelable whatever the method --, or a slow task) just before
  forwarding the ``*_Task`` call.

Keep-alive works towards the client (HTTP/1.1); each forwarded request uses
a fresh loopback connection to the simulator. Bounded: at most
``max_connections`` client connections, idle ones close after
``idle_timeout``, a held answer waits at most ``slow_hold``, and
:meth:`FaultProxy.stop` ends every connection and joins its thread.
"""

import http.client
import http.cookies
import http.server
import logging
import socket
import struct
import threading

from vmware_backend.testbed.faults import rules as rules_mod

LOG = logging.getLogger(__name__)

LOOPBACK = '127.0.0.1'
_HOP_BY_HOP = frozenset(('connection', 'keep-alive', 'transfer-encoding',
                         'content-length', 'proxy-connection', 'te',
                         'trailer', 'upgrade'))
_HTML = ('<html><head><title>%(code)d %(reason)s</title></head><body>'
         '<center><h1>%(code)d %(reason)s</h1></center><hr>'
         '<center>nginx</center></body></html>')
TASK_OUTCOMES = {'task_error_before': 'error-before',
                 'task_error_after': 'error-after',
                 'task_hang': 'hang',
                 'task_slow': 'success'}


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = False
    block_on_close = True

    def __init__(self, proxy):
        self.proxy = proxy
        super().__init__((LOOPBACK, 0), _Handler)

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


class _Handler(http.server.BaseHTTPRequestHandler):
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
        length = int(self.headers.get('Content-Length') or 0)
        return self.rfile.read(length) if length else b''

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

    def send_answer(self, status, reason, headers, body):
        self.send_response(status, reason)
        for name, value in headers:
            if name.lower() not in _HOP_BY_HOP:
                self.send_header(name, value)
        self.send_header('Content-Length', str(len(body)))
        self._headers_buffer.append(b'\r\n')
        self.wfile.write(b''.join(self._headers_buffer) + body)
        self._headers_buffer = []

    def finish(self):
        if self._was_reset:
            return
        super().finish()


class FaultProxy:
    """The proxy, listening on a free loopback port once started.

    :param upstream_host, upstream_port: the simulator's listener.
    :param plan: a :class:`rules.FaultPlan` (none: forward everything).
    :param control: a :class:`control.SimulatorControl` for
        ``not_authenticated`` and task faults.
    :param slow_hold: seconds a ``slow`` answer is held (set it above the
        client's HTTP timeout).
    :param task_delay_ms: ``delay_ms`` of the simulator rules set for task
        faults; ``task_slow_ms`` the delay of a ``task_slow`` task.
    """

    def __init__(self, upstream_host, upstream_port, plan=None, control=None,
                 slow_hold=3.0, task_delay_ms=0, task_slow_ms=1000,
                 max_connections=64, idle_timeout=120.0,
                 upstream_timeout=120.0):
        self.upstream = (upstream_host, upstream_port)
        self.plan = plan or rules_mod.FaultPlan()
        self.control = control
        self.slow_hold = slow_hold
        self.task_delay_ms = task_delay_ms
        self.task_slow_ms = task_slow_ms
        self.max_connections = max_connections
        self.idle_timeout = idle_timeout
        self.upstream_timeout = upstream_timeout
        self.requests = 0
        self.accepted_connections = 0
        self.refused_connections = 0
        self._server = None
        self._thread = None
        self._stopping = threading.Event()
        self._conn_lock = threading.Lock()
        self._connections = set()
        self._task_lock = threading.Lock()

    @property
    def port(self):
        return self._server.server_address[1] if self._server else None

    @property
    def url(self):
        return 'http://%s:%s/sdk' % (LOOPBACK, self.port)

    def start(self):
        """Listen on a free loopback port and serve in a thread."""
        self._server = _Server(self)
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={'poll_interval': 0.1},
                                        name='faultproxy', daemon=True)
        self._thread.start()
        return self

    def stop(self):
        """Stop listening, end every connection and join every thread."""
        if self._server is None:
            return
        self._stopping.set()
        self._server.shutdown()
        with self._conn_lock:
            for conn in list(self._connections):
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        self._server.server_close()
        self._thread.join()
        self._server = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def options(self, options):
        """``options`` with the vCenter address replaced by the proxy's."""
        return dict(options, vcenter_host=LOOPBACK, vcenter_port=self.port,
                    vcenter_scheme='http')

    # Connections ---------------------------------------------------------

    def _admit(self, sock):
        with self._conn_lock:
            if len(self._connections) >= self.max_connections or \
                    self._stopping.is_set():
                self.refused_connections += 1
                return False
            self._connections.add(sock)
            self.accepted_connections += 1
            return True

    def _release(self, sock):
        with self._conn_lock:
            self._connections.discard(sock)

    # Requests ------------------------------------------------------------

    def _handle(self, handler):
        body = handler.read_body()
        with self._conn_lock:
            self.requests += 1
        method = rules_mod.soap_method(body) if body else None
        rule = self.plan.choose(method) if method else None
        kind = rule.kind if rule else None
        if kind == 'reset':
            self.plan.record(kind, method)
            handler.reset()
            return
        if kind in ('http_500', 'http_503'):
            self.plan.record(kind, method)
            code = int(kind[-3:])
            reason = http.client.responses[code]
            handler.send_answer(code, reason, [
                ('Content-Type', 'text/html'), ('Connection', 'close')],
                (_HTML % {'code': code, 'reason': reason}).encode())
            handler.close_connection = True
            return
        if kind == 'not_authenticated':
            self._expire_session(handler, method)
        if method and method.endswith('_Task'):
            answer = self._forward_task(handler, body, method, kind)
        else:
            answer = self._forward(handler, body)
        if answer is None:
            return
        if kind == 'drop_answer':
            self.plan.record(kind, method)
            handler.reset()
            return
        if kind == 'slow':
            self.plan.record(kind, method, 'held %.1fs' % self.slow_hold)
            self._stopping.wait(self.slow_hold)
            handler.reset()
            return
        handler.send_answer(*answer)

    def _forward(self, handler, body):
        """Send the request to the simulator and return its answer.

        :returns: (status, reason, headers, body), or None after resetting
            the client connection when the simulator could not be reached.
        """
        conn = http.client.HTTPConnection(*self.upstream,
                                          timeout=self.upstream_timeout)
        headers = {k: v for k, v in handler.headers.items()
                   if k.lower() not in _HOP_BY_HOP}
        try:
            conn.request(handler.command, handler.path, body=body,
                         headers=headers)
            resp = conn.getresponse()
            return resp.status, resp.reason, resp.getheaders(), resp.read()
        except (OSError, http.client.HTTPException) as err:
            LOG.warning('faultproxy: upstream failed: %s', err)
            handler.reset()
            return None
        finally:
            conn.close()

    def _forward_task(self, handler, body, method, kind):
        """Forward a ``*_Task`` call, after a one-shot task rule for a fault.

        Task calls are forwarded one at a time, so a rule set on the
        simulator meets the call it was set for.
        """
        with self._task_lock:
            if kind not in TASK_OUTCOMES:
                return self._forward(handler, body)
            if self.control is None or not self.control.has_endpoint():
                self.plan.record_skipped(kind, method,
                                         'no task-fault control endpoint')
                return self._forward(handler, body)
            delay = self.task_slow_ms if kind == 'task_slow' else \
                self.task_delay_ms
            rule = {'method': method, 'delay_ms': delay,
                    'outcome': TASK_OUTCOMES[kind], 'times': 1}
            if kind == 'task_hang':
                # Without it a hung CreateVM/ReconfigVM/snapshot task of
                # the simulator can never be cancelled.
                rule['cancelable'] = True
            self.control.set_task_faults([rule])
            try:
                answer = self._forward(handler, body)
            finally:
                self.control.clear_task_faults()
            self.plan.record(kind, method)
            return answer

    def _expire_session(self, handler, method):
        key = session_key(handler.headers.get('Cookie'))
        if key is None or self.control is None:
            self.plan.record_skipped('not_authenticated', method,
                                     'no session cookie' if key is None
                                     else 'no control client')
            return
        if self.control.terminate_session(key):
            self.plan.record('not_authenticated', method,
                             'TerminateSession by a second client')
        else:
            self.plan.record_skipped('not_authenticated', method,
                                     'session already gone')


def session_key(cookie_header):
    """The ``vmware_soap_session`` value of a Cookie header, or None."""
    if not cookie_header:
        return None
    cookies = http.cookies.SimpleCookie()
    try:
        cookies.load(cookie_header)
    except http.cookies.CookieError:
        return None
    morsel = cookies.get('vmware_soap_session')
    return morsel.value.strip('"') if morsel else None
