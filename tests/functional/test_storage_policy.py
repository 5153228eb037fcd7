"""Storage policies (vmware:storage_profile) on vcsim with the test bed's
PBM endpoint: placement on compliant datastores only, the policy applied to
the backing and its disk (read back with PbmQueryAssociatedProfile),
re-applied on retype, refusals, and a failed retype leaving the policy."""

from tests.functional import lifecycle_base as lb
from tests.functional import test_manage
from vmware_backend import exceptions
from vmware_backend.vsphere import storage_policies


class StoragePolicyTest(test_manage.ManageTestBase):

    # Gold: only LocalDS_1 complies; Silver: both.
    VCSIM_FLAGS = ['-storage-policy', 'Gold=LocalDS_1',
                   '-storage-policy', 'Silver=LocalDS_0+LocalDS_1']

    def policy_ids(self):
        return storage_policies.policies(self.session)

    def applied(self, volume):
        """(policy id of the backing, policy id of its disk)."""
        state = self.state(volume.id)
        return (storage_policies.associated_policy(self.session, state.ref),
                storage_policies.associated_policy(self.session, state.ref,
                                                   state.disk.key))

    def datastores(self, volume):
        return [self.entity_name(ref) for ref in lb.vsphere_ops.ref_list(
            self.state(volume.id).props['datastore'])]

    def test_policies_listed_by_the_test_bed(self):
        ids = self.policy_ids()
        self.assertIn('Gold', ids)
        self.assertIn('Silver', ids)
        # The PBM simulator's own built-in policies are there too.
        self.assertIn('vSAN Default Storage Policy', ids)
        ds = {name: self.driver.placement.find_datastore(name)
              for name in ('LocalDS_0', 'LocalDS_1')}
        self.assertEqual({ds['LocalDS_1']}, storage_policies.
                         matching_datastores(self.session, ids['Gold'],
                                             ds.values()))
        self.assertEqual(set(ds.values()), storage_policies.
                         matching_datastores(self.session, ids['Silver'],
                                             ds.values()))
        self.assertEqual(set(), storage_policies.matching_datastores(
            self.session, ids['vSAN Default Storage Policy'], ds.values()))

    def test_create_places_on_compliant_datastore_and_applies(self):
        ids = self.policy_ids()
        for _ in range(3):
            volume = self.create(size=1, specs={
                'vmware:storage_profile': 'Gold'})
            self.assertEqual(['LocalDS_1'], self.datastores(volume))
            self.assertEqual((ids['Gold'], ids['Gold']),
                             self.applied(volume))
        plain = self.create(size=1)
        self.assertEqual((None, None), self.applied(plain))

    def test_refusals_make_nothing(self):
        volume = lb.make_volume(1, {'vmware:storage_profile': 'Platinum'})
        err = self.assertRaises(exceptions.InvalidExtraSpec,
                                self.driver.create_volume, volume)
        self.assertIn("vmware:storage_profile='Platinum'", str(err))
        self.assertIn('Gold', str(err))
        self.assertIsNone(self.find(volume.id))
        # The scheduler's pool does not comply: refused, naming both.
        volume = lb.make_volume(1, {'vmware:storage_profile': 'Gold'},
                                host='node1@vmware-1#LocalDS_0')
        err = self.assertRaises(exceptions.NoValidDatastore,
                                self.driver.create_volume, volume)
        self.assertIn('not compliant with storage policy Gold', str(err))
        self.assertIsNone(self.find(volume.id))
        # A policy no datastore complies with.
        volume = lb.make_volume(1, {
            'vmware:storage_profile': 'vSAN Default Storage Policy'})
        err = self.assertRaises(exceptions.NoValidDatastore,
                                self.driver.create_volume, volume)
        self.assertIn('not compliant with storage policy vSAN Default',
                      str(err))
        self.assertIsNone(self.find(volume.id))
        # Blank value.
        err = self.assertRaises(
            exceptions.InvalidExtraSpec, self.driver.create_volume,
            lb.make_volume(1, {'vmware:storage_profile': ' '}))
        self.assertIn('vmware:storage_profile', str(err))

    def test_retype_reapplies_and_moves_to_compliance(self):
        ids = self.policy_ids()
        volume = self.create(size=1, specs={'vmware:storage_profile':
                                            'Silver'},
                             host='node1@vmware-1#LocalDS_0')
        self.assertEqual(['LocalDS_0'], self.datastores(volume))
        self.assertEqual((ids['Silver'], ids['Silver']),
                         self.applied(volume))
        gold = {'extra_specs': {'vmware:storage_profile': 'Gold'}}
        # Gold on LocalDS_0 (the scheduler kept the pool): refused, nothing
        # changes.
        err = self.assertRaises(
            exceptions.InvalidVolume, self.driver.retype, None, volume,
            gold, {}, self.pool_host('LocalDS_0'))
        self.assertIn('does not comply with its storage policy Gold',
                      str(err))
        self.assertEqual((ids['Silver'], ids['Silver']),
                         self.applied(volume))
        self.assertEqual(['LocalDS_0'], self.datastores(volume))
        # To LocalDS_1: moved and Gold applied to backing and disk.
        self.assertTrue(self.driver.retype(None, volume, gold, {},
                                           self.pool_host('LocalDS_1')))
        self.assertEqual(['LocalDS_1'], self.datastores(volume))
        self.assertEqual((ids['Gold'], ids['Gold']), self.applied(volume))
        volume.volume_type = gold
        # migrate_volume keeps to compliant pools.
        err = self.assertRaises(
            exceptions.InvalidVolume, self.driver.migrate_volume, None,
            volume, self.pool_host('LocalDS_0'))
        self.assertIn('storage policy Gold', str(err))
        self.assertEqual(['LocalDS_1'], self.datastores(volume))
        # No policy in the new type: removed from both.
        self.assertTrue(self.driver.retype(
            None, volume, {'extra_specs': {}}, {},
            self.pool_host('LocalDS_1')))
        self.assertEqual((None, None), self.applied(volume))
        # Unknown policy: refused before anything happens.
        err = self.assertRaises(
            exceptions.InvalidExtraSpec, self.driver.retype, None, volume,
            {'extra_specs': {'vmware:storage_profile': 'Nope'}}, {},
            self.pool_host('LocalDS_1'))
        self.assertIn("'Nope'", str(err))

    def test_failed_relocate_puts_the_policy_back(self):
        ids = self.policy_ids()
        volume = self.create(size=1, specs={'vmware:storage_profile':
                                            'Silver'},
                             host='node1@vmware-1#LocalDS_0')
        self.fail_task('RelocateVM_Task')
        self.assertRaises(
            exceptions.VCenterFault, self.driver.retype, None, volume,
            {'extra_specs': {'vmware:storage_profile': 'Gold'}}, {},
            self.pool_host('LocalDS_1'))
        self.assertEqual(['LocalDS_0'], self.datastores(volume))
        self.assertEqual((ids['Silver'], ids['Silver']),
                         self.applied(volume))
