"""Storage policies of clones, volumes from snapshots and imported volumes.

On vcsim with the test bed's PBM endpoint: the clone's datastore, whether
it is linked (its disk has a parent), and the policy of the backing and of
its disk read back with PbmQueryAssociatedProfile (patch 0046 records the
policies of a CloneVM_Task's spec.location, patch 0043 those of a create or
reconfigure); the refusals leave nothing behind.
"""

from tests.functional import lifecycle_base as lb
from tests.functional import test_manage
from tests.functional import test_storage_policy as tsp
from vmware_backend import exceptions
from vmware_backend.vsphere import specs

GOLD = {'vmware:storage_profile': 'Gold'}
ON_DS0 = 'node1@vmware-1#LocalDS_0'
ON_DS1 = 'node1@vmware-1#LocalDS_1'


class PolicyCopiesBase(test_manage.ManageTestBase):

    # Gold: only LocalDS_1 complies; Silver: both.
    VCSIM_FLAGS = tsp.StoragePolicyTest.VCSIM_FLAGS
    policy_ids = tsp.StoragePolicyTest.policy_ids
    applied = tsp.StoragePolicyTest.applied
    datastores = tsp.StoragePolicyTest.datastores

    def source_with_snapshot(self, host):
        source = self.create(size=1, specs={'vmware:storage_profile':
                                            'Silver'}, host=host)
        snap = lb.make_snapshot(source)
        self.driver.create_snapshot(snap)
        self.addCleanup(self.driver.delete_snapshot, snap)
        return source, snap

    def clone(self, how, source, specs_):
        volume = lb.make_volume(1, specs_)
        if how == 'volume':
            self.driver.create_cloned_volume(volume, source[0])
        else:
            self.driver.create_volume_from_snapshot(volume, source[1])
        return self.track(volume)

    def linked(self, volume):
        """Whether the volume's disk reads from a parent disk."""
        return getattr(self.state(volume.id).disk.backing, 'parent',
                       None) is not None

    def source_untouched(self, source, snap):
        """The source keeps only its own snapshot, and no clone marker."""
        state = self.state(source.id)
        self.assertEqual([snap.name], state.snapshot_names)
        self.assertEqual([], sorted(
            k for k, v in state.extra.items() if v and k.startswith(
                (specs.KEY_CLONE_PREFIX, specs.KEY_CLONE_SINCE_PREFIX))))


class ClonePolicyTest(PolicyCopiesBase):

    def test_full_clones_go_to_compliant_datastore_with_policy(self):
        ids = self.policy_ids()
        source = self.source_with_snapshot(ON_DS0)
        self.assertEqual(['LocalDS_0'], self.datastores(source[0]))
        for how in ('volume', 'snapshot'):
            clone = self.clone(how, source, GOLD)
            self.assertEqual(['LocalDS_1'], self.datastores(clone), how)
            self.assertFalse(self.linked(clone), how)
            self.assertEqual((ids['Gold'], ids['Gold']),
                             self.applied(clone), how)
        # The source keeps its own policy.
        self.assertEqual((ids['Silver'], ids['Silver']),
                         self.applied(source[0]))

    def test_linked_clones_on_compliant_source_get_policy(self):
        ids = self.policy_ids()
        source = self.source_with_snapshot(ON_DS1)
        for how in ('volume', 'snapshot'):
            clone = self.clone(how, source, dict(
                GOLD, **{'vmware:clone_type': 'linked'}))
            self.assertEqual(['LocalDS_1'], self.datastores(clone), how)
            self.assertTrue(self.linked(clone), how)
            self.assertEqual((ids['Gold'], ids['Gold']),
                             self.applied(clone), how)

    def test_linked_clone_on_non_compliant_source_is_full(self):
        # The documented rule: the source's datastore does not comply, so
        # the clone is a full one on a compliant datastore, with no
        # dependency on the source.
        ids = self.policy_ids()
        source, snap = self.source_with_snapshot(ON_DS0)
        for how in ('volume', 'snapshot'):
            clone = self.clone(how, (source, snap), dict(
                GOLD, **{'vmware:clone_type': 'linked'}))
            self.assertEqual(['LocalDS_1'], self.datastores(clone), how)
            self.assertFalse(self.linked(clone), how)
            self.assertNotIn(specs.KEY_PARENT, self.state(clone.id).extra)
            self.assertEqual((ids['Gold'], ids['Gold']),
                             self.applied(clone), how)
            self.source_untouched(source, snap)

    def test_refusals_make_nothing(self):
        source, snap = self.source_with_snapshot(ON_DS0)
        for clone_type in ('full', 'linked'):
            for how in ('volume', 'snapshot'):
                what = '%s clone of a %s' % (clone_type, how)
                volume = lb.make_volume(1, {
                    'vmware:storage_profile': 'Platinum',
                    'vmware:clone_type': clone_type})
                err = self.assertRaises(
                    exceptions.InvalidExtraSpec, self.clone, how,
                    (source, snap), volume.volume_type.extra_specs)
                self.assertIn("vmware:storage_profile='Platinum'",
                              str(err), what)
                self.assertIn('Gold', str(err), what)
                # No datastore complies with the built-in vSAN policy.
                volume = lb.make_volume(1, {
                    'vmware:storage_profile': 'vSAN Default Storage Policy',
                    'vmware:clone_type': clone_type})
                call = (self.driver.create_cloned_volume, source) \
                    if how == 'volume' else \
                    (self.driver.create_volume_from_snapshot, snap)
                err = self.assertRaises(exceptions.NoValidDatastore,
                                        call[0], volume, call[1])
                self.assertIn('not compliant with storage policy vSAN '
                              'Default', str(err), what)
                self.assertIsNone(self.find(volume.id), what)
                self.source_untouched(source, snap)


class ImportPolicyTest(PolicyCopiesBase):

    SILVER = {'vmware:storage_profile': 'Silver'}

    def test_adopted_vm_gets_policy(self):
        ids = self.policy_ids()
        _ref, uuid, _name = self.foreign_vm()
        volume = lb.make_volume(1, self.SILVER)
        self.driver.manage_existing(volume, {'source-id': uuid})
        self.adopted(volume)
        self.assertEqual((ids['Silver'], ids['Silver']),
                         self.applied(volume))

    def test_vm_disk_and_loose_file_wrapped_with_policy(self):
        ids = self.policy_ids()
        ref, _uuid, name = self.foreign_vm(disks_kb=(test_manage.GIB_KB,
                                                     test_manage.GIB_KB))
        first, second = self.files(ref)
        volume = lb.make_volume(1, self.SILVER)
        self.driver.manage_existing(volume, {
            'source-name': '%s@DC0/vm/%s' % (second, name)})
        self.adopted(volume)
        self.assertEqual([second], self.files(self.state(volume.id).ref))
        self.assertEqual((ids['Silver'], ids['Silver']),
                         self.applied(volume))
        [loose] = self.detach_all(ref)
        self.assertEqual(first, loose)
        volume = lb.make_volume(1, self.SILVER)
        self.driver.manage_existing(volume, {'source-name': loose})
        self.adopted(volume)
        self.assertEqual([loose], self.files(self.state(volume.id).ref))
        self.assertEqual((ids['Silver'], ids['Silver']),
                         self.applied(volume))

    def test_disk_on_non_compliant_datastore_refused(self):
        ref, uuid, name = self.foreign_vm(disks_kb=(test_manage.GIB_KB,))
        [file_name] = self.files(ref)
        for existing in ({'source-id': uuid},
                         {'source-name': '%s@DC0/vm/%s' % (file_name, name)}):
            volume = lb.make_volume(1, GOLD)
            for call in (self.driver.manage_existing_get_size,
                         self.driver.manage_existing):
                err = self.assertRaises(exceptions.InvalidReference, call,
                                        volume, existing)
                self.assertIn('datastore LocalDS_0, which does not comply '
                              'with storage policy Gold', str(err))
            self.assertIsNone(self.find(volume.id))
        # The VM is as it was: its disk, its name, no marks.
        state = self.state(ref)
        self.assertEqual([file_name], self.files(ref))
        self.assertEqual(name, state.props['name'])
        self.assertNotIn(specs.KEY_VOLUME_ID, state.extra)
        # Unknown policy: refused before anything.
        err = self.assertRaises(
            exceptions.InvalidExtraSpec, self.driver.manage_existing,
            lb.make_volume(1, {'vmware:storage_profile': 'Platinum'}),
            {'source-id': uuid})
        self.assertIn("'Platinum'", str(err))
        self.assertEqual([file_name], self.files(ref))
