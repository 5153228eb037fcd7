"""Placement of volume backings: the inventory read and its cache.

:class:`PlacementService` reads, in ONE paged ContainerView read below the
root folder, the datacenters, folders, compute resources (clusters and
standalone hosts), hosts and datastores (:data:`datastore.INVENTORY_PATHS`)
and never a virtual machine, so its cost does not grow with the number of
VMs. The result is cached for ``vcenter_inventory_cache_seconds``
(monotonic clock); the filtering and ranking are the pure functions of
:mod:`vmware_backend.volume.datastore`.

Within the cache lifetime, each placement made through the service is
accounted in the cached data (thick disks take free space, thin disks add
uncommitted space), so consecutive placements see each other. A placement
that finds no room in cached data is retried once on fresh data.
"""

import collections
import dataclasses
import random
import threading
import time

from oslo_log import log as logging

from vmware_backend import conf
from vmware_backend import exceptions
from vmware_backend.volume import datastore
from vmware_backend.volume import locations
from vmware_backend.volume import pool_names
from vmware_backend.vsphere import inventory as inv

LOG = logging.getLogger(__name__)

Placement = datastore.Placement

_State = collections.namedtuple('_State',
                                'read_at inventory pools rejected')


class PlacementService:
    """Datastores as pools and the choice of where a backing goes.

    :param session: a :class:`vmware_backend.vsphere.session.VCenterSession`.
    :param options: option values (as from ``conf.read_options``); default:
        the session's.
    :param clock: monotonic clock, for tests.
    :param rng: a :class:`random.Random` for tie-breaking, for tests.
    """

    def __init__(self, session, options=None, clock=time.monotonic,
                 rng=None):
        self._session = session
        self._options = dict(options if options is not None
                             else session.options)
        self._ttl = self._options['vcenter_inventory_cache_seconds']
        self._clock = clock
        self._rng = rng or random.Random()
        self._lock = threading.RLock()
        self._state = None

    def invalidate(self):
        """Forget the cached inventory; the next use reads it again."""
        with self._lock:
            self._state = None

    def _fresh(self, state):
        return (state is not None and
                self._clock() - state.read_at < self._ttl)

    def _read(self):
        start = self._clock()
        objects = inv.read_container(self._session, datastore.INVENTORY_PATHS)
        inventory = datastore.index_inventory(objects)
        _hosts, missing = datastore.cluster_hosts(
            inventory, self._options.get('vcenter_cluster_names'))
        if missing:
            LOG.warning('Configured cluster(s) not found in vCenter: %s',
                        ', '.join(missing))
        state = self._derive(start, inventory)
        LOG.debug('Read %d objects (%d datastores, %d usable) in %.3fs.',
                  len(objects), len(inventory.datastores), len(state.pools),
                  self._clock() - start)
        return state

    def _derive(self, read_at, inventory):
        pools, rejected = datastore.build_pools(inventory, self._options)
        return _State(read_at, inventory, pools, rejected)

    def _current(self, refresh=False):
        """The cached state and whether it was read just now."""
        with self._lock:
            if refresh or not self._fresh(self._state):
                self._state = self._read()
                return self._state, True
            return self._state, False

    def inventory(self, refresh=False):
        """The (cached) :class:`datastore.Inventory`."""
        return self._current(refresh)[0].inventory

    def usable_pools(self, refresh=False):
        """The usable datastores as :class:`datastore.Pool` objects."""
        return list(self._current(refresh)[0].pools)

    def pools(self, refresh=False):
        """Cinder's per-pool statistics (a list of dicts).

        ``location_info`` is the full one of :mod:`.locations` (vCenter,
        datastore, clusters, volume folder).
        """
        vcenter_id = self._vcenter_id()
        usable = self.usable_pools(refresh)
        inventory = self.inventory()
        folder = self._options['vcenter_volume_folder']
        result = []
        for pool in usable:
            stats = datastore.pool_stats(pool, vcenter_id)
            stats['location_info'] = locations.location_info(
                vcenter_id, pool.datastore,
                locations.clusters_of(inventory, pool.hosts), folder)
            result.append(stats)
        return result

    def rejected(self, refresh=False):
        """Datastore name -> why it is not a pool."""
        return dict(self._current(refresh)[0].rejected)

    def _vcenter_id(self):
        about = getattr(self._session.service_content, 'about', None)
        return str(getattr(about, 'instanceUuid', None) or '')

    def choose(self, size_gb, disk_type, pool_name=None, target=None,
               host=None, allowed=None):
        """Where to create a ``size_gb`` GiB ``disk_type`` backing.

        :param pool_name: the pool Cinder's scheduler chose, if any.
        :param target: what is placed, for errors (``volume <id>``).
        :param host: a host MoRef the backing must be reachable from (e.g.
            the host of the instance it is attached to); considered even
            outside the configured clusters.
        :param allowed: (MoRefs, why others are not) when only some
            datastores may hold it (a storage policy), or None.
        :returns: a :class:`datastore.Placement`.
        :raises exceptions.NoValidDatastore: nothing fits, with reasons.
        """
        with self._lock:
            state, fresh = self._current()
            try:
                return self._choose(state, size_gb, disk_type, pool_name,
                                    target, host, allowed)
            except exceptions.NoValidDatastore:
                if fresh:
                    raise
            LOG.debug('No datastore fits %s in cached data; reading the '
                      'inventory again.', target)
            state, _fresh = self._current(refresh=True)
            return self._choose(state, size_gb, disk_type, pool_name,
                                target, host, allowed)

    def _choose(self, state, size_gb, disk_type, pool_name, target, host,
                allowed=None):
        if host is None:
            pools, rejected = state.pools, state.rejected
        else:
            pools, rejected = datastore.build_pools(
                state.inventory, self._options, host=host)
        if allowed is not None:
            refs, why = allowed
            rejected = dict(rejected)
            rejected.update({p.datastore_name: why for p in pools
                             if p.datastore not in refs})
            pools = [p for p in pools if p.datastore in refs]
        if pool_name and pool_name not in {p.name for p in pools}:
            pool_name = pool_names.rejected_key(
                state.inventory.datastores, rejected, pool_name)
        pool = datastore.select(pools, size_gb, disk_type,
                                pool_name=pool_name, rejected=rejected,
                                target=target, rng=self._rng)
        placement = datastore.place(state.inventory, pool, host=host,
                                    rng=self._rng)
        self._account(state, pool.datastore, size_gb, disk_type)
        LOG.debug('Placing %s (%s GiB %s) on datastore %s, host %s.',
                  target, size_gb, disk_type, placement.datastore_name,
                  placement.host_name)
        return placement

    def _account(self, state, ref, size_gb, disk_type):
        """Record a placement in the cached data until the next read."""
        datastores = state.inventory.datastores
        datastores[ref] = datastore.consume(datastores[ref], size_gb,
                                            disk_type)
        if self._state is state:
            self._state = self._derive(state.read_at, state.inventory)

    def _datastore_ref(self, ds, state):
        if isinstance(ds, inv.MoRef):
            return ds
        if not isinstance(ds, str):
            return inv.from_suds(ds)
        for ref, props in state.inventory.datastores.items():
            if ds in (props.get('name'), ref.value):
                return ref
        pool = [p for p in state.pools if p.name == ds]
        if pool:
            return pool[0].datastore
        raise exceptions.InventoryNotFound(kind='Datastore', name=ds)

    def find_datastore(self, name, refresh=False):
        """The MoRef of the datastore (or pool) called ``name``.

        Any datastore of the inventory, usable or not.

        :raises exceptions.InventoryNotFound: no such datastore.
        """
        return self._datastore_ref(name, self._current(refresh)[0])

    def hosts_mounting(self, ds, refresh=False):
        """Usable hosts (MoRefs) that mount ``ds`` (a MoRef or name).

        Empty when ``ds`` is not a usable pool.
        """
        state = self._current(refresh)[0]
        ref = self._datastore_ref(ds, state)
        for pool in state.pools:
            if pool.datastore == ref:
                return list(pool.hosts)
        return []

    def datastores_for_host(self, host, refresh=False):
        """The pools (:class:`datastore.Pool`) ``host`` can use.

        Applies every datastore filter except cluster membership, so it
        also answers for a host outside the configured clusters.
        """
        state = self._current(refresh)[0]
        pools, _rejected = datastore.build_pools(
            state.inventory, self._options, host=inv.from_suds(host))
        return pools

    def place_on(self, ds, host=None, target='a backing', refresh=False):
        """A :class:`datastore.Placement` on a given datastore.

        :param ds: datastore MoRef or name; it must be usable.
        :param host: a host MoRef that must mount it (e.g. an instance's
            host, even outside the configured clusters); default: a random
            usable host mounting it.
        :raises exceptions.NoValidDatastore: ``ds`` is not usable (from
            ``host``), naming why.
        """
        state = self._current(refresh)[0]
        ref = self._datastore_ref(ds, state)
        if host is None:
            pools, rejected = state.pools, state.rejected
        else:
            host = inv.from_suds(host)
            pools, rejected = datastore.build_pools(
                state.inventory, self._options, host=host)
        for pool in pools:
            if pool.datastore == ref:
                return datastore.place(state.inventory, pool, host=host,
                                       rng=self._rng)
        name = state.inventory.datastores.get(ref, {}).get('name', ref.value)
        reason = rejected.get(name, 'not found')
        raise exceptions.NoValidDatastore(
            'Datastore %s cannot hold %s: %s' % (name, target, reason),
            volume=target, reasons=reason)

    def place_at(self, location, target='a backing'):
        """A :class:`datastore.Placement` at another backend's pool.

        Reads the inventory again (a migration is rare, and the other
        backend may use datastores and clusters this one never reads).

        :param location: a :class:`locations.Location` with clusters: the
            datastore, and the clusters whose usable hosts may run it.
        :raises exceptions.NoValidDatastore: no usable host of those
            clusters mounts the datastore, naming why.
        """
        state = self._current(refresh=True)[0]
        inventory = state.inventory
        clusters = set(location.clusters)
        names = sorted({inventory.compute_resources.get(c, {}).get('name')
                        or c.value for c in clusters})
        options = dict(self._options, vcenter_cluster_names=names,
                       vcenter_datastore_regex=None,
                       vcenter_datastore_types=list(conf.DATASTORE_TYPES))
        pools, rejected = datastore.build_pools(inventory, options)
        for pool in pools:
            if pool.datastore != location.datastore:
                continue
            hosts = tuple(h for h in pool.hosts
                          if inventory.hosts[h]['parent'] in clusters)
            if hosts:
                return datastore.place(
                    inventory, dataclasses.replace(pool, hosts=hosts),
                    rng=self._rng)
        name = inventory.datastores.get(location.datastore, {}).get(
            'name', location.datastore.value)
        reason = rejected.get(name) or (
            'no usable host of cluster(s) %s mounts it' % ', '.join(names)
            if location.datastore in inventory.datastores
            else 'no such datastore in vCenter')
        raise exceptions.NoValidDatastore(
            'Datastore %s cannot hold %s: %s' % (name, target, reason),
            volume=target, reasons=reason)
