"""Operator commands on N backends: concurrently vs one after another.

``python -m bench --only fanout`` (or ``python -m bench.fanout [N]``)
starts N vCenter simulators, writes a cinder.conf with one backend section
each, and times ``vmware-backend-manage pools`` and ``check`` in this
process (the parsed WSDL is warm, as after the first run on a machine):

* each backend alone (``--backend NAME``): the slowest and the sum;
* all backends at once (the fan-out of :mod:`vmware_backend.cmd.backends`).

Medians of the rounds; the ratios are the fan-out time to the slowest
single backend (the goal: <= 1.5) and to the sum (what reading them one
after another costs).
"""

import contextlib
import io
import os
import statistics
import sys
import tempfile
import time

DEFAULT_BACKENDS = 4
ROUNDS = 3
COMMANDS = ('pools', 'check')
DRIVER = 'vmware_backend.openstack.cinder_driver.VMwareBackendCinderDriver'


def _cinder_conf(servers, path):
    lines = []
    for number, server in enumerate(servers, 1):
        lines.append('[vmware-%d]' % number)
        lines.append('volume_driver = %s' % DRIVER)
        lines.append('volume_backend_name = vmware-%d' % number)
        for key, value in sorted(server.options().items()):
            lines.append('%s = %s' % (key, value))
        lines.append('')
    with open(path, 'w') as handle:
        handle.write('\n'.join(lines))


def _timed(argv):
    from vmware_backend.cmd import manage
    sink = io.StringIO()
    with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        began = time.perf_counter()
        status = manage.main(argv)
        seconds = time.perf_counter() - began
    if status != 0:
        raise RuntimeError('%s exited %d:\n%s' % (argv, status,
                                                  sink.getvalue()[-2000:]))
    return seconds


def measure(servers, rounds=ROUNDS, progress=lambda message: None):
    """{command: {'single': [[s per backend] per round], 'all': [s]}}."""
    results = {}
    with tempfile.TemporaryDirectory(prefix='bench-fanout-') as root:
        path = os.path.join(root, 'cinder.conf')
        _cinder_conf(servers, path)
        names = ['vmware-%d' % n for n in range(1, len(servers) + 1)]
        # Warm-up: the parsed WSDL, the simulators' first answers.
        _timed(['--config-file', path, 'pools'])
        for command in COMMANDS:
            single_rounds, all_rounds = [], []
            for number in range(rounds):
                single_rounds.append([
                    _timed(['--config-file', path, command, '--backend',
                            name]) for name in names])
                all_rounds.append(_timed(['--config-file', path, command]))
                progress('fanout %s round %d: single max %.2fs, sum %.2fs, '
                         'all %.2fs' % (command, number + 1,
                                        max(single_rounds[-1]),
                                        sum(single_rounds[-1]),
                                        all_rounds[-1]))
            results[command] = {'single': single_rounds, 'all': all_rounds}
    return results


def report(results, count):
    """The fan-out table as text."""
    lines = ['Fan-out over %d simulators (in one process, warm WSDL; median '
             'of %d rounds)' % (count, len(next(iter(
                 results.values()))['all'])),
             '%-8s %12s %12s %10s %12s %10s' % (
                 'command', 'slowest 1 s', 'serial s', 'all s',
                 'all/slowest', 'all/serial')]
    for command, data in results.items():
        slowest = statistics.median(max(r) for r in data['single'])
        serial = statistics.median(sum(r) for r in data['single'])
        together = statistics.median(data['all'])
        lines.append('%-8s %12.3f %12.3f %10.3f %12.2f %10.2f' % (
            command, slowest, serial, together, together / slowest,
            together / serial))
    return '\n'.join(lines)


def main(count=DEFAULT_BACKENDS, rounds=ROUNDS):
    """Start ``count`` simulators, measure, print the table; returns 0."""
    from vmware_backend import utils
    utils.use_threading_backend()
    from vmware_backend.testbed import vcsim
    servers = []
    try:
        for _ in range(count):
            servers.append(vcsim.VcsimServer().start())
        results = measure(servers, rounds, progress=lambda m: sys.stderr.write(
            'bench: %s\n' % m))
    finally:
        for server in servers:
            server.stop()
    print(report(results, count))
    return 0


if __name__ == '__main__':
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else
                  DEFAULT_BACKENDS))
