"""``vmware-backend-manage``: operator commands of the vCenter backend.

Argument parsing and output only; the work is done by
:mod:`vmware_backend.health` (check, pools), :mod:`vmware_backend.listing`
(volumes), :mod:`vmware_backend.audit` (audit) and
:mod:`vmware_backend.demo` (demo).

Exit status: 0 when all is well, 1 when a problem was found (or an
operation failed), 2 for bad usage or a bad configuration.
"""

import argparse
import logging as std_logging
import os
import sys
import time
import warnings

from oslo_config import cfg
from oslo_log import log as logging

from vmware_backend.cmd import render
from vmware_backend import conf
from vmware_backend import exceptions
from vmware_backend import formatting
from vmware_backend import utils

LOG = logging.getLogger(__name__)

PROJECT = 'vmware_backend'
PROG = 'vmware-backend-manage'

EXIT_OK = 0
EXIT_PROBLEM = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

# audit --min-age default (vmware_backend.audit.DEFAULT_MIN_AGE)
DEFAULT_MIN_AGE = 3600

DESCRIPTION = """\
Operator commands of the Cinder block-storage backend for VMware vCenter.

The configuration is the [vmware] section of an ini file (--config-file;
default: the first of ~/.vmware_backend/vmware_backend.conf,
~/vmware_backend.conf, /etc/vmware_backend/vmware_backend.conf and
/etc/vmware_backend.conf that exists). Tables are printed for people,
--format json for scripts; progress goes to stderr.

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
        'List the backing VMs this backend manages (extraConfig '
        'vmware_backend.managed=true): volume id, size, datastore, '
        'snapshots, the instance VMs it is attached to and linked-clone '
        'dependencies. Reads every VM of the inventory once (paged).'),
    'audit': (
        'find (and optionally remove) leftovers Cinder does not know',
        'Compare the backings on vCenter with the volume ids Cinder knows '
        '(--volume-ids FILE, "-" for stdin, one id per line, e.g. from '
        '"openstack volume list --all-projects -f value -c ID") and '
        'report: orphaned backings (id unknown to Cinder), failed clones '
        '(orphans that are linked clones), stale temporary snapshots '
        '(clone-<id> whose clone is gone) and stale clone markers '
        '(vmware_backend.clone.<id> whose clone is gone). With --fix they '
        'are removed after a confirmation (--yes to skip it; without a '
        'terminal --yes is required). Nothing Cinder knows is removed, '
        'nor an orphan that a known volume depends on or an instance has '
        'attached. Backings are read below the vcenter_volume_folder of '
        'each datacenter only (other VMs only for their attachments). '
        'Since the id list predates the read, anything made less than '
        '--min-age seconds ago (a volume created after the list was '
        'taken, a linked clone being made) is listed as "recent, '
        'skipped": never removed and not counted; run the audit again '
        'later. Exits 1 when leftovers (other than recent ones) remain.'),
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


class UsageError(Exception):
    """Bad arguments or configuration (exit status 2)."""


# Arguments ---------------------------------------------------------------

def _add_common(parser, suppress):
    """Options accepted before and after the command name."""
    default = (lambda value: argparse.SUPPRESS) if suppress else \
        (lambda value: value)
    parser.add_argument(
        '--config-file', metavar='FILE', default=default(None),
        help='ini file with a [vmware] section (see above for the default)')
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
    commands = parser.add_subparsers(dest='command', metavar='COMMAND',
                                     title='commands')
    commands.required = True
    subparsers = {}
    for name, (summary, description) in COMMANDS.items():
        subparsers[name] = commands.add_parser(
            name, help=summary, description=description, parents=[common])
    audit = subparsers['audit']
    audit.add_argument(
        '--volume-ids', metavar='FILE', required=True,
        help='file with the volume ids Cinder knows, one per line ("-": '
             'stdin); blank lines and "#" comments are skipped')
    audit.add_argument('--fix', action='store_true',
                       help='remove what is found, after a confirmation')
    audit.add_argument('--yes', action='store_true',
                       help='with --fix: do not ask for a confirmation')
    audit.add_argument(
        '--min-age', metavar='SECONDS', type=_seconds,
        default=DEFAULT_MIN_AGE,
        help='report and remove only what is older than this (backing '
             'creation, clone marker, temporary snapshot time; objects '
             'without a recorded time count as old); younger ones are '
             'listed as "recent, skipped" and do not make the exit status '
             '1 (default: 3600; 0: no age limit)')
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


def parse_args(argv):
    """Parsed arguments; argparse exits with status 2 on bad usage."""
    args = build_parser().parse_args(argv)
    if getattr(args, 'yes', False) and not args.fix:
        build_parser().error('--yes only applies with --fix')
    return args


# Configuration -----------------------------------------------------------

def config_files(path):
    """The ini files to read: ``path`` or the first default that exists.

    :raises UsageError: ``path`` does not exist.
    """
    if path:
        if not os.path.isfile(path):
            raise UsageError('config file %s not found' % path)
        return [path]
    return cfg.find_config_files(project=PROJECT, prog=PROJECT)[:1]


def load_config(files):
    """A ConfigOpts with this package's and oslo.log's options read.

    :raises UsageError: a file cannot be parsed.
    """
    config = cfg.ConfigOpts()
    conf.register_opts(config)
    logging.register_options(config)
    config.set_default('use_stderr', True)
    try:
        config(args=[], project=PROJECT, prog=PROJECT,
               default_config_files=files, default_config_dirs=[])
    except cfg.Error as err:
        raise UsageError('cannot read %s: %s' % (', '.join(files), err))
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


# Output ------------------------------------------------------------------

class Output:
    """Writes results (stdout) and progress (stderr), never the password.

    :param fmt: ``table`` or ``json``.
    """

    def __init__(self, fmt='table', stdout=None, stderr=None, secret=None,
                 verbose=False):
        self.format = fmt
        self.verbose = verbose
        self._stdout = stdout or sys.stdout
        self._stderr = stderr or sys.stderr
        self._secrets = [secret] if secret else []

    def add_secret(self, secret):
        if secret:
            self._secrets.append(secret)

    def _scrub(self, text):
        for secret in self._secrets:
            text = text.replace(secret, '***')
        return text

    def result(self, data, render):
        """Print ``data`` as JSON or as ``render(data)``."""
        text = formatting.dumps(data) if self.format == 'json' else \
            render(data)
        self._stdout.write(self._scrub(text) + '\n')
        self._stdout.flush()

    def progress(self, text):
        self._stderr.write(self._scrub(text) + '\n')
        self._stderr.flush()

    def error(self, text, hint=None):
        self.progress('error: %s' % text)
        if hint:
            self.progress('hint: %s' % hint)


# Commands ------------------------------------------------------------------

def _require_vcenter(options):
    if not options.get('vcenter_host'):
        raise UsageError('vcenter_host is not set in the [vmware] section '
                         '(pass --config-file FILE)')


def _session(options):
    from vmware_backend import session as vc_session
    return vc_session.VCenterSession(options)


def cmd_check(args, options, out):
    from vmware_backend import health
    from vmware_backend import placement
    if options.get('vcenter_host'):
        out.progress('Connecting to %s:%s as %s ...' % (
            options['vcenter_host'], options['vcenter_port'],
            options.get('vcenter_username')))
    report = health.check(options, _session, placement.PlacementService)
    out.result(report, render.check)
    if not options.get('vcenter_host'):
        return EXIT_USAGE
    return EXIT_OK if report['ok'] else EXIT_PROBLEM


def cmd_pools(args, options, out):
    from vmware_backend import health
    from vmware_backend import placement
    _require_vcenter(options)
    session = _session(options)
    try:
        out.progress('Reading datastores, hosts and clusters ...')
        service = placement.PlacementService(session, options)
        rows = health.pool_rows(service)
    finally:
        session.close()
    out.result(rows, render.pools)
    return EXIT_OK


def cmd_volumes(args, options, out):
    from vmware_backend import listing
    _require_vcenter(options)
    session = _session(options)
    try:
        out.progress('Reading every VM of the inventory (paged) ...')
        start = time.monotonic()
        backings, _instances = listing.read(session, devices=True)
        out.progress('Found %d backing(s) in %.1fs (%d SOAP calls).' % (
            len(backings), time.monotonic() - start,
            session.total_requests()))
    finally:
        session.close()
    out.result([listing.volume_row(b) for b in backings], render.volumes)
    return EXIT_OK


def read_volume_ids(path, stdin=None):
    """The volume ids Cinder knows, from ``path`` or stdin (``-``).

    :raises UsageError: unreadable file or a line that is not an id.
    """
    from vmware_backend import audit
    try:
        if path == '-':
            lines = (stdin or sys.stdin).read().splitlines()
        else:
            with open(path) as ids_file:
                lines = ids_file.read().splitlines()
    except OSError as err:
        raise UsageError('cannot read --volume-ids %s: %s'
                         % (path, err.strerror or err))
    try:
        return audit.parse_volume_ids(lines)
    except ValueError as err:
        raise UsageError('--volume-ids %s: %s' % (path, err))


def confirm(question, stdin=None, stderr=None):
    """Ask a yes/no question; True only for an explicit yes."""
    stdin = stdin or sys.stdin
    stderr = stderr or sys.stderr
    stderr.write('%s [y/N] ' % question)
    stderr.flush()
    answer = stdin.readline()
    return answer.strip().lower() in ('y', 'yes')


def cmd_audit(args, options, out):
    from vmware_backend import audit
    from vmware_backend import listing
    known = read_volume_ids(args.volume_ids)
    _require_vcenter(options)
    folder = options['vcenter_volume_folder']
    session = _session(options)

    def read():
        out.progress('Reading the backings in folder %s of each datacenter '
                     'and every VM of the inventory (paged) ...' % folder)
        return listing.read(session, devices=False, volume_folder=folder)

    try:
        backings, instances = read()
        findings = audit.find(backings, known, instances,
                              min_age=args.min_age)
        report = _audit_report(findings, backings, known, args.min_age)
        if not args.fix:
            out.result(report, render.audit)
            return EXIT_PROBLEM if audit.problems(findings) else EXIT_OK
        plan = audit.removal_order(findings, backings)
        if plan and not known:
            raise UsageError('--volume-ids lists no volume id: every '
                             'backing would count as orphaned; refusing '
                             'to --fix')
        if plan and not args.yes:
            if not sys.stdin.isatty():
                out.result(report, render.audit)
                out.error('no terminal to confirm the removal',
                          'pass --yes to remove without a confirmation')
                return EXIT_USAGE
            out.progress(render.audit(report))
            if not confirm('Remove the %d fixable leftover(s) listed '
                           'above?' % len(plan)):
                out.progress('Nothing removed.')
                return EXIT_PROBLEM
        results = _fix(session, plan, backings, known, out, args.min_age)
        if plan:
            out.progress('Confirming:')
            backings, instances = read()
        remaining = audit.problems(audit.find(backings, known, instances,
                                              min_age=args.min_age))
    finally:
        session.close()
    report['fixed'] = sum(1 for r in results.values() if r == 'removed')
    for finding, row in zip(findings, report['findings']):
        row['result'] = results.get(id(finding), finding.action())
    report['remaining'] = [f.as_dict() for f in remaining]
    out.result(report, render.audit)
    return EXIT_PROBLEM if remaining else EXIT_OK


def _fix(session, plan, backings, known, out, min_age=0):
    """Remove the findings of ``plan``; {id(finding): result text}."""
    from vmware_backend import audit
    from vmware_backend import volumeops
    fixer = audit.Fixer(volumeops.VolumeOps(session), backings, known,
                        min_age=min_age)
    results = {}
    for index, finding in enumerate(plan, 1):
        label = ' '.join(filter(None, (finding.kind, finding.volume_id,
                                       finding.item)))
        out.progress('[%d/%d] removing %s ...' % (index, len(plan), label))
        try:
            fixer.fix(finding)
            results[id(finding)] = 'removed'
        except Exception as err:
            results[id(finding)] = 'failed: %s' % (
                getattr(err, 'msg', None) or err)
            out.progress('  %s' % results[id(finding)])
    return results


def _audit_report(findings, backings, known, min_age=0):
    from vmware_backend import audit
    return {
        'backings': len(backings),
        'known_ids': len(known),
        'min_age': min_age,
        'summary': audit.summary(findings),
        'recent': len(findings) - len(audit.problems(findings)),
        'findings': [f.as_dict() for f in findings],
    }


def cmd_demo(args, options, out):
    from vmware_backend import demo
    from vmware_backend import driver as vc_driver
    from vmware_backend.testbed import vcsim
    server = None
    options = dict(options)
    instance = args.instance
    if options.get('vcenter_host'):
        target = 'vCenter %s:%s' % (options['vcenter_host'],
                                    options['vcenter_port'])
    else:
        out.progress('No vCenter configured (vcenter_host is not set): '
                     'starting the embedded vCenter simulator. The first '
                     'run builds it (Go toolchain and govmomi), which can '
                     'take several minutes ...')
        start = time.monotonic()
        server = vcsim.VcsimServer()
        try:
            server.start()
        except (vcsim.TestBedError, RuntimeError, OSError) as err:
            out.error('the simulator could not be started: %s' % err)
            return EXIT_PROBLEM
        out.progress('Simulator running at %s (ready in %.1fs).'
                     % (server.url, time.monotonic() - start))
        options.update(server.options())
        target = 'embedded vcsim %s' % server.url
    driver = vc_driver.VMwareVolumeDriver(options)
    try:
        out.progress('Logging in to %s as %s ...' % (
            driver.session.url, options.get('vcenter_username')))
        driver.do_setup()
        if server is not None and not instance:
            found = demo.pick_instance(driver.session)
            if found:
                instance = found[0]
                out.progress('Using VM %s (%s) as the instance.'
                             % (found[1], found[0]))
        if not instance:
            out.progress('No instance VM given (--instance MOREF): the '
                         'attach and detach steps are skipped.')
        start = time.monotonic()
        calls_before = driver.session.total_requests()
        lifecycle = demo.Lifecycle(driver, instance, progress=out.progress)
        steps = lifecycle.run()
        report = {
            'target': target,
            'instance': instance,
            'ok': lifecycle.ok,
            'seconds': time.monotonic() - start,
            'total_calls': driver.session.total_requests() - calls_before,
            'steps': [s.as_dict() for s in steps],
        }
    finally:
        driver.session.close()
        if server is not None:
            server.stop()
    out.result(report, lambda r: render.demo(r, verbose=out.verbose))
    return EXIT_OK if report['ok'] else EXIT_PROBLEM


HANDLERS = {
    'check': cmd_check,
    'pools': cmd_pools,
    'volumes': cmd_volumes,
    'audit': cmd_audit,
    'demo': cmd_demo,
}


# Entry point ---------------------------------------------------------------

def main(argv=None):
    """Run ``vmware-backend-manage``; returns the exit status."""
    # oslo.vmware's dependencies import eventlet, which warns at import;
    # this command runs on native threads.
    warnings.filterwarnings('ignore', message=r'\s*Eventlet is deprecated')
    warnings.simplefilter('ignore', DeprecationWarning)
    utils.use_threading_backend()
    args = parse_args(sys.argv[1:] if argv is None else argv)
    out = Output(args.format, verbose=args.verbose or args.debug)
    try:
        files = config_files(args.config_file)
        config = load_config(files)
        setup_logging(config, args)
        try:
            options = conf.read_options(config)
        except exceptions.InvalidConfiguration as err:
            raise UsageError('%s (in %s)' % (err, ', '.join(files) or
                                             'no config file'))
        out.add_secret(options.get('vcenter_password'))
        return HANDLERS[args.command](args, options, out)
    except UsageError as err:
        out.error(str(err))
        return EXIT_USAGE
    except (exceptions.VCenterLoginError,
            exceptions.VCenterConnectionError) as err:
        from vmware_backend import health
        entry = health.diagnose(err)
        out.error(entry['problem'], entry['hint'])
        return EXIT_PROBLEM
    except exceptions.VMwareBackendException as err:
        out.error(str(err))
        return EXIT_PROBLEM
    except KeyboardInterrupt:
        out.error('interrupted')
        return EXIT_INTERRUPTED


if __name__ == '__main__':
    sys.exit(main())
