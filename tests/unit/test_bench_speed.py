"""The start-up and fan-out benchmark tables (bench/startup.py, fanout.py)."""

from unittest import mock

import fixtures
import testtools

from bench import fanout
from bench import startup


class StartupReportTest(testtools.TestCase):

    def test_medians_and_ratios_to_no_cache(self):
        def runs(*sudses):
            return [{'login_process': 0.2, 'login': 0.01, 'login_cpu': 0.1,
                     'suds_process': s, 'suds_cpu': s / 2, 'second': 0.1,
                     'sources': ['x', 'memory']} for s in sudses]
        text = startup.report({'no cache': runs(2.0, 4.0, 3.0),
                               'first run': runs(6.0, 6.0, 6.0),
                               'warm': runs(0.3, 0.9, 0.2),
                               'bare': [{'process': 0.05, 'cpu': 0.02},
                                        {'process': 0.07, 'cpu': 0.03},
                                        {'process': 0.04, 'cpu': 0.02}]})
        lines = text.splitlines()
        # login s, ratio, suds s, ratio, CPU s, ratio, second s, source
        self.assertEqual(['no', 'cache', '0.200', '0.07', '3.000', '1.00',
                          '1.500', '1.00', '0.100', 'x'], lines[2].split())
        self.assertEqual(['first', 'run', '0.200', '0.07', '6.000', '2.00',
                          '3.000', '2.00', '0.100', 'x'], lines[3].split())
        self.assertEqual(['warm', '0.200', '0.07', '0.300', '0.10',
                          '0.150', '0.10', '0.100', 'x'], lines[4].split())
        self.assertIn('login alone in the process: 0.010 s (warm), 0.100 s '
                      'CPU at logged in (warm)', lines[5])
        self.assertEqual('bare interpreter (this module only): spawn to '
                         'running 0.050 s, 0.020 s CPU', lines[6])


class FanoutReportTest(testtools.TestCase):

    def test_ratios_to_slowest_and_serial_and_the_cpu_floor(self):
        results = {('json', 'pools'): {
            'single': [[1.0, 2.0], [1.0, 3.0], [1.0, 2.0]],
            'all': [2.5, 2.0, 9.0], 'client_cpu': [1.2, 1.0, 5.0],
            'sim_cpu': [2.0, 2.0, 2.0]}}
        lines = fanout.report(results, 2, cores=2).splitlines()
        self.assertIn('2 simulators', lines[0])
        self.assertIn('2 cores', lines[0])
        # slowest median 2.0, serial median 3.0, all median 2.5; client CPU
        # median 1.2, simulators 2.0: floor max(1.2, 3.2 / 2) = 1.6
        self.assertEqual(['json', 'pools', '2.000', '3.000', '2.500', '1.25',
                          '0.83', '1.200', '2.000', '1.600', '0.80'],
                         lines[2].split())

    def test_floor_is_the_client_cpu_when_it_exceeds_the_cores_share(self):
        # Python holds the GIL: 3 s of client CPU take 3 s on 4 cores too
        results = {('soap', 'check'): {
            'single': [[1.0, 2.0]], 'all': [4.0], 'client_cpu': [3.0],
            'sim_cpu': [1.0]}}
        line = fanout.report(results, 2, cores=4).splitlines()[2]
        self.assertEqual(['soap', 'check', '2.000', '3.000', '4.000',
                          '2.00', '1.33', '3.000', '1.000', '3.000', '1.50'],
                         line.split())

    def _model_results(self):
        return {('json', 'pools'): {
            'single': [[0.010, 0.012], [0.011, 0.013], [0.009, 0.014]],
            'single_cpu': [[0.008, 0.008], [0.008, 0.009], [0.007, 0.008]],
            'all': [0.015, 0.016, 0.020], 'client_cpu': [0.010, 0.011, 0.009],
            'sim_cpu': [0.004, 0.006, 0.005]}}

    def test_model_splits_fixed_and_per_backend_cpu(self):
        lines = fanout.report_model(self._model_results(), 2,
                                    cores=2).splitlines()
        self.assertIn('N = 2', lines[0])
        self.assertIn('2 cores', lines[0])
        # single CPU median 8 ms, fan-out 10 ms: c = 2 ms, F = 6 ms;
        # simulators 5 ms / 2 = 2.5 ms per backend; model 6 + max(2 * 2,
        # 2 * 4.5 / 2) = 10.5 ms; slowest median 13 ms, all 16 ms;
        # 1.5x needs c <= (19.5 - 6) / 2 = 6.75 ms
        self.assertEqual(['json', 'pools', '6.00', '2.00', '2.50', '10.50',
                          '16.00', '0.81', '13.00', '6.75'],
                         lines[2].split())

    def test_model_is_client_bound_with_more_cores(self):
        line = fanout.report_model(self._model_results(), 2,
                                   cores=4).splitlines()[2]
        # 6 + max(2 * 2, 2 * 4.5 / 4) = 10 ms
        self.assertEqual('10.00', line.split()[5])

    def test_phases_medians_and_total(self):
        found = {'SOAP session start': [(0.010, 0.009), (0.030, 0.011),
                                        (0.012, 0.010)],
                 'close': [(0.002, 0.001), (0.004, 0.003), (0.003, 0.002)]}
        lines = fanout.report_phases(found).splitlines()
        self.assertIn('median of 3 rounds', lines[0])
        self.assertEqual(['SOAP', 'session', 'start', '0.0120', '0.0100'],
                         lines[2].split())
        self.assertEqual(['close', '0.0030', '0.0020'], lines[3].split())
        self.assertEqual(['total', '0.0150', '0.0120'], lines[4].split())

    def test_cinder_conf_forces_the_read_transport(self):
        class Server:
            def options(self):
                return {'vcenter_host': '127.0.0.1', 'vcenter_port': 8989}
        path = self.useFixture(fixtures.TempDir()).join('cinder.conf')
        fanout._cinder_conf([Server(), Server()], path, 'json')
        with open(path) as handle:
            text = handle.read()
        self.assertEqual(
            '[vmware-1]\n'
            'volume_driver = vmware_backend.openstack.cinder_driver.'
            'VMwareBackendCinderDriver\n'
            'volume_backend_name = vmware-1\n'
            'vcenter_host = 127.0.0.1\n'
            'vcenter_port = 8989\n'
            'vcenter_read_transport = json\n'
            '\n'
            '[vmware-2]\n'
            'volume_driver = vmware_backend.openstack.cinder_driver.'
            'VMwareBackendCinderDriver\n'
            'volume_backend_name = vmware-2\n'
            'vcenter_host = 127.0.0.1\n'
            'vcenter_port = 8989\n'
            'vcenter_read_transport = json\n', text)

    def test_process_cpu_reads_proc_stat(self):
        # utime 250 + stime 50 ticks; the command name holds ') ' too
        stat = ('4242 (odd) name) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0 '
                '1 0 100 200 300')
        self.useFixture(fixtures.MockPatch(
            'os.listdir', side_effect=PermissionError('no schedstat')))
        self.useFixture(fixtures.MockPatch(
            'builtins.open', mock.mock_open(read_data=stat)))
        self.useFixture(fixtures.MockPatch('os.sysconf', return_value=100))
        self.assertEqual(3.0, fanout.process_cpu(4242))

    def test_process_cpu_sums_the_threads_schedstat(self):
        runtimes = {'/proc/4242/task/4242/schedstat': '1500000000 7 9\n',
                    '/proc/4242/task/4250/schedstat': '2250000 3 4\n'}
        self.useFixture(fixtures.MockPatch(
            'os.listdir', return_value=['4242', '4250']))
        self.useFixture(fixtures.MockPatch(
            'builtins.open',
            side_effect=lambda path: mock.mock_open(
                read_data=runtimes[path])()))
        self.assertEqual(1.50225, fanout.process_cpu(4242))


class LatencyRelayTest(testtools.TestCase):

    def test_relays_both_ways_to_its_target(self):
        import socket
        import subprocess
        import sys
        import threading

        listener = socket.create_server(('127.0.0.1', 0))
        self.addCleanup(listener.close)

        def serve():
            conn, _ = listener.accept()
            with conn:
                data = b''
                while not data.endswith(b'\n'):
                    data += conn.recv(100)
                conn.sendall(b'answer to ' + data)

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        proc = subprocess.Popen(
            [sys.executable, '-m', 'bench.latency', '1',
             str(listener.getsockname()[1])],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.addCleanup(proc.wait)
        self.addCleanup(proc.stdin.close)
        line = proc.stdout.readline().split()
        self.assertEqual(['LISTEN', str(listener.getsockname()[1])],
                         [line[0], line[3]])
        self.assertEqual('READY\n', proc.stdout.readline())
        with socket.create_connection(('127.0.0.1', int(line[1])),
                                      timeout=10) as client:
            client.sendall(b'question\n')
            received = b''
            while not received.endswith(b'\n'):
                chunk = client.recv(100)
                if not chunk:
                    break
                received += chunk
        self.assertEqual(b'answer to question\n', received)
        thread.join(10)
