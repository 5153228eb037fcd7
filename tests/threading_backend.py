"""Select oslo.service's threading backend before oslo.vmware loads.

oslo.vmware uses oslo.service looping calls; outside Cinder (which runs on
eventlet) the tests and the operator commands use native threads.
"""

from vmware_backend import utils

utils.use_threading_backend()
