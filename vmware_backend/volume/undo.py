"""Undoing the steps of a multi-step change when a later step fails."""

from oslo_log import log as logging

LOG = logging.getLogger(__name__)


class Undo:
    """Runs the registered undo steps, last first, when its block fails."""

    def __init__(self, what):
        self._what = what
        self._steps = []

    def push(self, description, step):
        """Register ``step()`` (described for the log) to undo last."""
        self._steps.append((description, step))

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            return False
        for description, step in reversed(self._steps):
            try:
                step()
            except Exception:
                LOG.exception('A change of %s failed and could not be undone: '
                              '%s failed; do it by hand.', self._what,
                              description)
        return False
