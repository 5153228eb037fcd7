"""The benchmark's report and count check, on synthetic measurements."""

import io
import json
import os
from unittest import mock

import fixtures
import testtools

from bench import cli as bench_cli
from bench import report as bench
from bench import taskwait as bench_taskwait

from docutils import core as docutils_core

STEADY = {'CreateVM_Task': 1, 'FindAllByUuid': 1, 'RetrievePropertiesEx': 1}
STATS = {'CreateContainerView': 1, 'RetrievePropertiesEx': 1,
         'DestroyView': 1}


def scan_calls(vms, page=100):
    pages = max(1, -(-vms // page))
    calls = {'RetrievePropertiesEx': 1}
    if pages > 1:
        calls['ContinueRetrievePropertiesEx'] = pages - 1
    return calls


def make_run(size, create=None, seconds=0.01, repeat=3, vms=None):
    """A run as bench_run.run_size returns it, with chosen counts."""
    create = create or [STEADY] * repeat
    vms = size if vms is None else vms
    return {
        'size': size,
        'flags': bench.simulator_flags(size),
        'startup_seconds': size / 1000.0,
        'objects': {'VirtualMachine': vms, 'HostSystem': 8,
                    'ClusterComputeResource': 2, 'Datastore': 4},
        'operations': {
            'stats_cold': [bench.sample(STATS, seconds * (i + 1))
                           for i in range(repeat)],
            'stats_warm': [bench.sample({}, 0.0) for _i in range(repeat)],
            'create': [bench.sample(calls, seconds) for calls in create],
            'cinder_scan': [bench.sample(scan_calls(vms), vms / 1000.0)
                            for _i in range(repeat)],
        },
    }


def same_runs():
    return [make_run(10), make_run(1000), make_run(5000)]


OURS = {'schedule': 'backoff', 'first_delay': 0.01, 'max_interval': 1.0}
OSLO = {'schedule': 'fixed', 'interval': 2.0}


def wait(polls, wait_seconds, start_seconds=0.005, calls=None):
    calls = calls or {'RetrievePropertiesEx': polls}
    return bench_taskwait.wait_sample(calls, start_seconds, wait_seconds)


def make_taskwait_run(delay_ms, ours=None, oslo=None):
    """A run as bench_run.run_taskwait returns it, with chosen waits."""
    delay = delay_ms / 1000.0
    if ours is None:
        # 10, 30, 70, 150, 310, 630, 1630 ms of sleeps: within the waits.
        ours = [wait(4, 0.07), wait(4, 0.08), wait(5, 0.2)]
        if delay_ms >= 300:
            ours = [wait(6, delay + 0.05)] * 3
    if oslo is None:
        oslo = [wait(2, 2.01), wait(2, 2.03), wait(3, 4.0)]
    return {'delay_ms': delay_ms, 'flags': {'task-delay-ms': delay_ms},
            'startup_seconds': 0.1, 'seconds': 9.0,
            'oslo_service_backend': 'threading',
            'waiters': {'ours': dict(OURS), 'oslo': dict(OSLO)},
            'samples': {'ours': ours, 'oslo': oslo}}


def make_taskwait(*runs, repeat=3):
    runs = runs or (make_taskwait_run(300), make_taskwait_run(50))
    return {'delays_ms': sorted(r['delay_ms'] for r in runs),
            'repeat': repeat, 'runs': list(runs)}


class SimulatorFlagsTest(testtools.TestCase):

    def test_vms_per_cluster_reach_the_size(self):
        self.assertEqual(5, bench.simulator_flags(10)['vms'])
        self.assertEqual(500, bench.simulator_flags(1000)['vms'])
        self.assertEqual(2500, bench.simulator_flags(5000)['vms'])

    def test_shape_is_kept(self):
        flags = bench.simulator_flags(1000)
        self.assertEqual(2, flags['clusters'])
        self.assertEqual(4, flags['hosts'])
        self.assertEqual(4, flags['datastores'])

    def test_standalone_hosts_count_as_a_group(self):
        shape = {'datacenters': 1, 'clusters': 2, 'standalone-hosts': 1}
        # 3 groups: 1000 / 3 rounds to 333 (999 VMs).
        self.assertEqual(333, bench.simulator_flags(1000, shape)['vms'])

    def test_at_least_one_vm(self):
        self.assertEqual(1, bench.simulator_flags(1)['vms'])


class ParseTest(testtools.TestCase):

    def test_sizes_sorted_and_distinct(self):
        self.assertEqual([10, 1000, 5000],
                         bench.parse_sizes('5000, 10,1000,10,'))

    def test_bad_sizes(self):
        for text in ('', ',', 'ten', '10,-1', '0'):
            self.assertRaises(ValueError, bench.parse_sizes, text)

    def test_defaults(self):
        args = bench_cli.parse_args([])
        self.assertEqual(list(bench.DEFAULT_SIZES), args.sizes)
        self.assertEqual(5, args.repeat)
        self.assertEqual('bench-results', args.output)

    def test_quick(self):
        self.assertEqual([10, 1000], bench_cli.parse_args(['--quick']).sizes)

    def test_usage_errors(self):
        self.useFixture(mock_stderr())
        for argv in (['--quick', '--sizes', '10'], ['--repeat', '0'],
                     ['--sizes', 'x'], ['--taskwait-delays', '50,x'],
                     ['--taskwait-delays', '-5'], ['--taskwait-repeat', '0'],
                     ['--only', 'taskwait', '--sizes', '10'],
                     ['--only', 'taskwait', '--quick'],
                     ['--only', 'sizes', '--taskwait-delays', '50'],
                     ['--only', 'sizes', '--taskwait-repeat', '2'],
                     ['--only', 'other']):
            err = self.assertRaises(SystemExit, bench_cli.parse_args, argv)
            self.assertEqual(2, err.code, argv)

    def test_delays_sorted_and_distinct(self):
        self.assertEqual([0, 50, 300, 1000],
                         bench_taskwait.parse_delays('1000,50, 300,50,0,'))

    def test_bad_delays(self):
        for text in ('', ',', 'fast', '50,-1', '1.5'):
            self.assertRaises(ValueError, bench_taskwait.parse_delays, text)

    def test_full_run_has_a_short_task_wait_part(self):
        args = bench_cli.parse_args([])
        self.assertEqual([50, 300, 1000], args.taskwait_delays)
        self.assertEqual(bench_taskwait.FULL_RUN_REPEAT, args.taskwait_repeat)
        self.assertLess(args.taskwait_repeat, bench_taskwait.DEFAULT_REPEAT)

    def test_only_taskwait(self):
        args = bench_cli.parse_args(['--only', 'taskwait'])
        self.assertEqual([], args.sizes)
        self.assertEqual(5, args.taskwait_repeat)
        args = bench_cli.parse_args(['--only', 'taskwait', '--taskwait-delays',
                                     '300,50', '--taskwait-repeat', '2'])
        self.assertEqual([50, 300], args.taskwait_delays)
        self.assertEqual(2, args.taskwait_repeat)

    def test_only_sizes(self):
        args = bench_cli.parse_args(['--only', 'sizes', '--quick'])
        self.assertEqual([10, 1000], args.sizes)
        self.assertEqual([], args.taskwait_delays)


def mock_stderr():
    return fixtures.MonkeyPatch('sys.stderr', io.StringIO())


class RatioTest(testtools.TestCase):

    def test_ratio(self):
        self.assertEqual(50.0, bench.ratio(50, 1))
        self.assertEqual(1.0, bench.ratio(3, 3))
        self.assertEqual(1.0, bench.ratio(0, 0))
        self.assertIsNone(bench.ratio(2, 0))


class SummarizeTest(testtools.TestCase):

    def test_figures_per_size(self):
        summary = {op['key']: op for op in bench.summarize(same_runs())}
        self.assertEqual(['stats_cold', 'stats_warm', 'create',
                          'cinder_scan'], list(summary))
        create = summary['create']['sizes']
        self.assertEqual([10, 1000, 5000], [e['size'] for e in create])
        self.assertEqual([3, 3, 3], [e['calls_total'] for e in create])
        self.assertEqual([1.0, 1.0, 1.0], [e['ratio'] for e in create])
        self.assertTrue(all(e['consistent'] for e in create))
        scan = summary['cinder_scan']['sizes']
        self.assertEqual([1, 10, 50], [e['calls_total'] for e in scan])
        self.assertEqual([1.0, 10.0, 50.0], [e['ratio'] for e in scan])
        self.assertTrue(summary['cinder_scan']['reference'])

    def test_median_time(self):
        stats = bench.summarize([make_run(10)])[0]
        # 0.01, 0.02, 0.03 s
        self.assertAlmostEqual(0.02, stats['sizes'][0]['median_seconds'])

    def test_varying_repetitions_are_shown(self):
        grown = dict(STEADY, RetrievePropertiesEx=2)
        run = make_run(10, create=[STEADY, grown, STEADY])
        create = [op for op in bench.summarize([run])
                  if op['key'] == 'create'][0]['sizes'][0]
        self.assertFalse(create['consistent'])
        self.assertEqual((3, 4), create['calls_range'])

    def test_sizes_given_out_of_order(self):
        runs = [make_run(5000), make_run(10)]
        scan = [op for op in bench.summarize(runs)
                if op['key'] == 'cinder_scan'][0]['sizes']
        self.assertEqual([10, 5000], [e['size'] for e in scan])
        self.assertEqual([1.0, 50.0], [e['ratio'] for e in scan])


class CountCheckTest(testtools.TestCase):

    def test_same_counts_everywhere_pass(self):
        self.assertEqual([], bench.count_problems(same_runs()))

    def test_growing_reference_is_exempt(self):
        runs = same_runs()
        self.assertNotEqual(
            runs[0]['operations']['cinder_scan'][0]['calls'],
            runs[2]['operations']['cinder_scan'][0]['calls'])
        self.assertEqual([], bench.count_problems(runs))

    def test_a_count_growing_with_size_fails(self):
        grown = dict(STEADY, RetrievePropertiesEx=2)
        runs = [make_run(10), make_run(1000),
                make_run(5000, create=[grown] * 3)]
        problems = bench.count_problems(runs)
        self.assertEqual(3, len(problems))
        self.assertIn('create_volume, steady state', problems[0])
        self.assertIn('at 5000 VMs', problems[0])
        self.assertIn('RetrievePropertiesEx 2 instead of 1', problems[0])

    def test_a_method_missing_at_a_size_fails(self):
        fewer = {'CreateVM_Task': 1, 'RetrievePropertiesEx': 1}
        runs = [make_run(10), make_run(1000, create=[fewer] * 3)]
        problems = bench.count_problems(runs)
        self.assertEqual(3, len(problems))
        self.assertIn('FindAllByUuid 0 instead of 1', problems[0])

    def test_same_total_other_methods_fails(self):
        other = {'CreateVM_Task': 1, 'FindChild': 1,
                 'RetrievePropertiesEx': 1}
        runs = [make_run(10), make_run(1000, create=[other] * 3)]
        self.assertEqual(3, len(bench.count_problems(runs)))

    def test_one_repetition_differing_fails(self):
        grown = dict(STEADY, FindAllByUuid=2)
        runs = [make_run(10), make_run(1000, create=[STEADY, STEADY, grown])]
        problems = bench.count_problems(runs)
        self.assertEqual(1, len(problems))
        self.assertIn('repetition 3', problems[0])

    def test_zero_counts_ignored(self):
        # A Counter difference may keep zero entries; they are not calls.
        self.assertEqual(bench.sample(STEADY, 0)['calls'],
                         bench.sample(dict(STEADY, Login=0), 0)['calls'])

    def test_real_vm_count_named(self):
        grown = dict(STEADY, RetrievePropertiesEx=2)
        runs = [make_run(10), make_run(1000, create=[grown] * 3, vms=999)]
        self.assertIn('at 999 VMs', bench.count_problems(runs)[0])


class GridTableTest(testtools.TestCase):

    def test_layout(self):
        text = bench.grid_table(['name', 'n'],
                                [['a', '1'], ['two\nlines', '22']],
                                align='lr')
        self.assertEqual(
            '+-------+----+\n'
            '| name  | n  |\n'
            '+=======+====+\n'
            '| a     |  1 |\n'
            '+-------+----+\n'
            '| two   | 22 |\n'
            '| lines |    |\n'
            '+-------+----+', text)

    def test_row_of_the_wrong_width(self):
        self.assertRaises(ValueError, bench.grid_table, ['a', 'b'], [['1']])

    def assertWellFormed(self, text):
        lines = text.split('\n')
        self.assertEqual(1, len({len(line) for line in lines}), text)
        self.assertTrue(lines[0].startswith('+-'))
        self.assertEqual(1, sum(1 for line in lines if line.startswith('+=')))
        borders = [i for i, char in enumerate(lines[0]) if char == '+']
        for line in lines:
            marks = [i for i, char in enumerate(line) if char in '+|']
            self.assertEqual(borders, marks, line)

    def test_operations_table(self):
        runs = same_runs()
        text = bench.operations_table(bench.summarize(runs), runs)
        self.assertWellFormed(text)
        scan_line = [line for line in text.split('\n')
                     if 'get_objects' in line][0]
        cells = [c.strip() for c in scan_line.strip('|').split('|')]
        # calls at 10/1000/5000, ratios 1000/10 and 5000/10, then times
        self.assertEqual(['1', '10', '50', '10.00', '50.00'], cells[1:6])
        self.assertIn('reference: ', scan_line)
        self.assertIn('ratio', text)
        self.assertIn('5000/10', text)

    def test_bytes_received_median_in_kb(self):
        samples = [bench.sample({'RetrievePropertiesEx': 1}, 0.01, received,
                                cpu=received / 1e6)
                   for received in (2048, 4096, 1024)]
        runs = [{'size': 10, 'objects': {'VirtualMachine': 10},
                 'operations': {'snapshot': samples}}]
        (op,) = bench.summarize(runs)
        self.assertEqual(2048, op['sizes'][0]['median_received'])
        text = bench.operations_table(bench.summarize(runs), runs)
        self.assertIn('KB recv', text)
        line = [li for li in text.split('\n') if 'create_snapshot' in li][0]
        cells = [c.strip() for c in line.strip('|').split('|')]
        # ..., KB recv, CPU ms (median 2048 / 1e6 s)
        self.assertEqual(['2.0', '2.0'], cells[-2:])

    def test_headings_use_the_real_vm_count(self):
        runs = [make_run(10, vms=9), make_run(1000, vms=999)]
        text = bench.operations_table(bench.summarize(runs), runs)
        self.assertIn('999 VMs', text)
        self.assertIn('999/9', text)

    def test_varying_calls_show_a_range(self):
        grown = dict(STEADY, RetrievePropertiesEx=2)
        runs = [make_run(10, create=[STEADY, grown, STEADY])]
        text = bench.operations_table(bench.summarize(runs), runs)
        self.assertIn(' 3..4 ', text)

    def test_methods_cell(self):
        per_size = [{'calls': scan_calls(10)}, {'calls': scan_calls(1000)},
                    {'calls': scan_calls(5000)}]
        self.assertEqual('ContinueRetrievePropertiesEx 0/9/49, '
                         'RetrievePropertiesEx 1',
                         bench.methods_cell(per_size, width=200))
        self.assertEqual('none', bench.methods_cell([{'calls': {}}]))

    def test_inventory_table(self):
        text = bench.inventory_table(same_runs())
        self.assertWellFormed(text)
        self.assertIn('-vms 2500', text)
        self.assertIn('5.0', text)  # start-up seconds

    def test_report(self):
        text = bench.report({'repeat': 3, 'runs': same_runs(),
                             'runtime_seconds': 12})
        self.assertIn('OK: the 3 driver operations', text)
        self.assertIn('calls per size 1 -> 10 -> 50', text)
        self.assertNotIn('FAILED', text)
        grown = dict(STEADY, RetrievePropertiesEx=2)
        runs = [make_run(10), make_run(5000, create=[grown] * 3)]
        text = bench.report({'repeat': 3, 'runs': runs})
        self.assertIn('FAILED', text)
        self.assertNotIn('OK:', text)

    def test_report_is_restructuredtext(self):
        text = bench.report({'repeat': 3, 'runs': same_runs(),
                             'runtime_seconds': 1})
        doc = docutils_core.publish_doctree(
            text, settings_overrides={'report_level': 2, 'halt_level': 2})
        tables = [node for node in doc.traverse()
                  if node.tagname == 'table']
        self.assertEqual(3, len(tables))
        rows = [node for node in tables[1].traverse()
                if node.tagname == 'row']
        self.assertEqual(1 + 4, len(rows))  # heading + 4 operations
        grown = dict(STEADY, RetrievePropertiesEx=2)
        runs = [make_run(10), make_run(5000, create=[grown] * 3)]
        doc = docutils_core.publish_doctree(
            bench.report({'repeat': 3, 'runs': runs}),
            settings_overrides={'report_level': 2, 'halt_level': 2})
        items = [node for node in doc.traverse()
                 if node.tagname == 'list_item']
        self.assertEqual(3, len(items))


class MainTest(testtools.TestCase):

    def run_main(self, runs, taskwait_runs=None, argv=None):
        out = self.useFixture(fixtures.TempDir()).path
        self.useFixture(mock_stderr())
        by_size = {run['size']: run for run in runs}
        if taskwait_runs is None:
            taskwait_runs = make_taskwait()['runs']
        by_delay = {run['delay_ms']: run for run in taskwait_runs}
        if argv is None:
            argv = ['--sizes', ','.join(str(size) for size in by_size),
                    '--repeat', '3', '--taskwait-delays',
                    ','.join(str(delay) for delay in by_delay)]
        with mock.patch('bench.run.run_size',
                        side_effect=lambda size, *a, **k: by_size[size]), \
                mock.patch('bench.run.run_taskwait',
                           side_effect=lambda delay, *a, **k:
                           by_delay[delay]) as run_taskwait, \
                mock.patch('bench.run.prepare',
                           return_value=0.5), \
                mock.patch('builtins.print'):
            status = bench_cli.main(argv + ['--output', out])
        self.run_taskwait = run_taskwait
        return status, out

    def test_exit_zero_when_counts_hold(self):
        status, out = self.run_main(same_runs())
        self.assertEqual(bench.EXIT_OK, status)
        with open(os.path.join(out, 'latest.json')) as f:
            data = json.load(f)
        self.assertEqual([], data['problems'])
        self.assertEqual([10, 1000, 5000], data['sizes'])
        with open(os.path.join(out, 'latest.rst')) as f:
            self.assertIn('+====', f.read())

    def test_exit_one_when_counts_differ(self):
        grown = dict(STEADY, RetrievePropertiesEx=2)
        status, out = self.run_main(
            [make_run(10), make_run(1000, create=[grown] * 3)])
        self.assertEqual(bench.EXIT_COUNTS_DIFFER, status)
        with open(os.path.join(out, 'latest.json')) as f:
            self.assertEqual(3, len(json.load(f)['problems']))

    def test_task_waits_in_the_default_run(self):
        status, out = self.run_main(same_runs())
        self.assertEqual(bench.EXIT_OK, status)
        self.assertEqual([mock.call(50, bench_taskwait.FULL_RUN_REPEAT,
                                    progress=mock.ANY),
                          mock.call(300, bench_taskwait.FULL_RUN_REPEAT,
                                    progress=mock.ANY)],
                         self.run_taskwait.call_args_list)
        with open(os.path.join(out, 'latest.json')) as f:
            data = json.load(f)
        self.assertEqual([], data['taskwait_problems'])
        self.assertEqual(4, len(data['taskwait_summary']))
        self.assertEqual(2, len(data['taskwait']['runs']))
        with open(os.path.join(out, 'latest.rst')) as f:
            self.assertIn('Task waits', f.read())

    def test_exit_one_when_a_wait_polls_too_often(self):
        bad = make_taskwait_run(50, ours=[wait(9, 0.07)])
        status, out = self.run_main(same_runs(), [bad])
        self.assertEqual(bench.EXIT_COUNTS_DIFFER, status)
        with open(os.path.join(out, 'latest.json')) as f:
            data = json.load(f)
        self.assertEqual([], data['problems'])
        self.assertEqual(1, len(data['taskwait_problems']))

    def test_only_taskwait(self):
        with mock.patch('bench.run.run_size') as run_size:
            status, out = self.run_main(
                [], argv=['--only', 'taskwait', '--taskwait-delays',
                          '50,300'])
        self.assertEqual(bench.EXIT_OK, status)
        run_size.assert_not_called()
        self.assertEqual(2, self.run_taskwait.call_count)
        self.assertEqual(5, self.run_taskwait.call_args[0][1])
        with open(os.path.join(out, 'latest.json')) as f:
            data = json.load(f)
        self.assertEqual([], data['runs'])
        self.assertEqual(5, data['taskwait']['repeat'])

    def test_only_sizes(self):
        status, out = self.run_main(same_runs(), argv=[
            '--only', 'sizes', '--sizes', '10,1000,5000'])
        self.assertEqual(bench.EXIT_OK, status)
        self.run_taskwait.assert_not_called()
        with open(os.path.join(out, 'latest.json')) as f:
            self.assertNotIn('taskwait', json.load(f))


class PollScheduleTest(testtools.TestCase):

    def test_backoff_polls_within_a_wait(self):
        # Sleeps 10, 20, 40, 40 ms (capped): sums 10, 30, 70, 110 ms.
        def within(seconds):
            return bench_taskwait.backoff_polls_within(seconds, 0.01, 0.04)
        self.assertEqual(1, within(0.0))
        self.assertEqual(1, within(0.0099))
        self.assertEqual(2, within(0.01))
        self.assertEqual(3, within(0.069))
        self.assertEqual(4, within(0.07))
        self.assertEqual(4, within(0.109))
        self.assertEqual(5, within(0.11))
        self.assertEqual(6, within(0.15))

    def test_backoff_polls_to_see_a_task(self):
        def to_see(delay):
            return bench_taskwait.backoff_polls_to_see(delay, 0.01, 1.0)
        self.assertEqual(1, to_see(0.0))
        self.assertEqual(2, to_see(0.01))
        self.assertEqual(4, to_see(0.05))   # polls at 0, 10, 30, 70 ms
        self.assertEqual(6, to_see(0.3))    # ..., 150, 310 ms
        self.assertEqual(8, to_see(1.0))    # ..., 630, 1270 ms
        self.assertEqual(9, to_see(2.0))    # 2270 ms: the 8th sleep is capped

    def test_fixed_polls_to_see_a_task(self):
        self.assertEqual(1, bench_taskwait.fixed_polls_to_see(0.0, 2.0))
        self.assertEqual(2, bench_taskwait.fixed_polls_to_see(0.05, 2.0))
        self.assertEqual(2, bench_taskwait.fixed_polls_to_see(2.0, 2.0))
        self.assertEqual(3, bench_taskwait.fixed_polls_to_see(2.001, 2.0))

    def test_bad_schedules(self):
        self.assertRaises(ValueError, bench_taskwait.backoff_polls_within,
                          1.0, 0, 1.0)
        self.assertRaises(ValueError, bench_taskwait.fixed_polls_to_see,
                          1.0, 0)

    def test_schedule_text(self):
        self.assertEqual('back-off 10 ms -> 1 s',
                         bench_taskwait.schedule_text(OURS))
        self.assertEqual('every 2 s', bench_taskwait.schedule_text(OSLO))


class TaskWaitSummaryTest(testtools.TestCase):

    def test_sample_times_add_up(self):
        sample = wait(3, 0.06, start_seconds=0.004)
        self.assertAlmostEqual(0.064, sample['seconds'])
        self.assertEqual({'RetrievePropertiesEx': 3}, sample['calls'])
        self.assertEqual({}, bench_taskwait.wait_sample(
            {'RetrievePropertiesEx': 0}, 0, 0)['calls'])

    def test_rows_by_delay_then_waiter(self):
        rows = bench_taskwait.summarize(make_taskwait())
        self.assertEqual([(50, 'ours'), (50, 'oslo'), (300, 'ours'),
                          (300, 'oslo')],
                         [(r['delay_ms'], r['key']) for r in rows])

    def test_medians_and_overshoot(self):
        ours, oslo = bench_taskwait.summarize(make_taskwait(
            make_taskwait_run(50)))
        # waits 70, 80, 200 ms after a 5 ms start request
        self.assertAlmostEqual(0.085, ours['median_seconds'])
        self.assertAlmostEqual(0.08, ours['median_wait_seconds'])
        self.assertAlmostEqual(0.035, ours['median_overshoot_seconds'])
        self.assertEqual((0.025, 0.155), tuple(
            round(x, 6) for x in ours['overshoot_range']))
        self.assertEqual(4, ours['polls'])
        self.assertEqual((4, 5), ours['polls_range'])
        self.assertEqual(['RetrievePropertiesEx'], ours['methods'])
        self.assertEqual(4, ours['schedule_polls'])
        self.assertEqual('back-off 10 ms -> 1 s', ours['schedule'])
        self.assertAlmostEqual(2.035, oslo['median_seconds'])
        self.assertAlmostEqual(1.985, oslo['median_overshoot_seconds'])
        self.assertEqual((2, 3), oslo['polls_range'])
        self.assertEqual(2, oslo['schedule_polls'])

    def test_a_waiter_without_samples_is_left_out(self):
        run = make_taskwait_run(50)
        del run['samples']['oslo']
        rows = bench_taskwait.summarize(make_taskwait(run))
        self.assertEqual(['ours'], [r['key'] for r in rows])


class TaskWaitCheckTest(testtools.TestCase):

    def test_waits_within_the_schedule_pass(self):
        self.assertEqual([], bench_taskwait.problems(make_taskwait()))

    def test_more_polls_than_the_schedule_allows_fail(self):
        # 70 ms of waiting allow sleeps of 10, 20 and 40 ms: 4 polls.
        run = make_taskwait_run(50, ours=[wait(4, 0.07), wait(5, 0.07)])
        found = bench_taskwait.problems(make_taskwait(run))
        self.assertEqual(1, len(found), found)
        self.assertIn('at 50 ms task delay (repetition 2)', found[0])
        self.assertIn('5 polls in 70 ms', found[0])
        self.assertIn('at most 4', found[0])

    def test_other_methods_fail(self):
        calls = {'RetrievePropertiesEx': 2, 'Login': 1}
        run = make_taskwait_run(50, ours=[wait(0, 0.07, calls=calls)])
        found = bench_taskwait.problems(make_taskwait(run))
        self.assertEqual(1, len(found), found)
        self.assertIn('Login 1 besides RetrievePropertiesEx', found[0])

    def test_no_poll_fails(self):
        run = make_taskwait_run(50, ours=[wait(0, 0.07, calls={'x': 0})])
        found = bench_taskwait.problems(make_taskwait(run))
        self.assertEqual(['VCenterSession.wait_for_task at 50 ms task delay '
                          '(repetition 1): made no call'], found)

    def test_oslo_is_not_checked(self):
        run = make_taskwait_run(50, oslo=[wait(40, 0.01)])
        self.assertEqual([], bench_taskwait.problems(make_taskwait(run)))

    def test_problems_of_results_joins_both_parts(self):
        grown = dict(STEADY, RetrievePropertiesEx=2)
        runs = [make_run(10), make_run(1000, create=[grown] * 3)]
        bad = make_taskwait(make_taskwait_run(50, ours=[wait(9, 0.07)]))
        self.assertEqual(3, len(bench.problems_of({'runs': runs})))
        self.assertEqual(1, len(bench.problems_of({'runs': [],
                                                   'taskwait': bad})))
        self.assertEqual(4, len(bench.problems_of({'runs': runs,
                                                   'taskwait': bad})))
        self.assertEqual([], bench.problems_of(
            {'runs': same_runs(), 'taskwait': make_taskwait()}))


class TaskWaitReportTest(testtools.TestCase):

    def cells(self, text, start):
        line = [line for line in text.split('\n')
                if line.startswith(start)][0]
        return [c.strip() for c in line.strip('|').split('|')]

    def test_table(self):
        text = bench.taskwait_table(bench_taskwait.summarize(make_taskwait(
            make_taskwait_run(50))))
        GridTableTest('test_layout').assertWellFormed(text)
        lines = text.split('\n')
        self.assertEqual(['50', 'VCenterSession.wait_for_task', '4..5', '4',
                          '85.0', '35.0', '25.0..155'],
                         self.cells(text, '|         50 | VCenter'))
        oslo = [i for i, line in enumerate(lines) if 'oslo.vmware' in line]
        self.assertEqual(
            ['50', 'oslo.vmware VMwareAPISession.wait_for_task', '2..3', '2',
             '2035', '1985', '1965..3955'],
            [c.strip() for c in lines[oslo[0]].strip('|').split('|')])
        self.assertIn('(every 2 s)', lines[oslo[0] + 1])

    def test_report_section(self):
        text = bench.report({'repeat': 3, 'runs': same_runs(),
                             'taskwait': make_taskwait(),
                             'runtime_seconds': 30})
        self.assertIn('OK: the 3 driver operations', text)
        self.assertIn('-task-delay-ms D (3 repetitions each', text)
        self.assertIn('OK: VCenterSession.wait_for_task polled', text)
        self.assertIn("oslo.service's threading backend", text)
        self.assertIn('polled every 2 s', text)
        self.assertNotIn('FAILED', text)
        self.assertTrue(text.endswith('Total run time 30s (simulator build '
                                      'check 0.0s).'))

    def test_report_section_failed(self):
        bad = make_taskwait(make_taskwait_run(50, ours=[wait(9, 0.07)]))
        text = bench.report({'repeat': 3, 'runs': same_runs(),
                             'taskwait': bad})
        self.assertIn('FAILED: task waits polled more often', text)
        self.assertIn('- VCenterSession.wait_for_task at 50 ms', text)
        self.assertIn('OK: the 3 driver operations', text)

    def test_report_of_task_waits_only(self):
        text = bench.report({'repeat': 5, 'runs': [],
                             'taskwait': make_taskwait()})
        self.assertNotIn('Inventories', text)
        self.assertIn('Task waits', text)

    def test_report_is_restructuredtext(self):
        for runs, tables in ((same_runs(), 4), ([], 1)):
            text = bench.report({'repeat': 3, 'runs': runs,
                                 'taskwait': make_taskwait(),
                                 'runtime_seconds': 1})
            doc = docutils_core.publish_doctree(
                text, settings_overrides={'report_level': 2,
                                          'halt_level': 2})
            found = [node for node in doc.traverse()
                     if node.tagname == 'table']
            self.assertEqual(tables, len(found))
            rows = [node for node in found[-1].traverse()
                    if node.tagname == 'row']
            self.assertEqual(1 + 4, len(rows))  # heading + 2 delays x 2
        bad = make_taskwait(make_taskwait_run(50, ours=[wait(9, 0.07)] * 2))
        doc = docutils_core.publish_doctree(
            bench.report({'repeat': 3, 'runs': [], 'taskwait': bad}),
            settings_overrides={'report_level': 2, 'halt_level': 2})
        items = [node for node in doc.traverse()
                 if node.tagname == 'list_item']
        self.assertEqual(2, len(items))
