"""The vCenter session against vcsim: login, secrets, counting, task waits."""

import logging

import fixtures
import testtools

from tests.functional import base
from vmware_backend import conf
from vmware_backend import exceptions
from vmware_backend.vsphere import ops as vsphere_ops
from vmware_backend.vsphere import session as vc_session


class _LogCapture(fixtures.Fixture):
    """Every record of every logger, at DEBUG, as text."""

    def _setUp(self):
        self.records = []
        capture = self

        class Handler(logging.Handler):
            def emit(self, record):
                capture.records.append(self.format(record))

        handler = Handler(level=logging.DEBUG)
        root = logging.getLogger()
        old_level = root.level
        root.addHandler(handler)
        root.setLevel(logging.DEBUG)
        self.addCleanup(root.removeHandler, handler)
        self.addCleanup(root.setLevel, old_level)

    @property
    def text(self):
        return '\n'.join(self.records)


class LoginTest(base.FunctionalTestCase):

    def test_login_counts_real_requests(self):
        session = vc_session.VCenterSession(self.options)
        self.addCleanup(session.close)
        session.api
        counts = session.counts_snapshot()
        self.assertEqual({'Login': 1, 'RetrieveServiceContent': 1}, counts)
        # Another call adds exactly one request.
        session.get_properties(session.service_content.rootFolder, ['name'])
        self.assertEqual(3, session.total_requests())
        self.assertEqual(1, session.counts_snapshot()['RetrievePropertiesEx'])

    def test_password_never_logged_on_success(self):
        logs = self.useFixture(_LogCapture())
        session = vc_session.VCenterSession(self.options)
        self.addCleanup(session.close)
        session.api
        session.get_properties(session.service_content.rootFolder, ['name'])
        self.assertIn('Logged in', logs.text)
        self.assertNotIn(self.vcsim.password, logs.text)
        self.assertNotIn(self.vcsim.password, repr(session))

    def test_bad_password_clear_error_without_secret(self):
        logs = self.useFixture(_LogCapture())
        secret = 'Wrong-Secret-%s' % base.new_id()
        options = dict(self.options, vcenter_password=secret)
        session = vc_session.VCenterSession(options)
        self.addCleanup(session.close)
        err = self.assertRaises(exceptions.VCenterLoginError,
                                lambda: session.api)
        text = str(err)
        self.assertIn(self.vcsim.username, text)
        self.assertIn('127.0.0.1:%d' % self.vcsim.port, text)
        self.assertNotIn(secret, text)
        self.assertNotIn(secret, repr(err.args))
        self.assertNotIn(secret, logs.text)
        self.assertTrue(logs.records)

    def test_expired_session_logs_in_again(self):
        session = vc_session.VCenterSession(self.options)
        self.addCleanup(session.close)
        session.api
        # vCenter drops the session (idle timeout, restart...).
        session.vim.Logout(session.service_content.sessionManager)
        before = session.counts_snapshot()
        props = session.get_properties(session.service_content.rootFolder,
                                       ['name'])
        self.assertEqual('Datacenters', props['name'])
        calls = session.counts_snapshot() - before
        self.assertEqual(1, calls['Login'])
        self.assertEqual(2, calls['RetrievePropertiesEx'])

    def test_unreachable_server_is_a_connection_error(self):
        options = conf.option_defaults(**self.vcsim.options(
            vcenter_port=1, vcenter_api_retry_count=0))
        session = vc_session.VCenterSession(options)
        self.addCleanup(session.close)
        err = self.assertRaises(exceptions.VCenterConnectionError,
                                lambda: session.api)
        self.assertIn('127.0.0.1:1', str(err))


class TaskWaitTest(testtools.TestCase):
    """Task waits against a simulator whose tasks take 300 ms."""

    DELAY_MS = 300

    def setUp(self):
        super().setUp()
        self.vcsim = self.useFixture(base.VcsimFixture(
            {'task-delay-ms': self.DELAY_MS}))

    def _session(self, **overrides):
        session = vc_session.VCenterSession(self.vcsim.options(**overrides))
        self.addCleanup(session.close)
        return session

    def _rename_task(self, session, new_name):
        folder = session.invoke(
            'CreateFolder', session.service_content.rootFolder,
            name='wait-%s' % base.new_id()[:8])
        return folder, session.invoke('Rename_Task', folder,
                                      newName=new_name)

    def test_wait_sees_running_then_success_promptly(self):
        session = self._session(vcenter_task_poll_interval=0.05)
        name = 'renamed-%s' % base.new_id()[:8]
        folder, task = self._rename_task(session, name)
        state = session.get_properties(task, ['info'])['info'].state
        self.assertIn(state, ('queued', 'running'))
        before = session.counts_snapshot()['RetrievePropertiesEx']
        info = session.wait_for_task(task)
        polls = session.counts_snapshot()['RetrievePropertiesEx'] - before
        self.assertEqual('success', info.state)
        self.assertEqual(name, session.get_properties(
            folder, ['name'])['name'])
        # Back-off from 10 ms capped at 50 ms: at least a few polls, far
        # fewer than a busy loop would make.
        self.assertGreater(polls, 1)
        self.assertLess(polls, 40)

    def test_deadline_gives_named_timeout(self):
        self.vcsim_slow = self.useFixture(base.VcsimFixture(
            {'task-delay-ms': 3000}))
        slow = vc_session.VCenterSession(self.vcsim_slow.options(
            vcenter_task_timeout=1.0, vcenter_task_poll_interval=0.05))
        self.addCleanup(slow.close)
        folder, task = self._rename_task(slow, 'never-%s' % base.new_id())
        err = self.assertRaises(exceptions.TaskTimeout,
                                slow.wait_for_task, task,
                                target='folder under test',
                                action='Rename_Task')
        text = str(err)
        self.assertIn(vsphere_ops.moref_value(task), text)
        self.assertIn('Rename_Task', text)
        self.assertIn('folder under test', text)
        self.assertIn('1.0 seconds', text)
        # The task that ran out of time is cancelled, not left running.
        self.assertEqual(1, slow.counts_snapshot()['CancelTask'])

    def test_task_error_names_fault(self):
        session = self._session(vcenter_task_poll_interval=0.05)
        taken = 'taken-%s' % base.new_id()[:8]
        first = session.invoke('CreateFolder',
                               session.service_content.rootFolder,
                               name=taken)
        self.addCleanup(session.invoke_task, 'Destroy_Task', first)
        # Renaming a sibling to a name in use fails inside the task (vcsim
        # reports InvalidArgument on "name"; vCenter DuplicateName).
        second, task = self._rename_task(session, taken)
        self.addCleanup(session.invoke_task, 'Destroy_Task', second)
        err = self.assertRaises(exceptions.VCenterFault,
                                session.wait_for_task, task,
                                target='folder under test',
                                action='Rename_Task')
        self.assertEqual('InvalidArgument', err.fault)
        self.assertEqual(('Rename_Task', 'folder under test'),
                         (err.kwargs['action'], err.kwargs['target']))
        self.assertIn('Rename_Task failed on folder under test: '
                      'InvalidArgument', str(err))
