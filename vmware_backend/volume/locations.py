"""Where a pool is: the ``location_info`` of the pool statistics.

Every pool this driver reports carries::

    vmware_backend:<vCenter instanceUuid>:<datastore moref>:<clusters>:<folder>

``<clusters>`` are the morefs (comma-separated) of the clusters whose usable
hosts mount the datastore for this backend, ``<folder>`` is the backend's
``vcenter_volume_folder`` (last, so it may contain ``:``). With the
``volume_backend_name`` Cinder puts beside it in the pool's capabilities,
it tells the driver of another backend everything a driver-assisted
migration needs: the same vCenter or not, which datastore, which clusters
may run the backing, which folder and owner mark it gets (see
:mod:`vmware_backend.volume.migration`). Earlier releases reported the
first three fields only; such a pool is only recognised as the same
backend.
"""

import collections

from vmware_backend.vsphere import inventory as inv

PREFIX = 'vmware_backend'
CLUSTER_TYPE = 'ClusterComputeResource'

Location = collections.namedtuple('Location',
                                  'vcenter_id datastore clusters folder')


def location_info(vcenter_id, datastore, clusters, folder):
    """The ``location_info`` string of a pool (see the module doc).

    :param datastore: the pool's datastore MoRef.
    :param clusters: cluster MoRefs.
    :param folder: the backend's volume folder.
    """
    return ':'.join((PREFIX, vcenter_id, datastore.value,
                     ','.join(sorted({c.value for c in clusters})), folder))


def parse(text):
    """The :class:`Location` in a ``location_info``, or None if not ours.

    A three-field value (earlier releases) has ``clusters`` and ``folder``
    None.
    """
    parts = str(text or '').split(':', 4)
    if len(parts) not in (3, 5) or parts[0] != PREFIX or not parts[1] \
            or not parts[2]:
        return None
    datastore = inv.MoRef('Datastore', parts[2])
    if len(parts) == 3:
        return Location(parts[1], datastore, None, None)
    clusters = tuple(inv.MoRef(CLUSTER_TYPE, value)
                     for value in parts[3].split(',') if value)
    if not clusters or not parts[4]:
        return None
    return Location(parts[1], datastore, clusters, parts[4])


def clusters_of(inventory, hosts):
    """The compute resources (MoRefs) the ``hosts`` belong to."""
    found = {inventory.hosts.get(h, {}).get('parent') for h in hosts}
    return sorted(found - {None}, key=lambda ref: ref.value)
