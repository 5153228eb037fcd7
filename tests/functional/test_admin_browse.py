"""Browsing datastores on the simulator: files, disk details, owners."""

from tests.functional import base
from tests.functional import test_manage_cli
from vmware_backend.admin import browse
from vmware_backend import exceptions
from vmware_backend.volume import driver as vmware_driver
from vmware_backend.volume import plain_objects


class BrowseTest(test_manage_cli.CliMixin, base.FunctionalTestCase):

    VCSIM_FLAGS = {'datastores': 2}

    def setUp(self):
        super().setUp()
        self.driver = vmware_driver.VMwareVolumeDriver(self.options,
                                                       session=self.session)
        self.volume = plain_objects.volume(2, host='h@b#LocalDS_1')
        self.driver.create_volume(self.volume)
        self.addCleanup(self.driver.delete_volume, self.volume)
        # A loose disk: no VM uses it.
        content = self.session.service_content
        dc = self.session.invoke('FindByInventoryPath', content.searchIndex,
                                 inventoryPath='DC0')
        spec = self.session.factory.create('ns0:FileBackedVirtualDiskSpec')
        spec.diskType = 'thick'
        spec.adapterType = 'lsiLogic'
        spec.capacityKb = 3 * 1024 * 1024
        self.session.invoke('MakeDirectory', content.fileManager,
                            name='[LocalDS_1] loose', datacenter=dc,
                            createParentDirectories=True)
        self.session.invoke_task(
            'CreateVirtualDisk_Task', content.virtualDiskManager,
            name='[LocalDS_1] loose/old.vmdk', datacenter=dc, spec=spec)

    def test_owners_and_disk_details(self):
        result = browse.browse(self.session, 'LocalDS_1')
        files = {f.path: f for f in result.files}
        name = 'volume-%s' % self.volume.id
        vmdk = files['[LocalDS_1] %s/%s.vmdk' % (name, name)]
        self.assertEqual('volume', vmdk.owner)
        self.assertEqual(self.volume.id, vmdk.volume_id)
        self.assertEqual(2.0, vmdk.capacity_gb)
        self.assertTrue(vmdk.thin)
        self.assertEqual('VirtualDiskFlatVer2BackingInfo', vmdk.disk_type)
        self.assertEqual('folder', files['[LocalDS_1] %s' % name].kind)
        self.assertEqual(name, files['[LocalDS_1] %s' % name].vm)
        loose = files['[LocalDS_1] loose/old.vmdk']
        self.assertEqual(('loose', 3.0), (loose.owner, loose.capacity_gb))
        self.assertIsNone(loose.vm)
        # The model's VMs live on LocalDS_0: their disks belong to them.
        other = browse.browse(self.session, 'LocalDS_0', patterns=['*.vmdk'])
        self.assertTrue(other.files)
        self.assertEqual({'vm'}, {f.owner for f in other.files})
        self.assertTrue(all(f.path.endswith('.vmdk') for f in other.files))

    def test_one_folder_and_patterns(self):
        result = browse.browse(self.session, 'LocalDS_1', 'loose',
                               patterns=['*.vmdk'], recursive=False)
        self.assertEqual(['[LocalDS_1] loose/old.vmdk'],
                         [f.path for f in result.files])
        err = self.assertRaises(exceptions.VCenterFault, browse.browse,
                                self.session, 'LocalDS_1', 'nope')
        self.assertEqual('FileNotFound', err.fault)
        self.assertRaises(exceptions.InvalidAdminInput, browse.browse,
                          self.session, 'LocalDS_1', '../x')

    def test_cli(self):
        config = self.ini(self.vcsim)
        proc = self.cli('--format', 'json', 'browse', 'LocalDS_1',
                        '--pattern', '*.vmdk', config=config)
        self.assertExit(0, proc)
        owners = {f['path']: f['owner']
                  for f in self.json_of(proc)['files']}
        self.assertEqual('loose', owners['[LocalDS_1] loose/old.vmdk'])
        proc = self.cli('browse', 'LocalDS_1', config=config)
        self.assertExit(0, proc)
        self.assertIn('volume %s' % self.volume.id, proc.stdout)
        self.assertIn('1 loose disk(s).', proc.stdout)
