"""The password check: every log line and error text, scanned.

:class:`PasswordWatch` sets the root logger and every ``suds*`` and
``oslo_vmware*`` logger to a level (DEBUG for the password phase; call
:meth:`PasswordWatch.force_level` again after a login: the session caps
suds' loggers at INFO), formats every record and scans it, and scans any
other text it is handed (exception texts and reprs, connection_info dicts)
for the password in raw, XML-escaped, URL-encoded and base64 forms.
"""

import base64
import logging
import traceback
import urllib.parse
from xml.sax import saxutils

PREFIXES = ('suds', 'oslo_vmware')


def forms(password, username=None):
    """The spellings of ``password`` that would reveal it."""
    found = {password, saxutils.escape(password),
             saxutils.escape(password, {'"': '&quot;', "'": '&apos;'}),
             urllib.parse.quote(password, safe=''),
             urllib.parse.quote_plus(password),
             base64.b64encode(password.encode()).decode()}
    if username:
        found.add(base64.b64encode(
            ('%s:%s' % (username, password)).encode()).decode())
    return sorted(found, key=len, reverse=True)


class PasswordWatch(logging.Handler):
    """Scans everything logged (and whatever :meth:`scan` gets).

    :param keep: how many example hits to keep (with 80 characters around).
    """

    def __init__(self, password, username=None, keep=5):
        super().__init__(level=logging.DEBUG)
        self.setFormatter(logging.Formatter(
            '%(levelname)s %(name)s %(message)s'))
        self._forms = forms(password, username)
        self.hits = 0
        self.scanned = 0
        self.examples = []
        self._keep = keep
        self._saved = []

    def force_level(self, level=logging.DEBUG):
        """Root and every suds*/oslo_vmware* logger (existing now) at level."""
        names = [n for n in list(logging.root.manager.loggerDict)
                 if n.startswith(PREFIXES)]
        for name in [None] + names + list(PREFIXES):
            logging.getLogger(name).setLevel(level)

    def install(self, level=logging.DEBUG):
        """Attach to the root logger and set ``level``."""
        root = logging.getLogger()
        self._saved = [(root, root.level)]
        root.addHandler(self)
        self.force_level(level)
        return self

    def uninstall(self):
        logging.getLogger().removeHandler(self)
        for logger, level in self._saved:
            logger.setLevel(level)

    def emit(self, record):
        try:
            text = self.format(record)
        except Exception as err:  # a record that cannot format is text too
            text = 'unformattable record %r: %r' % (record.msg, err)
        self.scan(text, 'log %s' % record.name)

    def scan(self, text, where):
        """Count the password forms found in ``text``."""
        self.scanned += 1
        for form in self._forms:
            at = text.find(form)
            if at >= 0:
                self.hits += 1
                if len(self.examples) < self._keep:
                    self.examples.append('%s: ...%s...' % (
                        where, text[max(0, at - 40):at + 40]))
                return

    def scan_exception(self, exc):
        """Scan an exception's text, repr and formatted traceback."""
        self.scan(str(exc), 'str(%s)' % type(exc).__name__)
        self.scan(repr(exc), 'repr(%s)' % type(exc).__name__)
        self.scan(''.join(traceback.format_exception(
            type(exc), exc, exc.__traceback__)), 'traceback')
