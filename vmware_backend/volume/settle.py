"""Finding out what vCenter did after a ``*_Task`` whose outcome is unknown.

A task keeps running on vCenter after its caller lost the answer to the
call, lost track of its polls, or gave up at the deadline; and a task may
end in error after it really did its work. Before the driver reports such a
failure and cleans up, it finds out what vCenter actually did:

* the call's answer never came (no task in hand): the tasks of the same kind
  on the same object in ``TaskManager.recentTask`` that are still queued or
  running may be ours; they are waited for (up to ``vcenter_task_timeout``,
  never cancelled: they may be another caller's);
* the task is in hand (a poll failed, it ended in error, or ran out of
  time): it is waited for again (after a deadline: read once);
* then the caller looks at the objects themselves (``FindAllByUuid``, the
  snapshot list).

A task still running after all that is remembered per volume id (this
process only), and the next create or delete of that volume waits for it
first, so a backing appearing later is neither leaked nor duplicated.

Only failure paths pay for any of this: a task that succeeds costs exactly
its call and its polls.
"""

import collections
import datetime

from oslo_log import log as logging

from vmware_backend import exceptions
from vmware_backend.vsphere import ops as vsphere_ops

LOG = logging.getLogger(__name__)

# Task kinds by ``info.descriptionId`` prefix (vcsim says
# "VirtualMachine.cloneVm" where vCenter says "VirtualMachine.clone").
CREATE_KINDS = ('Folder.createVm',)
CLONE_KINDS = ('VirtualMachine.clone',)
SNAPSHOT_KINDS = ('VirtualMachine.createSnapshot',)
DESTROY_KINDS = ('VirtualMachine.destroy',)
BUSY_STATES = ('queued', 'running')
# Seconds a cancelled task is given to end.
CANCEL_WAIT = 5.0

# What became of a task: it succeeded; it ended in error; it is still
# running; no task was in hand and none that may be ours is still running
# (look at the objects); nothing could be read.
SUCCESS, ERROR, RUNNING, ENDED, UNREADABLE = (
    'success', 'error', 'running', 'ended', 'unreadable')

Outcome = collections.namedtuple('Outcome', 'state result')


class TaskFailure(Exception):
    """Carries the failure of a ``*_Task`` to the code deciding about it."""

    def __init__(self, error, task):
        super().__init__(str(error))
        self.error = error
        self.task = task


def busy(info):
    return getattr(info, 'state', None) in BUSY_STATES


def matches(info, entity, kinds):
    """Whether task ``info`` is of one of ``kinds`` on ``entity``."""
    ref = getattr(info, 'entity', None)
    if ref is None or vsphere_ops.moref_value(ref) != \
            vsphere_ops.moref_value(entity):
        return False
    return (getattr(info, 'descriptionId', None) or '').startswith(kinds)


class SettleMixin:
    """Runs tasks and settles their unknown outcomes (a driver mixin)."""

    def _run_task(self, start, target, action):
        """Start a task and wait for it; returns its result.

        :raises exceptions.VCenterFault: vCenter refused the call itself
            (nothing was started).
        :raises TaskFailure: anything else; its ``task`` is None when the
            call's answer never came.
        """
        try:
            task = start()
        except exceptions.VCenterFault:
            raise
        except Exception as err:
            raise TaskFailure(err, None) from err
        if not vsphere_ops.is_moref(task):
            raise TaskFailure(exceptions.VCenterFault(
                fault='InvalidAnswer', action=action, target=target,
                detail='no task in the answer: %r' % (task,)), None)
        try:
            return self.ops.wait_for_task(task, target, action)
        except Exception as err:
            raise TaskFailure(err, task) from err

    def _settle(self, failure, entity, kinds, volume_id):
        """What became of the task of ``failure`` (an :class:`Outcome`).

        :param entity: the object the task runs on (folder, source VM).
        :param kinds: ``descriptionId`` prefixes of tasks that may be ours.
        :param volume_id: a task still running is remembered for it.
        """
        timeout = self.options['vcenter_task_timeout']
        try:
            if failure.task is None:
                mine = [task for task, info in self.ops.recent_tasks()
                        if busy(info) and matches(info, entity, kinds)]
                LOG.info('The answer to a task call on %s was lost; waiting '
                         'for %d task(s) that may be it.', target_of(entity),
                         len(mine))
                running = [task for task in mine
                           if busy(self._finish(task, timeout))]
                if running:
                    self._note_unsettled(volume_id, running)
                    return Outcome(RUNNING, None)
                return Outcome(ENDED, None)
            if isinstance(failure.error, exceptions.TaskTimeout):
                # Waited for already; its cancel may have failed.
                info = self._finish(failure.task, 0)
            else:
                info = self._finish(failure.task, timeout)
        except Exception:
            LOG.exception('Could not find out what became of a task on %s.',
                          target_of(entity))
            return Outcome(UNREADABLE, None)
        if info is None or busy(info):
            self._note_unsettled(volume_id, [failure.task])
            return Outcome(RUNNING, None)
        return Outcome(info.state, getattr(info, 'result', None))

    def _finish(self, task, timeout):
        """Wait up to ``timeout`` for ``task``; cancel it past its deadline.

        A task still running after that has run past any deadline of this
        driver (``vcenter_task_timeout`` since it was queued), which the
        driver answers with a cancel (its own waiter may not have managed
        to: that cancel may have been lost too). vCenter refuses to cancel
        some kinds of task; those are left to end.
        """
        info = self.ops.await_task(task, timeout)
        if not busy(info) or not self._overdue(info):
            return info
        try:
            self.ops.cancel_task(task)
            LOG.warning('Cancelled task %s, still running past its '
                        'deadline.', vsphere_ops.moref_value(task))
        except exceptions.VCenterFault as err:
            # Refused (e.g. NotSupported): the task runs on.
            LOG.info('Could not cancel task %s: %s',
                     vsphere_ops.moref_value(task), err)
            return info
        except Exception as err:
            LOG.info('The answer to cancelling task %s was lost (%s); '
                     'reading it again.', vsphere_ops.moref_value(task), err)
        return self.ops.await_task(task, CANCEL_WAIT)

    def _overdue(self, info):
        queued = getattr(info, 'queueTime', None)
        if queued is None:
            return False
        try:
            age = (datetime.datetime.now(datetime.timezone.utc) -
                   queued.astimezone(datetime.timezone.utc)).total_seconds()
        except (TypeError, ValueError, AttributeError):
            return False
        return age > self.options['vcenter_task_timeout']

    def _note_unsettled(self, volume_id, tasks):
        LOG.warning('Task(s) %s for volume %s are still running; the next '
                    'create or delete of the volume waits for them.',
                    ', '.join(vsphere_ops.moref_value(t) for t in tasks),
                    volume_id)
        with self._hint_lock:
            self._unsettled.setdefault(volume_id, []).extend(tasks)

    def _await_others(self, kinds, entity=None):
        """Wait for tasks of ``kinds`` that another process may have left.

        In an active-active cluster a cinder-volume service can die right
        after starting a task; vCenter runs it to its end, and Cinder
        hands the resource to another service (a clean-up, the user's
        delete), which does not know about it. A create or clone task does
        not say which volume it makes, so every busy task of ``kinds`` (on
        ``entity`` when given) is waited for, up to
        ``vcenter_task_timeout``. Only look-ups that found nothing pay for
        this (one read of ``recentTask``).

        :returns: ``(waited, running)``: whether a task was waited for, and
            the task morefs still running after that.
        """
        tasks = []
        for task, info in self.ops.recent_tasks():
            if not busy(info):
                continue
            if entity is not None:
                if matches(info, entity, kinds):
                    tasks.append(task)
            elif (getattr(info, 'descriptionId', None) or '').startswith(
                    kinds):
                tasks.append(task)
        if not tasks:
            return False, []
        LOG.info('Waiting for %d task(s) (%s) that may be of another '
                 'service: %s', len(tasks), ', '.join(kinds),
                 ', '.join(vsphere_ops.moref_value(t) for t in tasks))
        timeout = self.options['vcenter_task_timeout']
        running = [task for task in tasks
                   if busy(self._finish(task, timeout))]
        return True, [vsphere_ops.moref_value(t) for t in running]

    def _has_unsettled(self, volume_id):
        with self._hint_lock:
            return bool(self._unsettled.get(volume_id))

    def _await_unsettled(self, volume_id):
        """Wait for the tasks an earlier attempt left running (if any).

        :raises exceptions.VolumeIsBusy: one is still running after
            ``vcenter_task_timeout``.
        """
        with self._hint_lock:
            tasks = self._unsettled.pop(volume_id, None)
        if not tasks:
            return
        timeout = self.options['vcenter_task_timeout']
        running = [t for t in tasks if busy(self._finish(t, timeout))]
        if running:
            with self._hint_lock:
                self._unsettled.setdefault(volume_id, []).extend(running)
            raise exceptions.VolumeIsBusy(
                volume=volume_id,
                reason='task %s of an earlier attempt is still running'
                       % ', '.join(vsphere_ops.moref_value(t)
                                   for t in running))
        LOG.info('Task(s) of an earlier attempt on volume %s have ended.',
                 volume_id)


def target_of(ref):
    try:
        return '%s:%s' % (ref._type, vsphere_ops.moref_value(ref))
    except Exception:
        return str(ref)
