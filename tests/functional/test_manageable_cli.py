"""``vmware-backend-manage manageable`` (and --export) against vcsim, then the
exported references imported with the driver, as ``openstack volume manage``
would: list -> export -> import, end to end."""

import shlex

from tests.functional import lifecycle_base as lb
from tests.functional import test_manage
from tests.functional import test_manage_cli

GIB_KB = test_manage.GIB_KB


class ManageableCliTest(test_manage_cli.CliMixin, test_manage.ManageTestBase):

    def test_list_export_import(self):
        ref, _uuid, name = self.foreign_vm(disks_kb=(GIB_KB, 3 * GIB_KB))
        first, second = self.files(ref)
        backing, backing_uuid, backing_name = self.foreign_vm(
            extra={'cinder.volume.id': 'in-tree'},
            name='volume-%s' % lb.base.new_id())
        config = self.ini(self.vcsim)

        proc = self.cli('manageable', config=config)
        self.assertExit(0, proc)
        self.assertIn('source-name: %s@DC0/vm/%s' % (second, name),
                      proc.stdout)
        self.assertIn('source-id: %s' % backing_uuid, proc.stdout)
        # The simulator's own VMs are powered on: listed, not safe.
        self.assertIn('attached to powered-on VM DC0_C0_RP0_VM0',
                      proc.stdout)

        proc = self.cli('--format', 'json', 'manageable', '--export',
                        '--host', 'node1@vmware-1', config=config)
        self.assertExit(0, proc)
        items = {i['reference']: i for i in self.json_of(proc)}
        disk_ref = '%s@DC0/vm/%s' % (second, name)
        item = items[disk_ref]
        # The host names the stable pool name of the disk's datastore.
        [pool] = [p.name for p in self.driver.placement.usable_pools()
                  if p.datastore_name == 'LocalDS_0']
        self.assertEqual('node1@vmware-1#%s' % pool, item['host'])
        self.assertEqual('source-name', item['id_type'])
        self.assertEqual(3, item['size'])
        self.assertEqual(
            ['openstack', 'volume', 'manage', '--host',
             'node1@vmware-1#%s' % pool, '--id-type', 'source-name',
             '--name', item['name'], disk_ref],
            shlex.split(item['command']))
        self.assertEqual('source-id', items[backing_uuid]['id_type'])
        self.assertFalse([r for r in items if 'DC0_C0_RP0_VM0' in r])

        proc = self.cli('manageable', '--export', '--host',
                        'node1@vmware-1', config=config)
        self.assertExit(0, proc)
        self.assertIn(item['command'], proc.stdout.splitlines())

        # Import what was exported, as Cinder would call the driver.
        for reference in (disk_ref, backing_uuid):
            chosen = items[reference]
            volume = lb.make_volume(chosen['size'], host=chosen['host'])
            self.driver.manage_existing(volume,
                                        {chosen['id_type']: reference})
            self.adopted(volume)
        self.assertEqual([first], self.files(ref))
        self.assertEqual('Volumes', self.entity_name(
            self.state(backing).props['parent']))

    def test_snapshots_list_export_import(self):
        volume = self.create(size=1)
        for name in ('before upgrade', 'nightly'):
            self.session.invoke_task(
                'CreateSnapshot_Task', self.find(volume.id), name=name,
                memory=False, quiesce=False)
        known = lb.make_snapshot(volume)
        self.driver.create_snapshot(known)
        ids = self.write_file(known.id + '\n')
        config = self.ini(self.vcsim)

        proc = self.cli('manageable', '--snapshots', '--snapshot-ids', ids,
                        config=config)
        self.assertExit(0, proc)
        lines = [line.split() for line in proc.stdout.splitlines()]
        self.assertIn(['source-name:', known.name, volume.id, '1', 'no',
                       'already', 'managed', '(Cinder', 'snapshot',
                       '%s)' % known.id, known.id], lines)
        self.assertIn(['source-name:', 'nightly', volume.id, '1', 'yes'],
                      lines)

        proc = self.cli('--format', 'json', 'manageable', '--snapshots',
                        '--export', config=config)
        self.assertExit(0, proc)
        items = {i['reference']: i for i in self.json_of(proc)
                 if i['volume_id'] == volume.id}
        self.assertEqual(['before upgrade', 'nightly'], sorted(items))
        self.assertEqual(
            ['openstack', 'volume', 'snapshot', 'create', '--volume',
             volume.id, '--remote-source', 'source-name=before upgrade',
             'before-upgrade'],
            shlex.split(items['before upgrade']['command']))
        # Import what was exported, as Cinder would call the driver.
        for reference in sorted(items):
            snapshot = lb.make_snapshot(volume)
            self.driver.manage_existing_snapshot(
                snapshot, {'source-name': reference})
        self.assertEqual(3, len([n for n in self.state(volume.id)
                                 .snapshot_names if n.startswith(
                                     'snapshot-')]))
        proc = self.cli('manageable', '--snapshots', '--export',
                        config=config)
        self.assertExit(0, proc)
        self.assertNotIn(volume.id, proc.stdout)

    def test_export_needs_host(self):
        proc = self.cli('manageable', '--export',
                        config=self.ini(self.vcsim))
        self.assertExit(2, proc)
        self.assertIn('--export needs --host', proc.stderr)


class ListingCostTest(test_manage.ManageTestBase):

    def test_calls_do_not_grow_with_vms(self):
        self.driver.get_manageable_volumes([], None, 10, 0, ['size'],
                                           ['asc'])  # warm the caches

        def calls():
            before = self.session.total_requests()
            self.driver.get_manageable_volumes([], None, 10, 0, ['size'],
                                               ['asc'])
            return self.session.total_requests() - before

        first = calls()
        for _ in range(3):
            self.foreign_vm()
        self.assertEqual(first, calls())
        # View, read, destroy; per datastore: its browser, the search task
        # and its wait.
        pools = self.driver.placement.usable_pools()
        self.assertLessEqual(first, 3 + 3 * len(pools))
