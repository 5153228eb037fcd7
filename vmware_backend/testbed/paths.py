"""Where the test bed keeps what it builds."""

import os


def cache_dir():
    """Cache directory: $VMWARE_BACKEND_CACHE or ~/.cache/vmware_backend."""
    path = os.environ.get('VMWARE_BACKEND_CACHE') or os.path.join(
        os.path.expanduser('~'), '.cache', 'vmware_backend')
    path = os.path.abspath(path)
    os.makedirs(path, exist_ok=True)
    return path


def vcsim_source_dir():
    """The Go sources of the project's vcsim main."""
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), 'vcsim')
