"""Fault injection for the test bed: a proxy and a campaign.

``proxy`` puts a fault-injecting HTTP proxy in front of the simulator's
``/sdk``; ``campaign`` drives the volume driver through it and checks what
the simulator holds afterwards (``python -m vmware_backend.testbed.faults``).
"""
