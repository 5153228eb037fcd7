"""Import of existing disks, unmanage and the manageable listing on vcsim.

Every test reads vCenter back through the session: which VM holds the disk
file, the backing's name, instanceUuid, folder and extraConfig.
"""

import requests

from tests.functional import base
from tests.functional import lifecycle_base as lb
from vmware_backend.admin import listing
from vmware_backend import exceptions
from vmware_backend.volume import manage as manage_mod
from vmware_backend.vsphere import ops as vsphere_ops
from vmware_backend.vsphere import specs

GIB_KB = 1024 * 1024


class ManageTestBase(lb.LifecycleTestCase):

    def foreign_vm(self, disks_kb=(GIB_KB,), extra=None, name=None,
                   disk_mode=None):
        """A powered-off VM of nobody (no marks) with disks of these sizes.

        Destroyed at clean-up when it still exists.
        """
        template = self.simulator_vm('DC0_C0_RP0_VM0')
        where = self.session.get_properties(
            template, ['parent', 'resourcePool', 'runtime.host'])
        uuid = base.new_id()
        name = name or 'foreign-%s' % uuid[:8]
        spec = specs.backing_config_spec(
            self.session.factory, name, uuid, 1, 'thin', 'lsiLogic',
            'LocalDS_0', 256, extra_entries=None)
        disk = spec.deviceChange[-1].device
        disk.capacityInKB = disks_kb[0]
        if disk_mode:
            disk.backing.diskMode = disk_mode
        for unit, size in enumerate(disks_kb[1:], start=1):
            extra_disk = specs.new_disk_spec(
                self.session.factory, size, 'thin', disk.controllerKey, unit,
                'LocalDS_0', key=-100 - unit)
            spec.deviceChange.append(extra_disk)
        spec.extraConfig = specs.extra_config(self.session.factory,
                                              extra or {})
        ref = self.session.invoke_task(
            'CreateVM_Task', where['parent'], config=spec,
            pool=where['resourcePool'], host=where['runtime.host'])
        self.addCleanup(self._destroy_quietly, ref)
        return ref, uuid, name

    def pool_host(self, name):
        """Cinder's host dict of the pool of datastore ``name``."""
        stats = self.driver.get_volume_stats(refresh=True)
        [pool] = [p for p in stats['pools'] if p['datastore_name'] == name]
        return {'host': 'node1@vmware-1#%s' % pool['pool_name'],
                'capabilities': dict(pool, volume_backend_name=stats[
                    'volume_backend_name'])}

    def _destroy_quietly(self, ref):
        try:
            self.session.invoke_task('Destroy_Task', ref)
        except exceptions.VCenterFault:
            pass

    def files(self, ref):
        return [d.backing.fileName for d in self.state(ref).disks]

    def adopted(self, volume):
        """Clean up an imported volume (its backing is destroyed)."""
        return self.track(volume)

    def file_exists(self, file_name):
        ds_name = file_name[1:file_name.index(']')]
        ds = self.driver.placement.find_datastore(ds_name)
        browser = self.session.get_properties(
            vsphere_ops.moref('Datastore', ds.value), ['browser'])['browser']
        folder, _sep, name = file_name.split('] ', 1)[1].rpartition('/')
        spec = specs.create(self.session.factory,
                            'HostDatastoreBrowserSearchSpec',
                            matchPattern=[name])
        try:
            result = self.session.invoke_task(
                'SearchDatastore_Task', browser,
                datastorePath='[%s] %s' % (ds_name, folder), searchSpec=spec)
        except exceptions.VCenterFault:
            return False
        return any(f.path == name for f in getattr(result, 'file', []) or [])

    def detach_all(self, ref):
        """Make the VM's disks loose files; returns their names."""
        state = self.state(ref)
        for disk in state.disks:
            self.session.invoke_task(
                'ReconfigVM_Task', ref,
                spec=specs.remove_disk_spec(self.session.factory, disk))
        return [d.backing.fileName for d in state.disks]

    def audited_ids(self):
        """Volume ids of the backings the audit reads."""
        backings, _instances = listing.read(
            self.session, devices=False,
            volume_folder=self.options['vcenter_volume_folder'])
        return {b.volume_id for b in backings}

    def control(self, method, path, **kwargs):
        return requests.request(
            method, 'http://127.0.0.1:%d/testbed/%s' % (self.vcsim.port, path),
            timeout=10, **kwargs)

    def fail_task(self, method, outcome='error-before'):
        resp = self.control('PUT', 'task-faults', json={'rules': [
            {'method': method, 'outcome': outcome, 'times': 1}]})
        self.assertEqual(200, resp.status_code, resp.text)
        self.addCleanup(self.control, 'DELETE', 'task-faults')


class ManageSourceIdTest(ManageTestBase):

    def test_adopt_vm_in_place_then_unmanage_and_list(self):
        ref, uuid, name = self.foreign_vm(
            extra={'cinder.volume.id': 'old-volume'})
        file_name = self.files(ref)[0]
        volume = lb.make_volume(1)
        existing = {'source-id': uuid}
        self.assertEqual(1, self.driver.manage_existing_get_size(volume,
                                                                 existing))
        self.driver.manage_existing(volume, existing)
        self.adopted(volume)
        state = self.state(volume.id)
        self.assertEqual(vsphere_ops.moref_value(ref),
                         vsphere_ops.moref_value(state.ref))
        self.assertEqual(volume.name, state.props['name'])
        self.assertEqual(volume.id, state.props['config.instanceUuid'])
        self.assertEqual([file_name], self.files(state.ref))
        self.assertEqual('true', state.extra[specs.KEY_MANAGED])
        self.assertEqual(volume.id, state.extra[specs.KEY_VOLUME_ID])
        self.assertIn(uuid, state.extra[manage_mod.KEY_IMPORTED_FROM])
        folder = state.props['parent']
        self.assertEqual('Volumes', self.entity_name(folder))
        # A retried import is a no-op.
        self.driver.manage_existing(volume, existing)

        # Listed as managed by Cinder while Cinder knows it.
        entries = self.driver.get_manageable_volumes(
            [volume], None, 1000, 0, ['size'], ['asc'])
        mine = [e for e in entries if e['reference'] ==
                {'source-id': volume.id}]
        self.assertEqual(1, len(mine), entries)
        self.assertFalse(mine[0]['safe_to_manage'])
        self.assertEqual(volume.id, mine[0]['cinder_id'])

        self.assertIn(volume.id, self.audited_ids())
        self.driver.unmanage(volume)
        self.assertNotIn(volume.id, self.audited_ids())
        state = self.state(volume.id)
        for key in manage_mod.MARK_KEYS:
            self.assertNotIn(key, state.extra)
        self.assertEqual([file_name], self.files(state.ref))
        entries = self.driver.get_manageable_volumes(
            [], None, 1000, 0, ['size'], ['asc'])
        mine = [e for e in entries if e['reference'] ==
                {'source-id': volume.id}]
        self.assertEqual(1, len(mine), entries)
        self.assertTrue(mine[0]['safe_to_manage'], mine[0])
        self.assertIsNone(mine[0]['cinder_id'])
        self.assertEqual(file_name, mine[0]['extra_info']['file'])

        # And it can be imported again under a new volume id.
        again = lb.make_volume(1)
        self.driver.manage_existing(again, {'source-id': volume.id})
        self.adopted(again)
        self.assertEqual(again.id,
                         self.state(again.id).extra[specs.KEY_VOLUME_ID])

    def test_adopt_by_moref_grows_to_whole_gib(self):
        ref, _uuid, _name = self.foreign_vm(
            disks_kb=(GIB_KB + 512,), disk_mode='independent_persistent')
        volume = lb.make_volume(2)
        existing = {'source-id': vsphere_ops.moref_value(ref)}
        self.assertEqual(2, self.driver.manage_existing_get_size(volume,
                                                                 existing))
        self.driver.manage_existing(volume, existing)
        self.adopted(volume)
        disk = self.state(volume.id).disk
        self.assertEqual(2 * GIB_KB, disk.capacityInKB)
        # Independent disks are left out of snapshots: made persistent.
        self.assertEqual('persistent', disk.backing.diskMode)

    def test_adopt_makes_independent_disk_persistent(self):
        ref, uuid, _name = self.foreign_vm(
            disk_mode='independent_persistent')
        volume = lb.make_volume(1)
        self.driver.manage_existing(volume, {'source-id': uuid})
        self.adopted(volume)
        disk = self.state(volume.id).disk
        self.assertEqual('persistent', disk.backing.diskMode)
        self.assertEqual(GIB_KB, disk.capacityInKB)

    def test_refusals(self):
        two, two_uuid, two_name = self.foreign_vm(disks_kb=(GIB_KB, GIB_KB))
        cases = [
            ({'source-id': two_uuid}, 'has 2 disks'),
            ({'source-id': 'no-such-vm'}, 'no VM with instanceUuid'),
            ({'source-name': '[LocalDS_0] x/y.vmdk@DC0/vm/%s' % two_name},
             'has no disk'),
            ({'source-name': 'bad'}, 'neither'),
            ({'source-name': '[LocalDS_0] nowhere/none.vmdk'},
             'does not exist'),
        ]
        # Powered-on VM of the simulator.
        powered = self.state(self.simulator_vm('DC0_C0_RP0_VM0'))
        cases.append(({'source-name': '%s@DC0/vm/DC0_C0_RP0_VM0'
                       % powered.disks[0].backing.fileName},
                      'powered-on VM DC0_C0_RP0_VM0'))
        # A backing of this backend.
        ours = self.create(size=1)
        cases.append(({'source-id': ours.id}, 'already managed'))
        # A VM with a snapshot.
        snap, snap_uuid, _n = self.foreign_vm()
        self.session.invoke_task('CreateSnapshot_Task', snap, name='s1',
                                 memory=False, quiesce=False)
        cases.append(({'source-id': snap_uuid}, 'snapshot chain'))
        for existing, reason in cases:
            volume = lb.make_volume(1)
            for call in (self.driver.manage_existing_get_size,
                         self.driver.manage_existing):
                err = self.assertRaises(exceptions.InvalidReference, call,
                                        volume, existing)
                self.assertIn(reason, str(err), existing)
            self.assertGone(volume.id)
        # Nothing changed on the refused VMs.
        self.assertEqual(2, len(self.state(two).disks))
        self.assertEqual(two_name, self.entity_name(two))

    def test_ambiguous_instance_uuid(self):
        _ref, uuid, _name = self.foreign_vm()
        spec = specs.backing_config_spec(
            self.session.factory, 'twin-%s' % uuid[:8], uuid, 1, 'thin',
            'lsiLogic', 'LocalDS_0', 256)
        spec.extraConfig = []
        where = self.session.get_properties(
            self.simulator_vm('DC0_C0_RP0_VM0'),
            ['parent', 'resourcePool', 'runtime.host'])
        twin = self.session.invoke_task(
            'CreateVM_Task', where['parent'], config=spec,
            pool=where['resourcePool'], host=where['runtime.host'])
        self.addCleanup(self._destroy_quietly, twin)
        volume = lb.make_volume(1)
        err = self.assertRaises(exceptions.InvalidReference,
                                self.driver.manage_existing, volume,
                                {'source-id': uuid})
        self.assertIn('ambiguous', str(err))

    def test_linked_clone_parent_refused(self):
        ref, uuid, _name = self.foreign_vm()
        where = self.session.get_properties(ref, ['parent', 'resourcePool',
                                                  'datastore'])
        location = specs.relocate_spec(
            self.session.factory,
            vsphere_ops.ref_list(where['datastore'])[0],
            resource_pool=where['resourcePool'],
            disk_move_type=specs.LINKED_MOVE_TYPE)
        clone_spec = specs.create(self.session.factory,
                                  'VirtualMachineCloneSpec',
                                  location=location, powerOn=False,
                                  template=False)
        child = self.session.invoke_task(
            'CloneVM_Task', ref, folder=where['parent'],
            name='child-%s' % uuid[:8], spec=clone_spec)
        self.addCleanup(self._destroy_quietly, child)
        volume = lb.make_volume(1)
        err = self.assertRaises(exceptions.InvalidReference,
                                self.driver.manage_existing, volume,
                                {'source-id': uuid})
        self.assertIn('parent of linked clone', str(err))

    def test_failed_reconfigure_moves_vm_back(self):
        ref, uuid, name = self.foreign_vm()
        parent = self.session.get_properties(ref, ['parent'])['parent']
        self.fail_task('ReconfigVM_Task')
        volume = lb.make_volume(1)
        self.assertRaises(exceptions.VMwareBackendException,
                          self.driver.manage_existing, volume,
                          {'source-id': uuid})
        state = self.state(ref)
        self.assertEqual(vsphere_ops.moref_value(parent),
                         vsphere_ops.moref_value(state.props['parent']))
        self.assertEqual(name, state.props['name'])
        self.assertEqual(uuid, state.props['config.instanceUuid'])
        self.assertNotIn(specs.KEY_MANAGED, state.extra)


class ManageSourceNameTest(ManageTestBase):

    def test_vm_disk_is_detached_and_wrapped(self):
        ref, _uuid, name = self.foreign_vm(disks_kb=(GIB_KB, 2 * GIB_KB))
        first, second = self.files(ref)
        volume = lb.make_volume(2)
        existing = {'source-name': '%s@DC0/vm/%s' % (second, name)}
        self.assertEqual(2, self.driver.manage_existing_get_size(volume,
                                                                 existing))
        self.driver.manage_existing(volume, existing)
        self.adopted(volume)
        self.assertEqual([first], self.files(ref))
        state = self.state(volume.id)
        self.assertEqual([second], self.files(state.ref))
        self.assertEqual(2 * GIB_KB, state.disk.capacityInKB)
        self.assertEqual(volume.name, state.props['name'])
        self.assertEqual(volume.id, state.extra[specs.KEY_VOLUME_ID])
        self.assertEqual('Volumes', self.entity_name(state.props['parent']))
        # Retried: no-op.
        self.driver.manage_existing(volume, existing)

    def test_loose_vmdk_is_wrapped_and_grown(self):
        ref, _uuid, _name = self.foreign_vm(disks_kb=(GIB_KB + 1024,))
        [loose] = self.detach_all(ref)
        self.assertTrue(self.file_exists(loose))
        volume = lb.make_volume(2)
        existing = {'source-name': loose}
        self.assertEqual(2, self.driver.manage_existing_get_size(volume,
                                                                 existing))
        self.driver.manage_existing(volume, existing)
        self.adopted(volume)
        state = self.state(volume.id)
        self.assertEqual([loose], self.files(state.ref))
        self.assertEqual(2 * GIB_KB, state.disk.capacityInKB)
        self.assertEqual('true', state.extra[specs.KEY_MANAGED])

    def test_loose_vmdk_is_listed(self):
        ref, _uuid, _name = self.foreign_vm(disks_kb=(GIB_KB, 3 * GIB_KB))
        kept, loose = self.files(ref)
        self.session.invoke_task(
            'ReconfigVM_Task', ref, spec=specs.remove_disk_spec(
                self.session.factory, self.state(ref).disks[1]))
        entries = self.driver.get_manageable_volumes(
            [], None, 100000, 0, ['reference'], ['asc'])
        by_ref = {tuple(e['reference'].items())[0]: e for e in entries}
        item = by_ref[('source-name', loose)]
        self.assertEqual(3, item['size'])
        self.assertTrue(item['safe_to_manage'], item)
        # The stable pool name of the file's datastore.
        [pool] = [p.name for p in self.driver.placement.usable_pools()
                  if p.datastore_name == 'LocalDS_0']
        self.assertEqual(pool, item['extra_info']['pool'])
        # A file some VM has attached is only listed with its VM.
        self.assertNotIn(('source-name', kept), by_ref)
        self.assertIn(('source-name', '%s@DC0/vm/%s' % (kept, _name)),
                      by_ref)

    def test_loose_vmdk_of_a_vm_refused(self):
        ref, _uuid, name = self.foreign_vm()
        [file_name] = self.files(ref)
        err = self.assertRaises(exceptions.InvalidReference,
                                self.driver.manage_existing,
                                lb.make_volume(1),
                                {'source-name': file_name})
        self.assertIn('attached to VM(s) %s' % name, str(err))

    def test_failed_create_reattaches_disk(self):
        for outcome in ('error-before', 'error-after'):
            ref, _uuid, name = self.foreign_vm(disks_kb=(GIB_KB, GIB_KB))
            files = self.files(ref)
            self.fail_task('CreateVM_Task', outcome)
            volume = lb.make_volume(1)
            self.assertRaises(
                exceptions.VMwareBackendException,
                self.driver.manage_existing, volume,
                {'source-name': '%s@DC0/vm/%s' % (files[1], name)})
            self.assertGone(volume.id)
            self.assertEqual(sorted(files), sorted(self.files(ref)), outcome)
            self.assertTrue(self.file_exists(files[1]), outcome)

    def test_failed_growth_keeps_the_loose_file(self):
        ref, _uuid, _name = self.foreign_vm(disks_kb=(GIB_KB + 1024,))
        [loose] = self.detach_all(ref)
        self.fail_task('ReconfigVM_Task')
        volume = lb.make_volume(2)
        self.assertRaises(exceptions.VMwareBackendException,
                          self.driver.manage_existing, volume,
                          {'source-name': loose})
        self.assertGone(volume.id)
        self.assertTrue(self.file_exists(loose))
