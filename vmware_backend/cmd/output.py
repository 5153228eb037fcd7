"""Exit statuses, usage errors and the output of the operator commands.

:class:`Output` writes results to stdout (a table or JSON) and progress to
stderr, and scrubs every secret it was told about from both.
"""

import sys

from vmware_backend.cmd import formatting

EXIT_OK = 0
EXIT_PROBLEM = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class UsageError(Exception):
    """Bad arguments or configuration (exit status 2)."""


class Output:
    """Writes results (stdout) and progress (stderr), never the password.

    :param fmt: ``table`` or ``json``.
    """

    def __init__(self, fmt='table', stdout=None, stderr=None, secret=None,
                 verbose=False):
        self.format = fmt
        self.verbose = verbose
        self._stdout = stdout or sys.stdout
        self._stderr = stderr or sys.stderr
        self._secrets = [secret] if secret else []

    def add_secret(self, secret):
        if secret:
            self._secrets.append(secret)

    def _scrub(self, text):
        for secret in self._secrets:
            text = text.replace(secret, '***')
        return text

    def result(self, data, render):
        """Print ``data`` as JSON or as ``render(data)``."""
        text = formatting.dumps(data) if self.format == 'json' else \
            render(data)
        self._stdout.write(self._scrub(text) + '\n')
        self._stdout.flush()

    def progress(self, text):
        self._stderr.write(self._scrub(text) + '\n')
        self._stderr.flush()

    def error(self, text, hint=None):
        self.progress('error: %s' % text)
        if hint:
            self.progress('hint: %s' % hint)
