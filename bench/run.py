"""The simulator-driving part of :mod:`bench`.

:func:`run_size` starts a fresh simulator, drives the volume operations
through :class:`vmware_backend.volume.driver.VMwareVolumeDriver` on one counted
session and returns plain measurements (see :func:`bench.report.
sample`). :func:`run_taskwait` starts one with a task delay and times task
waits (see :mod:`bench.taskwait`). Import it only after
oslo.service's backend is chosen
(:func:`vmware_backend.utils.use_threading_backend`), as oslo.vmware
selects one when it is imported.
"""

import collections
import time

from oslo_service import loopingcall
from oslo_vmware import vim_util

from bench import report as bench
from bench import taskwait as bench_taskwait
from vmware_backend import conf
from vmware_backend.testbed import vcsim
from vmware_backend.testbed import wsdl
from vmware_backend.volume import driver as vmware_driver
from vmware_backend.volume import plain_objects
from vmware_backend.vsphere import inventory
from vmware_backend.vsphere import session as vc_session

# Pages of Cinder's in-tree driver: its vmware_max_objects_retrieval default.
CINDER_PAGE_SIZE = 100
# What Cinder's VMwareVolumeOps.build_backing_ref_cache reads of every VM.
CINDER_SCAN_PATHS = ['name', 'config.instanceUuid',
                     'config.extraConfig["cinder.volume.id"]']
# Longer than any run, so "warm" and "steady state" never see an expiry.
INVENTORY_CACHE_SECONDS = 3600.0
LINKED = {'vmware:clone_type': 'linked'}


class BenchError(Exception):
    """An operation failed while being measured."""


class Recorder:
    """Counts the SOAP calls and the time of measured calls, by key."""

    def __init__(self, session):
        self._session = session
        self.samples = collections.defaultdict(list)

    def measure(self, key, func, *args, **kwargs):
        """Call ``func`` and record its calls and duration under ``key``."""
        before = self._session.counts_snapshot()
        received = self._session.bytes_snapshot()['received']
        cpu = time.process_time()
        start = time.perf_counter()
        try:
            result = func(*args, **kwargs)
        except Exception as err:
            raise BenchError('%s failed: %s: %s' % (
                bench.OPERATIONS_BY_KEY[key].label, type(err).__name__,
                err)) from err
        elapsed = time.perf_counter() - start
        cpu = time.process_time() - cpu
        calls = self._session.counts_snapshot() - before
        received = self._session.bytes_snapshot()['received'] - received
        self.samples[key].append(bench.sample(calls, elapsed, received, cpu))
        return result


def count_objects(session):
    """Managed objects of each of :data:`bench.OBJECT_TYPES`, read back."""
    objects = inventory.read_container(
        session, {type_name: [] for type_name, _label in
                  bench.OBJECT_TYPES})
    counts = collections.Counter(ref.type for ref, _props in objects)
    return {type_name: counts.get(type_name, 0)
            for type_name, _label in bench.OBJECT_TYPES}


def cinder_scan(session, page_size=CINDER_PAGE_SIZE):
    """Read every VM the way Cinder's ``build_backing_ref_cache`` does.

    oslo.vmware's ``get_objects`` (recursive traversal from the root
    folder) and ``continue_retrieval`` until the last page.

    :returns: the number of VMs read.
    """
    api = session.api
    vim = api.vim
    result = api.invoke_api(vim_util, 'get_objects', vim, 'VirtualMachine',
                            page_size, properties_to_collect=CINDER_SCAN_PATHS)
    seen = 0
    while result:
        seen += len(getattr(result, 'objects', None) or [])
        result = api.invoke_api(vim_util, 'continue_retrieval', vim, result)
    return seen


def _measure_driver(session, options, repeat, rec, progress):
    """Every driver operation, ``repeat`` times, through ``rec``."""
    driver = vmware_driver.VMwareVolumeDriver(options, session=session)

    for _i in range(repeat):
        rec.measure('stats_cold', driver.get_volume_stats, refresh=True)
        rec.measure('stats_warm', driver.get_volume_stats)

    # The first volume of a driver: nothing cached, its folder missing (a
    # folder of its own per repetition, below the datacenter's VM folder).
    firsts = []
    for index in range(repeat):
        fresh = vmware_driver.VMwareVolumeDriver(
            dict(options,
                 vcenter_volume_folder='bench-first-%d/Volumes' % index),
            session=session)
        volume = plain_objects.volume()
        rec.measure('create_first', fresh.create_volume, volume)
        firsts.append(volume)

    # Steady state: placement data and folder cached by an earlier create.
    driver.create_volume(plain_objects.volume())
    volumes = []
    for _i in range(repeat):
        volume = plain_objects.volume()
        rec.measure('create', driver.create_volume, volume)
        volumes.append(volume)
    progress('  create/stats done')

    for volume in volumes:
        driver._remember(volume.id, None)
        rec.measure('lookup_cold', driver._backing, volume.id)
    for volume in volumes:
        rec.measure('lookup_warm', driver._backing, volume.id)

    for volume in volumes:
        snapshot = plain_objects.snapshot(volume)
        rec.measure('snapshot', driver.create_snapshot, snapshot)
        full = plain_objects.volume()
        rec.measure('clone_full', driver.create_volume_from_snapshot, full,
                    snapshot)
        linked = plain_objects.volume(specs=LINKED)
        rec.measure('clone_linked', driver.create_volume_from_snapshot,
                    linked, snapshot)
        rec.measure('extend', driver.extend_volume, full, 2)
        rec.measure('delete_linked', driver.delete_volume, linked)
        rec.measure('delete_snapshot', driver.delete_snapshot, snapshot)
        driver.delete_volume(full)
    progress('  lifecycle done')

    for _i in range(repeat):
        rec.measure('manageable', driver.get_manageable_volumes, [], None,
                    1000, 0, ['size'], ['asc'])
    # The same listing with the VM pages parsed by suds (the reference).
    driver.raw_reads = False
    try:
        for _i in range(repeat):
            rec.measure('manageable_suds', driver.get_manageable_volumes, [],
                        None, 1000, 0, ['size'], ['asc'])
    finally:
        driver.raw_reads = True

    for volume in volumes:
        rec.measure('delete', driver.delete_volume, volume)
    # The main driver never saw these volumes: no cached moref.
    for volume in firsts:
        rec.measure('delete_cold', driver.delete_volume, volume)


def prepare():
    """Build the simulator and the WSDL now, not inside a start-up time.

    :returns: the seconds it took (near zero when both are cached).
    """
    began = time.monotonic()
    vcsim.build()
    wsdl.assemble()
    return time.monotonic() - began


def run_size(size, flags, repeat, progress=lambda message: None):
    """Measure every operation on a fresh simulator started with ``flags``.

    :param size: the number of VMs asked for (the report's key).
    :returns: a dict with ``size``, ``flags``, ``startup_seconds``,
        ``objects`` (type -> count read back), ``seconds`` (the whole run)
        and ``operations`` (key -> list of samples).
    """
    progress('%d VMs: starting vcsim %s' % (size, ' '.join(
        '-%s %s' % item for item in sorted(flags.items()))))
    began = time.monotonic()
    server = vcsim.VcsimServer(flags)
    server.start()
    startup = time.monotonic() - began
    session = None
    try:
        options = conf.option_defaults(**server.options(
            vcenter_inventory_cache_seconds=INVENTORY_CACHE_SECONDS))
        session = vc_session.VCenterSession(options)
        session.service_content  # logs in
        objects = count_objects(session)
        progress('%d VMs: vcsim up in %.1fs with %s' % (
            size, startup, ', '.join(
                '%d %s' % (objects[t], label)
                for t, label in bench.OBJECT_TYPES)))
        rec = Recorder(session)
        # On the untouched inventory, before any backing exists.
        for _i in range(repeat):
            rec.measure('cinder_scan', cinder_scan, session)
        _measure_driver(session, options, repeat, rec, progress)
    finally:
        if session is not None:
            session.close()
        server.stop()
    seconds = time.monotonic() - began
    progress('%d VMs: done in %.1fs' % (size, seconds))
    return {'size': size, 'flags': dict(flags), 'startup_seconds': startup,
            'objects': objects, 'seconds': seconds,
            'operations': dict(rec.samples)}


# Task waits -----------------------------------------------------------------

TASKWAIT_FOLDER = 'bench-taskwait'


def oslo_service_backend():
    """The oslo.service backend of oslo.vmware's looping calls, by name."""
    module = loopingcall.FixedIntervalLoopingCall.__module__
    for name in ('threading', 'eventlet'):
        if '_%s' % name in module:
            return name
    return module


def taskwait_waiters(options):
    """Poll schedule parameters of each :data:`bench_taskwait.WAITERS`."""
    return {
        'ours': {'schedule': 'backoff',
                 'first_delay': vc_session.FIRST_POLL_DELAY,
                 'max_interval': options['vcenter_task_poll_interval']},
        'oslo': {'schedule': 'fixed',
                 'interval': bench_taskwait.CINDER_TASK_POLL_INTERVAL},
    }


def _taskwait_folder(session):
    """A new folder below the first datacenter's VM folder."""
    root = session.service_content.rootFolder
    children = session.get_properties(root, ['childEntity'])['childEntity']
    datacenters = [ref for ref in children.ManagedObjectReference
                   if vim_util.get_moref_type(ref) == 'Datacenter']
    if not datacenters:
        raise BenchError('the simulator has no datacenter')
    vm_folder = session.get_properties(datacenters[0],
                                       ['vmFolder'])['vmFolder']
    return session.invoke('CreateFolder', vm_folder, name=TASKWAIT_FOLDER)


def time_task_wait(session, wait, folder, new_name):
    """Rename ``folder`` with a task and ``wait`` for it; one sample.

    :param session: the counted session that starts the task and whose
        requests the wait sends.
    :param wait: a callable taking the task moref.
    """
    start = time.perf_counter()
    task = session.invoke('Rename_Task', folder, newName=new_name)
    started = time.perf_counter()
    before = session.counts_snapshot()
    info = wait(task)
    done = time.perf_counter()
    calls = session.counts_snapshot() - before
    if getattr(info, 'state', None) != 'success':
        raise BenchError('Rename_Task ended in state %s'
                         % getattr(info, 'state', None))
    return bench_taskwait.wait_sample(calls, started - start, done - started)


def run_taskwait(delay_ms, repeat, progress=lambda message: None):
    """Task waits on a fresh simulator whose tasks take ``delay_ms``.

    Two logged-in sessions: one with the default options, whose
    :meth:`~vmware_backend.vsphere.session.VCenterSession.wait_for_task`
    is ours, and one whose oslo.vmware session has Cinder's task poll interval,
    whose ``api.wait_for_task`` is oslo.vmware's own. Each repetition
    renames the bench's folder once per waiter, alternating.

    :returns: a dict with ``delay_ms``, ``flags``, ``startup_seconds``,
        ``seconds`` (the whole run), ``oslo_service_backend``, ``waiters``
        (key -> poll schedule) and ``samples`` (key -> list of
        :func:`bench_taskwait.wait_sample` dicts).
    """
    flags = {'task-delay-ms': delay_ms}
    progress('task waits, %d ms delay: starting vcsim -task-delay-ms %d'
             % (delay_ms, delay_ms))
    began = time.monotonic()
    server = vcsim.VcsimServer(flags)
    server.start()
    startup = time.monotonic() - began
    sessions = []
    try:
        options = conf.option_defaults(**server.options())
        waiters = taskwait_waiters(options)
        ours = vc_session.VCenterSession(options)
        sessions.append(ours)
        oslo = vc_session.VCenterSession(dict(
            options,
            vcenter_task_poll_interval=waiters['oslo']['interval']))
        sessions.append(oslo)
        for session in sessions:
            session.service_content  # logs in, outside the measurements
        folder = _taskwait_folder(ours)
        waits = {'ours': (ours, ours.wait_for_task),
                 'oslo': (oslo, oslo.api.wait_for_task)}
        samples = collections.defaultdict(list)
        for index in range(repeat):
            for waiter in bench_taskwait.WAITERS:
                session, wait = waits[waiter.key]
                name = '%s-%s-%d' % (TASKWAIT_FOLDER, waiter.key, index)
                try:
                    sample = time_task_wait(session, wait, folder, name)
                except BenchError:
                    raise
                except Exception as err:
                    raise BenchError('task wait (%s) failed: %s: %s' % (
                        waiter.label, type(err).__name__, err)) from err
                samples[waiter.key].append(sample)
                last = name
        renamed = ours.get_properties(folder, ['name']).get('name')
        if repeat and renamed != last:
            raise BenchError('the folder is named %r after the renames, not '
                             '%r' % (renamed, last))
    finally:
        for session in sessions:
            session.close()
        server.stop()
    seconds = time.monotonic() - began
    progress('task waits, %d ms delay: done in %.1fs' % (delay_ms, seconds))
    return {'delay_ms': delay_ms, 'flags': flags,
            'startup_seconds': startup, 'seconds': seconds,
            'oslo_service_backend': oslo_service_backend(),
            'waiters': waiters, 'samples': dict(samples)}
