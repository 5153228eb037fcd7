"""Connections: what Nova needs to attach a volume, and attach itself.
"""

from oslo_log import log as logging

from vmware_backend import exceptions
from vmware_backend.volume import backups
from vmware_backend.volume import multiattach
from vmware_backend.volume import qos
from vmware_backend.volume import volume_types
from vmware_backend.vsphere import inventory
from vmware_backend.vsphere import ops as vsphere_ops
from vmware_backend.vsphere import specs

LOG = logging.getLogger(__name__)

STORAGE_PROTOCOL = 'vmdk'


class ConnectionMixin:
    """Connection info for Nova and the instance-side attach/detach."""

    def initialize_connection(self, volume, connector):
        """Connection info in the format Nova's vmwareapi driver reads.

        Called once per attachment (several for a multi-attach volume).
        When ``connector['instance']`` names an instance VM whose host
        cannot see the backing's datastore, the backing is first moved to a
        datastore that host mounts; never while other VMs have the volume
        attached (refused). ``qos_specs``: the volume type's QoS
        specs when their consumer is ``front-end`` or ``both`` (the form
        Cinder's volume manager and Nova read), else None. Never contains
        credentials. For Cinder's backup service the disk is staged in a
        local file instead (:mod:`.backups`).
        """
        staged = self._stage_for_backup(volume, connector)
        if staged is not None:
            return staged
        ref, props = self._require_backing(
            volume.id, vsphere_ops.PLACE_PROPERTIES, markers=False)
        instance = (connector or {}).get('instance')
        if instance:
            self._make_visible_to(volume, ref, props, instance)
        return {
            'driver_volume_type': STORAGE_PROTOCOL,
            'data': {
                'volume': vsphere_ops.moref_value(ref),
                'volume_id': volume.id,
                'name': volume_types.volume_name(volume),
                'profile_id': None,
                'qos_specs': qos.front_end_specs(volume),
                'access_mode': 'rw',
                'encrypted': False,
            },
        }

    def terminate_connection(self, volume, connector, **kwargs):
        """Nothing to undo for Nova (it attaches itself).

        After Cinder's backup service: a restored disk is imported and the
        staged file removed (:mod:`.backups`).
        """
        if backups.is_cinder_host(connector):
            self._unstage(volume)
        return None

    def _make_visible_to(self, volume, ref, props, instance):
        inst_ref = vsphere_ops.moref('VirtualMachine', instance)
        host = self.ops.properties(inst_ref, ('runtime.host',),
                                   target='instance %s' % instance)
        host = host.get('runtime.host')
        if host is None:
            return
        mounted = {pool.datastore.value for pool in
                   self.placement.datastores_for_host(host)}
        current = [vsphere_ops.moref_value(d) for d in
                   vsphere_ops.ref_list(props.get('datastore'))]
        if any(value in mounted for value in current):
            return
        # To move it: its markers and disk (read again, all of them).
        ref, props = self._require_backing(volume.id)
        extra = vsphere_ops.extra_config_dict(props)
        if extra.get(specs.KEY_PARENT) or specs.clone_markers(extra):
            raise exceptions.VolumeAttachmentError(
                action='attach', volume=volume.id, instance=instance,
                reason='its host cannot see the volume\'s datastore and '
                       'linked clones tie the volume to it')
        others = self.ops.attachment_marks(
            vsphere_ops.ref_list(props.get('datastore')), volume.id)
        others.pop(instance, None)
        if others:
            # A multi-attach volume in use elsewhere: never moved.
            raise exceptions.VolumeAttachmentError(
                action='attach', volume=volume.id, instance=instance,
                reason='its host cannot see the volume\'s datastore and '
                       'VM(s) %s have the volume attached, so it cannot '
                       'move; attach it to an instance on a host that '
                       'mounts datastore(s) %s' % (
                           ', '.join(sorted(others)), ', '.join(current)))
        if self._shared(props, volume.id):
            raise exceptions.VolumeAttachmentError(
                action='attach', volume=volume.id, instance=instance,
                reason='its host cannot see the volume\'s datastore(s) %s '
                       'and %s' % (', '.join(current), multiattach.NO_MOVE))
        size = self._disk(props, volume.id).capacityInKB // (1024 * 1024)
        place = self.placement.choose(
            size, volume_types.profile(volume, self.options).disk_type,
            target='volume %s' % volume.id, host=inventory.from_suds(host))
        LOG.info('Moving volume %s to datastore %s, which host %s of '
                 'instance %s mounts.', volume.id, place.datastore_name,
                 vsphere_ops.moref_value(host), instance)
        self.ops.relocate(ref, specs.relocate_spec(
            self.session.factory, inventory.to_suds(place.datastore),
            host=inventory.to_suds(place.host),
            resource_pool=inventory.to_suds(place.resource_pool)),
            'volume %s' % volume.id)
        self.placement.invalidate()

    def attach_volume(self, instance_ref, volume):
        """Attach the volume's vmdk file to an instance VM.

        A volume whose disk has the multi-writer flag (multi-attach) may be
        attached to several instances, each opening it multi-writer too;
        any other volume already attached to another VM is refused.

        The instance's disk gets the front-end QoS of the volume type (see
        :func:`qos.front_end_allocation`). Attaching an already attached
        volume is a no-op (idempotent).
        """
        io = qos.front_end_allocation(volume)
        inst = self._instance(instance_ref)
        props = self._require_backing(volume.id)[1]
        disk = self._disk(props, volume.id)
        inst_props = self.ops.properties(inst, vsphere_ops.INSTANCE_PROPERTIES)
        devices = vsphere_ops.devices_of(inst_props)
        file_name = disk.backing.fileName
        if self._attached_disk(inst_props, volume.id, file_name) is not None:
            LOG.info('Volume %s is already attached to %s.', volume.id,
                     vsphere_ops.moref_value(inst))
            return
        self._refuse_second_attach(volume.id, props,
                                   vsphere_ops.moref_value(inst))
        adapter = volume_types.profile(volume, self.options).adapter_type
        key, unit, bus = specs.find_slot(devices, adapter)
        if key is None:
            raise exceptions.VolumeAttachmentError(
                action='attach', volume=volume.id,
                instance=vsphere_ops.moref_value(inst),
                reason='no free %s controller slot' % adapter)
        new_controller = None
        if bus is not None:
            new_controller = specs.controller_spec(
                self.session.factory, adapter, key, bus_number=bus)
        spec = specs.attach_disk_spec(
            self.session.factory, file_name, key, unit, volume.id,
            disk_uuid=getattr(disk.backing, 'uuid', None),
            new_controller=new_controller,
            multiattach=self._shared(props, volume.id))
        specs.set_io_allocation(self.session.factory, spec, **io._asdict())
        self.ops.reconfigure(inst, spec, 'instance %s'
                             % vsphere_ops.moref_value(inst))
        LOG.info('Attached volume %s to %s.', volume.id,
                 vsphere_ops.moref_value(inst))

    def detach_volume(self, instance_ref, volume):
        """Remove the volume's disk from the instance, keeping its file.

        Other instances a multi-attach volume is attached to keep it.

        Detaching a volume that is not attached is a no-op (idempotent).
        """
        inst = self._instance(instance_ref)
        found = self._backing(volume.id)
        file_name = None
        if found is not None:
            file_name = self._disk(found[1], volume.id).backing.fileName
        inst_props = self.ops.properties(inst, vsphere_ops.INSTANCE_PROPERTIES)
        disk = self._attached_disk(inst_props, volume.id, file_name)
        if disk is None:
            LOG.info('Volume %s is not attached to %s.', volume.id,
                     vsphere_ops.moref_value(inst))
            return
        self.ops.reconfigure(
            inst, specs.detach_disk_spec(self.session.factory, disk,
                                         volume.id),
            'instance %s' % vsphere_ops.moref_value(inst))
        LOG.info('Detached volume %s from %s.', volume.id,
                 vsphere_ops.moref_value(inst))

    @staticmethod
    def _instance(instance_ref):
        if isinstance(instance_ref, str):
            return vsphere_ops.moref('VirtualMachine', instance_ref)
        return instance_ref

    @staticmethod
    def _attached_disk(inst_props, volume_id, file_name):
        extra = vsphere_ops.extra_config_dict(inst_props)
        mark = extra.get(specs.ATTACH_KEY_PREFIX + volume_id)
        for disk in specs.disks(vsphere_ops.devices_of(inst_props)):
            backing = disk.backing
            if mark and mark in (getattr(backing, 'uuid', None),
                                 getattr(backing, 'fileName', None)):
                return disk
            if file_name and getattr(backing, 'fileName', None) == file_name:
                return disk
        return None
