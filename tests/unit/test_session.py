"""Session logic that needs no server: retries and secret masking."""

import logging
import types

import fixtures
from oslo_vmware import exceptions as vexc
import testtools
import urllib3

from tests import threading_backend  # noqa: F401
from vmware_backend import conf
from vmware_backend import exceptions
from vmware_backend.vsphere import apisession
from vmware_backend.vsphere import secrets
from vmware_backend.vsphere import session as vc_session
from vmware_backend.vsphere import soaplogin
from vmware_backend.vsphere import transport


class _FakeVim:
    """Raises ``error`` (or the next of ``script``) for every call."""

    def __init__(self, error=None, script=None):
        self.calls = []
        self._error = error
        self.script = list(script or [])

    def __getattr__(self, name):
        def call(moref, **kwargs):
            self.calls.append(name)
            step = self.script.pop(0) if self.script else self._error
            if callable(step):
                step = step()
            if isinstance(step, BaseException):
                raise step
            return step
        return call


class _FakeAPI:
    """The parts of apisession.APISession that invoke() uses.

    Like oslo.vmware's session, it reports the session active when asked
    (another thread logged in already).
    """

    def __init__(self, vim):
        self.vim = vim
        self._session_id = 'old'
        self.logins = 0

    def relogin(self, expired_id):
        if self._session_id != expired_id:
            return False
        self.logins += 1
        self._session_id = 'new-%d' % self.logins
        return True

    def is_current_session_active(self):
        return True

    def _create_session(self):
        self.relogin(self._session_id)

    def tls_error(self, verify_error):
        return exceptions.VCenterTLSError(url='u', reason='r', hint='h')

    def logout(self):
        pass


def _not_authenticated():
    # As oslo.vmware reports vCenter's NotAuthenticated SOAP fault: with
    # the suds WebFault as cause.
    return vexc.VimFaultException([vexc.NOT_AUTHENTICATED],
                                  'The session is not authenticated.',
                                  cause=Exception('WebFault'))


class InvokeRetryTest(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.useFixture(fixtures.MockPatch('time.sleep'))
        self.session = vc_session.VCenterSession(conf.option_defaults(
            vcenter_host='vc', vcenter_username='u', vcenter_password='p',
            vcenter_api_retry_count=2))
        self.addCleanup(self.session.close)
        self.vim = _FakeVim(vexc.VimConnectionException('reset'))
        self.session._api = _FakeAPI(self.vim)

    def test_reads_are_retried(self):
        self.assertRaises(exceptions.VCenterConnectionError,
                          self.session.invoke, 'RetrievePropertiesEx', 'pc')
        self.assertEqual(['RetrievePropertiesEx'] * 3, self.vim.calls)

    def test_changes_are_not_sent_twice(self):
        for method in ('CreateVM_Task', 'CreateSnapshot_Task',
                       'CreateFolder', 'Destroy_Task'):
            self.vim.calls = []
            self.assertRaises(exceptions.VCenterConnectionError,
                              self.session.invoke, method, 'obj')
            self.assertEqual([method], self.vim.calls)

    def test_lost_answer_to_a_change_is_outcome_unknown(self):
        err = self.assertRaises(exceptions.VCenterOutcomeUnknown,
                                self.session.invoke, 'CloneVM_Task', 'vm',
                                target='volume-1')
        self.assertIsInstance(err, exceptions.VCenterConnectionError)
        self.assertEqual(('CloneVM_Task', 'volume-1'),
                         (err.method, err.target))
        self.assertIn('CloneVM_Task', str(err))
        self.assertIn('volume-1', str(err))
        self.assertIn('may or may not', str(err))

    def test_a_cursor_read_is_not_sent_again(self):
        # The server moved the token's cursor: a second send would skip a
        # page. The reader (inventory) restarts instead.
        err = self.assertRaises(exceptions.VCenterConnectionError,
                                self.session.invoke,
                                'ContinueRetrievePropertiesEx', 'pc',
                                token='t')
        self.assertNotIsInstance(err, exceptions.VCenterOutcomeUnknown)
        self.assertEqual(['ContinueRetrievePropertiesEx'], self.vim.calls)

    def test_a_change_that_never_left_is_sent_again(self):
        refused = vexc.VimConnectionException(
            'requests error', urllib3.exceptions.NewConnectionError(
                None, 'Connection refused'))
        self.vim.script = [refused, 'folder-2']
        self.assertEqual('folder-2', self.session.invoke('CreateFolder',
                                                         'root'))
        self.assertEqual(['CreateFolder'] * 2, self.vim.calls)

    def test_html_error_page_reads_are_retried_and_named(self):
        page = vexc.VimConnectionException(
            'requests error in RetrievePropertiesEx.',
            transport.HTTPStatusError(503, 'Service Unavailable',
                                      'text/html'))
        self.vim._error = page
        err = self.assertRaises(exceptions.VCenterConnectionError,
                                self.session.invoke, 'RetrievePropertiesEx',
                                'pc')
        self.assertIn('HTTP 503', str(err))
        self.assertEqual(['RetrievePropertiesEx'] * 3, self.vim.calls)
        self.vim.calls = []
        err = self.assertRaises(exceptions.VCenterOutcomeUnknown,
                                self.session.invoke, 'ReconfigVM_Task',
                                'vm', target='volume-2')
        self.assertIn('HTTP 503', str(err))
        self.assertEqual(['ReconfigVM_Task'], self.vim.calls)

    def test_faults_are_not_retried(self):
        self.vim._error = vexc.VimFaultException(['InvalidArgument'], 'bad')
        err = self.assertRaises(exceptions.VCenterFault, self.session.invoke,
                                'FindChild', 'si', target='folder x')
        self.assertEqual('InvalidArgument', err.fault)
        self.assertIn('folder x', str(err))
        self.assertEqual(['FindChild'], self.vim.calls)


class NotAuthenticatedTest(testtools.TestCase):
    """Defect 1: NotAuthenticated never becomes a made-up result."""

    def setUp(self):
        super().setUp()
        self.useFixture(fixtures.MockPatch('time.sleep'))
        self.session = vc_session.VCenterSession(conf.option_defaults(
            vcenter_host='vc', vcenter_username='u', vcenter_password='p',
            vcenter_api_retry_count=2))
        self.addCleanup(self.session.close)

    def _use(self, vim):
        self.session._api = api = _FakeAPI(vim)
        return api

    def test_any_request_is_sent_again_after_a_login(self):
        for method, answer in (('CreateFolder', 'group-v9'),
                               ('Destroy_Task', 'task-1'),
                               ('RetrievePropertiesEx', 'result'),
                               ('FindAllByUuid', ['vm-1'])):
            vim = _FakeVim(script=[_not_authenticated(), answer])
            api = self._use(vim)
            self.assertEqual(answer, self.session.invoke(method, 'obj'))
            self.assertEqual([method, method], vim.calls)
            self.assertEqual(1, api.logins)

    def test_another_threads_login_is_shared(self):
        vim = _FakeVim()
        api = self._use(vim)

        def other_thread_logged_in():
            api._session_id = 'by-another-thread'
            return _not_authenticated()
        vim.script = [other_thread_logged_in, 'task-7']
        self.assertEqual('task-7', self.session.invoke('CloneVM_Task', 'vm'))
        self.assertEqual(0, api.logins)
        self.assertEqual(['CloneVM_Task'] * 2, vim.calls)

    def test_session_that_keeps_expiring_is_an_error(self):
        vim = _FakeVim(error=_not_authenticated)
        api = self._use(vim)
        err = self.assertRaises(exceptions.VCenterConnectionError,
                                self.session.invoke, 'CreateFolder', 'r')
        self.assertIn('keeps expiring', str(err))
        self.assertEqual(2, api.logins)

    def test_session_bound_request_is_not_sent_again(self):
        vim = _FakeVim(script=[_not_authenticated(), 'page'])
        api = self._use(vim)
        self.assertRaises(exceptions.VCenterSessionRenewed,
                          self.session.invoke,
                          'ContinueRetrievePropertiesEx', 'pc',
                          session_bound=True, token='t1')
        self.assertEqual(1, api.logins)
        self.assertEqual(['ContinueRetrievePropertiesEx'], vim.calls)

    def test_empty_read_needs_the_probe(self):
        # oslo.vmware's checker raises this for an empty answer *and* for a
        # missingSet NotAuthenticated; only the probe tells them apart.
        checker_fault = vexc.VimFaultException(
            [vexc.NOT_AUTHENTICATED], 'Error occurred while calling '
            'RetrievePropertiesEx.')
        probe = self.session._probe
        probe.sending(types.SimpleNamespace(envelope=b''))
        probe.unmarshalled(types.SimpleNamespace(reply=None))
        self.assertTrue(probe.empty_read('RetrievePropertiesEx',
                                         checker_fault))
        self.assertFalse(probe.empty_read('RetrievePropertiesEx',
                                          _not_authenticated()))
        self.assertFalse(probe.empty_read('CreateFolder', checker_fault))
        probe.sending(types.SimpleNamespace(envelope=b''))
        probe.unmarshalled(types.SimpleNamespace(reply=object()))
        self.assertFalse(probe.empty_read('RetrievePropertiesEx',
                                          checker_fault))


class ReloginTest(testtools.TestCase):
    """APISession.relogin: one login per expiry, whatever the threads."""

    def setUp(self):
        super().setUp()
        soap = soaplogin.SoapLogin('https://vc:443/sdk', 'vc', 'u', 'p')
        self.api = apisession.APISession('vc', 'u', 'p', 0, 0.1,
                                         create_session=False, login=soap)
        self.logins = []

        def login():
            self.logins.append(1)
            soap.key = 'session-%d' % len(self.logins)
        soap.login = login

    def test_first_login_and_shared_relogin(self):
        self.assertTrue(self.api.relogin(None))
        self.assertFalse(self.api.relogin(None))
        self.assertTrue(self.api.relogin('session-1'))
        # A thread that sent its request with session-1 finds session-2.
        self.assertFalse(self.api.relogin('session-1'))
        self.assertEqual(2, len(self.logins))


class SecretMaskingTest(testtools.TestCase):
    """Defect 8: masking at record creation, whatever the loggers do."""

    SECRET = 'Sec&ret<pw"\' +/=%'

    def setUp(self):
        super().setUp()
        secrets.register(self.SECRET)
        self.addCleanup(secrets.unregister, self.SECRET)

    def test_every_form_is_masked(self):
        forms = secrets.forms_of(self.SECRET)
        for expected in ('Sec&amp;ret&lt;pw"\' +/=%',
                         'Sec&amp;ret&lt;pw&quot;&apos; +/=%',
                         'Sec%26ret%3Cpw%22%27%20%2B%2F%3D%25',
                         'Sec%26ret%3Cpw%22%27+%2B%2F%3D%25',
                         'U2VjJnJldDxwdyInICsvPSU=',
                         'Sec&ret<pw\\"\' +/=%'):
            self.assertIn(expected, forms)
        for form in forms:
            record = logging.getLogRecordFactory()(
                'suds.mx.core', logging.DEBUG, 'f', 1,
                'processing:\n%s', ('<password>%s</password>' % form,),
                None)
            message = record.getMessage()
            self.assertNotIn(form, message)
            self.assertIn('<password>***</password>', message)

    def test_child_logger_at_debug_after_the_fact(self):
        # Python applies no filter of "suds" to records of "suds.mx.core";
        # the factory masks them before any handler or filter.
        logs = self.useFixture(fixtures.FakeLogger(
            name='suds', level=logging.DEBUG,
            format='%(name)s %(message)s'))
        child = logging.getLogger('suds.mx.core')
        old = child.level
        self.addCleanup(child.setLevel, old)
        child.setLevel(logging.DEBUG)

        class Value:
            def __str__(self):
                return 'password=%s' % SecretMaskingTest.SECRET
        child.debug('processing:\n%s', Value())
        child.debug('b64 %s', 'U2VjJnJldDxwdyInICsvPSU=')
        self.assertIn('suds.mx.core processing:', logs.output)
        self.assertNotIn('Sec', logs.output)
        self.assertNotIn('U2Vj', logs.output)

    def test_basic_auth_form_with_the_user_name(self):
        secrets.register(self.SECRET, 'admin')
        self.addCleanup(secrets.unregister, self.SECRET, 'admin')
        basic = 'YWRtaW46U2VjJnJldDxwdyInICsvPSU='   # admin:<secret>
        self.assertIn(basic, secrets.forms_of(self.SECRET, 'admin'))
        self.assertEqual('auth ***', secrets.mask('auth ' + basic))

    def test_tracebacks_are_masked(self):
        logs = self.useFixture(fixtures.FakeLogger(
            name='x', level=logging.DEBUG))
        try:
            raise ValueError('bad password %s' % self.SECRET)
        except ValueError:
            logging.getLogger('x').exception('failed')
        self.assertIn('failed', logs.output)
        self.assertIn('ValueError: bad password ***', logs.output)
        self.assertNotIn('Sec&', logs.output)

    def test_factory_is_installed_once_and_chains(self):
        factory = logging.getLogRecordFactory()
        secrets.register('other-secret')
        secrets.unregister('other-secret')
        self.assertIs(factory, logging.getLogRecordFactory())
        record = factory('n', logging.INFO, 'f', 1, 'plain %s', ('text',),
                         None)
        self.assertEqual('plain text', record.getMessage())
        self.assertEqual(('text',), record.args)

    def test_suds_loggers_are_capped(self):
        logger = logging.getLogger('suds.client')
        old = logger.level
        self.addCleanup(logger.setLevel, old)
        logger.setLevel(logging.DEBUG)
        session = vc_session.VCenterSession(conf.option_defaults())
        self.addCleanup(session.close)
        self.assertGreaterEqual(logger.getEffectiveLevel(), logging.INFO)


class CheckedTransportTest(testtools.TestCase):
    """Defect 3: an HTML error page never reaches suds as a SOAP reply."""

    def _send(self, status, content_type, body):
        checked = apisession.CheckedTransport()
        checked.session.post = lambda *a, **k: types.SimpleNamespace(
            status_code=status, headers={'Content-Type': content_type},
            content=body)
        return checked.send(types.SimpleNamespace(
            url='http://vc/sdk', message=b'<x/>', headers={}))

    def test_html_error_page_is_an_http_error(self):
        err = self.assertRaises(
            transport.HTTPStatusError, self._send, 503, 'text/html',
            b'<html><body><h1>503 Service Unavailable</h1></body></html>')
        self.assertEqual(503, err.status)
        self.assertIn('HTTP 503 Service Unavailable', str(err))
        # oslo.vmware turns requests errors into VimConnectionException.
        self.assertIsInstance(err, transport.requests.RequestException)

    def test_soap_fault_with_500_passes(self):
        body = (b'<?xml version="1.0"?><soapenv:Envelope xmlns:soapenv='
                b'"http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>'
                b'<soapenv:Fault/></soapenv:Body></soapenv:Envelope>')
        reply = self._send(500, 'text/xml', body)
        self.assertEqual((500, body), (reply.code, reply.message))
