"""retype without move: the disk decided on from plain values (raw XML)."""

import types

import testtools

from vmware_backend.volume import qos
from vmware_backend.volume import retype
from vmware_backend.vsphere import inventory
from vmware_backend.vsphere import rawxml

HEAD = b'''<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"
 xmlns:xsd="http://www.w3.org/2001/XMLSchema"
 xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<soapenv:Body><RetrievePropertiesExResponse xmlns="urn:vim25"><returnval>
<objects><obj type="VirtualMachine">vm-9</obj>
<propSet><name>config.instanceUuid</name>
 <val xsi:type="xsd:string">4f0e1b9e-4a5c-4a3e-9d3a-0c6c1a4b2f10</val>
</propSet>
<propSet><name>config.hardware.device</name>
 <val xsi:type="ArrayOfVirtualDevice">
 <VirtualDevice xsi:type="VirtualLsiLogicController"><key>1000</key>
  <busNumber>0</busNumber><device>2000</device></VirtualDevice>
'''
TAIL = b'''</val></propSet></objects>
</returnval></RetrievePropertiesExResponse></soapenv:Body></soapenv:Envelope>
'''


def disk_xml(io=b'', sharing=b'sharingNone', kind=b'VirtualDisk',
             key=b'2000'):
    return (b'<VirtualDevice xsi:type="' + kind + b'"><key>' + key +
            b'</key><backing xsi:type="VirtualDiskFlatVer2BackingInfo">'
            b'<fileName>[ds] v/v.vmdk</fileName>'
            b'<thinProvisioned>true</thinProvisioned>'
            b'<sharing>' + sharing + b'</sharing></backing>'
            b'<controllerKey>1000</controllerKey><unitNumber>0</unitNumber>'
            b'<capacityInKB>1048576</capacityInKB>' + io +
            b'</VirtualDevice>')


def io_xml(limit, reservation, level, shares):
    return (b'<storageIOAllocation><limit>%d</limit><shares><shares>%d'
            b'</shares><level>%s</level></shares><reservation>%d'
            b'</reservation></storageIOAllocation>'
            % (limit, shares, level, reservation))


def props(*devices):
    reply = HEAD + b''.join(devices) + TAIL
    _token, objects = rawxml.page(reply, inventory.MoRef, typed=True)
    return objects[0][1]


def volume(extra=None):
    return types.SimpleNamespace(
        id='v1', volume_type={'extra_specs': extra or {}})


class PlainDiskTest(testtools.TestCase):

    def test_typed_page_keeps_device_types_and_ints(self):
        found = props(disk_xml(io_xml(300, 10, b'custom', 1500)))
        devices = found['config.hardware.device']
        self.assertEqual(['VirtualLsiLogicController', 'VirtualDisk'],
                         [d['@type'] for d in devices])
        self.assertEqual({'limit': 300, 'reservation': 10,
                          'shares': {'shares': 1500, 'level': 'custom'}},
                         devices[1]['storageIOAllocation'])
        self.assertEqual('sharingNone', devices[1]['backing']['sharing'])
        self.assertEqual('VirtualDiskFlatVer2BackingInfo',
                         devices[1]['backing']['@type'])
        self.assertEqual(2000, devices[1]['key'])

    def test_untyped_page_unchanged(self):
        reply = HEAD + disk_xml() + TAIL
        _token, objects = rawxml.page(reply, inventory.MoRef)
        devices = objects[0][1]['config.hardware.device']
        self.assertNotIn('@type', devices[1])
        self.assertNotIn('@type', devices[1]['backing'])

    def test_of_plain_disk(self):
        devices = props(disk_xml(io_xml(300, 10, b'custom', 1500)),
                        disk_xml(io_xml(-1, 0, b'high', 2000), key=b'2001'),
                        disk_xml(key=b'2002'))['config.hardware.device']
        self.assertEqual(qos.Allocation(300, 10, 'custom', 1500),
                         qos.of_plain_disk(devices[1]))
        self.assertEqual(qos.Allocation(-1, 0, 'high', None),
                         qos.of_plain_disk(devices[2]))
        self.assertEqual(qos.Allocation(-1, 0, 'normal', None),
                         qos.of_plain_disk(devices[3]))


class SettledTest(testtools.TestCase):

    def test_same_allocation_is_settled(self):
        self.assertTrue(retype.settled(
            volume(), props(disk_xml(io_xml(-1, 0, b'normal', 1000)))))
        self.assertTrue(retype.settled(volume(), props(disk_xml())))
        self.assertTrue(retype.settled(
            volume({'vmware:iops_limit': '300', 'vmware:shares': '1500'}),
            props(disk_xml(io_xml(300, 0, b'custom', 1500)))))
        self.assertTrue(retype.settled(
            volume({'vmware:shares_level': 'high'}),
            props(disk_xml(io_xml(-1, 0, b'high', 2000)))))

    def test_other_allocation_is_not(self):
        self.assertFalse(retype.settled(
            volume({'vmware:iops_limit': '300'}),
            props(disk_xml(io_xml(-1, 0, b'normal', 1000)))))
        self.assertFalse(retype.settled(
            volume(), props(disk_xml(io_xml(300, 0, b'normal', 1000)))))
        self.assertFalse(retype.settled(
            volume(), props(disk_xml(io_xml(-1, 5, b'normal', 1000)))))
        self.assertFalse(retype.settled(
            volume({'vmware:shares': '1500'}),
            props(disk_xml(io_xml(-1, 0, b'custom', 1400)))))

    def test_multi_writer_disk_is_not(self):
        self.assertFalse(retype.settled(
            volume(), props(disk_xml(sharing=b'sharingMultiWriter'))))

    def test_not_one_disk_is_not(self):
        self.assertFalse(retype.settled(volume(), props()))
        self.assertFalse(retype.settled(
            volume(), props(disk_xml(), disk_xml(key=b'2001'))))
        self.assertFalse(retype.settled(
            volume(), props(disk_xml(kind=b'VirtualCdrom'))))
        # Untyped values (a read without ``typed``) never count as a disk.
        reply = HEAD + disk_xml() + TAIL
        self.assertFalse(retype.settled(
            volume(), rawxml.page(reply, inventory.MoRef)[1][0][1]))
        self.assertFalse(retype.settled(volume(), {}))
