"""Session logic that needs no server: retries and secret filtering."""

import logging
import types

import fixtures
from oslo_vmware import exceptions as vexc
import testtools

from tests import threading_backend  # noqa: F401
from vmware_backend import conf
from vmware_backend import exceptions
from vmware_backend.vsphere import session as vc_session


class _FakeVim:
    def __init__(self, error):
        self.calls = []
        self._error = error

    def __getattr__(self, name):
        def call(moref, **kwargs):
            self.calls.append(name)
            raise self._error
        return call


class InvokeRetryTest(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.useFixture(fixtures.MockPatch('time.sleep'))
        self.session = vc_session.VCenterSession(conf.option_defaults(
            vcenter_host='vc', vcenter_username='u', vcenter_password='p',
            vcenter_api_retry_count=2))
        self.addCleanup(self.session.close)
        self.vim = _FakeVim(vexc.VimConnectionException('reset'))
        self.session._api = types.SimpleNamespace(vim=self.vim,
                                                  logout=lambda: None)

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

    def test_faults_are_not_retried(self):
        self.vim._error = vexc.VimFaultException(['InvalidArgument'], 'bad')
        err = self.assertRaises(exceptions.VCenterFault, self.session.invoke,
                                'FindChild', 'si', target='folder x')
        self.assertEqual('InvalidArgument', err.fault)
        self.assertIn('folder x', str(err))
        self.assertEqual(['FindChild'], self.vim.calls)


class SecretFilterTest(testtools.TestCase):

    def test_raw_and_escaped_forms_are_masked(self):
        secret = 'Sec&ret<pw"\''
        log_filter = vc_session._SecretFilter(secret)
        for text in ('<password>Sec&amp;ret&lt;pw"\'</password>',
                     'password=Sec&ret<pw"\'',
                     'Sec&amp;ret&lt;pw&quot;&apos;'):
            record = logging.LogRecord('suds.client', logging.DEBUG, 'f', 1,
                                       '%s', (text,), None)
            self.assertTrue(log_filter.filter(record))
            message = record.getMessage()
            self.assertNotIn('Sec', message)
            self.assertIn('***', message)

    def test_suds_loggers_are_capped(self):
        logger = logging.getLogger('suds.client')
        old = logger.level
        self.addCleanup(logger.setLevel, old)
        logger.setLevel(logging.DEBUG)
        session = vc_session.VCenterSession(conf.option_defaults())
        self.addCleanup(session.close)
        self.assertGreaterEqual(logger.getEffectiveLevel(), logging.INFO)
