"""The benchmark's report and count check, on synthetic measurements."""

import io
import json
import os
from unittest import mock

import fixtures
import testtools

from vmware_backend import bench

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
        args = bench.parse_args([])
        self.assertEqual(list(bench.DEFAULT_SIZES), args.sizes)
        self.assertEqual(5, args.repeat)
        self.assertEqual('bench-results', args.output)

    def test_quick(self):
        self.assertEqual([10, 1000], bench.parse_args(['--quick']).sizes)

    def test_usage_errors(self):
        self.useFixture(mock_stderr())
        for argv in (['--quick', '--sizes', '10'], ['--repeat', '0'],
                     ['--sizes', 'x']):
            err = self.assertRaises(SystemExit, bench.parse_args, argv)
            self.assertEqual(2, err.code)


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

    def run_main(self, runs):
        out = self.useFixture(fixtures.TempDir()).path
        self.useFixture(mock_stderr())
        by_size = {run['size']: run for run in runs}
        sizes = ','.join(str(size) for size in by_size)
        with mock.patch('vmware_backend.bench_run.run_size',
                        side_effect=lambda size, *a, **k: by_size[size]), \
                mock.patch('vmware_backend.bench_run.prepare',
                           return_value=0.5), \
                mock.patch('builtins.print'):
            status = bench.main(['--sizes', sizes, '--repeat', '3',
                                 '--output', out])
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
