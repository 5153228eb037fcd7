"""What the checks under tools/openstack/ share about the test stack.

Imported by name (the scripts run as ``python tools/openstack/x.py``, so
this folder is first on ``sys.path``).
"""

import json
import os
import subprocess
import time

from keystoneauth1 import identity
from keystoneauth1 import session as ks_session


def keystone_session():
    """A keystoneauth session with the admin credentials of ``OS_*``."""
    auth = identity.Password(
        auth_url=os.environ['OS_AUTH_URL'],
        username=os.environ['OS_USERNAME'],
        password=os.environ['OS_PASSWORD'],
        project_name=os.environ['OS_PROJECT_NAME'],
        user_domain_name='Default', project_domain_name='Default')
    return ks_session.Session(auth=auth)


def volumes_report(conf):
    """The backends of ``vmware-backend-manage --format json volumes``."""
    out = subprocess.run(
        ['vmware-backend-manage', '--config-file', conf, '--format', 'json',
         'volumes'], check=True, capture_output=True, text=True).stdout
    return json.loads(out)['backends']


def poll(predicate, timeout, interval=2):
    """``predicate()``'s first true value within ``timeout`` s, else None."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return None
