"""The campaign's imports: manage_existing (source-id) and unmanage.

A mixin of :class:`~.campaign.Campaign`; each runs as Cinder runs it:

* manage: Cinder makes a volume record and calls ``manage_existing`` with
  ``{'source-id': <instanceUuid>}`` of a VM of nobody (a new one, or one
  an earlier unmanage left). A failure leaves the record
  ``error_managing``; the user deletes it (``delete_volume`` with the
  status ``error_managing_deleting``, retried after a failure) and asks
  again, which is a new record with a new id (up to ``RETRIES`` times).
  After every failed try and its delete the VM must be exactly as it was
  (name, instanceUuid, folder, disk, no mark); after a success there is
  exactly one backing of the new volume and no VM with the old identity;
* manage snapshot: a vSphere snapshot made outside Cinder on an available
  volume's backing is imported with ``manage_existing_snapshot``
  (``source-name``). A failure leaves Cinder's snapshot ``error``; the user
  deletes it (``delete_snapshot``) and asks again with a new snapshot
  record. The snapshot must then still be there under its own name (a
  delete after a failed import never removes the user's snapshot); after
  a success it is Cinder's (the lost/leaked snapshot checks) and its old
  name is gone;
* unmanage (Cinder's ``delete_volume(unmanage_only=True)``) of a volume
  without snapshots or linked clones, retried after a failure; after a
  success the record is gone from Cinder and the backing stays, with the
  name, folder and disk it had, without this backend's marks.

The invariant ``foreign VMs not as left`` (:mod:`.invariants`) reads that
back from the simulator with the other checks.
"""

from vmware_backend.testbed.faults import model as model_mod

OPERATIONS = (('manage', 1.5), ('unmanage', 1), ('manage snapshot', 1))
# Imports of new VMs, at most (after that: re-imports of unmanaged ones).
MAX_FOREIGN = 12


class ManageOperations:
    """manage / unmanage for :class:`Campaign`; :meth:`setup_manage` first."""

    def setup_manage(self, make_foreign, read_vm, make_snapshot=None):
        """How to make a VM of nobody and read one back.

        :param make_foreign: callable(uuid, name) -> its folder's moref
            value; creates a powered-off VM with one 1 GiB disk, no marks.
        :param read_vm: callable(instanceUuid) -> :class:`.foreign.Seen`
            (name, folder, disk sizes) or None; never faulted.
        :param make_snapshot: callable(volume id, name) -> whether it made
            a vSphere snapshot of the volume's backing; never faulted.
        """
        self.make_foreign = make_foreign
        self.read_vm = read_vm
        self.make_vm_snapshot = make_snapshot
        self._foreign_made = 0

    def manage_step(self, name):
        """Run ``manage`` or ``unmanage``; False when it does not apply."""
        if not hasattr(self, 'make_foreign'):
            return False
        if name == 'manage':
            return self.manage()
        if name == 'manage snapshot':
            return self.manage_snapshot()
        candidates = [v for v in self.model.extendable()
                      if not self.model.children_of(v.id)]
        if not candidates:
            return False
        return self.unmanage(self.rng.choice(candidates))

    def _foreign_vm(self):
        free = [f for f in self.model.foreign.values()
                if f.adopted_by is None and not f.pending]
        if self._foreign_made < MAX_FOREIGN and (
                not free or self.rng.random() < 0.5):
            uuid = self.new_id()
            name = 'foreign-%s' % uuid[:8]
            self.plan.pause()
            try:
                folder = self.make_foreign(uuid, name)
            finally:
                self.plan.resume()
            self._foreign_made += 1
            foreign = model_mod.ForeignVm(uuid, name, folder,
                                          [1024 * 1024])
            self.model.foreign[uuid] = foreign
            return foreign
        return self.rng.choice(free) if free else None

    def manage(self):
        foreign = self._foreign_vm()
        if foreign is None:
            return False
        for attempt in range(self.RETRIES + 1):
            volume = self.model.add_volume(self.new_id(), foreign.size,
                                           kind='managed')
            volume.status = 'managing'
            err = self._call('manage', self.driver.manage_existing,
                             volume.obj(), {'source-id': foreign.uuid},
                             retry=attempt > 0)
            if err is None:
                volume.status = model_mod.AVAILABLE
                volume.created_ok = True
                foreign.adopted_by = volume.id
                contents = getattr(self, 'contents', None)
                if contents is not None and foreign.uuid in contents:
                    contents[volume.id] = contents[foreign.uuid]
                return True
            volume.status = model_mod.ERROR_MANAGING
            volume.delete_status = model_mod.FAILED_IMPORT_DELETING
            if not self._delete_failed_import(volume, foreign):
                return True
        return True

    def _delete_failed_import(self, volume, foreign):
        """The user deletes the error_managing record (retried)."""
        foreign.pending = volume.id
        for attempt in range(self.RETRIES + 1):
            err = self._call('delete after failed manage',
                             self.driver.delete_volume,
                             volume.obj(model_mod.FAILED_IMPORT_DELETING),
                             retry=attempt > 0)
            if err is None:
                volume.status = model_mod.DELETED
                foreign.pending = None
                return True
        volume.status = model_mod.ERROR_DELETING
        return False

    def unmanage(self, volume):
        self.plan.pause()
        try:
            before = self.read_vm(volume.id)
        finally:
            self.plan.resume()
        if before is None:
            # no single backing to compare with: lost or doubled, which
            # the invariants report
            return False
        for attempt in range(self.RETRIES + 1):
            volume.status = 'unmanaging'
            err = self._call('unmanage', self.driver.unmanage, volume.obj(),
                             retry=attempt > 0)
            if err is None:
                volume.status = model_mod.UNMANAGED
                self.model.foreign[volume.id] = model_mod.ForeignVm(
                    volume.id, before.name, before.folder,
                    [volume.size * 1024 * 1024])
                return True
            if isinstance(err, self.BUSY):
                volume.status = model_mod.AVAILABLE
                return True
        # error_unmanaging: the admin deletes it at the teardown
        volume.status = model_mod.ERROR
        return True

    def manage_snapshot(self):
        volumes = self.model.volumes_in(model_mod.AVAILABLE)
        if not volumes or self.make_vm_snapshot is None:
            return False
        volume = self.rng.choice(volumes)
        name = 'ext-%s' % self.new_id()[:8]
        self.plan.pause()
        try:
            made = self.make_vm_snapshot(volume.id, name)
        finally:
            self.plan.resume()
        if not made:
            return False
        outside = model_mod.ForeignSnapshot(volume.id, name)
        self.model.foreign_snapshots[name] = outside
        for attempt in range(self.RETRIES + 1):
            snap = self.model.add_snapshot(self.new_id(), volume)
            err = self._call('manage snapshot',
                             self.driver.manage_existing_snapshot,
                             snap.obj(volume), {'source-name': name},
                             retry=attempt > 0)
            if err is None:
                snap.status = model_mod.AVAILABLE
                outside.adopted_by = snap.id
                return True
            # Cinder: 'error'; the user deletes the record, asks again
            snap.status = model_mod.ERROR
            if not self.delete_snapshot(
                    snap, 'delete snapshot after failed manage'):
                return True
        return True
