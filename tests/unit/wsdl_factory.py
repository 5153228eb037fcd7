"""A suds factory built from the assembled vSphere WSDL, with no server.

Spec builders are tested against the real types, so a misspelt attribute or
a wrong type fails here rather than on vCenter.
"""

import functools

from suds import client as suds_client

from tests import threading_backend  # noqa: F401
from vmware_backend.testbed import wsdl


@functools.lru_cache(maxsize=1)
def factory():
    client = suds_client.Client('file://' + wsdl.assemble())
    return client.factory
