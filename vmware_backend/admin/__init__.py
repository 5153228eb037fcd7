"""Administration: health checks, listings, audit and the demo.

Library functions with plain results; ``vmware_backend.cmd`` renders them.
"""
