"""The table of :mod:`bench.intree`: medians, ratios, goal-2 verdicts.

Plain functions of the results dict :func:`bench.intree.run` returns
(``samples``: ``'<backend>:<operation>'`` -> list of samples with
``calls``, ``methods``, ``bytes``, ``wall``, ``cpu``); no I/O but
:func:`write`.
"""

import json
import os
import statistics

OURS, INTREE = 'ours', 'intree'

# (key, label) in the order of the table.
OPERATIONS = (
    ('create', 'create_volume'),
    ('snapshot', 'create_snapshot'),
    ('from_snapshot', 'create_volume_from_snapshot (full)'),
    ('clone_full', 'create_cloned_volume (full)'),
    ('clone_linked', 'create_cloned_volume (linked)'),
    ('extend', 'extend_volume'),
    ('attach', 'initialize_connection (instance)'),
    ('terminate', 'terminate_connection'),
    ('retype', 'retype (no move)'),
    ('delete_snapshot', 'delete_snapshot'),
    ('delete', 'delete_volume'),
    ('manage', 'manage_existing'),
)
LABELS = dict(OPERATIONS)


def rows(results):
    """One row per operation: medians of both drivers and the verdict."""
    samples = results['samples']
    table = []
    for key, label in OPERATIONS:
        med = {}
        for backend in (OURS, INTREE):
            found = samples.get('%s:%s' % (backend, key)) or []
            if not found:
                break
            med[backend] = {field: statistics.median(s[field] for s in found)
                            for field in ('calls', 'bytes', 'wall', 'cpu')}
        if len(med) < 2:
            continue
        ours, theirs = med[OURS], med[INTREE]
        ratio = ours['wall'] / theirs['wall'] if theirs['wall'] else None
        table.append({'key': key, 'label': label, OURS: ours,
                      INTREE: theirs, 'ratio': ratio,
                      'verdict': verdict(ours['calls'], theirs['calls'],
                                         ratio)})
    return table


def verdict(ours_calls, their_calls, ratio):
    """Goal 2's verdict for one operation, as text."""
    if ours_calls == their_calls == 0:
        return 'n/a (no calls)'
    if ratio is None:
        return 'n/a'
    if ours_calls > their_calls:
        # Not in the goal; held to "not slower" here.
        return '%s (more calls)' % ('<= 1.0' if ratio <= 1.0 else 'slower')
    limit = 1.0 if ours_calls == their_calls else 0.5
    return '%s (<= %.1f)' % ('yes' if ratio <= limit else 'NO', limit)


def report(results):
    """The side-by-side table as text (reStructuredText simple table)."""
    lines = ['Per-operation client cost, this driver vs Cinder 29 in-tree '
             'VMDK driver (one vcsim, medians of %d; task poll interval %g s '
             'for both; load average %.1f-%.1f; %.0f s; o/i: ours/in-tree, '
             'ratio: wall ours/in-tree)' % (
                 results['repeat'], results['task_poll_interval'],
                 results['load_average'][0], results['load_average'][1],
                 results['seconds'])]
    head = ('operation', 'calls o/i', 'KB recv o/i', 'wall ms o/i',
            'CPU ms o/i', 'ratio', 'goal met?')
    widths = (34, 9, 11, 13, 11, 6, 19)
    rule = '  '.join('=' * w for w in widths)
    lines += ['', rule, '  '.join(h.ljust(w) for h, w in zip(head, widths)),
              rule]
    for row in rows(results):
        o, t = row[OURS], row[INTREE]
        cells = (row['label'],
                 '%g/%g' % (o['calls'], t['calls']),
                 '%.1f/%.1f' % (o['bytes'] / 1024.0, t['bytes'] / 1024.0),
                 '%.0f/%.0f' % (o['wall'] * 1e3, t['wall'] * 1e3),
                 '%.0f/%.0f' % (o['cpu'] * 1e3, t['cpu'] * 1e3),
                 '-' if row['ratio'] is None or row['verdict'].startswith(
                     'n/a') else '%.2f' % row['ratio'],
                 row['verdict'])
        lines.append('  '.join(c.ljust(w) for c, w in zip(cells, widths)))
    lines.append(rule)
    lines.append('')
    lines.append('Calls by method (first repetition)::')
    lines.append('')
    samples = results['samples']
    for key, label in OPERATIONS:
        for backend in (OURS, INTREE):
            found = samples.get('%s:%s' % (backend, key))
            if found:
                lines.append('  %-34s %-6s %s' % (label, backend, ', '.join(
                    '%s %d' % item
                    for item in sorted(found[0]['methods'].items()))))
    return '\n'.join(line.rstrip() for line in lines)


def write(results, text, directory):
    """``intree-latest.json`` and ``intree-latest.rst`` in ``directory``."""
    os.makedirs(directory, exist_ok=True)
    paths = []
    for ext, content in (('json', json.dumps(results, indent=2,
                                             sort_keys=True)),
                         ('rst', text)):
        path = os.path.join(directory, 'intree-latest.%s' % ext)
        with open(path, 'w') as f:
            f.write(content + '\n')
        paths.append(path)
    return paths
