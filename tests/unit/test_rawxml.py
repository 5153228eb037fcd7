"""Property collector pages parsed from XML: the plain values suds gives."""

import datetime

import testtools

from vmware_backend.vsphere import inventory
from vmware_backend.vsphere import rawxml

PAGE = b'''<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"
 xmlns:xsd="http://www.w3.org/2001/XMLSchema"
 xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<soapenv:Body><RetrievePropertiesExResponse xmlns="urn:vim25"><returnval>
<token>t-1</token>
<objects><obj type="VirtualMachine">vm-7</obj>
<propSet><name>name</name><val xsi:type="xsd:string">web</val></propSet>
<propSet><name>parent</name>
 <val xsi:type="ManagedObjectReference" type="Folder">group-4</val></propSet>
<propSet><name>config.template</name>
 <val xsi:type="xsd:boolean">false</val></propSet>
<propSet><name>config.extraConfig</name><val xsi:type="ArrayOfOptionValue">
 <OptionValue xsi:type="OptionValue"><key>42</key>
  <value xsi:type="xsd:string">x</value></OptionValue></val></propSet>
<propSet><name>snapshot</name><val xsi:type="VirtualMachineSnapshotInfo">
 <currentSnapshot type="VirtualMachineSnapshot">snapshot-2</currentSnapshot>
 <rootSnapshotList>
  <snapshot type="VirtualMachineSnapshot">snapshot-1</snapshot>
  <name>a</name><description></description><id>1</id>
  <createTime>2026-01-02T03:04:05.1234567Z</createTime>
  <quiesced>false</quiesced>
  <childSnapshotList>
   <snapshot type="VirtualMachineSnapshot">snapshot-2</snapshot>
   <name>b</name><id>2</id></childSnapshotList>
 </rootSnapshotList></val></propSet>
<propSet><name>config.hardware.device</name>
 <val xsi:type="ArrayOfVirtualDevice">
 <VirtualDevice xsi:type="VirtualLsiLogicController"><key>1000</key>
  <busNumber>0</busNumber><device>2000</device></VirtualDevice>
 <VirtualDevice xsi:type="VirtualDisk"><key>2000</key>
  <backing xsi:type="VirtualDiskFlatVer2BackingInfo">
   <fileName>[ds] web/web.vmdk</fileName>
   <datastore type="Datastore">datastore-1</datastore>
   <thinProvisioned>false</thinProvisioned><eagerlyScrub>true</eagerlyScrub>
   <parent><fileName>[ds] base/base.vmdk</fileName></parent>
  </backing>
  <controllerKey>1000</controllerKey><unitNumber>0</unitNumber>
  <capacityInKB>1048576</capacityInKB></VirtualDevice>
 </val></propSet>
</objects>
<objects><obj type="Folder">group-4</obj></objects>
</returnval></RetrievePropertiesExResponse></soapenv:Body></soapenv:Envelope>
'''

EMPTY = b'''<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">
<soapenv:Body><RetrievePropertiesExResponse xmlns="urn:vim25">
</RetrievePropertiesExResponse></soapenv:Body></soapenv:Envelope>'''


class PageTest(testtools.TestCase):

    def test_values(self):
        token, objects = rawxml.page(PAGE, inventory.MoRef)
        self.assertEqual('t-1', token)
        self.assertEqual([inventory.MoRef('VirtualMachine', 'vm-7'),
                          inventory.MoRef('Folder', 'group-4')],
                         [ref for ref, _props in objects])
        props = objects[0][1]
        self.assertEqual('web', props['name'])
        self.assertEqual(inventory.MoRef('Folder', 'group-4'),
                         props['parent'])
        self.assertIs(False, props['config.template'])
        # An OptionValue's key stays text.
        self.assertEqual([{'key': '42', 'value': 'x'}],
                         props['config.extraConfig'])
        snapshot = props['snapshot']
        root = snapshot['rootSnapshotList'][0]
        self.assertEqual(inventory.MoRef('VirtualMachineSnapshot',
                                         'snapshot-2'),
                         snapshot['currentSnapshot'])
        self.assertEqual((1, 'a', None, False),
                         (root['id'], root['name'], root['description'],
                          root['quiesced']))
        # Rounded to microseconds as suds does (…4567 -> …457).
        self.assertEqual(datetime.datetime(2026, 1, 2, 3, 4, 5, 123457),
                         root['createTime'].replace(tzinfo=None))
        self.assertEqual(datetime.timedelta(0),
                         root['createTime'].utcoffset())
        # One child: still a list.
        self.assertEqual([('b', 2)], [(c['name'], c['id'])
                                      for c in root['childSnapshotList']])
        controller, disk = props['config.hardware.device']
        self.assertEqual({'key': 1000, 'busNumber': 0, 'device': [2000]},
                         controller)
        self.assertEqual(1048576, disk['capacityInKB'])
        self.assertEqual((1000, 0), (disk['controllerKey'],
                                     disk['unitNumber']))
        self.assertEqual({'fileName': '[ds] web/web.vmdk',
                          'datastore': inventory.MoRef('Datastore',
                                                       'datastore-1'),
                          'thinProvisioned': False, 'eagerlyScrub': True,
                          'parent': {'fileName': '[ds] base/base.vmdk'}},
                         disk['backing'])
        self.assertEqual({}, objects[1][1])

    def test_empty_reply(self):
        self.assertEqual((None, []), rawxml.page(EMPTY, inventory.MoRef))
