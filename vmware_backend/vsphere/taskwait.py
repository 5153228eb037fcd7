"""Task waits of :class:`.session.VCenterSession` (split off its module).

The wait notices completion within milliseconds (it polls at once, then
backs off from :data:`FIRST_POLL_DELAY` up to
``vcenter_task_poll_interval``) and gives up after a deadline, instead of
oslo.vmware's fixed poll interval.
"""

import time

from oslo_log import log as oslo_logging

from vmware_backend import exceptions

LOG = oslo_logging.getLogger(__name__)

FIRST_POLL_DELAY = 0.01


def describe(moref):
    """'Type:value' of a managed object reference (or its str)."""
    try:
        return '%s:%s' % (moref._type, moref.value)
    except AttributeError:
        return str(moref)


class TaskWaits:
    """The session's task waits.

    Mixed into the session: uses its ``invoke``, ``get_properties``,
    ``url`` and ``_options``.
    """

    def wait_for_task(self, task, target=None, action=None):
        """Wait for ``task`` and return its ``info`` on success.

        Polls immediately, then backs off from 10 ms up to
        ``vcenter_task_poll_interval``; gives up after
        ``vcenter_task_timeout`` seconds, cancelling the task (best
        effort). A poll that fails (lost answer, HTTP 5xx, expired
        session: the task itself is still there) is logged and the task
        polled again until the deadline.

        :raises exceptions.VCenterFault: the task failed; names the fault.
        :raises exceptions.TaskTimeout: the deadline passed.
        """
        timeout = self._options['vcenter_task_timeout']
        max_delay = self._options['vcenter_task_poll_interval']
        deadline = time.monotonic() + timeout
        delay = FIRST_POLL_DELAY
        name, where, state = action or 'task', target or '?', None
        while True:
            try:
                info = self._poll(task)
            except exceptions.VCenterTLSError:
                raise
            except exceptions.VCenterConnectionError as err:
                state = 'unknown, the last poll failed: %s' % err
                LOG.warning('Polling %s (%s on %s) failed: %s; polling '
                            'again.', describe(task), name, where, err)
            else:
                name = action or getattr(info, 'name', None) or 'task'
                where = target or getattr(info, 'entityName', None) or '?'
                state = info.state
                if state == 'success':
                    return info
                if state == 'error':
                    raise _task_fault(info, name, where)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._cancel(task, name, where)
                raise exceptions.TaskTimeout(
                    task=getattr(task, 'value', task), name=name,
                    target=where, timeout=timeout, state=state)
            time.sleep(min(delay, remaining))
            delay = min(delay * 2, max_delay)

    def _poll(self, task):
        info = self.get_properties(task, ['info']).get('info')
        if info is None:
            raise exceptions.VCenterConnectionError(
                url=self.url, reason='no info in the answer about %s'
                % describe(task))
        return info

    def _cancel(self, task, name, target):
        """Ask vCenter to cancel a task that ran out of time (best effort)."""
        try:
            self.invoke('CancelTask', task, target=target)
            LOG.warning('Cancelled %s on %s after its deadline.', name,
                        target)
        except exceptions.VMwareBackendException as err:
            LOG.warning('Could not cancel %s on %s after its deadline: %s',
                        name, target, err)


def _task_fault(info, name, target):
    error = getattr(info, 'error', None)
    fault_obj = getattr(error, 'fault', None)
    fault = type(fault_obj).__name__ if fault_obj is not None else 'Fault'
    detail = getattr(error, 'localizedMessage', None) or fault
    return exceptions.VCenterFault(fault=fault, action=name, target=target,
                                   detail=detail)
