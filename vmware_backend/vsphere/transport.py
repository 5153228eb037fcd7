"""What went wrong on the wire: HTTP answers that are not SOAP, TLS.

oslo.vmware's transport hands every HTTP answer to suds as if it were a
SOAP reply (suds ignores the status code), so an HTML error page of a load
balancer or a starting vCenter (HTTP 500/503) reaches the caller as
"No such SOAP method X" (an ``AttributeError`` while unmarshalling) or a
parse error, not as a transport error. :func:`looks_like_soap` tells such
answers apart where they arrive (in :class:`.apisession.CheckedTransport`
and :mod:`.soaplogin`), which raise an :class:`HTTPStatusError` naming the
status; oslo.vmware turns it into a ``VimConnectionException``, like any
other ``requests`` error.

This module imports neither suds nor oslo.vmware: the login
(:mod:`.soaplogin`) uses it before they are loaded.

The helpers below classify an error by the exceptions it was caused by:
a TLS certificate verification failure (which no retry can heal), or a
connection that was never established (the request was not sent).
"""

import http
import re
import ssl

import requests
from urllib3 import exceptions as urllib3_exc

_SOAP_ENVELOPE = re.compile(rb'<(?:[\w.-]+:)?Envelope[\s>/]')
# OpenSSL verification codes (X509_V_ERR_*).
_HOSTNAME_MISMATCH = {62, 64}          # hostname, IP address mismatch
_EXPIRED = {9, 10}                     # not yet valid, has expired
_UNTRUSTED = {2, 18, 19, 20, 21, 27}   # no trusted issuer in the CA set


class HTTPStatusError(requests.HTTPError):
    """vCenter's address answered with something that is not SOAP."""

    def __init__(self, status, reason, content_type):
        self.status = status
        self.reason = reason
        self.content_type = content_type
        super().__init__('HTTP %s %s (%s, not a SOAP answer)'
                         % (status, reason or '', content_type or
                            'no content type'))


def looks_like_soap(content):
    """Whether an HTTP answer's body is a SOAP envelope."""
    return bool(_SOAP_ENVELOPE.search((content or b'')[:2048]))


def reason_phrase(status):
    """The HTTP reason phrase of ``status`` ('' when unknown)."""
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return ''


def causes(err):
    """``err`` and every exception it wraps.

    Followed: oslo.vmware's ``cause``, urllib3's ``reason``,
    ``__cause__``/``__context__`` and exceptions among ``args``.
    """
    seen = []
    todo = [err]
    while todo:
        exc = todo.pop(0)
        if not isinstance(exc, BaseException) or \
                any(exc is s for s in seen):
            continue
        seen.append(exc)
        todo.extend([getattr(exc, 'cause', None),
                     getattr(exc, 'reason', None),
                     exc.__cause__, exc.__context__])
        todo.extend(arg for arg in getattr(exc, 'args', ())
                    if isinstance(arg, BaseException))
    return seen


def http_status_error(err):
    """The :class:`HTTPStatusError` behind ``err``, or None."""
    for exc in causes(err):
        if isinstance(exc, HTTPStatusError):
            return exc
    return None


def never_sent(err):
    """Whether ``err`` is a failure to connect (the request never left)."""
    return any(isinstance(exc, (urllib3_exc.NewConnectionError,
                                urllib3_exc.ConnectTimeoutError,
                                requests.ConnectTimeout))
               for exc in causes(err))


def tls_verification_error(err):
    """The certificate verification error behind ``err``, or None."""
    for exc in causes(err):
        if isinstance(exc, ssl.SSLCertVerificationError):
            return exc
    return None


def tls_hint(verify_error, host, ca_file):
    """(what failed, how to fix it) for a verification error."""
    code = getattr(verify_error, 'verify_code', None)
    detail = getattr(verify_error, 'verify_message', None) or \
        str(verify_error)
    if code in _HOSTNAME_MISMATCH or 'mismatch' in detail.lower():
        return detail, (
            'the certificate is valid, but not for the name %s: set '
            'vcenter_host to a name the certificate carries (its subject '
            'alternative names), or have the certificate reissued for %s'
            % (host, host))
    if code in _EXPIRED:
        return detail, ("renew vCenter's certificate (or correct this "
                        "host's clock)")
    if code in _UNTRUSTED:
        if ca_file:
            return detail, ('the CA bundle in vcenter_ca_file (%s) did not '
                            "sign vCenter's certificate: set it to the CA "
                            'bundle that did' % ca_file)
        return detail, ("set vcenter_ca_file to the CA bundle that signed "
                        "vCenter's certificate")
    return detail, ("check vCenter's certificate and vcenter_ca_file")


def fault_name(err):
    """The vSphere fault (or exception) name of an oslo.vmware error."""
    faults = getattr(err, 'fault_list', None) or []
    if faults:
        return faults[0]
    name = type(err).__name__
    return name[:-len('Exception')] if name.endswith('Exception') else name


def fault_text(err):
    """The first line of an oslo.vmware error's message."""
    msg = getattr(err, 'msg', None) or str(err)
    return msg.splitlines()[0] if msg else fault_name(err)


def first_line(err):
    """The first line of ``str(err)``, or the exception's type name."""
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def connection_reason(err):
    """A one-line reason for a connection-class error.

    Names the HTTP status when an error page came back.
    """
    status = http_status_error(err)
    if status is not None:
        return str(status)
    text = fault_text(err)
    cause = getattr(err, 'cause', None)
    if cause is not None:
        text = '%s (%s)' % (text, first_line(cause))
    return text
