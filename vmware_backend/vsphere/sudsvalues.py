"""suds values as plain Python values, and managed object references back.

The inventory reads hand their callers plain values (:class:`MoRef`
tuples, dicts, lists, ``str``) whichever transport read them; these
helpers convert what suds parsed, and turn a :class:`MoRef` back into the
suds reference a suds request needs.
"""

from oslo_vmware import vim_util
from suds import sudsobject

from vmware_backend.vsphere.refs import MoRef


def to_suds(ref):
    """The suds managed object reference for ``ref`` (a :class:`MoRef`).

    A suds reference passes through unchanged, so callers may hand in either.
    """
    if isinstance(ref, MoRef):
        return vim_util.get_moref(ref.value, ref.type)
    return ref


def from_suds(ref):
    """The :class:`MoRef` of a suds managed object reference."""
    if isinstance(ref, MoRef):
        return ref
    return MoRef(str(vim_util.get_moref_type(ref)),
                 str(vim_util.get_moref_value(ref)))


def is_suds_moref(value):
    """Whether ``value`` is a suds managed object reference."""
    return (isinstance(value, sudsobject.Object) and
            hasattr(value, '_type') and hasattr(value, 'value'))


def to_plain(value):
    """``value`` from a suds response as plain Python values.

    Managed object references become :class:`MoRef`, ``ArrayOf*`` wrappers
    and lists become lists, other data objects become dicts of their set
    fields, suds text becomes ``str``; numbers, booleans and datetimes stay.
    """
    if value is None:
        return None
    if is_suds_moref(value):
        return from_suds(value)
    if isinstance(value, sudsobject.Object):
        if type(value).__name__.startswith('ArrayOf'):
            items = []
            for key in value.__keylist__:
                item = getattr(value, key)
                if isinstance(item, list):
                    items.extend(item)
                elif item is not None:
                    items.append(item)
            return [to_plain(item) for item in items]
        return {key: to_plain(getattr(value, key))
                for key in value.__keylist__}
    if isinstance(value, (list, tuple)):
        return [to_plain(item) for item in value]
    if isinstance(value, str):
        return str(value)
    return value
