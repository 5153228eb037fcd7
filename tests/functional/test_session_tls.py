"""TLS and start-up file errors of the session, against a local TLS server.

The server (127.0.0.1, a thread of the test) presents certificates made
here with the ``openssl`` command and answers every request that gets past
the handshake with an HTML "503 Service Unavailable" page, so a test sees
exactly how far the client got: refused at verification (TLS error), or
through TLS (HTTP 503).
"""

import os
import socket
import ssl
import subprocess
import tempfile
import threading

import fixtures
from oslo_config import cfg
import testtools

from tests.functional import base
from tests import threading_backend  # noqa: F401  (must precede oslo_vmware)
from vmware_backend.admin import health
from vmware_backend import conf
from vmware_backend import exceptions
from vmware_backend.testbed import wsdl
from vmware_backend.vsphere import session as vc_session

_PAGE = (b'HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/html\r\n'
         b'Content-Length: 48\r\nConnection: close\r\n\r\n'
         b'<html><body>503 Service Unavailable</body></html>')


def _openssl(*args, cwd):
    subprocess.run(('openssl',) + args, cwd=cwd, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


class Certificates(fixtures.Fixture):
    """A CA and server certificates it signed, in a temporary directory."""

    def _setUp(self):
        self.dir = self.useFixture(fixtures.TempDir()).path
        _openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes',
                 '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2',
                 '-subj', '/CN=vmware_backend test CA',
                 '-addext', 'basicConstraints=critical,CA:TRUE',
                 '-addext', 'keyUsage=critical,keyCertSign',
                 cwd=self.dir)
        self.ca = os.path.join(self.dir, 'ca.pem')

    def server(self, name, san):
        """(certificate, key) for ``san`` (e.g. ``DNS:x`` or ``IP:...``)."""
        _openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout',
                 name + '.key', '-out', name + '.csr', '-subj', '/CN=' + name,
                 cwd=self.dir)
        with open(os.path.join(self.dir, name + '.ext'), 'w') as f:
            f.write('subjectAltName=%s\n' % san)
        _openssl('x509', '-req', '-in', name + '.csr', '-CA', 'ca.pem',
                 '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2',
                 '-out', name + '.pem', '-extfile', name + '.ext',
                 cwd=self.dir)
        return (os.path.join(self.dir, name + '.pem'),
                os.path.join(self.dir, name + '.key'))


def _read_request(conn):
    """Read one HTTP request (headers and Content-Length body)."""
    data = b''
    while b'\r\n\r\n' not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return
        data += chunk
    head, body = data.split(b'\r\n\r\n', 1)
    length = 0
    for line in head.split(b'\r\n')[1:]:
        name, _sep, value = line.partition(b':')
        if name.strip().lower() == b'content-length':
            length = int(value.strip())
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            return
        body += chunk


class TLSServer(fixtures.Fixture):
    """Accepts connections on 127.0.0.1, counts them, answers HTTP 503."""

    def __init__(self, cert, key):
        super().__init__()
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(cert, key)

    def _setUp(self):
        self.connections = 0
        self.handshakes = 0
        self._sock = socket.socket()
        self._sock.bind(('127.0.0.1', 0))
        self._sock.listen(16)
        self._sock.settimeout(0.2)
        self.port = self._sock.getsockname()[1]
        self._stop = threading.Event()
        thread = threading.Thread(target=self._serve, daemon=True)
        thread.start()
        self.addCleanup(thread.join, 5)
        self.addCleanup(self._sock.close)
        self.addCleanup(self._stop.set)

    def _serve(self):
        while not self._stop.is_set():
            try:
                conn, _addr = self._sock.accept()
            except (socket.timeout, OSError):
                continue
            self.connections += 1
            conn.settimeout(5)
            try:
                with self.context.wrap_socket(conn, server_side=True) as tls:
                    self.handshakes += 1
                    _read_request(tls)
                    tls.sendall(_PAGE)
            except (ssl.SSLError, OSError):
                pass
            finally:
                conn.close()


class TLSTest(testtools.TestCase):
    """Defect 9 (TLS): not retried; each failure with its own hint."""

    def setUp(self):
        super().setUp()
        self.useFixture(fixtures.Timeout(120, gentle=True))
        self.useFixture(fixtures.FakeLogger())
        self.certs = self.useFixture(Certificates())

    def _session(self, server, **overrides):
        options = conf.option_defaults(
            vcenter_host='127.0.0.1', vcenter_port=server.port,
            vcenter_scheme='https', vcenter_username='user',
            vcenter_password='secret', vcenter_wsdl_location=wsdl.assemble(),
            vcenter_api_retry_count=3)
        options.update(overrides)
        session = vc_session.VCenterSession(options)
        self.addCleanup(session.close)
        return session

    def _login_error(self, session, expected):
        return self.assertRaises(expected, lambda: session.api)

    def test_untrusted_certificate_fails_at_once(self):
        server = self.useFixture(TLSServer(*self.certs.server(
            'ip', 'IP:127.0.0.1')))
        session = self._session(server)
        err = self._login_error(session, exceptions.VCenterTLSError)
        self.assertEqual(1, server.connections)   # not retried
        self.assertIsInstance(err, exceptions.VCenterConnectionError)
        self.assertIn('set vcenter_ca_file', str(err))
        self.assertIn('127.0.0.1:%d' % server.port, str(err))

    def test_hostname_mismatch_has_its_own_hint(self):
        server = self.useFixture(TLSServer(*self.certs.server(
            'vcenter.example.org', 'DNS:vcenter.example.org')))
        session = self._session(server, vcenter_ca_file=self.certs.ca)
        err = self._login_error(session, exceptions.VCenterTLSError)
        self.assertEqual(1, server.connections)
        text = str(err)
        self.assertIn('mismatch', text)
        self.assertIn('not for the name 127.0.0.1', text)
        self.assertIn('set vcenter_host', text)
        self.assertNotIn('set vcenter_ca_file', text)
        self.assertIn('vcenter_host', err.hint)
        # The operator CLI's "check" shows the same hint.
        hint = health.diagnose(err)['hint']
        self.assertIn('set vcenter_host', hint)
        self.assertNotIn('vcenter_ca_file', hint)

    def test_wrong_ca_file_is_named(self):
        other = self.useFixture(Certificates())
        server = self.useFixture(TLSServer(*self.certs.server(
            'ip', 'IP:127.0.0.1')))
        session = self._session(server, vcenter_ca_file=other.ca)
        err = self._login_error(session, exceptions.VCenterTLSError)
        self.assertIn('vcenter_ca_file (%s)' % other.ca, str(err))

    def test_wsdl_download_over_tls_fails_the_same(self):
        # No vcenter_wsdl_location: the WSDL comes from vCenter, first.
        server = self.useFixture(TLSServer(*self.certs.server(
            'vcenter.example.org', 'DNS:vcenter.example.org')))
        session = self._session(server, vcenter_ca_file=self.certs.ca,
                                vcenter_wsdl_location=None)
        err = self._login_error(session, exceptions.VCenterTLSError)
        self.assertIn('set vcenter_host', str(err))
        self.assertEqual(1, server.connections)

    def test_trusted_certificate_gets_through_tls(self):
        # The control: with the right CA the handshake succeeds and the
        # error page is reported as such (and retried).
        self.useFixture(fixtures.MockPatch('time.sleep'))
        server = self.useFixture(TLSServer(*self.certs.server(
            'ip', 'IP:127.0.0.1')))
        session = self._session(server, vcenter_ca_file=self.certs.ca)
        err = self._login_error(session, exceptions.VCenterConnectionError)
        self.assertNotIsInstance(err, exceptions.VCenterTLSError)
        self.assertIn('HTTP 503 Service Unavailable', str(err))
        self.assertEqual(4, server.handshakes)


class StartupFilesTest(testtools.TestCase):
    """Defect 9 (files): the CA bundle and the WSDL, named at start."""

    def _options(self, **overrides):
        options = conf.option_defaults(
            vcenter_host='127.0.0.1', vcenter_port=1,
            vcenter_username='user', vcenter_password='secret')
        options.update(overrides)
        return options

    def test_missing_ca_file_named_by_the_config_check(self):
        config = cfg.ConfigOpts()
        conf.register_opts(config)
        config([], default_config_files=[])
        missing = os.path.join(tempfile.gettempdir(), 'no-such-ca.pem')
        config.set_override('vcenter_host', 'vc', group='vmware')
        config.set_override('vcenter_username', 'u', group='vmware')
        config.set_override('vcenter_password', 'p', group='vmware')
        config.set_override('vcenter_ca_file', missing, group='vmware')
        err = self.assertRaises(exceptions.InvalidConfiguration,
                                conf.read_options, config)
        self.assertIn('[vmware] vcenter_ca_file', str(err))
        self.assertIn(missing, str(err))

    def test_ca_file_that_is_a_directory(self):
        directory = self.useFixture(fixtures.TempDir()).path
        session = vc_session.VCenterSession(self._options(
            vcenter_ca_file=directory))
        self.addCleanup(session.close)
        err = self.assertRaises(exceptions.InvalidConfiguration,
                                lambda: session.api)
        self.assertIn('vcenter_ca_file', str(err))
        self.assertIn('%s is not a file' % directory, str(err))

    def test_missing_wsdl_file_is_named(self):
        missing = '/nonexistent/vimService.wsdl'
        for location in (missing, 'file://' + missing):
            session = vc_session.VCenterSession(self._options(
                vcenter_wsdl_location=location))
            self.addCleanup(session.close)
            err = self.assertRaises(exceptions.InvalidConfiguration,
                                    lambda: session.api)
            self.assertIn('vcenter_wsdl_location', str(err))
            self.assertIn(missing, str(err))

    def test_unreachable_wsdl_url_is_named(self):
        # vCenter answers (the login is made without the WSDL); the WSDL
        # URL does not.
        server = base.shared_vcsim()
        url = 'http://127.0.0.1:1/sdk/vimService.wsdl'
        session = vc_session.VCenterSession(conf.option_defaults(
            **server.options(vcenter_wsdl_location=url,
                             vcenter_wsdl_cache_dir='')))
        self.addCleanup(session.close)
        err = self.assertRaises(exceptions.VCenterConnectionError,
                                lambda: session.api)
        self.assertIn('vcenter_wsdl_location', str(err))
        self.assertIn(url, str(err))
        # The session made for it is closed.
        session.close()
        self.assertEqual(1, session.counts_snapshot()['Logout'])
