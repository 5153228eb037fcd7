"""Text rendering of the virtual disk and cluster commands' results.

Each function takes the plain data ``--format json`` prints and returns
the human-readable text.
"""

from vmware_backend.cmd import formatting


def _owner(found):
    owner = found.get('owner')
    if owner == 'volume':
        return 'volume %s (backing %s)' % (found.get('volume_id'),
                                           ', '.join(found.get('vms') or []))
    if owner == 'vm':
        return 'VM %s' % ', '.join(found.get('vms') or [])
    if owner == 'parent':
        return 'parent of disks of VM %s' % ', '.join(
            found.get('children') or [])
    return owner or '-'


def disk(found, title=None):
    """One disk's details."""
    pairs = [
        ('Disk', found['path']), ('Datacenter', found['datacenter']),
        ('Capacity GiB', found['capacity_gb']),
        ('Provisioning', found.get('provisioning') or 'not reported'),
        ('Controller', found.get('controller_type') or '-'),
        ('UUID', found.get('uuid')), ('Used by', _owner(found))]
    if found.get('children') and found.get('owner') != 'parent':
        pairs.append(('Read by', ', '.join(found['children'])))
    return formatting.key_values(pairs, title=title)


def change(result):
    """A disk change: what was (or would be) done, and the disk after."""
    target = ''
    if result.get('target'):
        target = ' -> %s (datacenter %s)' % (result['target'],
                                             result['target_datacenter'])
    head = '%s%s %s (datacenter %s)%s%s' % (
        'DRY RUN: ' if result.get('dry_run') else '', result['action'],
        result['path'], result['datacenter'], target,
        ': %s' % result['detail'] if result.get('detail') else '')
    parts = [head]
    if result.get('disk'):
        parts.append(disk(result['disk'], title=(
            'Before:' if result.get('dry_run') or
            result['action'] == 'delete' else 'Now:')))
    parts.append('Nothing changed.' if result.get('dry_run') else
                 'OK.' if result.get('ok') else 'FAILED.')
    return '\n\n'.join(parts)


def cluster(result):
    """A cluster change."""
    return '%s%s cluster %s (%s) in datacenter %s.%s' % (
        'DRY RUN: ' if result.get('dry_run') else '', result['action'],
        result['cluster'], result.get('id') or 'new', result['datacenter'],
        ' Nothing changed.' if result.get('dry_run') else ' OK.')
