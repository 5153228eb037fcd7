"""Giving an adopted VM back: what changes, who is named."""

import json
import types

import testtools

from tests.unit import test_manage_refs as tr
from vmware_backend import exceptions
from vmware_backend.volume import manage_refs as refs
from vmware_backend.volume import manage_revert as revert
from vmware_backend.vsphere import ops as vsphere_ops

VOLUME = '0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0'
ORIGIN = {'name': 'web-1', 'instanceUuid': 'uuid-web-1', 'moref': 'vm-7',
          'folder': 'group-v3'}


def option(key, value):
    return types.SimpleNamespace(key=key, value=value)


def props(name, uuid, folder, extra):
    return {'name': name, 'config.instanceUuid': uuid,
            'parent': vsphere_ops.moref('Folder', folder),
            'config.extraConfig': types.SimpleNamespace(OptionValue=[
                option(k, v) for k, v in extra.items()])}


class GiveBackChangesTest(testtools.TestCase):

    def test_adopted_vm_gets_everything_back(self):
        adopted = props('volume-' + VOLUME, VOLUME, 'group-v99', {
            'vmware_backend.managed': 'true',
            'vmware_backend.volume_id': VOLUME,
            'vmware_backend.created': '1700000000',
            'vmware_backend.imported_from': json.dumps(ORIGIN),
            'guestinfo.owner': 'kept'})
        config, folder = revert.give_back_changes(adopted, ORIGIN)
        self.assertEqual({'name': 'web-1', 'instanceUuid': 'uuid-web-1',
                          'extraConfig': {
                              'vmware_backend.managed': '',
                              'vmware_backend.volume_id': '',
                              'vmware_backend.created': '',
                              'vmware_backend.imported_from': ''}},
                         config)
        self.assertEqual('group-v3', folder)

    def test_moved_only(self):
        # the reconfigure failed before its work; only the move happened
        moved = props('web-1', 'uuid-web-1', 'group-v99', {})
        self.assertEqual(({}, 'group-v3'),
                         revert.give_back_changes(moved, ORIGIN))

    def test_untouched_vm_needs_no_call(self):
        same = props('web-1', 'uuid-web-1', 'group-v3', {'a': 'b'})
        self.assertEqual(({}, None), revert.give_back_changes(same, ORIGIN))

    def test_older_record_without_folder_is_not_moved(self):
        old = dict(ORIGIN)
        del old['folder']
        moved = props('web-1', 'uuid-web-1', 'group-v99', {})
        self.assertEqual(({}, None), revert.give_back_changes(moved, old))

    def test_origin_of_bad_json(self):
        self.assertEqual({}, revert.origin_of(
            {'vmware_backend.imported_from': '{not json'}))
        self.assertEqual({}, revert.origin_of({}))
        self.assertEqual({'file': '[ds] a.vmdk'}, revert.origin_of(
            {'vmware_backend.imported_from': '{"file": "[ds] a.vmdk"}'}))


class AdoptedElsewhereTest(testtools.TestCase):

    def adopted(self):
        return tr.vm('volume-' + VOLUME, [tr.disk('[ds] v/v.vmdk')],
                     uuid=VOLUME, extra={
                         'vmware_backend.volume_id': VOLUME,
                         'vmware_backend.imported_from': json.dumps(ORIGIN)})

    def test_names_the_volume_and_what_to_do(self):
        for key in ('uuid-web-1', 'vm-7'):
            err = self.assertRaises(
                exceptions.InvalidReference, refs.refuse_adopted_elsewhere,
                [tr.vm('other', []), self.adopted()], key)
            self.assertIn('VM web-1 (%s) was already imported as volume %s'
                          % (key, VOLUME), str(err))
            self.assertIn('delete it', str(err))

    def test_unknown_vm_passes(self):
        self.assertIsNone(refs.refuse_adopted_elsewhere(
            [self.adopted(), tr.vm('x', [], extra={
                'vmware_backend.imported_from': '{bad'})], 'uuid-other'))
