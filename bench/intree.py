"""Per-operation client cost against Cinder 29's in-tree VMDK driver.

``python -m bench --only intree`` (needs Cinder: ``tox -e bench``
installs it) starts ONE vCenter simulator and loads, in this process, this
backend's Cinder driver and Cinder's own
``cinder.volume.drivers.vmware.vmdk.VMwareVcVmdkDriver`` from one
cinder.conf, as ``tox -e cinder`` does (the in-tree session speaks
``scheme='http'``: the simulator serves plain http). Each lifecycle
operation then runs ``--repeat`` times on Cinder's versioned objects with
both drivers, alternating which goes first, and the table gives medians of:
SOAP calls, bytes received (the answers as they came, before parsing),
wall time and client CPU time.

Fairness:

* the same counting probe (:class:`vmware_backend.vsphere.apisession.
  RequestProbe`, a suds message plugin) on both suds clients, no proxy;
* task polling equal and small: the in-tree driver's
  ``vmware_task_poll_interval`` and this driver's
  ``vcenter_task_poll_interval`` are both :data:`TASK_POLL_INTERVAL`
  (oslo.vmware polls at once, then at that interval; ours polls at once and
  backs off from 10 ms to it), so the times measure client cost, not
  polling;
* the same cluster (``DC0_C0``) and datastore; the in-tree driver in its
  ``vmware_snapshot_format = COW`` (vSphere snapshots, as this driver's;
  its default makes a full template copy per snapshot);
* the in-tree driver reads volume type extra specs from Cinder's database
  (``volume_types.get_volume_type_extra_specs``); the bench answers that
  from the types it built (no SOAP involved).

Goal (issue 11, goal 2): wall time <= the in-tree driver's where the call
counts are equal, <= 0.5x where ours makes fewer calls.
"""

import collections
import os
import sys
import tempfile
import threading
import time
import uuid
import warnings

from bench import intree_report
from vmware_backend.testbed import intree as in_tree

TASK_POLL_INTERVAL = 0.01
REPEAT = 5
HOST = 'bench-node@%s'
POOL = 'LocalDS_0'
CLUSTER = 'DC0_C0'
INSTANCE_PATH = 'DC0/vm/DC0_C0_RP0_VM0'
OURS, INTREE = intree_report.OURS, intree_report.INTREE
LABELS = intree_report.LABELS


def _load_cinder():
    """Prepare the process as cinder-volume does (native threads)."""
    from vmware_backend import utils
    with warnings.catch_warnings():
        # futurist's and Cinder's notices that eventlet, not used here, is
        # deprecated.
        warnings.filterwarnings('ignore', message=r'\s*Eventlet is deprecated')
        utils.use_threading_backend()
        try:
            from cinder import monkey_patch
        except ImportError as err:
            raise SystemExit('bench --only intree needs Cinder 29 (%s); run '
                             'it with tox -e bench -- --only intree' % err)
    monkey_patch.patch(backend='threading')
    from cinder import objects
    objects.register_all()


class Probe:
    """One :class:`RequestProbe` and its counters, for one suds client."""

    def __init__(self):
        from vmware_backend.vsphere import apisession
        self.lock = threading.Lock()
        self.calls = collections.Counter()
        self.bytes = collections.Counter()
        self.plugin = apisession.RequestProbe(self.calls, self.lock,
                                              self.bytes)

    def snapshot(self):
        with self.lock:
            return collections.Counter(self.calls), self.bytes['received']


class Bench:
    """Both drivers on one simulator, and the samples measured."""

    def __init__(self, server, tmp):
        from cinder import context
        self.server = server
        self.tmp = tmp
        self.context = context.get_admin_context()
        self.samples = collections.defaultdict(list)
        self.extra_specs = {}
        self.project_id = uuid.uuid4().hex
        self.drivers = {}
        self.probes = {}

    # Set-up ---------------------------------------------------------------

    def conf_sections(self):
        server = self.server
        return {
            'DEFAULT': {'enabled_backends': '%s,%s' % (OURS, INTREE)},
            'coordination': {'backend_url': 'file://%s' % os.path.join(
                self.tmp, 'coordination')},
            OURS: {
                'volume_driver': 'vmware_backend.openstack.cinder_driver.'
                                 'VMwareBackendCinderDriver',
                'volume_backend_name': OURS,
                'vcenter_host': '127.0.0.1',
                'vcenter_port': server.port,
                'vcenter_scheme': 'http',
                'vcenter_username': server.username,
                'vcenter_password': server.password,
                'vcenter_wsdl_location': server.wsdl,
                'vcenter_cluster_names': CLUSTER,
                'vcenter_task_poll_interval': TASK_POLL_INTERVAL},
            INTREE: in_tree.section(server, CLUSTER, TASK_POLL_INTERVAL,
                                    volume_backend_name=INTREE,
                                    vmware_snapshot_format='COW'),
        }

    def start(self):
        from cinder import coordination
        from cinder.volume import configuration
        from cinder.volume import manager
        from cinder.volume import volume_types
        from oslo_config import cfg
        from oslo_utils import importutils
        path = os.path.join(self.tmp, 'cinder.conf')
        with open(path, 'w') as f:
            for name, values in self.conf_sections().items():
                f.write('[%s]\n' % name)
                f.writelines('%s = %s\n' % item for item in values.items())
        cfg.CONF(['--config-file', path], project='cinder',
                 default_config_files=[])
        coordination.COORDINATOR.start()
        # The in-tree driver's extra specs come from Cinder's database.
        volume_types.get_volume_type_extra_specs = self._extra_specs
        in_tree_class = in_tree.driver_class()
        for name in (OURS, INTREE):
            config = configuration.Configuration(
                manager.volume_backend_opts, config_group=name)
            kwargs = dict(configuration=config, host=HOST % name,
                          cluster_name=None)
            if name == OURS:
                driver = importutils.import_object(config.volume_driver,
                                                   **kwargs)
            else:
                driver = in_tree_class(**kwargs)
            driver.do_setup(self.context)
            driver.check_for_setup_error()
            self.drivers[name] = driver
            self.probes[name] = Probe()
        self.drivers[OURS].core.session.vim.client.options.plugins.append(
            self.probes[OURS].plugin)
        self.drivers[INTREE].session.vim.client.options.plugins.append(
            self.probes[INTREE].plugin)
        stats = self.drivers[OURS].get_volume_stats(refresh=True)
        # Pools are named after the datastore's moref (pool_names.py).
        pools = [p for p in stats['pools'] if p['datastore_name'] == POOL]
        if not pools:
            raise RuntimeError('no pool on datastore %s' % POOL)
        self.pool = dict(pools[0], volume_backend_name=OURS)
        session = self.drivers[OURS].core.session
        self.instance = session.invoke(
            'FindByInventoryPath', session.service_content.searchIndex,
            inventoryPath=INSTANCE_PATH)
        if self.instance is None:
            raise RuntimeError('the simulator has no VM %s' % INSTANCE_PATH)
        self.types = {kind: self.volume_type(**specs) for kind, specs in (
            ('full', {'vmware:vmdk_type': 'thin'}),
            ('linked', {'vmware:vmdk_type': 'thin',
                        'vmware:clone_type': 'linked'}))}

    def _extra_specs(self, type_id):
        return dict(self.extra_specs.get(type_id, {}))

    def close(self):
        from cinder import coordination
        for name, driver in self.drivers.items():
            try:
                if name == OURS:
                    driver.core.session.close()
                else:
                    driver.session.logout()
            except Exception:  # the simulator stops next anyway
                pass
        coordination.COORDINATOR.stop()

    # Cinder's objects ----------------------------------------------------

    def volume_type(self, **specs):
        from cinder import objects
        type_id = str(uuid.uuid4())
        self.extra_specs[type_id] = dict(specs)
        return objects.VolumeType(self.context, id=type_id,
                                  name='bench-%s' % type_id[:8],
                                  extra_specs=dict(specs), is_public=True,
                                  qos_specs_id=None)

    def volume(self, backend, kind='full', size=1):
        from cinder import objects
        volume_type = self.types[kind]
        volume_id = str(uuid.uuid4())
        return objects.Volume(
            self.context, id=volume_id, _name_id=None, size=size,
            status='creating', attach_status='detached', multiattach=False,
            host='%s#%s' % (HOST % backend, self.pool['pool_name']),
            cluster_name=None,
            volume_type_id=volume_type.id, volume_type=volume_type,
            volume_attachment=objects.VolumeAttachmentList(objects=[]),
            display_name='bench-%s' % volume_id[:8],
            project_id=self.project_id, user_id=self.project_id)

    def snapshot(self, volume):
        from cinder import objects
        snapshot_id = str(uuid.uuid4())
        return objects.Snapshot(
            self.context, id=snapshot_id, volume_id=volume.id, volume=volume,
            volume_size=volume.size, volume_type_id=volume.volume_type_id,
            status='creating', display_name='bench-snap',
            display_description='bench', provider_location=None,
            project_id=self.project_id, user_id=self.project_id)

    def host_of_pool(self):
        """Cinder's ``host`` dict of this driver's pool (retype)."""
        return {'host': '%s#%s' % (HOST % OURS, self.pool['pool_name']),
                'capabilities': dict(self.pool)}

    # Measuring -------------------------------------------------------------

    def measure(self, backend, key, func, *args):
        probe = self.probes[backend]
        calls, received = probe.snapshot()
        cpu = time.process_time()
        start = time.perf_counter()
        try:
            result = func(*args)
        except Exception as err:
            raise RuntimeError('%s (%s) failed: %s: %s' % (
                LABELS[key], backend, type(err).__name__, err)) from err
        wall = time.perf_counter() - start
        cpu = time.process_time() - cpu
        after_calls, after_received = probe.snapshot()
        methods = after_calls - calls
        self.samples[(backend, key)].append({
            'calls': sum(methods.values()), 'methods': dict(methods),
            'bytes': after_received - received, 'wall': wall, 'cpu': cpu})
        return result

    def lifecycle(self, backend):
        """One repetition of every operation with one driver."""
        d = self.drivers[backend]
        m = self.measure
        source = self.volume(backend)
        m(backend, 'create', d.create_volume, source)
        source.status = 'available'
        snapshot = self.snapshot(source)
        update = m(backend, 'snapshot', d.create_snapshot, snapshot) or {}
        snapshot.update(update)
        snapshot.status = 'available'
        from_snap = self.volume(backend)
        m(backend, 'from_snapshot', d.create_volume_from_snapshot,
          from_snap, snapshot)
        full = self.volume(backend)
        m(backend, 'clone_full', d.create_cloned_volume, full, source)
        linked = self.volume(backend, 'linked')
        m(backend, 'clone_linked', d.create_cloned_volume, linked, source)
        # (a disk with snapshots cannot grow: the full clone does)
        full.status = 'extending'
        m(backend, 'extend', d.extend_volume, full, 2)
        full.size = 2
        source.status = 'attaching'
        connector = {'ip': '192.0.2.10', 'host': 'compute-1',
                     'initiator': None,
                     'instance': self.instance.value}
        m(backend, 'attach', d.initialize_connection, source, connector)
        source.status = 'detaching'
        m(backend, 'terminate', d.terminate_connection, source, connector)
        source.status = 'retyping'
        m(backend, 'retype', d.retype, self.context, source,
          self.types['linked'], {}, self.host_of_pool())
        source.status = 'available'
        for volume in (linked, full, from_snap):
            volume.status = 'deleting'
        d.delete_volume(linked)
        d.delete_volume(full)
        snapshot.status = 'deleting'
        m(backend, 'delete_snapshot', d.delete_snapshot, snapshot)
        m(backend, 'delete', d.delete_volume, from_snap)
        source.status = 'deleting'
        d.delete_volume(source)

    def manage(self, backend):
        """Import an existing disk; each driver's own reference kind."""
        d = self.drivers[backend]
        existing = self.volume(backend)
        d.create_volume(existing)
        existing.status = 'available'
        adopted = self.volume(backend)
        if backend == OURS:
            # The backing forgotten by Cinder ("volume unmanage"), then
            # imported by its instanceUuid.
            d.unmanage(existing)
            reference = {'source-id': existing.id}
        else:
            # The in-tree reference: "vmdk_path@vm_inventory_path"; the
            # disk moves into a new backing.
            ops = d.volumeops
            backing = ops.get_backing(existing.name, existing.id)
            reference = {'source-name': '%s@%s' % (
                ops.get_vmdk_path(backing),
                ops.get_inventory_path(backing).lstrip('/'))}
        self.measure(backend, 'manage', d.manage_existing, adopted,
                     reference)
        adopted.status = 'deleting'
        d.delete_volume(adopted)
        if backend == INTREE:
            existing.status = 'deleting'
            d.delete_volume(existing)


def run(repeat=REPEAT, progress=lambda message: None):
    """Measure both drivers on one simulator; returns the results dict."""
    from vmware_backend.testbed import vcsim
    began = time.monotonic()
    load = [os.getloadavg()]
    with tempfile.TemporaryDirectory(prefix='bench-intree-') as tmp, \
            vcsim.VcsimServer() as server:
        bench = Bench(server, tmp)
        try:
            bench.start()
            progress('both drivers set up')
            for index in range(repeat):
                order = (OURS, INTREE) if index % 2 == 0 else (INTREE, OURS)
                for backend in order:
                    bench.lifecycle(backend)
                for backend in order:
                    bench.manage(backend)
                progress('repetition %d of %d done' % (index + 1, repeat))
                load.append(os.getloadavg())
        finally:
            bench.close()
    return {'repeat': repeat, 'task_poll_interval': TASK_POLL_INTERVAL,
            'seconds': time.monotonic() - began,
            'load_average': [min(v[0] for v in load),
                             max(v[0] for v in load)],
            'samples': {'%s:%s' % key: value
                        for key, value in bench.samples.items()}}


def main(repeat=REPEAT, output=None):
    """Run, print the table; 0, or 1 when an operation failed."""
    _load_cinder()

    def progress(message):
        sys.stderr.write('bench: intree: %s\n' % message)
        sys.stderr.flush()

    try:
        results = run(repeat, progress)
    except Exception as err:  # named, with its operation (measure)
        progress('failed: %s: %s' % (type(err).__name__, err))
        return 1
    text = intree_report.report(results)
    print(text)
    if output:
        for path in intree_report.write(results, text, output):
            progress('wrote %s' % path)
    return 0


if __name__ == '__main__':
    sys.exit(main())
