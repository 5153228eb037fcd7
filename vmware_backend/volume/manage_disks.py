"""Finding disk files on datastores for the manage path.

``HostDatastoreBrowser`` searches for one loose vmdk (``source-name``
``[datastore] path.vmdk``) and for every vmdk of a pool's datastore (the
manageable listing), with the disk details vSphere reports (capacity, thin).
"""

from vmware_backend import exceptions
from vmware_backend.volume import manage_refs as refs
from vmware_backend.vsphere import inventory
from vmware_backend.vsphere import specs
from vmware_backend.vsphere import vm_disks


class DatastoreDiskMixin:
    """Datastore browsing for :class:`.manage.ManageMixin`.

    Needs ``self.session`` and ``self.placement``.
    """

    def _loose_disk(self, file_name):
        """The :class:`vm_disks.Disk` of a loose file, from the browser."""
        ds_name, folder, name = refs.split_file(file_name)
        try:
            ds = self.placement.find_datastore(ds_name)
        except exceptions.InventoryNotFound:
            raise exceptions.InvalidReference(
                reason='no datastore %s (from %s)' % (ds_name, file_name))
        try:
            result = self.session.invoke_task(
                'SearchDatastore_Task', self._browser(ds), target=file_name,
                datastorePath='[%s] %s' % (ds_name, folder),
                searchSpec=self._disk_search_spec(name))
        except exceptions.VCenterFault as err:
            if err.fault in ('FileNotFound', 'InvalidDatastorePath'):
                raise exceptions.InvalidReference(
                    reason='%s does not exist' % file_name)
            raise
        files = [f for f in getattr(result, 'file', None) or []
                 if f.path == name]
        if not files:
            raise exceptions.InvalidReference(
                reason='%s does not exist' % file_name)
        capacity = getattr(files[0], 'capacityKb', None)
        if not capacity:
            raise exceptions.InvalidReference(
                reason='the datastore browser reports no capacity for %s'
                       % file_name)
        thin = getattr(files[0], 'thin', None)
        return vm_disks.Disk(key=None, file_name=file_name,
                             capacity_kb=int(capacity), controller_key=None,
                             unit_number=None,
                             disk_type=None if thin is None else
                             ('thin' if thin else 'thick'))

    def _browser(self, ds):
        return self.session.get_properties(inventory.to_suds(ds),
                                           ['browser'])['browser']

    def _disk_search_spec(self, pattern):
        factory = self.session.factory
        details = specs.create(factory, 'VmDiskFileQueryFlags',
                               diskType=True, capacityKb=True,
                               hardwareVersion=False, thin=True)
        query = specs.create(factory, 'VmDiskFileQuery', details=details)
        return specs.create(
            factory, 'HostDatastoreBrowserSearchSpec', query=[query],
            matchPattern=[pattern],
            details=specs.create(factory, 'FileQueryFlags', fileType=True,
                                 fileSize=True, modification=False,
                                 fileOwner=False))

    def _datastore_disks(self, pool):
        """Every vmdk on a pool's datastore (SearchDatastoreSubFolders)."""
        results = self.session.invoke_task(
            'SearchDatastoreSubFolders_Task',
            self._browser(pool.datastore), target='datastore %s' % pool.name,
            datastorePath='[%s]' % pool.datastore_name,
            searchSpec=self._disk_search_spec('*.vmdk'))
        results = getattr(results, 'HostDatastoreBrowserSearchResults',
                          results) or []
        disks = []
        for result in results:
            folder = (getattr(result, 'folderPath', '') or '').split(
                ']', 1)[-1].strip(' /')
            for info in getattr(result, 'file', None) or []:
                if type(info).__name__ != 'VmDiskFileInfo':
                    continue
                path = '%s/%s' % (folder, info.path) if folder else info.path
                thin = getattr(info, 'thin', None)
                disks.append(vm_disks.Disk(
                    key=None, file_name='[%s] %s' % (pool.datastore_name,
                                                     path),
                    capacity_kb=int(getattr(info, 'capacityKb', 0) or 0),
                    controller_key=None, unit_number=None,
                    disk_type=None if thin is None else
                    ('thin' if thin else 'thick')))
        return disks
