"""Operator commands on N backends: concurrently vs one after another.

``python -m bench --only fanout`` (or ``python -m bench.fanout [N
[LATENCY_MS [ROUNDS]]]``) starts N vCenter simulators (with LATENCY_MS, reached
through :mod:`bench.latency`, which delays each request that much),
writes a cinder.conf with one backend section each, and times
``vmware-backend-manage pools`` and ``check`` in this process (the parsed
WSDL is warm, as after the first run on a machine),
three ways in the same rounds (``reads`` column):

* ``soap``: ``vcenter_read_transport = soap``: a SOAP session per backend,
  in threads (unchanged);
* ``json-thr``: the fan-out as it was before VI/JSON-only sessions
  (``backends.VIJSON_SESSIONS = False``): a SOAP session per backend in
  threads, its inventory reads over VI/JSON;
* ``json``: the fan-out now: every backend on one event loop with a
  VI/JSON-only session (no SOAP, no suds).

For each:

* each backend alone (``--backend NAME``): the slowest and the sum;
* all backends at once (the fan-out of :mod:`vmware_backend.cmd.backends`),
  with the CPU it cost: this process's (all threads) and the simulators'
  (the scheduler's run time of their threads, ``/proc/PID/task/*/
  schedstat``).

Medians of the rounds; the ratios are the fan-out time to the slowest
single backend (the goal: <= 1.5) and to the sum (what reading them one
after another costs). ``floor`` is the larger of this process's CPU
for the fan-out (Python code holds the GIL: one core, whether threads or
one event loop schedule it) and all CPU (client and simulators) divided by
the machine's cores: no scheduling of the same work finishes sooner on
this machine, so ``floor/slowest`` is the best ratio reachable without
cutting CPU per backend.

A model table splits the fan-out's client CPU: a command costs ``F``
once (arguments, configuration files, logging, the event loop, output) and
``c`` per backend (its section's options, its requests, decoding, its
rows), so one backend costs ``F + c`` and N backends ``F + N c``: ``c`` is
(fan-out CPU - single CPU) / (N - 1) and ``F`` the single CPU - ``c``
(medians). ``s`` is the simulators' CPU per backend. ``model`` is the
fastest the fan-out could be with that CPU: ``F`` (nothing else runs
meanwhile) plus the larger of ``N c`` (the client's share: one core) and
``N (c + s) / cores`` (everything on the machine's cores); ``c for 1.5x``
is the per-backend client CPU at which ``F + N c`` would still be within
1.5x the slowest single backend (the goal), to compare with ``c``.

Two more tables split one backend's ``pools`` into its phases (wall and
this process's CPU): on a SOAP session with VI/JSON reads (the SOAP
session start in suds: RetrieveServiceContent, Login; the VI/JSON probe:
System.hello, the service content; the inventory reads: VI/JSON login,
views, pages; the pool rows; the close: SOAP and VI/JSON logouts), and on
a VI/JSON-only session (start: aiohttp session, System.hello, the service
content; Login; the inventory reads; the pool rows; Logout).
"""

import contextlib
import io
import os
import statistics
import subprocess
import sys
import tempfile
import time

DEFAULT_BACKENDS = 4
ROUNDS = 3
COMMANDS = ('pools', 'check')
# reads column -> (vcenter_read_transport, VI/JSON-only sessions)
TRANSPORTS = {'soap': ('soap', True), 'json-thr': ('json', False),
              'json': ('json', True)}
DRIVER = 'vmware_backend.openstack.cinder_driver.VMwareBackendCinderDriver'
PHASES = ('SOAP session start', 'VI/JSON probe', 'inventory reads',
          'pool rows', 'close')
JSON_PHASES = ('start (hello, content)', 'login', 'inventory reads',
               'pool rows', 'logout')


def _cinder_conf(servers, path, transport=None):
    lines = []
    for number, server in enumerate(servers, 1):
        lines.append('[vmware-%d]' % number)
        lines.append('volume_driver = %s' % DRIVER)
        lines.append('volume_backend_name = vmware-%d' % number)
        options = dict(server.options())
        if transport:
            options['vcenter_read_transport'] = transport
        for key, value in sorted(options.items()):
            lines.append('%s = %s' % (key, value))
        lines.append('')
    with open(path, 'w') as handle:
        handle.write('\n'.join(lines))


def process_cpu(pid):
    """CPU seconds process ``pid`` has used so far (its live threads).

    From the scheduler's run time of each thread
    (``/proc/PID/task/TID/schedstat``, nanoseconds), else from
    ``/proc/PID/stat`` (user + system, in clock ticks: 10 ms steps, too
    coarse for a few ms per simulator).
    """
    try:
        total = 0
        for tid in os.listdir('/proc/%d/task' % pid):
            with open('/proc/%d/task/%s/schedstat' % (pid, tid)) as handle:
                total += int(handle.read().split()[0])
        return total / 1e9
    except (OSError, ValueError, IndexError):
        return _stat_cpu(pid)


def _stat_cpu(pid):
    with open('/proc/%d/stat' % pid) as handle:
        # the command name may hold spaces: fields after its ')'
        fields = handle.read().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')


def _servers_cpu(servers):
    return sum(process_cpu(server.pid) for server in servers)


def _timed(argv, servers=None, vijson_sessions=True):
    """(wall, client CPU) seconds of the command.

    With ``servers``: (wall, client CPU, simulators' CPU) seconds.
    """
    from vmware_backend.cmd import backends
    from vmware_backend.cmd import manage
    backends.VIJSON_SESSIONS = vijson_sessions
    sink = io.StringIO()
    sims = _servers_cpu(servers) if servers else 0.0
    with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        cpu = time.process_time()
        began = time.perf_counter()
        status = manage.main(argv)
        seconds = time.perf_counter() - began
        cpu = time.process_time() - cpu
    if status != 0:
        raise RuntimeError('%s exited %d:\n%s' % (argv, status,
                                                  sink.getvalue()[-2000:]))
    if servers:
        return seconds, cpu, _servers_cpu(servers) - sims
    return seconds, cpu


def measure(servers, rounds=ROUNDS, progress=lambda message: None,
            transports=TRANSPORTS):
    """Times per read transport and command.

    :returns: ``{(transport, command): {'single': [[s per backend] per
        round], 'single_cpu': [[s per backend] per round], 'all': [s],
        'client_cpu': [s], 'sim_cpu': [s]}}``.
    """
    results = {}
    with tempfile.TemporaryDirectory(prefix='bench-fanout-') as root:
        paths = {}
        for transport in transports:
            read_transport, sessions = TRANSPORTS[transport]
            paths[transport] = os.path.join(root, '%s.conf' % transport)
            _cinder_conf(servers, paths[transport], read_transport)
            # Warm-up: the parsed WSDL, the simulators' first answers.
            _timed(['--config-file', paths[transport], 'pools'],
                   vijson_sessions=sessions)
        names = ['vmware-%d' % n for n in range(1, len(servers) + 1)]
        for command in COMMANDS:
            for transport in transports:
                results[(transport, command)] = {
                    'single': [], 'single_cpu': [], 'all': [],
                    'client_cpu': [], 'sim_cpu': []}
            for number in range(rounds):
                # both transports in each round: same machine load
                for transport in transports:
                    path = paths[transport]
                    sessions = TRANSPORTS[transport][1]
                    data = results[(transport, command)]
                    singles = [
                        _timed(['--config-file', path, command, '--backend',
                                name], vijson_sessions=sessions)
                        for name in names]
                    data['single'].append([wall for wall, _ in singles])
                    data['single_cpu'].append([cpu for _, cpu in singles])
                    wall, cpu, sims = _timed(['--config-file', path,
                                              command], servers,
                                             vijson_sessions=sessions)
                    data['all'].append(wall)
                    data['client_cpu'].append(cpu)
                    data['sim_cpu'].append(sims)
                    progress('fanout %s %s round %d: single max %.3fs, '
                             'sum %.3fs, all %.3fs (CPU %.3fs + simulators '
                             '%.3fs)' % (
                                 transport, command, number + 1,
                                 max(data['single'][-1]),
                                 sum(data['single'][-1]), wall, cpu, sims))
    return results


def phases(server, rounds=ROUNDS, transport='json'):
    """One backend's ``pools``, phase by phase (see the module's doc).

    :returns: ``{phase: [(wall s, client CPU s) per round]}``.
    """
    from vmware_backend.admin import health
    from vmware_backend import conf
    from vmware_backend.volume import placement
    from vmware_backend.vsphere.json import select
    from vmware_backend.vsphere import session as vc_session
    options = conf.option_defaults(**server.options(
        vcenter_read_transport=transport))
    found = {phase: [] for phase in PHASES}
    for _ in range(rounds + 1):   # the first round warms up
        session = vc_session.VCenterSession(options)
        service = placement.PlacementService(session, options)
        steps = (lambda: session.api,
                 lambda: select.state_for(session),
                 lambda: service.inventory(refresh=True),
                 lambda: health.pool_rows(service),
                 session.close)
        times = []
        for step in steps:
            cpu, began = time.process_time(), time.perf_counter()
            step()
            times.append((time.perf_counter() - began,
                          time.process_time() - cpu))
        for phase, value in zip(PHASES, times):
            found[phase].append(value)
    return {phase: values[1:] for phase, values in found.items()}


def json_phases(server, rounds=ROUNDS):
    """One backend's ``pools`` on a VI/JSON-only session, by phase.

    :returns: ``{phase: [(wall s, client CPU s) per round]}``.
    """
    import asyncio
    from vmware_backend.admin import health
    from vmware_backend import conf
    from vmware_backend.volume import placement
    from vmware_backend.vsphere.json import bridge
    from vmware_backend.vsphere.json import session as json_session
    options = conf.option_defaults(**server.options(
        vcenter_read_transport='json'))

    def timed(step):
        cpu, began = time.process_time(), time.perf_counter()
        step()
        return time.perf_counter() - began, time.process_time() - cpu

    async def one():
        session = json_session.JSONSession(options)
        cpu, began = time.process_time(), time.perf_counter()
        await session.start()
        times = [(time.perf_counter() - began, time.process_time() - cpu)]

        def steps():
            service = placement.PlacementService(session, options)
            return [timed(lambda: session.api),
                    timed(lambda: service.inventory(refresh=True)),
                    timed(lambda: health.pool_rows(service)),
                    timed(session.close)]

        times += await bridge.run_sync(steps)
        session.forget_secret()
        return times

    found = {phase: [] for phase in JSON_PHASES}
    for _ in range(rounds + 1):   # the first round warms up
        for phase, value in zip(JSON_PHASES, asyncio.run(one())):
            found[phase].append(value)
    return {phase: values[1:] for phase, values in found.items()}


def report(results, count, cores=None):
    """The fan-out table as text."""
    cores = cores or os.cpu_count()
    first = next(iter(results.values()))
    lines = ['Fan-out over %d simulators (in one process, warm WSDL; median '
             'of %d rounds; %d cores)' % (count, len(first['all']), cores),
             '%-9s %-8s %8s %8s %7s %8s %7s %7s %7s %7s %8s' % (
                 'reads', 'command', 'slowest', 'serial', 'all',
                 'all/slow', 'all/ser', 'cpu', 'sim cpu', 'floor',
                 'flr/slow')]
    for (transport, command), data in results.items():
        slowest = statistics.median(max(r) for r in data['single'])
        serial = statistics.median(sum(r) for r in data['single'])
        together = statistics.median(data['all'])
        cpu = statistics.median(data['client_cpu'])
        sims = statistics.median(data['sim_cpu'])
        floor = max(cpu, (cpu + sims) / cores)
        lines.append(
            '%-9s %-8s %8.3f %8.3f %7.3f %8.2f %7.2f %7.3f %7.3f %7.3f '
            '%8.2f' % (transport, command, slowest, serial, together,
                       together / slowest, together / serial, cpu, sims,
                       floor, floor / slowest))
    return '\n'.join(lines)


def report_model(results, count, cores=None, goal=1.5):
    """The per-backend CPU model of the fan-out (see the module doc)."""
    cores = cores or os.cpu_count()
    lines = ['Client CPU per command (F) and per backend (c), simulators\' '
             'CPU per backend (s), in ms; model = F + max(N c, N (c + s) / '
             '%d cores), N = %d' % (cores, count),
             '%-9s %-8s %7s %7s %7s %8s %7s %8s %7s %11s' % (
                 'reads', 'command', 'F', 'c', 's', 'model', 'all',
                 'mdl/slow', 'slowest', 'c for %.1fx' % goal)]
    for (transport, command), data in results.items():
        single_cpu = statistics.median(
            cpu for row in data['single_cpu'] for cpu in row)
        all_cpu = statistics.median(data['client_cpu'])
        per = (all_cpu - single_cpu) / (count - 1) if count > 1 else 0.0
        fixed = single_cpu - per
        sims = statistics.median(data['sim_cpu']) / count
        model = fixed + max(count * per, count * (per + sims) / cores)
        slowest = statistics.median(max(r) for r in data['single'])
        together = statistics.median(data['all'])
        needed = (goal * slowest - fixed) / count
        lines.append(
            '%-9s %-8s %7.2f %7.2f %7.2f %8.2f %7.2f %8.2f %7.2f %11.2f' % (
                transport, command, fixed * 1e3, per * 1e3, sims * 1e3,
                model * 1e3, together * 1e3, model / slowest, slowest * 1e3,
                needed * 1e3))
    return '\n'.join(lines)


def report_phases(found, title='a SOAP session, VI/JSON reads'):
    """The phase table of :func:`phases` as text (medians)."""
    lines = ['One backend\'s pools by phase (%s; median of %d '
             'rounds)' % (title, len(next(iter(found.values())))),
             '%-20s %8s %8s' % ('phase', 'wall s', 'cpu s')]
    walls = cpus = 0.0
    for phase, values in found.items():
        wall = statistics.median(v[0] for v in values)
        cpu = statistics.median(v[1] for v in values)
        walls += wall
        cpus += cpu
        lines.append('%-20s %8.4f %8.4f' % (phase, wall, cpu))
    lines.append('%-20s %8.4f %8.4f' % ('total', walls, cpus))
    return '\n'.join(lines)


class _Relayed:
    """A simulator reached through :mod:`bench.latency`'s relay."""

    def __init__(self, server, port):
        self._server = server
        self._port = port
        self.pid = server.pid

    def options(self, **overrides):
        return self._server.options(**dict({'vcenter_port': self._port},
                                           **overrides))


def _relay(servers, latency_ms):
    """Start the delaying relay; (its process, the relayed servers)."""
    proc = subprocess.Popen(
        [sys.executable, '-m', 'bench.latency', str(latency_ms)] +
        [str(server.port) for server in servers],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    ports = []
    for line in proc.stdout:
        if line.strip() == 'READY':
            break
        ports.append(int(line.split()[1]))
    if len(ports) != len(servers):
        proc.kill()
        proc.wait()
        raise RuntimeError('the latency relay did not start')
    return proc, [_Relayed(s, p) for s, p in zip(servers, ports)]


def main(count=DEFAULT_BACKENDS, rounds=ROUNDS, latency_ms=0):
    """Start ``count`` simulators, measure, print the tables; returns 0.

    With ``latency_ms``, every request reaches the simulators that much
    later (:mod:`bench.latency`), as a vCenter further away would.
    """
    from vmware_backend import utils
    utils.use_threading_backend()
    from vmware_backend.testbed import vcsim
    servers = []
    relay = None
    try:
        for _ in range(count):
            servers.append(vcsim.VcsimServer().start())
        targets = servers
        if latency_ms:
            relay, targets = _relay(servers, latency_ms)
        results = measure(targets, rounds, progress=lambda m: sys.stderr.write(
            'bench: %s\n' % m))
        found = phases(targets[0], rounds)
        found_json = json_phases(targets[0], rounds)
    finally:
        if relay is not None:
            relay.stdin.close()
            relay.terminate()
            relay.wait()
        for server in servers:
            server.stop()
    if latency_ms:
        print('Each request delayed by %s ms (bench/latency.py)'
              % latency_ms)
    print(report(results, count))
    print()
    print(report_model(results, count))
    print()
    print(report_phases(found))
    print()
    print(report_phases(found_json, 'a VI/JSON-only session'))
    return 0


if __name__ == '__main__':
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else
                  DEFAULT_BACKENDS,
                  latency_ms=float(sys.argv[2]) if len(sys.argv) > 2 else 0,
                  rounds=int(sys.argv[3]) if len(sys.argv) > 3 else ROUNDS))
