"""vmware-backend-manage run as a subprocess against the simulator."""

import json
import os
import socket
import subprocess
import sys
import tempfile
import uuid

import fixtures
import testtools

from tests.functional import base
from vmware_backend.admin import demo
from vmware_backend.admin import listing
from vmware_backend import exceptions
from vmware_backend.volume import driver as vmware_driver
from vmware_backend.volume import plain_objects
from vmware_backend.vsphere import specs

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
CLI = [sys.executable, '-m', 'vmware_backend.cmd.manage']


def ini_text(options):
    lines = ['[vmware]']
    for key, value in sorted(options.items()):
        if isinstance(value, (list, tuple)):
            value = ','.join(value)
        lines.append('%s = %s' % (key, value))
    return '\n'.join(lines) + '\n'


class CliMixin:
    """Writes ini files and runs the command."""

    def write_file(self, text, suffix='.ini'):
        fd, path = tempfile.mkstemp(suffix=suffix)
        with os.fdopen(fd, 'w') as out:
            out.write(text)
        self.addCleanup(os.unlink, path)
        return path

    def ini(self, server, **overrides):
        """An ini file pointing at ``server``."""
        options = server.options()
        options.update(overrides)
        return self.write_file(ini_text(options))

    def cli(self, *args, config=None, stdin='', timeout=600):
        """Run the command; returns the CompletedProcess."""
        cmd = list(CLI)
        if config:
            cmd += ['--config-file', config]
        cmd += list(args)
        return subprocess.run(cmd, input=stdin, capture_output=True,
                              text=True, timeout=timeout, cwd=REPO)

    def assertExit(self, code, proc):
        self.assertEqual(code, proc.returncode,
                         'exit %s\nstdout:\n%s\nstderr:\n%s'
                         % (proc.returncode, proc.stdout, proc.stderr))

    def json_of(self, proc):
        try:
            return json.loads(proc.stdout)
        except ValueError:
            self.fail('stdout is not JSON:\n%s\nstderr:\n%s'
                      % (proc.stdout, proc.stderr))


class CheckCliTest(CliMixin, base.FunctionalTestCase):

    def test_check_ok(self):
        proc = self.cli('check', config=self.ini(self.vcsim))
        self.assertExit(0, proc)
        self.assertIn('VMware vCenter Server', proc.stdout)
        self.assertIn('DC0_C0', proc.stdout)
        self.assertIn('LocalDS_0', proc.stdout)
        self.assertIn('OK: configuration and connection are fine.',
                      proc.stdout)
        self.assertNotIn(self.vcsim.password, proc.stdout + proc.stderr)

    def test_check_json(self):
        proc = self.cli('--format', 'json', 'check',
                        config=self.ini(self.vcsim))
        self.assertExit(0, proc)
        report = self.json_of(proc)
        self.assertTrue(report['ok'])
        self.assertEqual([], report['problems'])
        self.assertTrue(report['vcenter']['api_version'])
        self.assertEqual({'LocalDS_0', 'LocalDS_1'},
                         {p['datastore'] for p in report['pools']})
        self.assertEqual([{'name': 'DC0_C0', 'exists': True, 'hosts': 3}],
                         report['clusters'])

    def test_bad_password(self):
        wrong = 'Wrong-%s' % uuid.uuid4().hex
        proc = self.cli('check', config=self.ini(self.vcsim,
                                                 vcenter_password=wrong))
        self.assertExit(1, proc)
        output = proc.stdout + proc.stderr
        self.assertIn('refused the login of user %s' % self.vcsim.username,
                      proc.stdout)
        self.assertIn('vcenter_password', proc.stdout)
        self.assertNotIn(wrong, output)
        self.assertNotIn(self.vcsim.password, output)

    def test_bad_password_with_debug_logging(self):
        wrong = 'Wrong-%s' % uuid.uuid4().hex
        proc = self.cli('--debug', 'pools',
                        config=self.ini(self.vcsim, vcenter_password=wrong))
        self.assertExit(1, proc)
        self.assertIn(self.vcsim.username, proc.stderr)
        self.assertNotIn(wrong, proc.stdout + proc.stderr)

    def test_unknown_cluster(self):
        proc = self.cli('check', config=self.ini(
            self.vcsim, vcenter_cluster_names=['NoSuchCluster']))
        self.assertExit(1, proc)
        self.assertIn('cluster(s) not found in vCenter: NoSuchCluster',
                      proc.stdout)
        self.assertIn('hint: vcenter_cluster_names must name existing '
                      'clusters (found: DC0_C0)', proc.stdout)

    def test_unreachable(self):
        with socket.socket() as sock:
            sock.bind(('127.0.0.1', 0))
            port = sock.getsockname()[1]
        proc = self.cli('check', config=self.ini(
            self.vcsim, vcenter_port=port, vcenter_api_retry_count=0))
        self.assertExit(1, proc)
        self.assertIn('Cannot connect to vCenter at http://127.0.0.1:%d'
                      % port, proc.stdout)
        self.assertIn('hint: check vcenter_host, vcenter_port',
                      proc.stdout)

    def test_bad_option_is_a_usage_error(self):
        proc = self.cli('check', config=self.ini(self.vcsim,
                                                 vcenter_port='https'))
        self.assertExit(2, proc)
        self.assertIn('vcenter_port', proc.stderr)


class PoolsCliTest(CliMixin, base.FunctionalTestCase):

    def test_table(self):
        proc = self.cli('pools', config=self.ini(self.vcsim))
        self.assertExit(0, proc)
        lines = proc.stdout.splitlines()
        self.assertEqual(['DATASTORE', 'POOL', 'TYPE', 'TOTAL', 'GiB', 'FREE',
                          'GiB', 'PROV.', 'GiB', 'HOSTS'], lines[0].split())
        rows = {line.split()[0]: line.split() for line in lines[2:]}
        self.assertEqual({'LocalDS_0', 'LocalDS_1'}, set(rows))
        self.assertEqual(['VMFS', '1024'], rows['LocalDS_0'][2:4])
        self.assertIn('LocalDS_0', rows['LocalDS_0'][1])  # vcsim's moref

    def test_json(self):
        proc = self.cli('--format', 'json', 'pools',
                        config=self.ini(self.vcsim))
        self.assertExit(0, proc)
        pools = {p['datastore']: p for p in self.json_of(proc)}
        self.assertEqual({'LocalDS_0', 'LocalDS_1'}, set(pools))
        pool = pools['LocalDS_0']
        self.assertEqual(1024.0, pool['total_gb'])
        self.assertEqual('VMFS', pool['type'])
        self.assertEqual(['DC0_C0_H0', 'DC0_C0_H1', 'DC0_C0_H2'],
                         pool['hosts'])
        self.assertLessEqual(pool['free_gb'], pool['total_gb'])


class VolumesCliTest(CliMixin, base.FunctionalTestCase):

    def setUp(self):
        super().setUp()
        self.driver = vmware_driver.VMwareVolumeDriver(self.options,
                                                       session=self.session)

    def create(self, size):
        volume = plain_objects.volume(size)
        self.driver.create_volume(volume)
        self.addCleanup(self.driver.delete_volume, volume)
        return volume

    def test_lists_created_volumes(self):
        small = self.create(1)
        large = self.create(3)
        snapshot = plain_objects.snapshot(large)
        self.driver.create_snapshot(snapshot)
        self.addCleanup(self.driver.delete_snapshot, snapshot)
        instance, instance_name = demo.pick_instance(self.session)
        self.driver.attach_volume(instance, small)
        self.addCleanup(self.driver.detach_volume, instance, small)

        proc = self.cli('--format', 'json', 'volumes',
                        config=self.ini(self.vcsim))
        self.assertExit(0, proc)
        rows = {r['volume_id']: r for r in self.json_of(proc)}
        self.assertEqual(1.0, rows[small.id]['size_gb'])
        self.assertEqual(3.0, rows[large.id]['size_gb'])
        self.assertEqual([instance_name], rows[small.id]['attached_to'])
        self.assertEqual([], rows[large.id]['attached_to'])
        self.assertEqual([snapshot.name], rows[large.id]['snapshots'])
        self.assertEqual([], rows[small.id]['snapshots'])
        self.assertEqual(1, len(rows[small.id]['datastores']))

        proc = self.cli('volumes', config=self.ini(self.vcsim))
        self.assertExit(0, proc)
        line = [li for li in proc.stdout.splitlines() if small.id in li]
        self.assertEqual(1, len(line), proc.stdout)
        self.assertEqual([small.id, '1'], line[0].split()[:2])
        self.assertIn(instance_name, line[0])


class AuditCliTest(CliMixin, testtools.TestCase):
    """Audit on a simulator of each test's own (--fix removes leftovers)."""

    def setUp(self):
        super().setUp()
        base.own_simulator(self)
        self.driver = vmware_driver.VMwareVolumeDriver(self.vcsim.options(),
                                                       session=self.session)
        self.config = self.ini(self.vcsim.server)

    def create(self, size=1):
        volume = plain_objects.volume(size)
        self.driver.create_volume(volume)
        return volume

    def snapshot(self, volume):
        snapshot = plain_objects.snapshot(volume)
        self.driver.create_snapshot(snapshot)
        return snapshot

    def linked_from(self, snapshot):
        clone = plain_objects.volume(snapshot.volume_size,
                                     {'vmware:clone_type': 'linked'})
        self.driver.create_volume_from_snapshot(clone, snapshot)
        return clone

    def scenario(self):
        """Known volumes and every kind of leftover."""
        self.known = self.create()
        self.known_snap = self.snapshot(self.known)
        self.known_clone = self.linked_from(self.known_snap)
        self.orphan = self.create(2)
        self.failed = plain_objects.volume(1, {'vmware:clone_type': 'linked'})
        self.driver.create_cloned_volume(self.failed, self.known)
        ref = self.driver.ops.find_vm_by_instance_uuid(self.known.id)
        self.gone_marker = str(uuid.uuid4())
        self.driver.ops.set_extra_config(
            ref, {specs.KEY_CLONE_PREFIX + self.gone_marker:
                  'snapshot-gone'}, 'test')
        self.gone_snap = 'clone-%s' % uuid.uuid4()
        self.driver.ops.create_snapshot(ref, self.gone_snap, 'test', 'test')
        return self.ids_file(self.known.id, self.known_clone.id)

    def ids_file(self, *ids):
        return self.write_file('# known to Cinder\n' + '\n'.join(ids) + '\n',
                               suffix='.ids')

    def backings(self):
        backings, _instances = listing.read(self.session, devices=False)
        return {b.volume_id: b for b in backings}

    def test_reports_without_removing(self):
        ids = self.scenario()
        proc = self.cli('--format', 'json', 'audit', '--volume-ids', ids,
                        '--min-age', '0', config=self.config)
        self.assertExit(1, proc)
        report = self.json_of(proc)
        found = {(f['kind'], f['volume_id'], f['item'])
                 for f in report['findings']}
        self.assertIn(('orphaned-backing', self.orphan.id, None), found)
        self.assertIn(('failed-clone', self.failed.id, None), found)
        self.assertIn(('stale-clone-marker', self.known.id,
                       specs.KEY_CLONE_PREFIX + self.gone_marker), found)
        self.assertIn(('stale-temporary-snapshot', self.known.id,
                       self.gone_snap), found)
        removable = {f['volume_id'] for f in report['findings']
                     if f['kind'] in ('orphaned-backing', 'failed-clone')}
        self.assertEqual({self.orphan.id, self.failed.id}, removable)
        self.assertEqual({self.known.id, self.known_clone.id,
                          self.orphan.id, self.failed.id},
                         set(self.backings()))

    def test_fix_yes_removes_leftovers_and_keeps_known_volumes(self):
        ids = self.scenario()
        with open(ids) as ids_file:
            ids_text = ids_file.read()
        proc = self.cli('audit', '--volume-ids', '-', '--fix', '--yes',
                        '--min-age', '0', config=self.config, stdin=ids_text)
        self.assertExit(0, proc)
        self.assertIn('0 leftover(s) remain after --fix.', proc.stdout)
        self.assertIn('2 backing(s) in quarantine', proc.stdout)

        after = self.backings()
        # The orphans are quarantined, not destroyed.
        self.assertEqual({self.known.id, self.known_clone.id,
                          self.orphan.id, self.failed.id}, set(after))
        self.assertEqual({self.orphan.id, self.failed.id},
                         {v for v, b in after.items() if b.quarantined})
        known = after[self.known.id]
        self.assertEqual({self.known_snap.name, 'clone-%s' % self.failed.id},
                         set(known.snapshots))
        self.assertEqual({self.known_clone.id: self.known_snap.name,
                          self.failed.id: 'clone-%s' % self.failed.id},
                         known.clone_markers)

        # Purged once the grace period is over (here: none).
        proc = self.cli('audit', '--volume-ids', ids, '--purge', '--yes',
                        '--grace', '0', config=self.config)
        self.assertExit(0, proc)
        after = self.backings()
        self.assertEqual({self.known.id, self.known_clone.id}, set(after))
        known = after[self.known.id]
        # Purging the failed clone released its source.
        self.assertEqual({self.known_snap.name}, set(known.snapshots))
        self.assertEqual({self.known_clone.id: self.known_snap.name},
                         known.clone_markers)
        self.assertEqual('%s:%s' % (self.known.id, self.known_snap.name),
                         after[self.known_clone.id].parent)
        # The known volumes still work through the driver.
        self.driver.delete_volume(self.known_clone)
        self.driver.delete_snapshot(self.known_snap)
        self.driver.delete_volume(self.known)
        self.assertEqual({}, self.backings())

    def test_keeps_an_orphan_a_known_clone_depends_on(self):
        orphan = self.create()
        clone = self.linked_from(self.snapshot(orphan))
        ids = self.ids_file(clone.id)
        proc = self.cli('--format', 'json', 'audit', '--volume-ids', ids,
                        '--fix', '--yes', '--min-age', '0',
                        config=self.config)
        self.assertExit(1, proc)
        report = self.json_of(proc)
        (remaining,) = [f for f in report['remaining']
                        if f['volume_id'] == orphan.id]
        self.assertEqual('orphaned-backing', remaining['kind'])
        self.assertIn('kept: volume(s) %s known to Cinder depend on it'
                      % clone.id, remaining['action'])
        self.assertEqual({orphan.id, clone.id}, set(self.backings()))

    def test_fix_without_a_terminal_needs_yes(self):
        ids = self.scenario()
        proc = self.cli('audit', '--volume-ids', ids, '--fix',
                        '--min-age', '0', config=self.config)
        self.assertExit(2, proc)
        self.assertIn('pass --yes', proc.stderr)
        self.assertIn(self.orphan.id, set(self.backings()))

    def test_refuses_to_fix_with_an_empty_id_list(self):
        self.create()
        proc = self.cli('audit', '--volume-ids', self.ids_file(), '--fix',
                        '--yes', '--min-age', '0', config=self.config)
        self.assertExit(2, proc)
        self.assertIn('refusing', proc.stderr)
        self.assertEqual(1, len(self.backings()))

    def test_new_backing_is_recent_until_min_age_zero(self):
        # The id list was taken before the volume was created: it names
        # another (random) volume only.
        volume = self.create()
        ids = self.ids_file(str(uuid.uuid4()))
        proc = self.cli('--format', 'json', 'audit', '--volume-ids', ids,
                        config=self.config)
        self.assertExit(0, proc)
        report = self.json_of(proc)
        (finding,) = [f for f in report['findings']
                      if f['volume_id'] == volume.id]
        self.assertEqual('orphaned-backing', finding['kind'])
        self.assertTrue(finding['recent'])
        self.assertEqual('recent, skipped', finding['action'])
        self.assertEqual(3600, report['min_age'])
        self.assertEqual(1, report['recent'])
        self.assertEqual(0, report['summary']['orphaned-backing'])

        proc = self.cli('audit', '--volume-ids', ids, '--fix', '--yes',
                        config=self.config)
        self.assertExit(0, proc)
        self.assertIn('1 recent item(s) (made less than 3600s ago) skipped',
                      proc.stdout)
        self.assertIsNotNone(
            self.driver.ops.find_vm_by_instance_uuid(volume.id))

        # The list names none of this backend's volumes: refused unless
        # the operator says they really are all leftovers.
        proc = self.cli('audit', '--volume-ids', ids, '--min-age', '0',
                        '--fix', '--yes', config=self.config)
        self.assertExit(2, proc)
        self.assertIn('1 of the 1 volume ids', proc.stderr)
        proc = self.cli('audit', '--volume-ids', ids, '--min-age', '0',
                        '--fix', '--yes', '--max-orphan-percent', '100',
                        config=self.config)
        self.assertExit(0, proc)
        self.assertIn('0 leftover(s) remain after --fix.', proc.stdout)
        self.assertTrue(self.backings()[volume.id].quarantined)

    def test_clone_being_made_is_left_alone(self):
        # What a linked clone of a volume leaves on its source while
        # CloneVM_Task runs: the temporary snapshot and the marker (with its
        # time); the clone's id is not in the (older) list.
        source = self.create()
        creating = str(uuid.uuid4())
        snap_name = 'clone-%s' % creating
        ref = self.driver.ops.find_vm_by_instance_uuid(source.id)
        self.driver.ops.create_snapshot(ref, snap_name, 'test', 'test')
        self.driver.ops.set_extra_config(
            ref, specs.marker_entries(creating, snap_name), 'test')
        ids = self.ids_file(source.id)
        proc = self.cli('--format', 'json', 'audit', '--volume-ids', ids,
                        '--fix', '--yes', config=self.config)
        self.assertExit(0, proc)
        report = self.json_of(proc)
        found = {(f['kind'], f['item']): f for f in report['findings']}
        self.assertEqual({('stale-clone-marker',
                           specs.KEY_CLONE_PREFIX + creating),
                          ('stale-temporary-snapshot', snap_name)},
                         set(found))
        for finding in found.values():
            self.assertTrue(finding['recent'])
            self.assertEqual('recent, skipped', finding['result'])
            # The times were read: the marker's, the snapshot's createTime.
            self.assertIsNotNone(finding['since'])
        self.assertEqual([], report['remaining'])
        after = self.backings()[source.id]
        self.assertEqual({creating: snap_name}, after.clone_markers)
        self.assertIn(snap_name, after.snapshots)

        # Once old enough (here: no minimum age), both go, both keys blank.
        proc = self.cli('audit', '--volume-ids', ids, '--min-age', '0',
                        '--fix', '--yes', config=self.config)
        self.assertExit(0, proc)
        after = self.backings()[source.id]
        self.assertEqual({}, after.clone_markers)
        self.assertFalse(after.extra.get(
            specs.KEY_CLONE_SINCE_PREFIX + creating))
        self.assertNotIn(snap_name, after.snapshots)

    def test_backings_outside_the_volume_folder_are_not_audited(self):
        ours = self.create()
        other_driver = vmware_driver.VMwareVolumeDriver(
            self.vcsim.options(vcenter_volume_folder='Other/Backend'),
            session=self.session)
        theirs = plain_objects.volume(1)
        other_driver.create_volume(theirs)
        ids = self.ids_file(str(uuid.uuid4()))
        proc = self.cli('--format', 'json', 'audit', '--volume-ids', ids,
                        '--min-age', '0', '--fix', '--yes',
                        '--max-orphan-percent', '100', config=self.config)
        self.assertExit(0, proc)
        report = self.json_of(proc)
        self.assertEqual([ours.id],
                         [f['volume_id'] for f in report['findings']])
        self.assertEqual(1, report['backings'])
        backings = self.backings()
        self.assertTrue(backings[ours.id].quarantined)
        self.assertIsNone(backings[theirs.id].quarantined)


class DemoCliTest(CliMixin, testtools.TestCase):
    """The demo against the embedded simulator (no vcenter_host)."""

    def setUp(self):
        super().setUp()
        self.useFixture(fixtures.Timeout(900, gentle=True))
        self.config = self.write_file('[vmware]\n')

    def expected_steps(self):
        # Written out, not read from demo.Lifecycle.plan(): the demo must
        # show these steps in this order.
        return [
            'create volume',
            'extend volume',
            'create snapshot',
            'create volume from snapshot (linked)',
            'create volume from snapshot (full)',
            'clone volume (full)',
            'clone volume (linked)',
            'initialize connection',
            'attach volume',
            'detach volume',
            'revert to snapshot',
            'delete snapshot in use (refused)',
            'delete volume (linked, from snapshot)',
            'delete volume (linked clone)',
            'delete snapshot',
            'delete volume (full, from snapshot)',
            'delete volume (full clone)',
            'delete volume (source)',
            'get volume stats',
        ]

    def test_demo_table(self):
        proc = self.cli('demo', config=self.config, timeout=900)
        self.assertExit(0, proc)
        self.assertIn('starting the embedded vCenter simulator',
                      proc.stderr)
        for name in self.expected_steps():
            self.assertIn(name, proc.stdout)
        self.assertIn('All steps passed.', proc.stdout)
        self.assertNotIn('clean up', proc.stdout)

    def test_demo_json(self):
        proc = self.cli('--format', 'json', 'demo', config=self.config,
                        timeout=900)
        self.assertExit(0, proc)
        report = self.json_of(proc)
        self.assertTrue(report['ok'])
        steps = report['steps']
        self.assertEqual(self.expected_steps(), [s['name'] for s in steps])
        self.assertEqual({'ok'}, {s['status'] for s in steps})
        for step in steps:
            self.assertEqual(step['calls'], sum(step['methods'].values()),
                             step['name'])
        create = steps[0]
        self.assertEqual(1, create['methods'].get('CreateVM_Task'))
        self.assertTrue(report['instance'].startswith('vm-'))


class DemoFailureTest(CliMixin, base.FunctionalTestCase):
    """A failing step stops the demo, cleans up and exits 1."""

    def test_failure_cleans_up(self):
        options = dict(self.options)
        drv = vmware_driver.VMwareVolumeDriver(options, session=self.session)
        lifecycle = demo.Lifecycle(drv, instance=None)

        def broken_extend(volume, new_size):
            raise exceptions.InvalidVolume(volume=volume.id, reason='boom')

        drv.extend_volume = broken_extend
        steps = lifecycle.run()
        self.assertFalse(lifecycle.ok)
        by_name = {s.name: s for s in steps}
        self.assertEqual('ok', by_name['create volume'].status)
        self.assertEqual('failed', by_name['extend volume'].status)
        self.assertIn('boom', by_name['extend volume'].error)
        self.assertEqual('skipped', by_name['create snapshot'].status)
        self.assertEqual('ok', by_name['clean up'].status)
        volume_id = lifecycle.source.id
        self.assertIsNone(drv.ops.find_vm_by_instance_uuid(volume_id))
