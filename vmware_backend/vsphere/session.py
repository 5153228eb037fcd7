"""The vCenter session: the one place that knows suds and oslo.vmware.

:class:`VCenterSession` wraps :class:`oslo_vmware.api.VMwareAPISession` with
what the backend needs on top of it:

* a lazy, bounded login whose errors name the server and the user (never the
  password), made without suds (:mod:`.soaplogin`: two small SOAP
  envelopes); suds, oslo.vmware's session and the parsed service
  description (:mod:`.wsdlcache`) are loaded on the first call that needs
  them (:attr:`VCenterSession.api`), and share the login's HTTP session
  and cookie (see :meth:`VCenterSession.login` and ``preload``);
* a counter of the SOAP requests really sent, per method name, fed by a suds
  plugin on the request path (benchmarks and the demo report it);
* task waits that notice completion within milliseconds and give up after a
  deadline, instead of oslo.vmware's fixed poll interval;
* a timeout on every HTTP request;
* translation of vSphere faults into :class:`exceptions.VCenterFault`, which
  names the fault, the action and the object;
* the failure paths: an expired session is logged in again once (shared by
  every thread that met the expiry) and the refused request sent again; an
  answer lost on the way (reset, timeout, an HTTP 5xx error page, see
  :mod:`.transport`) makes reads go again with back-off and makes changes
  raise :class:`exceptions.VCenterOutcomeUnknown`; a TLS verification
  failure is reported at once with a hint; the password is masked in every
  log record (:mod:`.secrets`).

:mod:`.apisession` (the oslo.vmware session underneath),
:mod:`.soaplogin` (the login) and :mod:`.transport` (what went wrong on
the wire) are parts of this module, split off to keep each small. suds and
oslo.vmware are imported where they are first needed, not with this module:
a process that only logs in (or reads over VI/JSON) never loads them.
"""

import collections
import logging
import os
import sys
import threading
import time

from oslo_log import log as oslo_logging
from oslo_vmware import exceptions as vexc

from vmware_backend import conf
from vmware_backend import exceptions
from vmware_backend import utils
from vmware_backend.vsphere import sessionbase
from vmware_backend.vsphere import soaplogin
from vmware_backend.vsphere import taskwait
from vmware_backend.vsphere import transport

LOG = oslo_logging.getLogger(__name__)

# suds logs every marshalled value at DEBUG, a Login's password included, in
# loggers below "suds"; they are capped at INFO when a session is made
# (also those a config names explicitly). A later log configuration may
# lower them again: the password is masked in every record anyway
# (secrets.register).
_SUDS_LOGGERS = ('suds', 'suds.client', 'suds.transport',
                 'suds.transport.http', 'suds.mx', 'suds.mx.core',
                 'suds.mx.literal')

FIRST_POLL_DELAY = taskwait.FIRST_POLL_DELAY
# Calls that change nothing, safe to send again after a lost answer.
# (CreateContainerView makes a view, but a second one only lives until the
# session ends.)
_READ_PREFIXES = ('Retrieve', 'Find', 'Query', 'SessionIsActive',
                  'CurrentTime', 'CreateContainerView')
# Reads that move a cursor on the server: a lost answer is a lost page, so
# they are not sent again (the reader restarts).
_CURSOR_READS = ('ContinueRetrievePropertiesEx',)


def _wsdl_cache_dir(opts):
    # None (unset): the user's cache directory; '' : memory only.
    value = opts.get('vcenter_wsdl_cache_dir')
    if value is None:
        from vmware_backend.vsphere import wsdlcache  # suds: loaded late
        return wsdlcache.default_dir()
    return value or None


def _apisession():
    """:mod:`.apisession`, imported when first needed (suds, oslo.vmware)."""
    if sys.modules.get('eventlet', False) is None:
        # This process keeps eventlet out (utils.skip_eventlet): oslo.vmware
        # runs on native threads, chosen only now that it loads (the login
        # needs neither; a backend chosen before stays).
        utils.use_threading_backend()
    from vmware_backend.vsphere import apisession
    return apisession


def _vim_util():
    from oslo_vmware import vim_util  # suds: loaded when first needed
    return vim_util


class VCenterSession(sessionbase.SessionBase, taskwait.TaskWaits):
    """A lazily opened, counted session with one vCenter.

    :param options: dict of option values as returned by
        :func:`vmware_backend.conf.read_options`.
    """

    def __init__(self, options):
        super().__init__(options)
        self._api = None
        self._api_lock = threading.Lock()
        self._soap = None
        self._soap_lock = threading.Lock()
        self._preloader = None
        self._probe_made = None
        self.byte_counts = collections.Counter()
        for name in _SUDS_LOGGERS:
            suds_logger = logging.getLogger(name)
            if suds_logger.getEffectiveLevel() < logging.INFO:
                suds_logger.setLevel(logging.INFO)

    def login(self, preload=False):
        """Log in (once; thread-safe) without loading suds; returns self.

        :param preload: then load suds and the service description in a
            background thread (:meth:`preload`).
        :raises exceptions.VCenterLoginError: vCenter refused the login.
        :raises exceptions.VCenterConnectionError: no usable answer
            (:class:`exceptions.VCenterTLSError`: the certificate).
        """
        self._login_state().ensure()
        if preload:
            self.preload()
        return self

    def _login_state(self):
        if self._soap is None:
            with self._soap_lock:
                if self._soap is None:
                    conf.check_files(self._options)
                    self._soap = soaplogin.from_options(
                        self.url, self._options, self.count_request,
                        self.byte_counts, self._count_lock)
        return self._soap

    @property
    def _probe(self):
        """The suds plugin counting this session's requests (made late)."""
        if self._probe_made is None:
            apisession = _apisession()
            with self._count_lock:
                if self._probe_made is None:
                    self._probe_made = apisession.RequestProbe(
                        self.request_counts, self._count_lock,
                        self.byte_counts)
        return self._probe_made

    @property
    def about(self):
        """vCenter's ``ServiceContent.about`` text fields, as a dict.

        From the login's answer: no suds needed (``fullName``,
        ``apiVersion``, ``instanceUuid``...).
        """
        return dict(self.login()._soap.content.get('about') or {})

    @property
    def session_key(self):
        """The vCenter session's key (None before the login)."""
        if self._api is not None:
            return self._api._session_id
        return self._soap.key if self._soap is not None else None

    def preload(self):
        """Load suds and the service description in a daemon thread.

        For a process that will make a suds call soon (the driver): the
        load (imports, unpickling: hundreds of milliseconds) overlaps with
        what the process does until then. Errors are left for the first
        use of :attr:`api` to raise.
        """
        if self._api is not None or self._preloader is not None:
            return

        def load():
            try:
                self.api
            except Exception as err:  # reported by the next .api
                LOG.debug('Preloading the vSphere service description '
                          'failed: %s', err)

        self._preloader = threading.Thread(
            target=load, name='vcenter-preload', daemon=True)
        self._preloader.start()

    @property
    def api(self):
        """The logged-in oslo.vmware session (logs in on first use).

        Builds the suds client (imports, the service description) on first
        use, on the login's HTTP session: no second Login.
        """
        if self._api is None:
            soap = self.login()._soap
            with self._api_lock:
                if self._api is None:
                    api = self._build_api(soap)
                    api.vim
                    self._api = api
        return self._api

    def _build_api(self, soap):
        apisession = _apisession()
        opts = self._options
        wsdl_loc = opts.get('vcenter_wsdl_location')
        if conf.wsdl_path(wsdl_loc):
            wsdl_loc = 'file://' + os.path.abspath(conf.wsdl_path(wsdl_loc))
        return apisession.APISession(
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
            probe=self._probe,
            url=self.url,
            login=soap,
            wsdl_cache_dir=_wsdl_cache_dir(opts))

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

    def bytes_snapshot(self):
        """A copy of the byte counter: SOAP bytes ``sent``, ``received``."""
        with self._count_lock:
            return collections.Counter(self.byte_counts)

    def invoke(self, method, moref, target=None, session_bound=False,
               via=None, **kwargs):
        """Call vSphere ``method`` on ``moref``; faults become VCenterFault.

        * NotAuthenticated (vCenter refused the request, nothing was
          done): log in again, once for all threads that met the expiry,
          and send the request again, whatever it is. oslo.vmware's
          NotAuthenticated for an *empty* RetrievePropertiesEx answer is
          told apart (see :class:`.apisession.RequestProbe`) and returns None.
        * A lost answer (connection reset or refused, HTTP timeout, an HTTP
          error page instead of SOAP): reads are sent again
          ``vcenter_api_retry_count`` times with back-off; a call that
          changes something raises
          :class:`exceptions.VCenterOutcomeUnknown`, unless it provably
          never left (connection refused).
        * A TLS verification failure: :class:`exceptions.VCenterTLSError`
          at once.

        (oslo.vmware's ``invoke_api`` sleeps 10 s before each retry, also
        after a re-login, and returns ``[]`` for any call after one.)

        :param target: a description of what the call is about, used in
            error messages (defaults to the moref).
        :param session_bound: the request names objects of the session
            (a view, a retrieval token): after a re-login it is not sent
            again; :class:`exceptions.VCenterSessionRenewed` is raised.
        :param via: a function of the oslo.vmware session giving the
            service object to call instead of its ``vim`` (e.g.
            :class:`.rawsoap.RawService`).
        """
        api = self.api
        target = target or _describe(moref)
        retries = self._options['vcenter_api_retry_count']
        attempt = 0
        while True:
            sent_with = api._session_id
            try:
                service = api.vim if via is None else via(api)
                return getattr(service, method)(moref, **kwargs)
            except vexc.VimFaultException as err:
                if vexc.NOT_AUTHENTICATED not in (err.fault_list or []):
                    raise _to_fault(err, method, target)
                if self._probe.empty_read(method, err):
                    return None
                attempt += 1
                self._after_not_authenticated(api, method, sent_with,
                                              attempt > retries,
                                              session_bound)
            except (vexc.VimConnectionException,
                    vexc.VimSessionOverLoadException,
                    vexc.VimAttributeException) as err:
                attempt += 1
                self._after_lost_answer(api, method, target, err,
                                        attempt)
            except vexc.VimException as err:
                raise _to_fault(err, method, target)

    def _after_not_authenticated(self, api, method, sent_with, last,
                                 session_bound):
        if last:
            raise exceptions.VCenterConnectionError(
                url=self.url, reason='%s: the session keeps expiring '
                '(NotAuthenticated after logging in again)' % method)
        if api.relogin(sent_with):
            LOG.info('vCenter session expired (NotAuthenticated on %s); '
                     'logged in again.', method)
        if session_bound:
            raise exceptions.VCenterSessionRenewed(
                url=self.url, method=method,
                reason='objects of the old session are gone')

    def _after_lost_answer(self, api, method, target, err, attempt):
        """Sleep before sending a read again; raise for anything else."""
        verify = transport.tls_verification_error(err)
        if verify is not None:
            raise api.tls_error(verify)
        reason = transport.connection_reason(err)
        last = attempt > self._options['vcenter_api_retry_count']
        resend = (method.startswith(_READ_PREFIXES) or
                  transport.never_sent(err))
        if resend and not last:
            LOG.warning('%s on %s failed (%s); sending it again.', method,
                        target, reason)
            time.sleep(min(0.5 * 2 ** (attempt - 1), 10))
            return
        if resend or method in _CURSOR_READS:
            raise exceptions.VCenterConnectionError(url=self.url,
                                                    reason=reason)
        raise exceptions.VCenterOutcomeUnknown(
            url=self.url, method=method, target=target, reason=reason)

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
        prop.type = _vim_util().get_moref_type(moref)
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

    @property
    def pbm(self):
        """oslo.vmware's storage policy (PBM) service of this session.

        Its WSDL is ``vcenter_pbm_wsdl_location`` or the one oslo.vmware
        ships for the vCenter's version.

        :raises exceptions.VCenterConnectionError: no PBM WSDL for it.
        """
        api = self.api
        if api._pbm_wsdl_loc is None:
            version = self.service_content.about.version
            location = self._options.get('vcenter_pbm_wsdl_location')
            if conf.wsdl_path(location):
                location = 'file://' + os.path.abspath(
                    conf.wsdl_path(location))
            from oslo_vmware import pbm as oslo_pbm  # loaded when needed
            location = location or oslo_pbm.get_pbm_wsdl_location(version)
            if not location:
                raise exceptions.VCenterConnectionError(
                    url=self.url, reason='oslo.vmware has no storage policy '
                    '(PBM) WSDL for vCenter %s; set '
                    'vcenter_pbm_wsdl_location' % version)
            api.pbm_wsdl_loc_set(location)
        return api.pbm

    def invoke_pbm(self, method, moref, target=None, **kwargs):
        """Call PBM ``method``; faults become VCenterFault.

        An expired session is logged in again once and the call sent
        again (PBM calls here only read).
        """
        target = target or _describe(moref)
        for attempt in range(2):
            api = self.api
            sent_with = api._session_id
            try:
                return getattr(self.pbm, method)(moref, **kwargs)
            except vexc.VimFaultException as err:
                if attempt or vexc.NOT_AUTHENTICATED not in (
                        err.fault_list or []):
                    raise _to_fault(err, method, target)
                api.relogin(sent_with)
            except vexc.VimException as err:
                raise _to_fault(err, method, target)

    def invoke_task(self, method, moref, target=None, **kwargs):
        """Start a ``*_Task`` method and wait for it; returns its result."""
        task = self.invoke(method, moref, target=target, **kwargs)
        info = self.wait_for_task(task, target=target, action=method)
        return getattr(info, 'result', None)

    def logout(self):
        """Close the vCenter session if one is open (no suds needed)."""
        preloader = self._preloader
        if preloader is not None:
            preloader.join()
            self._preloader = None
        try:
            if self._soap is not None:
                self._soap.logout()
        finally:
            if self._api is not None:
                self._api._session_id = None
            self._api = None

    def _end(self):
        """:meth:`logout` (``close``: hooks, this, then the secret)."""
        self.logout()


_describe = taskwait.describe


def _to_fault(err, action, target):
    return exceptions.VCenterFault(fault=transport.fault_name(err),
                                   action=action, target=target,
                                   detail=transport.fault_text(err))
