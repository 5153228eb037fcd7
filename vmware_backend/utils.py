"""Small helpers shared by the package's entry points."""

import sys
import warnings


def skip_eventlet():
    """Make ``import eventlet`` fail in this process, unless it is loaded.

    For the operator command's own process only (it runs on native
    threads): futurist, oslo.concurrency and oslo.log import eventlet only
    when it is there, and loading it (with its DNS resolver) was about a
    third of the command's imports. Never call this where a library may
    need eventlet later (Cinder, test runners).

    :returns: whether eventlet is now kept out.
    """
    if 'eventlet' in sys.modules:
        return sys.modules['eventlet'] is None
    sys.modules['eventlet'] = None
    return True


def use_threading_backend():
    """Make oslo.service use native threads unless a backend is chosen.

    Cinder selects its backend itself; the operator commands and tests run
    without eventlet and call this before oslo.vmware loads.
    """
    from oslo_service import backend
    from oslo_service.backend import exceptions as backend_exc

    with warnings.catch_warnings():
        warnings.simplefilter('ignore', DeprecationWarning)
        try:
            backend.init_backend(backend.BackendType.THREADING)
        except backend_exc.BackendAlreadySelected:
            pass
