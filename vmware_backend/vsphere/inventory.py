"""Reading sets of vCenter managed objects, cheaply and as plain values.

One helper, :func:`iter_container` (and :func:`read_container` around it),
reads every object of some types below a root the way the vSphere guide
recommends for large inventories:

1. ``ViewManager.CreateContainerView`` over the root (a datacenter, a
   cluster or the root folder) for the wanted types;
2. one ``PropertyCollector.RetrievePropertiesEx`` whose filter traverses the
   view (``TraversalSpec`` of type ``ContainerView``, path ``view``) and asks,
   per type, for the needed property paths only;
3. pages of at most ``vcenter_inventory_page_size`` objects
   (``RetrieveOptions.maxObjects``), continued with
   ``ContinueRetrievePropertiesEx`` while the result carries a token;
4. ``CancelRetrievePropertiesEx`` when reading stops with a page still
   pending (an error, or a caller that stopped iterating) and
   ``DestroyView`` at the end, always.

Results carry no suds objects: managed object references become
:class:`MoRef` tuples, data objects become dicts, ``ArrayOf*`` wrappers
become lists and suds text becomes ``str``. A property that is unset on the
server is absent from an object's dict. suds parses an *empty* array property
as an empty string (the element carries no child to tell its type), so read
array properties as ``props.get(path) or []``.

All I/O goes through the session's ``VCenterSession.invoke``,
which counts the SOAP requests and turns faults into
:class:`vmware_backend.exceptions.VCenterFault`. oslo.vmware raises a fault
when the server reports a property it could not read (``missingSet``), so an
object that disappears in the middle of a read fails the read; callers retry.

The transport is chosen by ``vcenter_read_transport`` (see
:mod:`.json.select`): over VI/JSON (:mod:`.json.reader`, the same calls in
the same order, with the same plain results, see :mod:`.json.codec`) when
vCenter offers it, over SOAP (below) otherwise. :func:`get_properties` and
:func:`read_through` (per-object reads inside driver operations) always use
SOAP.

The view and the retrieval token belong to the vCenter session that made
them. When the session expires in the middle of a read, or the answer to a
``ContinueRetrievePropertiesEx`` is lost (the server's cursor moved on, so
sending the token again would skip a page), the read starts over with a
new view on the current session (up to ``vcenter_api_retry_count`` times
after session expiries, see :mod:`.expiry`); objects already yielded are
not yielded again.
"""

import contextlib

from oslo_log import log as logging

from vmware_backend import exceptions
from vmware_backend.vsphere import expiry
from vmware_backend.vsphere.json import select as json_select
from vmware_backend.vsphere import rawsoap
from vmware_backend.vsphere import rawxml
from vmware_backend.vsphere.refs import MoRef  # noqa: F401 (re-exported)
from vmware_backend.vsphere import soapxml
# re-exported: callers convert with inventory.to_plain etc.
from vmware_backend.vsphere.sudsvalues import from_suds  # noqa: F401
from vmware_backend.vsphere.sudsvalues import to_plain  # noqa: F401
from vmware_backend.vsphere.sudsvalues import to_suds  # noqa: F401

LOG = logging.getLogger(__name__)

_VIEW_TRAVERSAL = 'traverseContainerView'


def _object_contents(result):
    """(MoRef, {path: plain value}) of every object of one result page."""
    for content in getattr(result, 'objects', None) or []:
        props = {str(prop.name): to_plain(getattr(prop, 'val', None))
                 for prop in getattr(content, 'propSet', None) or []}
        yield from_suds(content.obj), props


def _property_specs(factory, type_paths):
    specs = []
    for type_name, paths in type_paths.items():
        spec = factory.create('ns0:PropertySpec')
        spec.type = type_name
        spec.all = False
        spec.pathSet = list(paths)
        specs.append(spec)
    return specs


def _view_filter_spec(factory, view, type_paths):
    traversal = factory.create('ns0:TraversalSpec')
    traversal.name = _VIEW_TRAVERSAL
    traversal.type = 'ContainerView'
    traversal.path = 'view'
    traversal.skip = False
    obj_spec = factory.create('ns0:ObjectSpec')
    obj_spec.obj = view
    obj_spec.skip = True
    obj_spec.selectSet = [traversal]
    filter_spec = factory.create('ns0:PropertyFilterSpec')
    filter_spec.objectSet = [obj_spec]
    filter_spec.propSet = _property_specs(factory, type_paths)
    return filter_spec


def _retrieve_options(factory, page_size):
    options = factory.create('ns0:RetrieveOptions')
    options.maxObjects = page_size
    return options


def iter_container(session, type_paths, root=None, page_size=None,
                   recursive=True, raw=False):
    """Yield ``(MoRef, {path: value})`` of every object of some types.

    :param session: a :class:`vmware_backend.vsphere.session.VCenterSession`.
    :param type_paths: dict of managed object type name -> property paths
        to read for it, e.g. ``{'Datastore': ['name', 'summary.capacity']}``.
    :param root: the container to look below (:class:`MoRef` or suds
        reference); default: the root folder.
    :param page_size: objects per page; default: the session's
        ``vcenter_inventory_page_size`` option.
    :param recursive: look below the root's direct children too.
    :param raw: parse the pages from their XML (:mod:`.rawxml`) instead
        of through suds objects: the same values, much faster for large
        pages.

    The view is destroyed, and a pending page cancelled, when the generator
    is exhausted, fails or is closed; call ``close()`` (or use
    :func:`read_container`) when stopping early.
    """
    if page_size is None:
        page_size = session.options['vcenter_inventory_page_size']
    over_json = json_select.iter_container(
        session, type_paths, None if root is None else from_suds(root),
        page_size, recursive)
    if over_json is not None:
        # vcenter_read_transport: VI/JSON when the server offers it
        yield from over_json
        return
    if root is None:
        root = session.service_content.rootFolder
    root = to_suds(root)
    target = 'objects below %s:%s' % tuple(from_suds(root))
    seen = set()
    # as over VI/JSON: vcenter_api_retry_count restarts (at least one)
    allowed = expiry.relogins_allowed(session.options)
    expiries = 0
    for attempt in range(allowed + 1):
        read = _read_once(session, type_paths, root, page_size, recursive,
                          target, raw)
        try:
            with contextlib.closing(read):
                for ref, props in read:
                    if ref not in seen:
                        seen.add(ref)
                        yield ref, props
            return
        except _Restart as restart:
            renewed = isinstance(restart.error,
                                 exceptions.VCenterSessionRenewed)
            expiries += renewed
            if attempt == allowed:
                if renewed:
                    raise exceptions.VCenterConnectionError(
                        url=restart.error.kwargs.get('url'),
                        reason=expiry.keeps_expiring(
                            restart.error.kwargs.get('method'), target,
                            expiries, session.options)) from restart.error
                raise restart.error
            LOG.info('Reading %s again from the start: %s', target,
                     restart.error)


class _Restart(Exception):
    """The read cannot go on with its view or token; start over."""

    def __init__(self, error):
        super().__init__(str(error))
        self.error = error


def _page(result, raw):
    """(token, [(MoRef, props)]) of one result page."""
    if raw:
        return rawxml.page(result, MoRef) if result else (None, [])
    return getattr(result, 'token', None), list(_object_contents(result))


def _read_once(session, type_paths, root, page_size, recursive, target,
               raw=False):
    """One read with one view.

    Raises :class:`_Restart` when its view or its token were lost.
    """
    via = rawsoap.service if raw else None
    content = session.service_content
    factory = session.factory
    collector = content.propertyCollector
    view = session.invoke('CreateContainerView', content.viewManager,
                          target=target, container=root,
                          type=list(type_paths), recursive=recursive)
    token = None
    try:
        if raw:
            spec = rawsoap.view_spec(from_suds(view), type_paths,
                                     _VIEW_TRAVERSAL)
            options = soapxml.retrieve_options(page_size)
        else:
            spec = [_view_filter_spec(factory, view, type_paths)]
            options = _retrieve_options(factory, page_size)
        result = session.invoke(
            'RetrievePropertiesEx', collector, target=target,
            session_bound=True, via=via, specSet=spec, options=options)
        while True:
            # An empty result (nothing matched) is None: no token.
            token, objects = _page(result, raw)
            yield from objects
            if not token:
                break
            try:
                result = session.invoke('ContinueRetrievePropertiesEx',
                                        collector, target=target,
                                        session_bound=True, via=via,
                                        token=token)
            except exceptions.VCenterSessionRenewed:
                raise
            except exceptions.VCenterTLSError:
                raise
            except exceptions.VCenterConnectionError as err:
                # The page is lost; the token's cursor is past it.
                raise _Restart(err) from err
    except exceptions.VCenterSessionRenewed as err:
        # The view and the token died with the old session.
        view = token = None
        raise _Restart(err) from err
    except exceptions.VCenterFault as err:
        if err.fault != 'ManagedObjectNotFound':
            raise
        # The view is gone: its session ended after CreateContainerView
        # and the view with it (the property collector answers
        # ManagedObjectNotFound for it, not NotAuthenticated; the test
        # bed does). Starting again logs in again.
        raise _Restart(err) from err
    finally:
        try:
            if token:
                _quietly(session, 'CancelRetrievePropertiesEx', collector,
                         target, token=token)
        finally:
            if view is not None:
                _quietly(session, 'DestroyView', view, target)


def _quietly(session, method, moref, target, **kwargs):
    """Clean-up call whose failure must not hide the read's own outcome."""
    try:
        session.invoke(method, moref, target=target, **kwargs)
    except Exception as err:  # clean-up is best effort
        LOG.warning('%s while reading %s failed: %s', method, target, err)


def read_container(session, type_paths, root=None, page_size=None,
                   recursive=True, raw=False):
    """All objects :func:`iter_container` yields, as a list."""
    objects = iter_container(session, type_paths, root=root,
                             page_size=page_size, recursive=recursive,
                             raw=raw)
    try:
        return list(objects)
    finally:
        objects.close()


def _json_only(session):
    """The session's own per-object reads if it is VI/JSON only."""
    if getattr(type(session), 'json_only', False) is True:
        return session.json_reads
    return None


def get_properties(session, ref, paths, raw=False, target=None):
    """Some properties of one managed object, in one RetrievePropertiesEx.

    :param ref: a :class:`MoRef` (or a suds reference).
    :param paths: property paths to read.
    :param raw: parse the reply from its XML (:mod:`.rawxml`), data
        objects with their ``xsi:type`` (:data:`.rawxml.TYPE_KEY`),
        instead of through suds objects (over SOAP only).
    :param target: what the read is about, for error messages.
    :returns: dict of path -> plain value; unset properties are absent.
    """
    ref = from_suds(ref)
    if _json_only(session):
        return _json_only(session).get_properties(ref, paths)
    collector = session.service_content.propertyCollector
    target = target or '%s:%s' % ref
    if raw:
        # Written and read as XML (:mod:`.soapxml`, :mod:`.rawxml`).
        result = session.invoke(
            'RetrievePropertiesEx', collector, target=target,
            via=rawsoap.service, specSet=soapxml.filter_spec(
                [soapxml.property_spec(ref.type, paths)],
                [soapxml.object_spec(ref)]),
            options=soapxml.retrieve_options(1))
        for _ref, props in rawxml.page(result, MoRef, typed=True)[1]:
            return props
        return {}
    factory = session.factory
    obj_spec = factory.create('ns0:ObjectSpec')
    obj_spec.obj = to_suds(ref)
    obj_spec.skip = False
    filter_spec = factory.create('ns0:PropertyFilterSpec')
    filter_spec.objectSet = [obj_spec]
    filter_spec.propSet = _property_specs(factory, {ref.type: paths})
    result = session.invoke('RetrievePropertiesEx', collector, target=target,
                            specSet=[filter_spec],
                            options=_retrieve_options(factory, 1))
    for _ref, props in _object_contents(result):
        return props
    return {}


def read_through(session, roots, path, type_paths, page_size=None,
                 raw=False):
    """``(MoRef, props)`` of the objects property ``path`` of ``roots`` names.

    One ``RetrievePropertiesEx``: each root is an ``ObjectSpec`` that is
    skipped itself, with one ``TraversalSpec`` following ``path`` (e.g.
    ``Datastore.vm``), and ``type_paths`` says which properties to read of
    the objects reached. No view is made and nothing else of the inventory
    is read. Without ``page_size`` the result is not paged by the client
    (``maxObjects`` unset: one round trip whatever the number of objects,
    unless the server's own policy pages it; a token is then followed).

    :param roots: :class:`MoRef` (or suds references), all of one type.
    :param path: the property of the roots holding the references.
    :param type_paths: dict of type name -> property paths, as for
        :func:`iter_container`.
    :param page_size: ``maxObjects`` per page, or None for no maximum.
    :param raw: written and read as XML (:mod:`.soapxml`, :mod:`.rawxml`),
        not through suds (over SOAP only).
    """
    roots = [from_suds(root) for root in roots]
    if not roots:
        return []
    if _json_only(session):
        return _json_only(session).read_through(roots, path, type_paths,
                                                page_size)
    target = '%s of %s' % (path, ', '.join('%s:%s' % r for r in roots))
    if raw:
        traversal = soapxml.traversal_spec('readThrough', roots[0].type, path)
        return retrieve_raw(session, soapxml.filter_spec(
            rawsoap.property_specs(type_paths),
            [soapxml.object_spec(root, skip=True, select=[traversal])
             for root in roots]), target, page_size)
    factory = session.factory
    traversal = factory.create('ns0:TraversalSpec')
    traversal.name = 'readThrough'
    traversal.type = roots[0].type
    traversal.path = path
    traversal.skip = False
    object_specs = []
    for root in roots:
        obj_spec = factory.create('ns0:ObjectSpec')
        obj_spec.obj = to_suds(root)
        obj_spec.skip = True
        obj_spec.selectSet = [traversal]
        object_specs.append(obj_spec)
    filter_spec = factory.create('ns0:PropertyFilterSpec')
    filter_spec.objectSet = object_specs
    filter_spec.propSet = _property_specs(factory, type_paths)
    options = factory.create('ns0:RetrieveOptions')
    if page_size is not None:
        options.maxObjects = page_size
    return _retrieve_all(session, filter_spec, options, target)


def read_objects(session, refs, type_paths, page_size=None):
    """``(MoRef, props)`` of the objects ``refs``, in one RetrievePropertiesEx.

    One ``ObjectSpec`` per object (no traversal), ``type_paths`` as for
    :func:`iter_container`; pages followed as in :func:`read_through`.
    An object that no longer exists fails the read (a ``missingSet``).
    """
    refs = [from_suds(ref) for ref in refs]
    if not refs:
        return []
    if _json_only(session):
        return _json_only(session).read_objects(refs, type_paths, page_size)
    factory = session.factory
    object_specs = []
    for ref in refs:
        obj_spec = factory.create('ns0:ObjectSpec')
        obj_spec.obj = to_suds(ref)
        obj_spec.skip = False
        object_specs.append(obj_spec)
    filter_spec = factory.create('ns0:PropertyFilterSpec')
    filter_spec.objectSet = object_specs
    filter_spec.propSet = _property_specs(factory, type_paths)
    options = factory.create('ns0:RetrieveOptions')
    if page_size is not None:
        options.maxObjects = page_size
    target = ', '.join('%s:%s' % ref for ref in refs[:3]) + (
        ' and %d more' % (len(refs) - 3) if len(refs) > 3 else '')
    return _retrieve_all(session, filter_spec, options, target)


def _retrieve_all(session, filter_spec, options, target):
    """Every page of one RetrievePropertiesEx; cancels a pending one."""
    collector = session.service_content.propertyCollector
    result = session.invoke('RetrievePropertiesEx', collector, target=target,
                            specSet=[filter_spec], options=options)
    found = []
    token = None
    try:
        while True:
            token = getattr(result, 'token', None)
            found.extend(_object_contents(result))
            if not token:
                return found
            result = session.invoke('ContinueRetrievePropertiesEx',
                                    collector, target=target, token=token)
    except Exception:
        if token:
            _quietly(session, 'CancelRetrievePropertiesEx', collector,
                     target, token=token)
        raise


def retrieve_raw(session, spec, target, page_size=None, typed=False):
    """``(MoRef, props)`` of every page of one RetrievePropertiesEx.

    ``spec``: a filter spec written with :mod:`.soapxml`; the replies are
    parsed from their XML (:mod:`.rawxml`, ``typed`` as there). A pending
    page is cancelled when the read fails.
    """
    collector = session.service_content.propertyCollector
    result = session.invoke('RetrievePropertiesEx', collector, target=target,
                            via=rawsoap.service, specSet=spec,
                            options=soapxml.retrieve_options(page_size))
    found = []
    token = None
    try:
        while True:
            token, objects = rawxml.page(result, MoRef, typed)
            found.extend(objects)
            if not token:
                return found
            result = session.invoke('ContinueRetrievePropertiesEx',
                                    collector, target=target,
                                    via=rawsoap.service, token=token)
    except Exception:
        if token:
            _quietly(session, 'CancelRetrievePropertiesEx', collector,
                     target, token=token)
        raise
