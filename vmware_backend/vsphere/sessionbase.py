"""What both kinds of vCenter session share.

:class:`~.session.VCenterSession` (SOAP, oslo.vmware) and
:class:`~.json.session.JSONSession` (VI/JSON, the operator's reads) keep
the same options, name the same endpoint, count their requests per method
name, run close hooks and mask the same secret in logs. This base holds
that once, and ``close`` (hooks, the session's own :meth:`_end`, then the
secret forgotten); each session keeps its own transport and the rest.
"""

import collections
import threading

from vmware_backend.vsphere import secrets


def sdk_url(options):
    """The vCenter endpoint (``scheme://host:port/sdk``) of ``options``."""
    return '%s://%s:%s/sdk' % (options['vcenter_scheme'],
                               options['vcenter_host'],
                               options['vcenter_port'])


class SessionBase:
    """Options, URL, request counter, close hooks and the masked secret.

    :param options: dict of option values as returned by
        :func:`vmware_backend.conf.read_options`.
    """

    def __init__(self, options):
        self._options = dict(options)
        self._count_lock = threading.Lock()
        self.request_counts = collections.Counter()
        self._close_hooks = []
        self._secret = (options.get('vcenter_password'),
                        options.get('vcenter_username'))
        secrets.register(*self._secret)

    @property
    def url(self):
        """The endpoint this session talks to."""
        return sdk_url(self._options)

    @property
    def options(self):
        return dict(self._options)

    def __repr__(self):
        return '<%s %s user=%s>' % (
            type(self).__name__, self.url,
            self._options.get('vcenter_username'))

    def total_requests(self):
        """Number of requests sent so far."""
        with self._count_lock:
            return sum(self.request_counts.values())

    def counts_snapshot(self):
        """A copy of the per-method request counter."""
        with self._count_lock:
            return collections.Counter(self.request_counts)

    def count_request(self, method):
        """Count a request (also one sent by another transport)."""
        with self._count_lock:
            self.request_counts[method] += 1

    def add_close_hook(self, hook):
        """Call ``hook()`` when the session is closed (before logout)."""
        self._close_hooks.append(hook)

    def forget_secret(self):
        """Stop masking this session's password in log records."""
        if self._secret is not None:
            secrets.unregister(*self._secret)
            self._secret = None

    def close(self):
        """Close hooks, then :meth:`_end`; stops masking the secret."""
        try:
            hooks, self._close_hooks = self._close_hooks, []
            for hook in hooks:
                hook()
            self._end()
        finally:
            self.forget_secret()

    def _end(self):
        """Log out: each session's own way."""
        raise NotImplementedError
