"""Reading properties of a given list of managed objects, paged.

:func:`read_objects` asks for some property paths of many objects in one
``RetrievePropertiesEx`` (one ``ObjectSpec`` per object, no traversal),
pages of ``vcenter_inventory_page_size`` objects continued with
``ContinueRetrievePropertiesEx`` and cancelled when reading stops early.
Results are plain values, as :mod:`vmware_backend.vsphere.inventory` gives
them. Used where the objects are already known (e.g. a datastore's
``vm`` list), so nothing else of the inventory is read.
"""

from vmware_backend.vsphere import inventory


def _filter_spec(factory, refs, type_paths):
    objects = []
    for ref in refs:
        spec = factory.create('ns0:ObjectSpec')
        spec.obj = inventory.to_suds(ref)
        spec.skip = False
        objects.append(spec)
    props = []
    for type_name, paths in type_paths.items():
        prop = factory.create('ns0:PropertySpec')
        prop.type = type_name
        prop.all = False
        prop.pathSet = list(paths)
        props.append(prop)
    spec = factory.create('ns0:PropertyFilterSpec')
    spec.objectSet = objects
    spec.propSet = props
    return spec


def read_objects(session, refs, type_paths, page_size=None):
    """``{MoRef: {path: plain value}}`` of the objects ``refs``.

    :param refs: MoRefs (or suds references); duplicates are read once.
    :param type_paths: managed object type -> property paths.
    :returns: a dict; an object that vanished meanwhile is absent (vCenter
        drops it from the answer) or fails the read (oslo.vmware raises on
        ``missingSet``); callers retry.
    """
    refs = list(dict.fromkeys(inventory.from_suds(ref) for ref in refs))
    if not refs:
        return {}
    if page_size is None:
        page_size = session.options['vcenter_inventory_page_size']
    factory = session.factory
    collector = session.service_content.propertyCollector
    target = '%d object(s)' % len(refs)
    options = factory.create('ns0:RetrieveOptions')
    options.maxObjects = page_size
    found = {}
    token = None
    result = session.invoke('RetrievePropertiesEx', collector, target=target,
                            specSet=[_filter_spec(factory, refs, type_paths)],
                            options=options)
    try:
        while True:
            token = getattr(result, 'token', None)
            for content in getattr(result, 'objects', None) or []:
                found[inventory.from_suds(content.obj)] = {
                    str(prop.name): inventory.to_plain(
                        getattr(prop, 'val', None))
                    for prop in getattr(content, 'propSet', None) or []}
            if not token:
                token = None
                return found
            result = session.invoke('ContinueRetrievePropertiesEx',
                                    collector, target=target, token=token)
    finally:
        if token:
            try:
                session.invoke('CancelRetrievePropertiesEx', collector,
                               target=target, token=token)
            except Exception:  # best effort; the read's own error wins
                pass
