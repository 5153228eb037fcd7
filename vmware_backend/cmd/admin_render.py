"""Text rendering of the storage administration commands' results.

Each function takes the plain data ``--format json`` prints and returns
the human-readable text.
"""

from vmware_backend.cmd import formatting


def pool_names(rows):
    """The ``pool-names`` migration table."""
    text = formatting.table(
        [('old', 'OLD POOL NAME'), ('new', 'STABLE POOL NAME'),
         ('datastore', 'DATASTORE'), ('datacenter', 'DATACENTER')], rows)
    commands = [row['command'] for row in rows if row.get('command')]
    if commands:
        text += '\n\nTo move Cinder\'s volumes to the stable names:\n' + \
            '\n'.join('  ' + command for command in commands)
    unknown = [row['old'] for row in rows if not row.get('new')]
    if unknown:
        text += ('\n\nNo usable pool (or several) for: %s; check with '
                 '"datastores".' % ', '.join(unknown))
    return text


def _sioc_cell(sioc):
    if not sioc:
        return '-'
    if not sioc.get('enabled'):
        return 'off'
    return 'on (%s %sms, %s%%)' % (sioc.get('congestion_threshold_mode'),
                                   sioc.get('congestion_threshold_ms'),
                                   sioc.get('percent_of_peak_throughput'))


def _reach_cell(reach):
    return ', '.join('%s:%s' % (name, 'yes' if ok else 'NO')
                     for name, ok in sorted((reach or {}).items())) or '-'


def datastores(rows):
    """The ``datastores`` table."""
    table_rows = [dict(row, sioc_text=_sioc_cell(row.get('sioc')),
                       reach_text=_reach_cell(row.get('cluster_reach')),
                       state=('ok' if row.get('accessible') else
                              'INACCESSIBLE') + (
                           '' if row.get('maintenance_mode') == 'normal'
                           else ', %s' % row.get('maintenance_mode')),
                       pool_text=row.get('pool') or 'no: %s' % (
                           row.get('not_a_pool'),))
                  for row in rows]
    return formatting.table(
        [('name', 'NAME'), ('id', 'ID / POOL'), ('datacenter', 'DC'),
         ('type', 'TYPE'), ('capacity_gb', 'TOTAL GiB'),
         ('free_gb', 'FREE GiB'), ('uncommitted_gb', 'UNCOMMITTED'),
         ('state', 'STATE'), ('hosts', 'HOSTS'),
         ('reach_text', 'CLUSTER REACH'), ('sioc_text', 'SIOC'),
         ('volumes', 'VOLUMES'), ('vms', 'VMS')], table_rows) + \
        _not_pools(rows)


def _not_pools(rows):
    lines = ['%s (%s): %s' % (row['name'], row['id'], row['not_a_pool'])
             for row in rows if not row.get('pool')]
    if not lines:
        return ''
    return '\n\nNot pools:\n' + '\n'.join('  ' + line for line in lines)


def change(result):
    """A datastore change: what, and each host's outcome."""
    head = '%s%s %s (%s): %s' % (
        'DRY RUN: ' if result.get('dry_run') else '', result['action'],
        result['datastore'], result.get('id') or 'new',
        result.get('detail') or '')
    parts = [head.rstrip(': ')]
    if result.get('hosts'):
        parts.append(formatting.table(
            [('host', 'HOST'), ('status', 'STATUS'), ('error', 'ERROR')],
            result['hosts']))
    parts.append('OK.' if result.get('ok') else 'FAILED (see above).')
    return '\n\n'.join(parts)


def browse(result):
    """The ``browse`` listing."""
    rows = [dict(f, owner_text=(
        'volume %s' % f['volume_id'] if f.get('owner') == 'volume' else
        'VM %s' % f['vm'] if f.get('owner') == 'vm' else
        f.get('owner') or ('VM %s' % f['vm'] if f.get('vm') else '-')))
        for f in result['files']]
    loose = sum(1 for f in result['files'] if f.get('owner') == 'loose')
    return '%s (%s), patterns %s:\n\n%s\n\n%d file(s), %d loose disk(s).' % (
        result['path'].strip(), result['id'], ', '.join(result['patterns']),
        formatting.table(
            [('path', 'PATH'), ('kind', 'KIND'), ('size', 'BYTES'),
             ('modified', 'MODIFIED'), ('capacity_gb', 'CAPACITY GiB'),
             ('thin', 'THIN'), ('owner_text', 'OWNER')], rows),
        len(rows), loose)


def snapshots(tree):
    """A volume's snapshot tree, indented by depth."""
    rows = [dict(n, tree_name='  ' * n['depth'] + n['name'] + (
        ' (current)' if n['current'] else '')) for n in tree['snapshots']]
    return 'Volume %s, backing %s (%s):\n\n%s' % (
        tree['volume_id'], tree['backing_name'], tree['backing'],
        formatting.table(
            [('tree_name', 'SNAPSHOT'), ('id', 'ID'), ('kind', 'KIND'),
             ('created', 'CREATED'), ('description', 'DESCRIPTION'),
             ('clones', 'LINKED CLONES')], rows))


def qos(found):
    """A volume disk's I/O allocation."""
    return formatting.key_values([
        ('Volume', found['volume_id']), ('Backing', found['backing']),
        ('Disk', found['disk']), ('IOPS limit', found['limit_iops']),
        ('IOPS reservation', found['reservation_iops']),
        ('Shares', '%s (%s)' % (found['shares_level'], found['shares'])
         if found['shares_level'] == 'custom' else found['shares_level'])])


def sioc(report):
    """A datastore's Storage I/O Control settings."""
    sioc_info = report.get('sioc') or {}
    return formatting.key_values([
        ('Datastore', '%s (%s, %s)' % (report['datastore'], report['id'],
                                       report['type'])),
        ('Enabled', sioc_info.get('enabled')),
        ('Threshold mode', sioc_info.get('congestion_threshold_mode')),
        ('Threshold (ms)', sioc_info.get('congestion_threshold_ms')),
        ('Percent of peak', sioc_info.get('percent_of_peak_throughput')),
        ('Statistics', sioc_info.get('stats_collection_enabled'))],
        title='DRY RUN (current settings):' if report.get('dry_run')
        else None)
