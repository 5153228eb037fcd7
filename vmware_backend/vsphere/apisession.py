"""oslo.vmware's API session, specialised for :mod:`.session`.

:class:`APISession` keeps oslo.vmware's suds client and replaces what the
backend cannot live with: a login that retries forever and names neither
server nor user (the login is :mod:`.soaplogin`'s, made before suds is
loaded, and its HTTP session with the ``vmware_soap_session`` cookie is
the suds client's), a re-login that costs a ``SessionIsActive`` first, raw
``requests``/suds errors while the WSDL loads, and a transport that hands
HTML error pages to suds as SOAP (:class:`CheckedTransport`).
:class:`RequestProbe` is the suds plugin counting the requests really sent
and noting empty answers.
"""

import re
import threading

from oslo_log import log as oslo_logging
from oslo_vmware import api as vmware_api
from oslo_vmware import exceptions as vexc
from oslo_vmware import service as vmware_service
from oslo_vmware import vim as vmware_vim
from oslo_vmware import vim_util
from suds import plugin as suds_plugin

from vmware_backend import exceptions
from vmware_backend.vsphere import soaplogin
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
            # (Also called for the requests :mod:`.rawsoap` writes.)
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


class CheckedTransport(vmware_service.RequestsTransport):
    """oslo.vmware's transport, refusing answers that are not SOAP.

    With ``http`` (a ``requests`` session, :mod:`.soaplogin`'s), it sends
    through that session: its cookies and connection pool.
    """

    def __init__(self, http=None, **kwargs):
        super().__init__(**kwargs)
        if http is not None:
            http.mount('file:///', self.session.get_adapter('file:///'))
            self.session.close()
            self.session = http
            self.cookiejar = http.cookies

    def send(self, request):
        reply = super().send(request)
        if not transport.looks_like_soap(reply.message):
            headers = reply.headers or {}
            raise transport.HTTPStatusError(
                reply.code, transport.reason_phrase(reply.code),
                headers.get('Content-Type'))
        return reply


class _CachedService(vmware_service.Service):
    """oslo.vmware's Service whose suds client comes from :mod:`.wsdlcache`.

    Placed after :class:`oslo_vmware.vim.Vim` in :class:`CachedVim`'s MRO,
    so that Vim's ``super().__init__`` lands here instead of building an
    uncached client. The transport is :class:`transport.CheckedTransport`
    from the start (the WSDL is read through it too).
    """

    cache_dir = None
    http = None

    def __init__(self, wsdl_url=None, soap_url=None, cacert=None,
                 insecure=True, pool_maxsize=10, connection_timeout=None,
                 op_id_prefix='oslo.vmware'):
        self.wsdl_url = wsdl_url
        self.soap_url = soap_url
        self.op_id_prefix = op_id_prefix
        checked = CheckedTransport(
            http=self.http, cacert=cacert, insecure=insecure,
            pool_maxsize=pool_maxsize,
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

    def __init__(self, cache_dir=None, http=None, **kwargs):
        self.cache_dir = cache_dir
        self.http = http
        super().__init__(**kwargs)


class APISession(vmware_api.VMwareAPISession):
    """oslo.vmware's session on a :class:`.soaplogin.SoapLogin`.

    Created after the login: its session id is the login's, its suds
    client sends through the login's HTTP session (the cookie) and reads
    the ServiceContent the login received (no second request). Logins
    (:meth:`relogin`, oslo.vmware's ``_create_session``) and the logout go
    through the :class:`.soaplogin.SoapLogin`, without suds.
    """

    def __init__(self, *args, probe=None, url=None, wsdl_cache_dir=None,
                 login=None, **kwargs):
        self._probe = probe
        self._url = url
        self._wsdl_cache_dir = wsdl_cache_dir
        self._soap = login
        self._login_lock = threading.Lock()
        super().__init__(*args, **kwargs)
        self._session_id = login.key
        self._session_username = login.user_name

    @property
    def vim(self):
        if self._vim is None:
            # As oslo.vmware's property, with the cached description.
            try:
                vim = CachedVim(
                    cache_dir=self._wsdl_cache_dir, http=self._soap.http,
                    protocol=self._scheme,
                    host=self._host, port=self._port,
                    wsdl_url=self._vim_wsdl_loc, cacert=self._cacert,
                    insecure=self._insecure, pool_maxsize=self._pool_size,
                    connection_timeout=self._connection_timeout,
                    op_id_prefix=self._op_id_prefix)
                injected = self._service_content(vim)
            except Exception as err:
                raise self._wsdl_error(err)
            # The probe counts requests (from here on: the login's were
            # counted by the login).
            if self._probe is not None:
                vim.client.options.plugins.append(self._probe)
            # Asked again (counted) only when suds could not read the
            # login's answer.
            vim._service_content = injected or vim.retrieve_service_content()
            self._vim = vim
        return self._vim

    def _service_content(self, vim):
        """The login's ServiceContent as suds objects, from its XML.

        suds reads the reply the login received (its ``__inject``): the
        same objects as from a RetrieveServiceContent, no request sent.
        None when suds cannot read it (a reply of an API release newer
        than this WSDL: then it is asked for again).
        """
        method = vim.client.wsdl.services[0].ports[0].methods.get(
            'RetrieveServiceContent')
        action = getattr(getattr(method, 'soap', None), 'action', None)
        if action:
            # Later logins in this process ask as suds does.
            soaplogin.use_action(action)
        self._soap.retrieve_service_content()
        this = vim_util.get_moref('ServiceInstance', 'ServiceInstance')
        try:
            return vim.client.service.RetrieveServiceContent(
                this, __inject={'reply': self._soap.content_xml})
        except Exception as err:
            LOG.debug('Asking for the ServiceContent again: suds cannot '
                      'read the login\'s copy (%s).', err)
            return None

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
        return self._soap.tls_error(verify_error)

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
        with self._soap.lock:
            self._soap.login()
        self._session_id = self._soap.key
        self._session_username = self._soap.user_name
        if self._pbm is not None:
            # The storage policy service shares the vCenter session.
            self._pbm.set_soap_cookie(self._soap.cookie())

    def logout(self):
        """Log out through the login (no suds request)."""
        self._soap.logout()
        self._session_id = None
