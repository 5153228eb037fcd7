"""Which request gets which fault: rules, a seeded plan, the record.

Pure and thread-safe; the proxy asks :meth:`FaultPlan.choose` once per
request and performs the fault it gets back. A request is named by
:func:`request_method`: a SOAP method by its name (``CreateVM_Task``), a
VI/JSON call as ``json:<method>`` and a disk transfer on an
``HttpNfcLease`` URL as ``nfc:<HTTP verb>``. A rule for ``*`` matches SOAP
methods only; ``json:*`` and ``nfc:*`` match every request of their kind.
"""

import collections
import random
import re
import threading
import time

# Faults the proxy performs on the HTTP exchange.
HTTP_KINDS = ('reset', 'drop_answer', 'http_500', 'http_503', 'slow',
              'not_authenticated')
# Faults the simulator performs on the task of the next matching *_Task.
TASK_KINDS = ('task_error_before', 'task_error_after', 'task_hang',
              'task_slow')
KINDS = HTTP_KINDS + TASK_KINDS
# Never faulted unless a rule names them: the login itself, and the call
# that precedes it.
DEFAULT_EXEMPT = frozenset(('Login', 'Logout', 'RetrieveServiceContent'))

_BODY_METHOD = re.compile(rb'<(?:[\w-]+:)?Body[^>]*>\s*<(?:[\w-]+:)?(\w+)')
# POST /sdk/vim25/{release}/{Type}/{moId}/{method} (a GET there reads a
# property: not faulted, as RetrieveServiceContent is not).
_JSON_CALL = re.compile(r'^/sdk/vim25/[^/]+/[^/]+/[^/]+/(\w+)$')
_NFC_PATH = '/nfc/'
JSON_PREFIX, NFC_PREFIX = 'json:', 'nfc:'

Injection = collections.namedtuple('Injection',
                                   'kind method time detail')


def soap_method(body):
    """The SOAP method named in a request body (bytes), or None."""
    match = _BODY_METHOD.search(body or b'')
    return match.group(1).decode() if match else None


def request_method(verb, path, body):
    """The name faults are chosen by (see the module), or None.

    :param verb: the HTTP method; :param path: the request path (with its
        query); :param body: the request body (bytes).
    """
    path = (path or '').split('?', 1)[0]
    if path.startswith(_NFC_PATH):
        return NFC_PREFIX + verb
    match = _JSON_CALL.match(path)
    if match:
        return JSON_PREFIX + match.group(1) if verb == 'POST' else None
    return soap_method(body) if body else None


def _prefix(method):
    for prefix in (JSON_PREFIX, NFC_PREFIX):
        if method.startswith(prefix):
            return prefix
    return ''


class Rule:
    """Inject ``kind`` into requests for ``method``.

    :param method: a request name (:func:`request_method`), ``*`` for
        any SOAP method (any ``*_Task`` method for task faults), ``json:*``
        for any VI/JSON call, ``nfc:*`` for any disk transfer request.
    :param probability: chance of injecting into each matching request.
    :param count: at most this many injections (None: no limit).
    """

    def __init__(self, kind, method='*', probability=1.0, count=None):
        if kind not in KINDS:
            raise ValueError('unknown fault kind %r (known: %s)'
                             % (kind, ', '.join(KINDS)))
        if not 0.0 <= probability <= 1.0:
            raise ValueError('probability %r is not within [0, 1]'
                             % probability)
        if count is not None and count < 0:
            raise ValueError('count %r is negative' % count)
        self.kind = kind
        self.method = method
        self.probability = probability
        self.count = count

    def __repr__(self):
        return 'Rule(%r, %r, p=%s, count=%s)' % (
            self.kind, self.method, self.probability, self.count)

    @property
    def is_task_fault(self):
        return self.kind in TASK_KINDS

    def matches(self, method, exempt=DEFAULT_EXEMPT):
        """Whether this rule applies to a request for ``method``."""
        if method is None or self.count == 0:
            return False
        if self.method == method:
            return not self.is_task_fault or method.endswith('_Task')
        prefix = _prefix(method)
        if self.method != prefix + '*' or \
                method[len(prefix):] in exempt:
            return False
        return not self.is_task_fault or method.endswith('_Task')


class FaultPlan:
    """Rules, a seeded generator and the record of what was injected.

    The first matching rule whose draw succeeds wins; a rule's count is
    decremented when it is chosen. Each matching rule draws exactly one
    number, so one seed and one sequence of methods always give the same
    faults.

    :param limit: stop injecting after this many faults (None: no limit).
    """

    def __init__(self, rules=(), seed=0, exempt=DEFAULT_EXEMPT, limit=None):
        self.rules = list(rules)
        self.seed = seed
        self.exempt = frozenset(exempt)
        self.limit = limit
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._enabled = True
        self.injected = []
        self.skipped = []

    def choose(self, method):
        """The rule to apply to a request for ``method``, or None."""
        with self._lock:
            if not self._enabled or (self.limit is not None and
                                     len(self.injected) >= self.limit):
                return None
            for rule in self.rules:
                if not rule.matches(method, self.exempt):
                    continue
                if self._random.random() < rule.probability:
                    if rule.count is not None:
                        rule.count -= 1
                    return rule
        return None

    def record(self, kind, method, detail=None):
        """Note one fault as really injected."""
        with self._lock:
            self.injected.append(Injection(kind, method, time.time(),
                                           detail))

    def record_skipped(self, kind, method, reason):
        """Note a chosen fault that could not be injected, and why."""
        with self._lock:
            self.skipped.append(Injection(kind, method, time.time(),
                                          reason))

    def pause(self):
        """Inject nothing until :meth:`resume`."""
        with self._lock:
            self._enabled = False

    def resume(self):
        with self._lock:
            self._enabled = True

    def counts(self):
        """Injected faults by kind (a Counter)."""
        with self._lock:
            return collections.Counter(i.kind for i in self.injected)

    def total(self):
        with self._lock:
            return len(self.injected)
