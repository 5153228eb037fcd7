"""Reads that meet an expired session again and again.

vCenter answers ``NotAuthenticated`` when the session ended (idle timeout,
a restart, another client terminating it); nothing was done, so a read
logs in again and starts over. One read may do that
``vcenter_api_retry_count`` times (at least once), as a SOAP call sends
a request again after an expiry. When the session expires once more, the
read is abandoned with :func:`keeps_expiring`'s reason: the caller gets an
error, never the objects read so far as if they were all.
"""


def relogins_allowed(options):
    """How many times one read logs in again after an expiry."""
    return max(1, int(options.get('vcenter_api_retry_count', 3)))


def keeps_expiring(method, target, expiries, options):
    """The reason of the error ending a read whose session keeps expiring.

    :param expiries: how many times the session expired in this read.
    """
    return ('the session keeps expiring: it expired %d times in one read '
            'of %s (NotAuthenticated on %s after logging in again each '
            'time); the read was abandoned and nothing of it was used. '
            'Something ends the sessions of this service faster than one '
            'read takes (another client terminating the sessions of this '
            'user, a session limit or timeout of vCenter): fix that, or '
            'raise vcenter_api_retry_count (now %d)'
            % (expiries, target, method,
               int(options.get('vcenter_api_retry_count', 3))))
