"""A fault-injecting HTTP proxy in front of the simulator's ``/sdk``.

The driver is pointed at the proxy (``vcenter_host``/``vcenter_port``); the
proxy forwards each request to the simulator, unless the
:class:`~vmware_backend.testbed.faults.rules.FaultPlan` picks a fault for it
by its name (:func:`~vmware_backend.testbed.faults.rules.request_method`: the
SOAP method, ``json:<method>`` for a VI/JSON call, ``nfc:<verb>`` for a disk
transfer on an ``HttpNfcLease`` URL, which vCenter's ``*`` host makes the
driver send to the proxy too):

* ``reset``: the client connection is reset before forwarding (nothing
  done);
* ``drop_answer``: forwarded, answered by the simulator, then the client
  connection is reset (the simulator did it, the client never hears); a
  disk download (``nfc:GET``, streamed as it comes) is broken off after
  its first chunk;
* ``http_500`` / ``http_503``: an HTML error page, as a load balancer
  sends it, without forwarding;
* ``slow``: forwarded, and the answer held ``slow_hold`` seconds (past the
  client's HTTP timeout) before the connection is reset;
* ``not_authenticated``: the client's session (its ``vmware_soap_session``
  cookie, or the ``vmware-api-session-id`` header of VI/JSON) is really
  ended first (a second client's ``TerminateSession``), then the request is
  forwarded and the simulator itself answers ``NotAuthenticated`` (HTTP
  401 on a disk transfer URL);
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

import collections
import http.client
import http.cookies
import http.server
import logging
import select
import socket
import threading
import time

from vmware_backend.testbed.faults import http_server
from vmware_backend.testbed.faults import rules as rules_mod

LOG = logging.getLogger(__name__)

LOOPBACK = http_server.LOOPBACK
_HOP_BY_HOP = http_server.HOP_BY_HOP
_HTML = ('<html><head><title>%(code)d %(reason)s</title></head><body>'
         '<center><h1>%(code)d %(reason)s</h1></center><hr>'
         '<center>nginx</center></body></html>')
VIJSON_SESSION_HEADER = 'vmware-api-session-id'
STREAM_CHUNK = 16 * 1024
TASK_OUTCOMES = {'task_error_before': 'error-before',
                 'task_error_after': 'error-after',
                 'task_hang': 'hang',
                 'task_slow': 'success'}


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
        # requests by kind: soap, json (VI/JSON calls), nfc, other
        self.request_kinds = collections.Counter()
        self.accepted_connections = 0
        self.refused_connections = 0
        self._server = None
        self._thread = None
        self._stopping = threading.Event()
        self._conn_lock = threading.Lock()
        self._connections = set()
        self._task_gate = http_server.TaskGate()

    @property
    def port(self):
        return self._server.server_address[1] if self._server else None

    @property
    def url(self):
        return 'http://%s:%s/sdk' % (LOOPBACK, self.port)

    def start(self):
        """Listen on a free loopback port and serve in a thread."""
        self._server = http_server.Server(self)
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
        method = rules_mod.request_method(handler.command, handler.path,
                                          body)
        with self._conn_lock:
            self.requests += 1
            self.request_kinds[kind_of(method)] += 1
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
            handler.send_answer(
                code, reason, [('Content-Type', 'text/html')],
                (_HTML % {'code': code, 'reason': reason}).encode(),
                close=True)
            return
        if kind == 'not_authenticated':
            self._expire_session(handler, method)
        if method == rules_mod.NFC_PREFIX + 'GET':
            self._stream(handler, body, method, kind)
            return
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
        handler.send_answer(*self._via_proxy(answer))

    def _via_proxy(self, answer):
        """The answer with disk transfer URLs pointing at the proxy.

        A lease's ``deviceUrl``: vCenter answers ``*`` for its own
        address, which the client replaces by the one it talks to (the
        proxy); the simulator names its own listener.
        """
        status, reason, headers, body = answer
        own = ('//%s:%d/nfc/' % self.upstream).encode()
        if own in body:
            body = body.replace(own, ('//%s:%d/nfc/' % (
                LOOPBACK, self.port)).encode())
        return status, reason, headers, body

    def _upstream(self):
        """A fresh connection to the simulator."""
        return http.client.HTTPConnection(*self.upstream,
                                          timeout=self.upstream_timeout)

    @staticmethod
    def _send(conn, handler, body):
        """Send the client's request on ``conn``."""
        headers = {k: v for k, v in handler.headers.items()
                   if k.lower() not in _HOP_BY_HOP}
        conn.request(handler.command, handler.path, body=body,
                     headers=headers)

    def _stream(self, handler, body, method, kind):
        """Forward a disk download as it comes (chunked to the client).

        ``drop_answer`` breaks it off after the first chunk (a transfer
        interrupted midway); ``slow`` holds it before the first byte.
        """
        conn = self._upstream()
        try:
            self._send(conn, handler, body)
            resp = conn.getresponse()
            if kind == 'slow':
                self.plan.record(kind, method, 'held %.1fs' % self.slow_hold)
                self._stopping.wait(self.slow_hold)
                handler.reset()
                return
            handler.send_response(resp.status, resp.reason)
            for name, value in resp.getheaders():
                if name.lower() not in _HOP_BY_HOP:
                    handler.send_header(name, value)
            handler.send_header('Transfer-Encoding', 'chunked')
            handler.end_headers()
            sent = 0
            while True:
                chunk = resp.read(STREAM_CHUNK)
                if kind == 'drop_answer' and (sent or not chunk):
                    self.plan.record(kind, method,
                                     'broken off after %d bytes' % sent)
                    handler.reset()
                    return
                handler.wfile.write(b'%x\r\n%s\r\n' % (len(chunk), chunk))
                if not chunk:
                    return
                sent += len(chunk)
        except (OSError, http.client.HTTPException) as err:
            LOG.warning('faultproxy: streaming failed: %s', err)
            handler.reset()
        finally:
            conn.close()

    def _forward(self, handler, body, until=None):
        """Send the request to the simulator and return its answer.

        :param until: called once the request is sent; returns when the
            caller may go on (see :meth:`_forward_task`).
        :returns: (status, reason, headers, body), or None after resetting
            the client connection when the simulator could not be reached.
        """
        conn = self._upstream()
        try:
            self._send(conn, handler, body)
            if until is not None:
                until(conn)
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

        A call with a task rule passes alone, so the rule set on the
        simulator meets the call it was set for: from before the rule is
        set until the simulator used it (or answered without using it);
        other task calls pass together. (Holding every task call until
        the simulator answered would hold a call behind a slow one: a
        request delivered seconds late, after its client gave up, which
        is not a fault of this campaign.)
        """
        if kind not in TASK_OUTCOMES:
            with self._task_gate.shared():
                return self._forward(handler, body)
        if self.control is None or not self.control.has_endpoint():
            self.plan.record_skipped(kind, method,
                                     'no task-fault control endpoint')
            with self._task_gate.shared():
                return self._forward(handler, body)
        delay = self.task_slow_ms if kind == 'task_slow' else \
            self.task_delay_ms
        rule = {'method': method, 'delay_ms': delay,
                'outcome': TASK_OUTCOMES[kind], 'times': 1}
        if kind == 'task_hang':
            # Without it a hung CreateVM/ReconfigVM/snapshot task of
            # the simulator can never be cancelled.
            rule['cancelable'] = True
        gate = self._task_gate
        gate.acquire_exclusive()
        try:
            self.control.set_task_faults([rule])
            answer = self._forward(handler, body,
                                   until=lambda conn: self._rule_used(
                                       conn, gate))
        finally:
            if gate.held():
                # the request never reached the simulator
                try:
                    self.control.clear_task_faults()
                finally:
                    gate.release_exclusive()
        self.plan.record(kind, method)
        return answer

    def _rule_used(self, conn, gate):
        """Wait until the simulator used the rule, or answers.

        Then the rule is cleared and other task calls pass.
        """
        try:
            while not self._stopping.is_set():
                readable, _w, _x = select.select([conn.sock], [], [], 0.02)
                if readable:
                    break
                rules = self.control.task_faults().get('rules') or []
                if not rules or rules[0].get('remaining') == 0:
                    break
                time.sleep(0.01)
        finally:
            try:
                self.control.clear_task_faults()
            finally:
                gate.release_exclusive()

    def _expire_session(self, handler, method):
        key = (handler.headers.get(VIJSON_SESSION_HEADER) or
               session_key(handler.headers.get('Cookie')))
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


def kind_of(method):
    """soap, json, nfc or other: the channel of a request name."""
    if method is None:
        return 'other'
    if method.startswith(rules_mod.JSON_PREFIX):
        return 'json'
    if method.startswith(rules_mod.NFC_PREFIX):
        return 'nfc'
    return 'soap'


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
