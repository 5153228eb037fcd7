"""The operator commands: one function per ``vmware-backend-manage`` command.

Each takes the parsed arguments, the option values and an
:class:`~vmware_backend.cmd.output.Output`, does its work through
:mod:`vmware_backend.admin` and returns the exit status. Modules that load
oslo.vmware are imported inside the commands, after the entry point chose
oslo.service's backend.
"""

import sys
import threading
import time

from vmware_backend.cmd import output
from vmware_backend.cmd import render
from vmware_backend import exceptions

# audit defaults (vmware_backend.admin.audit.DEFAULT_*), kept here so the
# parser does not import the admin modules
DEFAULT_MIN_AGE = 3600
DEFAULT_GRACE = 7 * 24 * 3600
DEFAULT_MAX_ORPHAN_PERCENT = 50


def failure_status(err, out):
    """Report why a command failed on ``out``; the exit status to return.

    :param err: an :class:`output.UsageError` or a backend exception; a
        connection or login error comes with the operator's fix hint.
    """
    if isinstance(err, output.UsageError):
        out.error(str(err))
        return output.EXIT_USAGE
    if isinstance(err, (exceptions.VCenterLoginError,
                        exceptions.VCenterConnectionError)):
        from vmware_backend.admin import health
        entry = health.diagnose(err)
        out.error(entry['problem'], entry['hint'])
        return output.EXIT_PROBLEM
    out.error(str(err))
    return output.EXIT_PROBLEM


def _require_vcenter(options):
    if not options.get('vcenter_host'):
        raise output.UsageError('vcenter_host is not set in the [vmware] '
                                'section (pass --config-file FILE)')


def _session(options):
    """The session a command reads with.

    The VI/JSON-only one the fan-out prepared for it
    (:mod:`vmware_backend.cmd.backends`), or a new SOAP session
    (oslo.vmware) with reads over VI/JSON or SOAP.
    """
    from vmware_backend.vsphere.json import session as json_session
    found = json_session.prepared(options)
    if found is not None:
        return found
    from vmware_backend.vsphere import session as vc_session
    return vc_session.VCenterSession(options)


def cmd_check(args, options, out):
    from vmware_backend.admin import health
    from vmware_backend.volume import placement
    if options.get('vcenter_host'):
        out.progress('Connecting to %s:%s as %s ...' % (
            options['vcenter_host'], options['vcenter_port'],
            options.get('vcenter_username')))
    report = health.check(options, _session, placement.PlacementService)
    out.result(report, render.check)
    if not options.get('vcenter_host'):
        return output.EXIT_USAGE
    return output.EXIT_OK if report['ok'] else output.EXIT_PROBLEM


def cmd_pools(args, options, out):
    from vmware_backend.admin import health
    from vmware_backend.volume import placement
    _require_vcenter(options)
    session = _session(options)
    try:
        out.progress('Reading datastores, hosts and clusters ...')
        service = placement.PlacementService(session, options)
        rows = health.pool_rows(service)
    finally:
        session.close()
    out.result(rows, render.pools)
    return output.EXIT_OK


def _owned_backings(session, options, out, devices):
    """This backend's backings (with their instances) and its id.

    Reads the backings below ``vcenter_volume_folder`` of each datacenter
    and keeps those recording this backend as their owner, and ownerless
    ones (earlier releases) directly in the folder; other owners' backings
    are only counted.

    :returns: ``(backend id, owned, foreign, instances)``.
    """
    from vmware_backend.admin import listing
    from vmware_backend.vsphere import specs
    folder = options['vcenter_volume_folder']
    backend = specs.backend_id(options['vcenter_backend_name'], folder)
    out.progress('Reading the backings in folder %s of each datacenter '
                 '(paged) ...' % folder)
    backings, instances = listing.read(session, devices=devices,
                                       volume_folder=folder,
                                       progress=out.progress)
    owned, foreign = listing.split_by_owner(backings, backend)
    if foreign:
        out.progress('Ignored %d backing(s) of other owners in the folder: '
                     '%s.' % (len(foreign), _owner_counts_text(foreign)))
    return backend, owned, foreign, instances


def _owner_counts(backings):
    counts = {}
    for backing in backings:
        owner = backing.owner or '(none, outside the volume folder)'
        counts[owner] = counts.get(owner, 0) + 1
    return counts


def _owner_counts_text(backings):
    return ', '.join('%s x%d' % item
                     for item in sorted(_owner_counts(backings).items()))


def cmd_volumes(args, options, out):
    from vmware_backend.admin import listing
    _require_vcenter(options)
    session = _session(options)
    try:
        start = time.monotonic()
        backend, backings, _foreign, _instances = _owned_backings(
            session, options, out, devices=True)
        out.progress('Found %d backing(s) of %s in %.1fs (%d vCenter calls).'
                     % (len(backings), backend, time.monotonic() - start,
                        session.total_requests()))
    finally:
        session.close()
    out.result([listing.volume_row(b, backend) for b in backings],
               render.volumes)
    return output.EXIT_OK


_STDIN = {}
_STDIN_LOCK = threading.Lock()


def _stdin_text():
    """This process' standard input, read once.

    A command run on several backends at once reads ``--volume-ids -`` in
    each of them; the second read of the stream would find it empty (and
    every backing of that backend unknown to Cinder).
    """
    with _STDIN_LOCK:
        if _STDIN.get('stream') is not sys.stdin:
            _STDIN['text'] = sys.stdin.read()
            _STDIN['stream'] = sys.stdin
        return _STDIN['text']


def read_volume_ids(path, stdin=None, option='--volume-ids'):
    """The volume ids Cinder knows, from ``path`` or stdin (``-``).

    :param option: the command-line option named in errors.

    :raises output.UsageError: unreadable file or a line that is not an id.
    """
    from vmware_backend.admin import audit
    try:
        if path == '-':
            text = stdin.read() if stdin is not None else _stdin_text()
            lines = text.splitlines()
        else:
            with open(path) as ids_file:
                lines = ids_file.read().splitlines()
    except OSError as err:
        raise output.UsageError('cannot read %s %s: %s'
                                % (option, path, err.strerror or err))
    try:
        return audit.parse_volume_ids(lines)
    except ValueError as err:
        raise output.UsageError('%s %s: %s' % (option, path, err))


def confirm(question, stdin=None, stderr=None):
    """Ask a yes/no question; True only for an explicit yes."""
    stdin = stdin or sys.stdin
    stderr = stderr or sys.stderr
    stderr.write('%s [y/N] ' % question)
    stderr.flush()
    answer = stdin.readline()
    return answer.strip().lower() in ('y', 'yes')


def cmd_audit(args, options, out):
    from vmware_backend.admin import audit
    from vmware_backend.admin import audit_migration
    # read once by the fan-out for all backends (stdin cannot be re-read)
    known = getattr(args, 'known_ids', None)
    if known is None:
        known = read_volume_ids(args.volume_ids)
    _require_vcenter(options)
    session = _session(options)
    mode = '--purge' if args.purge else '--fix' if args.fix else None

    def read():
        backend, owned, foreign, instances = _owned_backings(
            session, options, out, devices=False)
        findings = audit.find(owned, known, instances, min_age=args.min_age,
                              grace=args.grace)
        findings += audit_migration.find(foreign, backend, known)
        return backend, owned, foreign, findings

    try:
        backend, backings, foreign, findings = read()
        report = _audit_report(findings, backings, foreign, known, args,
                               backend)
        if mode is None:
            out.result(report, render.audit)
            if audit.problems(findings):
                return output.EXIT_PROBLEM
            return output.EXIT_OK
        if args.purge:
            plan = audit.purge_order(findings, backings)
        else:
            plan = audit.removal_order(findings, backings) + \
                audit_migration.fix_order(findings)
        if plan and not known:
            raise output.UsageError('--volume-ids lists no volume id: '
                                    'every backing would count as '
                                    'orphaned; refusing to %s' % mode)
        problem = audit.list_problem(findings, backings,
                                     args.max_orphan_percent)
        if plan and problem:
            out.result(report, render.audit)
            out.error('refusing to %s: %s' % (mode, problem))
            return output.EXIT_USAGE
        if plan and not args.yes:
            if not sys.stdin.isatty():
                out.result(report, render.audit)
                out.error('no terminal to confirm the changes',
                          'pass --yes to act without a confirmation')
                return output.EXIT_USAGE
            out.progress(render.audit(report))
            if not confirm('%s the %d item(s) listed above?' % (
                    'Destroy' if args.purge else 'Fix', len(plan))):
                out.progress('Nothing changed.')
                return output.EXIT_PROBLEM
        results = _fix(session, plan, backings, known, out, args.min_age,
                       backend)
        if plan:
            out.progress('Confirming:')
            _backend, backings, foreign, after = read()
        else:
            after = findings
        remaining = audit.problems(after)
        if args.purge:
            remaining += [f for f in after if f.purgeable]
    finally:
        session.close()
    report['mode'] = mode
    report['fixed'] = sum(1 for r in results.values() if r == 'done')
    for finding, row in zip(findings, report['findings']):
        row['result'] = results.get(id(finding), finding.action())
    report['remaining'] = [f.as_dict() for f in remaining]
    report['quarantined'] = sum(1 for f in after
                                if f.kind == audit.QUARANTINED)
    out.result(report, render.audit)
    return output.EXIT_PROBLEM if remaining else output.EXIT_OK


def _fix(session, plan, backings, known, out, min_age=0, backend=None):
    """Carry out the findings of ``plan``; {id(finding): result text}."""
    from vmware_backend.admin import audit_fix
    from vmware_backend.vsphere import ops as vsphere_ops
    fixer = audit_fix.Fixer(vsphere_ops.VolumeOps(session), backings, known,
                            min_age=min_age, backend=backend)
    results = {}
    for index, finding in enumerate(plan, 1):
        label = ' '.join(filter(None, (finding.kind, finding.volume_id,
                                       finding.item)))
        out.progress('[%d/%d] %s: %s ...'
                     % (index, len(plan), label, finding.action()))
        try:
            fixer.fix(finding)
            results[id(finding)] = 'done'
        except Exception as err:
            results[id(finding)] = 'failed: %s' % (
                getattr(err, 'msg', None) or err)
            out.progress('  %s' % results[id(finding)])
    return results


def _audit_report(findings, backings, foreign, known, args, backend):
    from vmware_backend.admin import audit
    from vmware_backend.admin import listing
    quarantined = [f for f in findings if f.kind == audit.QUARANTINED]
    return {
        'backend': backend,
        'backings': len(backings),
        'legacy_backings': sum(
            1 for b in backings
            if listing.ownership(b, backend) == listing.LEGACY),
        'foreign_backings': _owner_counts(foreign),
        'known_ids': len(known),
        'min_age': args.min_age,
        'grace': args.grace,
        'summary': audit.summary(findings),
        'recent': sum(1 for f in findings
                      if f.recent and f.kind != audit.QUARANTINED),
        'quarantined': len(quarantined),
        'purgeable': sum(1 for f in quarantined if f.purgeable),
        'findings': [f.as_dict() for f in findings],
    }


def cmd_demo(args, options, out):
    from vmware_backend.admin import demo
    from vmware_backend.testbed import vcsim
    from vmware_backend.volume import driver as vc_driver
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
            return output.EXIT_PROBLEM
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
        driver.close()
        driver.session.close()
        if server is not None:
            server.stop()
    out.result(report, lambda r: render.demo(r, verbose=out.verbose))
    return output.EXIT_OK if report['ok'] else output.EXIT_PROBLEM


HANDLERS = {
    'check': cmd_check,
    'pools': cmd_pools,
    'volumes': cmd_volumes,
    'audit': cmd_audit,
    'demo': cmd_demo,
}
