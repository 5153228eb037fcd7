"""The parsed service description cache (vsphere/wsdlcache.py).

A tiny WSDL importing a schema that includes another keeps these fast; the
vSphere WSDL itself is covered by tests.functional.test_wsdlcache.
"""

import os
import stat

import fixtures
from oslo_vmware import service as vmware_service
import testtools

from tests import threading_backend  # noqa: F401
from vmware_backend.vsphere import wsdlcache

WSDL = b"""<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://schemas.xmlsoap.org/wsdl/"
    xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/"
    xmlns:t="urn:tiny" targetNamespace="urn:tiny">
  <types>
    <xsd:schema xmlns:xsd="http://www.w3.org/2001/XMLSchema"
        targetNamespace="urn:tiny" elementFormDefault="qualified">
      <xsd:include schemaLocation="types.xsd"/>
    </xsd:schema>
  </types>
  <message name="PingRequest"><part name="parameters" element="t:Ping"/>
  </message>
  <message name="PingResponse">
    <part name="parameters" element="t:PingResponse"/></message>
  <portType name="TinyPortType">
    <operation name="Ping"><input message="t:PingRequest"/>
      <output message="t:PingResponse"/></operation>
  </portType>
  <binding name="TinyBinding" type="t:TinyPortType">
    <soap:binding style="document"
        transport="http://schemas.xmlsoap.org/soap/http"/>
    <operation name="Ping"><soap:operation soapAction="urn:tiny/Ping"/>
      <input><soap:body use="literal"/></input>
      <output><soap:body use="literal"/></output></operation>
  </binding>
  <service name="TinyService">
    <port binding="t:TinyBinding" name="TinyPort">
      <soap:address location="http://127.0.0.1:9/sdk"/></port>
  </service>
</definitions>
"""

TYPES = b"""<?xml version="1.0" encoding="UTF-8"?>
<schema xmlns="http://www.w3.org/2001/XMLSchema" xmlns:t="urn:tiny"
    targetNamespace="urn:tiny" elementFormDefault="qualified">
  <include schemaLocation="more-types.xsd"/>
  <complexType name="Thing"><sequence>
    <element name="name" type="string"/>%s</sequence></complexType>
  <element name="Ping"><complexType><sequence>
    <element name="thing" type="t:Thing"/></sequence></complexType></element>
  <element name="PingResponse"><complexType><sequence>
    <element name="returnval" type="t:Other"/></sequence></complexType>
  </element>
</schema>
"""

MORE = b"""<?xml version="1.0" encoding="UTF-8"?>
<schema xmlns="http://www.w3.org/2001/XMLSchema"
    targetNamespace="urn:tiny" elementFormDefault="qualified">
  <complexType name="Other"><sequence>
    <element name="value" type="string"/>%s</sequence></complexType>
</schema>
"""


class WSDLCacheTest(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.addCleanup(wsdlcache.forget_memory)
        wsdlcache.forget_memory()
        self.src = self.useFixture(fixtures.TempDir()).path
        self.cache_dir = os.path.join(
            self.useFixture(fixtures.TempDir()).path, 'wsdl')
        self.logs = self.useFixture(fixtures.FakeLogger())
        self.write(extra=b'', more=b'')

    def write(self, extra, more):
        for name, content in (('tiny.wsdl', WSDL),
                              ('types.xsd', TYPES % extra),
                              ('more-types.xsd', MORE % more)):
            with open(os.path.join(self.src, name), 'wb') as handle:
                handle.write(content)

    @property
    def url(self):
        return 'file://' + os.path.join(self.src, 'tiny.wsdl')

    def build(self, directory=None):
        client, cache = wsdlcache.build_client(
            vmware_service.CompatibilitySudsClient, self.url,
            self.cache_dir if directory is None else directory,
            transport=vmware_service.RequestsTransport(),
            location='http://127.0.0.1:9/sdk')
        # The client works: its factory makes the schema's types.
        thing = client.factory.create('ns0:Thing')
        self.assertIn('name', thing.__keylist__)
        return client, cache

    def cache_files(self):
        return sorted(f for f in os.listdir(self.cache_dir)
                      if f.endswith('.pickle'))

    def test_documents_found_transitively(self):
        documents = wsdlcache.read_documents(
            self.url, vmware_service.RequestsTransport())
        self.assertEqual(['tiny.wsdl', 'types.xsd', 'more-types.xsd'],
                         [url.rsplit('/', 1)[1] for url, _ in documents])

    def test_changed_document_is_scanned_again(self):
        # The import scan is remembered by content: a schema that now
        # includes one more file is read with it, never from the memo.
        wsdlcache.read_documents(self.url, vmware_service.RequestsTransport())
        with open(os.path.join(self.src, 'extra.xsd'), 'wb') as handle:
            handle.write(MORE % b'')
        with open(os.path.join(self.src, 'types.xsd'), 'wb') as handle:
            handle.write((TYPES % b'').replace(
                b'<include schemaLocation="more-types.xsd"/>',
                b'<include schemaLocation="more-types.xsd"/>'
                b'<include schemaLocation="extra.xsd"/>'))
        documents = wsdlcache.read_documents(
            self.url, vmware_service.RequestsTransport())
        self.assertEqual(['tiny.wsdl', 'types.xsd', 'more-types.xsd',
                          'extra.xsd'],
                         [url.rsplit('/', 1)[1] for url, _ in documents])

    def test_parsed_then_memory_then_file(self):
        first, cache = self.build()
        self.assertEqual('parsed', cache.source)
        self.assertEqual([cache.key + '.pickle'], self.cache_files())
        second, cache = self.build()
        self.assertEqual('memory', cache.source)
        self.assertIs(first.wsdl, second.wsdl)
        # A new process: nothing in memory, the file is read.
        wsdlcache.forget_memory()
        third, cache = self.build()
        self.assertEqual('file', cache.source)
        self.assertIsNot(first.wsdl, third.wsdl)
        self.assertIs(wsdlcache.SHARED_OPTIONS, third.wsdl.options)

    def test_modes(self):
        self.build()
        self.assertEqual(0o700, stat.S_IMODE(os.stat(self.cache_dir).st_mode))
        path = os.path.join(self.cache_dir, self.cache_files()[0])
        self.assertEqual(0o600, stat.S_IMODE(os.stat(path).st_mode))

    def test_changed_imported_schema_is_parsed_anew(self):
        _, cache = self.build()
        old_key = cache.key
        # Two levels down: the file the imported schema includes.
        self.write(extra=b'', more=b'<element name="extra" type="string"/>')
        wsdlcache.forget_memory()
        client, cache = self.build()
        self.assertEqual('parsed', cache.source)
        self.assertNotEqual(old_key, cache.key)
        self.assertIn('extra', client.factory.create('ns0:Other').__keylist__)
        self.assertEqual(2, len(self.cache_files()))
        # Also while the old description is still in this process' memory.
        self.write(extra=b'<element name="more" type="string"/>', more=b'')
        client, cache = self.build()
        self.assertEqual('parsed', cache.source)
        self.assertIn('more', client.factory.create('ns0:Thing').__keylist__)

    def test_same_content_elsewhere_shares_the_entry(self):
        _, cache = self.build()
        moved = self.useFixture(fixtures.TempDir()).path
        for name in os.listdir(self.src):
            os.rename(os.path.join(self.src, name), os.path.join(moved, name))
        self.src = moved
        wsdlcache.forget_memory()
        _, again = self.build()
        self.assertEqual(cache.key, again.key)
        self.assertEqual('file', again.source)

    def test_directory_writable_by_others_is_not_used(self):
        self.build()
        os.chmod(self.cache_dir, 0o777)
        wsdlcache.forget_memory()
        _, cache = self.build()
        self.assertEqual('parsed', cache.source)
        self.assertIn('may be written by others', self.logs.output)

    def test_file_readable_by_others_is_not_used(self):
        self.build()
        path = os.path.join(self.cache_dir, self.cache_files()[0])
        os.chmod(path, 0o644)
        wsdlcache.forget_memory()
        _, cache = self.build()
        self.assertEqual('parsed', cache.source)
        self.assertIn('mode 0600', self.logs.output)

    def test_damaged_file_is_parsed_anew_and_replaced(self):
        self.build()
        path = os.path.join(self.cache_dir, self.cache_files()[0])
        with open(path, 'r+b') as handle:
            handle.seek(-10, os.SEEK_END)
            handle.write(b'0123456789')
        wsdlcache.forget_memory()
        _, cache = self.build()
        self.assertEqual('parsed', cache.source)
        self.assertIn('damaged', self.logs.output)
        wsdlcache.forget_memory()
        _, cache = self.build()
        self.assertEqual('file', cache.source)

    def test_empty_directory_option_keeps_memory_only(self):
        _, cache = self.build(directory='')
        self.assertEqual('parsed', cache.source)
        self.assertFalse(os.path.exists(self.cache_dir))
        _, cache = self.build(directory='')
        self.assertEqual('memory', cache.source)

    def test_soapheaders_are_per_thread(self):
        import threading
        wsdlcache.set_soapheaders(['a'])
        seen = []
        thread = threading.Thread(
            target=lambda: seen.append(wsdlcache.SHARED_OPTIONS.soapheaders))
        thread.start()
        thread.join()
        self.assertEqual([()], seen)
        self.assertEqual(['a'], wsdlcache.SHARED_OPTIONS.soapheaders)

    def test_concurrent_sessions_parse_once(self):
        import threading
        sources = []
        threads = [threading.Thread(
            target=lambda: sources.append(self.build()[1].source))
            for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.assertEqual(['memory'] * 3 + ['parsed'], sorted(sources))
