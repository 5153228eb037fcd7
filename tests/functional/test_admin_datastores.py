"""Datastore administration and stable pool names on the simulator.

Every change is read back from vCenter through the session (property
collector), not through the library's own results.
"""

from tests.functional import base
from vmware_backend.admin import datastore_changes as changes
from vmware_backend.admin import datastores
from vmware_backend import exceptions
from vmware_backend.volume import driver as vmware_driver
from vmware_backend.volume import placement
from vmware_backend.volume import plain_objects
from vmware_backend.vsphere import inventory

CLUSTER_HOSTS = ['DC0_C0_H0', 'DC0_C0_H1', 'DC0_C0_H2']


class AdminTestCase(base.FunctionalTestCase):
    """A simulator of the test's own: these tests change datastores."""

    VCSIM_FLAGS = {'datacenters': 2}

    def datastore_refs(self, name):
        objs = inventory.read_container(
            self.session, {'Datastore': ['name']})
        return sorted((ref for ref, props in objs if props['name'] == name),
                      key=lambda r: r.value)

    def read(self, ref, paths):
        return inventory.get_properties(self.session, ref, paths)

    def hosts_named(self):
        objs = inventory.read_container(self.session, {'HostSystem':
                                                       ['name']})
        return {props['name']: ref for ref, props in objs}

    def mounted_on(self, ref):
        names = {ref: name for name, ref in self.hosts_named().items()}
        return sorted(names[m['key']] for m in
                      self.read(ref, ['host']).get('host') or [])


class StablePoolNamesTest(AdminTestCase):

    def test_names_do_not_flip_across_datacenters_or_renames(self):
        # Regression: with two datacenters the pools were named
        # 'DC0:LocalDS_0'/'DC1:LocalDS_0', with one 'LocalDS_0'; a rename
        # changed the pool name too.
        svc = placement.PlacementService(self.session, self.options)
        dc0_ds0, dc1_ds0 = sorted(
            self.datastore_refs('LocalDS_0'),
            key=lambda r: 'DC1' in r.value)
        stats = {p['pool_name']: p for p in svc.pools()}
        self.assertIn(dc0_ds0.value, stats)
        self.assertIn(dc1_ds0.value, stats)
        self.assertEqual('LocalDS_0', stats[dc0_ds0.value]['datastore_name'])

        changes.rename(self.session, dc0_ds0.value, 'Gold')
        self.assertEqual('Gold', self.read(dc0_ds0, ['name'])['name'])
        self.assertEqual('Gold', self.read(dc0_ds0,
                                           ['summary.name'])['summary.name'])
        svc.invalidate()
        stats = {p['pool_name']: p for p in svc.pools()}
        self.assertEqual('Gold', stats[dc0_ds0.value]['datastore_name'])
        self.assertEqual(sorted(stats), sorted(p['pool_name'] for p in
                                               svc.pools(refresh=True)))

    def test_old_pool_names_still_place(self):
        svc = placement.PlacementService(self.session, self.options)
        dc1 = [r for r in self.datastore_refs('LocalDS_0')
               if 'DC1' in r.value][0]
        where = svc.choose(1, 'thin', pool_name='DC1:LocalDS_0')
        self.assertEqual(dc1, where.datastore)
        err = self.assertRaises(exceptions.NoValidDatastore, svc.choose, 1,
                                'thin', pool_name='LocalDS_0')
        self.assertIn('ambiguous', str(err))
        # A volume of an earlier release, host 'h@b#LocalDS_1' after
        # DC1's LocalDS_1 was renamed: the old name is unique again.
        ds1 = [r for r in self.datastore_refs('LocalDS_1')
               if 'DC1' in r.value][0]
        changes.rename(self.session, ds1.value, 'Silver')
        svc.invalidate()
        driver = vmware_driver.VMwareVolumeDriver(self.options,
                                                  session=self.session)
        volume = plain_objects.volume(1, host='h@b#LocalDS_1')
        driver.create_volume(volume)
        self.addCleanup(driver.delete_volume, volume)
        backing = self.session.invoke(
            'FindAllByUuid', self.session.service_content.searchIndex,
            uuid=volume.id, vmSearch=True, instanceUuid=True)[0]
        stores = self.read(inventory.from_suds(backing), ['datastore'])
        self.assertEqual(['LocalDS_1'], [
            self.read(ref, ['name'])['name']
            for ref in stores['datastore']])
        self.assertNotIn('DC1', stores['datastore'][0].value)


class ListDatastoresTest(AdminTestCase):

    VCSIM_FLAGS = {'datastores': 3, 'ds-inaccessible': 'LocalDS_2',
                   'ds-type': 'LocalDS_1=NFS'}

    def test_list(self):
        driver = vmware_driver.VMwareVolumeDriver(self.options,
                                                  session=self.session)
        volume = plain_objects.volume(1, host='h@b#LocalDS_1')
        driver.create_volume(volume)
        self.addCleanup(driver.delete_volume, volume)
        before = self.session.counts_snapshot()
        infos = {i.name: i for i in
                 datastores.list_datastores(self.session, self.options)}
        calls = self.session.counts_snapshot() - before
        self.assertEqual(1, calls['CreateContainerView'])
        ds0, ds1, ds2 = infos['LocalDS_0'], infos['LocalDS_1'], \
            infos['LocalDS_2']
        self.assertEqual('DC0', ds0.datacenter)
        self.assertEqual(1024.0, ds0.capacity_gb)
        self.assertEqual('NFS', ds1.type)
        self.assertEqual(CLUSTER_HOSTS + ['DC0_H0'], ds0.hosts)
        self.assertEqual(['DC0_C0'], ds0.clusters)
        self.assertEqual({'DC0_C0': True}, ds0.cluster_reach)
        self.assertFalse(ds2.accessible)
        self.assertEqual({'DC0_C0': False}, ds2.cluster_reach)
        self.assertIsNone(ds2.pool)
        self.assertIn('not accessible', ds2.not_a_pool)
        self.assertEqual(ds1.id, ds1.pool)
        self.assertFalse(ds0.sioc.enabled)
        self.assertEqual('automatic', ds0.sioc.congestion_threshold_mode)
        self.assertEqual(30, ds0.sioc.congestion_threshold_ms)
        # The model's VMs live on LocalDS_0; the volume on LocalDS_1.
        self.assertEqual((0, 4), (ds0.volumes, ds0.vms))
        self.assertEqual((1, 1), (ds1.volumes, ds1.vms))
        self.assertEqual(round(1024 - ds1.free_gb + ds1.uncommitted_gb, 2),
                         ds1.provisioned_gb)

    def test_find(self):
        inv = datastores.read(self.session)
        ref, _props = datastores.find(inv, 'LocalDS_1')
        self.assertEqual(ref, datastores.find(inv, ref.value)[0])
        self.assertEqual(ref, datastores.find(inv, 'DC0:LocalDS_1')[0])
        err = self.assertRaises(exceptions.InvalidAdminInput,
                                datastores.find, inv, 'nope')
        self.assertIn("Invalid datastore 'nope': no such datastore; known: "
                      "LocalDS_0, LocalDS_1, LocalDS_2", str(err))


class RenameTest(AdminTestCase):

    def test_refusals(self):
        ref = [r for r in self.datastore_refs('LocalDS_0')
               if 'DC0' in r.value][0]
        err = self.assertRaises(exceptions.InvalidAdminInput, changes.rename,
                                self.session, ref.value, 'LocalDS_1')
        self.assertIn('already has it', str(err))
        self.assertRaises(exceptions.InvalidAdminInput, changes.rename,
                          self.session, ref.value, '')
        # vCenter (the test bed) refuses a duplicate by itself too...
        err = self.assertRaises(
            exceptions.VCenterFault, self.session.invoke, 'RenameDatastore',
            inventory.to_suds(ref), newName='LocalDS_1')
        self.assertEqual('DuplicateName', err.fault)
        # ...but a name of another datacenter is free.
        changes.rename(self.session, ref.value, 'Other')
        other_dc = [r for r in self.datastore_refs('LocalDS_1')
                    if 'DC1' in r.value][0]
        changes.rename(self.session, other_dc.value, 'Other')
        self.assertEqual(2, len(self.datastore_refs('Other')))

    def test_dry_run_changes_nothing(self):
        ref = self.datastore_refs('LocalDS_1')[0]
        result = changes.rename(self.session, ref.value, 'New', dry_run=True)
        self.assertTrue(result.dry_run)
        self.assertEqual('LocalDS_1', self.read(ref, ['name'])['name'])


class FailingCreateSession:
    """The real session, with CreateNasDatastore failing on one host.

    That call fails the way vCenter reports a host that cannot reach the
    NFS server; it is never sent, so that host is left untouched. Every
    other call goes to the simulator.
    """

    def __init__(self, session, system):
        self._session = session
        self._system = system

    def __getattr__(self, name):
        return getattr(self._session, name)

    def invoke(self, method, moref, target=None, **kwargs):
        if method == 'CreateNasDatastore' and \
                inventory.from_suds(moref) == self._system:
            raise exceptions.VCenterFault(
                fault='HostConfigFault', action=method, target=target,
                detail='NFS mount 127.0.0.9:/x failed: unable to connect')
        return self._session.invoke(method, moref, target=target, **kwargs)


class CreateRemoveNfsTest(AdminTestCase):

    VCSIM_FLAGS = {'datacenters': 1}

    def create(self, session=None, **kwargs):
        args = dict(cluster='DC0_C0', name='nfs-a', remote_host='127.0.0.9',
                    remote_path='/exports/a')
        args.update(kwargs)
        return changes.create_nfs(session or self.session, **args)

    def test_create_on_every_host_then_remove(self):
        result = self.create()
        self.assertTrue(result.ok, result)
        self.assertEqual(['mounted'] * 3, [h.status for h in result.hosts])
        ref = self.datastore_refs('nfs-a')[0]
        self.assertEqual(ref.value, result.id)
        props = self.read(ref, ['summary.type', 'info', 'summary.accessible'])
        self.assertEqual('NFS', props['summary.type'])
        self.assertEqual({'127.0.0.9', '/exports/a'}, {
            props['info']['nas']['remoteHost'],
            props['info']['nas']['remotePath']})
        self.assertEqual(CLUSTER_HOSTS, self.mounted_on(ref))
        for name, host in self.hosts_named().items():
            listed = ref in (self.read(host, ['datastore'])['datastore'])
            self.assertEqual(name in CLUSTER_HOSTS, listed, name)
        # Again: nothing to do, every host already mounts it.
        again = self.create()
        self.assertEqual(['already mounted'] * 3,
                         [h.status for h in again.hosts])
        # The name belongs to it: another export is refused.
        err = self.assertRaises(exceptions.AdminRefused, self.create,
                                remote_path='/exports/b')
        self.assertIn('already has this name', str(err))

        plan = changes.remove(self.session, 'nfs-a', dry_run=True)
        self.assertEqual(['would unmount'] * 3,
                         [h.status for h in plan.hosts])
        self.assertEqual(CLUSTER_HOSTS, self.mounted_on(ref))
        result = changes.remove(self.session, 'nfs-a')
        self.assertTrue(result.ok, result)
        self.assertEqual([], self.datastore_refs('nfs-a'))
        for host in self.hosts_named().values():
            self.assertNotIn(ref, self.read(host, ['datastore'])['datastore'])

    def test_failure_on_a_host_rolls_back(self):
        hosts = self.hosts_named()
        system = inventory.get_properties(
            self.session, hosts['DC0_C0_H1'],
            ['configManager.datastoreSystem'])[
                'configManager.datastoreSystem']
        failing = FailingCreateSession(self.session, system)
        result = self.create(session=failing)
        self.assertFalse(result.ok)
        self.assertEqual(
            [('DC0_C0_H0', 'rolled back'), ('DC0_C0_H1', 'failed'),
             ('DC0_C0_H2', 'not tried')],
            [(h.host, h.status) for h in result.hosts])
        self.assertIn('unable to connect', result.hosts[1].error)
        self.assertEqual([], self.datastore_refs('nfs-a'))
        for host in hosts.values():
            names = [self.read(d, ['name'])['name'] for d in
                     self.read(host, ['datastore'])['datastore']]
            self.assertNotIn('nfs-a', names)

    def test_failure_without_rollback_is_reported_and_converges(self):
        hosts = self.hosts_named()
        system = inventory.get_properties(
            self.session, hosts['DC0_C0_H1'],
            ['configManager.datastoreSystem'])[
                'configManager.datastoreSystem']
        result = self.create(
            session=FailingCreateSession(self.session, system),
            rollback=False)
        self.assertFalse(result.ok)
        ref = self.datastore_refs('nfs-a')[0]
        self.assertEqual(['DC0_C0_H0'], self.mounted_on(ref))
        # A retry mounts the rest and leaves H0 alone.
        result = self.create()
        self.assertEqual(['already mounted', 'mounted', 'mounted'],
                         [h.status for h in result.hosts])
        self.assertEqual(CLUSTER_HOSTS, self.mounted_on(ref))

    def test_remove_refused_while_vms_have_files(self):
        err = self.assertRaises(exceptions.AdminRefused, changes.remove,
                                self.session, 'LocalDS_0')
        self.assertIn('files of 4 VM(s)', str(err))
        ref = self.datastore_refs('LocalDS_0')[0]
        self.assertEqual(CLUSTER_HOSTS + ['DC0_H0'], self.mounted_on(ref))
        # Forced: vCenter still refuses the hosts whose VMs use it.
        result = changes.remove(self.session, 'LocalDS_0', force=True)
        self.assertFalse(result.ok)
        refused = [h.host for h in result.hosts
                   if 'ResourceInUse' in (h.error or '')]
        self.assertTrue(refused, result)
        self.assertEqual(refused, self.mounted_on(ref))

    def test_bad_input(self):
        for kwargs, text in [
                ({'remote_path': 'exports'}, 'absolute path'),
                ({'nfs_type': 'CIFS'}, 'NFS, NFS41'),
                ({'name': ''}, 'datastore name'),
                ({'remote_host': 'a b'}, 'NFS server'),
                ({'cluster': 'nope'}, 'known: DC0_C0')]:
            err = self.assertRaises(exceptions.InvalidAdminInput,
                                    self.create, **kwargs)
            self.assertIn(text, str(err))
        self.assertEqual([], self.datastore_refs('nfs-a'))
