"""Side channels to the simulator that a fault needs besides the proxy.

:class:`SimulatorControl` speaks to the simulator's own listener (never
through the proxy): its ``/testbed/*`` control endpoint for task faults and
session expiry, when the simulator has it, and plain SOAP as a second
client (``Login`` + ``SessionManager.TerminateSession``) to end one given
session otherwise.
"""

import http.client
import json
import re
import threading
from xml.sax import saxutils

SOAP_ENVELOPE = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/'
    'envelope/" xmlns:urn="urn:vim25"><soapenv:Body>%s</soapenv:Body>'
    '</soapenv:Envelope>')
SESSION_MANAGER = '<urn:_this type="SessionManager">SessionManager</urn:_this>'
TIMEOUT = 10.0


class ControlError(RuntimeError):
    """The simulator refused or did not answer a control request."""


class SimulatorControl:
    """Control requests to the simulator at ``host:port``.

    :param username, password: credentials of the second SOAP client used
        to terminate sessions (kept in memory only, never logged).
    """

    def __init__(self, host, port, username=None, password=None):
        self.host = host
        self.port = port
        self._username = username
        self._password = password
        self._cookie = None
        self._lock = threading.Lock()
        self._has_endpoint = None

    def __repr__(self):
        return '<SimulatorControl %s:%s>' % (self.host, self.port)

    def _request(self, method, path, body=None, headers=None):
        conn = http.client.HTTPConnection(self.host, self.port,
                                          timeout=TIMEOUT)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            return resp.status, resp.getheaders(), resp.read()
        finally:
            conn.close()

    # The /testbed control endpoint -------------------------------------

    def has_endpoint(self):
        """Whether the simulator serves ``/testbed/task-faults``."""
        if self._has_endpoint is None:
            status, _h, _b = self._request('GET', '/testbed/task-faults')
            self._has_endpoint = status == 200
        return self._has_endpoint

    def _json(self, method, path, payload=None):
        body = None if payload is None else json.dumps(payload)
        status, _h, data = self._request(
            method, path, body, {'Content-Type': 'application/json'})
        if status >= 300:
            raise ControlError('%s %s: HTTP %s %s' % (
                method, path, status, data[:200].decode(errors='replace')))
        return json.loads(data) if data.strip() else None

    def set_task_faults(self, rules):
        """Replace the simulator's task-fault rules (list of dicts)."""
        return self._json('PUT', '/testbed/task-faults', {'rules': rules})

    def clear_task_faults(self):
        """Remove every task-fault rule."""
        return self._json('DELETE', '/testbed/task-faults')

    def task_faults(self):
        """The simulator's task-fault rules, with ``remaining``."""
        return self._json('GET', '/testbed/task-faults')

    def expire_sessions(self, keep=()):
        """Expire every session except the keys in ``keep``."""
        return self._json('POST', '/testbed/expire-sessions',
                          {'except': list(keep)})

    # A second SOAP client ----------------------------------------------

    def _soap(self, body, cookie=None):
        headers = {'Content-Type': 'text/xml; charset=utf-8',
                   'SOAPAction': 'urn:vim25/8.0'}
        if cookie:
            headers['Cookie'] = 'vmware_soap_session="%s"' % cookie
        status, resp_headers, data = self._request(
            'POST', '/sdk', (SOAP_ENVELOPE % body).encode(), headers)
        return status, resp_headers, data.decode(errors='replace')

    def _login(self):
        esc = saxutils.escape
        status, headers, data = self._soap(
            '<urn:Login>%s<urn:userName>%s</urn:userName><urn:password>%s'
            '</urn:password></urn:Login>' % (
                SESSION_MANAGER, esc(self._username or ''),
                esc(self._password or '')))
        for name, value in headers:
            if name.lower() == 'set-cookie':
                match = re.search(r'vmware_soap_session="?([^";]+)', value)
                if match and status == 200:
                    self._cookie = match.group(1)
                    return
        raise ControlError('control login failed: HTTP %s' % status)

    def terminate_session(self, key):
        """End session ``key`` from a second session (TerminateSession).

        :returns: True when the simulator ended it, False when it did not
            know it.
        """
        body = ('<urn:TerminateSession>%s<urn:sessionId>%s</urn:sessionId>'
                '</urn:TerminateSession>' % (SESSION_MANAGER,
                                             saxutils.escape(key)))
        with self._lock:
            for _attempt in range(2):
                if self._cookie is None:
                    self._login()
                status, _h, data = self._soap(body, self._cookie)
                if status == 200:
                    return True
                if 'NotAuthenticated' in data:
                    self._cookie = None
                    continue
                if 'NotFound' in data:
                    return False
                raise ControlError('TerminateSession: HTTP %s %s'
                                   % (status, data[:200]))
        raise ControlError('TerminateSession: the control session keeps '
                           'expiring')

    def control_session(self):
        """The key of this client's own session (None before a login)."""
        return self._cookie
