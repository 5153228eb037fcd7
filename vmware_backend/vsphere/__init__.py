"""vSphere I/O: the session, inventory reads, spec builders, actions.

``session`` is the only module that knows suds and oslo.vmware's session;
``inventory`` reads sets of objects through ContainerViews, paged;
``specs`` builds vSphere data objects without I/O; ``ops`` has one method
per vCenter action on backings.
"""
