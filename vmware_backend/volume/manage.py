"""Importing existing disks ("manage"), unmanaging, the manageable listing.

The decisions are in :mod:`.manage_refs`; this module does the I/O:

* ``source-id`` (a VM with one disk): adopted in place. It is moved into
  the volume folder (``Folder.MoveIntoFolder_Task``), then one
  ``ReconfigVM_Task`` renames it, sets ``instanceUuid`` to the volume id,
  writes this backend's extraConfig marks (plus where it came from) and
  grows its disk to whole GiB if needed. A failed reconfigure moves it back.
* ``source-name`` ``<vmdk>@<vm path>``: the disk is detached from its
  (powered-off) VM, its file kept where it is, and a new backing is created
  whose disk is that file (a VirtualDisk with ``fileName`` and no
  ``fileOperation``); ``[datastore] path.vmdk``: a loose file, checked with
  ``HostDatastoreBrowser.SearchDatastore_Task``, wrapped the same way. On
  failure the new backing is removed *after* its disk is detached (so the
  file survives) and the disk is attached to its VM again.

A volume type's storage policy (``vmware:storage_profile``) is applied to
the backing and its disk in that same reconfigure or create spec; a disk
on a datastore that does not comply with it is refused (it stays where it
is: an import never moves a disk).

Every import first reads all VMs once (:mod:`vmware_backend.vsphere.
vm_disks`, one paged ContainerView read) to know whether another VM uses the
disk or reads from it (linked clones), the same read the listing makes.
"""

import json

from oslo_log import log as logging

from vmware_backend import exceptions
from vmware_backend.volume import datastore as datastore_mod
from vmware_backend.volume import manage_disks
from vmware_backend.volume import manage_refs as refs
from vmware_backend.volume import manage_revert
from vmware_backend.volume import pool_names
from vmware_backend.volume import qos
from vmware_backend.volume import undo as undo_mod
from vmware_backend.volume import volume_types
from vmware_backend.vsphere import inventory
from vmware_backend.vsphere import ops as vsphere_ops
from vmware_backend.vsphere import specs
from vmware_backend.vsphere import storage_policies
from vmware_backend.vsphere import vm_disks

LOG = logging.getLogger(__name__)

KEY_IMPORTED_FROM = manage_revert.KEY_IMPORTED_FROM
MARK_KEYS = manage_revert.MARK_KEYS


class _Plan:
    """What an import of one reference will do (see ``_import_plan``)."""

    def __init__(self, ref, vm=None, disk=None, capacity_kb=None,
                 done=False, pool=None, policy=None):
        self.ref = ref
        self.vm = vm
        self.disk = disk
        self.capacity_kb = capacity_kb
        self.done = done
        # The disk's own pool, when Cinder chose another one (a cluster).
        self.pool = pool
        # The volume type's storage policy (storage_policies.Policy).
        self.policy = policy

    @property
    def size(self):
        return refs.size_gb(self.capacity_kb)

    @property
    def file_name(self):
        return self.disk.file_name if self.disk is not None else self.ref.file


class ManageMixin(manage_disks.DatastoreDiskMixin,
                  manage_revert.ImportRevertMixin):
    """manage_existing, unmanage and the manageable listing."""

    # The paged VM reads parse the pages' XML (vm_disks.read); the
    # benchmark turns this off on a driver to measure suds parsing.
    raw_reads = True

    # Import ----------------------------------------------------------------

    def manage_existing_get_size(self, volume, existing_ref):
        """Size in GiB (rounded up) of the disk ``existing_ref`` names.

        Makes every check :meth:`manage_existing` makes, changes nothing.
        """
        try:
            return self._import_plan(volume, existing_ref).size
        except exceptions.InvalidReference as err:
            err.kwargs.setdefault('existing_ref', existing_ref)
            raise

    def manage_existing(self, volume, existing_ref):
        """Make the disk ``existing_ref`` names the volume's disk.

        :raises exceptions.InvalidReference: naming why the disk cannot be
            imported (ambiguous, attached to a powered-on VM, in a snapshot
            chain, a linked clone's parent, already managed, ...).
        """
        qos.allocation(volume)  # a bad QoS value imports nothing
        self._storage_policy(volume)  # an unknown policy imports nothing
        try:
            plan = self._import_plan(volume, existing_ref)
        except exceptions.InvalidReference as err:
            err.kwargs.setdefault('existing_ref', existing_ref)
            raise
        if plan.done:
            LOG.info('Volume %s already has the disk %s.', volume.id,
                     plan.file_name)
            return None
        if plan.ref.kind == refs.VM:
            self._adopt(volume, plan)
        else:
            self._wrap(volume, plan)
        LOG.info('Imported %s as volume %s (%s GiB).', existing_ref,
                 volume.id, plan.size)
        if plan.pool:
            return {'host': volume_types.with_pool(volume.host, plan.pool),
                    'cluster_name': volume_types.with_pool(
                        volume.cluster_name, plan.pool)}
        return None

    def _import_plan(self, volume, existing_ref):
        ref = refs.parse_reference(existing_ref)
        done = self._already_imported(volume, ref)
        if done is not None:
            return done
        vms = vm_disks.read(self.session, raw=self.raw_reads)
        users = vm_disks.file_users(vms)
        children = vm_disks.parent_files(vms)
        if ref.kind == refs.VM:
            found = [v for v in vms
                     if ref.vm_id in (v.instance_uuid, v.ref.value)]
            if not found:
                refs.refuse_adopted_elsewhere(vms, ref.vm_id)
            vm = self._one(ref.vm_id, found, 'VM with instanceUuid or moref')
            reason = refs.vm_refusal(vm, users, children)
            disk = vm.disks[0] if reason is None else None
        elif ref.kind == refs.VM_DISK:
            vm = self._one(ref.vm_path, [v for v in vms
                                         if v.inventory_path == ref.vm_path],
                           'VM at inventory path')
            disks = [d for d in vm.disks if d.file_name == ref.file]
            if not disks:
                raise exceptions.InvalidReference(
                    reason='VM %s has no disk %s; its disks: %s' % (
                        vm.name, ref.file,
                        ', '.join(d.file_name for d in vm.disks) or 'none'))
            disk = disks[0]
            reason = refs.disk_refusal(vm, disk, users, children)
        else:
            vm = None
            disk = self._loose_disk(ref.file)
            reason = refs.disk_refusal(None, disk, users, children)
        if reason:
            raise exceptions.InvalidReference(reason=reason)
        pool = self._check_pool(volume, disk.datastore_name)
        policy = self._storage_policy(volume)
        if policy is not None:
            compliant, _why = self._compliant(policy)
            if self.placement.find_datastore(disk.datastore_name) not in \
                    compliant:
                raise exceptions.InvalidReference(
                    reason='the disk is on datastore %s, which does not '
                           'comply with storage policy %s of the volume '
                           'type; move the disk to a compliant datastore '
                           'first, or import it with a type without that '
                           'policy' % (disk.datastore_name, policy.name))
        return _Plan(ref, vm=vm, disk=disk, capacity_kb=disk.capacity_kb,
                     pool=pool, policy=policy)

    @staticmethod
    def _one(key, found, what):
        if not found:
            raise exceptions.InvalidReference(reason='no %s %s' % (what, key))
        if len(found) > 1:
            raise exceptions.InvalidReference(
                reason='ambiguous: %d VMs match %s %s (%s); use the moref '
                       'value as source-id' % (len(found), what, key,
                                               ', '.join(v.ref.value
                                                         for v in found)))
        return found[0]

    def _already_imported(self, volume, ref):
        """The plan of a retried import that already happened, or None.

        :raises exceptions.InvalidReference: another VM has the volume id.
        """
        found = self._backing(volume.id)
        if found is None:
            return None
        vm_ref, props = found
        extra = vsphere_ops.extra_config_dict(props)
        disk = self._disk(props, volume.id)
        try:
            origin = json.loads(extra.get(KEY_IMPORTED_FROM) or '{}')
        except ValueError:
            origin = {}
        if extra.get(specs.KEY_VOLUME_ID) == volume.id and (
                ref.file == disk.backing.fileName if ref.file
                else ref.vm_id in (origin.get('instanceUuid'),
                                   origin.get('moref'))):
            return _Plan(ref, capacity_kb=disk.capacityInKB, done=True)
        raise exceptions.InvalidReference(
            reason='VM %s already has the id of volume %s as instanceUuid'
                   % (props.get('name'), volume.id))

    def _check_pool(self, volume, datastore_name):
        """None, or the disk's pool to report instead of the volume's.

        Cinder's API keeps only the backend of ``--host`` when the service
        is in a cluster, and its scheduler then picks any pool: for a
        clustered volume the disk's own pool is taken (reported by
        :meth:`manage_existing`); otherwise another pool is refused.
        """
        moved = None
        pool = volume_types.pool_name(volume)
        if pool:
            usable = self.placement.usable_pools()
            try:
                named = [p for p in usable if p.name == pool] or \
                    pool_names.legacy_matches(usable, pool)
            except exceptions.NoValidDatastore as err:
                raise exceptions.InvalidReference(reason=err.msg)
            if not any(p.datastore_name == datastore_name for p in named):
                right = [p.name for p in usable
                         if p.datastore_name == datastore_name]
                if len(right) != 1 or not getattr(volume, 'cluster_name',
                                                  None):
                    raise exceptions.InvalidReference(
                        reason='the disk is on datastore %s, not on pool '
                               '%s; use --host <host>@<backend>#%s'
                               % (datastore_name, pool,
                                  right[0] if len(right) == 1
                                  else datastore_name))
                moved = right[0]
        try:
            self.placement.place_on(datastore_name,
                                    target='the imported disk')
        except exceptions.NoValidDatastore as err:
            raise exceptions.InvalidReference(reason=err.msg)
        return moved

    def _marks(self, volume, origin):
        entries = specs.backing_extra_config(volume.id)
        entries[KEY_IMPORTED_FROM] = json.dumps(origin, sort_keys=True)
        return entries

    def _adopt(self, volume, plan):
        """Adopt a whole VM in place (source-id)."""
        vm = inventory.to_suds(plan.vm.ref)
        target = 'volume %s' % volume.id
        props = self.ops.properties(vm)
        disk = self._disk(props, volume.id)
        folder = self._volume_folder(plan.vm.vm_folder)
        parent = props.get('parent')
        changes = []
        if refs.needs_growth(plan.capacity_kb):
            changes = specs.extend_disk_spec(
                self.session.factory, disk, plan.size).deviceChange
        if getattr(disk.backing, 'diskMode', None) != \
                specs.DISK_MODE_BACKING:
            # Independent disks are left out of snapshots.
            disk.backing.diskMode = specs.DISK_MODE_BACKING
            changes = changes or [specs.create(
                self.session.factory, 'VirtualDeviceConfigSpec',
                operation='edit', device=disk)]
        wanted = qos.change_for(volume, disk)
        if wanted is not None:
            # The volume type's I/O allocation, in the same reconfigure.
            edit = specs.disk_io_edit(self.session.factory, disk,
                                      **wanted._asdict())
            if changes:
                changes[0].device.storageIOAllocation = \
                    edit.device.storageIOAllocation
            else:
                changes = [edit]
        if plan.policy is not None:
            # The policy for the disk in its edit, for the VM in vmProfile.
            changes = changes or [specs.create(
                self.session.factory, 'VirtualDeviceConfigSpec',
                operation='edit', device=disk)]
            changes[0].profile = [storage_policies.profile_spec(
                self.session.factory, plan.policy.profile_id)]
        origin = {'name': plan.vm.name,
                  'instanceUuid': plan.vm.instance_uuid,
                  'moref': plan.vm.ref.value,
                  'folder': vsphere_ops.moref_value(parent)}
        spec = specs.create(
            self.session.factory, 'VirtualMachineConfigSpec',
            name=specs.backing_name(volume_types.volume_name(volume)),
            instanceUuid=volume.id,
            extraConfig=specs.extra_config(self.session.factory, self._marks(
                volume, origin)),
            deviceChange=changes)
        if plan.policy is not None:
            spec.vmProfile = [storage_policies.profile_spec(
                self.session.factory, plan.policy.profile_id)]
        moved = vsphere_ops.moref_value(parent) != \
            vsphere_ops.moref_value(folder)
        with undo_mod.Undo(target) as undo:
            # The reconfigure may have done its work before it failed (or
            # lost its answer): name, instanceUuid, marks and folder are
            # put back as the VM says they are now.
            undo.push('giving VM %s back as it was' % plan.vm.name,
                      lambda: self._give_back(vm, origin, volume.id, target))
            if moved:
                self.session.invoke_task('MoveIntoFolder_Task', folder,
                                         target=target, list=[vm])
            self.ops.reconfigure(vm, spec, target)
        self._remember(volume.id, vm)

    def _wrap(self, volume, plan):
        """A new backing around an existing disk file (source-name)."""
        target = 'volume %s' % volume.id
        factory = self.session.factory
        place = self.placement.place_on(plan.disk.datastore_name,
                                        target=target)
        adapter = volume_types.profile(volume, self.options).adapter_type
        with undo_mod.Undo(target) as undo:
            if plan.vm is not None:
                adapter = self._detach_from_source(plan, undo, target)
            spec = specs.backing_config_spec(
                factory, specs.backing_name(volume_types.volume_name(volume)),
                volume.id, plan.size, 'thin', adapter,
                place.datastore_name,
                self.options['vcenter_backing_memory_mb'],
                extra_entries={KEY_IMPORTED_FROM: json.dumps(
                    {'file': plan.file_name,
                     'vm': plan.vm.name if plan.vm else None},
                    sort_keys=True)})
            old = spec.deviceChange[-1].device
            spec.deviceChange[-1] = specs.existing_disk_spec(
                factory, plan.file_name, plan.capacity_kb, old.controllerKey,
                old.unitNumber)
            specs.set_io_allocation(factory, spec,
                                    **qos.allocation(volume)._asdict())
            if plan.policy is not None:
                storage_policies.apply_to_backing(factory, spec,
                                                  plan.policy.profile_id)
            undo.push('removing the new backing (keeping %s)'
                      % plan.file_name,
                      lambda: self._unwrap(volume.id, plan.file_name))
            ref = self._in_volume_folder(
                place, lambda folder: self.ops.create_backing(
                    folder, inventory.to_suds(place.resource_pool),
                    inventory.to_suds(place.host), spec, target))
            if refs.needs_growth(plan.capacity_kb):
                props = self.ops.properties(ref)
                self.ops.reconfigure(ref, specs.extend_disk_spec(
                    factory, self._disk(props, volume.id), plan.size),
                    target)
        self._remember(volume.id, ref)

    def _detach_from_source(self, plan, undo, target):
        """Detach the disk from its VM; returns the disk's adapter type."""
        vm = inventory.to_suds(plan.vm.ref)
        props = self.ops.properties(vm)
        devices = vsphere_ops.devices_of(props)
        disk = [d for d in specs.disks(devices)
                if d.backing.fileName == plan.file_name][0]
        controller = [d for d in devices if d.key == disk.controllerKey]
        adapter = specs.CONTROLLER_ADAPTER.get(
            type(controller[0]).__name__ if controller else None, 'lsiLogic')
        factory = self.session.factory
        self.ops.reconfigure(vm, specs.remove_disk_spec(factory, disk),
                             target)

        def reattach():
            disk.key = -100
            change = specs.create(factory, 'VirtualDeviceConfigSpec',
                                  operation='add', device=disk)
            self.ops.reconfigure(vm, specs.create(
                factory, 'VirtualMachineConfigSpec', deviceChange=[change]),
                target)

        undo.push('attaching %s to VM %s again' % (plan.file_name,
                                                   plan.vm.name), reattach)
        return adapter

    def _unwrap(self, volume_id, file_name):
        """Remove a new backing made around ``file_name``, keeping the file."""
        self._remember(volume_id, None)
        ref = self.ops.find_vm_by_instance_uuid(volume_id)
        if ref is None:
            return
        props = self.ops.properties(ref)
        for disk in specs.disks(vsphere_ops.devices_of(props)):
            if disk.backing.fileName == file_name:
                self.ops.reconfigure(ref, specs.remove_disk_spec(
                    self.session.factory, disk), 'volume %s' % volume_id)
        self.ops.destroy(ref, 'volume %s' % volume_id)

    # Unmanage --------------------------------------------------------------

    def unmanage(self, volume):
        """Forget the volume: the backing stays, without this backend's marks.

        It keeps its name and ``instanceUuid`` (so ``source-id <volume id>``
        imports it again) and is listed as manageable. Refused for a linked
        clone and for a volume linked clones depend on.
        """
        found = self._backing(volume.id)
        if found is None:
            LOG.info('Volume %s has no backing; nothing to unmanage.',
                     volume.id)
            return
        ref, props = found
        extra = vsphere_ops.extra_config_dict(props)
        if extra.get(specs.KEY_PARENT):
            raise exceptions.InvalidVolume(
                volume=volume.id,
                reason='it is a linked clone of %s; unmanaging it would '
                       'leave its source unremovable'
                       % extra[specs.KEY_PARENT])
        clones = [key[len(specs.KEY_CLONE_PREFIX):]
                  for key in specs.clone_markers(extra)]
        if clones:
            raise exceptions.VolumeIsBusy(
                volume=volume.id,
                reason='linked clone(s) %s depend on its snapshots'
                       % ', '.join(sorted(clones)))
        try:
            self.ops.set_extra_config(ref, {key: '' for key in MARK_KEYS},
                                      'volume %s' % volume.id)
        except exceptions.VMwareBackendException:
            # A lost answer after vCenter removed the marks is done: the
            # marks, read again, decide.
            extra = vsphere_ops.extra_config_dict(self.ops.properties(
                ref, ('config.extraConfig',)))
            if any(extra.get(key) for key in MARK_KEYS):
                raise
            LOG.warning('The answer to unmarking the backing of volume %s '
                        'was lost; vCenter removed the marks.', volume.id)
        self._remember(volume.id, None)
        LOG.info('Unmanaged volume %s; its backing %s stays.', volume.id,
                 props.get('name'))

    # Listing ---------------------------------------------------------------

    def get_manageable_volumes(self, cinder_volumes, marker, limit, offset,
                               sort_keys, sort_dirs):
        """Disks on this backend's clusters that can be imported.

        One paged ContainerView read of all VMs; entries as Cinder's
        ``get_manageable_volumes`` returns them, paged and sorted as
        Cinder's ``volume_utils.paginate_entries_list`` does.
        """
        entries = self.manageable_entries(cinder_volumes)
        return refs.paginate(entries, marker, limit, offset, sort_keys,
                             sort_dirs)

    def manageable_entries(self, cinder_volumes=()):
        """All manageable-volume entries, unsorted (see above).

        Also the loose vmdk files of every pool, from one
        ``SearchDatastoreSubFolders_Task`` per datastore.
        """
        ids = {getattr(v, 'id', None) or v['id'] for v in cinder_volumes}
        inventory_ = self.placement.inventory()
        hosts, _missing = datastore_mod.cluster_hosts(
            inventory_, self.options.get('vcenter_cluster_names'))
        usable = self.placement.usable_pools()
        pools = {p.datastore_name: p.name for p in usable}
        vms = vm_disks.read(self.session, raw=self.raw_reads)
        entries = refs.candidates(vms, ids, hosts)
        disks = []
        for pool in usable:
            disks.extend(self._datastore_disks(pool))
        entries.extend(refs.loose_candidates(
            disks, vm_disks.file_users(vms), vm_disks.parent_files(vms)))
        for entry in entries:
            ds = entry['extra_info'].get('datastore')
            if ds in pools:
                entry['extra_info']['pool'] = pools[ds]
            elif entry['safe_to_manage']:
                entry['safe_to_manage'] = False
                entry['reason_not_safe'] = (
                    'datastore %s is not a pool of this backend' % ds)
        return entries
