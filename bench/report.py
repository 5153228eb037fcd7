"""Benchmark: SOAP round trips per volume operation at growing inventories.

``python -m bench [--sizes 10,1000,5000] [--repeat N]
[--output DIR] [--quick] [--taskwait-delays 50,300,1000] [--taskwait-repeat
N] [--only sizes|taskwait]`` (``tox -e bench``) starts, for each inventory
size, a fresh simulator with that many VMs spread over several clusters,
hosts and datastores, runs the volume operations against it through the
driver and reports, per operation and size:

* the SOAP requests really sent (total and per method), as counted by
  :meth:`vmware_backend.vsphere.session.VCenterSession.counts_snapshot`;
* the ratio of those counts to the counts at the smallest size;
* the median wall time over the repetitions (information only: the
  simulator is not a vCenter, and nothing is asserted on time).

The product's promise is that round trips per operation do not grow with
the inventory: the command exits with status 1 when the counts of any
operation differ between sizes (or between repetitions). A reference
operation, oslo.vmware's full-inventory VM scan the way Cinder's in-tree
driver builds its backing cache, is measured beside them to show what
growing counts look like; it is exempt from the check.

Then, for each task delay D, a simulator started with ``-task-delay-ms D``
measures task waits (:mod:`bench.taskwait`): our
``wait_for_task`` against oslo.vmware's with Cinder's 2.0 s poll interval,
polls and medians of the time to notice the task's end. The times are
information; the command also exits with status 1 when our wait polled
more often than its back-off schedule allows. ``--only`` runs one part.

The report (reStructuredText grid tables, ready to paste into README.rst) is
printed and written, with the raw measurements as JSON, to the output
directory. Progress goes to stderr.

This module holds the command line and the pure functions over the
measurements (summaries, the check and the tables); the simulator-driving
part is :mod:`bench.run`.
"""

import collections
import datetime
import json
import os
import statistics
import textwrap

from bench import taskwait as bench_taskwait

DEFAULT_SIZES = (10, 1000, 5000)
QUICK_SIZES = (10, 1000)
DEFAULT_REPEAT = 5
DEFAULT_OUTPUT = 'bench-results'

# Shape of every simulated inventory; only the number of VMs changes. The
# simulator puts ``vms`` VMs in each cluster (and on each standalone host):
# total = datacenters x (clusters + standalone-hosts) x vms.
INVENTORY_FLAGS = {'datacenters': 1, 'clusters': 2, 'hosts': 4,
                   'standalone-hosts': 0, 'datastores': 4}

EXIT_OK = 0
EXIT_COUNTS_DIFFER = 1
EXIT_ERROR = 2

# What --only can select.
PARTS = ('sizes', 'taskwait')

Operation = collections.namedtuple('Operation', 'key label reference')
Operation.__doc__ = ('One measured operation; ``reference`` operations are '
                     'shown for comparison and exempt from the check.')

OPERATIONS = (
    Operation('stats_cold', 'get_volume_stats(refresh=True), cold', False),
    Operation('stats_warm', 'get_volume_stats(), cached', False),
    Operation('create_first',
              'create_volume, first (placement read, new folder)', False),
    Operation('create', 'create_volume, steady state', False),
    Operation('lookup_cold', 'backing look-up, cold (FindAllByUuid)', False),
    Operation('lookup_warm', 'backing look-up, cached moref', False),
    Operation('snapshot', 'create_snapshot', False),
    Operation('clone_full', 'create_volume_from_snapshot, full', False),
    Operation('clone_linked', 'create_volume_from_snapshot, linked', False),
    Operation('extend', 'extend_volume', False),
    Operation('delete_linked', 'delete_volume, linked clone', False),
    Operation('delete_snapshot', 'delete_snapshot', False),
    Operation('delete', 'delete_volume, cached moref', False),
    Operation('delete_cold', 'delete_volume, cold (FindAllByUuid)', False),
    Operation('manageable',
              'get_manageable_volumes (paged VM read, one datastore '
              'search per pool)', True),
    Operation('manageable_suds', 'get_manageable_volumes, VM pages parsed '
              'by suds (before; the row above parses XML)', True),
    Operation('cinder_scan',
              'oslo.vmware get_objects VM scan (Cinder '
              'build_backing_ref_cache, 100/page)', True),
)
OPERATIONS_BY_KEY = {op.key: op for op in OPERATIONS}

# What the object count columns show, by managed object type.
OBJECT_TYPES = (('VirtualMachine', 'VMs'), ('HostSystem', 'hosts'),
                ('ClusterComputeResource', 'clusters'),
                ('Datastore', 'datastores'))

METHODS_WIDTH = 64
LABEL_WIDTH = 44
REFERENCE_MARK = 'reference: '
# Not '-', which reStructuredText reads as an empty bullet list.
NA = 'n/a'


def simulator_flags(size, shape=None):
    """Simulator flags for an inventory of about ``size`` VMs.

    :param shape: the fixed part of the flags; default
        :data:`INVENTORY_FLAGS`.
    :returns: a dict of flags with ``vms`` set so that the simulator's total
        (datacenters x (clusters + standalone hosts) x vms) is as close to
        ``size`` as it can be, and at least one VM per group.
    """
    flags = dict(INVENTORY_FLAGS if shape is None else shape)
    groups = flags.get('datacenters', 1) * (
        flags.get('clusters', 1) + flags.get('standalone-hosts', 1))
    flags['vms'] = max(1, int(round(float(size) / max(groups, 1))))
    return flags


def parse_sizes(text):
    """The sorted, distinct inventory sizes of a "10,1000,5000" list.

    :raises ValueError: an item is not a positive integer, or none is given.
    """
    return bench_taskwait.parse_numbers(text, 1, 'number of VMs')


# Summaries ----------------------------------------------------------------


def sample(calls, seconds, received=None, cpu=None):
    """One measurement: SOAP calls by method (zeros dropped) and duration.

    :param received: SOAP bytes received, when counted.
    :param cpu: the client's CPU seconds (this process), when measured.
    """
    result = {'calls': {str(method): int(count)
                        for method, count in sorted(dict(calls).items())
                        if count},
              'seconds': float(seconds)}
    if received is not None:
        result['received'] = int(received)
    if cpu is not None:
        result['cpu_seconds'] = float(cpu)
    return result


def total(calls):
    """Total SOAP calls of a by-method dict."""
    return sum(calls.values())


def ratio(value, reference):
    """``value / reference``, for call counts.

    1.0 for 0/0; None when only ``reference`` is zero (an operation that
    made no call at the smallest size).
    """
    if reference == 0:
        return 1.0 if value == 0 else None
    return float(value) / reference


def vm_count(run):
    """The VMs the simulator of ``run`` really had, else the size asked."""
    return run.get('objects', {}).get('VirtualMachine', run['size'])


def summarize(runs, operations=OPERATIONS):
    """Per-operation figures at every size.

    :param runs: the measured runs, one per size (smallest first), each a
        dict with ``size``, ``objects`` and ``operations`` (key -> list of
        :func:`sample` dicts).
    :returns: a list (in ``operations`` order, skipping operations measured
        at no size) of dicts with ``key``, ``label``, ``reference`` and
        ``sizes``: one dict per run with ``size``, ``vms``, ``samples``,
        ``calls`` (by method, of the first repetition), ``calls_total``,
        ``calls_range`` ((min, max) of the totals), ``consistent`` (every
        repetition made the same calls), ``median_seconds`` and ``ratio``
        (total calls vs the smallest size; None when not computable).
    """
    runs = sorted(runs, key=lambda run: run['size'])
    summary = []
    for op in operations:
        per_size = []
        for run in runs:
            samples = run.get('operations', {}).get(op.key)
            if not samples:
                continue
            totals = [total(s['calls']) for s in samples]
            per_size.append({
                'size': run['size'],
                'vms': vm_count(run),
                'samples': len(samples),
                'calls': dict(samples[0]['calls']),
                'calls_total': totals[0],
                'calls_range': (min(totals), max(totals)),
                'consistent': all(s['calls'] == samples[0]['calls']
                                  for s in samples),
                'median_seconds': statistics.median(
                    s['seconds'] for s in samples),
                'median_received': statistics.median(
                    s['received'] for s in samples)
                if all('received' in s for s in samples) else None,
                'median_cpu': statistics.median(
                    s['cpu_seconds'] for s in samples)
                if all('cpu_seconds' in s for s in samples) else None,
            })
        if not per_size:
            continue
        first = per_size[0]['calls_total']
        for entry in per_size:
            entry['ratio'] = ratio(entry['calls_total'], first)
        summary.append({'key': op.key, 'label': op.label,
                        'reference': op.reference, 'sizes': per_size})
    return summary


def _difference(calls, expected):
    methods = sorted(set(calls) | set(expected))
    return ', '.join('%s %d instead of %d' % (m, calls.get(m, 0),
                                              expected.get(m, 0))
                     for m in methods if calls.get(m, 0) !=
                     expected.get(m, 0))


def count_problems(runs, operations=OPERATIONS):
    """Operations whose SOAP calls are not the same at every size.

    Every repetition at every size is compared, method by method, with the
    first repetition at the smallest size (with one size, only the
    repetitions are compared). Reference operations are skipped.

    :returns: a list of sentences, empty when the counts hold.
    """
    runs = sorted(runs, key=lambda run: run['size'])
    problems = []
    for op in operations:
        if op.reference:
            continue
        expected = None
        for run in runs:
            for index, measured in enumerate(
                    run.get('operations', {}).get(op.key) or []):
                if expected is None:
                    expected = (run, measured['calls'])
                    continue
                if measured['calls'] != expected[1]:
                    problems.append(
                        '%s: at %d VMs (repetition %d) %s (vs %d VMs)'
                        % (op.label, vm_count(run), index + 1,
                           _difference(measured['calls'], expected[1]),
                           vm_count(expected[0])))
    return problems


# Tables -------------------------------------------------------------------


def grid_table(headings, rows, align=None):
    """A reStructuredText grid table.

    :param headings: the column headings.
    :param rows: lists of cell texts; a cell may hold several lines.
    :param align: per column, ``'l'`` or ``'r'``; default: all left.
    :returns: the table as one string without a trailing newline.
    """
    align = list(align or 'l' * len(headings))
    table_rows = [[str(h) for h in headings]] + [
        [str(c) for c in row] for row in rows]
    for row in table_rows:
        if len(row) != len(headings):
            raise ValueError('row %r has %d cells, expected %d'
                             % (row, len(row), len(headings)))
    widths = [max(len(line) for row in table_rows
                  for line in row[col].split('\n'))
              for col in range(len(headings))]

    def rule(char):
        return '+' + '+'.join(char * (w + 2) for w in widths) + '+'

    def lines_of(row, header):
        cells = [cell.split('\n') for cell in row]
        height = max(len(cell) for cell in cells)
        out = []
        for index in range(height):
            parts = []
            for col, cell in enumerate(cells):
                text = cell[index] if index < len(cell) else ''
                if align[col] == 'r' and not header:
                    text = text.rjust(widths[col])
                else:
                    text = text.ljust(widths[col])
                parts.append(' %s ' % text)
            out.append('|' + '|'.join(parts) + '|')
        return out

    out = [rule('-')]
    out.extend(lines_of(table_rows[0], True))
    out.append(rule('='))
    for row in table_rows[1:]:
        out.extend(lines_of(row, False))
        out.append(rule('-'))
    return '\n'.join(out)


def _label_cell(op):
    label = (REFERENCE_MARK if op['reference'] else '') + op['label']
    return textwrap.fill(label, LABEL_WIDTH)


def _calls_cell(entry):
    low, high = entry['calls_range']
    return str(low) if low == high else '%d..%d' % (low, high)


def _ratio_cell(value):
    return NA if value is None else '%.2f' % value


def _ms_cell(seconds):
    ms = seconds * 1000.0
    return '%.1f' % ms if ms < 100 else '%.0f' % ms


def _kb_cell(received):
    return NA if received is None else '%.1f' % (received / 1024.0)


def operations_table(summary, runs):
    """Calls, ratios and median times: one row per operation."""
    runs = sorted(runs, key=lambda run: run['size'])
    sizes = [run['size'] for run in runs]
    labels = {run['size']: '%d VMs' % vm_count(run) for run in runs}
    smallest = labels[sizes[0]] if sizes else ''
    headings = (['Operation'] +
                ['calls\n%s' % labels[s] for s in sizes] +
                ['ratio\n%s/%s' % (labels[s].split()[0], smallest.split()[0])
                 for s in sizes[1:]] +
                ['median ms\n%s' % labels[s] for s in sizes] +
                ['KB recv\n%s' % labels[s] for s in sizes] +
                ['CPU ms\n%s' % labels[s] for s in sizes])
    rows = []
    for op in summary:
        by_size = {entry['size']: entry for entry in op['sizes']}
        row = [_label_cell(op)]
        row += [_calls_cell(by_size[s]) if s in by_size else NA
                for s in sizes]
        row += [_ratio_cell(by_size[s]['ratio']) if s in by_size else NA
                for s in sizes[1:]]
        row += [_ms_cell(by_size[s]['median_seconds']) if s in by_size
                else NA for s in sizes]
        row += [_kb_cell(by_size[s].get('median_received'))
                if s in by_size else NA for s in sizes]
        row += [NA if s not in by_size or by_size[s].get('median_cpu') is None
                else _ms_cell(by_size[s]['median_cpu']) for s in sizes]
        rows.append(row)
    align = 'l' + 'r' * (len(headings) - 1)
    return grid_table(headings, rows, align)


def methods_cell(per_size, width=METHODS_WIDTH):
    """The calls by method of one operation across sizes, as text.

    A method called as often at every size shows one count ("FindAllByUuid
    1"); otherwise the counts per size, smallest first ("ContinueRetrieve
    PropertiesEx 0/9/49").
    """
    methods = sorted({m for entry in per_size for m in entry['calls']})
    parts = []
    for method in methods:
        counts = [entry['calls'].get(method, 0) for entry in per_size]
        if len(set(counts)) == 1:
            parts.append('%s %d' % (method, counts[0]))
        else:
            parts.append('%s %s' % (method, '/'.join(map(str, counts))))
    if not parts:
        return 'none'
    return textwrap.fill(', '.join(parts), width, break_on_hyphens=False)


def methods_table(summary):
    """SOAP calls by method: one row per operation."""
    rows = [[_label_cell(op), methods_cell(op['sizes'])]
            for op in summary]
    return grid_table(['Operation', 'SOAP calls by method (first '
                       'repetition; a/b/c = per size)'], rows)


def _seconds_cell(seconds):
    return NA if seconds is None else '%.1f' % seconds


def inventory_table(runs):
    """Flags, real object counts and start-up time of every simulator."""
    headings = (['VMs asked'] + [label for _type, label in OBJECT_TYPES] +
                ['start-up s', 'run s', 'vcsim flags'])
    rows = []
    for run in sorted(runs, key=lambda run: run['size']):
        objects = run.get('objects', {})
        flags = ' '.join('-%s %s' % (k, v)
                         for k, v in sorted(run.get('flags', {}).items()))
        rows.append([str(run['size'])] +
                    [str(objects.get(t, '?')) for t, _label in OBJECT_TYPES] +
                    [_seconds_cell(run.get('startup_seconds')),
                     _seconds_cell(run.get('seconds')),
                     textwrap.fill(flags, 40)])
    return grid_table(headings, rows, 'r' * (len(headings) - 1) + 'l')


def taskwait_table(rows):
    """Task waits (:func:`bench_taskwait.summarize` rows) as a grid table."""
    return grid_table(bench_taskwait.HEADINGS,
                      bench_taskwait.table_rows(rows), bench_taskwait.ALIGN)


def taskwait_report_lines(taskwait):
    """The task-wait section of the report, as a list of lines."""
    rows = bench_taskwait.summarize(taskwait)
    found = bench_taskwait.problems(taskwait)
    lines = ['Task waits: Rename_Task on simulators started with '
             '-task-delay-ms D (%d repetitions each; start to done = from '
             'sending the task request to the wait returning; overshoot = '
             'start to done minus D; polls = SOAP calls of the wait; polls '
             'by schedule = what the poll schedule needs to see a task end '
             'at D with no latency)' % taskwait.get('repeat', 0),
             '', taskwait_table(rows), '']
    if found:
        lines += ['FAILED: task waits polled more often than their schedule '
                  'allows:', '']
        lines.extend('- %s' % sentence for sentence in found)
    else:
        checked = ' and '.join(w.label for w in bench_taskwait.WAITERS
                               if w.checked)
        lines.append('OK: %s polled with %s only, never more often than '
                     'its back-off schedule allows in the time it waited.'
                     % (checked, bench_taskwait.POLL_METHOD))
    backends = sorted({run['oslo_service_backend']
                       for run in taskwait.get('runs', [])
                       if run.get('oslo_service_backend')})
    intervals = sorted({run['waiters']['oslo']['interval']
                        for run in taskwait.get('runs', [])
                        if run.get('samples', {}).get('oslo')})
    if intervals:
        note = ("oslo.vmware's wait_for_task polled every %s s (Cinder's "
                'default vmware_task_poll_interval is %g s)' % (
                    ', '.join('%g' % i for i in intervals),
                    bench_taskwait.CINDER_TASK_POLL_INTERVAL))
        if backends:
            note += (", its looping call on oslo.service's %s backend"
                     % ', '.join(backends))
        lines += ['', note + '.']
    return lines


def problems_of(results):
    """Every count problem of ``results``: sizes, then task waits."""
    return (count_problems(results.get('runs') or []) +
            bench_taskwait.problems(results.get('taskwait') or {}))


def report(results):
    """The whole report as reStructuredText."""
    lines = []
    if results.get('runs'):
        lines += _sizes_report_lines(results)
    if (results.get('taskwait') or {}).get('runs'):
        if lines:
            lines.append('')
        lines += taskwait_report_lines(results['taskwait'])
    if results.get('runtime_seconds') is not None:
        lines += ['', 'Total run time %.0fs (simulator build check %.1fs).'
                  % (results['runtime_seconds'],
                     results.get('prepare_seconds') or 0.0)]
    return '\n'.join(lines)


def _sizes_report_lines(results):
    runs = results['runs']
    summary = summarize(runs)
    problems = count_problems(runs)
    lines = ['Inventories (objects read back from the simulator)',
             '', inventory_table(runs), '',
             'SOAP round trips per operation (%d repetitions; ratio = '
             'calls vs the smallest inventory)' % results['repeat'],
             '', operations_table(summary, runs), '',
             'SOAP calls by method', '', methods_table(summary), '']
    if problems:
        lines += ['FAILED: call counts differ across sizes:', '']
        lines.extend('- %s' % problem for problem in problems)
    else:
        checked = len([op for op in summary if not op['reference']])
        lines.append('OK: the %d driver operations make the same calls at '
                     'every size.' % checked)
    for op in summary:
        if op['reference']:
            lines += ['', 'Reference, exempt from the check: %s: calls per '
                      'size %s.' % (op['label'], ' -> '.join(
                          str(e['calls_total']) for e in op['sizes']))]
    return lines


def jsonable(results):
    """``results`` with its summary and check, ready for ``json.dump``."""
    out = dict(results)
    out['summary'] = summarize(results.get('runs') or [])
    out['problems'] = count_problems(results.get('runs') or [])
    if results.get('taskwait'):
        out['taskwait_summary'] = bench_taskwait.summarize(
            results['taskwait'])
        out['taskwait_problems'] = bench_taskwait.problems(
            results['taskwait'])
    return out


def write_results(results, text, directory):
    """Write the JSON and the report into ``directory``.

    Files: ``bench-<UTC time>.json`` / ``.rst`` and ``latest.json`` /
    ``latest.rst``.

    :returns: the paths written.
    """
    os.makedirs(directory, exist_ok=True)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime(
        '%Y%m%dT%H%M%SZ')
    data = json.dumps(jsonable(results), indent=2, sort_keys=True)
    paths = []
    for base in ('bench-%s' % stamp, 'latest'):
        for ext, content in (('json', data), ('rst', text)):
            path = os.path.join(directory, '%s.%s' % (base, ext))
            with open(path, 'w') as f:
                f.write(content + '\n')
            paths.append(path)
    return paths


# Command line ---------------------------------------------------------------
