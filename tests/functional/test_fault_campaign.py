"""The short, seeded fault campaign (``--quick``), as CI runs it.

Reads over SOAP, and reads over VI/JSON with the VI/JSON calls faulted too.

It fails while the campaign finds an invariant violated: the figures table
printed with the failure says which.
"""

import os
import subprocess
import sys

import testtools

TIMEOUT = 600


class QuickCampaignTest(testtools.TestCase):

    def campaign(self, *args):
        proc = subprocess.run(
            [sys.executable, '-m', 'vmware_backend.testbed.faults',
             '--quick'] + list(args),
            capture_output=True, text=True, timeout=TIMEOUT,
            env=dict(os.environ, PYTHONWARNINGS='ignore'))
        table = proc.stdout
        self.addDetail('figures', testtools.content.text_content(table))
        self.assertIn('FAULT CAMPAIGN', table, proc.stderr[-3000:])
        self.assertIn('RESULT: ', table)
        self.assertEqual('RESULT: FAIL' in table, proc.returncode == 1)
        self.assertEqual(0, proc.returncode, 'invariants violated:\n' + table)
        return table

    def test_quick_campaign(self):
        table = self.campaign('--seed', '1')
        # the data operations ran (their disk transfers passed the proxy)
        self.assertRegex(table, r'requests \(faults\): soap \d+ \(\d+\), '
                                r'nfc [1-9]')
        # imports ran, and the VMs of nobody were checked
        self.assertRegex(table, r'\nmanage +[1-9]')
        self.assertRegex(table, r'\nforeign VMs not as left +0 +0 +0\n')

    def test_quick_campaign_reading_over_vijson(self):
        table = self.campaign('--seed', '2', '--read-transport', 'json',
                              '--no-concurrency')
        self.assertIn('reads over json', table)
        self.assertRegex(table, r'json [1-9]\d* \(\d+\)')
