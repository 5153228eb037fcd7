"""Adapters plugging the backend into OpenStack services.

Only the modules of this package import OpenStack services (Cinder); the rest
of ``vmware_backend`` stays importable without them.
"""
