"""Operator reads at scale: ``volumes`` and ``audit`` against the old read.

``python -m bench --only operator`` (or ``python -m bench.operator_reads
[VMS]``) starts one simulator with about VMS VMs (default 5 000; 2
clusters of 4 hosts), makes :data:`BACKINGS` backings through the driver
and attaches one to an instance VM, then times, in this process (warm
WSDL), rounds of:

* ``vmware-backend-manage volumes`` and ``audit`` (this release: the
  backend's folders, the attachment marks of its ids on the backings'
  datastores, the marked instances);
* the reference: the read the earlier release made for ``volumes`` (every
  VM of the inventory with name, extraConfig and device list, paged).

Medians; SOAP calls and bytes received per command; the ratio of each
command to the reference measured in the same run.
"""

import contextlib
import io
import os
import statistics
import sys
import tempfile
import time

DEFAULT_VMS = 5000
BACKINGS = 20
ROUNDS = 3
OLD_PATHS = ('name', 'config.extraConfig', 'config.hardware.device')


def _ini(server, path):
    lines = ['[vmware]']
    for key, value in sorted(server.options().items()):
        if isinstance(value, (list, tuple)):
            value = ','.join(value)
        lines.append('%s = %s' % (key, value))
    with open(path, 'w') as handle:
        handle.write('\n'.join(lines) + '\n')


def _counted_main(argv):
    """Run the CLI in this process; (seconds, calls, bytes received)."""
    from vmware_backend.cmd import manage
    from vmware_backend.vsphere import session as vc_session
    sessions = []
    original = vc_session.VCenterSession.__init__

    def keep(self, *args, **kwargs):
        original(self, *args, **kwargs)
        sessions.append(self)

    sink = io.StringIO()
    vc_session.VCenterSession.__init__ = keep
    try:
        with contextlib.redirect_stdout(sink), \
                contextlib.redirect_stderr(sink):
            began = time.perf_counter()
            status = manage.main(argv)
            seconds = time.perf_counter() - began
    finally:
        vc_session.VCenterSession.__init__ = original
    if status not in (0, 1):
        raise RuntimeError('%s exited %d:\n%s' % (argv, status,
                                                  sink.getvalue()[-2000:]))
    calls = sum(s.total_requests() for s in sessions)
    received = sum(s.bytes_snapshot()['received'] for s in sessions)
    return seconds, calls, received


def _old_read(options):
    """The earlier release's read for ``volumes``: every VM, all paths."""
    from vmware_backend.vsphere import inventory
    from vmware_backend.vsphere import session as vc_session
    session = vc_session.VCenterSession(options)
    try:
        began = time.perf_counter()
        session.service_content
        objects = inventory.read_container(
            session, {'VirtualMachine': list(OLD_PATHS),
                      'Datastore': ['name']})
        seconds = time.perf_counter() - began
        return (seconds, session.total_requests(),
                session.bytes_snapshot()['received'], len(objects))
    finally:
        session.close()


def prepare(server, backings=BACKINGS):
    """Make ``backings`` volumes, attach the first; returns their ids."""
    from vmware_backend.admin import demo
    from vmware_backend import conf
    from vmware_backend.volume import driver as vmware_driver
    from vmware_backend.volume import plain_objects
    options = conf.option_defaults(**server.options())
    driver = vmware_driver.VMwareVolumeDriver(options)
    try:
        driver.do_setup()
        volumes = []
        for _n in range(backings):
            volume = plain_objects.volume()
            driver.create_volume(volume)
            volumes.append(volume)
        instance, _name = demo.pick_instance(driver.session)
        driver.attach_volume(instance, volumes[0])
    finally:
        driver.session.close()
    return [v.id for v in volumes]


def measure(server, ids, rounds=ROUNDS, progress=lambda message: None):
    """{label: [(seconds, calls, bytes)]} over ``rounds`` rounds."""
    from vmware_backend import conf
    results = {'volumes': [], 'audit': [], 'reference': []}
    options = conf.option_defaults(**server.options())
    with tempfile.TemporaryDirectory(prefix='bench-operator-') as root:
        ini = os.path.join(root, 'vmware.ini')
        _ini(server, ini)
        known = os.path.join(root, 'ids.txt')
        with open(known, 'w') as handle:
            handle.write('\n'.join(ids[:len(ids) // 2]) + '\n')
        argvs = {'volumes': ['--config-file', ini, 'volumes'],
                 'audit': ['--config-file', ini, 'audit', '--volume-ids',
                           known]}
        _counted_main(argvs['volumes'])   # warm-up: WSDL, first answers
        for number in range(rounds):
            for label in ('volumes', 'audit'):
                results[label].append(_counted_main(argvs[label]))
            old = _old_read(options)
            results['reference'].append(old[:3])
            progress('operator round %d: volumes %.2fs, audit %.2fs, '
                     'reference %.2fs (%d objects)' % (
                         number + 1, results['volumes'][-1][0],
                         results['audit'][-1][0], old[0], old[3]))
    return results


def report(results, vms):
    """The operator reads table as text."""
    ref = statistics.median(r[0] for r in results['reference'])
    lines = ['Operator reads, %d VMs, %d backings (median of %d; ratio to '
             'the reference: every VM read as before)'
             % (vms, BACKINGS, len(results['reference'])),
             '%-10s %9s %7s %12s %7s' % ('read', 'seconds', 'calls',
                                         'bytes recv', 'ratio')]
    for label in ('volumes', 'audit', 'reference'):
        rows = results[label]
        seconds = statistics.median(r[0] for r in rows)
        lines.append('%-10s %9.2f %7d %12d %7.2f' % (
            label, seconds, statistics.median(r[1] for r in rows),
            statistics.median(r[2] for r in rows), seconds / ref))
    return '\n'.join(lines)


def main(vms=DEFAULT_VMS, rounds=ROUNDS):
    """Start a simulator, measure, print the table; returns 0."""
    from vmware_backend import utils
    utils.use_threading_backend()
    from bench import report as bench_report
    from vmware_backend.testbed import vcsim

    def progress(message):
        sys.stderr.write('bench: %s\n' % message)

    with vcsim.VcsimServer(bench_report.simulator_flags(vms)) as server:
        progress('operator: simulator up, making %d backings' % BACKINGS)
        ids = prepare(server)
        results = measure(server, ids, rounds, progress=progress)
    print(report(results, vms))
    return 0


if __name__ == '__main__':
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_VMS))
