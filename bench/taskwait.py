"""The benchmark's task-wait part: how soon a finished task is noticed.

For each task delay D (``--taskwait-delays``, ms) a fresh simulator runs with
``-task-delay-ms D``: every ``*_Task`` it starts stays ``running`` and
completes D ms later. :func:`bench.run.run_taskwait` starts a
cheap task (``Rename_Task`` of a folder the bench creates) again and again
and waits for it with each of the :data:`WAITERS`:

* ``ours``: our ``VCenterSession.wait_for_task`` with
  the default options (polls at once, then backs off from 10 ms up to
  ``vcenter_task_poll_interval``);
* ``oslo``: oslo.vmware's own ``VMwareAPISession.wait_for_task`` (a fixed
  interval looping call) with Cinder's default ``vmware_task_poll_interval``
  of 2.0 s.

A measurement (:func:`wait_sample`) holds the SOAP calls made during the
wait (its polls), the time from sending the ``*_Task`` request to the wait
returning, and its parts. The table shows medians; the overshoot is that
time minus D (the simulator starts counting D while it handles the
request, so the overshoot includes the start request's round trip).

Times are information only. The one check (:func:`problems`) is on counts:
our wait may not poll more often than its back-off schedule allows in the
time it really waited, and polls with ``RetrievePropertiesEx`` only.

This module holds the pure functions (parsing, schedules, summary, check,
table cells); it imports nothing of oslo.vmware. :mod:`bench`
lays the table out and puts it in the report.
"""

import collections
import math
import statistics

DEFAULT_DELAYS_MS = (50, 300, 1000)
# Repetitions with ``--only taskwait``, and inside the full benchmark run.
DEFAULT_REPEAT = 5
FULL_RUN_REPEAT = 3
# Cinder's in-tree VMDK driver: vmware_task_poll_interval default.
CINDER_TASK_POLL_INTERVAL = 2.0
POLL_METHOD = 'RetrievePropertiesEx'
# Float slack when comparing summed sleeps with a measured time.
_EPSILON = 1e-9

Waiter = collections.namedtuple('Waiter', 'key label checked')
Waiter.__doc__ = ('One way of waiting for a task; only ``checked`` waiters '
                  'are held to their poll schedule.')

WAITERS = (
    Waiter('ours', 'VCenterSession.wait_for_task', True),
    Waiter('oslo', 'oslo.vmware VMwareAPISession.wait_for_task', False),
)
WAITERS_BY_KEY = {waiter.key: waiter for waiter in WAITERS}


def parse_numbers(text, minimum, noun):
    """The sorted, distinct integers >= ``minimum`` of a "1,2,3" list.

    :param noun: what the numbers count, for errors ("number of VMs").
    :raises ValueError: an item is not such an integer, or none is given.
    """
    numbers = set()
    for item in text.split(','):
        item = item.strip()
        if not item:
            continue
        try:
            number = int(item)
        except ValueError:
            raise ValueError('%r is not a %s' % (item, noun))
        if number < minimum:
            raise ValueError('%d is not a %s (>= %d)'
                             % (number, noun, minimum))
        numbers.add(number)
    if not numbers:
        raise ValueError('no %s given' % noun)
    return sorted(numbers)


def parse_delays(text):
    """The sorted, distinct task delays (ms) of a "50,300,1000" list.

    :raises ValueError: an item is not an integer >= 0, or none is given.
    """
    return parse_numbers(text, 0, 'task delay in ms')


def wait_sample(calls, start_seconds, wait_seconds):
    """One task wait.

    :param calls: SOAP calls made by the wait, by method (zeros dropped).
    :param start_seconds: the ``*_Task`` request's round trip.
    :param wait_seconds: from calling the wait to its return.
    :returns: a dict with ``calls``, ``start_seconds``, ``wait_seconds`` and
        ``seconds`` (their sum: request sent to wait returned).
    """
    return {'calls': {str(method): int(count)
                      for method, count in sorted(dict(calls).items())
                      if count},
            'start_seconds': float(start_seconds),
            'wait_seconds': float(wait_seconds),
            'seconds': float(start_seconds) + float(wait_seconds)}


# Poll schedules -------------------------------------------------------------


def backoff_sleeps(first, cap):
    """The sleeps of a back-off wait: ``first``, doubling, up to ``cap``."""
    delay = first
    while True:
        yield delay
        delay = min(delay * 2, cap)


def backoff_polls_within(seconds, first, cap):
    """The most polls a back-off wait can make in ``seconds``.

    The n-th poll comes after n - 1 sleeps, and a sleep is never shorter
    than asked, so a wait that lasted ``seconds`` made at most 1 + the
    number of leading sleeps whose sum fits in ``seconds``, whatever the
    latencies were.
    """
    if first <= 0:
        raise ValueError('the first sleep must be positive')
    polls = 1
    slept = 0.0
    for delay in backoff_sleeps(first, cap):
        if slept + delay > seconds + _EPSILON:
            return polls
        slept += delay
        polls += 1


def backoff_polls_to_see(delay, first, cap):
    """Polls a back-off wait needs to see a task that ends after ``delay``.

    With no latency: the first poll whose preceding sleeps add up to at
    least ``delay``.
    """
    if first <= 0:
        raise ValueError('the first sleep must be positive')
    polls = 1
    slept = 0.0
    for sleep in backoff_sleeps(first, cap):
        if slept + _EPSILON >= delay:
            return polls
        slept += sleep
        polls += 1


def fixed_polls_to_see(delay, interval):
    """Polls a fixed-interval wait needs to see a task ending at ``delay``.

    It polls at once, then every ``interval``; no latency.
    """
    if interval <= 0:
        raise ValueError('the interval must be positive')
    return 1 + max(0, int(math.ceil(delay / interval - _EPSILON)))


def polls_to_see(params, delay):
    """Polls the schedule of a waiter (its run's ``waiters`` entry) needs."""
    if params['schedule'] == 'backoff':
        return backoff_polls_to_see(delay, params['first_delay'],
                                    params['max_interval'])
    return fixed_polls_to_see(delay, params['interval'])


def schedule_text(params):
    """A waiter's poll schedule in words."""
    if params['schedule'] == 'backoff':
        return 'back-off %s -> %s' % (_duration(params['first_delay']),
                                      _duration(params['max_interval']))
    return 'every %s' % _duration(params['interval'])


def _duration(seconds):
    if seconds < 1:
        return '%g ms' % round(seconds * 1000.0, 3)
    return '%g s' % seconds


# Summary and check ----------------------------------------------------------


def _total(calls):
    return sum(calls.values())


def summarize(taskwait):
    """Per task delay and waiter, the medians of the task waits.

    :param taskwait: the ``taskwait`` part of the results: ``repeat`` and
        ``runs``, one per delay, each with ``delay_ms``, ``waiters`` (key ->
        poll schedule parameters) and ``samples`` (key -> list of
        :func:`wait_sample` dicts).
    :returns: a list of dicts (delays ascending, waiters in
        :data:`WAITERS` order, skipping waiters without samples) with
        ``delay_ms``, ``key``, ``label``, ``schedule`` (words),
        ``samples``, ``polls`` (median), ``polls_range`` ((min, max)),
        ``methods`` (every method the waits called), ``schedule_polls``
        (polls the schedule needs at this delay, no latency),
        ``median_seconds``, ``median_wait_seconds``,
        ``median_overshoot_seconds`` and ``overshoot_range``.
    """
    rows = []
    for run in sorted(taskwait.get('runs', []), key=lambda r: r['delay_ms']):
        delay = run['delay_ms'] / 1000.0
        for waiter in WAITERS:
            samples = run.get('samples', {}).get(waiter.key)
            if not samples:
                continue
            params = run['waiters'][waiter.key]
            polls = [_total(s['calls']) for s in samples]
            overshoots = [s['seconds'] - delay for s in samples]
            rows.append({
                'delay_ms': run['delay_ms'],
                'key': waiter.key,
                'label': waiter.label,
                'schedule': schedule_text(params),
                'samples': len(samples),
                'polls': statistics.median(polls),
                'polls_range': (min(polls), max(polls)),
                'methods': sorted({m for s in samples for m in s['calls']}),
                'schedule_polls': polls_to_see(params, delay),
                'median_seconds': statistics.median(
                    s['seconds'] for s in samples),
                'median_wait_seconds': statistics.median(
                    s['wait_seconds'] for s in samples),
                'median_overshoot_seconds': statistics.median(overshoots),
                'overshoot_range': (min(overshoots), max(overshoots)),
            })
    return rows


def problems(taskwait):
    """Waits of a checked waiter that polled more than its schedule allows.

    Each wait of a back-off waiter may make at most
    :func:`backoff_polls_within` its measured wait time polls, all of them
    ``RetrievePropertiesEx``; it must make at least one.

    :returns: a list of sentences, empty when every wait kept to it.
    """
    found = []
    for run in sorted(taskwait.get('runs', []), key=lambda r: r['delay_ms']):
        for waiter in WAITERS:
            if not waiter.checked:
                continue
            params = run['waiters'][waiter.key]
            if params['schedule'] != 'backoff':
                continue
            for index, sample in enumerate(
                    run.get('samples', {}).get(waiter.key) or []):
                where = '%s at %d ms task delay (repetition %d)' % (
                    waiter.label, run['delay_ms'], index + 1)
                calls = sample['calls']
                polls = _total(calls)
                bound = backoff_polls_within(sample['wait_seconds'],
                                             params['first_delay'],
                                             params['max_interval'])
                others = sorted(m for m in calls if m != POLL_METHOD)
                if others:
                    found.append('%s: called %s besides %s' % (
                        where, ', '.join('%s %d' % (m, calls[m])
                                         for m in others), POLL_METHOD))
                if polls < 1:
                    found.append('%s: made no call' % where)
                elif polls > bound:
                    found.append(
                        '%s: %d polls in %.0f ms, its schedule (%s) allows '
                        'at most %d' % (where, polls,
                                        sample['wait_seconds'] * 1000.0,
                                        schedule_text(params), bound))
    return found


# Table ----------------------------------------------------------------

HEADINGS = ('task delay\nD ms', 'wait_for_task (poll schedule)',
            'polls\n(SOAP calls)', 'polls by\nschedule',
            'median ms\nstart to done', 'median ms\novershoot',
            'overshoot ms\nmin..max')
ALIGN = 'rlrrrrr'


def ms_text(seconds):
    """Milliseconds, one decimal below 100 ms."""
    ms = seconds * 1000.0
    return '%.1f' % ms if abs(ms) < 100 else '%.0f' % ms


def _polls_cell(row):
    low, high = row['polls_range']
    return str(low) if low == high else '%d..%d' % (low, high)


def table_rows(rows):
    """The cells of the task-wait table (:data:`HEADINGS`).

    One row per task delay and waiter of :func:`summarize`.
    """
    return [[str(row['delay_ms']),
             '%s\n(%s)' % (row['label'], row['schedule']),
             _polls_cell(row), str(row['schedule_polls']),
             ms_text(row['median_seconds']),
             ms_text(row['median_overshoot_seconds']),
             '%s..%s' % tuple(ms_text(s) for s in row['overshoot_range'])]
            for row in rows]
