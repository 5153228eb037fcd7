"""Command line of the benchmark: ``python -m bench``.

Parses the arguments, runs the simulator-driving part (:mod:`bench.run`)
and prints and writes the report built by :mod:`bench.report`.
"""

import argparse
import datetime
import sys
import time
import traceback
import warnings

from bench import report
from bench import taskwait as bench_taskwait
from vmware_backend import utils


# Parts run on their own, not part of the default run.
EXTRA_PARTS = ('startup', 'fanout', 'operator', 'vijson', 'intree')


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog='python -m bench',
        description='SOAP round trips per volume operation at growing '
                    'inventory sizes, each on a fresh vCenter simulator, '
                    'then task waits on simulators with task delays. '
                    'Exits 1 when the call counts of an operation differ '
                    'between sizes, or a task wait polled more often than '
                    'its schedule allows.')
    which = parser.add_mutually_exclusive_group()
    which.add_argument('--sizes', default=None,
                       help='comma-separated numbers of VMs (default: %s)'
                            % ','.join(map(str, report.DEFAULT_SIZES)))
    which.add_argument('--quick', action='store_true',
                       help='only %s VMs' % ' and '.join(
                           map(str, report.QUICK_SIZES)))
    parser.add_argument('--repeat', type=int, default=report.DEFAULT_REPEAT,
                        metavar='N',
                        help='repetitions of each operation (default: '
                             '%(default)s)')
    parser.add_argument('--output', default=report.DEFAULT_OUTPUT,
                        metavar='DIR',
                        help='directory for the JSON and the table '
                             '(default: %(default)s)')
    parser.add_argument('--taskwait-delays', default=None, metavar='MS',
                        help='comma-separated task delays in ms, one '
                             'simulator each (default: %s)' % ','.join(
                                 map(str, bench_taskwait.DEFAULT_DELAYS_MS)))
    parser.add_argument('--taskwait-repeat', type=int, default=None,
                        metavar='N',
                        help='task waits per delay and waiter (default: %d '
                             'with --only taskwait, else %d)' % (
                                 bench_taskwait.DEFAULT_REPEAT,
                                 bench_taskwait.FULL_RUN_REPEAT))
    parser.add_argument('--only', choices=report.PARTS + EXTRA_PARTS,
                        default=None,
                        help='run only the inventory sizes part or only the '
                             'task waits (default: both); "startup": only '
                             'the session start with and without the parsed '
                             'WSDL cache (bench/startup.py); "fanout": only '
                             'the operator commands on several simulators, '
                             'concurrently vs serially (bench/fanout.py); '
                             '"operator": volumes and audit at 5000 VMs '
                             'against the earlier whole-inventory read '
                             '(bench/operator_reads.py); "vijson": a 5 000-VM '
                             'inventory read over VI/JSON vs SOAP '
                             '(bench/vijson.py); "intree": every lifecycle '
                             'operation with this driver and Cinder 29\'s '
                             'in-tree VMDK driver on one simulator, calls, '
                             'bytes and times side by side (bench/intree.py, '
                             'needs Cinder; --repeat, default 5)')
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error('--repeat must be at least 1')
    if args.only == 'taskwait' and (args.quick or args.sizes is not None):
        parser.error('--sizes and --quick do not apply to --only taskwait')
    if args.only == 'sizes' and (args.taskwait_delays is not None or
                                 args.taskwait_repeat is not None):
        parser.error('--taskwait-delays and --taskwait-repeat do not apply '
                     'to --only sizes')
    if args.only == 'taskwait':
        args.sizes = []
    elif args.quick:
        args.sizes = list(report.QUICK_SIZES)
    elif args.sizes is None:
        args.sizes = list(report.DEFAULT_SIZES)
    else:
        try:
            args.sizes = report.parse_sizes(args.sizes)
        except ValueError as err:
            parser.error('--sizes: %s' % err)
    if args.only == 'sizes':
        args.taskwait_delays = []
    elif args.taskwait_delays is None:
        args.taskwait_delays = list(bench_taskwait.DEFAULT_DELAYS_MS)
    else:
        try:
            args.taskwait_delays = bench_taskwait.parse_delays(
                args.taskwait_delays)
        except ValueError as err:
            parser.error('--taskwait-delays: %s' % err)
    if args.taskwait_repeat is None:
        args.taskwait_repeat = (bench_taskwait.DEFAULT_REPEAT
                                if args.only == 'taskwait'
                                else bench_taskwait.FULL_RUN_REPEAT)
    elif args.taskwait_repeat < 1:
        parser.error('--taskwait-repeat must be at least 1')
    return args


def _progress(message):
    sys.stderr.write('bench: %s\n' % message)
    sys.stderr.flush()


def main(argv=None):
    """Run the benchmark; returns the exit status."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.only == 'startup':
        from bench import startup
        return startup.main()
    if args.only == 'fanout':
        from bench import fanout
        return fanout.main()
    if args.only == 'operator':
        from bench import operator_reads
        return operator_reads.main()
    if args.only == 'vijson':
        from bench import vijson
        return vijson.main()
    if args.only == 'intree':
        from bench import intree
        return intree.main(args.repeat, args.output)
    # oslo.vmware selects oslo.service's backend when it is imported: choose
    # native threads first, then load the simulator-driving part.
    with warnings.catch_warnings():
        # futurist's notice that eventlet, which is not used here, is
        # deprecated.
        warnings.filterwarnings('ignore', message=r'\s*Eventlet is deprecated')
        utils.use_threading_backend()
        from bench import run as bench_run
    from vmware_backend.testbed import vcsim

    start = time.monotonic()
    runs = []
    taskwait_runs = []
    status = report.EXIT_OK
    prepare_seconds = None
    try:
        prepare_seconds = bench_run.prepare()
        _progress('test bed ready in %.1fs' % prepare_seconds)
        for size in args.sizes:
            runs.append(bench_run.run_size(size, report.simulator_flags(size),
                                           args.repeat, progress=_progress))
        for delay_ms in args.taskwait_delays:
            taskwait_runs.append(bench_run.run_taskwait(
                delay_ms, args.taskwait_repeat, progress=_progress))
    except (vcsim.TestBedError, bench_run.BenchError) as err:
        _progress('failed: %s' % err)
        status = report.EXIT_ERROR
    except Exception:  # report what was measured, then the error
        _progress('failed:\n%s' % traceback.format_exc())
        status = report.EXIT_ERROR
    if not runs and not taskwait_runs:
        return status
    results = {'sizes': args.sizes, 'repeat': args.repeat, 'runs': runs,
               'prepare_seconds': prepare_seconds,
               'runtime_seconds': time.monotonic() - start,
               'finished': datetime.datetime.now(
                   datetime.timezone.utc).isoformat()}
    if args.taskwait_delays:
        results['taskwait'] = {'delays_ms': args.taskwait_delays,
                               'repeat': args.taskwait_repeat,
                               'runs': taskwait_runs}
    text = report.report(results)
    print(text)
    for path in report.write_results(results, text, args.output):
        _progress('wrote %s' % path)
    if status == report.EXIT_OK and report.problems_of(results):
        status = report.EXIT_COUNTS_DIFFER
    return status


if __name__ == '__main__':
    sys.exit(main())
