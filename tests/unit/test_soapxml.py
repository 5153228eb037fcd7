"""Hand-written SOAP requests (soapxml) and their service (rawsoap)."""

import collections
import threading
import xml.etree.ElementTree as etree

from oslo_vmware import exceptions as vexc
import requests
import suds.options
import suds.transport
import testtools

from vmware_backend.vsphere import apisession
from vmware_backend.vsphere import rawsoap
from vmware_backend.vsphere import soapxml

ENV = '{http://schemas.xmlsoap.org/soap/envelope/}'
VIM = '{urn:vim25}'
XSI_TYPE = '{http://www.w3.org/2001/XMLSchema-instance}type'


def read_spec(ref=('VirtualMachine', 'vm-1'), paths=('name',)):
    return soapxml.filter_spec(
        [soapxml.property_spec(ref[0], paths)],
        [soapxml.object_spec(ref, select=[soapxml.traversal_spec(
            'toDs', 'VirtualMachine', 'datastore', skip=True,
            select=[soapxml.traversal_spec('dsVm', 'Datastore', 'vm')])])])


class BuilderTest(testtools.TestCase):

    def body(self, data):
        root = etree.fromstring(data)
        self.assertEqual(ENV + 'Envelope', root.tag)
        return root.find(ENV + 'Body')[0]

    def test_envelope_in_the_wsdl_order_and_namespace(self):
        data = soapxml.envelope(
            'RetrievePropertiesEx', ('PropertyCollector', 'propertyCollector'),
            [('specSet', read_spec()),
             ('options', soapxml.retrieve_options(1))],
            operation_id='op-1')
        root = etree.fromstring(data)
        self.assertEqual('op-1', root.find(ENV + 'Header/operationID').text)
        call = self.body(data)
        self.assertEqual(VIM + 'RetrievePropertiesEx', call.tag)
        self.assertEqual([VIM + '_this', VIM + 'specSet', VIM + 'options'],
                         [c.tag for c in call])
        self.assertEqual(('PropertyCollector', 'propertyCollector'),
                         (call[0].get('type'), call[0].text))
        spec = call[1]
        self.assertEqual([VIM + 'propSet', VIM + 'objectSet'],
                         [c.tag for c in spec])
        self.assertEqual(['VirtualMachine', 'false', 'name'],
                         [c.text for c in spec[0]])
        obj = spec[1]
        self.assertEqual([VIM + 'obj', VIM + 'skip', VIM + 'selectSet'],
                         [c.tag for c in obj])
        self.assertEqual(('VirtualMachine', 'vm-1', 'false'),
                         (obj[0].get('type'), obj[0].text, obj[1].text))
        traversal = obj[2]
        self.assertEqual('vim25:TraversalSpec', traversal.get(XSI_TYPE))
        self.assertEqual(
            [('name', 'toDs'), ('type', 'VirtualMachine'),
             ('path', 'datastore'), ('skip', 'true'), ('selectSet', None)],
            [(c.tag[len(VIM):], c.text) for c in traversal])
        self.assertEqual(['dsVm', 'Datastore', 'vm', 'false'],
                         [c.text for c in traversal[4]])
        self.assertEqual('1', call[2].find(VIM + 'maxObjects').text)
        # The prefix of the xsi:type is declared (urn:vim25).
        self.assertIn(b'xmlns:vim25="urn:vim25"', data)

    def test_values_are_escaped(self):
        hostile = 'a"b\'c<d>&e</pathSet><x>'
        data = soapxml.envelope(
            'RetrievePropertiesEx', ('PropertyCollector', 'p"c<'),
            [('specSet', read_spec(('Virtual"Machine', 'vm-<1>&'),
                                   [hostile]))])
        call = self.body(data)
        self.assertEqual('p"c<', call[0].text)
        spec = call[1]
        self.assertEqual(['Virtual"Machine', 'false', hostile],
                         [c.text for c in spec[0]])
        self.assertEqual(('Virtual"Machine', 'vm-<1>&'),
                         (spec[1][0].get('type'), spec[1][0].text))
        self.assertNotIn(b'<x>', data)

    def test_plain_parameters_and_unset_ones(self):
        call = self.body(soapxml.envelope(
            'ContinueRetrievePropertiesEx', ('PropertyCollector', 'pc'),
            [('token', '1&2'), ('other', None)]))
        self.assertEqual([(VIM + '_this', 'pc'), (VIM + 'token', '1&2')],
                         [(c.tag, c.text) for c in call])
        options = etree.fromstring(soapxml.retrieve_options())
        self.assertEqual([], list(options))
        self.assertEqual(
            '<propSet><type>Datastore</type><all>false</all></propSet>',
            soapxml.property_spec('Datastore', []))

    def test_text_xml_cannot_carry_is_refused(self):
        for bad in ('a\x00b', 'tab\x1b', '\ufffe'):
            err = self.assertRaises(ValueError, soapxml.text, bad)
            self.assertIn(repr(bad), str(err))
        self.assertEqual('a\tb\nc', soapxml.text('a\tb\nc'))
        self.assertRaises(ValueError, soapxml.element, 'a b', 'x')
        self.assertRaises(ValueError, soapxml.element, '<x', 'x')


REPLY = (b'<?xml version="1.0"?><soapenv:Envelope xmlns:soapenv="http://'
         b'schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/'
         b'2001/XMLSchema-instance"><soapenv:Body>'
         b'<RetrievePropertiesExResponse xmlns="urn:vim25"><returnval>'
         b'<objects><obj type="Folder">group-d1</obj><propSet><name>name'
         b'</name><val xsi:type="xsd:string">Datacenters</val></propSet>'
         b'%s</objects></returnval></RetrievePropertiesExResponse>'
         b'</soapenv:Body></soapenv:Envelope>')
FAULT = (b'<?xml version="1.0"?><soapenv:Envelope xmlns:soapenv="http://'
         b'schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/'
         b'2001/XMLSchema-instance"><soapenv:Body><soapenv:Fault>'
         b'<faultcode>ServerFaultCode</faultcode><faultstring>%s'
         b'</faultstring><detail><%sFault xmlns="urn:vim25" xsi:type="%s">'
         b'<obj type="VirtualMachine">vm-9</obj></%sFault></detail>'
         b'</soapenv:Fault></soapenv:Body></soapenv:Envelope>')


def fault(name, text=b'gone'):
    return FAULT % (text, name, name, name)


class _Transport(suds.transport.Transport):

    def __init__(self, replies):
        super().__init__()
        self.replies = list(replies)
        self.sent = []

    def send(self, request):
        self.sent.append(request)
        reply = self.replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        return suds.transport.Reply(reply[0], {}, reply[1])


class _Method:
    location = 'https://wsdl-location/sdk'

    class soap:
        action = '"urn:vim25/8.0.1.0"'


class ServiceTest(testtools.TestCase):

    def service(self, *replies, location='https://vc.example/sdk'):
        options = suds.options.Options()
        self.transport = _Transport(replies)
        options.transport = self.transport
        if location:
            options.location = location
        self.calls = collections.Counter()
        self.bytes = collections.Counter()
        options.plugins = [apisession.RequestProbe(
            self.calls, threading.Lock(), self.bytes)]

        class Api:
            class vim:
                class client:
                    pass
        Api.vim.client.options = options
        Api.vim.client.wsdl = type('W', (), {'services': [type(
            'S', (), {'ports': [type('P', (), {'methods': {
                'RetrievePropertiesEx': _Method}})]})]})
        return rawsoap.RawService(Api)

    def read(self, service):
        return service.RetrievePropertiesEx(
            ('PropertyCollector', 'propertyCollector'),
            specSet=read_spec(), options=soapxml.retrieve_options())

    def test_reply_returned_and_counted_as_suds_does(self):
        service = self.service((200, REPLY % b''))
        self.assertEqual(REPLY % b'', self.read(service))
        [request] = self.transport.sent
        self.assertEqual('https://vc.example/sdk', request.url)
        self.assertEqual({'Content-Type': 'text/xml; charset=utf-8',
                          'SOAPAction': '"urn:vim25/8.0.1.0"'},
                         request.headers)
        self.assertEqual({'RetrievePropertiesEx': 1}, dict(self.calls))
        self.assertEqual(len(REPLY % b''), self.bytes['received'])
        self.assertEqual(len(request.message), self.bytes['sent'])
        op_id = etree.fromstring(request.message).find(
            ENV + 'Header/operationID').text
        self.assertTrue(op_id.startswith('vmware_backend-'))

    def test_location_of_the_wsdl_without_one_set(self):
        service = self.service((200, REPLY % b''), location=None)
        self.read(service)
        self.assertEqual('https://wsdl-location/sdk',
                         self.transport.sent[0].url)

    def test_fault_as_oslo_vmware_raises_it(self):
        for status in (500, 200):
            service = self.service((status, fault(b'ManagedObjectNotFound')))
            err = self.assertRaises(vexc.VimFaultException, self.read,
                                    service)
            self.assertEqual(['ManagedObjectNotFound'], err.fault_list)
            self.assertEqual('gone', err.msg)
            self.assertEqual({'obj': 'vm-9'}, err.details)
            self.assertIsInstance(err.cause, rawsoap.SoapCallError)

    def test_session_faults_are_not_authenticated(self):
        for name in (b'NotAuthenticated', b'SecurityError'):
            err = self.assertRaises(vexc.VimFaultException, self.read,
                                    self.service((500, fault(name))))
            self.assertEqual([vexc.NOT_AUTHENTICATED], err.fault_list)
            # A real fault, not oslo.vmware's "empty answer".
            self.assertIsNotNone(err.cause)

    def test_missing_set_as_oslo_vmware_checks_it(self):
        missing = (b'<missingSet><path>name</path><fault><fault xsi:type='
                   b'"NotAuthenticated"><object type="Folder">group-d1'
                   b'</object><privilegeId>System.View</privilegeId></fault>'
                   b'<localizedMessage></localizedMessage></fault>'
                   b'</missingSet>')
        err = self.assertRaises(vexc.VimFaultException, self.read,
                                self.service((200, REPLY % missing)))
        self.assertEqual([vexc.NOT_AUTHENTICATED], err.fault_list)
        no_permission = missing.replace(b'NotAuthenticated', b'NoPermission')
        err = self.assertRaises(vexc.VimFaultException, self.read,
                                self.service((200, REPLY % no_permission)))
        self.assertEqual(['NoPermission'], err.fault_list)
        self.assertEqual({'object': 'group-d1', 'privilegeId': 'System.View'},
                         err.details)
        # Not checked for the next pages (neither is it by oslo.vmware).
        service = self.service((200, REPLY % missing))
        self.assertEqual(REPLY % missing, service.ContinueRetrievePropertiesEx(
            ('PropertyCollector', 'pc'), token='t'))

    def test_transport_errors(self):
        err = self.assertRaises(
            vexc.VimConnectionException, self.read,
            self.service(requests.ConnectionError('reset')))
        self.assertIsInstance(err.cause, requests.ConnectionError)
        self.assertEqual({'RetrievePropertiesEx': 1}, dict(self.calls))
        self.assertRaises(vexc.VimConnectionException, self.read,
                          self.service(requests.Timeout('slow')))

    def test_suds_reference_called(self):
        class Ref(str):
            _type = 'PropertyCollector'
            value = 'propertyCollector'
        service = self.service((200, REPLY % b''))
        service.RetrievePropertiesEx(Ref('propertyCollector'),
                                     specSet=read_spec())
        this = etree.fromstring(self.transport.sent[0].message).find(
            ENV + 'Body')[0][0]
        self.assertEqual(('PropertyCollector', 'propertyCollector'),
                         (this.get('type'), this.text))
