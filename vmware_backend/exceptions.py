"""Exceptions raised by the vCenter block-storage backend.

Each class carries a message template filled from keyword arguments, in the
style of Cinder's exceptions, so every error names the object it is about.
No template may include a credential.
"""


class VMwareBackendException(Exception):
    """Base class of this package's errors."""

    message = 'An unknown error occurred.'

    def __init__(self, message=None, **kwargs):
        self.kwargs = kwargs
        if message is None:
            try:
                message = self.message % kwargs
            except (KeyError, TypeError):
                # A missing template key must not hide the original error.
                message = '%s (%s)' % (self.message, kwargs)
        self.msg = message
        super().__init__(message)


class InvalidConfiguration(VMwareBackendException):
    message = ('Invalid configuration: option [%(group)s] %(option)s: '
               '%(reason)s')


class VCenterConnectionError(VMwareBackendException):
    message = 'Cannot connect to vCenter at %(url)s: %(reason)s'


class VCenterLoginError(VMwareBackendException):
    message = ('vCenter at %(url)s refused the login of user %(user)s: '
               '%(reason)s')


class VCenterFault(VMwareBackendException):
    """A vSphere fault, named, with the object the call was about."""

    message = '%(action)s failed on %(target)s: %(fault)s: %(detail)s'

    def __init__(self, message=None, fault=None, **kwargs):
        self.fault = fault
        super().__init__(message, fault=fault, **kwargs)

    @property
    def object_gone(self):
        """Whether vCenter said the object no longer exists."""
        return self.fault in ('ManagedObjectNotFound',
                              'ManagedObjectNotFoundException')


class TaskTimeout(VMwareBackendException):
    message = ('vCenter task %(task)s (%(name)s on %(target)s) did not '
               'complete within %(timeout)s seconds; last state: %(state)s')


class InvalidVolume(VMwareBackendException):
    message = 'Invalid volume %(volume)s: %(reason)s'


class InvalidSnapshot(VMwareBackendException):
    message = 'Invalid snapshot %(snapshot)s: %(reason)s'


class InvalidExtraSpec(VMwareBackendException):
    message = ('Volume type of volume %(volume)s has %(spec)s=%(value)r; '
               'allowed values: %(allowed)s')


class BackingNotFound(VMwareBackendException):
    message = 'No backing VM found for volume %(volume)s'


class VolumeIsBusy(VMwareBackendException):
    message = 'Volume %(volume)s is busy: %(reason)s'


class SnapshotIsBusy(VMwareBackendException):
    message = 'Snapshot %(snapshot)s is busy: %(reason)s'


class VolumeAttachmentError(VMwareBackendException):
    message = 'Cannot %(action)s volume %(volume)s on VM %(instance)s: '\
              '%(reason)s'


class NoValidDatastore(VMwareBackendException):
    message = ('No datastore can hold %(size_gb)s GiB (%(disk_type)s) '
               'for %(volume)s: %(reasons)s')


class InventoryNotFound(VMwareBackendException):
    message = '%(kind)s %(name)r not found in vCenter'


class VCenterOutcomeUnknown(VCenterConnectionError):
    """A call that changes vCenter lost its answer: did vCenter do it?

    Raised for calls that are not plain reads (``*_Task`` methods,
    ``CreateFolder``, ``ReconfigVM_Task``...) when the request may have
    reached vCenter but no usable answer came back: the connection broke
    after sending, the HTTP timeout passed, or an HTTP 5xx error page came
    from vCenter's address (a proxy may have forwarded the request). Such
    calls are never sent again blindly. The caller must find out from
    vCenter's state what happened (the task in ``recentTask``, the object
    by its instanceUuid) before reporting failure or cleaning up.

    A subclass of :class:`VCenterConnectionError`, so code catching that
    keeps working. :attr:`method` and :attr:`target` name the call.
    """

    message = ('vCenter at %(url)s gave no usable answer to %(method)s on '
               '%(target)s (%(reason)s): the call may or may not have been '
               'carried out')

    def __init__(self, message=None, method=None, target=None, **kwargs):
        self.method = method
        self.target = target
        super().__init__(message, method=method, target=target, **kwargs)


class VCenterTLSError(VCenterConnectionError):
    """The vCenter certificate failed verification; retrying cannot help.

    ``hint`` (in :attr:`kwargs` and as an attribute) says what to change.
    """

    message = ('Cannot connect to vCenter at %(url)s: TLS certificate '
               'verification failed: %(reason)s; %(hint)s')

    def __init__(self, message=None, hint=None, **kwargs):
        self.hint = hint
        super().__init__(message, hint=hint, **kwargs)


class VCenterSessionRenewed(VCenterConnectionError):
    """vCenter ended the session; a new one is logged in.

    Raised instead of re-sending a request that names objects belonging to
    the old session (a ContainerView, a ``RetrievePropertiesEx`` token):
    the caller restarts from scratch on the new session.
    """

    message = ('vCenter at %(url)s ended the session during %(method)s; '
               'logged in again (%(reason)s)')


class CoordinationError(VMwareBackendException):
    message = ('Cannot use the lock backend %(url)s (set by %(option)s): '
               '%(reason)s')


class UnknownExtraSpec(InvalidExtraSpec):
    message = ('Volume type of volume %(volume)s has the unknown extra spec '
               '%(spec)r; %(hint)sthe vmware: extra specs this driver '
               'knows are %(known)s (remove or rename the key)')


class BackendSetupError(VMwareBackendException):
    """The backend cannot serve volumes with this configuration."""

    message = 'The backend cannot be used: %(problem)s. Fix: %(fix)s'


class AdminRefused(VMwareBackendException):
    message = '%(action)s %(target)s refused: %(reason)s'


class InvalidAdminInput(VMwareBackendException):
    message = 'Invalid %(name)s %(value)r: %(reason)s'


class InvalidReference(VMwareBackendException):
    """A reference to an existing disk that cannot be imported."""

    message = 'Cannot manage the existing disk: %(reason)s'


class InvalidImage(VMwareBackendException):
    """An image that cannot become a volume (format, size, properties)."""

    message = 'Image %(image)s cannot be used: %(reason)s'


class ImageTransferError(VMwareBackendException):
    """A disk transfer to or from vCenter (or the image service) failed."""

    message = 'Disk transfer of %(target)s failed: %(reason)s'
