"""``vmware-backend-manage manageable``: disks Cinder can import.

Lists what :meth:`vmware_backend.volume.manage.ManageMixin.
manageable_entries` finds (a table, or JSON for scripts); ``--export``
prints, for every safe candidate, the ``openstack volume manage`` command
that imports it (or, with ``--format json``, the same as objects), the
"export the metadata, then import into Cinder" flow:

    vmware-backend-manage manageable --export --host node1@vmware-1 \\
        --volume-ids ids.txt > import.sh
    sh import.sh

``--snapshots`` lists the vSphere snapshots of this backend's backings
instead (``get_manageable_snapshots``); its export prints one ``openstack
volume snapshot create --volume <volume id> --remote-source ...`` command
per safe snapshot.
"""

import re
import shlex

from vmware_backend.cmd import commands
from vmware_backend.cmd import formatting
from vmware_backend.cmd import output

SUMMARY = 'list existing disks Cinder can import (and export the commands)'
DESCRIPTION = (
    'List the disks on the configured clusters that "openstack volume '
    'manage" can import: data disks of VMs (source-name "<vmdk>@<VM '
    'inventory path>"), backings of other deployments or of Cinder\'s '
    'in-tree VMDK driver (source-id), with their size in GiB (rounded up), '
    'whether they are safe to import and why not. Reads every VM of the '
    'inventory once (paged). With --export: one "openstack volume manage" '
    'command per safe candidate (--format json: the same as objects); '
    '--host names the cinder-volume service (host@backend) and the pool '
    '(datastore) is added per disk. With --snapshots: the vSphere '
    'snapshots of this backend\'s volumes instead, and their "openstack '
    'volume snapshot create --remote-source" commands.')

COLUMNS = (('reference', 'REFERENCE'), ('size', 'GIB'),
           ('safe', 'SAFE'), ('reason', 'REASON NOT SAFE'),
           ('cinder_id', 'CINDER ID'))

SNAPSHOT_COLUMNS = (('reference', 'REFERENCE'), ('volume', 'VOLUME'),
                    ('size', 'GIB'), ('safe', 'SAFE'),
                    ('reason', 'REASON NOT SAFE'), ('cinder_id', 'CINDER ID'))

_NAME_CHARS = re.compile(r'[^A-Za-z0-9_.-]+')


def add_arguments(parser):
    """The ``manageable`` command's own options."""
    parser.add_argument(
        '--volume-ids', metavar='FILE',
        help='volume ids Cinder knows, one per line ("-": stdin); those '
             'backings are shown with their CINDER ID')
    parser.add_argument(
        '--snapshots', action='store_true',
        help='list the vSphere snapshots of this backend\'s volumes that '
             '"openstack volume snapshot create --remote-source" can import')
    parser.add_argument(
        '--snapshot-ids', metavar='FILE',
        help='with --snapshots: snapshot ids Cinder knows, one per line '
             '("-": stdin); those are shown with their CINDER ID')
    parser.add_argument('--export', action='store_true',
                        help='print the import commands of safe candidates')
    parser.add_argument(
        '--host', metavar='HOST@BACKEND',
        help='with --export: the cinder-volume service of this backend '
             '(as "openstack volume service list" shows it)')


def reference_text(reference):
    """(id type, value) of a reference dict."""
    [(id_type, value)] = reference.items()
    return id_type, value


def volume_name(entry):
    """A volume name for an import: from the VM and the disk file."""
    info = entry.get('extra_info') or {}
    id_type, value = reference_text(entry['reference'])
    if id_type == 'source-id':
        base = info.get('vm') or value
    else:
        stem = (info.get('file') or value.split('@')[0]).rsplit('/', 1)[-1]
        stem = stem[:-len('.vmdk')] if stem.endswith('.vmdk') else stem
        base = '%s-%s' % (info['vm'], stem) if info.get('vm') and \
            not stem.startswith(info['vm']) else stem
    return _NAME_CHARS.sub('-', base).strip('-') or 'imported'


def export(entries, host):
    """Import commands of the safe entries: a list of dicts.

    :param host: ``host@backend`` of the cinder-volume service.
    """
    if not host or '@' not in host or '#' in host:
        raise output.UsageError('--export needs --host HOST@BACKEND (the '
                                'cinder-volume service; the pool is added '
                                'per disk), got %r' % (host,))
    items = []
    for entry in entries:
        if not entry['safe_to_manage']:
            continue
        id_type, value = reference_text(entry['reference'])
        info = entry.get('extra_info') or {}
        pool = info.get('pool') or info.get('datastore')
        item = {'host': '%s#%s' % (host, pool), 'id_type': id_type,
                'reference': value, 'name': volume_name(entry),
                'size': entry['size']}
        item['command'] = ' '.join(
            ['openstack', 'volume', 'manage', '--host',
             shlex.quote(item['host']), '--id-type', id_type, '--name',
             shlex.quote(item['name']), shlex.quote(value)])
        items.append(item)
    return items


def export_snapshots(entries):
    """Snapshot import commands of the safe snapshot entries (dicts)."""
    items = []
    for entry in entries:
        if not entry['safe_to_manage']:
            continue
        id_type, value = reference_text(entry['reference'])
        volume_id = entry['extra_info']['volume_id']
        name = _NAME_CHARS.sub('-', value).strip('-') or 'imported'
        item = {'volume_id': volume_id, 'id_type': id_type,
                'reference': value, 'name': name, 'size': entry['size']}
        item['command'] = ' '.join(
            ['openstack', 'volume', 'snapshot', 'create', '--volume',
             volume_id, '--remote-source',
             shlex.quote('%s=%s' % (id_type, value)), shlex.quote(name)])
        items.append(item)
    return items


def snapshot_rows(entries):
    """Table rows of manageable snapshot entries."""
    result = rows(entries)
    for row, entry in zip(result, sorted(entries,
                                         key=lambda e: str(e['reference']))):
        row['volume'] = reference_text(entry['source_reference'])[1]
    return result


def rows(entries):
    """Table rows of manageable entries."""
    result = []
    for entry in sorted(entries, key=lambda e: str(e['reference'])):
        id_type, value = reference_text(entry['reference'])
        result.append({'reference': '%s: %s' % (id_type, value),
                       'size': entry['size'],
                       'safe': 'yes' if entry['safe_to_manage'] else 'no',
                       'reason': entry['reason_not_safe'] or '',
                       'cinder_id': entry['cinder_id'] or ''})
    return result


def cmd_manageable(args, options, out):
    """The ``manageable`` command."""
    commands._require_vcenter(options)
    if args.export and not args.host and not args.snapshots:
        raise output.UsageError('--export needs --host HOST@BACKEND')
    if args.snapshots:
        return _cmd_snapshots(args, options, out)
    known = commands.read_volume_ids(args.volume_ids) \
        if args.volume_ids else set()
    entries = _read_entries(
        options, out, 'candidate(s)',
        lambda driver: driver.manageable_entries([{'id': i} for i in known]))
    return _show(args, out, entries, lambda: export(entries, args.host),
                 rows, COLUMNS)


def _cmd_snapshots(args, options, out):
    """``manageable --snapshots``."""
    known = commands.read_volume_ids(args.snapshot_ids,
                                     option='--snapshot-ids') \
        if args.snapshot_ids else set()
    entries = _read_entries(
        options, out, 'snapshot(s)',
        lambda driver: driver.manageable_snapshot_entries(
            [{'id': i} for i in known]))
    return _show(args, out, entries, lambda: export_snapshots(entries),
                 snapshot_rows, SNAPSHOT_COLUMNS)


def _read_entries(options, out, noun, read):
    """``read(driver)`` on a driver of ``options``, with progress.

    The driver's session is closed whatever happens.
    """
    from vmware_backend.volume import driver as vc_driver
    driver = vc_driver.VMwareVolumeDriver(options)
    try:
        out.progress('Reading every VM of the inventory (paged) ...')
        entries = read(driver)
        out.progress('%d %s, %d safe (%d SOAP calls).' % (
            len(entries), noun,
            sum(1 for e in entries if e['safe_to_manage']),
            driver.session.total_requests()))
    finally:
        driver.session.close()
    return entries


def _show(args, out, entries, export_items, table_rows, columns):
    """The entries as import commands (--export), JSON or a table."""
    if args.export:
        out.result(export_items(), lambda data: '\n'.join(
            i['command'] for i in data) or '# nothing safe to import')
    elif out.format == 'json':
        out.result(entries, None)
    else:
        out.result(table_rows(entries),
                   lambda data: formatting.table(columns, data))
    return output.EXIT_OK
