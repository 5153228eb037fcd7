"""Keeping registered secrets (the vCenter password) out of every log record.

A :class:`logging.Filter` only sees the records of the logger it is added
to, not those its child loggers propagate, and a level cap set on suds'
loggers at start-up is undone by any log configuration applied later
(SIGHUP, ``log_config_append``). So the masking happens where every record
is born: :func:`register` installs, once per process, a
:func:`logging.setLogRecordFactory` wrapper that chains the factory found
in place and replaces each registered secret in the record's message,
arguments and traceback text, in the forms it can take on the way to
vCenter: raw, XML-escaped (the SOAP body), JSON-escaped (the VI/JSON
body), URL-encoded and base64.

Whatever handlers, levels and filters the log configuration sets later,
a record that exists has already been masked.
"""

import base64
import collections
import json
import logging
import threading
import traceback
from urllib import parse
from xml.sax import saxutils

MASK = '***'

_lock = threading.Lock()
_secrets = collections.Counter()
# Every form of every registered secret, longest first (a form may contain
# a shorter one); replaced as a whole tuple so readers need no lock.
_forms = ()
_installed = {}


def forms_of(secret, username=None):
    """The texts ``secret`` may appear as in a log line.

    With ``username``, also the base64 of ``username:secret`` (HTTP basic
    authentication).
    """
    if not secret:
        return set()
    raw = secret.encode('utf-8')
    basic = ('%s:%s' % (username, secret)).encode('utf-8') if username \
        else b''
    return {form for form in (
        secret,
        saxutils.escape(secret),
        saxutils.escape(secret, {'"': '&quot;', "'": '&apos;'}),
        parse.quote(secret, safe=''),
        parse.quote_plus(secret, safe=''),
        base64.b64encode(raw).decode('ascii'),
        base64.urlsafe_b64encode(raw).decode('ascii'),
        base64.b64encode(basic).decode('ascii'),
        # a JSON string's content (the VI/JSON Login body)
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
    ) if form}


def register(secret, username=None):
    """Mask ``secret`` in every log record from now on (counted)."""
    if not secret:
        return
    with _lock:
        _secrets[(secret, username)] += 1
        _refresh()
        if not _installed:
            previous = logging.getLogRecordFactory()
            _installed['previous'] = previous
            logging.setLogRecordFactory(_masking_factory(previous))


def unregister(secret, username=None):
    """Undo one :func:`register` of ``secret``."""
    if not secret:
        return
    with _lock:
        key = (secret, username)
        _secrets[key] -= 1
        if _secrets[key] <= 0:
            del _secrets[key]
        _refresh()


def _refresh():
    global _forms
    found = set()
    for secret, username in _secrets:
        found |= forms_of(secret, username)
    _forms = tuple(sorted(found, key=len, reverse=True))


def mask(text):
    """``text`` with every form of every registered secret replaced."""
    for form in _forms:
        if form in text:
            text = text.replace(form, MASK)
    return text


def _contains_secret(text):
    return any(form in text for form in _forms)


def _masking_factory(previous):
    def factory(*args, **kwargs):
        record = previous(*args, **kwargs)
        if _forms:
            _mask_record(record)
        return record
    return factory


def _mask_record(record):
    try:
        text = record.getMessage()
    except Exception:
        # A record whose arguments do not fit its format: the handler's
        # error report prints both, so mask each one on its own.
        record.msg = mask(str(record.msg))
        if isinstance(record.args, tuple):
            record.args = tuple(mask(str(arg)) for arg in record.args)
        elif record.args:
            record.args = (mask(str(record.args)),)
    else:
        if _contains_secret(text):
            record.msg = mask(text)
            record.args = None
    if record.exc_info and record.exc_info[0] is not None:
        tb_text = ''.join(traceback.format_exception(*record.exc_info))
        if _contains_secret(tb_text):
            # Formatters re-format exc_info; keep only the masked text.
            record.exc_text = mask(tb_text.rstrip('\n'))
            record.exc_info = None
    if record.stack_info and _contains_secret(record.stack_info):
        record.stack_info = mask(record.stack_info)
