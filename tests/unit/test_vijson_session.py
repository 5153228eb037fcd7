"""The VI/JSON-only session's logic, without a server (mocked calls).

Its I/O against the simulator: tests/functional/test_backends_vijson.py.
"""

import asyncio
from unittest import mock

from oslo_vmware import vim_util
import testtools

from vmware_backend import exceptions
from vmware_backend.vsphere.json import bridge
from vmware_backend.vsphere.json import reader
from vmware_backend.vsphere.json import session as json_session
from vmware_backend.vsphere.refs import MoRef

OPTIONS = {'vcenter_host': 'vc.example.org', 'vcenter_port': 443,
           'vcenter_scheme': 'https', 'vcenter_username': 'reader',
           'vcenter_password': 'Secret-Pw-1', 'vcenter_http_timeout': 5,
           'vcenter_read_transport': 'auto'}
COLLECTOR = MoRef('PropertyCollector', 'propertyCollector')
CONTENT = {'propertyCollector': COLLECTOR,
           'sessionManager': MoRef('SessionManager', 'SessionManager'),
           'about': {'fullName': 'VMware vCenter Server 8.0.2',
                     'instanceUuid': 'uuid-1'}}


def page(names, token=None):
    result = {'objects': [
        {'obj': {'_typeName': 'ManagedObjectReference',
                 'type': 'VirtualMachine', 'value': 'vm-%s' % name},
         'propSet': [{'name': 'name',
                      'val': {'_typeName': 'string', '_value': name}}]}
        for name in names]}
    if token:
        result['token'] = token
    return result


def started():
    """A session as after start() and login, sending nothing itself."""
    session = json_session.JSONSession(OPTIONS)
    session.started = True
    session.state.content = CONTENT
    session.state.release = '8.0.2.0'
    session.state.session_key = 'key-1'
    session._content = json_session.Attrs(CONTENT)
    return session


def in_bridge(fn, *args):
    return asyncio.run(bridge.run_sync(fn, *args))


class AttrsTest(testtools.TestCase):

    def test_fields_as_attributes_nested(self):
        content = json_session.Attrs(CONTENT)
        self.assertEqual('uuid-1', content.about.instanceUuid)
        self.assertEqual(COLLECTOR, content.propertyCollector)
        self.assertEqual('', getattr(content.about, 'apiVersion', ''))
        self.assertRaises(AttributeError, getattr, content, 'rootFolder')

    def test_plain_ref_of_suds_and_plain_references(self):
        self.assertEqual(MoRef('Folder', 'group-v3'), json_session.plain_ref(
            vim_util.get_moref('group-v3', 'Folder')))
        ref = MoRef('Datastore', 'datastore-1')
        self.assertIs(ref, json_session.plain_ref(ref))
        self.assertEqual('name', json_session.plain_ref('name'))


class InvokeTest(testtools.TestCase):

    def test_writes_are_refused_before_sending(self):
        session = started()
        with mock.patch.object(reader, 'call') as call:
            err = self.assertRaises(
                exceptions.VMwareBackendException, session.invoke,
                'CreateFolder', MoRef('Folder', 'group-v3'), name='x')
        self.assertIn('CreateFolder is not a read', str(err))
        call.assert_not_called()

    def test_find_child_sends_plain_refs_and_decodes(self):
        session = started()
        index = MoRef('SearchIndex', 'SearchIndex')
        answer = {'_typeName': 'ManagedObjectReference', 'type': 'Folder',
                  'value': 'group-v7'}
        with mock.patch.object(reader, 'call',
                               mock.AsyncMock(return_value=answer)) as call:
            found = in_bridge(lambda: session.invoke(
                'FindChild', index, target='folder OpenStack',
                entity=vim_util.get_moref('group-v3', 'Folder'),
                name='OpenStack'))
        self.assertEqual(MoRef('Folder', 'group-v7'), found)
        args, kwargs = call.call_args
        self.assertEqual((index, 'FindChild', 'folder OpenStack'), args[1:])
        self.assertEqual({'entity': MoRef('Folder', 'group-v3'),
                          'name': 'OpenStack'}, kwargs)

    def test_outside_the_bridge_is_an_error(self):
        session = started()
        session.state.session_key = None
        self.assertRaises(RuntimeError, lambda: session.api)


class RetrieveTest(testtools.TestCase):

    def test_pages_are_followed(self):
        session = started()
        answers = [page(['a', 'b'], token='t1'), page(['c'])]
        with mock.patch.object(reader, 'call',
                               mock.AsyncMock(side_effect=answers)) as call:
            found = in_bridge(session.read_objects,
                              [MoRef('VirtualMachine', 'vm-a')],
                              {'VirtualMachine': ['name']})
        self.assertEqual([(MoRef('VirtualMachine', 'vm-a'), {'name': 'a'}),
                          (MoRef('VirtualMachine', 'vm-b'), {'name': 'b'}),
                          (MoRef('VirtualMachine', 'vm-c'), {'name': 'c'})],
                         found)
        self.assertEqual(['RetrievePropertiesEx',
                          'ContinueRetrievePropertiesEx'],
                         [c.args[2] for c in call.call_args_list])
        self.assertEqual({'token': 't1'}, call.call_args_list[1].kwargs)

    def test_a_failed_page_cancels_the_pending_one(self):
        session = started()
        fault = exceptions.VCenterFault(action='ContinueRetrievePropertiesEx',
                                        target='x', fault='SystemError',
                                        detail='boom')
        with mock.patch.object(reader, 'call', mock.AsyncMock(
                side_effect=[page(['a'], token='t1'), fault])), \
                mock.patch.object(reader, 'quietly',
                                  mock.AsyncMock()) as quietly:
            self.assertRaises(exceptions.VCenterFault, in_bridge,
                              session.read_through,
                              [MoRef('Datastore', 'datastore-1')], 'vm',
                              {'VirtualMachine': ['name']})
        quietly.assert_awaited_once()
        self.assertEqual((COLLECTOR, 'CancelRetrievePropertiesEx'),
                         quietly.call_args.args[1:3])
        self.assertEqual({'token': 't1'}, quietly.call_args.kwargs)

    def test_expiry_logs_in_again_and_reads_again_once(self):
        session = started()
        answers = [reader.Expired('RetrievePropertiesEx', 'key-1'),
                   page(['a'])]
        with mock.patch.object(reader, 'call',
                               mock.AsyncMock(side_effect=answers)), \
                mock.patch.object(session.state, 'relogin',
                                  mock.AsyncMock()) as relogin:
            props = in_bridge(session.get_properties,
                              MoRef('VirtualMachine', 'vm-a'), ['name'])
        self.assertEqual({'name': 'a'}, props)
        relogin.assert_awaited_once()
        self.assertEqual('key-1', relogin.call_args.args[1])

    def test_expiring_after_every_relogin_is_an_error(self):
        # vcenter_api_retry_count (default 3) re-logins, then the error
        session = started()
        answers = [reader.Expired('RetrievePropertiesEx', 'key-%d' % n)
                   for n in range(1, 5)]
        with mock.patch.object(reader, 'call',
                               mock.AsyncMock(side_effect=answers)), \
                mock.patch.object(session.state, 'relogin',
                                  mock.AsyncMock()) as relogin:
            err = self.assertRaises(
                exceptions.VCenterConnectionError, in_bridge,
                session.get_properties, MoRef('VirtualMachine', 'vm-a'),
                ['name'])
        self.assertEqual(3, relogin.await_count)
        self.assertIn('the session keeps expiring: it expired 4 times in '
                      'one read of VirtualMachine:vm-a (NotAuthenticated on '
                      'RetrievePropertiesEx', str(err))
        self.assertIn('raise vcenter_api_retry_count (now 3)', str(err))

    def test_expiring_three_times_still_reads(self):
        session = started()
        answers = [reader.Expired('RetrievePropertiesEx', 'key-%d' % n)
                   for n in range(1, 4)] + [{
                       '_typeName': 'RetrieveResult', 'objects': [{
                           '_typeName': 'ObjectContent',
                           'obj': {'_typeName': 'ManagedObjectReference',
                                   'type': 'VirtualMachine',
                                   'value': 'vm-a'},
                           'propSet': [{'_typeName': 'DynamicProperty',
                                        'name': 'name', 'val': {
                                            '_typeName': 'string',
                                            '_value': 'a'}}]}]}]
        with mock.patch.object(reader, 'call',
                               mock.AsyncMock(side_effect=answers)), \
                mock.patch.object(session.state, 'relogin',
                                  mock.AsyncMock()) as relogin:
            props = in_bridge(session.get_properties,
                              MoRef('VirtualMachine', 'vm-a'), ['name'])
        self.assertEqual({'name': 'a'}, props)
        self.assertEqual(3, relogin.await_count)


class PreparedTest(testtools.TestCase):

    def test_only_inside_its_function_for_its_options(self):
        session = json_session.JSONSession(OPTIONS)
        self.assertIsNone(json_session.prepared(OPTIONS))

        def look():
            return (json_session.prepared(dict(OPTIONS)),
                    json_session.prepared(dict(OPTIONS, vcenter_port=444)))

        same, other = asyncio.run(json_session.run_sync_with(session, look))
        self.assertIs(session, same)
        self.assertIsNone(other)
        session.closed = True
        self.assertEqual((None, None), asyncio.run(
            json_session.run_sync_with(session, look)))

    def test_any_error_while_starting_is_kept_for_first_use(self):
        session = json_session.JSONSession(OPTIONS)

        async def broken(*args):
            raise ValueError('unexpected answer')

        async def main():
            with mock.patch.object(json_session.select, 'offered', broken):
                started = await session.start()
            try:
                return started, await bridge.run_sync(lambda: session.api)
            finally:
                await session.aclose()

        err = self.assertRaises(ValueError, asyncio.run, main())
        self.assertEqual('unexpected answer', str(err))
        self.assertTrue(session.closed)

    def test_kept_error_is_raised_at_first_use(self):
        session = json_session.JSONSession(OPTIONS)
        session.started = True
        session._error = exceptions.VCenterConnectionError(
            url=session.url, reason='System.hello: refused')
        err = self.assertRaises(exceptions.VCenterConnectionError,
                                in_bridge, lambda: session.api)
        self.assertIn('System.hello: refused', str(err))
        self.assertNotIn('Secret-Pw-1', repr(session))
