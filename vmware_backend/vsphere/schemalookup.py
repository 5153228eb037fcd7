"""Memoised schema look-ups on the finished, shared vSphere description.

suds unmarshals every element of an answer by asking the schema object of
its parent for the child of that name (``SchemaObject.get_child``), and
every node for its attributes (``attributes``, ``get_attribute``). Each
call walks all the children of the type again, through its sequences and
base types: for vSphere's large types (a VM's config has about a hundred
fields, with inherited ones) that is most of the client's CPU time per
answer, more than the network.

The description of :mod:`vmware_backend.vsphere.wsdlcache` is read-only
once built and shared for the life of the process, so the answer to each
of those questions never changes: it is kept on the schema object, by
name. Only objects of schemas registered here with :func:`register` (the
finished descriptions this package built or loaded) are memoised; any
other suds description in the process (another driver's, or one being
parsed) goes through suds' own code unchanged.

Unmarshalling an answer with a shared description is not thread-safe in
suds: eight sessions reading at once in threads (the operator CLI's
fan-out, ``sys.setswitchinterval(0.0005)`` to provoke it) failed 4-6 runs
in 25 with ``TypeNotFound`` (``Type not found: 'key'``) raised by
``suds.umx.typed.Typed.start`` in ``RetrievePropertiesEx`` answers, with
or without the memos above, and none with the unmarshalling of answers
serialised. So :func:`install` also makes ``Binding.get_reply`` of the
registered descriptions hold one lock: unmarshalling is CPU under the GIL,
so the lock costs no parallelism.
"""

import threading

from suds.bindings import binding as suds_binding
from suds import builder as suds_builder
from suds import sudsobject
from suds.xsd import sxbase

_registered = set()        # id() of the Schema objects of finished graphs
_keep = []                 # ...kept alive, so that no id is ever reused
_lock = threading.Lock()

_get_child = sxbase.SchemaObject.get_child
_get_attribute = sxbase.SchemaObject.get_attribute
_attributes = sxbase.SchemaObject.attributes
_DEFAULT_FILTER = _attributes.__defaults__[0]
_get_reply = suds_binding.Binding.get_reply
_build = suds_builder.Builder.build
_reply_lock = threading.Lock()
_CACHE = '_vmware_backend_lookups'


def schemas_of(wsdl):
    """Every Schema object the schema objects of ``wsdl`` belong to.

    Walks the merged schema's named types, elements, attributes and groups
    and their raw children (once, after parsing).
    """
    top = wsdl.schema
    found = {id(top): top}
    seen = set()
    stack = []
    for table in (top.types, top.elements, top.attributes, top.groups,
                  top.agrps):
        stack.extend(table.values())
    stack.extend(top.all)
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        schema = getattr(obj, 'schema', None)
        if schema is not None:
            found.setdefault(id(schema), schema)
        stack.extend(getattr(obj, 'rawchildren', None) or ())
    return list(found.values())


def register(schemas):
    """Memoise look-ups on the objects of ``schemas`` (finished, shared)."""
    with _lock:
        for schema in schemas:
            if id(schema) not in _registered:
                _keep.append(schema)
                _registered.add(id(schema))


def _memo(obj):
    """The object's look-up memo, or None when it is not to be memoised."""
    if id(getattr(obj, 'schema', None)) not in _registered:
        return None
    memo = obj.__dict__.get(_CACHE)
    if memo is None:
        # Two threads may both make one; either is complete and correct.
        memo = obj.__dict__.setdefault(_CACHE, {})
    return memo


def _memoised(kind, lookup, self, name):
    """``lookup(self, name)`` -> (child, ancestry), memoised per object."""
    memo = _memo(self)
    if memo is None:
        return lookup(self, name)
    key = (kind, name)
    hit = memo.get(key)
    if hit is None:
        child, ancestry = lookup(self, name)
        hit = memo[key] = (child, tuple(ancestry))
    # Callers get a list of their own, as from suds.
    return hit[0], list(hit[1])


def get_child(self, name):
    return _memoised('child', _get_child, self, name)


def get_attribute(self, name):
    return _memoised('attribute', _get_attribute, self, name)


def attributes(self, filter=_DEFAULT_FILTER):
    memo = _memo(self) if filter is _DEFAULT_FILTER else None
    if memo is None:
        return _attributes(self, filter)
    hit = memo.get('attributes')
    if hit is None:
        hit = memo['attributes'] = tuple(
            (attr, tuple(ancestry))
            for attr, ancestry in _attributes(self, filter))
    return [(attr, list(ancestry)) for attr, ancestry in hit]


def get_reply(self, *args, **kwargs):
    if id(self.schema()) not in _registered:
        return _get_reply(self, *args, **kwargs)
    with _reply_lock:
        return _get_reply(self, *args, **kwargs)


def _plain_tree(value):
    """Whether ``value`` holds only what :func:`_copy` copies faithfully.

    Data objects (``sudsobject.Object`` subclasses made by
    ``Factory.object`` or ``Factory.property``, e.g. a managed object
    reference), lists, and immutable leaves.
    """
    if isinstance(value, list):
        return all(_plain_tree(item) for item in value)
    if isinstance(value, sudsobject.Object):
        if isinstance(value, sudsobject.Metadata):
            return False
        return all(_plain_tree(value.__dict__[name])
                   for name in value.__keylist__)
    return value is None or isinstance(value, (str, int, float, bool))


def _copy(value):
    """A copy of a :func:`_plain_tree` value sharing only the immutables.

    The metadata's schema type is shared (the description is read-only);
    its ``ordering`` list is copied.
    """
    if isinstance(value, list):
        return [_copy(item) for item in value]
    if not isinstance(value, sudsobject.Object):
        return value
    # Straight into the instances' dicts: what suds' __setattr__ does
    # (the key list and the value), without its linear key search.
    if isinstance(value, sudsobject.Property):
        new = value.__class__(None)
    else:
        new = value.__class__()
    source = value.__metadata__.__dict__
    target = new.__metadata__.__dict__
    target['__keylist__'] = list(source['__keylist__'])
    for key in source['__keylist__']:
        item = source[key]
        target[key] = list(item) if isinstance(item, list) else item
    source = value.__dict__
    target = new.__dict__
    target['__keylist__'] = list(source['__keylist__'])
    for key in source['__keylist__']:
        target[key] = _copy(source[key])
    return new


def build(self, name):
    """``Builder.build``: a copy of a memoised prototype per schema type.

    suds' factory walks the type's whole schema tree for every object it
    creates (about 1 ms for a PropertyFilterSpec, several per request);
    for the registered descriptions the first object built of a type is
    kept, untouched, and each later ``create`` gets a copy of it. Types
    whose objects hold anything but data objects, lists and immutable
    values are built by suds every time.
    """
    memo = None if isinstance(name, str) else _memo(name)
    if memo is None:
        return _build(self, name)
    prototype = memo.get('prototype')
    if prototype is None:
        built = _build(self, name)
        prototype = memo['prototype'] = (built,) if _plain_tree(built) \
            else (None,)
        if prototype[0] is None:
            return built
    if prototype[0] is None:
        return _build(self, name)
    return _copy(prototype[0])


def install():
    """Put the memo, the reply lock and the prototypes on suds.

    The memoising look-ups on ``SchemaObject``, the locked unmarshalling
    on ``Binding`` and the prototype copies on ``Builder``, once.
    """
    sxbase.SchemaObject.get_child = get_child
    sxbase.SchemaObject.get_attribute = get_attribute
    sxbase.SchemaObject.attributes = attributes
    suds_binding.Binding.get_reply = get_reply
    suds_builder.Builder.build = build
