"""Multi-attach: one volume attached to several instance VMs at once.

vSphere lets several VMs open one virtual disk when the disk is eagerly
zeroed thick and its backing's ``sharing`` is ``sharingMultiWriter`` on
every VM that opens it (the backing and each instance). The volume type
asks for it with Cinder's own extra spec ``multiattach='<is> True'``
(:func:`~vmware_backend.volume.volume_types.multiattach`); the disk type
and clone type that follow are checked in :func:`~vmware_backend.volume.
volume_types.profile`. The backing's disk on vCenter is what the driver
trusts afterwards: a disk with the multi-writer flag may be attached to
several instances, any other disk to one.

vSphere does not snapshot, clone or move (Storage vMotion) a VM whose disk
has the multi-writer flag (VMware KB 1034165), so snapshots, clones and
moves to another datastore of such a volume are refused, naming the fix.
"""

from oslo_log import log as logging

from vmware_backend import exceptions
from vmware_backend.volume import volume_types
from vmware_backend.vsphere import ops as vsphere_ops
from vmware_backend.vsphere import specs

LOG = logging.getLogger(__name__)

# What vSphere does not do with a VM whose disk has the multi-writer flag
# (VMware KB 1034165: snapshots, cloning, Storage vMotion), and the fix.
_UNSUPPORTED = ('its disk has vSphere\'s multi-writer flag and vSphere does '
                'not %%s a VM with such a disk; retype the volume to a type '
                'without %s=%r first (while it is detached)' % (
                    volume_types.SPEC_MULTIATTACH,
                    volume_types.MULTIATTACH_YES))
NO_SNAPSHOT = _UNSUPPORTED % 'snapshot'
NO_CLONE = _UNSUPPORTED % 'clone'
NO_MOVE = _UNSUPPORTED % 'move (Storage vMotion)'


class MultiAttachMixin:
    """The backing disk's sharing flag; mixed into the driver."""

    def _shared(self, props, volume_id):
        """Whether the backing's disk has the multi-writer flag."""
        return specs.sharing_of(self._disk(props, volume_id)) == \
            specs.SHARING_MULTI_WRITER

    def _set_sharing(self, volume_id, ref, props, multiattach):
        """Give the backing's disk the sharing ``multiattach`` asks for.

        :returns: the sharing it had before, or None when it already had
            the wanted one (nothing sent to vCenter).
        """
        disk = self._disk(props, volume_id)
        before = specs.sharing_of(disk)
        wanted = specs.sharing(multiattach)
        if before == wanted:
            return None
        self.ops.reconfigure(
            ref, specs.disk_sharing_spec(self.session.factory, disk, wanted),
            'volume %s' % volume_id)
        LOG.info('Volume %s: disk sharing now %s.', volume_id, wanted)
        return before

    def _set_sharing_of(self, volume_id, ref, multiattach):
        """:meth:`_set_sharing` after reading the backing's disk."""
        props = self.ops.properties(ref, vsphere_ops.BACKING_PROPERTIES,
                                    target='volume %s' % volume_id)
        return self._set_sharing(volume_id, ref, props, multiattach)

    def _clone_profile(self, volume, source_props, source_id):
        """The profile a clone of ``source_id`` is made with.

        A multi-attach source is refused (vSphere does not clone it). Full,
        never linked, for Cinder's
        image-volumes (image-volume cache entries, or an image's location
        with ``image_upload_use_cinder_backend``): they are cloned from a
        user's volume, which a linked clone would keep from being deleted.
        """
        if self._shared(source_props, source_id):
            raise exceptions.InvalidVolume(
                volume=source_id, reason='cannot make volume %s from it: %s'
                % (volume.id, NO_CLONE))
        profile = volume_types.profile(volume, self.options)
        if profile.clone_type == 'linked' and \
                volume_types.is_image_volume(volume):
            LOG.info('Volume %s is Cinder\'s image-volume %s: making a full '
                     'clone of volume %s, not a linked one.', volume.id,
                     volume_types.loaded_field(volume, 'display_name'),
                     source_id)
            profile = profile._replace(clone_type='full')
        return profile

    def _refuse_second_attach(self, volume_id, props, instance):
        """Refuse attaching a disk without multi-writer to a second VM.

        :returns: the attachment marks of other VMs ({} if none).
        """
        marks = self.ops.attachment_marks(
            vsphere_ops.ref_list(props.get('datastore')), volume_id)
        marks.pop(instance, None)
        if marks and not self._shared(props, volume_id):
            raise exceptions.VolumeAttachmentError(
                action='attach', volume=volume_id, instance=instance,
                reason='it is attached to VM(s) %s and is not a '
                       'multi-attach volume; detach it first, or retype it '
                       'to a volume type with %s=%r while it is detached' % (
                           ', '.join(sorted(marks)),
                           volume_types.SPEC_MULTIATTACH,
                           volume_types.MULTIATTACH_YES))
        return marks
