"""The login without suds (vsphere/soaplogin.py) against vcsim.

The session logs in with two hand-written envelopes; suds is loaded on the
first call that needs it and uses the same vCenter session (its cookie).
Expiry is real (``SessionManager.TerminateSession`` from a second client),
HTTP error pages come from the test bed's fault proxy.
"""

import json
import os
import subprocess
import sys
import time

import fixtures

from tests.functional import base
from vmware_backend import exceptions
from vmware_backend.testbed.faults import control as control_mod
from vmware_backend.testbed.faults import proxy as proxy_mod
from vmware_backend.testbed.faults import rules
from vmware_backend.vsphere import session as vc_session

_real_sleep = time.sleep

_FRESH_PROCESS = r'''
import json, sys
from vmware_backend import utils
utils.skip_eventlet()
utils.use_threading_backend()
from vmware_backend.vsphere import session as vc_session

session = vc_session.VCenterSession(json.loads(sys.stdin.read()))
session.login()
heavy = ('suds', 'oslo_vmware.api', 'oslo_vmware.service',
         'vmware_backend.vsphere.wsdlcache',
         'vmware_backend.vsphere.apisession')
out = {'loaded_after_login': [m for m in heavy if m in sys.modules],
       'counts_after_login': dict(session.counts_snapshot()),
       'key': session.session_key}
root = session.service_content.rootFolder
out['name'] = session.get_properties(root, ['name'])['name']
out['api_key'] = session.api._session_id
out['cookie'] = session.vim.get_http_cookie()
out['counts'] = dict(session.counts_snapshot())
session.close()
out['counts_after_close'] = dict(session.counts_snapshot())
print(json.dumps(out))
'''


class SoapLoginTest(base.FunctionalTestCase):

    def control(self):
        return control_mod.SimulatorControl('127.0.0.1', self.vcsim.port,
                                            self.vcsim.username,
                                            self.vcsim.password)

    def new_session(self, **overrides):
        session = vc_session.VCenterSession(dict(self.options, **overrides))
        self.addCleanup(session.close)
        return session

    def test_fresh_process_logs_in_without_suds_then_suds_reuses_it(self):
        root = os.path.dirname(os.path.dirname(os.path.dirname(
            os.path.abspath(__file__))))
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(
            [root] + [p for p in [os.environ.get('PYTHONPATH')] if p]))
        proc = subprocess.run(
            [sys.executable, '-c', _FRESH_PROCESS], cwd=root, env=env,
            input=json.dumps(self.options), capture_output=True, text=True,
            timeout=300)
        self.assertEqual(0, proc.returncode, proc.stderr[-3000:])
        out = json.loads(proc.stdout.strip().splitlines()[-1])
        self.assertEqual([], out['loaded_after_login'])
        self.assertEqual({'RetrieveServiceContent': 1, 'Login': 1},
                         out['counts_after_login'])
        self.assertEqual('Datacenters', out['name'])
        # suds sent its call in the login's session: no second Login, no
        # second RetrieveServiceContent.
        self.assertEqual({'RetrieveServiceContent': 1, 'Login': 1,
                          'RetrievePropertiesEx': 1}, out['counts'])
        self.assertTrue(out['key'])
        self.assertEqual(out['key'], out['api_key'])
        self.assertEqual(out['key'], out['cookie'])
        self.assertEqual({'RetrieveServiceContent': 1, 'Login': 1,
                          'RetrievePropertiesEx': 1, 'Logout': 1},
                         out['counts_after_close'])
        # The Logout really ended it: vCenter no longer knows the session.
        self.assertFalse(self.control().terminate_session(out['key']))

    def test_session_is_live_on_vcenter_after_the_login(self):
        session = self.new_session()
        session.login()
        key = session.session_key
        self.assertTrue(self.control().terminate_session(key))
        self.assertFalse(self.control().terminate_session(key))

    def test_about_without_suds_matches_suds(self):
        session = self.new_session()
        about = session.about
        self.assertEqual({'RetrieveServiceContent': 1, 'Login': 1},
                         dict(session.counts_snapshot()))
        suds_about = session.service_content.about
        for field in ('fullName', 'apiVersion', 'instanceUuid', 'version'):
            self.assertEqual(str(getattr(suds_about, field)), about[field])
        self.assertEqual('VMware vCenter Server 6.5.0 build-5973321',
                         about['fullName'])

    def test_preload_builds_the_suds_session_once_in_the_background(self):
        session = self.new_session()
        self.assertIs(session, session.login(preload=True))
        session._preloader.join(120)
        self.assertFalse(session._preloader.is_alive())
        api = session._api
        self.assertIsNotNone(api)
        self.assertIs(api, session.api)
        self.assertEqual(session.session_key, api.vim.get_http_cookie())
        self.assertEqual({'RetrieveServiceContent': 1, 'Login': 1},
                         dict(session.counts_snapshot()))
        session.login(preload=True)   # nothing more to do
        self.assertIs(api, session._api)
        self.assertEqual('Datacenters', session.get_properties(
            session.service_content.rootFolder, ['name'])['name'])

    def test_expiry_before_the_first_suds_call_one_relogin(self):
        session = self.new_session()
        session.login()
        old_key = session.session_key
        self.assertTrue(self.control().terminate_session(old_key))
        before = session.counts_snapshot()
        root = session.service_content.rootFolder
        self.assertEqual('Datacenters',
                         session.get_properties(root, ['name'])['name'])
        self.assertEqual({'Login': 1, 'RetrievePropertiesEx': 2},
                         dict(session.counts_snapshot() - before))
        self.assertNotEqual(old_key, session.session_key)
        self.assertEqual(session.session_key, session.vim.get_http_cookie())
        # The new session is the one vCenter knows.
        self.assertFalse(self.control().terminate_session(old_key))
        self.assertTrue(self.control().terminate_session(
            session.session_key))

    def test_bad_password_clear_error_without_the_password(self):
        logs = self.useFixture(fixtures.FakeLogger(level=10))
        secret = 'Wrong&<Secret>-%s' % base.new_id()[:8]
        session = self.new_session(vcenter_password=secret)
        err = self.assertRaises(exceptions.VCenterLoginError, session.login)
        self.assertEqual(
            'vCenter at http://127.0.0.1:%d/sdk refused the login of user '
            '%s: Login failure' % (self.vcsim.port, self.vcsim.username),
            str(err))
        self.assertNotIn(secret, repr(err.args) + repr(err.kwargs))
        self.assertNotIn('Wrong&amp;', str(err))
        self.assertNotIn(secret, logs.output)
        self.assertNotIn('Wrong&amp;', logs.output)
        self.assertIsNone(session.session_key)
        # A refused login is not tried again.
        self.assertEqual({'RetrieveServiceContent': 1, 'Login': 1},
                         dict(session.counts_snapshot()))


class LoginHTTPFaultTest(base.FunctionalTestCase):
    """HTML error pages (HTTP 5xx) instead of the Login's answer."""

    def _proxied(self, *fault_rules, **overrides):
        ctl = control_mod.SimulatorControl('127.0.0.1', self.vcsim.port,
                                           self.vcsim.username,
                                           self.vcsim.password)
        proxy = proxy_mod.FaultProxy('127.0.0.1', self.vcsim.port,
                                     control=ctl)
        proxy.plan = rules.FaultPlan(list(fault_rules), seed=11)
        proxy.start()
        self.addCleanup(proxy.stop)
        session = vc_session.VCenterSession(
            proxy.options(dict(self.options, **overrides)))
        self.addCleanup(session.close)
        return session, proxy

    def setUp(self):
        super().setUp()
        self.sleeps = []

        def sleep(seconds):
            # Recorded, and shortened; long enough for the proxy's closing
            # of the connection after an error page to reach the client
            # (else the next attempt may be sent on it: RemoteDisconnected).
            self.sleeps.append(seconds)
            _real_sleep(0.2)
        self.useFixture(fixtures.MonkeyPatch(
            'vmware_backend.vsphere.soaplogin.time.sleep', sleep))

    def test_one_503_on_login_is_tried_again(self):
        session, proxy = self._proxied(
            rules.Rule('http_503', 'Login', count=1),
            vcenter_api_retry_count=2)
        session.login()
        self.assertEqual({'http_503': 1}, dict(proxy.plan.counts()))
        self.assertEqual({'RetrieveServiceContent': 1, 'Login': 2},
                         dict(session.counts_snapshot()))
        self.assertEqual([1], self.sleeps)
        root = session.service_content.rootFolder
        self.assertEqual('Datacenters',
                         session.get_properties(root, ['name'])['name'])
        self.assertEqual(2, session.counts_snapshot()['Login'])

    def test_login_answered_by_500_pages_is_a_named_connection_error(self):
        session, proxy = self._proxied(
            rules.Rule('http_500', 'Login'), vcenter_api_retry_count=1)
        err = self.assertRaises(exceptions.VCenterConnectionError,
                                session.login)
        self.assertNotIsInstance(err, exceptions.VCenterLoginError)
        self.assertIn('HTTP 500 Internal Server Error (text/html, not a '
                      'SOAP answer)', str(err))
        self.assertNotIn(self.vcsim.password, str(err))
        self.assertEqual({'http_500': 2}, dict(proxy.plan.counts()))
        self.assertEqual({'RetrieveServiceContent': 1, 'Login': 2},
                         dict(session.counts_snapshot()))
        self.assertIsNone(session.session_key)

    def test_503_on_the_relogin_after_expiry(self):
        session, proxy = self._proxied(vcenter_api_retry_count=2)
        session.login()
        root = session.service_content.rootFolder
        old_key = session.session_key
        proxy.plan = rules.FaultPlan(
            [rules.Rule('http_503', 'Login', count=1)], seed=11)
        ctl = control_mod.SimulatorControl('127.0.0.1', self.vcsim.port,
                                           self.vcsim.username,
                                           self.vcsim.password)
        self.assertTrue(ctl.terminate_session(old_key))
        before = session.counts_snapshot()
        self.assertEqual('Datacenters',
                         session.get_properties(root, ['name'])['name'])
        self.assertEqual({'Login': 2, 'RetrievePropertiesEx': 2},
                         dict(session.counts_snapshot() - before))
        self.assertEqual({'http_503': 1}, dict(proxy.plan.counts()))
        self.assertNotEqual(old_key, session.session_key)
