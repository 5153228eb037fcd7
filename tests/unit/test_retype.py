"""Which Cinder host dicts are pools of this backend (retype, migrate)."""

import types

import testtools

from vmware_backend.volume import retype


class _Driver(retype.RetypeMixin):

    def __init__(self):
        self.options = {'vcenter_backend_name': 'vmware-1',
                        'vcenter_volume_folder': 'OpenStack/vmware-1'}
        self.placement = types.SimpleNamespace(_vcenter_id=lambda: 'vc-1')


class TargetPoolTest(testtools.TestCase):

    def host(self, location='vmware_backend:vc-1:datastore-1',
             backend='vmware-1', host='node@vmware-1#ds1'):
        capabilities = {'location_info': location}
        if backend is not None:
            capabilities['volume_backend_name'] = backend
        return {'host': host, 'capabilities': capabilities}

    def test_ours(self):
        driver = _Driver()
        self.assertEqual('ds1', driver._target_pool(self.host()))
        self.assertEqual('ds1', driver._target_pool(self.host(backend=None)))
        self.assertEqual('ds1', driver._target_pool(self.host(
            location='vmware_backend:vc-1:datastore-1:domain-c7:'
                     'OpenStack/vmware-1')))

    def test_not_ours(self):
        driver = _Driver()
        for host in (self.host(location='vmware_backend:vc-2:datastore-1'),
                     self.host(location='LVMVolumeDriver:node:vg:thin:0'),
                     self.host(location=''),
                     self.host(backend='vmware-2'),
                     # our name, another folder: another backend
                     self.host(location='vmware_backend:vc-1:datastore-1:'
                                        'domain-c7:OpenStack/other'),
                     self.host(host='node@vmware-1'),
                     None, {}):
            self.assertIsNone(driver._target_pool(host), host)
