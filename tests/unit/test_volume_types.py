"""Reading sizes and extra specs of volumes."""

import types

import testtools

from vmware_backend import conf
from vmware_backend import exceptions
from vmware_backend.volume import volume_types


def volume(size=1, specs=None, **kw):
    vtype = types.SimpleNamespace(extra_specs=specs) if specs is not None \
        else None
    return types.SimpleNamespace(id='vol-1', name='volume-vol-1', size=size,
                                 volume_type=vtype, **kw)


class ProfileTest(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.options = conf.option_defaults()

    def test_defaults_without_type(self):
        self.assertEqual(('thin', 'lsiLogic', 'full', False),
                         tuple(volume_types.profile(volume(), self.options)))

    def test_configured_defaults(self):
        options = conf.option_defaults(vcenter_default_disk_type='thick',
                                       vcenter_default_adapter_type='ide')
        self.assertEqual(('thick', 'ide', 'full', False),
                         tuple(volume_types.profile(volume(), options)))

    def test_specs_win(self):
        vol = volume(specs={'vmware:vmdk_type': 'eagerZeroedThick',
                            'vmware:adapter_type': 'paraVirtual',
                            'vmware:clone_type': 'linked'})
        self.assertEqual(('eagerZeroedThick', 'paraVirtual', 'linked', False),
                         tuple(volume_types.profile(vol, self.options)))

    def test_unknown_value_names_spec_and_allowed(self):
        vol = volume(specs={'vmware:adapter_type': 'nvme'})
        err = self.assertRaises(exceptions.InvalidExtraSpec,
                                volume_types.profile, vol, self.options)
        text = str(err)
        self.assertIn('vmware:adapter_type', text)
        self.assertIn("'nvme'", text)
        self.assertIn('paraVirtual', text)
        self.assertIn('vol-1', text)

    def test_dict_volume_type(self):
        vol = types.SimpleNamespace(
            id='v', volume_type={'extra_specs': {'vmware:vmdk_type': 'thick'}})
        self.assertEqual('thick',
                         volume_types.profile(vol, self.options).disk_type)


class SizeTest(testtools.TestCase):

    def test_valid(self):
        self.assertEqual(3, volume_types.checked_size(volume(3)))
        self.assertEqual(3, volume_types.checked_size(volume(3.0)))
        self.assertEqual(5, volume_types.checked_size(volume(3), 5))

    def test_invalid(self):
        for bad in (0, -1, 1.5, '2', None, True):
            err = self.assertRaises(exceptions.InvalidVolume,
                                    volume_types.checked_size, volume(bad))
            self.assertIn(repr(bad), str(err))


class NamesTest(testtools.TestCase):

    def test_pool_name(self):
        self.assertEqual('ds1', volume_types.pool_name(
            volume(host='h@vmware#ds1')))
        self.assertIsNone(volume_types.pool_name(volume(host='h@vmware')))
        self.assertIsNone(volume_types.pool_name(volume()))

    def test_with_pool(self):
        self.assertEqual('h@vmware#ds2',
                         volume_types.with_pool('h@vmware#ds1', 'ds2'))
        self.assertEqual('c@vmware#ds2',
                         volume_types.with_pool('c@vmware', 'ds2'))
        self.assertIsNone(volume_types.with_pool(None, 'ds2'))

    def test_names(self):
        self.assertEqual('volume-vol-1', volume_types.volume_name(volume()))
        snap = types.SimpleNamespace(id='s1', name=None)
        self.assertEqual('snapshot-s1', volume_types.snapshot_name(snap))

    def test_in_use(self):
        self.assertTrue(volume_types.in_use(volume(status='in-use')))
        self.assertFalse(volume_types.in_use(volume(status='available')))
        # Cinder's extend of an attached volume: status is 'extending'.
        self.assertTrue(volume_types.in_use(volume(
            status='extending', attach_status='attached')))
        self.assertTrue(volume_types.in_use(volume(
            status='extending', previous_status='in-use')))
        self.assertFalse(volume_types.in_use(volume(
            status='extending', attach_status='detached',
            previous_status='available')))

    def test_in_use_never_lazy_loads(self):
        class Ovo(types.SimpleNamespace):
            def obj_attr_is_set(self, name):
                return name == 'status'

            def __getattr__(self, name):
                raise AssertionError('lazy load of %s' % name)

        self.assertFalse(volume_types.in_use(Ovo(status='extending')))


class MultiattachProfileTest(testtools.TestCase):
    """Cinder's multiattach extra spec and what it implies for the disk."""

    def setUp(self):
        super().setUp()
        self.options = conf.option_defaults()

    def test_cinder_spelling_only(self):
        for value in ('<is> True',):
            self.assertTrue(volume_types.multiattach(
                volume(specs={'multiattach': value})))
        # Cinder's API (volume/api.py _is_multiattach) takes no other.
        for value in ('True', 'true', '<is> true', '<is> False', ''):
            self.assertFalse(volume_types.multiattach(
                volume(specs={'multiattach': value})), value)
        self.assertFalse(volume_types.multiattach(volume()))

    def test_volume_field(self):
        # A clone of a multi-attach volume: Cinder sets the field.
        self.assertTrue(volume_types.multiattach(volume(multiattach=True)))
        self.assertFalse(volume_types.multiattach(volume(multiattach=False)))

    def test_eager_zeroed_full_by_default(self):
        options = conf.option_defaults(vcenter_default_disk_type='thin',
                                       vcenter_default_clone_type='linked')
        self.assertEqual(
            ('eagerZeroedThick', 'lsiLogic', 'full', True),
            tuple(volume_types.profile(
                volume(specs={'multiattach': '<is> True'}), options)))
        self.assertEqual(
            ('eagerZeroedThick', 'paraVirtual', 'full', True),
            tuple(volume_types.profile(volume(specs={
                'multiattach': '<is> True',
                'vmware:vmdk_type': 'eagerZeroedThick',
                'vmware:clone_type': 'full',
                'vmware:adapter_type': 'paraVirtual'}), options)))
        # A clone of a multi-attach volume (Cinder sets the field).
        self.assertEqual(
            ('eagerZeroedThick', 'lsiLogic', 'full', True),
            tuple(volume_types.profile(volume(multiattach=True), options)))

    def test_conflicting_disk_type_refused(self):
        for disk_type in ('thin', 'thick'):
            err = self.assertRaises(
                exceptions.InvalidExtraSpec, volume_types.profile,
                volume(specs={'multiattach': '<is> True',
                              'vmware:vmdk_type': disk_type}), self.options)
            self.assertIn("vmware:vmdk_type=%r" % disk_type, str(err))
            self.assertIn('set vmware:vmdk_type=eagerZeroedThick or remove '
                          'it', str(err))

    def test_linked_clone_refused(self):
        err = self.assertRaises(
            exceptions.InvalidExtraSpec, volume_types.profile,
            volume(specs={'multiattach': '<is> True',
                          'vmware:clone_type': 'linked'}), self.options)
        self.assertIn("vmware:clone_type='linked'", str(err))
        self.assertIn('set vmware:clone_type=full or remove it', str(err))


class ImageVolumeTest(testtools.TestCase):
    """Cinder's image-volumes: display_name image-<image uuid>."""

    def test_names(self):
        good = 'image-0f8fad5b-d9cb-469f-a165-70867728950e'
        self.assertTrue(volume_types.is_image_volume(
            volume(display_name=good)))
        for name in (None, '', 'image-', 'image-abc', good + 'x',
                     'x' + good, 'Image-0f8fad5b-d9cb-469f-a165-70867728950e',
                     'image-0F8FAD5B-D9CB-469F-A165-70867728950E'):
            self.assertFalse(volume_types.is_image_volume(
                volume(display_name=name)), name)
        self.assertFalse(volume_types.is_image_volume(volume()))
