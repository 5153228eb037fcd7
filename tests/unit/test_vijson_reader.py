"""The VI/JSON reader's decisions (restart, re-login, clean-up), on a
scripted connection."""

import asyncio

import testtools

from vmware_backend import exceptions
from vmware_backend.vsphere.json import client
from vmware_backend.vsphere.json import reader
from vmware_backend.vsphere.refs import MoRef

CONTENT = {'propertyCollector': MoRef('PropertyCollector', 'pc'),
           'viewManager': MoRef('ViewManager', 'ViewManager'),
           'sessionManager': MoRef('SessionManager', 'SessionManager'),
           'rootFolder': MoRef('Folder', 'group-d1')}


def page(names, token=None):
    objects = [{'_typeName': 'ObjectContent',
                'obj': {'_typeName': 'ManagedObjectReference',
                        'type': 'HostSystem', 'value': n},
                'propSet': [{'_typeName': 'DynamicProperty', 'name': 'name',
                             'val': {'_typeName': 'string', '_value': n}}]}
               for n in names]
    result = {'_typeName': 'RetrieveResult', 'objects': objects}
    if token:
        result['token'] = token
    return result


class FakeConn:
    url = 'http://vc/sdk'
    release = '8.0.2.0'

    def __init__(self, script):
        self.script = list(script)
        self.calls = []
        self.session_key = 'key-1'

    async def invoke(self, ref, method, **params):
        self.calls.append(method)
        if method == 'CreateContainerView':
            return ({'_typeName': 'ManagedObjectReference',
                     'type': 'ContainerView',
                     'value': 'view-%d' % self.calls.count(method)}, {})
        if method in ('DestroyView', 'CancelRetrievePropertiesEx'):
            return None, {}
        answer = self.script.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer, {}


class FakeState:
    def __init__(self, retries=3):
        self.logins = 0
        self.options = {'vcenter_api_retry_count': retries}

    async def ready(self, conn):
        return CONTENT

    async def relogin(self, conn, expired_key):
        self.logins += 1
        conn.session_key = 'key-%d' % (self.logins + 1)


def expired():
    return client.JSONFault('x', 'NotAuthenticated', {})


def read(conn, state=None):
    state = state or FakeState()

    async def collect():
        out = []
        async for p in reader.read_pages(state, conn, {'HostSystem': ['name']},
                                         None, 2, True):
            out.extend(p)
        return out

    return asyncio.run(collect()), state


class ReadPagesTest(testtools.TestCase):

    def names(self, objects):
        return [props['name'] for _ref, props in objects]

    def test_pages_then_destroy(self):
        conn = FakeConn([page(['h1', 'h2'], 't1'), page(['h3'])])
        objects, _state = read(conn)
        self.assertEqual(['h1', 'h2', 'h3'], self.names(objects))
        self.assertEqual(['CreateContainerView', 'RetrievePropertiesEx',
                          'ContinueRetrievePropertiesEx', 'DestroyView'],
                         conn.calls)

    def test_expiry_relogs_and_restarts_without_duplicates(self):
        conn = FakeConn([page(['h1', 'h2'], 't1'), expired(),
                         page(['h1', 'h2'], 't2'), page(['h3'])])
        objects, state = read(conn)
        self.assertEqual(['h1', 'h2', 'h3'], self.names(objects))
        self.assertEqual(1, state.logins)
        # the old view and token died with the session: not cleaned up
        self.assertEqual(['CreateContainerView', 'RetrievePropertiesEx',
                          'ContinueRetrievePropertiesEx',
                          'CreateContainerView', 'RetrievePropertiesEx',
                          'ContinueRetrievePropertiesEx', 'DestroyView'],
                         conn.calls)

    def test_expiry_reported_in_a_missing_set(self):
        missing = page(['h1'])
        missing['objects'][0]['missingSet'] = [{
            'path': 'name', 'fault': {'fault': {
                '_typeName': 'NotAuthenticated'}}}]
        conn = FakeConn([missing, page(['h1'])])
        objects, state = read(conn)
        self.assertEqual(['h1'], self.names(objects))
        self.assertEqual(1, state.logins)

    def test_expiring_at_every_page_up_to_the_retry_count(self):
        # vcenter_api_retry_count 3: three re-logins in one read are fine
        conn = FakeConn([page(['h1', 'h2'], 't1'), expired(),
                         page(['h1', 'h2'], 't2'), expired(),
                         page(['h1', 'h2'], 't3'), page(['h3'], 't4'),
                         expired(), page(['h1', 'h2'], 't5'),
                         page(['h3'], 't6'), page(['h4'])])
        objects, state = read(conn)
        self.assertEqual(['h1', 'h2', 'h3', 'h4'], self.names(objects))
        self.assertEqual(3, state.logins)
        self.assertEqual(4, conn.calls.count('CreateContainerView'))

    def test_expiring_once_more_than_the_retry_count_is_an_error(self):
        conn = FakeConn([page(['h1', 'h2'], 't1'), expired(), expired(),
                         expired(), expired()])
        got = []

        async def collect():
            async for p in reader.read_pages(
                    FakeState(), conn, {'HostSystem': ['name']}, None, 2,
                    True):
                got.extend(p)

        err = self.assertRaises(exceptions.VCenterConnectionError,
                                asyncio.run, collect())
        self.assertEqual(
            'Cannot connect to vCenter at http://vc/sdk: the session keeps '
            'expiring: it expired 4 times in one read of objects below '
            'Folder:group-d1 (NotAuthenticated on RetrievePropertiesEx '
            'after logging in again each time); the read was abandoned '
            'and nothing of it was used. Something ends the sessions of '
            'this service faster than one read takes (another client '
            'terminating the sessions of this user, a session limit or '
            'timeout of vCenter): fix that, or raise '
            'vcenter_api_retry_count (now 3)', str(err))
        # the pages before came out, then the error: never an end
        self.assertEqual(['h1', 'h2'], self.names(got))

    def test_retry_count_zero_still_logs_in_again_once(self):
        conn = FakeConn([expired(), page(['h1'])])
        objects, state = read(conn, FakeState(retries=0))
        self.assertEqual(['h1'], self.names(objects))
        conn = FakeConn([expired(), expired()])
        self.assertRaises(exceptions.VCenterConnectionError, read, conn,
                          FakeState(retries=0))

    def test_lost_page_restarts_and_cancels_the_old_token(self):
        lost = exceptions.VCenterConnectionError(url='u', reason='reset')
        conn = FakeConn([page(['h1', 'h2'], 't1'), lost,
                         page(['h1', 'h2'], 't2'), page(['h3'])])
        objects, state = read(conn)
        self.assertEqual(['h1', 'h2', 'h3'], self.names(objects))
        self.assertEqual(0, state.logins)
        self.assertEqual(['CreateContainerView', 'RetrievePropertiesEx',
                          'ContinueRetrievePropertiesEx',
                          'CancelRetrievePropertiesEx', 'DestroyView',
                          'CreateContainerView', 'RetrievePropertiesEx',
                          'ContinueRetrievePropertiesEx', 'DestroyView'],
                         conn.calls)

    def test_lost_answers_resend_the_read_up_to_the_retry_count(self):
        # A reset, an HTTP 503 page, a timeout: the first page, then the
        # view, then the first page again; the fourth read gets through.
        conn = FakeConn([
            exceptions.VCenterConnectionError(url='u', reason='reset'),
            exceptions.VCenterConnectionError(
                url='u', reason='RetrievePropertiesEx answered HTTP 503 '
                'without a fault'),
            exceptions.VCenterConnectionError(url='u', reason='timeout'),
            page(['h1'])])
        objects, state = read(conn, FakeState(retries=3))
        self.assertEqual(['h1'], self.names(objects))
        self.assertEqual(0, state.logins)
        self.assertEqual(['CreateContainerView', 'RetrievePropertiesEx',
                          'DestroyView'] * 4, conn.calls)

    def test_lost_answers_beyond_the_retry_count_fail_the_read(self):
        conn = FakeConn([
            exceptions.VCenterConnectionError(url='u', reason='reset %d' % i)
            for i in range(3)])
        err = self.assertRaises(exceptions.VCenterConnectionError, read,
                                conn, FakeState(retries=2))
        self.assertIn('reset 2', str(err))
        self.assertEqual(9, len(conn.calls))

    def test_view_gone_after_an_expiry_starts_the_read_again(self):
        gone = client.JSONFault('RetrievePropertiesEx',
                                'ManagedObjectNotFound', {})
        conn = FakeConn([gone, page(['h1'])])
        objects, _state = read(conn)
        self.assertEqual(['h1'], self.names(objects))
        self.assertEqual(['CreateContainerView', 'RetrievePropertiesEx',
                          'DestroyView'] * 2, conn.calls)

    def test_fault_cancels_destroys_and_is_named(self):
        conn = FakeConn([page(['h1', 'h2'], 't1'),
                         client.JSONFault('x', 'InvalidArgument', {
                             'faultMessage': [{'message': 'bad token'}]})])
        err = self.assertRaises(exceptions.VCenterFault, read, conn)
        self.assertEqual('InvalidArgument', err.fault)
        self.assertIn('bad token', str(err))
        self.assertEqual(['CancelRetrievePropertiesEx', 'DestroyView'],
                         conn.calls[-2:])

    def test_not_served_mid_read_is_a_connection_error(self):
        conn = FakeConn([client.NotOffered('RetrievePropertiesEx: HTTP 404')])
        err = self.assertRaises(exceptions.VCenterConnectionError, read,
                                conn)
        self.assertIn('is not served', str(err))
        self.assertEqual('DestroyView', conn.calls[-1])
