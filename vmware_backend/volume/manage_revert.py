"""Giving an adopted VM back after a failed import (source-id).

An adoption (:meth:`~.manage.ManageMixin._adopt`) moves the VM into the
volume folder, then one ``ReconfigVM_Task`` renames it, sets its
``instanceUuid`` to the volume id and writes this backend's marks, with
``vmware_backend.imported_from`` recording the VM's own name,
``instanceUuid``, moref and folder. Two ways it can end with the VM
changed while Cinder believes the import failed:

* the reconfigure did its work and then reported an error, its answer was
  lost, or it ran past its deadline; the driver's undo (:meth:`_give_back`)
  then waits for any reconfigure still running on the VM and puts back the
  name, ``instanceUuid`` and folder and removes the marks, reading the VM
  first so that a reconfigure that never happened costs no call;
* the import succeeded on vCenter but Cinder never heard (the service died,
  the RPC timed out): the volume is ``error_managing`` and the user
  deletes it. Cinder then calls ``delete_volume`` with the status
  ``error_managing_deleting``: a backing that an import made is given back
  (adopted VM) or unwrapped keeping its disk file (``source-name``),
  never destroyed: the user still believes the disk is theirs.

What an adoption changed inside the disk's configuration (growth to whole
GiB, a persistent disk mode, the type's QoS or storage policy) is not put
back.
"""

import json

from oslo_log import log as logging

from vmware_backend import exceptions
from vmware_backend.volume import manage_refs
from vmware_backend.vsphere import ops as vsphere_ops
from vmware_backend.vsphere import specs

LOG = logging.getLogger(__name__)

KEY_IMPORTED_FROM = manage_refs.KEY_IMPORTED_FROM
MARK_KEYS = (specs.KEY_MANAGED, specs.KEY_VOLUME_ID, specs.KEY_CREATED,
             KEY_IMPORTED_FROM)
# Cinder's status of a volume whose import failed, being deleted.
FAILED_IMPORT_DELETING = 'error_managing_deleting'
# ``info.descriptionId`` of ReconfigVM_Task: vCenter says
# "VirtualMachine.reconfigure", vcsim "VirtualMachine.reconfigVm".
RECONFIGURE_KINDS = ('VirtualMachine.reconfigure', 'VirtualMachine.reconfigVm')


def origin_of(extra):
    """The ``imported_from`` record of an extraConfig dict ({} if none)."""
    try:
        origin = json.loads(extra.get(KEY_IMPORTED_FROM) or '{}')
    except ValueError:
        return {}
    return origin if isinstance(origin, dict) else {}


def give_back_changes(props, origin):
    """What to set on an adopted VM to make it as it was (pure).

    :returns: ``(config, folder)``: the VirtualMachineConfigSpec fields
        (``name``, ``instanceUuid``, ``extraConfig`` entries to remove;
        empty when nothing changed) and the folder moref value to move it
        back to (None: it is there, or the folder was not recorded).
    """
    config = {}
    if origin.get('name') and props.get('name') != origin['name']:
        config['name'] = origin['name']
    if origin.get('instanceUuid') and \
            props.get('config.instanceUuid') != origin['instanceUuid']:
        config['instanceUuid'] = origin['instanceUuid']
    extra = vsphere_ops.extra_config_dict(props)
    marks = [key for key in MARK_KEYS if extra.get(key)]
    if marks:
        config['extraConfig'] = {key: '' for key in marks}
    folder = origin.get('folder')
    if folder and folder == vsphere_ops.moref_value(props.get('parent')):
        folder = None
    return config, folder


class ImportRevertMixin:
    """Undoing adoptions; deleting the record of a failed import."""

    def _give_back(self, vm, origin, volume_id, target):
        """Make an adopted VM as it was (see the module).

        :raises exceptions.VolumeIsBusy: a reconfigure of the VM is still
            running past ``vcenter_task_timeout`` (it may be the
            adoption's: giving back before it ends could be undone by it).
        """
        _waited, running = self._await_others(RECONFIGURE_KINDS, entity=vm)
        if running:
            raise exceptions.VolumeIsBusy(
                volume=volume_id,
                reason='reconfigure task(s) %s of VM %s are still running; '
                       'try again when they ended' % (', '.join(running),
                                                      origin.get('name')))
        props = self.ops.properties(
            vm, ('name', 'config.instanceUuid', 'config.extraConfig',
                 'parent'), target=target)
        config, folder = give_back_changes(props, origin)
        if config:
            extra = config.pop('extraConfig', None)
            spec = specs.create(self.session.factory,
                                'VirtualMachineConfigSpec', **config)
            if extra:
                spec.extraConfig = specs.extra_config(self.session.factory,
                                                      extra)
            self.ops.reconfigure(vm, spec, target)
        if folder:
            self.session.invoke_task(
                'MoveIntoFolder_Task', vsphere_ops.moref('Folder', folder),
                target=target, list=[vm])
        if config or folder:
            LOG.warning('Gave VM %s (instanceUuid %s) back as it was before '
                        'the import as volume %s.', origin.get('name'),
                        origin.get('instanceUuid'), volume_id)

    def _delete_failed_import(self, volume):
        """``delete_volume`` of an ``error_managing_deleting`` volume.

        :returns: True when every backing of the id came from an import
            and was given back (or none was found); False when another
            backing carries the id (the ordinary delete handles it).
        """
        self._await_unsettled(volume.id)
        found = self._lookup_all(volume.id, ('name', 'parent'))
        origins = [origin_of(vsphere_ops.extra_config_dict(props))
                   for _ref, props in found]
        if not all(origins):
            return False
        target = 'volume %s' % volume.id
        for (ref, _props), origin in zip(found, origins):
            if origin.get('instanceUuid'):
                self._give_back(ref, origin, volume.id, target)
            elif origin.get('file'):
                self._unwrap(volume.id, origin['file'])
                LOG.warning('Volume %s failed to import; its disk %s is a '
                            'loose file again%s.', volume.id, origin['file'],
                            ' (it was a disk of VM %s)' % origin['vm']
                            if origin.get('vm') else '')
        self._remember(volume.id, None)
        LOG.info('Deleted volume %s whose import failed; %d VM(s) given '
                 'back, nothing destroyed.', volume.id, len(found))
        return True
