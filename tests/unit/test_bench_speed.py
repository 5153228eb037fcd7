"""The start-up and fan-out benchmark tables (bench/startup.py, fanout.py)."""

import testtools

from bench import fanout
from bench import startup


class StartupReportTest(testtools.TestCase):

    def test_medians_and_ratios_to_no_cache(self):
        def runs(*firsts):
            return [{'first': f, 'second': 0.1, 'sources': ['x', 'memory']}
                    for f in firsts]
        text = startup.report({'no cache': runs(2.0, 4.0, 3.0),
                               'first run': runs(6.0, 6.0, 6.0),
                               'warm': runs(0.3, 0.9, 0.2)})
        lines = text.splitlines()
        self.assertRegex(lines[2], r'^no cache\s+3\.000\s+1\.00\s')
        self.assertRegex(lines[3], r'^first run\s+6\.000\s+2\.00\s')
        self.assertRegex(lines[4], r'^warm\s+0\.300\s+0\.10\s')


class FanoutReportTest(testtools.TestCase):

    def test_ratios_to_slowest_and_serial(self):
        results = {'pools': {'single': [[1.0, 2.0], [1.0, 3.0], [1.0, 2.0]],
                             'all': [2.5, 2.0, 9.0]}}
        line = fanout.report(results, 2).splitlines()[2]
        # slowest median 2.0, serial median 3.0, all median 2.5
        self.assertEqual(['pools', '2.000', '3.000', '2.500', '1.25',
                          '0.83'], line.split())
