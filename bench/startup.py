"""Session start-up: login without suds, parsed WSDL cache cold and warm.

``python -m bench --only startup`` (or ``python -m bench.startup``) starts
one vCenter simulator and, for each round, three fresh Python processes
that each time, from the parent's spawn, how long it takes to be

* logged in (``VCenterSession(...).login()``: two envelopes, no suds);
* done with a first call through suds (``get_properties`` of the root
  folder's name: oslo.vmware's session, suds and the service description
  loaded, no second Login),

for three kinds of process:

* ``no cache``: ``vcenter_wsdl_cache_dir`` empty, suds parses the WSDL
  (what every session cost before the cache): the reference of the ratios;
* ``first run``: an empty cache directory: parse and write the cache;
* ``warm``: the cache file written before: a new process on a machine
  where the backend ran once.

Each process then starts a second session to the same vCenter and makes
the same call (the in-process reuse). Rounds interleave the three kinds so
that a loaded machine slows them alike; the report gives medians and
ratios to ``no cache``'s first suds call (spawn to done), in wall time and
in CPU seconds (steadier on a loaded machine).
"""

import json
import os
import sys
import time

# statistics, subprocess and tempfile (the parent's) are imported where
# used: the worker's time to logged in is the session's, not the bench's.

ROUNDS = 3
KINDS = ('no cache', 'first run', 'warm')


def _worker(spawned, options):
    """In a fresh process: time two session starts; print JSON.

    As the operator command's process: eventlet kept out
    (:func:`vmware_backend.utils.skip_eventlet`; native threads are chosen
    by the session when oslo.vmware loads). ``login_process`` and
    ``suds_process`` are wall times from the parent's spawn (``spawned``,
    epoch seconds): interpreter, imports, login, and then the first suds
    call; ``*_cpu`` the CPU seconds of this process up to the same points
    (interpreter start-up included).
    """
    from vmware_backend import utils
    utils.skip_eventlet()
    from vmware_backend.vsphere import session as vc_session

    result = {'sources': []}
    for number in range(2):
        began = time.perf_counter()
        session = vc_session.VCenterSession(options)
        session.login()
        login_done = time.perf_counter()
        if number == 0:
            result['login_process'] = time.time() - spawned
            result['login_cpu'] = time.process_time()
            result['login'] = login_done - began
        root = session.service_content.rootFolder
        name = session.get_properties(root, ['name'])['name']
        if name != 'Datacenters':
            raise RuntimeError('unexpected root folder name %r' % name)
        done = time.perf_counter()
        if number == 0:
            result['suds_process'] = time.time() - spawned
            result['suds_cpu'] = time.process_time()
            result['suds'] = done - began
            result['counts'] = dict(session.counts_snapshot())
        else:
            result['second'] = done - began
        result['sources'].append(session.api.vim.description_cache.source)
        session.close()
    print(json.dumps(result))


def _run_worker(options, mode='--worker'):
    import subprocess
    # The options (with the password) go through stdin, not the argv.
    spawned = time.time()
    proc = subprocess.run(
        [sys.executable, '-m', 'bench.startup', mode],
        input=json.dumps({'spawned': spawned, 'options': options}),
        capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        raise RuntimeError('start-up worker failed: %s' % proc.stderr[-2000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def measure(server, rounds=ROUNDS, progress=lambda message: None):
    """Run the rounds against ``server``; returns {kind: [results]}."""
    import tempfile
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
            # The floor: a process that only starts Python and this module.
            results.setdefault('bare', []).append(_run_worker({}, '--bare'))
            for kind in KINDS:
                result = _run_worker(dict(base,
                                          vcenter_wsdl_cache_dir=dirs[kind]))
                results[kind].append(result)
                progress('startup round %d %s: %.2fs' % (
                    number + 1, kind, result['suds_process']))
    return results


def report(results):
    """The start-up table as text."""
    import statistics

    def median(kind, key):
        return statistics.median(r[key] for r in results[kind])

    base = median('no cache', 'suds_process')
    base_cpu = median('no cache', 'suds_cpu')
    lines = ['Session start (fresh process, median of %d; seconds from the '
             'spawn; ratios to "no cache" to first suds call)'
             % len(results['no cache']),
             '%-10s %9s %6s %9s %6s %7s %6s %8s %8s' % (
                 'kind', 'login s', 'ratio', 'suds s', 'ratio', 'CPU s',
                 'ratio', 'second s', 'source')]
    for kind in KINDS:
        login = median(kind, 'login_process')
        suds = median(kind, 'suds_process')
        cpu = median(kind, 'suds_cpu')
        lines.append('%-10s %9.3f %6.2f %9.3f %6.2f %7.3f %6.2f %8.3f %8s' % (
            kind, login, login / base, suds, suds / base, cpu,
            cpu / base_cpu, median(kind, 'second'),
            results[kind][0]['sources'][0]))
    lines.append('login s: spawn to logged in (no suds); suds s: spawn to '
                 'the first call through suds done; CPU s: the process\'s '
                 'CPU to that point; login alone in the process: %.3f s '
                 '(warm), %.3f s CPU at logged in (warm)' % (
                     median('warm', 'login'), median('warm', 'login_cpu')))
    if results.get('bare'):
        lines.append('bare interpreter (this module only): spawn to running '
                     '%.3f s, %.3f s CPU' % (median('bare', 'process'),
                                             median('bare', 'cpu')))
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
    elif sys.argv[1:] == ['--bare']:
        request = json.loads(sys.stdin.read())
        print(json.dumps({'process': time.time() - request['spawned'],
                          'cpu': time.process_time()}))
    else:
        sys.exit(main())
