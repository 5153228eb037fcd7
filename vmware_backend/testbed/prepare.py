"""Build the simulator and assemble the WSDL ahead of the tests.

``python -m vmware_backend.testbed.prepare`` does once, with its output
visible, what the functional tests would otherwise do silently inside the
first test (and then inside its time limit).
"""

import sys
import time

from vmware_backend.testbed import vcsim
from vmware_backend.testbed import wsdl


def main():
    start = time.monotonic()
    print('vcsim binary: %s' % vcsim.build())
    print('vSphere WSDL: %s' % wsdl.assemble())
    print('test bed ready in %.1fs' % (time.monotonic() - start))
    return 0


if __name__ == '__main__':
    sys.exit(main())
