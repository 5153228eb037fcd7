"""The vCenter session: the one place that knows suds and oslo.vmware.

:class:`VCenterSession` wraps :class:`oslo_vmware.api.VMwareAPISession` with
what the backend needs on top of it:

* a lazy, bounded login whose errors name the server and the user (never the
  password);
* a counter of the SOAP requests really sent, per method name, fed by a suds
  plugin on the request path (benchmarks and the demo report it);
* task waits that notice completion within milliseconds and give up after a
  deadline, instead of oslo.vmware's fixed poll interval;
* a timeout on every HTTP request;
* translation of vSphere faults into :class:`exceptions.VCenterFault`, which
  names the fault, the action and the object.
"""

import collections
import logging
import os
import re
import threading
import time
from xml.sax import saxutils

from oslo_log import log as oslo_logging
from oslo_vmware import api as vmware_api
from oslo_vmware import exceptions as vexc
from oslo_vmware import vim_util
from suds import plugin as suds_plugin

from vmware_backend import exceptions

LOG = oslo_logging.getLogger(__name__)

# suds logs every marshalled value at DEBUG, a Login's password included, in
# loggers below "suds"; they are capped at INFO whatever the log config says
# (also those a config names explicitly).
_SUDS_LOGGERS = ('suds', 'suds.client', 'suds.transport',
                 'suds.transport.http', 'suds.mx', 'suds.mx.core',
                 'suds.mx.literal')
# Loggers that may still print request text; their records are filtered.
_SOAP_LOGGERS = ('suds', 'suds.client', 'suds.transport',
                 'suds.transport.http', 'oslo_vmware', 'oslo_vmware.service',
                 'oslo_vmware.api', 'oslo_vmware.vim_util')
_BODY_METHOD = re.compile(rb'<(?:[\w-]+:)?Body[^>]*>\s*<(?:[\w-]+:)?([\w]+)')

FIRST_POLL_DELAY = 0.01
# Calls that change nothing, safe to send again after a connection error.
_IDEMPOTENT_PREFIXES = ('Retrieve', 'ContinueRetrieve', 'Find', 'Query',
                        'SessionIsActive')


class _RequestCounter(suds_plugin.MessagePlugin):
    """Counts each SOAP request suds hands to the transport, by method."""

    def __init__(self, counter, lock):
        self._counter = counter
        self._lock = lock

    def sending(self, context):
        match = _BODY_METHOD.search(context.envelope or b'')
        name = match.group(1).decode() if match else 'unknown'
        with self._lock:
            self._counter[name] += 1


class _SecretFilter(logging.Filter):
    """Replaces a secret, raw or XML-escaped, in log records."""

    def __init__(self, secret):
        super().__init__()
        self._forms = sorted({secret, saxutils.escape(secret),
                              saxutils.escape(secret, {'"': '&quot;',
                                                       "'": '&apos;'})},
                             key=len, reverse=True) if secret else []

    def filter(self, record):
        if not self._forms:
            return True
        try:
            text = record.getMessage()
        except Exception:  # a broken record is not ours to fix
            return True
        if any(form in text for form in self._forms):
            for form in self._forms:
                text = text.replace(form, '***')
            record.msg = text
            record.args = None
        return True


class _APISession(vmware_api.VMwareAPISession):
    """oslo.vmware's session with a bounded login and request counting."""

    def __init__(self, *args, request_counter=None, url=None, **kwargs):
        self._request_counter = request_counter
        self._url = url
        self._login_lock = threading.Lock()
        super().__init__(*args, **kwargs)

    @property
    def vim(self):
        created = self._vim is None
        vim = super().vim
        if created and self._request_counter is not None:
            vim.client.options.plugins.append(self._request_counter)
        return vim

    def _create_session(self):
        # Replaces oslo.vmware's login, which retries a connection error
        # forever and reports faults without naming the server or user.
        with self._login_lock:
            if self._session_id and self.is_current_session_active():
                return
            attempts = self._api_retry_count + 1
            for attempt in range(attempts):
                try:
                    self._login()
                    return
                except vexc.VimFaultException as err:
                    raise exceptions.VCenterLoginError(
                        url=self._url, user=self._server_username,
                        reason=_fault_text(err))
                except (vexc.VimConnectionException,
                        vexc.VimSessionOverLoadException) as err:
                    if attempt + 1 == attempts:
                        raise exceptions.VCenterConnectionError(
                            url=self._url, reason=_connection_reason(err))
                    time.sleep(min(2 ** attempt, 10))
                except vexc.VimException as err:
                    raise exceptions.VCenterConnectionError(
                        url=self._url, reason=_connection_reason(err))

    def _login(self):
        session_manager = self.vim.service_content.sessionManager
        LOG.debug('Logging in to %s as %s.', self._url, self._server_username)
        session = self.vim.Login(session_manager,
                                 userName=self._server_username,
                                 password=self._server_password,
                                 locale='en')
        self._session_id = session.key
        self._session_username = session.userName
        LOG.info('Logged in to vCenter %s as %s.', self._url,
                 self._server_username)


class VCenterSession:
    """A lazily opened, counted session with one vCenter.

    :param options: dict of option values as returned by
        :func:`vmware_backend.conf.read_options`.
    """

    def __init__(self, options):
        self._options = dict(options)
        self._api = None
        self._api_lock = threading.Lock()
        self._count_lock = threading.Lock()
        self.request_counts = collections.Counter()
        self._counter_plugin = _RequestCounter(self.request_counts,
                                               self._count_lock)
        self._secret_filter = _SecretFilter(options.get('vcenter_password'))
        for name in _SUDS_LOGGERS:
            suds_logger = logging.getLogger(name)
            if suds_logger.getEffectiveLevel() < logging.INFO:
                suds_logger.setLevel(logging.INFO)
        for name in _SOAP_LOGGERS:
            logging.getLogger(name).addFilter(self._secret_filter)

    @property
    def url(self):
        """The SOAP endpoint this session talks to."""
        opts = self._options
        return '%s://%s:%s/sdk' % (opts['vcenter_scheme'],
                                   opts['vcenter_host'], opts['vcenter_port'])

    @property
    def options(self):
        return dict(self._options)

    @property
    def api(self):
        """The logged-in oslo.vmware session (logs in on first use)."""
        if self._api is None:
            with self._api_lock:
                if self._api is None:
                    api = self._build_api()
                    api._create_session()
                    self._api = api
        return self._api

    def _build_api(self):
        opts = self._options
        wsdl_loc = opts.get('vcenter_wsdl_location')
        if wsdl_loc and os.path.exists(wsdl_loc):
            wsdl_loc = 'file://' + os.path.abspath(wsdl_loc)
        return _APISession(
            opts['vcenter_host'], opts['vcenter_username'],
            opts['vcenter_password'], opts['vcenter_api_retry_count'],
            opts['vcenter_task_poll_interval'],
            scheme=opts['vcenter_scheme'],
            create_session=False,
            wsdl_loc=wsdl_loc,
            port=opts['vcenter_port'],
            cacert=opts.get('vcenter_ca_file'),
            insecure=opts['vcenter_insecure'],
            pool_size=opts['vcenter_connection_pool_size'],
            connection_timeout=opts['vcenter_http_timeout'],
            op_id_prefix='vmware_backend',
            request_counter=self._counter_plugin,
            url=self.url)

    @property
    def vim(self):
        return self.api.vim

    @property
    def factory(self):
        """The suds factory building vSphere data objects."""
        return self.vim.client.factory

    @property
    def service_content(self):
        return self.vim.service_content

    def __repr__(self):
        return '<VCenterSession %s user=%s>' % (
            self.url, self._options.get('vcenter_username'))

    def total_requests(self):
        """Number of SOAP requests sent so far."""
        with self._count_lock:
            return sum(self.request_counts.values())

    def counts_snapshot(self):
        """A copy of the per-method request counter."""
        with self._count_lock:
            return collections.Counter(self.request_counts)

    def invoke(self, method, moref, target=None, **kwargs):
        """Call vSphere ``method`` on ``moref``; faults become VCenterFault.

        A connection error is retried ``vcenter_api_retry_count`` times
        with a short back-off for calls that only read (a lost answer to a
        ``*_Task`` call may hide work vCenter did), and an expired session
        is logged in again at once. (oslo.vmware's ``invoke_api`` sleeps
        10 s before each retry, also after a re-login.)

        :param target: a description of what the call is about, used in
            error messages (defaults to the moref).
        """
        api = self.api
        retries = self._options['vcenter_api_retry_count']
        for attempt in range(retries + 1):
            last = attempt == retries
            try:
                return getattr(api.vim, method)(moref, **kwargs)
            except vexc.VimFaultException as err:
                if vexc.NOT_AUTHENTICATED not in (err.fault_list or []):
                    raise _to_fault(err, method, target or _describe(moref))
                # oslo.vmware reports an empty RetrievePropertiesEx answer
                # as NotAuthenticated; on a live session it means "nothing".
                if api.is_current_session_active():
                    return []
                if last:
                    raise exceptions.VCenterConnectionError(
                        url=self.url, reason='the session keeps expiring')
                LOG.info('vCenter session expired; logging in again.')
                api._create_session()
            except (vexc.VimConnectionException,
                    vexc.VimSessionOverLoadException) as err:
                # vCenter may have carried out a request whose answer was
                # lost; only reads are sent again.
                if last or not method.startswith(_IDEMPOTENT_PREFIXES):
                    raise exceptions.VCenterConnectionError(
                        url=self.url, reason=_connection_reason(err))
                LOG.warning('%s failed (%s); retrying.', method,
                            _fault_text(err))
                time.sleep(min(0.5 * 2 ** attempt, 10))
            except vexc.VimException as err:
                raise _to_fault(err, method, target or _describe(moref))

    def wait_for_task(self, task, target=None, action=None):
        """Wait for ``task`` and return its ``info`` on success.

        Polls immediately, then backs off from 10 ms up to
        ``vcenter_task_poll_interval``; gives up after
        ``vcenter_task_timeout`` seconds.

        :raises exceptions.VCenterFault: the task failed; names the fault.
        :raises exceptions.TaskTimeout: the deadline passed.
        """
        timeout = self._options['vcenter_task_timeout']
        max_delay = self._options['vcenter_task_poll_interval']
        deadline = time.monotonic() + timeout
        delay = FIRST_POLL_DELAY
        while True:
            info = self.get_properties(task, ['info'])['info']
            name = action or getattr(info, 'name', None) or 'task'
            where = target or getattr(info, 'entityName', None) or '?'
            if info.state == 'success':
                return info
            if info.state == 'error':
                raise _task_fault(info, name, where)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._cancel(task, name, where)
                raise exceptions.TaskTimeout(
                    task=vim_util.get_moref_value(task), name=name,
                    target=where, timeout=timeout, state=info.state)
            time.sleep(min(delay, remaining))
            delay = min(delay * 2, max_delay)

    def _cancel(self, task, name, target):
        """Ask vCenter to cancel a task that ran out of time (best effort)."""
        try:
            self.invoke('CancelTask', task, target=target)
            LOG.warning('Cancelled %s on %s after its deadline.', name,
                        target)
        except exceptions.VMwareBackendException as err:
            LOG.warning('Could not cancel %s on %s after its deadline: %s',
                        name, target, err)

    def get_properties(self, moref, paths, target=None):
        """Read ``paths`` of one managed object in one call.

        :returns: dict of path -> suds value; paths that are unset on the
            object are absent.
        """
        factory = self.factory
        obj = factory.create('ns0:ObjectSpec')
        obj.obj = moref
        obj.skip = False
        prop = factory.create('ns0:PropertySpec')
        prop.type = vim_util.get_moref_type(moref)
        prop.all = False
        prop.pathSet = list(paths)
        spec = factory.create('ns0:PropertyFilterSpec')
        spec.objectSet = [obj]
        spec.propSet = [prop]
        result = self.invoke('RetrievePropertiesEx',
                             self.service_content.propertyCollector,
                             target=target or _describe(moref),
                             specSet=[spec],
                             options=factory.create('ns0:RetrieveOptions'))
        values = {}
        for content in getattr(result, 'objects', None) or []:
            for prop_value in getattr(content, 'propSet', None) or []:
                values[prop_value.name] = prop_value.val
        return values

    def invoke_task(self, method, moref, target=None, **kwargs):
        """Start a ``*_Task`` method and wait for it; returns its result."""
        task = self.invoke(method, moref, target=target, **kwargs)
        info = self.wait_for_task(task, target=target, action=method)
        return getattr(info, 'result', None)

    def logout(self):
        """Close the vCenter session if one is open."""
        if self._api is not None:
            try:
                self._api.logout()
            finally:
                self._api = None

    def close(self):
        """Log out and stop filtering this session's secret from logs."""
        self.logout()
        for name in _SOAP_LOGGERS:
            logging.getLogger(name).removeFilter(self._secret_filter)


def _describe(moref):
    try:
        return '%s:%s' % (vim_util.get_moref_type(moref),
                          vim_util.get_moref_value(moref))
    except Exception:
        return str(moref)


def _fault_name(err):
    faults = getattr(err, 'fault_list', None) or []
    if faults:
        return faults[0]
    name = type(err).__name__
    return name[:-len('Exception')] if name.endswith('Exception') else name


def _fault_text(err):
    msg = getattr(err, 'msg', None) or str(err)
    return msg.splitlines()[0] if msg else _fault_name(err)


def _to_fault(err, action, target):
    return exceptions.VCenterFault(fault=_fault_name(err), action=action,
                                   target=target, detail=_fault_text(err))


def _task_fault(info, name, target):
    error = getattr(info, 'error', None)
    fault_obj = getattr(error, 'fault', None)
    fault = type(fault_obj).__name__ if fault_obj is not None else 'Fault'
    detail = getattr(error, 'localizedMessage', None) or fault
    return exceptions.VCenterFault(fault=fault, action=name, target=target,
                                   detail=detail)


def _connection_reason(err):
    text = _fault_text(err)
    cause = getattr(err, 'cause', None)
    if cause is not None:
        text = '%s (%s)' % (text, str(cause).splitlines()[0])
    if 'CERTIFICATE_VERIFY_FAILED' in text or 'SSLError' in text:
        text += ('; the server certificate is not trusted: set '
                 'vcenter_ca_file to the CA bundle that signed it')
    return text
