"""Snapshot export to a local file (library and CLI) on the simulator.

The exported file is judged by qemu-img against the data the volume was
made from; the lease's final state is read back from vCenter.
"""

import hashlib
import os
import shutil
import tempfile

from tests.functional import base
from tests.functional import image_base as ib
from tests.functional import test_manage_cli
from vmware_backend.admin import snapshot_export
from vmware_backend import exceptions
from vmware_backend.volume import plain_objects

RAW = ib.pattern(3 * ib.MIB)
WANT_4M = ib.sha(RAW + bytes(ib.MIB))


def file_sha(path):
    with open(path, 'rb') as f:
        return hashlib.sha256(f.read()).hexdigest()


class SnapshotExportTest(test_manage_cli.CliMixin, base.FunctionalTestCase):

    def setUp(self):
        super().setUp()
        self.driver, self.volume = self.driver_and_volume()
        images = ib.ImageService()
        images.add('image-1', RAW, 'raw')
        self.driver.copy_image_to_volume(None, self.volume, images,
                                         'image-1')
        self.snap = plain_objects.snapshot(self.volume)
        self.driver.create_snapshot(self.snap)
        self.addCleanup(self.driver.delete_snapshot, self.snap)
        self.dir = tempfile.mkdtemp(prefix='snapshot-export-')
        self.addCleanup(shutil.rmtree, self.dir)
        self.leases = []
        real = self.session.invoke

        def recording(method, *args, **kwargs):
            result = real(method, *args, **kwargs)
            if method == 'ExportSnapshot':
                self.leases.append(result)
            return result

        self.session.invoke = recording
        self.addCleanup(delattr, self.session, 'invoke')

    def lease_state(self):
        self.assertEqual(1, len(self.leases))
        return self.session.get_properties(self.leases[0], ['state'])[
            'state']

    def test_export_writes_the_snapshot_disk(self):
        path = os.path.join(self.dir, 'snap.vmdk')
        seen = []
        result = snapshot_export.export_snapshot(
            self.session, self.volume.id, self.snap.name, path,
            progress=lambda done, total: seen.append((done, total)))
        self.assertEqual('done', self.lease_state())
        self.assertEqual(file_sha(path), result.sha256)
        self.assertEqual(os.path.getsize(path), result.bytes)
        self.assertEqual(1024 * 1024, result.capacity_kb)
        self.assertEqual(['snap.vmdk'], os.listdir(self.dir))
        with open(path, 'rb') as f:
            raw = ib.to_raw(f.read(), 'vmdk')
        self.assertEqual(ib.GIB, len(raw))
        self.assertEqual(WANT_4M, ib.sha(raw[:4 * ib.MIB]))
        self.assertTrue(seen)
        self.assertEqual((result.bytes, ib.GIB), seen[-1])

    def test_failure_midway_aborts_and_leaves_no_file(self):
        path = os.path.join(self.dir, 'snap.vmdk')

        def interrupted(done, total):
            raise KeyboardInterrupt()

        self.assertRaises(KeyboardInterrupt, snapshot_export.export_snapshot,
                          self.session, self.volume.id, self.snap.name,
                          path, progress=interrupted)
        self.assertEqual('error', self.lease_state())
        self.assertEqual([], os.listdir(self.dir))

    def test_refusals_name_the_value(self):
        path = os.path.join(self.dir, 'taken.vmdk')
        with open(path, 'w') as f:
            f.write('keep me')
        err = self.assertRaises(
            exceptions.InvalidAdminInput, snapshot_export.export_snapshot,
            self.session, self.volume.id, self.snap.name, path)
        self.assertIn('Invalid file %r: it exists' % path, str(err))
        with open(path) as f:
            self.assertEqual('keep me', f.read())
        err = self.assertRaises(
            exceptions.InvalidAdminInput, snapshot_export.export_snapshot,
            self.session, self.volume.id, 'nope', path + '2')
        self.assertIn("Invalid snapshot 'nope': no such snapshot", str(err))
        self.assertIn(self.snap.name, str(err))
        missing = os.path.join(self.dir, 'no', 'x.vmdk')
        err = self.assertRaises(
            exceptions.InvalidAdminInput, snapshot_export.export_snapshot,
            self.session, self.volume.id, self.snap.name, missing)
        self.assertIn('does not exist', str(err))
        self.assertEqual([], self.leases)

    def test_cli(self):
        config = self.ini(self.vcsim)
        path = os.path.join(self.dir, 'cli.vmdk')
        proc = self.cli('snapshot-export', self.volume.id, self.snap.name,
                        path, '--dry-run', config=config)
        self.assertExit(0, proc)
        self.assertIn('DRY RUN: would export', proc.stdout)
        self.assertFalse(os.path.exists(path))
        proc = self.cli('snapshot-export', self.volume.id, self.snap.name,
                        path, config=config)
        self.assertExit(2, proc)
        self.assertIn('pass --yes', proc.stderr)
        proc = self.cli('--format', 'json', 'snapshot-export',
                        self.volume.id, self.snap.name, path, '--yes',
                        config=config)
        self.assertExit(0, proc)
        result = self.json_of(proc)
        self.assertEqual(file_sha(path), result['sha256'])
        self.assertEqual(self.snap.name, result['snapshot'])
        proc = self.cli('snapshot-export', self.volume.id, 'nope', path,
                        '--yes', config=config)
        self.assertExit(2, proc)
        self.assertIn("'nope'", proc.stderr)
