"""``vmware-backend-manage``: operator commands of the vCenter backend.

Argument parsing and output only; the work is done by
:mod:`vmware_backend.admin.health` (check, pools),
:mod:`vmware_backend.admin.listing` (volumes),
:mod:`vmware_backend.admin.audit` (audit),
:mod:`vmware_backend.cmd.manage_commands` (manageable) and
:mod:`vmware_backend.admin.demo` (demo).

Exit status: 0 when all is well, 1 when a problem was found (or an
operation failed), 2 for bad usage or a bad configuration.
"""

import argparse
import logging as std_logging
import os
import sys
import warnings

from oslo_config import cfg
from oslo_log import log as logging

from vmware_backend.cmd import admin_commands
from vmware_backend.cmd import backends
from vmware_backend.cmd import commands
from vmware_backend.cmd import disk_commands
from vmware_backend.cmd import export_commands
from vmware_backend.cmd import manage_commands
from vmware_backend.cmd import output
from vmware_backend import conf
from vmware_backend import exceptions
from vmware_backend import utils

LOG = logging.getLogger(__name__)

PROJECT = 'vmware_backend'
PROG = 'vmware-backend-manage'


DESCRIPTION = """\
Operator commands of the Cinder block-storage backend for VMware vCenter.

The configuration is the [vmware] section of an ini file (--config-file;
default: the first of ~/.vmware_backend/vmware_backend.conf,
~/vmware_backend.conf, /etc/vmware_backend/vmware_backend.conf and
/etc/vmware_backend.conf that exists), or a cinder.conf
(--config-file /etc/cinder/cinder.conf): every section whose volume_driver
is this package's Cinder driver is a backend, its volume_backend_name the
owner of its backings. check, pools, volumes and audit read every backend
found concurrently (one block per backend); the other commands need one
(--backend NAME). Tables are printed for people, --format json for
scripts; progress goes to stderr.

Exit status: 0 all well, 1 problems found or an operation failed,
2 bad usage or configuration."""

COMMANDS = {
    'check': (
        'validate the configuration and the connection to vCenter',
        'Read and validate the [vmware] options, log in to vCenter and '
        'report its version, the configured clusters (and whether each '
        'exists), the usable pools (datastores), the rejected datastores '
        'with the reason, and every problem with a hint on how to fix '
        'it. Exits 1 when there is a problem.'),
    'pools': (
        'list the datastores usable as pools',
        'List the usable pools: name, datastore type, total, free and '
        'provisioned GiB, and the hosts that mount each one.'),
    'volumes': (
        'list the volume backings this backend manages',
        'List the backing VMs of this backend: those below '
        'vcenter_volume_folder of each datacenter that record this backend '
        '(vcenter_backend_name@vcenter_volume_folder) as their owner, and '
        'ownerless ones made by earlier releases directly in that folder '
        '(marked "legacy"). Volume id, size, datastore, snapshots, the '
        'instance VMs it is attached to, linked-clone dependencies and '
        'quarantine state. Backings of other owners are only counted.'),
    'audit': (
        'find leftovers Cinder does not know; quarantine, restore, purge',
        'Compare this backend\'s backings (see "volumes") with the volume '
        'ids Cinder knows (--volume-ids FILE, "-" for stdin, one id per '
        'line, e.g. from "openstack volume list --all-projects -f value '
        '-c ID") and report: orphaned backings (id unknown to Cinder), '
        'failed clones (orphans that are linked clones), stale temporary '
        'snapshots (clone-<id> whose clone is gone), stale clone markers '
        '(vmware_backend.clone.<id> whose clone is gone), duplicate '
        'backings of a known id (never changed automatically), and '
        'quarantined backings. --fix removes the stale markers and '
        'snapshots, moves orphans into quarantine (the "quarantine" folder '
        'below the volume folder, with the time recorded; they keep '
        'working if Cinder still uses them) and restores quarantined '
        'backings whose id Cinder knows. --purge destroys quarantined '
        'backings older than --grace. Both refuse an id list that looks '
        'incomplete: more than --max-orphan-percent of the backend\'s '
        'backings missing from it. Both ask for a confirmation (--yes to '
        'skip it; without a terminal --yes is required). Nothing Cinder '
        'knows is removed, nor an orphan that a known volume depends on or '
        'an instance has attached. Since the id list predates the read, '
        'anything made less than --min-age seconds ago is listed as '
        '"recent, skipped": never changed and not counted; run the audit '
        'again later. Exits 1 when leftovers (other than recent and '
        'quarantined ones) remain.'),
    'manageable': (manage_commands.SUMMARY, manage_commands.DESCRIPTION),
    'demo': (
        'run the volume lifecycle and show what each step costs',
        'Run the volume lifecycle (create, extend, snapshot, clones '
        'linked and full, connect, attach, detach, revert, deletes, '
        'statistics) against the configured vCenter, or against the '
        'embedded vCenter simulator when vcenter_host is not set (it is '
        'built on first use, which can take minutes). Each step prints '
        'the SOAP calls it made, its time and result, and checks the '
        'state it claims on vCenter; a failure stops the run, removes '
        'what it created and exits 1.'),
}
COMMANDS.update(admin_commands.COMMANDS)
COMMANDS.update(export_commands.COMMANDS)
COMMANDS.update(disk_commands.COMMANDS)
HANDLERS = dict(commands.HANDLERS, **admin_commands.HANDLERS)
HANDLERS.update(export_commands.HANDLERS)
HANDLERS.update(disk_commands.HANDLERS)
HANDLERS['manageable'] = manage_commands.cmd_manageable


# Arguments ---------------------------------------------------------------

def _add_common(parser, suppress):
    """Options accepted before and after the command name."""
    default = (lambda value: argparse.SUPPRESS) if suppress else \
        (lambda value: value)
    parser.add_argument(
        '--config-file', metavar='FILE', default=default(None),
        action='append',
        help='ini file with a [vmware] section (see above for the default), '
             'or a cinder.conf: every backend section whose volume_driver '
             'is this driver is found; check, pools, volumes and audit read '
             'them all concurrently, the other commands need exactly one '
             '(--backend NAME); may be given several times')
    parser.add_argument(
        '--backend', metavar='NAME', default=default(None), action='append',
        help='only this backend section of the config files (repeatable)')
    parser.add_argument(
        '--format', choices=('table', 'json'), default=default('table'),
        help='output format (default: table)')
    parser.add_argument(
        '-v', '--verbose', action='store_true', default=default(False),
        help='log at INFO and show per-method SOAP call counts')
    parser.add_argument(
        '--debug', action='store_true', default=default(False),
        help='log at DEBUG')


def build_parser():
    """The argument parser of ``vmware-backend-manage``."""
    parser = argparse.ArgumentParser(
        prog=PROG, description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_common(parser, suppress=False)
    common = argparse.ArgumentParser(add_help=False)
    _add_common(common, suppress=True)
    subcommands = parser.add_subparsers(dest='command', metavar='COMMAND',
                                        title='commands')
    subcommands.required = True
    subparsers = {}
    for name, (summary, description) in COMMANDS.items():
        subparsers[name] = subcommands.add_parser(
            name, help=summary, description=description, parents=[common])
    audit = subparsers['audit']
    audit.add_argument(
        '--volume-ids', metavar='FILE', required=True,
        help='file with the volume ids Cinder knows, one per line ("-": '
             'stdin); blank lines and "#" comments are skipped')
    action = audit.add_mutually_exclusive_group()
    action.add_argument(
        '--fix', action='store_true',
        help='remove stale markers and temporary snapshots, move orphans '
             'into quarantine and restore quarantined volumes Cinder knows, '
             'after a confirmation')
    action.add_argument(
        '--purge', action='store_true',
        help='destroy the quarantined backings whose grace period '
             '(--grace) has passed, after a confirmation')
    audit.add_argument('--yes', action='store_true',
                       help='with --fix or --purge: do not ask for a '
                            'confirmation')
    audit.add_argument(
        '--min-age', metavar='SECONDS', type=_seconds,
        default=commands.DEFAULT_MIN_AGE,
        help='report and remove only what is older than this (backing '
             'creation, clone marker, temporary snapshot time; objects '
             'without a recorded time count as old); younger ones are '
             'listed as "recent, skipped" and do not make the exit status '
             '1 (default: 3600; 0: no age limit)')
    audit.add_argument(
        '--grace', metavar='SECONDS', type=_seconds,
        default=commands.DEFAULT_GRACE,
        help='time a backing stays in quarantine before --purge may '
             'destroy it (default: 604800, a week)')
    audit.add_argument(
        '--max-orphan-percent', metavar='PCT', type=_percent,
        default=commands.DEFAULT_MAX_ORPHAN_PERCENT,
        help='--fix and --purge refuse to act when more than PCT percent '
             'of the volume ids of this backend\'s backings (quarantined '
             'and recent ones left out) are missing from --volume-ids: '
             'the list then looks incomplete (default: 50; 100: no check)')
    admin_commands.add_arguments(subparsers)
    export_commands.add_arguments(subparsers)
    disk_commands.add_arguments(subparsers)
    manage_commands.add_arguments(subparsers['manageable'])
    demo = subparsers['demo']
    demo.add_argument(
        '--instance', metavar='MOREF',
        help='moref value of an instance VM (e.g. vm-42) to attach the '
             'demo volume to; on the simulator one is picked when '
             'omitted, on a real vCenter the attach steps are skipped')
    return parser


def _seconds(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError('%r is not a whole number of '
                                         'seconds' % text)
    if value < 0:
        raise argparse.ArgumentTypeError('must be 0 or more')
    return value


def _percent(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError('%r is not a whole number' % text)
    if not 0 <= value <= 100:
        raise argparse.ArgumentTypeError('must be from 0 to 100')
    return value


def parse_args(argv):
    """Parsed arguments; argparse exits with status 2 on bad usage."""
    args = build_parser().parse_args(argv)
    if getattr(args, 'yes', False) and \
            not (getattr(args, 'fix', True) or getattr(args, 'purge', False)):
        build_parser().error('--yes only applies with --fix or --purge')
    return args


# Configuration -----------------------------------------------------------

def config_files(paths):
    """The ini files to read: ``paths`` or the first default that exists.

    :raises output.UsageError: a file of ``paths`` does not exist.
    """
    if isinstance(paths, str):
        paths = [paths]
    if paths:
        for path in paths:
            if not os.path.isfile(path):
                raise output.UsageError('config file %s not found' % path)
        return list(paths)
    return cfg.find_config_files(project=PROJECT, prog=PROJECT)[:1]


def load_config(files):
    """A ConfigOpts with this package's and oslo.log's options read.

    :raises output.UsageError: a file cannot be parsed.
    """
    config = cfg.ConfigOpts()
    conf.register_opts(config)
    logging.register_options(config)
    config.set_default('use_stderr', True)
    try:
        config(args=[], project=PROJECT, prog=PROJECT,
               default_config_files=files, default_config_dirs=[])
    except cfg.Error as err:
        raise output.UsageError('cannot read %s: %s' % (', '.join(files), err))
    return config


def setup_logging(config, args):
    """Log to stderr; WARNING unless --verbose (INFO) or --debug."""
    if args.debug:
        config.set_override('debug', True)
    logging.setup(config, PROJECT)
    level = (std_logging.DEBUG if args.debug or config.debug else
             std_logging.INFO if args.verbose else std_logging.WARNING)
    std_logging.getLogger().setLevel(level)
    if level > std_logging.DEBUG:
        # suds warns about every SOAP fault (a refused login...), which
        # the commands report themselves.
        std_logging.getLogger('suds').setLevel(std_logging.ERROR)


# Entry point ---------------------------------------------------------------

def main(argv=None):
    """Run ``vmware-backend-manage``; returns the exit status."""
    # oslo.vmware's dependencies import eventlet, which warns at import;
    # this command runs on native threads.
    warnings.filterwarnings('ignore', message=r'\s*Eventlet is deprecated')
    warnings.simplefilter('ignore', DeprecationWarning)
    utils.use_threading_backend()
    args = parse_args(sys.argv[1:] if argv is None else argv)
    out = output.Output(args.format, verbose=args.verbose or args.debug)
    try:
        files = config_files(args.config_file)
        config = load_config(files)
        setup_logging(config, args)
        if backends.wanted(files, args.backend):
            found = backends.find(files, args.backend)
            if args.command in backends.FANOUT_COMMANDS:
                return backends.run(args, found, out)
            options = backends.one(found, args.command).options
        else:
            try:
                options = conf.read_options(config)
            except exceptions.InvalidConfiguration as err:
                raise output.UsageError('%s (in %s)' % (
                    err, ', '.join(files) or 'no config file'))
        out.add_secret(options.get('vcenter_password'))
        return HANDLERS[args.command](args, options, out)
    except (output.UsageError, exceptions.VMwareBackendException) as err:
        return commands.failure_status(err, out)
    except KeyboardInterrupt:
        out.error('interrupted')
        return output.EXIT_INTERRUPTED


def cli():
    """The ``vmware-backend-manage`` console script: a process of its own.

    Keeps eventlet out of the process (:func:`vmware_backend.utils.
    skip_eventlet`), which makes every command start faster, then runs
    :func:`main`.
    """
    utils.skip_eventlet()
    return main()


if __name__ == '__main__':
    sys.exit(cli())
