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


class InvalidReference(VMwareBackendException):
    """A reference to an existing disk that cannot be imported."""

    message = 'Cannot manage the existing disk: %(reason)s'
