"""The fault campaign: drive the volume driver as Cinder does, under faults.

:class:`Campaign` plays Cinder's volume manager over a model of its
database (:mod:`model`): it picks operations at random (seeded), calls the
driver and reacts to a failure as the manager and a user would:

* a failed create leaves the volume in ``error``; the user deletes it;
* a failed delete (volume or snapshot) is retried;
* a failed extend is reset to ``available`` with the old size and retried;
* a failed snapshot is left in ``error`` and deleted;
* ``VolumeIsBusy``/``SnapshotIsBusy`` puts the record back, as Cinder does.

Then the faults stop, and a teardown deletes everything, newest first;
every step of it must succeed at the first try.
"""

import collections
import logging

from vmware_backend import exceptions
from vmware_backend.testbed.faults import dataops
from vmware_backend.testbed.faults import manageops
from vmware_backend.testbed.faults import model as model_mod

LOG = logging.getLogger(__name__)

RETRIES = 3
MAX_LIVE_VOLUMES = 14
OPERATIONS = (
    # (name, weight)
    ('create', 3), ('create from snapshot, linked', 1.5),
    ('create from snapshot, full', 1.5), ('clone, linked', 1.5),
    ('clone, full', 1.5), ('extend', 2.5), ('create snapshot', 2.5),
    ('delete snapshot', 1.5), ('delete', 2),
)
BUSY = (exceptions.VolumeIsBusy, exceptions.SnapshotIsBusy)


class Stats:
    """Operations attempted, failed, retried and refused, by operation."""

    FIELDS = ('attempted', 'failed', 'retried', 'refused')

    def __init__(self):
        self.counts = collections.defaultdict(collections.Counter)
        self.errors = collections.Counter()
        self.error_examples = {}

    def add(self, op, field, n=1):
        self.counts[op][field] += n


class Campaign(dataops.DataOperations, manageops.ManageOperations):
    """One campaign against one driver.

    :param driver: a ``VMwareVolumeDriver`` whose vCenter is the proxy.
    :param plan: the proxy's :class:`rules.FaultPlan`.
    :param rng: a seeded ``random.Random`` choosing the operations.
    :param watch: a :class:`passwords.PasswordWatch` (scans every error).
    :param data: also the data operations (:mod:`.dataops`; call
        :meth:`setup_data` first).
    :param manage: also manage and unmanage (:mod:`.manageops`; call
        :meth:`setup_manage` first).
    """

    RETRIES = RETRIES
    BUSY = BUSY

    def __init__(self, driver, plan, rng, watch=None, new_id=None,
                 data=False, manage=False):
        self.driver = driver
        self.plan = plan
        self.rng = rng
        self.watch = watch
        self.model = model_mod.Model()
        self.stats = Stats()
        self.teardown_failures = []
        self.left_after_teardown = []
        self.seen = {}
        self.result = None
        self.operations = OPERATIONS + (dataops.OPERATIONS if data else ()) \
            + (manageops.OPERATIONS if manage else ())
        self._new_id = new_id or (lambda: '%032x' % rng.getrandbits(128))

    def new_id(self):
        raw = self._new_id()
        if '-' in raw:
            return raw
        return '-'.join((raw[:8], raw[8:12], raw[12:16], raw[16:20],
                         raw[20:32]))

    # One driver call ---------------------------------------------------

    def _call(self, op, fn, *args, retry=False):
        """Run one driver call; returns the exception or None.

        What the call returned is in ``self.result``.
        """
        self.stats.add(op, 'retried' if retry else 'attempted')
        self.result = None
        try:
            self.result = fn(*args)
            return None
        except Exception as err:
            if self.watch is not None:
                self.watch.scan_exception(err)
            if isinstance(err, BUSY):
                self.stats.add(op, 'refused')
            else:
                self.stats.add(op, 'failed')
                key = '%s: %s' % (op, type(err).__name__)
                self.stats.errors[key] += 1
                self.stats.error_examples.setdefault(key, str(err)[:160])
            LOG.info('campaign: %s failed: %s', op, err)
            return err

    # Operations, as the volume manager runs them -------------------------

    def run(self, faults, max_ops, check=None, check_every=25):
        """Operations until ``faults`` faults were injected (or ``max_ops``).

        :param check: called without faults every ``check_every``
            operations (the invariant check); returns {name: [items]},
            gathered, without repeats, in ``self.seen``.
        """
        names = [name for name, _w in self.operations]
        weights = [w for _n, w in self.operations]
        ops = 0
        while self.plan.total() < faults and ops < max_ops:
            ops += 1
            if check is not None and ops % check_every == 0:
                self._check(check)
            live = len(self.model.volumes_in(model_mod.AVAILABLE))
            if live < 2:
                name = 'create'
            elif live > MAX_LIVE_VOLUMES:
                name = self.rng.choice(['delete', 'delete snapshot'])
            else:
                name = self.rng.choices(names, weights)[0]
            self.step(name)
        if check is not None:
            self._check(check)
        return ops

    def _check(self, check):
        self.plan.pause()
        try:
            for name, items in check().items():
                seen = self.seen.setdefault(name, [])
                seen.extend(i for i in items if i not in seen)
        finally:
            self.plan.resume()

    def step(self, name):
        """Run the operation ``name`` on a randomly chosen record."""
        rng, m = self.rng, self.model
        if name == 'create':
            self.create('create', m.add_volume(
                self.new_id(), rng.choice([1, 2])))
        elif name.startswith('create from snapshot'):
            snaps = m.snapshots_in(model_mod.AVAILABLE)
            if not snaps:
                return self.step('create snapshot')
            snap = rng.choice(snaps)
            linked = name.endswith('linked')
            size = snap.volume_size + (0 if linked else rng.choice([0, 1]))
            self.create(name, m.add_volume(
                self.new_id(), size, kind='snapshot-' + name.split(', ')[1],
                clone_type='linked' if linked else 'full', source=snap.id))
        elif name.startswith('clone'):
            source = rng.choice(m.volumes_in(model_mod.AVAILABLE))
            linked = name.endswith('linked')
            self.create(name, m.add_volume(
                self.new_id(), source.size, kind='clone-' + name[7:],
                clone_type='linked' if linked else 'full',
                source=source.id))
        elif name == 'extend':
            candidates = m.extendable()
            if candidates:
                self.extend(rng.choice(candidates))
        elif name == 'create snapshot':
            volume = rng.choice(m.volumes_in(model_mod.AVAILABLE))
            self.create_snapshot(m.add_snapshot(self.new_id(), volume))
        elif name == 'delete snapshot':
            snaps = m.snapshots_in(model_mod.AVAILABLE)
            if snaps:
                self.delete_snapshot(rng.choice(snaps), 'delete snapshot')
        elif name == 'delete':
            # Cinder's API refuses to delete a volume with snapshots.
            candidates = [v for v in m.volumes_in(model_mod.AVAILABLE)
                          if not m.snapshots_of(v.id)]
            if candidates:
                self.delete(rng.choice(candidates), 'delete')
        elif name in ('manage', 'unmanage', 'manage snapshot'):
            self.manage_step(name)
        else:
            self.data_step(name)

    def _create_call(self, volume):
        m = self.model
        if volume.kind.startswith('snapshot'):
            snap = m.snapshots[volume.source]
            return (self.driver.create_volume_from_snapshot, volume.obj(),
                    snap.obj(m.volumes[snap.volume_id]))
        if volume.kind.startswith('clone'):
            return (self.driver.create_cloned_volume, volume.obj(),
                    m.volumes[volume.source].obj())
        return (self.driver.create_volume, volume.obj())

    def create(self, op, volume):
        """Create; on failure the volume is in error; the user deletes it."""
        if self._call(op, *self._create_call(volume)) is None:
            volume.status = model_mod.AVAILABLE
            volume.created_ok = True
            if hasattr(self, 'contents'):
                self.inherit_contents(volume)
            return
        volume.status = model_mod.ERROR
        self.delete(volume, 'delete after failed create')

    def delete(self, volume, op):
        """Delete, retried after a failure."""
        previous = volume.status
        volume.status = model_mod.DELETING
        for attempt in range(RETRIES + 1):
            err = self._call(op, self.driver.delete_volume, volume.obj(),
                             retry=attempt > 0)
            if err is None:
                volume.status = model_mod.DELETED
                return True
            if isinstance(err, BUSY):
                volume.status = previous
                return False
        volume.status = model_mod.ERROR_DELETING
        return False

    def extend(self, volume):
        """Extend by 1 GiB; after a failure: old size, available, retry."""
        new_size = volume.size + 1
        for attempt in range(RETRIES + 1):
            volume.status = model_mod.EXTENDING
            err = self._call('extend', self.driver.extend_volume,
                             volume.obj(), new_size, retry=attempt > 0)
            volume.status = model_mod.AVAILABLE
            if err is None:
                volume.size = new_size
                return

    def create_snapshot(self, snap):
        volume = self.model.volumes[snap.volume_id]
        err = self._call('create snapshot', self.driver.create_snapshot,
                         snap.obj(volume))
        if err is None:
            snap.status = model_mod.AVAILABLE
            return
        snap.status = model_mod.ERROR
        self.delete_snapshot(snap, 'delete snapshot after failed create')

    def delete_snapshot(self, snap, op):
        previous = snap.status
        snap.status = model_mod.DELETING
        volume = self.model.volumes[snap.volume_id]
        for attempt in range(RETRIES + 1):
            err = self._call(op, self.driver.delete_snapshot,
                             snap.obj(volume), retry=attempt > 0)
            if err is None:
                snap.status = model_mod.DELETED
                return True
            if isinstance(err, BUSY):
                snap.status = previous
                return False
        snap.status = model_mod.ERROR_DELETING
        return False

    # Teardown --------------------------------------------------------------

    def teardown(self):
        """Delete everything without faults, newest first.

        A record whose first delete fails is a teardown failure; it is tried
        twice more (to leave the simulator clean) and, if it still fails,
        listed in ``left_after_teardown``.
        """
        self.plan.pause()
        pending = []
        for record in self.model.teardown_order():
            err = self._teardown_one(record)
            if err is not None:
                self.teardown_failures.append('%r: %s' % (record, err))
                pending.append(record)
        for _round in range(2):
            pending = [r for r in pending if self._teardown_one(r)]
        self.left_after_teardown = ['%r' % r for r in pending]

    def _teardown_one(self, record):
        if isinstance(record, model_mod.SnapshotRecord):
            fn, obj = self.driver.delete_snapshot, record.obj(
                self.model.volumes[record.volume_id])
        else:
            fn, obj = self.driver.delete_volume, record.obj(
                record.delete_status)
        err = self._call('teardown', fn, obj)
        if err is None:
            record.status = model_mod.DELETED
            for foreign in self.model.foreign.values():
                if foreign.pending == record.id:
                    foreign.pending = None
        return err
