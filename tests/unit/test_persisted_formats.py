"""What the driver writes into vCenter and reads back later, pinned.

Backings outlive the driver: after an upgrade the new release must read what
the previous one wrote. Every key, value format and name is therefore
written out here as a literal string, never taken from the module under
test, so a format change fails these tests and needs a deliberate change
here, with a release note giving the migration.

:class:`PreviousReleaseTest` is the upgrade fixture: backings, markers and
instance marks exactly as release 1.0.0 (the first release with linked-clone
markers) wrote them, read by the current code.
"""

import types
from unittest import mock

from tests.unit import test_driver
from vmware_backend.admin import audit
from vmware_backend.admin import listing
from vmware_backend import exceptions
from vmware_backend.vsphere import inventory
from vmware_backend.vsphere import ops as vsphere_ops
from vmware_backend.vsphere import specs

NOW = test_driver.NOW  # 1800000000, what time.time() returns in the tests
SRC = '5e1f3a2c-0000-4000-8000-00000000000a'
CLONE = '5e1f3a2c-0000-4000-8000-00000000000b'
NEW = '5e1f3a2c-0000-4000-8000-00000000000c'
SNAP = '5e1f3a2c-0000-4000-8000-0000000000aa'
R = inventory.MoRef


def volume(volume_id, size=1, clone_type=None, status='available'):
    """A volume without ``name``: the driver derives the names itself."""
    extra = {'vmware:clone_type': clone_type} if clone_type else {}
    return types.SimpleNamespace(
        id=volume_id, size=size, status=status, host=None,
        volume_type=types.SimpleNamespace(extra_specs=extra))


def snapshot(snapshot_id, of_volume):
    return types.SimpleNamespace(id=snapshot_id, volume=of_volume,
                                 volume_id=of_volume.id,
                                 volume_size=of_volume.size)


class WrittenFormatTest(test_driver.DriverTestBase):
    """What the current code writes, as literal strings."""

    def test_backing_identity_names_and_extra_config(self):
        self.driver.create_volume(volume(NEW, size=2))
        spec = self.arg('create_backing', 'config_spec')
        self.assertEqual('volume-5e1f3a2c-0000-4000-8000-00000000000c',
                         spec.name)
        self.assertEqual('5e1f3a2c-0000-4000-8000-00000000000c',
                         spec.instanceUuid)
        self.assertEqual({
            'vmware_backend.managed': 'true',
            'vmware_backend.volume_id':
                '5e1f3a2c-0000-4000-8000-00000000000c',
            'vmware_backend.created': '1800000000',
            # <vcenter_backend_name>@<vcenter_volume_folder>, defaults here
            'vmware_backend.backend': 'vmware_backend@OpenStack/Volumes',
        }, self.entries(spec))
        self.assertEqual('OpenStack/Volumes',
                         self.ops.ensure_folder.call_args.args[1])

    def test_created_time_is_whole_seconds(self):
        self.assertEqual(
            {'vmware_backend.managed': 'true',
             'vmware_backend.volume_id': 'v-1',
             'vmware_backend.created': '1700000123'},
            specs.backing_extra_config('v-1', created=1700000123.9))

    def test_names_escape_what_vsphere_escapes(self):
        self.assertEqual('volume-a%2fb%25c%5cd',
                         specs.backing_name('volume-a/b%c\\d'))

    def test_snapshot_name(self):
        src = volume(SRC)
        self.add_backing(SRC)
        self.driver.create_snapshot(snapshot(SNAP, src))
        self.assertEqual('snapshot-5e1f3a2c-0000-4000-8000-0000000000aa',
                         self.arg('create_snapshot', 'name'))

    def test_linked_clone_of_a_volume(self):
        src_ref = self.add_backing(SRC, size_gb=1)
        self.ops.create_snapshot.return_value = vsphere_ops.moref(
            'VirtualMachineSnapshot', 'snapshot-9')
        self.ops.clone.side_effect = lambda vm, folder, name, spec, target: \
            self.add_backing(spec.config.instanceUuid)
        self.driver.create_cloned_volume(
            volume(CLONE, clone_type='linked'), volume(SRC))
        self.ops.set_extra_config.assert_called_once_with(
            src_ref,
            {'vmware_backend.clone.5e1f3a2c-0000-4000-8000-00000000000b':
                'clone-5e1f3a2c-0000-4000-8000-00000000000b',
             'vmware_backend.clone_since.'
             '5e1f3a2c-0000-4000-8000-00000000000b': '1800000000'},
            'volume 5e1f3a2c-0000-4000-8000-00000000000a')
        self.assertEqual('clone-5e1f3a2c-0000-4000-8000-00000000000b',
                         self.arg('create_snapshot', 'name'))
        entries = self.entries(self.arg('clone', 'spec').config)
        self.assertEqual(
            '5e1f3a2c-0000-4000-8000-00000000000a:'
            'clone-5e1f3a2c-0000-4000-8000-00000000000b',
            entries['vmware_backend.parent'])
        self.assertEqual('true', entries['vmware_backend.managed'])
        self.assertEqual('1800000000', entries['vmware_backend.created'])
        self.assertEqual('vmware_backend@OpenStack/Volumes',
                         entries['vmware_backend.backend'])

    def test_quarantine_time_is_cleared_in_a_clone(self):
        self.assertEqual(
            {'vmware_backend.parent': '',
             'vmware_backend.quarantined': '',
             'vmware_backend.clone.c-1': '',
             'vmware_backend.clone_since.c-1': ''},
            specs.inherited_markers(
                {'vmware_backend.quarantined': '1700000000',
                 'vmware_backend.clone.c-1': 'snapshot-s',
                 'vmware_backend.clone_since.c-1': '1700000000',
                 'vmware_backend.volume_id': 'v-1'}))

    def test_clearing_a_marker_blanks_both_entries(self):
        self.assertEqual({'vmware_backend.clone.c-1': '',
                          'vmware_backend.clone_since.c-1': ''},
                         specs.clear_marker_entries('c-1'))

    def test_attach_and_detach_mark_the_instance(self):
        attach = specs.attach_disk_spec(
            self.factory, '[ds1] volume-v/volume-v.vmdk', 1000, 1, 'v-1',
            disk_uuid='6000C29a-uuid')
        self.assertEqual({'volume-v-1': '6000C29a-uuid'},
                         self.entries(attach))
        without_uuid = specs.attach_disk_spec(
            self.factory, '[ds1] volume-v/volume-v.vmdk', 1000, 1, 'v-1')
        self.assertEqual({'volume-v-1': '[ds1] volume-v/volume-v.vmdk'},
                         self.entries(without_uuid))
        detach = specs.detach_disk_spec(self.factory, self.disk(), 'v-1')
        self.assertEqual({'volume-v-1': ''}, self.entries(detach))


# Release 1.0.0's literal form of a source volume with a linked clone made
# from its Cinder snapshot, of that clone, and of an instance VM with the
# clone attached.
RELEASE_1_0_SOURCE = {
    'vmware_backend.managed': 'true',
    'vmware_backend.volume_id': SRC,
    'vmware_backend.created': '1700000000',
    'vmware_backend.clone.' + CLONE: 'snapshot-' + SNAP,
    'vmware_backend.clone_since.' + CLONE: '1700000001',
}
RELEASE_1_0_CLONE = {
    'vmware_backend.managed': 'true',
    'vmware_backend.volume_id': CLONE,
    'vmware_backend.created': '1700000002',
    'vmware_backend.parent': SRC + ':snapshot-' + SNAP,
}
RELEASE_1_0_INSTANCE = {'volume-' + CLONE: '6000C29b-0000-clone'}


class PreviousReleaseTest(test_driver.DriverTestBase):
    """The upgrade fixture, read by the current driver and audit."""

    def setUp(self):
        super().setUp()
        self.src = volume(SRC)
        self.snap = snapshot(SNAP, self.src)
        self.src_ref = self.add_backing(
            SRC, managed=False, extra=RELEASE_1_0_SOURCE,
            snapshots=['snapshot-' + SNAP])
        self.clone_ref = self.add_backing(
            CLONE, managed=False, extra=RELEASE_1_0_CLONE)

    def test_source_with_a_linked_clone_is_busy(self):
        err = self.assertRaises(exceptions.VolumeIsBusy,
                                self.driver.delete_volume, self.src)
        self.assertIn(CLONE, str(err))
        self.assertNoChange()

    def test_snapshot_a_clone_reads_is_busy(self):
        err = self.assertRaises(exceptions.SnapshotIsBusy,
                                self.driver.delete_snapshot, self.snap)
        self.assertIn(CLONE, str(err))
        self.assertNoChange()

    def test_deleting_the_clone_releases_its_source(self):
        self.driver.delete_volume(volume(CLONE))
        self.ops.destroy.assert_called_once_with(self.clone_ref, mock.ANY)
        self.ops.set_extra_config.assert_called_once_with(
            self.src_ref,
            {'vmware_backend.clone.' + CLONE: '',
             'vmware_backend.clone_since.' + CLONE: ''},
            'volume ' + SRC)
        # A Cinder snapshot outlives the clone.
        self.ops.remove_snapshot.assert_not_called()

    def test_retried_create_finds_the_old_backing(self):
        self.driver.create_volume(volume(SRC))
        self.ops.create_backing.assert_not_called()

    def test_marker_time_decides_whether_a_missing_clone_may_come(self):
        self.vc.remove(self.clone_ref)
        fresh = dict(RELEASE_1_0_SOURCE)
        fresh['vmware_backend.clone_since.' + CLONE] = str(NOW - 10)
        self.vc.vms[self.src_ref.value]['config.extraConfig'] = \
            self.extra_config(fresh)
        self.assertRaises(exceptions.VolumeIsBusy,
                          self.driver.delete_volume, self.src)
        # 1700000001 is long past: the marker is dropped, the delete runs.
        self.vc.vms[self.src_ref.value]['config.extraConfig'] = \
            self.extra_config(RELEASE_1_0_SOURCE)
        self.driver.delete_volume(self.src)
        self.ops.destroy.assert_called_once_with(self.src_ref, mock.ANY)

    def test_listing_and_audit_read_the_old_records(self):
        def plain(extra):
            return [{'key': k, 'value': v} for k, v in extra.items()]
        objects = [
            (R('VirtualMachine', 'vm-1'), {
                'name': 'volume-' + SRC, 'config.instanceUuid': SRC,
                'config.extraConfig': plain(RELEASE_1_0_SOURCE),
                'snapshot': {'rootSnapshotList': [
                    {'name': 'snapshot-' + SNAP,
                     'snapshot': R('VirtualMachineSnapshot', 's-1')},
                    {'name': 'clone-' + NEW,
                     'snapshot': R('VirtualMachineSnapshot', 's-2')}]}}),
            (R('VirtualMachine', 'vm-2'), {
                'name': 'volume-' + CLONE, 'config.instanceUuid': CLONE,
                'config.extraConfig': plain(RELEASE_1_0_CLONE)}),
            (R('VirtualMachine', 'vm-3'), {
                'name': 'instance-1',
                'config.extraConfig': plain(RELEASE_1_0_INSTANCE)}),
        ]
        backings, instances = listing.parse(objects)
        src, clone = backings
        self.assertEqual((SRC, 1700000000, None),
                         (src.volume_id, src.created, src.parent))
        self.assertEqual({CLONE: 'snapshot-' + SNAP}, src.clone_markers)
        self.assertEqual(1700000001, src.marker_since(CLONE))
        self.assertEqual((CLONE, 1700000002, SRC + ':snapshot-' + SNAP),
                         (clone.volume_id, clone.created, clone.parent))
        self.assertEqual([{'volume-' + CLONE: '6000C29b-0000-clone'}],
                         [{'volume-' + k: v for k, v in i.marks.items()}
                          for i in instances])
        # Cinder knows only the source: the clone is a failed clone kept
        # because an instance has it attached; the temporary snapshot of a
        # clone that never came is stale.
        findings = audit.find(backings, [SRC], instances, min_age=0,
                              now=NOW)
        self.assertEqual(
            [(audit.STALE_SNAPSHOT, SRC, 'clone-' + NEW),
             (audit.FAILED_CLONE, CLONE, None)],
            [(f.kind, f.volume_id, f.item) for f in findings])
        self.assertIsNotNone(findings[1].blocked)
        self.assertEqual(1700000002, findings[1].since)
