"""Virtual disk and cluster commands of ``vmware-backend-manage``.

Registered into :mod:`vmware_backend.cmd.manage` like
:mod:`vmware_backend.cmd.admin_commands` (whose helpers they share):
commands that change vCenter ask for a confirmation on a terminal
(``--yes`` otherwise), support ``--dry-run`` and print progress to stderr
while a step runs longer than a second; refusals exit 1 naming the disk
and its datacenter.
"""

from vmware_backend.cmd import admin_commands as admin
from vmware_backend.cmd import disk_render
from vmware_backend.cmd import output

_PATH = '"[datastore] folder/name.vmdk"'

COMMANDS = {
    'disk-info': (
        'show a virtual disk: capacity, provisioning, uuid, who uses it',
        'Read a vmdk as vCenter reports it (datastore search with disk '
        'details, QueryVirtualDiskUuid): capacity, thin or thick '
        '(eagerZeroedThick when a VM\'s backing says so), controller type, '
        'uuid, and who uses it: a volume of this backend, other VMs, VMs '
        'whose disks read from it, or nobody (loose). PATH is %s.' % _PATH),
    'disk-create': (
        'create a virtual disk file',
        'VirtualDiskManager.CreateVirtualDisk_Task: --size-gb, --type thin '
        '(default), thick or eagerZeroedThick, --adapter lsiLogic '
        '(default), busLogic or ide. The folder is made when missing (and '
        'removed again when the create fails).'),
    'disk-delete': (
        'delete a virtual disk file',
        'VirtualDiskManager.DeleteVirtualDisk_Task. Refused for a disk a '
        'VM (a volume\'s backing included) uses or reads from, unless '
        '--force.'),
    'disk-copy': (
        'copy a virtual disk to a new path',
        'VirtualDiskManager.CopyVirtualDisk_Task to DEST (another folder, '
        'datastore or, with --dest-datacenter, datacenter). The copy gets '
        'a new uuid; the source is only read. A failed copy leaves no '
        'partial file.'),
    'disk-move': (
        'move or rename a virtual disk',
        'VirtualDiskManager.MoveVirtualDisk_Task to DEST. Refused for a '
        'disk a VM uses or reads from, unless --force.'),
    'disk-extend': (
        'grow a virtual disk',
        'VirtualDiskManager.ExtendVirtualDisk_Task to --size-gb (disks '
        'never shrink; the current size is a no-op), --eager-zero to zero '
        'the added space. Refused for a disk a VM uses unless --force.'),
    'disk-inflate': (
        'inflate a thin disk to eagerZeroedThick',
        'VirtualDiskManager.InflateVirtualDisk_Task: thin disks only. '
        'Refused for a disk a VM uses unless --force.'),
    'disk-eager-zero': (
        'zero the unwritten blocks of a thick disk',
        'VirtualDiskManager.EagerZeroVirtualDisk_Task: thick disks only '
        '(inflate a thin one). Refused for a disk a VM uses unless '
        '--force.'),
    'cluster-create': (
        'create an empty cluster',
        'Folder.CreateClusterEx in the datacenter\'s host folder, with '
        'vSphere\'s default settings.'),
    'cluster-remove': (
        'remove an empty cluster',
        'ClusterComputeResource.Destroy_Task. Refused while the cluster '
        'holds hosts, volumes of this backend or other VMs.'),
}


def _disk(parser, force=True, dest=False):
    parser.add_argument('path', metavar='PATH', help=_PATH)
    if dest:
        parser.add_argument('dest', metavar='DEST', help=_PATH)
    parser.add_argument('--datacenter', metavar='DC',
                        help='datacenter of PATH (needed when several have '
                             'a datastore of that name)')
    if dest:
        parser.add_argument('--dest-datacenter', metavar='DC',
                            help='datacenter of DEST (default: '
                                 '--datacenter, or found from DEST)')
    if force:
        parser.add_argument('--force', action='store_true',
                            help='change it even if a VM uses it')


def add_arguments(subparsers):
    """Add the arguments of these commands to their subparsers."""
    _disk(subparsers['disk-info'], force=False)
    create = subparsers['disk-create']
    _disk(create, force=False)
    create.add_argument('--size-gb', required=True, help='size in GiB')
    create.add_argument('--type', default='thin',
                        choices=('thin', 'thick', 'eagerZeroedThick'))
    create.add_argument('--adapter', default='lsiLogic',
                        choices=('lsiLogic', 'busLogic', 'ide'))
    admin._mutating(create)
    for name in ('disk-delete', 'disk-inflate', 'disk-eager-zero'):
        _disk(subparsers[name])
        admin._mutating(subparsers[name])
    _disk(subparsers['disk-copy'], force=False, dest=True)
    admin._mutating(subparsers['disk-copy'])
    _disk(subparsers['disk-move'], dest=True)
    admin._mutating(subparsers['disk-move'])
    extend = subparsers['disk-extend']
    _disk(extend)
    extend.add_argument('--size-gb', required=True, help='new size in GiB')
    extend.add_argument('--eager-zero', action='store_true',
                        help='zero the added space')
    admin._mutating(extend)
    for name in ('cluster-create', 'cluster-remove'):
        sub = subparsers[name]
        sub.add_argument('cluster', metavar='CLUSTER',
                         help='name (or id, to remove)')
        sub.add_argument('--datacenter', metavar='DC')
        admin._mutating(sub)


def cmd_disk_info(args, options, out):
    from vmware_backend.admin import disks
    with admin.vcenter(options) as session:
        found = disks.info(session, args.path, args.datacenter)
    out.result(admin.as_plain(found), disk_render.disk)
    return output.EXIT_OK


def _change(args, options, out, call, question, what):
    """Plan (dry run), confirm, run with progress; print the result."""
    with admin.vcenter(options) as session:
        plan = call(session, dry_run=True)
        if args.dry_run:
            out.result(admin.as_plain(plan), disk_render.change)
            return output.EXIT_OK
        if not admin.approve(args, out, question(plan)):
            out.progress('Nothing changed.')
            return output.EXIT_PROBLEM
        with admin.ticking(out, what(plan)):
            result = call(session)
    out.result(admin.as_plain(result), disk_render.change)
    return output.EXIT_OK if result.ok else output.EXIT_PROBLEM


def _where(plan):
    return '%s (datacenter %s)' % (plan.path, plan.datacenter)


def cmd_disk_create(args, options, out):
    from vmware_backend.admin import disk_changes as dc
    return _change(
        args, options, out,
        lambda session, **kw: dc.create(
            session, args.path, args.size_gb, disk_type=args.type,
            adapter_type=args.adapter, datacenter=args.datacenter, **kw),
        lambda p: 'Create %s, %s?' % (_where(p), p.detail),
        lambda p: 'creating %s' % p.path)


def cmd_disk_delete(args, options, out):
    from vmware_backend.admin import disk_changes as dc
    return _change(
        args, options, out,
        lambda session, **kw: dc.delete(session, args.path, args.datacenter,
                                        force=args.force, **kw),
        lambda p: 'Delete %s?' % _where(p),
        lambda p: 'deleting %s' % p.path)


def _two(verb, call, args, options, out, **extra):
    return _change(
        args, options, out,
        lambda session, **kw: call(
            session, args.path, args.dest, datacenter=args.datacenter,
            dest_datacenter=args.dest_datacenter, **dict(extra, **kw)),
        lambda p: '%s %s to %s (datacenter %s)?' % (
            verb.capitalize(), _where(p), p.target, p.target_datacenter),
        lambda p: '%sing %s' % (verb[:-1] if verb.endswith('e') else verb,
                                p.path))


def cmd_disk_copy(args, options, out):
    from vmware_backend.admin import disk_changes as dc
    return _two('copy', dc.copy, args, options, out)


def cmd_disk_move(args, options, out):
    from vmware_backend.admin import disk_changes as dc
    return _two('move', dc.move, args, options, out, force=args.force)


def cmd_disk_extend(args, options, out):
    from vmware_backend.admin import disk_changes as dc
    return _change(
        args, options, out,
        lambda session, **kw: dc.extend(
            session, args.path, args.size_gb, args.datacenter,
            eager_zero=args.eager_zero, force=args.force, **kw),
        lambda p: 'Extend %s, %s?' % (_where(p), p.detail),
        lambda p: 'extending %s' % p.path)


def _provisioning(func, verb, doing):
    def run(args, options, out):
        return _change(
            args, options, out,
            lambda session, **kw: func()(session, args.path, args.datacenter,
                                         force=args.force, **kw),
            lambda p: '%s %s?' % (verb, _where(p)),
            lambda p: '%s %s' % (doing, p.path))
    return run


def _disk_changes():
    from vmware_backend.admin import disk_changes
    return disk_changes


def cmd_cluster_create(args, options, out):
    from vmware_backend.admin import clusters
    return _cluster(args, options, out, lambda session, **kw: clusters.create(
        session, args.cluster, args.datacenter, **kw), 'Create')


def cmd_cluster_remove(args, options, out):
    from vmware_backend.admin import clusters
    return _cluster(args, options, out, lambda session, **kw: clusters.remove(
        session, args.cluster, args.datacenter, **kw), 'Remove')


def _cluster(args, options, out, call, verb):
    with admin.vcenter(options) as session:
        plan = call(session, dry_run=True)
        if not args.dry_run:
            if not admin.approve(args, out, '%s cluster %s in datacenter '
                                 '%s?' % (verb, plan.cluster,
                                          plan.datacenter)):
                out.progress('Nothing changed.')
                return output.EXIT_PROBLEM
            with admin.ticking(out, '%sing cluster %s' % (
                    verb.lower()[:-1], plan.cluster)):
                plan = call(session)
    out.result(admin.as_plain(plan), disk_render.cluster)
    return output.EXIT_OK


HANDLERS = {name: admin._bad_input_is_usage(handler) for name, handler in {
    'disk-info': cmd_disk_info,
    'disk-create': cmd_disk_create,
    'disk-delete': cmd_disk_delete,
    'disk-copy': cmd_disk_copy,
    'disk-move': cmd_disk_move,
    'disk-extend': cmd_disk_extend,
    'disk-inflate': _provisioning(lambda: _disk_changes().inflate,
                                  'Inflate', 'inflating'),
    'disk-eager-zero': _provisioning(lambda: _disk_changes().eager_zero,
                                     'Eager-zero', 'eager-zeroing'),
    'cluster-create': cmd_cluster_create,
    'cluster-remove': cmd_cluster_remove,
}.items()}
