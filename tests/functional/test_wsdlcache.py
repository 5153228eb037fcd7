"""Sessions on vcsim with the parsed-WSDL cache (vsphere/wsdlcache.py)."""

import os
import re
import shutil

import fixtures
from suds import plugin as suds_plugin

from tests.functional import base
from vmware_backend.vsphere import session as vc_session
from vmware_backend.vsphere import wsdlcache


class _Envelopes(suds_plugin.MessagePlugin):
    def __init__(self):
        self.sent = []

    def sending(self, context):
        self.sent.append(context.envelope.decode())


class WSDLCacheSessionTest(base.FunctionalTestCase):

    def setUp(self):
        super().setUp()
        self.cache_dir = os.path.join(
            self.useFixture(fixtures.TempDir()).path, 'wsdl')
        wsdlcache.forget_memory()
        self.addCleanup(wsdlcache.forget_memory)

    def start(self, **overrides):
        options = dict(self.options, vcenter_wsdl_cache_dir=self.cache_dir)
        options.update(overrides)
        session = vc_session.VCenterSession(options)
        self.addCleanup(session.close)
        session.api
        return session

    def source(self, session):
        return session.api.vim.description_cache.source

    def read_root(self, session):
        root = session.service_content.rootFolder
        return session.get_properties(root, ['name'])['name']

    def test_second_session_and_new_process_use_the_cache(self):
        first = self.start()
        self.assertEqual('parsed', self.source(first))
        self.assertEqual(1, len(os.listdir(self.cache_dir)))
        second = self.start()
        self.assertEqual('memory', self.source(second))
        self.assertIs(first.vim.client.wsdl, second.vim.client.wsdl)
        # As in a new process: only the file is left.
        wsdlcache.forget_memory()
        third = self.start()
        self.assertEqual('file', self.source(third))
        for session in (first, second, third):
            self.assertEqual('Datacenters', self.read_root(session))
            self.assertEqual({'Login': 1, 'RetrieveServiceContent': 1,
                              'RetrievePropertiesEx': 1},
                             dict(session.counts_snapshot()))

    def test_changed_wsdl_is_parsed_anew(self):
        self.start()
        # A copy of the WSDL folder with one schema file changed (a comment
        # is enough: the key is the content).
        folder = os.path.join(self.useFixture(fixtures.TempDir()).path, 'w')
        shutil.copytree(os.path.dirname(self.vcsim.wsdl), folder)
        with open(os.path.join(folder, 'core-types.xsd'), 'ab') as handle:
            handle.write(b'<!-- changed -->\n')
        wsdl = os.path.join(folder, os.path.basename(self.vcsim.wsdl))
        changed = self.start(vcenter_wsdl_location=wsdl)
        self.assertEqual('parsed', self.source(changed))
        self.assertEqual(2, len(os.listdir(self.cache_dir)))
        self.assertEqual('Datacenters', self.read_root(changed))

    def test_operation_id_header_sent_from_shared_description(self):
        sessions = [self.start(), self.start()]
        self.assertEqual('memory', self.source(sessions[1]))
        for session in sessions:
            envelopes = _Envelopes()
            session.vim.client.options.plugins.append(envelopes)
            self.read_root(session)
            self.assertEqual(1, len(envelopes.sent))
            self.assertRegex(envelopes.sent[0],
                             r'<[\w:]*operationID>vmware_backend-[0-9a-f-]+<')
            self.assertEqual(
                1, len(re.findall('operationID>vmware', envelopes.sent[0])))
