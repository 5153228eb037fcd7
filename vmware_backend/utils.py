"""Small helpers shared by the package's entry points."""

import warnings


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
