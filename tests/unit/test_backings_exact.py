"""Finding backings: look-ups, duplicates and the errors, written out.

Written for the mutants ``tox -e mutation`` left alive in
vmware_backend/volume/backings.py; every expected value is written out.
"""

from unittest import mock

from tests.unit import test_driver
from vmware_backend import conf
from vmware_backend import exceptions
from vmware_backend.volume import backings
from vmware_backend.volume import placement as placement_mod
from vmware_backend.volume import plain_objects
from vmware_backend.vsphere import ops as vsphere_ops
from vmware_backend.vsphere import session as vc_session

CREATED = 'vmware_backend.created'


class LazyPartsTest(test_driver.DriverTestBase):
    """The session, ops and placement are made on first use."""

    def access(self, **kw):
        return backings.BackingAccess(
            conf.option_defaults(**test_driver.OPTIONS), **kw)

    def test_ops_on_the_given_session(self):
        access = self.access(session=self.session)
        ops = access.ops
        self.assertIsInstance(ops, vsphere_ops.VolumeOps)
        self.assertIs(self.session, ops._session)
        self.assertIs(ops, access.ops)

    def test_session_made_from_the_options(self):
        access = self.access()
        session = access.session
        self.assertIsInstance(session, vc_session.VCenterSession)
        self.assertEqual('vc.example.org',
                         session._options['vcenter_host'])
        self.assertIs(session, access.session)
        self.assertIs(session, access.ops._session)

    def test_placement_on_the_session(self):
        access = self.access(session=self.session)
        place = access.placement
        self.assertIsInstance(place, placement_mod.PlacementService)
        self.assertIs(self.session, place._session)
        self.assertIs(place, access.placement)


class LookupExactTest(test_driver.DriverTestBase):

    def setUp(self):
        super().setUp()
        self.vol = plain_objects.volume(size=1)

    def test_one_backing_found_is_remembered(self):
        ref = self.add_backing(self.vol)
        self.assertIs(ref, self.driver._backing(self.vol.id, ('name',))[0])
        self.assertIs(ref, self.driver._hints[self.vol.id])

    def test_remembered_backing_is_read_with_one_call(self):
        ref = self.add_backing(self.vol)
        self.driver._hints[self.vol.id] = ref
        found_ref, props = self.driver._backing(self.vol.id, ('name',))
        self.assertIs(ref, found_ref)
        self.assertEqual('volume-%s' % self.vol.id, props['name'])
        self.ops.properties.assert_called_once_with(
            ref, ('name', 'config.instanceUuid', 'config.extraConfig'))
        self.ops.find_all_by_instance_uuid.assert_not_called()

    def test_vm_gone_between_search_and_read_is_skipped(self):
        gone = vsphere_ops.moref('VirtualMachine', 'vm-gone')
        ref = self.add_backing(self.vol)
        self.ops.find_all_by_instance_uuid.side_effect = None
        self.ops.find_all_by_instance_uuid.return_value = [gone, ref]
        self.assertIs(ref, self.driver._backing(self.vol.id)[0])

    def test_other_fault_while_reading_is_raised(self):
        self.add_backing(self.vol)
        self.ops.properties.side_effect = exceptions.VCenterFault(
            fault='NoPermission', action='RetrievePropertiesEx',
            target='x', detail='denied')
        err = self.assertRaises(exceptions.VCenterFault,
                                self.driver._backing, self.vol.id)
        self.assertEqual('NoPermission', err.fault)

    def test_two_vms_not_ours_the_first_is_used_and_kept(self):
        first = self.add_backing(self.vol, managed=False)
        self.add_backing(self.vol, managed=False)
        self.assertIs(first, self.driver._backing(self.vol.id)[0])
        self.ops.destroy.assert_not_called()

    def test_two_backings_the_older_is_kept_the_newer_destroyed(self):
        newer = self.add_backing(self.vol, extra={CREATED: '1700000002'})
        older = self.add_backing(self.vol, extra={CREATED: '1700000001'})
        self.assertIs(older, self.driver._backing(self.vol.id)[0])
        self.ops.destroy.assert_called_once_with(
            newer, 'duplicate backing of volume %s' % self.vol.id)
        self.assertIs(older, self.driver._hints[self.vol.id])

    def test_backing_without_creation_time_counts_as_newest(self):
        unknown = self.add_backing(self.vol, extra={CREATED: ''})
        dated = self.add_backing(self.vol, extra={CREATED: '1700000009'})
        self.assertIs(dated, self.driver._backing(self.vol.id)[0])
        self.ops.destroy.assert_called_once_with(unknown, mock.ANY)

    def test_a_duplicate_in_use_is_left_the_next_one_destroyed(self):
        keeper = self.add_backing(self.vol, extra={CREATED: '1700000001'})
        self.add_backing(self.vol, extra={CREATED: '1700000002'},
                         snapshots=['snapshot-1'])
        plain = self.add_backing(self.vol, extra={CREATED: '1700000003'})
        self.assertIs(keeper, self.driver._backing(self.vol.id)[0])
        self.ops.destroy.assert_called_once_with(
            plain, 'duplicate backing of volume %s' % self.vol.id)


class ExistingBackingTest(test_driver.DriverTestBase):

    def test_backing_with_two_disks(self):
        vol = plain_objects.volume(size=1)
        props = {'config.hardware.device': self.devices([
            self.controller(), self.disk(key=2000, unit=0),
            self.disk(key=2001, unit=1)])}
        err = self.assertRaises(exceptions.InvalidVolume,
                                self.driver._disk, props, vol.id)
        self.assertEqual('Invalid volume %s: backing has 2 disks, expected 1'
                         % vol.id, str(err))

    def test_vm_of_another_owner_with_the_id(self):
        vol = plain_objects.volume(size=1)
        self.add_backing(vol, managed=False)
        err = self.assertRaises(exceptions.InvalidVolume,
                                self.driver.create_volume, vol)
        self.assertEqual(
            'Invalid volume %s: VM volume-%s already uses this id as '
            'instanceUuid and is not a backing of this backend'
            % (vol.id, vol.id), str(err))
        self.assertNoChange()

    def test_retried_create_finding_another_size(self):
        vol = plain_objects.volume(size=2)
        self.add_backing(vol, size_gb=1)
        err = self.assertRaises(exceptions.InvalidVolume,
                                self.driver.create_volume, vol)
        self.assertEqual('Invalid volume %s: a backing of 1048576 KiB '
                         'already exists' % vol.id, str(err))
        self.assertNoChange()


class AttachedMessageTest(test_driver.DriverTestBase):
    """The refusal names the VMs and the extraConfig key, sorted."""

    def setUp(self):
        super().setUp()
        self.vol = plain_objects.volume(size=1)
        self.add_backing(self.vol)
        self.ops.attachment_marks.return_value = {
            'vm-b': '6000C29f-2', 'vm-a': '6000C29f-1'}

    def test_volume(self):
        err = self.assertRaises(exceptions.VolumeIsBusy,
                                self.driver.delete_volume, self.vol)
        self.assertEqual(
            'Volume %s is busy: vCenter shows it attached to VM(s) vm-a, '
            'vm-b (extraConfig volume-%s); detach it first'
            % (self.vol.id, self.vol.id), str(err))

    def test_snapshot(self):
        snap = plain_objects.snapshot(self.vol)
        err = self.assertRaises(exceptions.SnapshotIsBusy,
                                self.driver.create_snapshot, snap)
        self.assertEqual(
            'Snapshot %s is busy: volume %s is attached: vCenter shows it '
            'attached to VM(s) vm-a, vm-b (extraConfig volume-%s); detach '
            'it first' % (snap.id, self.vol.id, self.vol.id), str(err))


class LeftoverTest(test_driver.DriverTestBase):
    """A failed create removes the backings it left, only ours."""

    def test_only_our_backing_is_destroyed(self):
        vol = plain_objects.volume(size=2)
        made = []

        def start(*args):
            made.append(self.add_backing(vol, managed=False))
            made.append(self.add_backing(vol, size_gb=1))
            raise test_driver.failure('CreateVM_Task')

        self.ops.create_backing.side_effect = start
        self.assertRaises(exceptions.VCenterFault,
                          self.driver.create_volume, vol)
        self.ops.destroy.assert_called_once_with(made[1],
                                                 'volume %s' % vol.id)
        for ref in made:
            self.ops.properties.assert_any_call(
                ref, ('config.extraConfig', 'config.instanceUuid'))


class LookupWithoutMarkersTest(test_driver.DriverTestBase):
    """Look-ups that leave ``config.extraConfig`` out (markers=False)."""

    def setUp(self):
        super().setUp()
        self.vol = plain_objects.volume(size=1)

    def test_remembered_backing_read_without_markers(self):
        ref = self.add_backing(self.vol)
        self.driver._hints[self.vol.id] = ref
        found_ref, props = self.driver._backing(
            self.vol.id, ('datastore',), markers=False)
        self.assertIs(ref, found_ref)
        self.assertNotIn('config.extraConfig', props)
        self.ops.properties.assert_called_once_with(
            ref, ('datastore', 'config.instanceUuid'))

    def test_duplicates_are_read_again_with_markers_and_resolved(self):
        newer = self.add_backing(self.vol, extra={CREATED: '1700000002'})
        older = self.add_backing(self.vol, extra={CREATED: '1700000001'})
        ref, props = self.driver._backing(self.vol.id, ('datastore',),
                                          markers=False)
        self.assertIs(older, ref)
        self.assertIn('config.extraConfig', props)
        self.ops.destroy.assert_called_once_with(
            newer, 'duplicate backing of volume %s' % self.vol.id)
        self.assertEqual(
            [('datastore', 'config.instanceUuid')] * 2 +
            [('datastore', 'config.instanceUuid', 'config.extraConfig')] * 2,
            [c[0][1] for c in self.ops.properties.call_args_list])

    def test_duplicate_gone_before_the_second_read_is_skipped(self):
        keeper = self.add_backing(self.vol, extra={CREATED: '1700000001'})
        other = self.add_backing(self.vol, extra={CREATED: '1700000002'})
        reads = []

        def properties(vm, paths, target=None):
            reads.append(paths)
            if len(reads) == 3:  # the first re-read with markers
                del self.vc.vms[vsphere_ops.moref_value(other)]
            return self.vc.properties(vm, paths, target)

        self.ops.properties.side_effect = properties
        ref, _props = self.driver._backing(self.vol.id, ('datastore',),
                                           markers=False)
        self.assertIs(keeper, ref)
        self.ops.destroy.assert_not_called()
