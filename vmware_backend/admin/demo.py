"""The volume lifecycle as a demonstration, step by step.

:class:`Lifecycle` drives the volume driver
through what Cinder and Nova do with a volume: create, extend, snapshot,
clone (linked and full, from a snapshot and from a volume), connect,
attach, detach, revert, delete, statistics. Every step records the SOAP
requests its operation sent (in total and per method), the time it took
and a short result, and then checks on vCenter that the state it claims is
there (e.g. after a create, the backing exists with one disk of the right
capacity). A failing step stops the run; whatever the run created is then
removed.

Volumes and snapshots are plain :class:`types.SimpleNamespace` objects with
the attributes the driver reads.
"""

import dataclasses
import time

from oslo_log import log as logging

from vmware_backend.admin import demo_checks
from vmware_backend import exceptions
from vmware_backend.volume import plain_objects
from vmware_backend.vsphere import ops as vsphere_ops
from vmware_backend.vsphere import specs

LOG = logging.getLogger(__name__)

KiB_PER_GiB = 1024 * 1024

OK = 'ok'
FAILED = 'failed'
SKIPPED = 'skipped'


@dataclasses.dataclass
class Step:
    """What one step did and cost."""

    name: str
    status: str = 'pending'
    calls: int = 0
    methods: dict = dataclasses.field(default_factory=dict)
    seconds: float = 0.0
    result: str = ''
    error: str = None

    def as_dict(self):
        return dataclasses.asdict(self)


class Skip(Exception):
    """The step cannot run in this set-up; the message says why."""


# What each step reads back from vCenter (see demo_checks).
CheckFailed = demo_checks.CheckFailed
pick_instance = demo_checks.pick_instance
_State = demo_checks.BackingState
_expect = demo_checks.expect
_error_text = demo_checks.error_text


class Lifecycle:
    """Runs the demonstration against one vCenter.

    :param driver: a :class:`vmware_backend.volume.driver.VMwareVolumeDriver`.
    :param instance: moref value of an instance VM to attach to, or None
        to skip the attach and detach steps.
    :param progress: callable receiving one line of text per event.
    """

    def __init__(self, driver, instance=None, progress=None,
                 clock=time.monotonic):
        self.driver = driver
        self.session = driver.session
        self.ops = driver.ops
        self.instance = instance
        self._progress = progress or (lambda text: None)
        self._clock = clock
        self.steps = []
        self._current = None
        self._created = []
        self._deleted = set()
        self._attached = False
        self.source = self.snapshot = None
        self.from_snap_linked = self.from_snap_full = None
        self.clone_full = self.clone_linked = None

    def plan(self):
        """The (name, method) pairs of the steps, in order."""
        return [
            ('create volume', self.create_volume),
            ('extend volume', self.extend_volume),
            ('create snapshot', self.create_snapshot),
            ('create volume from snapshot (linked)',
             self.create_from_snapshot_linked),
            ('create volume from snapshot (full)',
             self.create_from_snapshot_full),
            ('clone volume (full)', self.clone_volume_full),
            ('clone volume (linked)', self.clone_volume_linked),
            ('initialize connection', self.initialize_connection),
            ('attach volume', self.attach_volume),
            ('detach volume', self.detach_volume),
            ('revert to snapshot', self.revert_to_snapshot),
            ('delete snapshot in use (refused)', self.delete_busy_snapshot),
            ('delete volume (linked, from snapshot)',
             lambda: self.delete_linked(self.from_snap_linked,
                                        self.snapshot.name)),
            ('delete volume (linked clone)',
             lambda: self.delete_linked(
                 self.clone_linked, 'clone-%s' % self.clone_linked.id)),
            ('delete snapshot', self.delete_snapshot),
            ('delete volume (full, from snapshot)',
             lambda: self.delete_volume(self.from_snap_full)),
            ('delete volume (full clone)',
             lambda: self.delete_volume(self.clone_full)),
            ('delete volume (source)',
             lambda: self.delete_volume(self.source)),
            ('get volume stats', self.get_volume_stats),
        ]

    # Running -----------------------------------------------------------

    def run(self):
        """Run every step; returns the list of :class:`Step`.

        After a failure the remaining steps are skipped, and a final
        ``clean up`` step removes what the run created.
        """
        plan = self.plan()
        failed = False
        try:
            for index, (name, func) in enumerate(plan, 1):
                step = Step(name)
                self.steps.append(step)
                if failed:
                    step.status = SKIPPED
                    step.result = 'not run: an earlier step failed'
                    continue
                self._progress('[%d/%d] %s ...' % (index, len(plan), name))
                self._run_step(step, func)
                self._progress('[%d/%d] %s: %s (%d SOAP calls, %.2fs): %s'
                               % (index, len(plan), name, step.status,
                                  step.calls, step.seconds,
                                  step.error or step.result))
                failed = step.status == FAILED
        finally:
            if self._leftovers():
                self._clean_up()
        return self.steps

    @property
    def ok(self):
        """Whether every step that ran succeeded."""
        return all(step.status in (OK, SKIPPED) for step in self.steps)

    def _run_step(self, step, func):
        self._current = step
        try:
            step.result = func() or ''
            step.status = OK
        except Skip as skip:
            step.status = SKIPPED
            step.result = str(skip)
        except CheckFailed as err:
            step.status = FAILED
            step.error = 'check failed: %s' % err
        except Exception as err:
            LOG.debug('Step %s failed.', step.name, exc_info=True)
            step.status = FAILED
            step.error = _error_text(err)
        finally:
            self._current = None

    def _timed(self, func, *args, **kwargs):
        """Call ``func``, adding its SOAP calls and time to the step."""
        step = self._current
        before = self.session.counts_snapshot()
        start = self._clock()
        try:
            return func(*args, **kwargs)
        finally:
            delta = self.session.counts_snapshot() - before
            step.seconds += self._clock() - start
            step.calls += sum(delta.values())
            for method, count in delta.items():
                step.methods[method] = step.methods.get(method, 0) + count

    def _state(self, volume_id):
        ref = self.ops.find_vm_by_instance_uuid(volume_id)
        if ref is None:
            return None
        return _State(ref, self.ops.properties(ref))

    def _require(self, volume):
        state = self._state(volume.id)
        _expect(state is not None, 'no backing found for volume %s',
                volume.id)
        return state

    def _check_size(self, state, size):
        disk = state.disk()
        _expect(disk.capacityInKB == size * KiB_PER_GiB,
                'disk of %s is %s KiB, expected %s GiB', state.moref,
                disk.capacityInKB, size)

    def _check_new_backing(self, volume, linked):
        state = self._require(volume)
        self._check_size(state, volume.size)
        _expect(state.extra.get(specs.KEY_MANAGED) == 'true' and
                state.extra.get(specs.KEY_VOLUME_ID) == volume.id,
                'backing %s lacks the managed/volume id extraConfig',
                state.moref)
        has_parent = getattr(state.disk().backing, 'parent', None) \
            is not None
        _expect(has_parent == linked, 'disk of %s %s a parent disk; '
                'expected a %s clone', state.moref,
                'has' if has_parent else 'has no',
                'linked' if linked else 'full')
        return state

    def _created_volume(self, size, clone_type=None):
        volume = plain_objects.volume(
            size, {'vmware:clone_type': clone_type} if clone_type else None)
        self._created.append(volume)
        return volume

    # Steps -------------------------------------------------------------

    def create_volume(self):
        self.source = self._created_volume(1)
        self._timed(self.driver.create_volume, self.source)
        state = self._check_new_backing(self.source, linked=False)
        return 'backing %s, 1 GiB on %s' % (state.moref, state.datastore())

    def extend_volume(self):
        self._timed(self.driver.extend_volume, self.source, 2)
        self.source.size = 2
        state = self._require(self.source)
        self._check_size(state, 2)
        return 'disk is now 2 GiB'

    def create_snapshot(self):
        self.snapshot = plain_objects.snapshot(self.source)
        self._timed(self.driver.create_snapshot, self.snapshot)
        state = self._require(self.source)
        _expect(self.snapshot.name in state.snapshots,
                'snapshot %s not on backing %s', self.snapshot.name,
                state.moref)
        return '%s (%s)' % (self.snapshot.name, vsphere_ops.moref_value(
            state.snapshots[self.snapshot.name]))

    def create_from_snapshot_linked(self):
        volume = self.from_snap_linked = self._created_volume(2, 'linked')
        self._timed(self.driver.create_volume_from_snapshot, volume,
                    self.snapshot)
        state = self._check_new_backing(volume, linked=True)
        self._check_dependency(volume, state, self.snapshot.name)
        return 'backing %s, child disk of %s' % (state.moref,
                                                 self.snapshot.name)

    def _check_dependency(self, clone, state, snap_name):
        expected = '%s:%s' % (self.source.id, snap_name)
        _expect(state.extra.get(specs.KEY_PARENT) == expected,
                'clone %s has parent %r, expected %r', clone.id,
                state.extra.get(specs.KEY_PARENT), expected)
        source = self._require(self.source)
        marker = source.extra.get(specs.KEY_CLONE_PREFIX + clone.id)
        _expect(marker == snap_name, 'source has clone marker %r for %s, '
                'expected %r', marker, clone.id, snap_name)
        _expect(snap_name in source.snapshots, 'snapshot %s missing on the '
                'source', snap_name)

    def create_from_snapshot_full(self):
        volume = self.from_snap_full = self._created_volume(3, 'full')
        self._timed(self.driver.create_volume_from_snapshot, volume,
                    self.snapshot)
        state = self._check_new_backing(volume, linked=False)
        _expect(not state.extra.get(specs.KEY_PARENT),
                'full clone %s carries a parent entry', volume.id)
        return 'backing %s, 3 GiB copy on %s' % (state.moref,
                                                 state.datastore())

    def clone_volume_full(self):
        volume = self.clone_full = self._created_volume(2, 'full')
        self._timed(self.driver.create_cloned_volume, volume, self.source)
        state = self._check_new_backing(volume, linked=False)
        return 'backing %s, copy on %s' % (state.moref, state.datastore())

    def clone_volume_linked(self):
        volume = self.clone_linked = self._created_volume(2, 'linked')
        self._timed(self.driver.create_cloned_volume, volume, self.source)
        state = self._check_new_backing(volume, linked=True)
        snap_name = 'clone-%s' % volume.id
        self._check_dependency(volume, state, snap_name)
        return 'backing %s, child disk of temporary snapshot' % state.moref

    def initialize_connection(self):
        connector = {'instance': self.instance} if self.instance else {}
        info = self._timed(self.driver.initialize_connection, self.source,
                           connector)
        state = self._require(self.source)
        data = info.get('data') or {}
        _expect(info.get('driver_volume_type') == 'vmdk',
                'driver_volume_type is %r', info.get('driver_volume_type'))
        _expect(str(data.get('volume')) == state.moref,
                'connection names backing %s, the backing is %s',
                data.get('volume'), state.moref)
        _expect(data.get('volume_id') == self.source.id,
                'connection names volume %s', data.get('volume_id'))
        password = self.driver.options.get('vcenter_password')
        _expect(not password or password not in repr(info),
                'connection info contains the vCenter password')
        return 'vmdk, volume=%s%s' % (
            state.moref, ', instance %s' % self.instance
            if self.instance else ' (no instance given)')

    def _instance_state(self):
        ref = vsphere_ops.moref('VirtualMachine', self.instance)
        props = self.ops.properties(ref, vsphere_ops.INSTANCE_PROPERTIES)
        disks = specs.disks(vsphere_ops.devices_of(props))
        return vsphere_ops.extra_config_dict(props), disks

    def attach_volume(self):
        if not self.instance:
            raise Skip('no instance VM: pass --instance MOREF to attach')
        file_name = self._require(self.source).file_name()
        self._attached = True
        self._timed(self.driver.attach_volume, self.instance, self.source)
        extra, disks = self._instance_state()
        _expect(any(d.backing.fileName == file_name for d in disks),
                'instance %s has no disk backed by %s', self.instance,
                file_name)
        _expect(extra.get(specs.ATTACH_KEY_PREFIX + self.source.id),
                'instance %s lacks the volume-%s extraConfig mark',
                self.instance, self.source.id)
        return 'its vmdk is a disk of %s' % self.instance

    def detach_volume(self):
        if not self.instance:
            raise Skip('no instance VM: pass --instance MOREF to attach')
        file_name = self._require(self.source).file_name()
        self._timed(self.driver.detach_volume, self.instance, self.source)
        extra, disks = self._instance_state()
        _expect(not any(d.backing.fileName == file_name for d in disks),
                'instance %s still has a disk backed by %s', self.instance,
                file_name)
        _expect(not extra.get(specs.ATTACH_KEY_PREFIX + self.source.id),
                'instance %s still carries the volume-%s mark',
                self.instance, self.source.id)
        self._attached = False
        self._check_size(self._require(self.source), self.source.size)
        return 'disk removed from %s, file kept' % self.instance

    def revert_to_snapshot(self):
        self._timed(self.driver.revert_to_snapshot, None, self.source,
                    self.snapshot)
        state = self._require(self.source)
        expected = vsphere_ops.moref_value(state.snapshots[self.snapshot.name])
        _expect(state.current_snapshot == expected,
                'current snapshot is %s, expected %s',
                state.current_snapshot, expected)
        return 'current snapshot is %s' % expected

    def delete_busy_snapshot(self):
        try:
            self._timed(self.driver.delete_snapshot, self.snapshot)
        except exceptions.SnapshotIsBusy:
            pass
        else:
            raise CheckFailed('a snapshot a linked clone reads from was '
                              'deleted')
        state = self._require(self.source)
        _expect(self.snapshot.name in state.snapshots,
                'snapshot %s is gone', self.snapshot.name)
        return 'refused (SnapshotIsBusy), snapshot kept'

    def _check_gone(self, volume):
        _expect(self._state(volume.id) is None,
                'backing of volume %s still exists', volume.id)
        self._deleted.add(volume.id)

    def delete_linked(self, volume, snap_name):
        self._timed(self.driver.delete_volume, volume)
        self._check_gone(volume)
        source = self._require(self.source)
        marker = source.extra.get(specs.KEY_CLONE_PREFIX + volume.id)
        _expect(not marker, 'source still has clone marker for %s',
                volume.id)
        if snap_name.startswith('clone-'):
            _expect(snap_name not in source.snapshots,
                    'temporary snapshot %s still on the source', snap_name)
            return 'backing destroyed, marker and temporary snapshot removed'
        return 'backing destroyed, marker removed'

    def delete_snapshot(self):
        self._timed(self.driver.delete_snapshot, self.snapshot)
        state = self._require(self.source)
        _expect(self.snapshot.name not in state.snapshots,
                'snapshot %s still exists', self.snapshot.name)
        return 'snapshot removed'

    def delete_volume(self, volume):
        self._timed(self.driver.delete_volume, volume)
        self._check_gone(volume)
        return 'backing destroyed'

    def get_volume_stats(self):
        stats = self._timed(self.driver.get_volume_stats, refresh=True)
        pools = stats.get('pools') or []
        _expect(pools, 'no pool reported')
        total = round(sum(p['total_capacity_gb'] for p in pools), 2)
        _expect(abs(stats['total_capacity_gb'] - total) < 0.01,
                'total %s GiB is not the sum of the pools (%s GiB)',
                stats['total_capacity_gb'], total)
        return '%d pool(s), %s GiB total, %s GiB free' % (
            len(pools), stats['total_capacity_gb'],
            stats['free_capacity_gb'])

    # Clean-up ------------------------------------------------------------

    def _leftovers(self):
        return [v for v in self._created if v.id not in self._deleted]

    def _clean_up(self):
        """Remove every backing the run created and did not delete."""
        step = Step('clean up')
        self.steps.append(step)
        self._current = step
        self._progress('cleaning up what the demo created ...')
        problems = []
        removed = []
        if self._attached and self.instance:
            try:
                self._timed(self.driver.detach_volume, self.instance,
                            self.source)
            except Exception as err:
                problems.append('detach: %s' % _error_text(err))
        linked = [v for v in self._leftovers()
                  if v in (self.from_snap_linked, self.clone_linked)]
        others = [v for v in reversed(self._leftovers()) if v not in linked]
        for volume in linked + others:
            try:
                ref = self._timed(self.ops.find_vm_by_instance_uuid,
                                  volume.id)
                if ref is not None:
                    self._timed(self.ops.destroy, ref,
                                'volume %s' % volume.id)
                    removed.append(volume.id)
                self._deleted.add(volume.id)
            except Exception as err:
                problems.append('%s: %s' % (volume.id, _error_text(err)))
        self._current = None
        step.status = FAILED if problems else OK
        step.result = 'removed %d backing(s)' % len(removed)
        if problems:
            step.error = '; '.join(problems)
        self._progress('clean up: %s%s' % (
            step.result, ' (%s)' % step.error if step.error else ''))
