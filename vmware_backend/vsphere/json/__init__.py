"""VI/JSON: the vSphere Web Services API over JSON (vCenter 8.0 U1+).

``codec`` (JSON <-> the plain values :mod:`..inventory` returns),
``schema`` (which fields are dates), ``client`` (aiohttp connection:
release negotiation, login with the ``vmware-api-session-id`` header,
method calls and property reads, faults), ``reader`` (paged inventory reads
with a ContainerView) and ``select`` (whether a session's reads go over
VI/JSON or SOAP).
"""
