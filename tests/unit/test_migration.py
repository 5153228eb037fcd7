"""location_info and which destination a Cinder host dict names."""

import types

import testtools

from vmware_backend import exceptions
from vmware_backend.volume import locations
from vmware_backend.volume import migration
from vmware_backend.vsphere import inventory

R = inventory.MoRef


class LocationTest(testtools.TestCase):

    def test_format(self):
        self.assertEqual(
            'vmware_backend:vc-1:datastore-11:domain-c7,domain-c9:'
            'OpenStack/a:b',
            locations.location_info(
                'vc-1', R('Datastore', 'datastore-11'),
                [R('ClusterComputeResource', 'domain-c9'),
                 R('ClusterComputeResource', 'domain-c7'),
                 R('ClusterComputeResource', 'domain-c9')], 'OpenStack/a:b'))

    def test_parse(self):
        self.assertEqual(
            locations.Location(
                'vc-1', R('Datastore', 'datastore-11'),
                (R('ClusterComputeResource', 'domain-c7'),
                 R('ClusterComputeResource', 'domain-c9')), 'OpenStack/a:b'),
            locations.parse('vmware_backend:vc-1:datastore-11:'
                            'domain-c7,domain-c9:OpenStack/a:b'))
        # An earlier release's: vCenter and datastore only.
        self.assertEqual(
            locations.Location('vc-1', R('Datastore', 'datastore-11'),
                               None, None),
            locations.parse('vmware_backend:vc-1:datastore-11'))

    def test_not_ours(self):
        for text in (None, '', 'LVMVolumeDriver:node:vg:thin:0',
                     'vmware_backend:vc-1', 'vmware_backend::datastore-1',
                     'vmware_backend:vc-1:datastore-1:domain-c7',
                     'vmware_backend:vc-1:datastore-1::OpenStack/x',
                     'vmware_backend:vc-1:datastore-1:domain-c7:'):
            self.assertIsNone(locations.parse(text), text)

    def test_clusters_of(self):
        inv = types.SimpleNamespace(hosts={
            R('HostSystem', 'host-1'): {
                'parent': R('ClusterComputeResource', 'domain-c9')},
            R('HostSystem', 'host-2'): {
                'parent': R('ClusterComputeResource', 'domain-c7')},
            R('HostSystem', 'host-3'): {
                'parent': R('ClusterComputeResource', 'domain-c9')}})
        self.assertEqual(
            [R('ClusterComputeResource', 'domain-c7'),
             R('ClusterComputeResource', 'domain-c9')],
            locations.clusters_of(inv, [R('HostSystem', 'host-1'),
                                        R('HostSystem', 'host-2'),
                                        R('HostSystem', 'host-3'),
                                        R('HostSystem', 'host-unknown')]))


class _Driver(migration.MigrationMixin):

    def __init__(self):
        self.options = {'vcenter_backend_name': 'vmware-1',
                        'vcenter_volume_folder': 'OpenStack/vmware-1'}
        self.placement = types.SimpleNamespace(_vcenter_id=lambda: 'vc-1')


class DestinationTest(testtools.TestCase):

    volume = types.SimpleNamespace(id='11111111-2222-3333-4444-555555555555')

    def host(self, location, backend='vmware-2',
             host='node@vmware-2#datastore-1'):
        capabilities = {'location_info': location}
        if backend is not None:
            capabilities['volume_backend_name'] = backend
        return {'host': host, 'capabilities': capabilities}

    def test_another_backend(self):
        dest = _Driver()._destination(self.volume, self.host(
            'vmware_backend:vc-1:datastore-1:domain-c9:OpenStack/vmware-2'))
        self.assertEqual(migration.Destination(
            'node@vmware-2#datastore-1',
            locations.Location('vc-1', R('Datastore', 'datastore-1'),
                               (R('ClusterComputeResource', 'domain-c9'),),
                               'OpenStack/vmware-2'),
            'vmware-2', 'vmware-2@OpenStack/vmware-2'), dest)
        # Same name, another folder: another backend too.
        dest = _Driver()._destination(self.volume, self.host(
            'vmware_backend:vc-1:datastore-1:domain-c7:OpenStack/other',
            backend='vmware-1'))
        self.assertEqual('vmware-1@OpenStack/other', dest.backend_id)

    def test_this_backend(self):
        driver = _Driver()
        for host in (
                self.host('vmware_backend:vc-1:datastore-1:domain-c7:'
                          'OpenStack/vmware-1', backend='vmware-1'),
                self.host('vmware_backend:vc-1:datastore-1:domain-c7:'
                          'OpenStack/vmware-1', backend=None),
                self.host('vmware_backend:vc-1:datastore-1',
                          backend='vmware-1')):
            self.assertIsNone(driver._destination(self.volume, host), host)

    def test_refusals(self):
        driver = _Driver()
        cases = (
            (self.host('vmware_backend:vc-2:datastore-1:domain-c9:F'),
             "it is not a backend of this driver on vCenter vc-1 (its "
             "location_info is 'vmware_backend:vc-2:datastore-1:"
             "domain-c9:F')"),
            (self.host('LVMVolumeDriver:node:vg:thin:0'),
             "it is not a backend of this driver on vCenter vc-1"),
            ({}, "it is not a backend of this driver on vCenter vc-1 (its "
                 "location_info is None)"),
            (self.host('vmware_backend:vc-1:datastore-1'),
             'its pool statistics name no clusters and volume folder (an '
             'earlier release of the driver); upgrade it'),
            (self.host('vmware_backend:vc-1:datastore-1:domain-c9:F',
                       backend=None),
             'its capabilities name no volume_backend_name'),
            (self.host('vmware_backend:vc-1:datastore-1:domain-c9:F',
                       host='node@vmware-2#datastore-2'),
             'the host names pool datastore-2 but its location_info '
             'datastore datastore-1'),
        )
        for host, why in cases:
            err = self.assertRaises(exceptions.InvalidVolume,
                                    driver._destination, self.volume, host)
            self.assertIn(why, str(err))
            self.assertIn('11111111-2222-3333-4444-555555555555', str(err))
            self.assertIn('needs vCenter credentials in the connection info',
                          str(err))


class DiskTypeTest(testtools.TestCase):

    def test_disk_type_of(self):
        def disk(**backing):
            return types.SimpleNamespace(
                backing=types.SimpleNamespace(**backing))

        self.assertEqual('thin', migration.disk_type_of(
            disk(thinProvisioned=True, eagerlyScrub=False)))
        self.assertEqual('thick', migration.disk_type_of(
            disk(thinProvisioned=False, eagerlyScrub=False)))
        self.assertEqual('thick', migration.disk_type_of(disk()))
        self.assertEqual('eagerZeroedThick', migration.disk_type_of(
            disk(thinProvisioned=False, eagerlyScrub=True)))


class GenericCopyTest(testtools.TestCase):

    def test_refused_naming_the_way_out(self):
        src = types.SimpleNamespace(id='11111111-2222-3333-4444-555555555555')
        dest = types.SimpleNamespace(id='66666666-2222-3333-4444-555555555555',
                                     host='node@vmware-2#datastore-1')
        err = self.assertRaises(exceptions.InvalidVolume,
                                _Driver().before_volume_copy, None, src, dest,
                                remote='dest')
        self.assertEqual(
            "Invalid volume 11111111-2222-3333-4444-555555555555: Cinder's "
            "generic migration (to volume 66666666-2222-3333-4444-"
            "555555555555 on node@vmware-2#datastore-1) is not supported: "
            "Cinder's generic migration would attach both volumes through "
            "os-brick, which needs vCenter credentials in the connection "
            "info. To retype onto another backend and change other type "
            "properties, retype to a type that differs only by "
            "volume_backend_name first (the driver migrates it), then retype "
            "on the new backend", str(err))
