"""oslo.vmware's API session, specialised for :mod:`.session`.

:class:`APISession` keeps oslo.vmware's suds client and cookie handling and
replaces what the backend cannot live with: a login that retries forever
and names neither server nor user, a re-login that costs a
``SessionIsActive`` first, raw ``requests``/suds errors while the WSDL
loads, and a transport that hands HTML error pages to suds as SOAP.
:class:`RequestProbe` is the suds plugin counting the requests really sent
and noting empty answers.
"""

import re
import threading
import time

from oslo_log import log as oslo_logging
from oslo_vmware import api as vmware_api
from oslo_vmware import exceptions as vexc
from oslo_vmware import service as vmware_service
from oslo_vmware import vim as vmware_vim
from suds import plugin as suds_plugin

from vmware_backend import exceptions
from vmware_backend.vsphere import transport
from vmware_backend.vsphere import wsdlcache

LOG = oslo_logging.getLogger(__name__)

_BODY_METHOD = re.compile(rb'<(?:[\w-]+:)?Body[^>]*>\s*<(?:[\w-]+:)?([\w]+)')


class RequestProbe(suds_plugin.MessagePlugin):
    """Counts the SOAP requests sent, by method; notes empty answers.

    With ``byte_counter``, also the bytes of the SOAP envelopes sent
    (``'sent'``) and of the answers received (``'received'``, the body as
    it came, before parsing). Whether the last answer was empty is kept
    per thread.
    """

    def __init__(self, counter, lock, byte_counter=None):
        self._counter = counter
        self._lock = lock
        self._bytes = byte_counter
        self._local = threading.local()

    def sending(self, context):
        envelope = context.envelope or b''
        match = _BODY_METHOD.search(envelope)
        name = match.group(1).decode() if match else 'unknown'
        self._local.empty = None
        with self._lock:
            self._counter[name] += 1
            if self._bytes is not None:
                self._bytes['sent'] += len(envelope)

    def received(self, context):
        if self._bytes is not None:
            with self._lock:
                self._bytes['received'] += len(context.reply or b'')

    def unmarshalled(self, context):
        # The same test oslo.vmware applies before it reports an empty
        # RetrievePropertiesEx answer as NotAuthenticated.
        self._local.empty = not context.reply

    def empty_read(self, method, err):
        """Whether ``err`` stands for an empty RetrievePropertiesEx answer.

        oslo.vmware reports an answer without objects (nothing matched)
        as NotAuthenticated, without a cause; a real NotAuthenticated is a
        SOAP fault (cause: the suds WebFault) or a ``missingSet`` entry of
        a non-empty answer.
        """
        return (method == 'RetrievePropertiesEx' and
                err.cause is None and
                err.fault_list == [vexc.NOT_AUTHENTICATED] and
                getattr(self._local, 'empty', None) is True)


class _CachedService(vmware_service.Service):
    """oslo.vmware's Service whose suds client comes from :mod:`.wsdlcache`.

    Placed after :class:`oslo_vmware.vim.Vim` in :class:`CachedVim`'s MRO,
    so that Vim's ``super().__init__`` lands here instead of building an
    uncached client. The transport is :class:`transport.CheckedTransport`
    from the start (the WSDL is read through it too).
    """

    cache_dir = None

    def __init__(self, wsdl_url=None, soap_url=None, cacert=None,
                 insecure=True, pool_maxsize=10, connection_timeout=None,
                 op_id_prefix='oslo.vmware'):
        self.wsdl_url = wsdl_url
        self.soap_url = soap_url
        self.op_id_prefix = op_id_prefix
        checked = transport.CheckedTransport(
            cacert=cacert, insecure=insecure, pool_maxsize=pool_maxsize,
            connection_timeout=connection_timeout)
        self.client, self.description_cache = wsdlcache.build_client(
            vmware_service.CompatibilitySudsClient, wsdl_url, self.cache_dir,
            transport=checked, location=soap_url,
            plugins=[vmware_service.ServiceMessagePlugin()])
        self._service_content = None
        self._vc_session_cookie = None

    def _set_soap_headers(self, op_id):
        # The bindings of the shared description read the SOAP headers from
        # the calling thread (see wsdlcache.SHARED_OPTIONS).
        super()._set_soap_headers(op_id)
        wsdlcache.set_soapheaders(self.client.options.soapheaders)


class CachedVim(vmware_vim.Vim, _CachedService):
    """oslo.vmware's Vim with a cached service description."""

    def __init__(self, cache_dir=None, **kwargs):
        self.cache_dir = cache_dir
        super().__init__(**kwargs)


class APISession(vmware_api.VMwareAPISession):
    """oslo.vmware's session with a bounded login and request counting."""

    def __init__(self, *args, probe=None, url=None, wsdl_cache_dir=None,
                 **kwargs):
        self._probe = probe
        self._url = url
        self._wsdl_cache_dir = wsdl_cache_dir
        self._login_lock = threading.Lock()
        super().__init__(*args, **kwargs)

    @property
    def vim(self):
        if self._vim is None:
            # As oslo.vmware's property, with the cached description.
            try:
                vim = CachedVim(
                    cache_dir=self._wsdl_cache_dir, protocol=self._scheme,
                    host=self._host, port=self._port,
                    wsdl_url=self._vim_wsdl_loc, cacert=self._cacert,
                    insecure=self._insecure, pool_maxsize=self._pool_size,
                    connection_timeout=self._connection_timeout,
                    op_id_prefix=self._op_id_prefix)
            except Exception as err:
                raise self._wsdl_error(err)
            # The probe counts requests.
            if self._probe is not None:
                vim.client.options.plugins.append(self._probe)
            self._vim = vim
        return self._vim

    def _wsdl_error(self, err):
        """The error to raise when the WSDL could not be loaded."""
        if isinstance(err, exceptions.VMwareBackendException):
            return err
        verify = transport.tls_verification_error(err)
        if verify is not None:
            return self.tls_error(verify)
        where = self._vim_wsdl_loc or self._url + '/vimService.wsdl'
        return exceptions.VCenterConnectionError(
            url=self._url, reason='cannot read the WSDL at %s '
            '(vcenter_wsdl_location): %s' % (where, transport.first_line(err)))

    def tls_error(self, verify_error):
        """:class:`exceptions.VCenterTLSError` for a verification error."""
        reason, hint = transport.tls_hint(verify_error, self._host,
                                          self._cacert)
        return exceptions.VCenterTLSError(url=self._url, reason=reason,
                                          hint=hint)

    def _create_session(self):
        # oslo.vmware's entry point (its invoke_api calls it when the
        # session is gone): log in unless a live session exists.
        with self._login_lock:
            if self._session_id and self.is_current_session_active():
                return
            self._login_bounded()

    def relogin(self, expired_id):
        """Log in again, unless the session is no longer ``expired_id``.

        Threads that met one expiry share one login: the first logs in,
        the others find a new session id and only send their request
        again. Costs no request besides the Login itself.

        :returns: True when this call logged in.
        """
        with self._login_lock:
            if self._session_id != expired_id:
                return False
            self._login_bounded()
            return True

    def _login_bounded(self):
        # Replaces oslo.vmware's login, which retries a connection error
        # forever and reports faults without naming the server or user.
        attempts = self._api_retry_count + 1
        for attempt in range(attempts):
            try:
                self._login()
                return
            except vexc.VimFaultException as err:
                raise exceptions.VCenterLoginError(
                    url=self._url, user=self._server_username,
                    reason=transport.fault_text(err))
            except (vexc.VimConnectionException,
                    vexc.VimSessionOverLoadException,
                    vexc.VimAttributeException) as err:
                verify = transport.tls_verification_error(err)
                if verify is not None:
                    raise self.tls_error(verify)
                if attempt + 1 == attempts:
                    raise exceptions.VCenterConnectionError(
                        url=self._url, reason=transport.connection_reason(err))
                time.sleep(min(2 ** attempt, 10))
            except vexc.VimException as err:
                raise exceptions.VCenterConnectionError(
                    url=self._url, reason=transport.connection_reason(err))

    def _login(self):
        session_manager = self.vim.service_content.sessionManager
        LOG.debug('Logging in to %s as %s.', self._url, self._server_username)
        session = self.vim.Login(session_manager,
                                 userName=self._server_username,
                                 password=self._server_password,
                                 locale='en')
        self._session_id = session.key
        self._session_username = session.userName
        if self._pbm is not None:
            # The storage policy service shares the vCenter session.
            self._pbm.set_soap_cookie(self.vim.get_http_cookie())
        LOG.info('Logged in to vCenter %s as %s.', self._url,
                 self._server_username)
