"""Storage administration commands of ``vmware-backend-manage``.

Registered into :mod:`vmware_backend.cmd.manage` through
:data:`COMMANDS`, :func:`add_arguments` and :data:`HANDLERS`. Each handler
works through :mod:`vmware_backend.admin` and prints a table or JSON.
Commands that change vCenter ask for a confirmation on a terminal (``--yes``
otherwise), support ``--dry-run`` and print progress to stderr while a
step runs longer than a second.
"""

import contextlib
import dataclasses
import sys
import threading
import time

from vmware_backend.cmd import admin_render
from vmware_backend.cmd import commands
from vmware_backend.cmd import output

COMMANDS = {
    'pool-names': (
        'map old pool names to the stable ones (migration)',
        'Pools are named after the datastore id (moref), which survives a '
        'rename. List the pool names earlier releases used (<datastore> '
        'or <datacenter>:<datastore>) with the stable name each maps to; '
        'with --host HOST@BACKEND also the "cinder-manage volume '
        'update_host" command that moves Cinder\'s volumes. --old-names '
        'FILE limits the list to the pools (or host@backend#pool values) '
        'in FILE.'),
    'datastores': (
        'list datastores with capacity, mounts, SIOC and volumes',
        'List every datastore: id (the stable pool name), name, '
        'datacenter, type, capacity, free, uncommitted and provisioned '
        'GiB, accessibility, maintenance mode, the hosts and clusters that '
        'mount it, whether each configured cluster reaches it (all its '
        'connected hosts mount it), Storage I/O Control, how many volumes '
        'of this backend and VMs in all have files there, and its pool or '
        'why it is none. Reads no VM but those on the datastores.'),
    'datastore-rename': (
        'rename a datastore (its pool name stays)',
        'Rename a datastore (Datastore.RenameDatastore). Its pool keeps '
        'its stable name. DATASTORE is an id, <datacenter>:<name> or a '
        'unique name.'),
    'datastore-create-nfs': (
        'mount an NFS export as a datastore on a cluster\'s hosts',
        'Create an NFS (or NFS41) datastore on every connected host of '
        'CLUSTER (HostDatastoreSystem.CreateNasDatastore per host). Hosts '
        'already mounting the same export under that name are left as '
        'they are. When a host fails, the hosts mounted by this run are '
        'unmounted again (unless --no-rollback); each host\'s outcome is '
        'reported. Exits 1 when a host failed.'),
    'datastore-remove': (
        'unmount a datastore from every host',
        'Remove a datastore (HostDatastoreSystem.RemoveDatastore on each '
        'host that mounts it). Refused while it holds volumes of this '
        'backend or files of any VM, unless --force.'),
    'browse': (
        'list the files of a datastore and who owns each disk',
        'Search a datastore folder (and its sub-folders unless '
        '--no-recursive) for files matching --pattern (default *): size, '
        'modification time, and for each vmdk its capacity, disk type, '
        'thin provisioning and owner: a volume of this backend, another '
        'VM, or loose (no VM uses it).'),
    'snapshots': (
        'show a volume\'s snapshot tree and the linked clones on it',
        'Show the snapshot tree of a volume\'s backing: name, '
        'description, creation time, the current snapshot, whether it is '
        'a Cinder snapshot or a temporary clone snapshot, and the linked '
        'clones that read from each snapshot.'),
    'snapshot-rename': (
        'rename or re-describe a snapshot of a volume',
        'VirtualMachineSnapshot.RenameSnapshot on a snapshot (name or id) '
        'of a volume\'s backing: --name and/or --description. Renaming a '
        'snapshot the driver or a linked clone finds by name '
        '(snapshot-<id>, clone-<id>) is refused unless --force.'),
    'qos': (
        'show the I/O allocation of a volume\'s disk',
        'Read the storageIOAllocation of a volume\'s backing disk: IOPS '
        'limit, reservation and shares, as set from the volume type\'s '
        'QoS specs and vmware:* extra specs.'),
    'sioc': (
        'show a datastore\'s Storage I/O Control settings',
        'Show iormConfiguration of a datastore: enabled, congestion '
        'threshold mode and value, percent of peak throughput, statistics '
        'collection.'),
    'sioc-set': (
        'configure a datastore\'s Storage I/O Control',
        'StorageResourceManager.ConfigureDatastoreIORM_Task with the given '
        'settings (others unchanged). Checked first: threshold 5-100 ms '
        '(manual mode), percent 50-100; VMFS and NFS v3 only.'),
}


def _mutating(parser):
    parser.add_argument('--yes', action='store_true',
                        help='do not ask for a confirmation')
    parser.add_argument('--dry-run', action='store_true',
                        help='show what would be done, change nothing')


def add_arguments(subparsers):
    """Add the arguments of these commands to their subparsers."""
    names = subparsers['pool-names']
    names.add_argument('--host', metavar='HOST@BACKEND',
                       help='Cinder host of this backend, to print the '
                            'cinder-manage commands')
    names.add_argument('--old-names', metavar='FILE',
                       help='pool names (or host@backend#pool values) in '
                            'use, one per line ("-": stdin)')
    rename = subparsers['datastore-rename']
    rename.add_argument('datastore', metavar='DATASTORE')
    rename.add_argument('new_name', metavar='NEW_NAME')
    _mutating(rename)
    nfs = subparsers['datastore-create-nfs']
    nfs.add_argument('--cluster', required=True)
    nfs.add_argument('--name', required=True, help='datastore name')
    nfs.add_argument('--server', required=True, help='NFS server')
    nfs.add_argument('--path', required=True, help='exported path')
    nfs.add_argument('--type', default='NFS', help='NFS (default) or NFS41')
    nfs.add_argument('--read-only', action='store_true')
    nfs.add_argument('--no-rollback', action='store_true',
                     help='keep the hosts that mounted it when another '
                          'host fails')
    _mutating(nfs)
    browse = subparsers['browse']
    browse.add_argument('datastore', metavar='DATASTORE')
    browse.add_argument('path', metavar='PATH', nargs='?', default='',
                        help='folder below the datastore root')
    browse.add_argument('--pattern', action='append', default=None,
                        help='file name pattern, e.g. "*.vmdk" (repeat '
                             'for several; default *)')
    browse.add_argument('--no-recursive', action='store_true',
                        help='this folder only')
    subparsers['snapshots'].add_argument('volume_id', metavar='VOLUME_ID')
    snap = subparsers['snapshot-rename']
    snap.add_argument('volume_id', metavar='VOLUME_ID')
    snap.add_argument('snapshot', metavar='SNAPSHOT', help='name or id')
    snap.add_argument('--name', help='new name')
    snap.add_argument('--description', help='new description')
    snap.add_argument('--force', action='store_true',
                      help='rename even a snapshot the driver finds by name')
    _mutating(snap)
    subparsers['qos'].add_argument('volume_id', metavar='VOLUME_ID')
    subparsers['sioc'].add_argument('datastore', metavar='DATASTORE')
    iorm = subparsers['sioc-set']
    iorm.add_argument('datastore', metavar='DATASTORE')
    onoff = iorm.add_mutually_exclusive_group()
    onoff.add_argument('--enable', dest='enabled', action='store_const',
                       const=True, default=None)
    onoff.add_argument('--disable', dest='enabled', action='store_const',
                       const=False)
    iorm.add_argument('--mode', choices=('automatic', 'manual'),
                      help='congestion threshold mode')
    iorm.add_argument('--threshold-ms', type=int,
                      help='congestion threshold, manual mode (5-100)')
    iorm.add_argument('--percent', type=int,
                      help='percent of peak throughput (50-100)')
    iorm.add_argument('--stats', choices=('on', 'off'),
                      help='statistics collection')
    _mutating(iorm)
    remove = subparsers['datastore-remove']
    remove.add_argument('datastore', metavar='DATASTORE')
    remove.add_argument('--force', action='store_true',
                        help='remove even with volumes or VM files on it')
    _mutating(remove)


# Helpers -------------------------------------------------------------------

def as_plain(value):
    """Dataclass results as dicts (recursively) for JSON and rendering."""
    if dataclasses.is_dataclass(value):
        return dataclasses.asdict(value)
    if isinstance(value, list):
        return [as_plain(item) for item in value]
    return value


def approve(args, out, question):
    """True when the change may go ahead (``--yes``, dry run, or a yes).

    :raises output.UsageError: no terminal to ask on and no ``--yes``.
    """
    if args.dry_run or args.yes:
        return True
    if not sys.stdin.isatty():
        raise output.UsageError('no terminal to confirm "%s"; pass --yes '
                                '(or --dry-run to see the plan)' % question)
    return commands.confirm(question)


@contextlib.contextmanager
def ticking(out, what, after=1.0):
    """Print "<what>: still running (Ns)" each second after the first."""
    stop = threading.Event()
    start = time.monotonic()

    def tick():
        while not stop.wait(after):
            out.progress('%s: still running (%ds)' % (
                what, time.monotonic() - start))

    thread = threading.Thread(target=tick, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


@contextlib.contextmanager
def vcenter(options):
    commands._require_vcenter(options)
    session = commands._session(options)
    try:
        yield session
    finally:
        session.close()


def read_lines(path):
    """Non-blank, non-comment lines of ``path`` ("-": stdin)."""
    try:
        if path == '-':
            text = sys.stdin.read()
        else:
            with open(path) as f:
                text = f.read()
    except OSError as err:
        raise output.UsageError('cannot read %s: %s' % (path, err.strerror))
    return [line.strip() for line in text.splitlines()
            if line.strip() and not line.strip().startswith('#')]


# Commands ------------------------------------------------------------------

def cmd_pool_names(args, options, out):
    from vmware_backend.volume import placement
    from vmware_backend.volume import pool_names
    old = None
    if args.old_names:
        old = [line.split('#', 1)[1] if '#' in line else line
               for line in read_lines(args.old_names)]
    with vcenter(options) as session:
        pools = placement.PlacementService(session, options).usable_pools()
    rows = pool_names.migration(pools, old)
    for row in rows:
        row['command'] = None
        if args.host and row['new']:
            row['command'] = (
                'cinder-manage volume update_host --currenthost %s#%s '
                '--newhost %s#%s' % (args.host, row['old'], args.host,
                                     row['new']))
    out.result(rows, admin_render.pool_names)
    return output.EXIT_OK


def cmd_datastores(args, options, out):
    from vmware_backend.admin import datastores
    with vcenter(options) as session:
        out.progress('Reading datastores, hosts and clusters ...')
        infos = datastores.list_datastores(session, options)
    rows = []
    for info in infos:
        row = as_plain(info)
        row['provisioned_gb'] = info.provisioned_gb
        rows.append(row)
    out.result(rows, admin_render.datastores)
    return output.EXIT_OK


def _change_result(out, result):
    out.result(as_plain(result), admin_render.change)
    return output.EXIT_OK if result.ok else output.EXIT_PROBLEM


def cmd_datastore_rename(args, options, out):
    from vmware_backend.admin import datastore_changes as changes
    with vcenter(options) as session:
        plan = changes.rename(session, args.datastore, args.new_name,
                              dry_run=True)
        if args.dry_run:
            return _change_result(out, plan)
        if not approve(args, out, 'Rename datastore %s (%s) to %s?' % (
                plan.datastore, plan.id, args.new_name)):
            out.progress('Nothing changed.')
            return output.EXIT_PROBLEM
        result = changes.rename(session, plan.id, args.new_name)
    return _change_result(out, result)


def cmd_datastore_create_nfs(args, options, out):
    from vmware_backend.admin import datastore_changes as changes
    mode = 'readOnly' if args.read_only else 'readWrite'
    kwargs = dict(cluster=args.cluster, name=args.name,
                  remote_host=args.server, remote_path=args.path,
                  nfs_type=args.type, access_mode=mode)
    with vcenter(options) as session:
        plan = changes.create_nfs(session, dry_run=True, **kwargs)
        if args.dry_run:
            return _change_result(out, plan)
        hosts = [h.host for h in plan.hosts if h.status == 'would mount']
        if not approve(args, out, 'Mount %s:%s as datastore %s on %s?' % (
                args.server, args.path, args.name,
                ', '.join(hosts) or 'no new host')):
            out.progress('Nothing changed.')
            return output.EXIT_PROBLEM
        with ticking(out, 'creating datastore %s' % args.name):
            result = changes.create_nfs(
                session, rollback=not args.no_rollback,
                progress=out.progress, **kwargs)
    return _change_result(out, result)


def cmd_datastore_remove(args, options, out):
    from vmware_backend.admin import datastore_changes as changes
    with vcenter(options) as session:
        plan = changes.remove(session, args.datastore, force=args.force,
                              dry_run=True)
        if args.dry_run:
            return _change_result(out, plan)
        if not approve(args, out, 'Remove datastore %s (%s) from %s?' % (
                plan.datastore, plan.id,
                ', '.join(h.host for h in plan.hosts) or 'no host')):
            out.progress('Nothing changed.')
            return output.EXIT_PROBLEM
        with ticking(out, 'removing datastore %s' % plan.datastore):
            result = changes.remove(session, plan.id, force=args.force,
                                    progress=out.progress)
    return _change_result(out, result)


def cmd_browse(args, options, out):
    from vmware_backend.admin import browse
    with vcenter(options) as session:
        with ticking(out, 'searching %s' % args.datastore):
            result = browse.browse(session, args.datastore, args.path,
                                   patterns=args.pattern or ['*'],
                                   recursive=not args.no_recursive)
    out.result(as_plain(result), admin_render.browse)
    return output.EXIT_OK


def cmd_snapshots(args, options, out):
    from vmware_backend.admin import snapshot_trees
    with vcenter(options) as session:
        tree = snapshot_trees.snapshot_tree(session, args.volume_id)
    out.result(as_plain(tree), admin_render.snapshots)
    return output.EXIT_OK


def cmd_snapshot_rename(args, options, out):
    from vmware_backend.admin import snapshot_trees
    kwargs = dict(new_name=args.name, description=args.description,
                  force=args.force)
    with vcenter(options) as session:
        tree = snapshot_trees.rename(session, args.volume_id, args.snapshot,
                                     dry_run=True, **kwargs)
        if args.dry_run:
            out.progress('DRY RUN: nothing changed.')
            out.result(as_plain(tree), admin_render.snapshots)
            return output.EXIT_OK
        changes = ', '.join(filter(None, (
            args.name and 'name %r' % args.name,
            args.description is not None and
            'description %r' % args.description)))
        if not approve(args, out, 'Set %s on snapshot %s of volume %s?' % (
                changes, args.snapshot, args.volume_id)):
            out.progress('Nothing changed.')
            return output.EXIT_PROBLEM
        tree = snapshot_trees.rename(session, args.volume_id, args.snapshot,
                                     **kwargs)
    out.result(as_plain(tree), admin_render.snapshots)
    return output.EXIT_OK


def cmd_qos(args, options, out):
    from vmware_backend.admin import qos
    with vcenter(options) as session:
        found = qos.volume_allocation(session, args.volume_id)
    out.result(as_plain(found), admin_render.qos)
    return output.EXIT_OK


def _sioc_report(found, dry_run=False):
    name, ident, ds_type, sioc = found
    return {'datastore': name, 'id': ident, 'type': ds_type,
            'dry_run': dry_run, 'sioc': as_plain(sioc)}


def cmd_sioc(args, options, out):
    from vmware_backend.admin import qos
    with vcenter(options) as session:
        found = qos.sioc(session, args.datastore)
    out.result(_sioc_report(found), admin_render.sioc)
    return output.EXIT_OK


def cmd_sioc_set(args, options, out):
    from vmware_backend.admin import qos
    kwargs = dict(enabled=args.enabled, mode=args.mode,
                  threshold_ms=args.threshold_ms, percent=args.percent,
                  stats=None if args.stats is None else args.stats == 'on')
    with vcenter(options) as session:
        before = qos.configure_sioc(session, args.datastore, dry_run=True,
                                    **kwargs)
        if args.dry_run:
            out.result(_sioc_report(before, True), admin_render.sioc)
            return output.EXIT_OK
        settings = ', '.join('%s=%s' % (k, v) for k, v in kwargs.items()
                             if v is not None)
        if not approve(args, out, 'Set %s on datastore %s?' % (
                settings, before[0])):
            out.progress('Nothing changed.')
            return output.EXIT_PROBLEM
        with ticking(out, 'configuring SIOC on %s' % before[0]):
            after = qos.configure_sioc(session, before[1], **kwargs)
    out.result(_sioc_report(after), admin_render.sioc)
    return output.EXIT_OK


def _bad_input_is_usage(handler):
    """Bad input named by the library exits 2, like bad arguments."""
    def run(args, options, out):
        from vmware_backend import exceptions
        try:
            return handler(args, options, out)
        except exceptions.InvalidAdminInput as err:
            raise output.UsageError(str(err))
    run.__doc__ = handler.__doc__
    return run


HANDLERS = {name: _bad_input_is_usage(handler) for name, handler in {
    'pool-names': cmd_pool_names,
    'datastores': cmd_datastores,
    'datastore-rename': cmd_datastore_rename,
    'datastore-create-nfs': cmd_datastore_create_nfs,
    'datastore-remove': cmd_datastore_remove,
    'browse': cmd_browse,
    'snapshots': cmd_snapshots,
    'snapshot-rename': cmd_snapshot_rename,
    'qos': cmd_qos,
    'sioc': cmd_sioc,
    'sioc-set': cmd_sioc_set,
}.items()}
