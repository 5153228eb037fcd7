"""The short, seeded fault campaign (``--quick``), as CI runs it.

It fails while the campaign finds an invariant violated: the figures table
printed with the failure says which.
"""

import os
import subprocess
import sys

import testtools

TIMEOUT = 600


class QuickCampaignTest(testtools.TestCase):

    def test_quick_campaign(self):
        proc = subprocess.run(
            [sys.executable, '-m', 'vmware_backend.testbed.faults',
             '--quick', '--seed', '1'],
            capture_output=True, text=True, timeout=TIMEOUT,
            env=dict(os.environ, PYTHONWARNINGS='ignore'))
        table = proc.stdout
        self.addDetail('figures', testtools.content.text_content(table))
        self.assertIn('FAULT CAMPAIGN', table, proc.stderr[-3000:])
        self.assertIn('RESULT: ', table)
        self.assertEqual('RESULT: FAIL' in table, proc.returncode == 1)
        self.assertEqual(0, proc.returncode, 'invariants violated:\n' + table)
