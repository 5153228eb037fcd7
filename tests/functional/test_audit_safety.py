"""``vmware-backend-manage audit`` safety, as a subprocess on the simulator.

Issue 8, defect 10: two backends on one vCenter never see each other's
backings as orphans, an id list that looks incomplete is refused, orphans
are quarantined (and keep working) before a later purge destroys them,
quarantined volumes Cinder knows are restored, and duplicate backings of a
known volume id are reported.
"""

import uuid

import testtools

from tests.functional import base
from tests.functional import test_manage_cli
from vmware_backend.admin import listing
from vmware_backend.volume import driver as vmware_driver
from vmware_backend.volume import plain_objects
from vmware_backend.vsphere import inventory
from vmware_backend.vsphere import specs

FOLDER = 'OpenStack/Volumes'


class AuditSafetyTest(test_manage_cli.CliMixin, testtools.TestCase):
    """Each test on a simulator of its own."""

    def setUp(self):
        super().setUp()
        base.own_simulator(self)
        self.a = self.backend('cinder-a')
        self.config = self.ini(self.vcsim.server,
                               vcenter_backend_name='cinder-a')

    def backend(self, name):
        return vmware_driver.VMwareVolumeDriver(
            self.vcsim.options(vcenter_backend_name=name),
            session=self.session)

    def create(self, driver, count=1):
        volumes = [plain_objects.volume(1) for _ in range(count)]
        for volume in volumes:
            driver.create_volume(volume)
        return volumes

    def ids_file(self, *volumes):
        return self.write_file('\n'.join(getattr(v, 'id', v)
                                         for v in volumes) + '\n',
                               suffix='.ids')

    def audit(self, ids, *args, config=None):
        return self.cli('--format', 'json', 'audit', '--volume-ids', ids,
                        '--min-age', '0', *args, config=config or self.config)

    def backings(self):
        backings, _instances = listing.read(self.session, devices=False)
        return {b.volume_id: b for b in backings}

    def folder_name_of(self, volume):
        ref = self.a.ops.find_vm_by_instance_uuid(volume.id)
        parent = self.session.get_properties(ref, ('parent',))['parent']
        props = self.session.get_properties(parent, ('name', 'parent'))
        grand = self.session.get_properties(props['parent'], ('name',))
        return '%s/%s' % (grand['name'], props['name'])

    def test_two_backends_never_see_each_other_as_orphans(self):
        ours = self.create(self.a, 2)
        b = self.backend('cinder-b')
        theirs = self.create(b, 2)
        config_b = self.ini(self.vcsim.server,
                            vcenter_backend_name='cinder-b')
        for config, mine, other, owner in (
                (self.config, ours, theirs, 'cinder-b@' + FOLDER),
                (config_b, theirs, ours, 'cinder-a@' + FOLDER)):
            # Each backend's audit gets only its own volumes' ids.
            ids = self.ids_file(*mine)
            proc = self.audit(ids, config=config)
            self.assertExit(0, proc)
            report = self.json_of(proc)
            self.assertEqual([], report['findings'])
            self.assertEqual(2, report['backings'])
            self.assertEqual({owner: 2}, report['foreign_backings'])
            proc = self.audit(ids, '--fix', '--yes', '--max-orphan-percent',
                              '100', config=config)
            self.assertExit(0, proc)
            self.assertEqual([], self.json_of(proc)['findings'])
            proc = self.cli('--format', 'json', 'volumes', config=config)
            self.assertExit(0, proc)
            self.assertEqual({v.id for v in mine},
                             {r['volume_id'] for r in self.json_of(proc)})
        after = self.backings()
        self.assertEqual({v.id for v in ours + theirs}, set(after))
        self.assertEqual({'cinder-a@' + FOLDER},
                         {after[v.id].owner for v in ours})
        self.assertEqual({None}, {after[v.id].quarantined
                                  for v in ours + theirs})

    def test_backings_of_earlier_releases_count_when_in_the_folder(self):
        (legacy,) = self.create(self.a)
        ref = self.a.ops.find_vm_by_instance_uuid(legacy.id)
        self.a.ops.set_extra_config(ref, {specs.KEY_BACKEND: ''}, 'test')
        proc = self.cli('audit', '--volume-ids', self.ids_file(legacy),
                        config=self.config)
        self.assertExit(0, proc)
        self.assertIn('1 backing(s) record no owner (made by an earlier '
                      'release) and count as this backend\'s', proc.stdout)
        proc = self.cli('--format', 'json', 'volumes', config=self.config)
        (row,) = self.json_of(proc)
        self.assertEqual((legacy.id, 'legacy'),
                         (row['volume_id'], row['ownership']))

    def test_partial_id_list_is_refused(self):
        volumes = self.create(self.a, 4)
        ids = self.ids_file(volumes[0])
        proc = self.audit(ids, '--fix', '--yes')
        self.assertExit(2, proc)
        self.assertIn('refusing to --fix: 3 of the 4 volume ids', proc.stderr)
        self.assertIn('--max-orphan-percent', proc.stderr)
        after = self.backings()
        self.assertEqual({v.id for v in volumes}, set(after))
        self.assertEqual({None}, {b.quarantined for b in after.values()})

        # A complete list quarantines the one orphan; a purge with the
        # partial list is refused as well.
        proc = self.audit(self.ids_file(*volumes[:3]), '--fix', '--yes')
        self.assertExit(0, proc)
        self.assertTrue(self.backings()[volumes[3].id].quarantined)
        proc = self.audit(ids, '--purge', '--yes', '--grace', '0')
        self.assertExit(2, proc)
        self.assertIn('refusing to --purge: 2 of the 3 volume ids',
                      proc.stderr)
        self.assertIn(volumes[3].id, self.backings())
        proc = self.audit(self.ids_file(*volumes[:3]), '--purge', '--yes',
                          '--grace', '0')
        self.assertExit(0, proc)
        self.assertEqual({v.id for v in volumes[:3]}, set(self.backings()))

    def test_quarantine_restore_then_purge(self):
        known = self.create(self.a, 2)
        lost, found = self.create(self.a, 2)
        proc = self.audit(self.ids_file(*known), '--fix', '--yes')
        self.assertExit(0, proc)
        self.assertEqual(
            {(lost.id, 'done'), (found.id, 'done')},
            {(f['volume_id'], f['result'])
             for f in self.json_of(proc)['findings']})
        for volume in (lost, found):
            self.assertEqual('Volumes/quarantine',
                             self.folder_name_of(volume))
            self.assertTrue(self.backings()[volume.id].quarantined)
        # A quarantined volume still works through the driver.
        self.a.extend_volume(found, 2)

        # Cinder knew one of them after all: --fix brings it back.
        ids = self.ids_file(*known, found)
        proc = self.audit(ids)
        self.assertExit(1, proc)
        kinds = {f['volume_id']: (f['kind'], f['action'])
                 for f in self.json_of(proc)['findings']}
        self.assertEqual(('quarantined-known-volume',
                          'restore from quarantine'), kinds[found.id])
        self.assertEqual('quarantined-backing', kinds[lost.id][0])
        self.assertIn('--purge after', kinds[lost.id][1])
        proc = self.audit(ids, '--fix', '--yes')
        self.assertExit(0, proc)
        self.assertEqual('OpenStack/Volumes', self.folder_name_of(found))
        self.assertIsNone(self.backings()[found.id].quarantined)

        # In its grace period (a week by default) nothing is purged.
        proc = self.audit(ids, '--purge', '--yes')
        self.assertExit(0, proc)
        self.assertIn(lost.id, self.backings())
        proc = self.audit(ids, '--purge', '--yes', '--grace', '0')
        self.assertExit(0, proc)
        self.assertEqual({v.id for v in known + [found]},
                         set(self.backings()))

    def test_duplicates_of_a_known_volume_are_reported_and_kept(self):
        (volume,) = self.create(self.a)
        place = self.a.placement.choose(1, 'thin')
        spec = specs.backing_config_spec(
            self.session.factory, 'volume-%s-copy' % volume.id, volume.id,
            1, 'thin', 'lsiLogic', place.datastore_name, 128,
            owner=self.a.backend_id)
        self.a.ops.create_backing(
            self.a._volume_folder(place.vm_folder),
            inventory.to_suds(place.resource_pool),
            inventory.to_suds(place.host), spec, 'test')
        backings, _ = listing.read(self.session, devices=False)
        self.assertEqual(2, sum(1 for b in backings
                                if b.volume_id == volume.id))
        ids = self.ids_file(volume, str(uuid.uuid4()))
        proc = self.audit(ids, '--fix', '--yes')
        self.assertExit(1, proc)
        report = self.json_of(proc)
        dups = [f for f in report['remaining']
                if f['kind'] == 'duplicate-backing']
        self.assertEqual(2, len(dups))
        self.assertEqual({volume.id}, {f['volume_id'] for f in dups})
        self.assertIn('2 backings carry this volume id', dups[0]['detail'])
        self.assertEqual(2, report['summary']['duplicate-backing'])
        backings, _ = listing.read(self.session, devices=False)
        self.assertEqual(2, sum(1 for b in backings
                                if b.volume_id == volume.id))
