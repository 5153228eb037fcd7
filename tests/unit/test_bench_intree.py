"""The in-tree comparison's verdicts and table, on synthetic samples."""

from docutils import core as docutils_core
import testtools

from bench import intree_report as intree


def sample(calls, wall, received=1024, cpu=0.001, methods=None):
    return {'calls': calls, 'bytes': received, 'wall': wall, 'cpu': cpu,
            'methods': methods or {'RetrievePropertiesEx': calls}}


def results(**samples):
    """{'ours:create': [...], ...} from keyword pairs like create=(a, b)."""
    out = {}
    for key, (ours, theirs) in samples.items():
        out['ours:%s' % key] = ours
        out['intree:%s' % key] = theirs
    return {'repeat': 3, 'task_poll_interval': 0.01, 'seconds': 12.0,
            'load_average': [1.5, 2.5], 'samples': out}


class VerdictTest(testtools.TestCase):

    def test_equal_calls_must_not_be_slower(self):
        self.assertEqual('yes (<= 1.0)', intree.verdict(3, 3, 1.0))
        self.assertEqual('NO (<= 1.0)', intree.verdict(3, 3, 1.01))

    def test_fewer_calls_must_take_half(self):
        self.assertEqual('yes (<= 0.5)', intree.verdict(2, 5, 0.5))
        self.assertEqual('NO (<= 0.5)', intree.verdict(2, 5, 0.51))

    def test_more_calls_is_outside_the_goal(self):
        self.assertEqual('<= 1.0 (more calls)', intree.verdict(4, 3, 0.9))
        self.assertEqual('slower (more calls)', intree.verdict(4, 3, 1.2))

    def test_no_calls_on_either_side(self):
        self.assertEqual('n/a (no calls)', intree.verdict(0, 0, 150.0))


class RowsTest(testtools.TestCase):

    def test_medians_and_ratio(self):
        data = results(create=(
            [sample(3, 0.010), sample(3, 0.030), sample(3, 0.020)],
            [sample(9, 0.100), sample(9, 0.080), sample(9, 0.090)]))
        [row] = intree.rows(data)
        self.assertEqual('create', row['key'])
        self.assertEqual(3, row['ours']['calls'])
        self.assertEqual(9, row['intree']['calls'])
        self.assertAlmostEqual(0.020, row['ours']['wall'])
        self.assertAlmostEqual(0.090, row['intree']['wall'])
        self.assertAlmostEqual(0.2222, row['ratio'], places=4)
        self.assertEqual('yes (<= 0.5)', row['verdict'])

    def test_operation_measured_on_one_side_only_is_left_out(self):
        data = results(create=([sample(3, 0.01)], [sample(9, 0.1)]))
        data['samples']['ours:delete'] = [sample(3, 0.01)]
        self.assertEqual(['create'], [r['key'] for r in intree.rows(data)])

    def test_report_is_restructuredtext(self):
        data = results(
            create=([sample(3, 0.02)], [sample(9, 0.09)]),
            terminate=([sample(0, 0.00001, 0)], [sample(0, 0.0000001, 0)]),
            delete=([sample(4, 0.03)], [sample(3, 0.02)]))
        text = intree.report(data)
        doc = docutils_core.publish_doctree(
            text, settings_overrides={'report_level': 2, 'halt_level': 2})
        [table] = [n for n in doc.traverse() if n.tagname == 'table']
        rows = [n for n in table.traverse() if n.tagname == 'row']
        self.assertEqual(1 + 3, len(rows))  # heading + 3 operations
        self.assertIn('n/a (no calls)', text)
        self.assertIn('load average 1.5-2.5', text)
        self.assertIn('slower (more calls)', text)
