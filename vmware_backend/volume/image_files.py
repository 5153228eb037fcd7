"""Local image files: temporary space, ``qemu-img`` inspection and conversion.

Images that are not streamOptimized VMDKs are converted on the
cinder-volume host with ``qemu-img`` (Debian ``qemu-utils``): the source
format is always named explicitly (``-f``), never guessed, so a raw image
that happens to look like a qcow2 header is not interpreted as one. Before
anything is written the free space of the work directory is checked; every
temporary file lives in a private directory removed on every path
(:func:`work_dir`).
"""

import contextlib
import json
import os
import shutil
import subprocess
import tempfile

from oslo_log import log as logging

from vmware_backend import exceptions

LOG = logging.getLogger(__name__)

QEMU_IMG = 'qemu-img'
# Glance disk_format / vmware_disktype -> qemu-img's source format.
QEMU_FORMATS = {'raw': 'raw', 'qcow2': 'qcow2', 'vmdk': 'vmdk'}
# Room kept free on the work directory's file system, bytes.
SPARE_BYTES = 64 * 1024 * 1024


@contextlib.contextmanager
def work_dir(base, target):
    """A private temporary directory under ``base``, removed on exit."""
    base = base or tempfile.gettempdir()
    if not os.path.isdir(base):
        raise exceptions.InvalidConfiguration(
            group='backend', option='vcenter_image_tmp_dir',
            reason='%r is not a directory' % base)
    path = tempfile.mkdtemp(prefix='vmware-backend-image-', dir=base)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
        LOG.debug('Removed the temporary files of %s (%s).', target, path)


def check_space(path, needed, target):
    """Refuse when the file system of ``path`` has < ``needed`` bytes free.

    :raises exceptions.ImageTransferError: naming both numbers and the
        directory to clean or the option to change.
    """
    where = path if os.path.isdir(path) else os.path.dirname(path)
    free = shutil.disk_usage(where).free
    if free < needed + SPARE_BYTES:
        raise exceptions.ImageTransferError(
            target=target,
            reason='not enough space in %s for the conversion: %d bytes '
                   'needed (+%d spare), %d free; free some space or point '
                   'vcenter_image_tmp_dir at a larger file system'
                   % (os.path.dirname(path) or path, needed, SPARE_BYTES,
                      free))
    return free


def _run(args, target):
    try:
        result = subprocess.run([QEMU_IMG] + args, capture_output=True,
                                text=True, check=False)
    except FileNotFoundError:
        raise exceptions.ImageTransferError(
            target=target, reason='qemu-img is not installed on this host '
                                  '(Debian/Ubuntu: apt-get install '
                                  'qemu-utils)')
    if result.returncode != 0:
        raise exceptions.ImageTransferError(
            target=target, reason='qemu-img %s failed: %s'
            % (args[0], (result.stderr or result.stdout).strip()[:500]))
    return result.stdout


def info(path, fmt, target):
    """``qemu-img info`` of ``path`` read as ``fmt``.

    A dict with ``virtual-size``, ``format`` and, for vmdk,
    ``format-specific``.
    """
    return json.loads(_run(['info', '--output=json', '-f', fmt, path],
                           target))


def vmdk_create_type(details):
    """The ``create-type`` of a vmdk's ``qemu-img info`` (or None)."""
    data = (details.get('format-specific') or {}).get('data') or {}
    return data.get('create-type')


def convert(src, src_fmt, dst, dst_fmt, target, adapter=None):
    """``qemu-img convert`` ``src`` (read as ``src_fmt``) to ``dst``.

    ``dst_fmt`` 'streamOptimized' makes a streamOptimized VMDK (with the
    given ``ddb.adapterType``); otherwise a qemu-img format name.
    """
    args = ['convert', '-f', src_fmt]
    if dst_fmt == 'streamOptimized':
        options = 'subformat=streamOptimized'
        if adapter:
            options += ',adapter_type=%s' % adapter
        args += ['-O', 'vmdk', '-o', options]
    else:
        args += ['-O', dst_fmt]
    _run(args + [src, dst], target)


def file_chunks(path, size=1024 * 1024):
    """The bytes of ``path`` in chunks."""
    with open(path, 'rb') as f:
        while True:
            data = f.read(size)
            if not data:
                return
            yield data


# qemu-img's adapter_type names for the VMDK descriptor, by our adapter type.
QEMU_ADAPTERS = {'lsiLogic': 'lsilogic', 'busLogic': 'buslogic',
                 'lsiLogicsas': 'lsilogic', 'paraVirtual': 'lsilogic',
                 'ide': 'ide'}
