"""Backup and restore through Cinder's posix backup driver, no credentials.

The data path of Cinder 29's ``BackupManager.continue_backup`` and
``_run_restore`` is followed step by step with Cinder's own code: the
cinder-backup host's os-brick connector properties
(``volume_utils.brick_get_connector_properties``), the driver's
``initialize_connection``, ``BackupManager._connect_device`` (os-brick's
connector for the returned protocol), the opened device handed to
``PosixBackupDriver.backup`` / ``restore``, then the disconnect and
``terminate_connection``. Only the RPC hop between cinder-backup and
cinder-volume is left out. The posix driver needs Cinder's database: a
sqlite file made by Cinder's own migrations. vCenter is the simulator; the
restored disk is read back through its datastore file access.
"""

import atexit
import os
import shutil
import sys
import tempfile
import types

from tests.functional import image_base as ib
from tests.openstack import test_cinder_driver as tcd

import fixtures  # noqa: E402

import os_brick.privileged  # noqa: E402,F401  (registers privsep_osbrick)

from cinder.backup.drivers import posix  # noqa: E402
from cinder.backup import manager as backup_manager  # noqa: E402
from cinder.db import migration  # noqa: E402
from cinder import objects  # noqa: E402
from cinder.volume import volume_utils  # noqa: E402
from oslo_config import cfg  # noqa: E402
from oslo_messaging.notify import notifier  # noqa: E402

RAW = ib.pattern(3 * ib.MIB)
WANT_4M = ib.sha(RAW + bytes(ib.MIB))

# One database per test process (oslo.db keeps its engine).
_DB_DIR = tempfile.mkdtemp(prefix='cinder-db-')
atexit.register(shutil.rmtree, _DB_DIR, True)
_synced = []
# Cinder's own code (backup driver, object create) loads fields from the
# database here; the driver's reads are checked by test_cinder_driver.
_LOADERS = {cls: cls.obj_load_attr for cls in (objects.Volume,
                                               objects.Snapshot,
                                               objects.VolumeType)}


class CinderBackupTest(tcd.DriverTestCase):

    def setUp(self):
        super().setUp()
        for cls, loader in _LOADERS.items():
            self.useFixture(fixtures.MockPatchObject(cls, 'obj_load_attr',
                                                     loader))
        # os-brick runs its probes through Cinder's root helper ("sudo
        # cinder-rootwrap ...") and its privsep daemon ("sudo
        # privsep-helper"); this machine has no sudo and the tests run as
        # root, so both run directly.
        self.useFixture(fixtures.MockPatch(
            'cinder.utils.get_root_helper', return_value='env'))
        cfg.CONF.set_override(
            'helper_command',
            os.path.join(os.path.dirname(sys.executable), 'privsep-helper'),
            group='privsep_osbrick')
        # cinder-backup registers these when it starts its RPC (rpc.init);
        # notifications stay off (no driver).
        cfg.CONF.register_opts(notifier._notifier_opts,
                               group='oslo_messaging_notifications')
        cfg.CONF.set_override('connection',
                              'sqlite:///%s/cinder.db' % _DB_DIR,
                              group='database')
        self.backups = tempfile.mkdtemp(prefix='posix-backups-')
        self.addCleanup(shutil.rmtree, self.backups, True)
        cfg.CONF.set_override('backup_posix_path', self.backups)
        staging = tempfile.mkdtemp(prefix='staging-')
        self.addCleanup(shutil.rmtree, staging, True)
        self.driver.core.options['vcenter_image_tmp_dir'] = staging
        self.staged = os.path.join(staging, 'vmware-backend-backup')
        if not _synced:
            migration.db_sync()
            _synced.append(True)
        self.vtype = objects.VolumeType(
            self.context, name='t-%s' % tcd.base.new_id()[:8], is_public=True,
            projects=[], description='backup test type',
            extra_specs={'vmware:vmdk_type': 'thin',
                         'vmware:adapter_type': 'lsiLogic'})
        self.vtype.create()

    def db_volume(self):
        volume = objects.Volume(
            self.context, size=1, status='creating', attach_status='detached',
            host=tcd.HOST, volume_type_id=self.vtype.id,
            project_id=self.objects.project_id,
            user_id=self.objects.user_id, display_name='v',
            availability_zone='nova', multiattach=False, _name_id=None,
            encryption_key_id=None)
        volume.create()
        volume.volume_type = self.vtype
        volume.obj_reset_changes(['volume_type'])
        self.driver.create_volume(volume)
        self.addCleanup(self.delete_quietly, volume)
        return volume

    def attach(self, volume, mode):
        """What continue_backup / _run_restore do up to the open device."""
        properties = volume_utils.brick_get_connector_properties(False,
                                                                 False)
        conn = self.driver.initialize_connection(volume, properties)
        self.assertNotIn('config', conn['data'])
        self.assertNotIn(self.vcsim.password, repr(conn))
        info = backup_manager.BackupManager._connect_device(None, conn)
        return properties, info, open(info['device']['path'], mode)

    def detach(self, volume, properties, info):
        info['connector'].disconnect_volume(info['conn']['data'],
                                            info['device'], force=True,
                                            ignore_errors=True)
        self.driver.terminate_connection(volume, properties, force=True)

    def test_backup_and_restore_with_the_posix_driver(self):
        images = ib.ImageService()
        images.add('image-1', RAW, 'raw')
        volume = self.db_volume()
        self.driver.copy_image_to_volume(self.context, volume, images,
                                         'image-1')
        volume.status = 'backing-up'
        volume.save()
        backup = objects.Backup(
            self.context, volume_id=volume.id, status='creating', size=1,
            user_id=self.objects.user_id,
            project_id=self.objects.project_id, display_name='b',
            availability_zone='nova', container=None,
            service='cinder.backup.drivers.posix.PosixBackupDriver')
        backup.create()

        properties, info, device = self.attach(volume, 'rb')
        self.assertEqual('local', info['conn']['driver_volume_type'])
        try:
            posix.PosixBackupDriver(self.context).backup(backup, device)
        finally:
            device.close()
            self.detach(volume, properties, info)
        self.assertEqual([], os.listdir(self.staged))
        stored = [f for _d, _s, files in os.walk(self.backups)
                  for f in files]
        self.assertTrue(any(name.endswith('_sha256file') for name in stored),
                        stored)

        self.assertGreater(backup.object_count, 0)
        backup.status = 'available'
        backup.save()

        # Incremental: the posix driver compares each block's SHA-256 with
        # the parent's; the disk did not change, so nothing new is stored.
        incremental = objects.Backup(
            self.context, volume_id=volume.id, status='creating', size=1,
            user_id=self.objects.user_id,
            project_id=self.objects.project_id, display_name='i',
            availability_zone='nova', container=backup.container,
            parent_id=backup.id,
            service='cinder.backup.drivers.posix.PosixBackupDriver')
        incremental.create()
        properties, info, device = self.attach(volume, 'rb')
        try:
            posix.PosixBackupDriver(self.context).backup(incremental, device)
        finally:
            device.close()
            self.detach(volume, properties, info)
        self.assertEqual(0, incremental.object_count)
        self.assertEqual([], os.listdir(self.staged))

        # Restore the incremental (the driver restores the chain).
        incremental.status = 'restoring'  # as BackupManager.restore_backup
        incremental.save()
        backup = incremental
        target = self.db_volume()
        target.status = 'restoring-backup'
        target.save()
        before = self.state(target.id)['ref'].value
        properties, info, device = self.attach(target, 'wb')
        try:
            posix.PosixBackupDriver(self.context).restore(
                backup, target.id, device, True)
        finally:
            device.close()
            self.detach(target, properties, info)
        self.assertEqual([], os.listdir(self.staged))
        state = self.state(target.id)
        self.assertNotEqual(before, state['ref'].value)
        data, total = ib.read_disk(
            self.vcsim, types.SimpleNamespace(disk=self.disk(state)),
            4 * ib.MIB)
        self.assertEqual((WANT_4M, ib.GIB), (ib.sha(data), total))
