"""Exact results of the volume-type helpers (written to kill mutants).

A mutation run (``tox -e mutation``) found these behaviours unpinned: each
test states an exact value a mutant of :mod:`vmware_backend.volume.
volume_types` changes.
"""

import types

import testtools

from vmware_backend import conf
from vmware_backend import exceptions
from vmware_backend.volume import volume_types as vt


class ExactTest(testtools.TestCase):

    def test_describe_uses_the_id_else_the_repr(self):
        self.assertEqual('v-1', vt.describe(types.SimpleNamespace(id='v-1')))
        self.assertEqual("namespace(id='')",
                         vt.describe(types.SimpleNamespace(id='')))

    def test_profile_type_and_fields(self):
        profile = vt.profile(types.SimpleNamespace(id='v', volume_type=None),
                             conf.option_defaults())
        self.assertEqual("VolumeProfile(disk_type='thin', "
                         "adapter_type='lsiLogic', clone_type='full', "
                         "multiattach=False)",
                         repr(profile))

    def test_extra_specs_attribute_wins_over_dict_access(self):
        # A volume type that is an object with extra_specs set is read by
        # attribute, even when it also supports dict access; a dict (no
        # attribute) is read by key.
        class Typed(dict):
            extra_specs = {'vmware:vmdk_type': 'thick'}
        vol = types.SimpleNamespace(
            id='v', volume_type=Typed(extra_specs={'vmware:vmdk_type': 'x'}))
        self.assertEqual({'vmware:vmdk_type': 'thick'}, vt.extra_specs(vol))
        vol.volume_type = {'extra_specs': {'vmware:vmdk_type': 'x'}}
        self.assertEqual({'vmware:vmdk_type': 'x'}, vt.extra_specs(vol))
        plain = types.SimpleNamespace(
            id='v', volume_type=types.SimpleNamespace(extra_specs=None))
        self.assertEqual({}, vt.extra_specs(plain))

    def test_empty_spec_value_means_the_default(self):
        vol = types.SimpleNamespace(id='v', volume_type=types.SimpleNamespace(
            extra_specs={'vmware:vmdk_type': ''}))
        self.assertEqual('thin',
                         vt.profile(vol, conf.option_defaults()).disk_type)
        vol.volume_type.extra_specs = {'vmware:vmdk_type': 'XXXX'}
        self.assertRaises(exceptions.InvalidExtraSpec, vt.profile, vol,
                          conf.option_defaults())

    def test_unknown_value_message(self):
        vol = types.SimpleNamespace(id='v-1', volume_type=types.
                                    SimpleNamespace(extra_specs={
                                        'vmware:clone_type': 'instant'}))
        err = self.assertRaises(exceptions.InvalidExtraSpec, vt.profile,
                                vol, conf.option_defaults())
        self.assertIn('full, linked', str(err))

    def test_one_gib_is_a_valid_size(self):
        self.assertEqual(1, vt.checked_size(types.SimpleNamespace(size=1)))

    def test_bad_size_message(self):
        err = self.assertRaises(exceptions.InvalidVolume, vt.checked_size,
                                types.SimpleNamespace(id='v-1', size=0))
        self.assertEqual('Invalid volume v-1: size 0 is not a positive whole '
                         'number of GiB; give a size from 1 to 63488 GiB',
                         str(err))

    def test_pool_name_keeps_everything_after_the_first_hash(self):
        self.assertEqual('dc#ds', vt.pool_name(
            types.SimpleNamespace(host='h@b#dc#ds')))
        self.assertIsNone(vt.pool_name(types.SimpleNamespace(host=None)))

    def test_default_names(self):
        vol = types.SimpleNamespace(id='v-1')
        self.assertEqual('volume-v-1', vt.volume_name(vol))
        self.assertEqual('volume-v-1', vt.volume_name(
            types.SimpleNamespace(id='v-1', name='')))
        self.assertEqual('custom', vt.volume_name(
            types.SimpleNamespace(id='v-1', name='custom')))
        snap = types.SimpleNamespace(id='s-1')
        self.assertEqual('snapshot-s-1', vt.snapshot_name(snap))
        self.assertEqual('snap-x', vt.snapshot_name(
            types.SimpleNamespace(id='s-1', name='snap-x')))

    def test_quoted_id_shortens_past_60_characters(self):
        self.assertEqual(repr('x' * 58), vt.quoted_id('x' * 58))
        self.assertEqual("'" + 'x' * 59 + '... (59 characters)',
                         vt.quoted_id('x' * 59))
        self.assertEqual("'" + 'x' * 59 + '... (300 characters)',
                         vt.quoted_id('x' * 300))

    def test_attaching_and_detaching_are_in_use(self):
        for status in ('in-use', 'attaching', 'detaching'):
            self.assertTrue(vt.in_use(types.SimpleNamespace(status=status)),
                            status)
        self.assertFalse(vt.in_use(types.SimpleNamespace(status='error')))

    def test_every_unknown_vmware_key_is_checked(self):
        # A key of another namespace sorted first must not end the check.
        vol = types.SimpleNamespace(id='v-1', volume_type=types.
                                    SimpleNamespace(extra_specs={
                                        'capabilities:x': '1',
                                        'vmware:vmdktype': 'thin'}))
        err = self.assertRaises(exceptions.UnknownExtraSpec, vt.profile,
                                vol, conf.option_defaults())
        self.assertEqual(
            "Volume type of volume v-1 has the unknown extra spec "
            "'vmware:vmdktype'; did you mean vmware:vmdk_type? the vmware: "
            "extra specs this driver knows are vmware:adapter_type, "
            "vmware:clone_type, vmware:iops_limit, vmware:iops_reservation, "
            "vmware:shares, vmware:shares_level, vmware:storage_profile, "
            "vmware:vmdk_type (remove or rename the key)",
            str(err))
        vol.volume_type.extra_specs = {'vmware:zzz': '1'}
        err = self.assertRaises(exceptions.UnknownExtraSpec, vt.profile,
                                vol, conf.option_defaults())
        self.assertIn("'vmware:zzz'; the vmware: extra specs", str(err))

    def test_too_large_size_message(self):
        err = self.assertRaises(exceptions.InvalidVolume, vt.checked_size,
                                types.SimpleNamespace(id='v-1', size=63489))
        self.assertEqual(
            'Invalid volume v-1: size 63489 GiB is larger than the largest '
            'virtual disk vSphere supports (62 TiB = 63488 GiB); give a size '
            'from 1 to 63488 GiB', str(err))

    def test_non_uuid_id_message(self):
        err = self.assertRaises(exceptions.InvalidVolume, vt.checked_id,
                                'vol-1')
        self.assertEqual(
            "Invalid volume 'vol-1': the volume id is not a UUID (like "
            "0f8fad5b-d9cb-469f-a165-70867728950e); Cinder volume ids are "
            "UUIDs, so pass the id Cinder gave the volume", str(err))


class _VersionedObject:
    """Like a Cinder versioned object: reading an unset field loads it."""

    fields = {'source_volid': None, 'status': None}

    def __init__(self, **values):
        self._values = values
        self.plain = 'plain value'

    def obj_attr_is_set(self, name):
        return name in self._values

    def __getattr__(self, name):
        if name in self._values:
            return self._values[name]
        raise AssertionError('lazy load of %s' % name)


class LoadedFieldTest(testtools.TestCase):

    def test_unset_field_is_none_without_a_load(self):
        self.assertIsNone(vt.loaded_field(_VersionedObject(), 'source_volid'))

    def test_set_field_is_read(self):
        obj = _VersionedObject(source_volid='v-1')
        self.assertEqual('v-1', vt.loaded_field(obj, 'source_volid'))

    def test_attribute_that_is_no_field_is_read(self):
        self.assertEqual('plain value',
                         vt.loaded_field(_VersionedObject(), 'plain'))

    def test_plain_objects(self):
        obj = types.SimpleNamespace(source_volid='v-2')
        self.assertEqual('v-2', vt.loaded_field(obj, 'source_volid'))
        self.assertIsNone(vt.loaded_field(obj, 'snapshot_id'))
