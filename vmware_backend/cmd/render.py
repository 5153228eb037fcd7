"""Text rendering of the reports of ``vmware-backend-manage``.

Each function takes the plain report a command builds (the same data
``--format json`` prints) and returns the human-readable text.
"""

from vmware_backend.cmd import formatting

POOL_COLUMNS = [('name', 'POOL'), ('type', 'TYPE'), ('total_gb', 'TOTAL GiB'),
                ('free_gb', 'FREE GiB'), ('provisioned_gb', 'PROV. GiB'),
                ('hosts', 'HOSTS')]


def problems(entries):
    """Problem entries as "- problem" lines, each with its hint."""
    lines = []
    for entry in entries:
        lines.append('- %s' % entry['problem'])
        lines.append('  hint: %s' % entry['hint'])
    return '\n'.join(lines)


def check(report):
    """The ``check`` report as text."""
    vc = report.get('vcenter') or {}
    parts = []
    pairs = [('vCenter', vc.get('url')), ('User', vc.get('user'))]
    if vc.get('name'):
        version = '%s (API %s)' % (vc['name'], vc.get('api_version'))
        pairs += [('Version', version),
                  ('Instance UUID', vc.get('instance_uuid'))]
    if vc.get('url'):
        parts.append(formatting.key_values(pairs))
    if report.get('clusters'):
        parts.append(formatting.table(
            [('name', 'CLUSTER'), ('exists', 'EXISTS'), ('hosts', 'HOSTS')],
            report['clusters'], title='Clusters:'))
    if vc.get('name'):
        parts.append(formatting.table(POOL_COLUMNS, report.get('pools'),
                                      title='Usable pools:'))
        rejected = sorted((report.get('rejected') or {}).items())
        if rejected:
            parts.append(formatting.table(
                [('name', 'DATASTORE'), ('reason', 'WHY IT IS NOT A POOL')],
                [{'name': n, 'reason': r} for n, r in rejected],
                title='Rejected datastores:'))
    if report.get('problems'):
        parts.append('Problems:\n' + problems(report['problems']))
        parts.append('%d problem(s) found.' % len(report['problems']))
    else:
        parts.append('OK: configuration and connection are fine.')
    return '\n\n'.join(parts)


def pools(rows):
    """The ``pools`` rows as a table."""
    return formatting.table(POOL_COLUMNS, rows)


def _snapshots_cell(names):
    if not names:
        return '0'
    return '%d: %s' % (len(names), ', '.join(names))


def _note_cell(row):
    notes = []
    if row.get('ownership') == 'legacy':
        notes.append('legacy: no owner recorded')
    if row.get('quarantined') is not None:
        notes.append('quarantined')
    return ', '.join(notes)


def volumes(rows):
    """The ``volumes`` listing as a table."""
    table_rows = [{
        'volume_id': r['volume_id'],
        'size': formatting.gib(r['size_gb']),
        'datastore': ', '.join(r['datastores']) or '-',
        'snapshots': _snapshots_cell(r['snapshots']),
        'attached': r['attached_to'],
        'moref': r['moref'],
        'parent': r['parent'],
        'note': _note_cell(r),
    } for r in rows]
    parts = [formatting.table(
        [('volume_id', 'VOLUME ID'), ('size', 'SIZE GiB'),
         ('datastore', 'DATASTORE'), ('snapshots', 'SNAPSHOTS'),
         ('attached', 'ATTACHED TO'), ('moref', 'BACKING'),
         ('parent', 'LINKED CLONE OF'), ('note', 'NOTE')], table_rows)]
    legacy = sum(1 for r in rows if r.get('ownership') == 'legacy')
    if legacy:
        parts.append(LEGACY_NOTE % legacy)
    return '\n\n'.join(parts)


LEGACY_NOTE = ('%d backing(s) record no owner (made by an earlier release) '
               'and count as this backend\'s because they are directly in '
               'its volume folder.')


def audit(report):
    """The ``audit`` report as text."""
    columns = [('kind', 'KIND'), ('volume_id', 'VOLUME ID'),
               ('moref', 'BACKING'), ('item', 'ITEM'),
               ('detail', 'DETAIL'), ('action', 'ACTION')]
    if report.get('fixed') is not None:
        columns[-1] = ('result', 'RESULT')
    parts = [formatting.table(columns, report['findings'],
                              title='Findings:')]
    counts = ', '.join('%s %d' % (kind, count)
                       for kind, count in report['summary'].items())
    parts.append('%d backing(s) of %s checked against %d volume id(s): %s.'
                 % (report['backings'], report.get('backend'),
                    report['known_ids'], counts))
    foreign = report.get('foreign_backings') or {}
    if foreign:
        parts.append('%d backing(s) of other owners in the folder ignored: '
                     '%s.' % (sum(foreign.values()), ', '.join(
                         '%s x%d' % item for item in sorted(foreign.items()))))
    if report.get('legacy_backings'):
        parts.append(LEGACY_NOTE % report['legacy_backings'])
    if report.get('recent'):
        parts.append('%d recent item(s) (made less than %ss ago) skipped: '
                     'neither changed nor counted; run the audit again '
                     'later.' % (report['recent'], report.get('min_age')))
    if report.get('quarantined'):
        parts.append('%d backing(s) in quarantine, %d past the %ss grace '
                     'period (destroyed by --purge).'
                     % (report['quarantined'], report.get('purgeable', 0),
                        report.get('grace')))
    if report.get('remaining') is not None:
        parts.append('%d leftover(s) remain after %s.'
                     % (len(report['remaining']),
                        report.get('mode') or 'the fix'))
    return '\n\n'.join(parts)


def _methods_text(methods):
    return ', '.join('%s x%d' % (name, count)
                     for name, count in sorted(methods.items()))


def demo(report, verbose=False):
    """The ``demo`` summary table."""
    rows = [{
        'step': s['name'], 'status': s['status'], 'calls': s['calls'],
        'time': formatting.seconds(s['seconds']),
        'result': s['error'] or s['result'],
        'methods': _methods_text(s['methods']),
    } for s in report['steps']]
    columns = [('step', 'STEP'), ('status', 'STATUS'),
               ('calls', 'SOAP CALLS'), ('time', 'TIME'),
               ('result', 'RESULT')]
    if verbose:
        columns.append(('methods', 'METHODS'))
    parts = [formatting.key_values([
        ('Target', report['target']), ('Instance', report['instance'])])]
    parts.append(formatting.table(columns, rows, title='Summary:'))
    failed = [s['name'] for s in report['steps'] if s['status'] == 'failed']
    parts.append('%d SOAP calls in %s. %s' % (
        report['total_calls'], formatting.seconds(report['seconds']),
        'FAILED: %s.' % ', '.join(failed) if failed else
        'All steps passed.'))
    return '\n\n'.join(parts)
