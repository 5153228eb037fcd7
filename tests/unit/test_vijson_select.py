"""Which transport reads use, without a server."""

import sys
import types
from unittest import mock

import testtools

from vmware_backend.vsphere.json import select


class FakeSession:
    def __init__(self, transport):
        self.options = {'vcenter_read_transport': transport}
        self.hooks = []

    def count_request(self, method):
        pass

    def add_close_hook(self, hook):
        self.hooks.append(hook)


def patcher(patched):
    return types.SimpleNamespace(
        is_monkey_patched=lambda name: patched and name == 'socket')


class SelectTest(testtools.TestCase):

    def test_soap_never_probes(self):
        with mock.patch.object(select, '_decide') as decide:
            self.assertIsNone(select.state_for(FakeSession('soap')))
        decide.assert_not_called()

    def test_auto_in_an_eventlet_patched_process_is_soap(self):
        with mock.patch.dict(sys.modules, {'eventlet.patcher':
                                           patcher(True)}):
            with mock.patch.object(select, '_decide') as decide:
                self.assertIsNone(select.state_for(FakeSession('auto')))
        decide.assert_not_called()

    def test_auto_probes_once_per_session(self):
        session = FakeSession('auto')
        with mock.patch.dict(sys.modules, {'eventlet.patcher':
                                           patcher(False)}):
            with mock.patch.object(select, '_decide',
                                   return_value=True) as decide:
                first = select.state_for(session)
                second = select.state_for(session)
        self.assertIsNotNone(first)
        self.assertIs(first, second)
        decide.assert_called_once_with(first, 'auto')
        self.assertEqual([first.close], session.hooks)

    def test_auto_falls_back_when_not_offered(self):
        session = FakeSession('auto')
        with mock.patch.dict(sys.modules, {'eventlet.patcher':
                                           patcher(False)}):
            with mock.patch.object(select, '_decide', return_value=False):
                self.assertIsNone(select.state_for(session))

    def test_json_is_tried_even_under_eventlet(self):
        with mock.patch.dict(sys.modules, {'eventlet.patcher':
                                           patcher(True)}):
            with mock.patch.object(select, '_decide',
                                   return_value=True) as decide:
                self.assertIsNotNone(select.state_for(FakeSession('json')))
        self.assertEqual('json', decide.call_args[0][1])
