"""Multi-attach volumes on vcsim: disk format and sharing read back.

A volume type with Cinder's ``multiattach='<is> True'`` gives the backing's
disk vSphere's multi-writer flag and an eagerly zeroed thick format; each
instance attaching it opens the same file multi-writer too.
"""

from tests.functional import lifecycle_base as lb
from vmware_backend import exceptions
from vmware_backend.vsphere import ops as vsphere_ops
from vmware_backend.vsphere import specs

MULTI = {'multiattach': '<is> True'}


class MultiattachTest(lb.LifecycleTestCase):

    def disk_of(self, volume_or_ref):
        key = getattr(volume_or_ref, 'id', volume_or_ref)
        return self.state(key).disk.backing

    def attached(self, instance, volume):
        file_name = self.disk_of(volume).fileName
        state = self.state(instance)
        return [d.backing for d in state.disks
                if d.backing.fileName == file_name], state.extra

    def test_create_gives_eager_zeroed_multi_writer_disk(self):
        volume = self.create(size=1, specs=MULTI)
        backing = self.disk_of(volume)
        self.assertEqual('sharingMultiWriter', backing.sharing)
        self.assertIs(True, backing.eagerlyScrub)
        self.assertIs(False, backing.thinProvisioned)
        plain = self.create(size=1)
        self.assertIn(getattr(self.disk_of(plain), 'sharing', None),
                      (None, 'sharingNone'))
        self.assertIs(True, self.disk_of(plain).thinProvisioned)
        stats = self.driver.get_volume_stats(refresh=True)
        self.assertIs(True, stats['multiattach'])
        self.assertEqual({True}, {p['multiattach'] for p in stats['pools']})

    def test_conflicting_types_refused_before_anything_is_made(self):
        for extra, spec in (({'vmware:vmdk_type': 'thin'},
                             'vmware:vmdk_type'),
                            ({'vmware:clone_type': 'linked'},
                             'vmware:clone_type')):
            volume = lb.make_volume(1, dict(MULTI, **extra))
            err = self.assertRaises(exceptions.InvalidExtraSpec,
                                    self.driver.create_volume, volume)
            self.assertIn(spec, str(err))
            self.assertGone(volume.id)

    def test_two_instances_share_one_disk_detach_keeps_other(self):
        volume = self.create(size=1, specs=MULTI)
        file_name = self.disk_of(volume).fileName
        first = self.make_instance()
        second = self.make_instance()
        for instance in (first, second):
            info = self.driver.initialize_connection(
                volume, {'instance': vsphere_ops.moref_value(instance)})
            self.assertEqual(vsphere_ops.moref_value(self.find(volume.id)),
                             info['data']['volume'])
            self.driver.attach_volume(instance, volume)
        for instance in (first, second):
            disks, extra = self.attached(instance, volume)
            self.assertEqual(1, len(disks), instance)
            self.assertEqual('sharingMultiWriter', disks[0].sharing)
            self.assertEqual(file_name, disks[0].fileName)
            self.assertEqual(disks[0].uuid, extra['volume-%s' % volume.id])
        # Both attachments are seen on vCenter (what delete/snapshot read).
        marks = self.driver.ops.attachment_marks(
            vsphere_ops.ref_list(self.state(volume.id).props['datastore']),
            volume.id)
        self.assertEqual(sorted([vsphere_ops.moref_value(first),
                                 vsphere_ops.moref_value(second)]),
                         sorted(marks))
        # Cinder calls terminate_connection per attachment: nothing moves.
        self.assertIsNone(self.driver.terminate_connection(
            volume, {'instance': vsphere_ops.moref_value(first)}))
        self.driver.detach_volume(first, volume)
        self.assertEqual([], self.attached(first, volume)[0])
        disks, extra = self.attached(second, volume)
        self.assertEqual(1, len(disks))
        self.assertEqual('sharingMultiWriter', disks[0].sharing)
        self.assertTrue(extra['volume-%s' % volume.id])
        # Still attached to the second: deleting it is refused.
        self.assertRaises(exceptions.VolumeIsBusy, self.driver.delete_volume,
                          volume)
        self.driver.detach_volume(second, volume)
        self.assertEqual([], self.attached(second, volume)[0])
        self.assertEqual('sharingMultiWriter',
                         self.disk_of(volume).sharing)

    def test_second_attach_of_single_writer_volume_refused(self):
        volume = self.create(size=1)
        first = self.make_instance()
        second = self.make_instance()
        self.driver.attach_volume(first, volume)
        self.addCleanup(self.driver.detach_volume, first, volume)
        before = len(self.state(second).disks)
        err = self.assertRaises(exceptions.VolumeAttachmentError,
                                self.driver.attach_volume, second, volume)
        self.assertIn('not a multi-attach volume', str(err))
        self.assertIn(vsphere_ops.moref_value(first), str(err))
        self.assertEqual(before, len(self.state(second).disks))
        self.assertFalse(self.state(second).extra.get(
            'volume-%s' % volume.id))

    def test_retype_in_and_out(self):
        volume = self.create(size=1, specs={'vmware:vmdk_type': 'thin'},
                             host='node1@vmware-1#LocalDS_0')
        self.assertIs(True, self.disk_of(volume).thinProvisioned)
        self.assertTrue(self.driver.retype(
            None, volume, {'extra_specs': dict(MULTI)}, {}, None))
        backing = self.disk_of(volume)
        self.assertEqual('sharingMultiWriter', backing.sharing)
        self.assertIs(True, backing.eagerlyScrub)
        self.assertIs(False, backing.thinProvisioned)
        volume.volume_type.extra_specs = dict(MULTI)
        volume.multiattach = True
        # Back to a plain thin type: single writer, thin again.
        self.assertTrue(self.driver.retype(
            None, volume, {'extra_specs': {'vmware:vmdk_type': 'thin'}}, {},
            None))
        backing = self.disk_of(volume)
        self.assertEqual('sharingNone', backing.sharing)
        self.assertIs(True, backing.thinProvisioned)

    def test_retype_refusals_change_nothing(self):
        # Snapshots: vSphere shares no disk with snapshots.
        volume = self.create(size=1, specs={
            'vmware:vmdk_type': 'eagerZeroedThick'})
        snapshot = lb.make_snapshot(volume)
        self.driver.create_snapshot(snapshot)
        self.addCleanup(self.driver.delete_snapshot, snapshot)
        err = self.assertRaises(
            exceptions.InvalidVolume, self.driver.retype, None, volume,
            {'extra_specs': dict(MULTI)}, {}, None)
        self.assertIn('snapshots', str(err))
        self.assertIn(getattr(self.disk_of(volume), 'sharing', None),
                      (None, 'sharingNone'))
        # Attached: refused (Cinder's API refuses it too).
        volume.status = 'in-use'
        self.assertRaises(exceptions.VolumeIsBusy, self.driver.retype, None,
                          volume, {'extra_specs': dict(MULTI)}, {}, None)
        # A linked clone: its disk reads from the source's snapshot.
        clone = lb.make_volume(1, {'vmware:clone_type': 'linked'})
        self.driver.create_volume_from_snapshot(clone, snapshot)
        self.track(clone)
        err = self.assertRaises(
            exceptions.InvalidVolume, self.driver.retype, None, clone,
            {'extra_specs': dict(MULTI)}, {}, None)
        self.assertIn('linked clone', str(err))
        self.assertIn(getattr(self.disk_of(clone), 'sharing', None),
                      (None, 'sharingNone'))

    def test_snapshot_clone_move_refused(self):
        # vSphere (KB 1034165): no snapshot, clone or Storage vMotion of a
        # VM with a multi-writer disk.
        volume = self.create(size=1, specs=MULTI,
                             host='node1@vmware-1#LocalDS_0')
        volume.multiattach = True
        before = self.state(volume.id)
        snapshot = lb.make_snapshot(volume)
        err = self.assertRaises(exceptions.SnapshotIsBusy,
                                self.driver.create_snapshot, snapshot)
        self.assertIn('multi-writer', str(err))
        self.assertIn("without multiattach='<is> True'", str(err))
        for extra in ({}, {'vmware:clone_type': 'linked'}):
            clone = lb.make_volume(1, extra)
            err = self.assertRaises(exceptions.InvalidVolume,
                                    self.driver.create_cloned_volume, clone,
                                    volume)
            self.assertIn('does not clone', str(err))
            self.assertGone(clone.id)
        stats = self.driver.get_volume_stats(refresh=True)
        [pool] = [p for p in stats['pools']
                  if p['datastore_name'] == 'LocalDS_1']
        host = {'host': 'node1@vmware-1#%s' % pool['pool_name'],
                'capabilities': dict(pool, volume_backend_name=stats[
                    'volume_backend_name'])}
        err = self.assertRaises(exceptions.InvalidVolume,
                                self.driver.migrate_volume, None, volume,
                                host)
        self.assertIn('Storage vMotion', str(err))
        after = self.state(volume.id)
        self.assertEqual([], after.snapshot_names)
        self.assertEqual(before.datastore_values, after.datastore_values)
        self.assertEqual('sharingMultiWriter', after.disk.backing.sharing)

    def test_full_clone_of_plain_volume_into_multiattach_type(self):
        source = self.create(size=1, specs={'vmware:vmdk_type': 'thin'})
        clone = lb.make_volume(2, MULTI)
        self.driver.create_cloned_volume(clone, source)
        self.track(clone)
        backing = self.disk_of(clone)
        self.assertEqual('sharingMultiWriter', backing.sharing)
        self.assertIs(True, backing.eagerlyScrub)
        self.assertIs(False, backing.thinProvisioned)
        self.assertIsNone(lb.vsphere_ops.extra_config_dict(
            self.state(clone.id).props).get(specs.KEY_PARENT))
        self.assertEqual(2 * 1024 * 1024,
                         self.state(clone.id).disk.capacityInKB)
        self.assertIn(getattr(self.disk_of(source), 'sharing', None),
                      (None, 'sharingNone'))

    def test_from_snapshot_of_plain_volume(self):
        source = self.create(size=1, specs={'vmware:clone_type': 'linked'})
        snapshot = lb.make_snapshot(source)
        self.driver.create_snapshot(snapshot)
        self.addCleanup(self.driver.delete_snapshot, snapshot)
        volume = lb.make_volume(1, MULTI)
        self.driver.create_volume_from_snapshot(volume, snapshot)
        self.track(volume)
        backing = self.disk_of(volume)
        self.assertEqual('sharingMultiWriter', backing.sharing)
        self.assertIs(True, backing.eagerlyScrub)
        self.assertIs(False, backing.thinProvisioned)
        # Full: no parent record, the source's snapshot is free again.
        self.assertIsNone(lb.vsphere_ops.extra_config_dict(
            self.state(volume.id).props).get(specs.KEY_PARENT))
        self.assertIn(getattr(self.disk_of(source), 'sharing', None),
                      (None, 'sharingNone'))


class MultiattachPlacementTest(lb.LifecycleTestCase):
    """An attached multi-attach volume is never moved for another host."""

    # LocalDS_1 only on the standalone host; the cluster uses LocalDS_0.
    VCSIM_FLAGS = {'ds-unmounted': 'LocalDS_1'}

    def test_no_move_while_attached_elsewhere(self):
        volume = self.create(size=1, specs=MULTI)
        ds1 = self.move_to_standalone(volume, 'LocalDS_1')
        near = self.make_instance(near='DC0_H0_VM0')
        self.driver.initialize_connection(
            volume, {'instance': vsphere_ops.moref_value(near)})
        self.driver.attach_volume(near, volume)
        self.addCleanup(self.driver.detach_volume, near, volume)
        far = self.make_instance(near='DC0_C0_RP0_VM0')
        calls = self.session.counts_snapshot()
        err = self.assertRaises(
            exceptions.VolumeAttachmentError,
            self.driver.initialize_connection, volume,
            {'instance': vsphere_ops.moref_value(far)})
        self.assertIn(vsphere_ops.moref_value(near), str(err))
        self.assertIn('cannot move', str(err))
        self.assertEqual([ds1.value], self.state(volume.id).datastore_values)
        self.assertEqual(0, (self.session.counts_snapshot() -
                             calls)['RelocateVM_Task'])
        # Detached everywhere: still not moved (multi-writer disk).
        self.driver.detach_volume(near, volume)
        err = self.assertRaises(
            exceptions.VolumeAttachmentError,
            self.driver.initialize_connection, volume,
            {'instance': vsphere_ops.moref_value(far)})
        self.assertIn('Storage vMotion', str(err))
        self.assertEqual([ds1.value], self.state(volume.id).datastore_values)
        self.assertEqual(0, (self.session.counts_snapshot() -
                             calls)['RelocateVM_Task'])
