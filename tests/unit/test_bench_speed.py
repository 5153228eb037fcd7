"""The start-up and fan-out benchmark tables (bench/startup.py, fanout.py)."""

import testtools

from bench import fanout
from bench import startup


class StartupReportTest(testtools.TestCase):

    def test_medians_and_ratios_to_no_cache(self):
        def runs(*firsts):
            return [{'first': f, 'second': 0.1, 'first_cpu': f / 2,
                     'process': f + 1, 'sources': ['x', 'memory']}
                    for f in firsts]
        text = startup.report({'no cache': runs(2.0, 4.0, 3.0),
                               'first run': runs(6.0, 6.0, 6.0),
                               'warm': runs(0.3, 0.9, 0.2)})
        lines = text.splitlines()
        # first s, ratio, CPU s, ratio, process s, second s, source
        self.assertEqual(['no', 'cache', '3.000', '1.00', '1.500', '1.00',
                          '4.000', '0.100', 'x'], lines[2].split())
        self.assertEqual(['first', 'run', '6.000', '2.00', '3.000', '2.00',
                          '7.000', '0.100', 'x'], lines[3].split())
        self.assertEqual(['warm', '0.300', '0.10', '0.150', '0.10',
                          '1.300', '0.100', 'x'], lines[4].split())


class FanoutReportTest(testtools.TestCase):

    def test_ratios_to_slowest_and_serial(self):
        results = {'pools': {'single': [[1.0, 2.0], [1.0, 3.0], [1.0, 2.0]],
                             'all': [2.5, 2.0, 9.0]}}
        line = fanout.report(results, 2).splitlines()[2]
        # slowest median 2.0, serial median 3.0, all median 2.5
        self.assertEqual(['pools', '2.000', '3.000', '2.500', '1.25',
                          '0.83'], line.split())
