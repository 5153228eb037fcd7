"""Session start-up: parsed WSDL cache cold and warm, as ratios.

``python -m bench --only startup`` (or ``python -m bench.startup``) starts
one vCenter simulator and, for each round, three fresh Python processes that
each time how long ``VCenterSession(...).api`` takes to be logged in:

* ``no cache``: ``vcenter_wsdl_cache_dir`` empty, suds parses the WSDL
  (what every session cost before the cache);
* ``first run``: an empty cache directory: parse and write the cache;
* ``warm``: the cache file written before: a new process on a machine
  where the backend ran once.

Each process then starts a second session to the same vCenter (the
in-process reuse). Rounds interleave the three kinds so that a loaded
machine slows them alike; the report gives medians and ratios to
``no cache``.
"""

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROUNDS = 3
KINDS = ('no cache', 'first run', 'warm')


def _worker(spawned, options):
    """In a fresh process: time two session starts; print JSON.

    As the operator command's process: eventlet kept out
    (:func:`vmware_backend.utils.skip_eventlet`), native threads.
    ``process`` is the wall time from the parent's spawn (``spawned``,
    epoch seconds) to the first session logged in: interpreter, imports
    and session; ``first_cpu`` the CPU seconds of the first session alone
    (steadier than wall time on a loaded machine).
    """
    from vmware_backend import utils
    utils.skip_eventlet()
    utils.use_threading_backend()
    from vmware_backend.vsphere import session as vc_session

    times = []
    cpu = []
    sources = []
    process = None
    for _ in range(2):
        began = time.perf_counter()
        began_cpu = time.process_time()
        session = vc_session.VCenterSession(options)
        session.api
        times.append(time.perf_counter() - began)
        cpu.append(time.process_time() - began_cpu)
        if process is None:
            process = time.time() - spawned
        sources.append(session.api.vim.description_cache.source)
        session.close()
    print(json.dumps({'first': times[0], 'second': times[1],
                      'first_cpu': cpu[0], 'process': process,
                      'sources': sources}))


def _run_worker(options):
    # The options (with the password) go through stdin, not the argv.
    spawned = time.time()
    proc = subprocess.run(
        [sys.executable, '-m', 'bench.startup', '--worker'],
        input=json.dumps({'spawned': spawned, 'options': options}),
        capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        raise RuntimeError('start-up worker failed: %s' % proc.stderr[-2000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def measure(server, rounds=ROUNDS, progress=lambda message: None):
    """Run the rounds against ``server``; returns {kind: [results]}."""
    from vmware_backend import conf
    results = {kind: [] for kind in KINDS}
    with tempfile.TemporaryDirectory(prefix='bench-wsdl-') as root:
        warm_dir = os.path.join(root, 'warm')
        base = conf.option_defaults(**server.options())
        # The warm directory is filled once before the rounds.
        _run_worker(dict(base, vcenter_wsdl_cache_dir=warm_dir))
        for number in range(rounds):
            dirs = {'no cache': '',
                    'first run': os.path.join(root, 'first-%d' % number),
                    'warm': warm_dir}
            for kind in KINDS:
                result = _run_worker(dict(base,
                                          vcenter_wsdl_cache_dir=dirs[kind]))
                results[kind].append(result)
                progress('startup round %d %s: %.2fs' % (
                    number + 1, kind, result['first']))
    return results


def report(results):
    """The start-up table as text."""
    base = statistics.median(r['first'] for r in results['no cache'])
    base_cpu = statistics.median(r['first_cpu'] for r in results['no cache'])
    lines = ['Session start (fresh process, median of %d; ratio to "no '
             'cache"; process s: spawn to logged in)'
             % len(results['no cache']),
             '%-10s %9s %6s %8s %6s %9s %9s %8s' % (
                 'kind', 'first s', 'ratio', 'CPU s', 'ratio', 'process s',
                 'second s', 'source')]
    for kind in KINDS:
        rows = results[kind]
        first = statistics.median(r['first'] for r in rows)
        first_cpu = statistics.median(r['first_cpu'] for r in rows)
        lines.append('%-10s %9.3f %6.2f %8.3f %6.2f %9.3f %9.3f %8s' % (
            kind, first, first / base, first_cpu, first_cpu / base_cpu,
            statistics.median(r['process'] for r in rows),
            statistics.median(r['second'] for r in rows),
            rows[0]['sources'][0]))
    return '\n'.join(lines)


def main(rounds=ROUNDS):
    """Start a simulator, measure, print the table; returns 0."""
    from vmware_backend.testbed import vcsim
    with vcsim.VcsimServer() as server:
        results = measure(server, rounds, progress=lambda m: sys.stderr.write(
            'bench: %s\n' % m))
    print(report(results))
    return 0


if __name__ == '__main__':
    if sys.argv[1:] == ['--worker']:
        request = json.loads(sys.stdin.read())
        _worker(request['spawned'], request['options'])
    else:
        sys.exit(main())
