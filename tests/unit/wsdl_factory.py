"""A suds factory for the vSphere data types, with no server and no network.

Spec builders are tested against the real types, so a misspelt attribute or
a wrong type fails here rather than on vCenter.

The unit tests only need the data types, not the service description: this
module writes (once per process, in a temporary directory) a WSDL of its own
whose only content is a schema including oslo.vmware's installed vSphere 8.0
type schemas (``oslo_vmware/wsdl/8.0/vim-types.xsd``). Nothing is downloaded,
unlike the full test-bed WSDL (:mod:`vmware_backend.testbed.wsdl`), which the
functional tests need for the SOAP methods.
"""

import atexit
import functools
import os
import shutil
import tempfile

import oslo_vmware
from suds import client as suds_client

from tests import threading_backend  # noqa: F401

TYPES_VERSION = '8.0'

_TYPES_ONLY_WSDL = '''<?xml version="1.0" encoding="UTF-8"?>
<definitions targetNamespace="urn:vim25"
    xmlns="http://schemas.xmlsoap.org/wsdl/"
    xmlns:xsd="http://www.w3.org/2001/XMLSchema"
    xmlns:ns0="urn:vim25">
  <types>
    <schema targetNamespace="urn:vim25"
        xmlns="http://www.w3.org/2001/XMLSchema"
        elementFormDefault="qualified">
      <include schemaLocation="file://{types_dir}/vim-types.xsd"/>
    </schema>
  </types>
</definitions>
'''


def types_dir():
    """oslo.vmware's installed vSphere type schemas."""
    return os.path.join(os.path.dirname(oslo_vmware.__file__), 'wsdl',
                        TYPES_VERSION)


def write_types_wsdl(directory):
    """Write the types-only WSDL into ``directory``; return its path."""
    path = os.path.join(directory, 'vim-types-only.wsdl')
    with open(path, 'w') as out:
        out.write(_TYPES_ONLY_WSDL.format(types_dir=types_dir()))
    return path


@functools.lru_cache(maxsize=1)
def factory():
    """The suds factory of the vSphere types (built once per process)."""
    directory = tempfile.mkdtemp(prefix='vmware-backend-types-')
    atexit.register(shutil.rmtree, directory, True)
    client = suds_client.Client('file://' + write_types_wsdl(directory))
    return client.factory
