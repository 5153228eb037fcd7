"""``python -m vmware_backend.testbed.faults``: the fault campaign."""

import sys

from vmware_backend.testbed.faults import runner

sys.exit(runner.main())
