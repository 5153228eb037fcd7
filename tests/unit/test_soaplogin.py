"""The login without suds: envelopes, replies, faults, errors."""

import types

import fixtures
import requests
import testtools

from vmware_backend import exceptions
from vmware_backend.vsphere import soaplogin
from vmware_backend.vsphere import transport

_ENV = ('<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:'
        'soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi='
        '"http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>%s'
        '</soapenv:Body></soapenv:Envelope>')

CONTENT = (_ENV % (
    '<RetrieveServiceContentResponse xmlns="urn:vim25"><returnval>'
    '<rootFolder type="Folder">group-d1</rootFolder>'
    '<propertyCollector type="PropertyCollector">propertyCollector'
    '</propertyCollector>'
    '<about><name>VMware vCenter Server</name><version>8.0.2</version>'
    '<apiVersion>8.0.2.0</apiVersion></about>'
    '<sessionManager type="SessionManager">SessionManager</sessionManager>'
    '</returnval></RetrieveServiceContentResponse>')).encode()

USER_SESSION = (_ENV % (
    '<LoginResponse xmlns="urn:vim25"><returnval>'
    '<key>52a8-session-key</key><userName>VSPHERE.LOCAL\\admin</userName>'
    '<fullName>admin</fullName></returnval></LoginResponse>')).encode()

INVALID_LOGIN = (_ENV % (
    '<soapenv:Fault><faultcode>ServerFaultCode</faultcode>'
    '<faultstring>Cannot complete login due to an incorrect user name or '
    'password.</faultstring><detail><InvalidLoginFault xmlns="urn:vim25" '
    'xsi:type="InvalidLogin"></InvalidLoginFault></detail>'
    '</soapenv:Fault>')).encode()

NOT_AUTHENTICATED = (_ENV % (
    '<soapenv:Fault><faultcode>ServerFaultCode</faultcode>'
    '<faultstring>The session is not authenticated.</faultstring><detail>'
    '<NotAuthenticatedFault xmlns="urn:vim25"><object type="SessionManager">'
    'SessionManager</object><privilegeId>System.View</privilegeId>'
    '</NotAuthenticatedFault></detail></soapenv:Fault>')).encode()

HTML_503 = b'<html><body><h1>503 Service Unavailable</h1></body></html>'


class EnvelopeTest(testtools.TestCase):

    def test_login_envelope_written_out(self):
        self.assertEqual(
            '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope '
            'xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
            '<soapenv:Body><Login xmlns="urn:vim25"><_this type='
            '"SessionManager">SessionManager</_this><userName>admin'
            '</userName><password>a&amp;b&lt;c&gt;d&quot;e</password>'
            '<locale>en</locale></Login></soapenv:Body></soapenv:Envelope>',
            soaplogin.envelope(
                'Login', ('SessionManager', 'SessionManager'),
                userName='admin', password='a&b<c>d"e',
                locale='en').decode())

    def test_attribute_quote_escaped_and_none_left_out(self):
        body = soaplogin.envelope('Logout', ('Session"Manager', 'S&M'),
                                  locale=None).decode()
        self.assertIn('<_this type="Session&quot;Manager">S&amp;M</_this>'
                      '</Logout>', body)
        self.assertNotIn('locale', body)

    def test_non_ascii_user_is_utf8(self):
        body = soaplogin.envelope('Login', ('SessionManager', 'sm'),
                                  userName='j\u00fcrgen')
        self.assertIn('<userName>j\xc3\xbcrgen</userName>'.encode('latin-1'),
                      body)


class ReplyTest(testtools.TestCase):

    def test_service_content(self):
        content = soaplogin.service_content(soaplogin.parse_reply(CONTENT))
        self.assertEqual({
            'rootFolder': ('Folder', 'group-d1'),
            'propertyCollector': ('PropertyCollector', 'propertyCollector'),
            'sessionManager': ('SessionManager', 'SessionManager'),
            'about': {'name': 'VMware vCenter Server', 'version': '8.0.2',
                      'apiVersion': '8.0.2.0'}}, content)

    def test_user_session(self):
        self.assertEqual(
            ('52a8-session-key', 'VSPHERE.LOCAL\\admin'),
            soaplogin.user_session(soaplogin.parse_reply(USER_SESSION)))

    def test_fault_by_xsi_type(self):
        err = self.assertRaises(soaplogin.SoapFault, soaplogin.parse_reply,
                                INVALID_LOGIN)
        self.assertEqual('InvalidLogin', err.name)
        self.assertEqual('Cannot complete login due to an incorrect user '
                         'name or password.', err.text)

    def test_fault_by_element_name(self):
        err = self.assertRaises(soaplogin.SoapFault, soaplogin.parse_reply,
                                NOT_AUTHENTICATED)
        self.assertEqual('NotAuthenticated', err.name)

    def test_fault_without_detail_is_named_by_code(self):
        err = self.assertRaises(soaplogin.SoapFault, soaplogin.parse_reply, (
            _ENV % '<soapenv:Fault><faultcode>soapenv:Client</faultcode>'
            '<faultstring></faultstring></soapenv:Fault>').encode())
        self.assertEqual(('Client', 'Client'), (err.name, err.text))


class _FakeHTTP:
    """requests.Session.post answering from a script; records bodies."""

    def __init__(self, script):
        self.script = list(script)
        self.bodies = []
        self.cookies = requests.cookies.RequestsCookieJar()

    def post(self, url, data=None, verify=None, timeout=None, headers=None):
        self.bodies.append((url, data, verify, timeout, headers))
        step = self.script.pop(0)
        if isinstance(step, BaseException):
            raise step
        status, content_type, body = step
        return types.SimpleNamespace(status_code=status, content=body,
                                     headers={'Content-Type': content_type})


class LoginTest(testtools.TestCase):

    PASSWORD = 'S3cret&<pw>'

    def setUp(self):
        super().setUp()
        self.sleeps = []
        self.useFixture(fixtures.MonkeyPatch(
            'vmware_backend.vsphere.soaplogin.time.sleep',
            self.sleeps.append))
        self.counted = []

    def _login(self, script, retries=2):
        soap = soaplogin.SoapLogin(
            'https://vc.example:443/sdk', 'vc.example', 'admin',
            self.PASSWORD, retry_count=retries, timeout=7.0,
            counter=self.counted.append)
        soap.http = _FakeHTTP(script)
        return soap

    def test_login_sends_two_envelopes_and_keeps_the_key(self):
        soap = self._login([(200, 'text/xml', CONTENT),
                            (200, 'text/xml', USER_SESSION)])
        soap.ensure()
        self.assertEqual(('52a8-session-key', 'VSPHERE.LOCAL\\admin'),
                         (soap.key, soap.user_name))
        self.assertEqual(['RetrieveServiceContent', 'Login'], self.counted)
        (url1, body1, verify, timeout, headers), second = soap.http.bodies
        self.assertEqual(('https://vc.example:443/sdk', True, 7.0),
                         (url1, verify, timeout))
        self.assertEqual('text/xml; charset=utf-8', headers['Content-Type'])
        self.assertIn(b'<RetrieveServiceContent xmlns="urn:vim25"><_this '
                      b'type="ServiceInstance">ServiceInstance</_this>',
                      body1)
        self.assertIn(b'<password>S3cret&amp;&lt;pw&gt;</password>',
                      second[1])
        self.assertEqual(CONTENT, soap.content_xml)
        # Logged in: ensure() sends nothing more.
        soap.ensure()
        self.assertEqual(2, len(soap.http.bodies))

    def test_invalid_login_is_a_clear_error_without_the_password(self):
        soap = self._login([(200, 'text/xml', CONTENT),
                            (500, 'text/xml', INVALID_LOGIN)])
        err = self.assertRaises(exceptions.VCenterLoginError, soap.ensure)
        self.assertEqual(
            'vCenter at https://vc.example:443/sdk refused the login of user '
            'admin: Cannot complete login due to an incorrect user name or '
            'password.', str(err))
        self.assertNotIn(self.PASSWORD, repr(err.args) + repr(err.kwargs))
        self.assertIsNone(soap.key)
        self.assertEqual([], self.sleeps)   # a fault is not tried again

    def test_not_authenticated_on_login_is_a_login_error(self):
        soap = self._login([(200, 'text/xml', CONTENT),
                            (500, 'text/xml', NOT_AUTHENTICATED)])
        err = self.assertRaises(exceptions.VCenterLoginError, soap.ensure)
        self.assertIn('The session is not authenticated.', str(err))

    def test_html_5xx_is_tried_again_then_named(self):
        soap = self._login([(200, 'text/xml', CONTENT),
                            (503, 'text/html', HTML_503),
                            (502, 'text/html', HTML_503),
                            (503, 'text/html', HTML_503)])
        err = self.assertRaises(exceptions.VCenterConnectionError,
                                soap.ensure)
        self.assertNotIsInstance(err, exceptions.VCenterLoginError)
        self.assertEqual(
            'Cannot connect to vCenter at https://vc.example:443/sdk: HTTP '
            '503 Service Unavailable (text/html, not a SOAP answer)',
            str(err))
        self.assertEqual([1, 2], self.sleeps)
        self.assertEqual(['RetrieveServiceContent', 'Login', 'Login',
                          'Login'], self.counted)

    def test_5xx_then_success(self):
        soap = self._login([(503, 'text/html', HTML_503),
                            (200, 'text/xml', CONTENT),
                            (200, 'text/xml', USER_SESSION)])
        soap.ensure()
        self.assertEqual('52a8-session-key', soap.key)
        self.assertEqual([1], self.sleeps)

    def test_tls_failure_is_reported_at_once(self):
        import ssl
        verify = ssl.SSLCertVerificationError(
            1, '[SSL: CERTIFICATE_VERIFY_FAILED] unable to get local issuer')
        verify.verify_code = 20
        verify.verify_message = 'unable to get local issuer certificate'
        wrapped = requests.exceptions.SSLError(verify)
        soap = self._login([wrapped])
        err = self.assertRaises(exceptions.VCenterTLSError, soap.ensure)
        self.assertIn('unable to get local issuer certificate', str(err))
        self.assertIn('vcenter_ca_file', str(err))
        self.assertEqual([], self.sleeps)

    def test_answer_that_is_not_xml(self):
        soap = self._login([(200, 'text/xml', CONTENT),
                            (200, 'text/xml', b'<soapenv:Envelope>broken')],
                           retries=0)
        err = self.assertRaises(exceptions.VCenterConnectionError,
                                soap.ensure)
        self.assertIn('unreadable SOAP answer', str(err))

    def test_relogin_keeps_the_service_content(self):
        soap = self._login([(200, 'text/xml', CONTENT),
                            (200, 'text/xml', USER_SESSION),
                            (200, 'text/xml', USER_SESSION.replace(
                                b'52a8', b'77ff'))])
        soap.ensure()
        soap.login()
        self.assertEqual('77ff-session-key', soap.key)
        self.assertEqual(['RetrieveServiceContent', 'Login', 'Login'],
                         self.counted)

    def test_logout_is_best_effort_and_forgets_the_key(self):
        soap = self._login([(200, 'text/xml', CONTENT),
                            (200, 'text/xml', USER_SESSION),
                            (503, 'text/html', HTML_503)])
        soap.ensure()
        soap.logout()
        self.assertIsNone(soap.key)
        self.assertIn(b'<Logout xmlns="urn:vim25"><_this type='
                      b'"SessionManager">SessionManager</_this></Logout>',
                      soap.http.bodies[-1][1])
        soap.logout()   # nothing to do: no request
        self.assertEqual(3, len(soap.http.bodies))

    def test_verify_settings(self):
        self.assertTrue(soaplogin.new_http()[1])
        self.assertEqual('/etc/ca.pem', soaplogin.new_http('/etc/ca.pem')[1])
        self.assertFalse(soaplogin.new_http(None, insecure=True)[1])

    def test_repr_has_no_password(self):
        soap = self._login([])
        self.assertEqual('<SoapLogin https://vc.example:443/sdk user=admin>',
                         repr(soap))


class ActionTest(testtools.TestCase):

    def test_action_of_the_wsdl_is_used(self):
        self.addCleanup(soaplogin.use_action, soaplogin.DEFAULT_ACTION)
        self.assertEqual('"urn:vim25/6.0"', soaplogin.soap_action())
        soaplogin.use_action(b'urn:vim25/8.0.2.0')
        self.assertEqual('"urn:vim25/8.0.2.0"', soaplogin.soap_action())
        soaplogin.use_action('"urn:vim25/4.1"')
        self.assertEqual('"urn:vim25/4.1"', soaplogin.soap_action())


class TransportTest(testtools.TestCase):

    def test_looks_like_soap(self):
        self.assertTrue(transport.looks_like_soap(CONTENT))
        self.assertFalse(transport.looks_like_soap(HTML_503))
        self.assertFalse(transport.looks_like_soap(b''))
        self.assertFalse(transport.looks_like_soap(None))
