"""Disk export command of ``vmware-backend-manage``: ``snapshot-export``.

Registered into :mod:`vmware_backend.cmd.manage` like
:mod:`.admin_commands` (:data:`COMMANDS`, :func:`add_arguments`,
:data:`HANDLERS`). It writes a local file and holds an export lease on
vCenter, so it follows the conventions of the commands that change
things: a confirmation on a terminal (``--yes`` otherwise), ``--dry-run``,
progress on stderr.
"""

import time

from vmware_backend.cmd import admin_commands
from vmware_backend.cmd import output

COMMANDS = {
    'snapshot-export': (
        'export a snapshot\'s disk of a volume to a local file',
        'VirtualMachineSnapshot.ExportSnapshot of a snapshot (name or id) '
        'of a volume\'s backing; the disk, as it was when the snapshot was '
        'taken, is downloaded through the HttpNfcLease with this '
        'command\'s own vCenter session and written to FILE as a '
        'streamOptimized VMDK (qemu-img reads it; Glance takes it as '
        'disk_format=vmdk, vmware_disktype=streamOptimized). Progress is '
        'printed every second; the lease is completed, or aborted on any '
        'failure, and FILE appears only when complete (FILE.part '
        'meanwhile). Prints the size and SHA-256 of FILE. An existing '
        'FILE is refused unless --force.'),
}


def add_arguments(subparsers):
    export = subparsers['snapshot-export']
    export.add_argument('volume_id', metavar='VOLUME_ID')
    export.add_argument('snapshot', metavar='SNAPSHOT', help='name or id')
    export.add_argument('file', metavar='FILE', help='local file to write')
    export.add_argument('--force', action='store_true',
                        help='replace FILE if it exists')
    export.add_argument('--yes', action='store_true',
                        help='do not ask for a confirmation')
    export.add_argument('--dry-run', action='store_true',
                        help='check the snapshot and FILE, export nothing')


def render(result):
    rows = [('volume', result['volume_id']),
            ('snapshot', '%s (%s)' % (result['snapshot'],
                                      result['snapshot_id'])),
            ('file', result['path']), ('format', result['format'])]
    if result['dry_run']:
        return 'DRY RUN: would export\n' + '\n'.join(
            '  %-9s %s' % row for row in rows)
    rows += [('bytes', str(result['bytes'])),
             ('disk', '%d KiB' % result['capacity_kb']),
             ('sha256', result['sha256'])]
    return 'Exported\n' + '\n'.join('  %-9s %s' % row for row in rows)


def _progress(out):
    last = [time.monotonic()]

    def report(done, total):
        now = time.monotonic()
        if now - last[0] >= 1.0:
            last[0] = now
            out.progress('exporting: %.1f MiB of the compressed stream '
                         'received (disk: %d MiB)' % (done / 2.0 ** 20,
                                                      total >> 20))
    return report


def cmd_snapshot_export(args, options, out):
    from vmware_backend.admin import snapshot_export
    with admin_commands.vcenter(options) as session:
        plan = snapshot_export.export_snapshot(
            session, args.volume_id, args.snapshot, args.file,
            force=args.force, dry_run=True)
        if args.dry_run:
            out.result(admin_commands.as_plain(plan), render)
            return output.EXIT_OK
        if not admin_commands.approve(
                args, out, 'Export snapshot %s of volume %s to %s?' % (
                    plan.snapshot, args.volume_id, plan.path)):
            out.progress('Nothing exported.')
            return output.EXIT_PROBLEM
        result = snapshot_export.export_snapshot(
            session, args.volume_id, plan.snapshot_id, args.file,
            force=args.force, progress=_progress(out))
    out.result(admin_commands.as_plain(result), render)
    return output.EXIT_OK


HANDLERS = {
    'snapshot-export':
        admin_commands._bad_input_is_usage(cmd_snapshot_export),
}
