"""VI/JSON client logic: release negotiation, login header, faults, TLS.

A small aiohttp application on loopback answers as the scripts say (this
tests the client's decisions; the protocol itself is tested against the
simulator in tests/functional/test_vijson_reads.py).
"""

import asyncio
import os
import ssl
from unittest import mock

from aiohttp import test_utils
from aiohttp import web
import fixtures
import testtools

from vmware_backend import exceptions
from vmware_backend.vsphere.json import client
from vmware_backend.vsphere.refs import MoRef

SM = MoRef('SessionManager', 'SessionManager')
PASSWORD = 'pa"ss\\word'


class Script:
    def __init__(self, hello=None, login=None):
        self.hello = hello
        self.login = login
        self.requests = []

    def app(self):
        app = web.Application()
        app.router.add_post('/api/vcenter/system', self.on_hello)
        app.router.add_route('*', '/sdk/vim25/{release}/{type}/{mo}/{name}',
                             self.on_sdk)
        return app

    async def on_hello(self, request):
        self.requests.append(('hello', await request.json(), None))
        status, body = self.hello
        if body is None:
            return web.Response(status=status)
        return web.json_response(body, status=status)

    async def on_sdk(self, request):
        body = await request.json() if request.can_read_body else None
        self.requests.append((request.match_info['name'], body,
                              request.headers.get(client.SESSION_HEADER)))
        if request.match_info['name'] == 'Login':
            status, payload, headers = self.login
            return web.json_response(payload, status=status,
                                     headers=headers)
        if request.match_info['name'] == 'Missing':
            return web.Response(status=404)
        if request.match_info['name'] == 'Boom':
            return web.json_response({'_typeName': 'InvalidArgument',
                                      'invalidProperty': 'x'}, status=500)
        return web.Response(status=204)


def options(port):
    return {'vcenter_scheme': 'http', 'vcenter_host': '127.0.0.1',
            'vcenter_port': port, 'vcenter_username': 'u',
            'vcenter_password': PASSWORD, 'vcenter_http_timeout': 5.0}


class ClientTest(testtools.TestCase):

    def run_with(self, script, body):
        async def main():
            server = test_utils.TestServer(script.app(), host='127.0.0.1')
            await server.start_server()
            conn = client.Connection(options(server.port))
            try:
                return await body(conn)
            finally:
                await conn.close()
                await server.close()
        return asyncio.run(main())

    def test_hello_picks_the_release(self):
        script = Script(hello=(200, {'api_release': '8.0.2.0'}))
        release = self.run_with(script, lambda c: c.negotiate())
        self.assertEqual('8.0.2.0', release)
        self.assertEqual(
            [('hello', {'api_releases': ['8.0.3.0', '8.0.2.0', '8.0.1.0']},
              None)], script.requests)

    def test_no_hello_means_8_0_1_0(self):
        script = Script(hello=(404, None))
        self.assertEqual('8.0.1.0',
                         self.run_with(script, lambda c: c.negotiate()))

    def test_no_common_release_is_a_clear_error(self):
        script = Script(hello=(200, {'api_release': ''}))
        err = self.assertRaises(exceptions.VCenterConnectionError,
                                self.run_with, script,
                                lambda c: c.negotiate())
        self.assertIn('shares no VI/JSON release', str(err))
        self.assertIn('8.0.3.0, 8.0.2.0, 8.0.1.0', str(err))
        self.assertIn('vcenter_read_transport = soap', str(err))

    def test_hello_error_status(self):
        script = Script(hello=(400, {'error_type': 'INVALID_ARGUMENT'}))
        err = self.assertRaises(exceptions.VCenterConnectionError,
                                self.run_with, script,
                                lambda c: c.negotiate())
        self.assertIn('System.hello answered HTTP 400', str(err))

    def test_login_keeps_the_header_and_sends_it(self):
        script = Script(login=(200, {'_typeName': 'UserSession'},
                               {client.SESSION_HEADER: 'key-1'}))

        async def body(conn):
            conn.release = '8.0.2.0'
            key = await conn.login(SM)
            await conn.invoke(MoRef('ContainerView', 'v1'), 'DestroyView')
            return key

        self.assertEqual('key-1', self.run_with(script, body))
        self.assertEqual([
            ('Login', {'userName': 'u', 'password': PASSWORD}, None),
            ('DestroyView', {}, 'key-1')], script.requests)

    def test_refused_login_names_user_not_password(self):
        script = Script(login=(500, {'_typeName': 'InvalidLogin'}, {}))

        async def body(conn):
            conn.release = '8.0.2.0'
            return await conn.login(SM)

        err = self.assertRaises(exceptions.VCenterLoginError,
                                self.run_with, script, body)
        self.assertIn('user u', str(err))
        self.assertIn('InvalidLogin', str(err))
        self.assertNotIn(PASSWORD, str(err))

    def test_login_without_header_is_an_error(self):
        script = Script(login=(200, {'_typeName': 'UserSession'}, {}))

        async def body(conn):
            conn.release = '8.0.2.0'
            return await conn.login(SM)

        err = self.assertRaises(exceptions.VCenterConnectionError,
                                self.run_with, script, body)
        self.assertIn('no vmware-api-session-id header', str(err))

    def test_fault_keeps_its_type_name(self):
        async def body(conn):
            conn.release = '8.0.2.0'
            return await conn.invoke(SM, 'Boom')

        err = self.assertRaises(client.JSONFault, self.run_with, Script(),
                                body)
        self.assertEqual('InvalidArgument', err.fault)
        self.assertEqual('x', err.body['invalidProperty'])

    def test_unknown_path_is_not_offered(self):
        async def body(conn):
            conn.release = '8.0.2.0'
            return await conn.fetch(MoRef('A', 'b'), 'Missing')

        self.assertRaises(client.NotOffered, self.run_with, Script(), body)


class TLSOptionTest(testtools.TestCase):

    def base(self, **kw):
        opts = {'vcenter_scheme': 'https', 'vcenter_ca_file': None,
                'vcenter_insecure': False}
        opts.update(kw)
        return opts

    def test_verified_by_default(self):
        ctx = client.ssl_option(self.base())
        self.assertIsInstance(ctx, ssl.SSLContext)
        self.assertEqual(ssl.CERT_REQUIRED, ctx.verify_mode)
        self.assertTrue(ctx.check_hostname)

    def test_insecure_turns_it_off(self):
        self.assertIs(False, client.ssl_option(self.base(
            vcenter_insecure=True)))

    def ca_file(self, text='ca'):
        path = os.path.join(self.useFixture(fixtures.TempDir()).path,
                            'vc-ca.pem')
        with open(path, 'w') as handle:
            handle.write(text)
        return path

    def test_ca_file_wins_over_insecure(self):
        path = self.ca_file()
        with mock.patch.dict(client._ssl_contexts, clear=True), \
                mock.patch.object(ssl, 'create_default_context') as create:
            ctx = client.ssl_option(self.base(
                vcenter_insecure=True, vcenter_ca_file=path))
        create.assert_called_once_with(cafile=path)
        self.assertIs(create.return_value, ctx)

    def test_context_made_once_per_ca_file_version(self):
        path = self.ca_file()
        with mock.patch.dict(client._ssl_contexts, clear=True), \
                mock.patch.object(ssl, 'create_default_context',
                                  side_effect=lambda cafile: object()):
            first = client.ssl_option(self.base(vcenter_ca_file=path))
            again = client.ssl_option(self.base(vcenter_ca_file=path))
            with open(path, 'w') as handle:
                handle.write('another, longer CA bundle')
            changed = client.ssl_option(self.base(vcenter_ca_file=path))
            system = client.ssl_option(self.base())
            system_again = client.ssl_option(self.base())
        self.assertIs(first, again)
        self.assertIsNot(first, changed)
        self.assertIs(system, system_again)
        self.assertIsNot(system, first)

    def test_plain_http(self):
        self.assertIsNone(client.ssl_option(self.base(vcenter_scheme='http')))
