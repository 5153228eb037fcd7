"""The operator command's own process keeps eventlet out (a subprocess)."""

import os
import subprocess
import sys

import testtools

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))

PROBE = '''
import sys
from vmware_backend.cmd import manage
manage.utils.skip_eventlet()
manage.utils.use_threading_backend()
from vmware_backend.vsphere import session   # oslo.vmware, futurist...
from oslo_concurrency import lockutils
lockutils.internal_lock('probe')
print(sys.modules['eventlet'] is None,
      any(name.startswith('eventlet.') for name in sys.modules))
'''


class CliProcessTest(testtools.TestCase):

    def run_python(self, code, *args):
        env = dict(os.environ, PYTHONPATH=REPO)
        return subprocess.run([sys.executable, '-c', code] + list(args),
                              capture_output=True, text=True, env=env,
                              cwd=REPO, timeout=300)

    def test_eventlet_kept_out_and_the_stack_still_loads(self):
        proc = self.run_python(PROBE)
        self.assertEqual(0, proc.returncode, proc.stderr)
        self.assertEqual('True False', proc.stdout.strip())

    def test_entry_point_runs_main(self):
        proc = subprocess.run(
            [sys.executable, '-m', 'vmware_backend.cmd.manage', '--help'],
            capture_output=True, text=True, cwd=REPO, timeout=300,
            env=dict(os.environ, PYTHONPATH=REPO))
        self.assertEqual(0, proc.returncode, proc.stderr)
        self.assertIn('cinder.conf', proc.stdout)

    def test_loaded_eventlet_is_left_alone(self):
        proc = self.run_python(
            'import eventlet, sys\n'
            'from vmware_backend import utils\n'
            'print(utils.skip_eventlet(), sys.modules["eventlet"] is None)')
        self.assertEqual(0, proc.returncode, proc.stderr)
        self.assertEqual('False False', proc.stdout.strip())
