"""Benchmarks of vmware_backend against the embedded vCenter simulator.

Outside the runtime package: ``python -m bench`` (``tox -e bench``).
"""
