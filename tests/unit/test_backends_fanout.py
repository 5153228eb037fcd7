"""The fan-out's scheduling (cmd/backends.py), with a fake command.

Which backend runs where: on the event loop with a VI/JSON-only session,
or in a thread with a SOAP session. End to end: tests/functional/
test_backends_vijson.py.
"""

import io
import threading
import types
from unittest import mock

import testtools

from vmware_backend.cmd import backends
from vmware_backend.cmd import commands
from vmware_backend.cmd import output
from vmware_backend.vsphere.json import bridge
from vmware_backend.vsphere.json import session as json_session


def backend(name, transport='auto', **options):
    values = dict(vcenter_host='vc-%s' % name, vcenter_port=443,
                  vcenter_password='pw-%s' % name,
                  vcenter_read_transport=transport)
    values.update(options)
    return backends.Backend(name, '/etc/cinder/cinder.conf', values)


class FakeJSONSession:
    """Stands in for JSONSession: offered or not, per host."""

    made = []

    def __init__(self, options):
        self.options = dict(options)
        self.closed = False
        self.forgotten = False
        FakeJSONSession.made.append(self)

    async def start(self):
        if self.options['vcenter_host'].endswith('crash'):
            raise RuntimeError('crashed while starting')
        return not self.options['vcenter_host'].endswith('soap-only')

    async def aclose(self):
        self.closed = True

    def forget_secret(self):
        self.forgotten = True


class FanOutTest(testtools.TestCase):

    def setUp(self):
        super().setUp()
        FakeJSONSession.made = []
        self._json_patch = mock.patch.object(
            json_session, 'JSONSession', FakeJSONSession)
        self._json_patch.start()
        self.addCleanup(self._json_patch.stop)
        self.seen = {}

        def handler(args, options, out):
            session = json_session.prepared(options)
            self.seen[options['vcenter_host']] = (
                threading.current_thread().name.startswith('backend'),
                bridge.active(), session is not None)
            if options['vcenter_host'].endswith('broken'):
                raise RuntimeError('bug in one backend')
            out.result({'host': options['vcenter_host']}, str)
            return output.EXIT_OK

        patcher = mock.patch.dict(commands.HANDLERS, {'pools': handler,
                                                      'audit': handler})
        patcher.start()
        self.addCleanup(patcher.stop)

    def run_on(self, found, command='pools', **flags):
        out = output.Output('json', stdout=io.StringIO(),
                            stderr=io.StringIO())
        args = types.SimpleNamespace(command=command, **flags)
        return backends.run(args, found, out), out._stdout.getvalue()

    def test_where_each_backend_runs(self):
        status, text = self.run_on([
            backend('a'), backend('b', 'json'), backend('c', 'soap'),
            backend('soap-only'), backend('broken')])
        self.assertEqual(output.EXIT_PROBLEM, status)
        # (in a thread, in the bridge, with a prepared JSON session)
        self.assertEqual({'vc-a': (False, True, True),
                          'vc-b': (False, True, True),
                          'vc-c': (True, False, False),
                          'vc-soap-only': (True, False, False),
                          'vc-broken': (False, True, True)}, self.seen)
        # every JSON session made was closed and its secret forgotten
        self.assertEqual(['vc-a', 'vc-b', 'vc-soap-only', 'vc-broken'],
                         [s.options['vcenter_host']
                          for s in FakeJSONSession.made])
        self.assertTrue(all(s.closed and s.forgotten
                            for s in FakeJSONSession.made))
        self.assertIn('RuntimeError: bug in one backend', text)
        self.assertIn('"host": "vc-a"', text)
        self.assertIn('"host": "vc-soap-only"', text)

    def test_a_backend_failing_outside_its_command_is_one_row(self):
        status, text = self.run_on([backend('crash'), backend('a')])
        self.assertEqual(output.EXIT_PROBLEM, status)
        self.assertEqual({'vc-a': (False, True, True)}, self.seen)
        self.assertIn('RuntimeError: crashed while starting', text)
        self.assertIn('"host": "vc-a"', text)
        self.assertTrue(all(s.closed and s.forgotten
                            for s in FakeJSONSession.made))

    def test_fix_runs_over_soap(self):
        status, _text = self.run_on([backend('a')], command='audit',
                                    fix=True, purge=False, known_ids=[])
        self.assertEqual(output.EXIT_OK, status)
        self.assertEqual({'vc-a': (True, False, False)}, self.seen)
        self.assertEqual([], FakeJSONSession.made)

    def test_volume_ids_are_read_once_for_every_backend(self):
        given = []

        def handler(args, options, out):
            given.append(args.known_ids)
            return output.EXIT_OK

        ids = ['0e9ab7c2-5f0a-4a8e-9a4e-0f0d3c8b1a11']
        with mock.patch.dict(commands.HANDLERS, {'audit': handler}), \
                mock.patch.object(commands, 'read_volume_ids',
                                  return_value=ids) as read:
            status, _text = self.run_on([backend('a'), backend('b')],
                                        command='audit', volume_ids='-',
                                        fix=False, purge=False)
        self.assertEqual(output.EXIT_OK, status)
        read.assert_called_once_with('-')
        self.assertEqual([ids, ids], given)

    def test_over_soap_decision(self):
        args = types.SimpleNamespace(command='volumes')
        self.assertFalse(backends._over_soap(args, backend('a')))
        self.assertTrue(backends._over_soap(args, backend('a', 'soap')))
        self.assertTrue(backends._over_soap(
            types.SimpleNamespace(command='audit', fix=False, purge=True),
            backend('a')))
        self.assertTrue(backends._over_soap(
            types.SimpleNamespace(command='datastores'), backend('a')))
        # no vCenter configured: nothing to connect to (check reports it)
        self.assertTrue(backends._over_soap(args, backend('a',
                                                          vcenter_host='')))
