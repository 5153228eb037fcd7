"""Cinder's image-volumes (image-volume cache entries) on vcsim.

Cinder clones a user's volume into its image-volume cache entry
(``image-<image id>``, internal tenant); later volumes of the image are
clones of that entry. The entry must never be a linked clone of the user's
volume, which could then not be deleted.
"""

from tests.functional import lifecycle_base as lb

IMAGE_ID = '0f8fad5b-d9cb-469f-a165-70867728950e'
LINKED = {'vmware:clone_type': 'linked'}


class ImageVolumeCloneTest(lb.LifecycleTestCase):

    def parent(self, volume):
        return lb.vsphere_ops.extra_config_dict(
            self.state(volume.id).props).get(lb.specs.KEY_PARENT)

    def test_cache_entry_full_then_linked_from_it(self):
        user = self.create(size=1, specs=LINKED)
        entry = lb.make_volume(1, LINKED)
        entry.display_name = 'image-%s' % IMAGE_ID
        self.driver.create_cloned_volume(entry, user)
        self.track(entry)
        # A full clone: no parent record, no snapshot of the user's volume.
        self.assertIsNone(self.parent(entry))
        self.assertEqual([], self.state(user.id).snapshot_names)
        # The next volume of the image: a linked clone of the entry.
        second = lb.make_volume(1, LINKED)
        self.driver.create_cloned_volume(second, entry)
        self.track(second)
        self.assertEqual('%s:clone-%s' % (entry.id, second.id),
                         self.parent(second))
        # The user's volume is deletable.
        self.driver.delete_volume(user)
        self.assertGone(user.id)
        # Another name: linked as the type says.
        other = lb.make_volume(1, LINKED)
        other.display_name = 'image-not-a-uuid'
        self.driver.create_cloned_volume(other, second)
        self.track(other)
        self.assertEqual('%s:clone-%s' % (second.id, other.id),
                         self.parent(other))
