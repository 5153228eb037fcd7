"""Concurrent requests for one volume id, on the simulator (issue 8, 5).

vCenter accepts two VMs with one instanceUuid, so without locks two creates
of one id that both look before either creates make two backings (the issue
saw it 30 times in 30). Here the same create, clone or delete is issued at
once by several threads of one driver and by two driver processes (each with
its own session and tooz coordinator on one file-lock directory), and the
backings are read back from the simulator with FindAllByUuid, independently
of the driver.
"""

import json
import os
import subprocess
import sys
import threading
import time
import types

import fixtures

from tests.functional import lifecycle_base as lb
from vmware_backend import exceptions
from vmware_backend.vsphere import session as vc_session
from vmware_backend.vsphere import specs

LINKED = {'vmware:clone_type': 'linked'}
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))


def as_json(volume):
    """The JSON form of a plain volume (see concurrency_worker.volume)."""
    data = {k: v for k, v in vars(volume).items() if k != 'volume_type'}
    data['extra_specs'] = dict(volume.volume_type.extra_specs)
    return data


class ConcurrencyTestCase(lb.LifecycleTestCase):
    """Drivers of their own on the shared simulator, one lock directory."""

    def setUp(self):
        super().setUp()
        self.lock_dir = self.useFixture(fixtures.TempDir()).path
        self.options = dict(
            self.options, vcenter_coordination_url='file://' + self.lock_dir)
        self.driver = self.new_driver()

    def new_driver(self, **overrides):
        """A driver with a session and a lock coordinator of its own."""
        options = dict(self.options, **overrides)
        session = vc_session.VCenterSession(options)
        self.addCleanup(session.close)
        driver = lb.vmware_driver.VMwareVolumeDriver(options,
                                                     session=session)
        self.addCleanup(driver.close)
        driver.do_setup()
        return driver

    def backings(self, volume_id):
        """Every VM the simulator has with this instanceUuid."""
        found = self.session.invoke(
            'FindAllByUuid', self.session.service_content.searchIndex,
            uuid=volume_id, vmSearch=True, instanceUuid=True)
        return list(found or [])

    def track_all(self, volume):
        """At clean-up, destroy every backing of the id (duplicates too)."""
        def destroy_all():
            for ref in self.backings(volume.id):
                try:
                    self.session.invoke_task('Destroy_Task', ref)
                except exceptions.VMwareBackendException:
                    pass
        self.addCleanup(destroy_all)
        return volume

    def at_once(self, calls):
        """Run the callables together, each in a thread; their outcomes."""
        start = threading.Barrier(len(calls))
        outcomes = [None] * len(calls)

        def run(index, call):
            start.wait()
            try:
                call()
                outcomes[index] = 'ok'
            except Exception as err:
                outcomes[index] = err

        threads = [threading.Thread(target=run, args=(i, c))
                   for i, c in enumerate(calls)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(240)
        return outcomes

    def slowed(self, driver, method, seconds):
        """Delay ``driver``'s ``method`` calls; an event set at the first.

        The request is really sent, only later: this widens the window in
        which another request can overlap the operation.
        """
        reached = threading.Event()
        session = driver.session
        invoke = session.invoke

        def slow_invoke(called, *args, **kwargs):
            if called == method:
                reached.set()
                time.sleep(seconds)
            return invoke(called, *args, **kwargs)

        session.invoke = slow_invoke
        self.addCleanup(vars(session).pop, 'invoke', None)
        return reached

    @staticmethod
    def reached(event, thread):
        """Wait until ``event`` is set or ``thread`` ended without it."""
        while not event.wait(0.1):
            if not thread.is_alive():
                return event.is_set()
        return True

    def workers(self, ops_per_worker):
        """Run worker processes; return their results once all finished."""
        procs = []
        env = dict(os.environ, PYTHONPATH=ROOT)
        for ops in ops_per_worker:
            proc = subprocess.Popen(
                [sys.executable, '-m', 'tests.functional.concurrency_worker'],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env)
            self.addCleanup(self._reap, proc)
            proc.stdin.write(json.dumps({'options': self.options,
                                         'ops': ops}) + '\n')
            proc.stdin.flush()
            procs.append(proc)
        for proc in procs:
            line = proc.stdout.readline().strip()
            self.assertEqual('READY', line, proc.stderr.read()
                             if not line else line)
        for proc in procs:
            proc.stdin.write('GO\n')
            proc.stdin.flush()
        results = []
        for proc in procs:
            out, err = proc.communicate(timeout=240)
            self.assertEqual(0, proc.returncode, err[-3000:])
            results.append(json.loads(out.strip().splitlines()[-1])
                           ['results'])
        return results

    @staticmethod
    def _reap(proc):
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            if stream:
                stream.close()

    def source_state(self, volume_id):
        state = self.state(volume_id)
        return state, specs.clone_markers(state.extra)


class ThreadsTest(ConcurrencyTestCase):

    def test_same_create_from_many_threads_makes_one_backing(self):
        volumes = [self.track_all(lb.make_volume(1)) for _ in range(3)]
        for volume in volumes:
            outcomes = self.at_once(
                [lambda v=volume: self.driver.create_volume(v)] * 4)
            self.assertEqual(['ok'] * 4, outcomes)
        self.assertEqual([1, 1, 1],
                         [len(self.backings(v.id)) for v in volumes])

    def test_same_clone_from_many_threads_makes_one_clone(self):
        source = self.track_all(self.create(1))
        linked = self.track_all(lb.make_volume(1, LINKED))
        full = self.track_all(lb.make_volume(1))
        for clone in (linked, full):
            outcomes = self.at_once(
                [lambda c=clone: self.driver.create_cloned_volume(
                    c, source)] * 4)
            self.assertEqual(['ok'] * 4, outcomes)
            self.assertEqual(1, len(self.backings(clone.id)))
        # One temporary snapshot and one marker, for the linked clone.
        state, markers = self.source_state(source.id)
        self.assertEqual([specs.KEY_CLONE_PREFIX + linked.id], list(markers))
        self.assertEqual(['clone-' + linked.id], state.snapshot_names)

    def test_delete_during_create_waits_and_removes_the_backing(self):
        # Cinder deletes a volume whose create is still running (a user's
        # delete after reset-state): the delete must not find "nothing" and
        # return while the create then leaves a backing nobody owns.
        volume = self.track_all(lb.make_volume(1))
        deleter = self.new_driver()
        creating = self.slowed(self.driver, 'CreateVM_Task', 1.5)
        outcome = {}

        def create():
            try:
                self.driver.create_volume(volume)
                outcome['create'] = 'ok'
            except Exception as err:
                outcome['create'] = err

        creator = threading.Thread(target=create)
        creator.start()
        self.assertTrue(self.reached(creating, creator),
                        outcome.get('create'))
        deleter.delete_volume(volume)
        creator.join(120)
        self.assertEqual('ok', outcome['create'])
        self.assertEqual([], self.backings(volume.id))

    def test_source_delete_during_linked_clone_never_breaks_the_clone(self):
        # A delete that read the source before the clone marked it must not
        # destroy the source under a clone that then reports success.
        source = self.track_all(self.create(1))
        clone = self.track_all(lb.make_volume(1, LINKED))
        cloner = self.new_driver()
        destroying = self.slowed(self.driver, 'Destroy_Task', 1.5)
        outcome = {}

        def delete():
            try:
                self.driver.delete_volume(source)
                outcome['delete'] = 'ok'
            except Exception as err:
                outcome['delete'] = err

        deleter = threading.Thread(target=delete)
        deleter.start()
        self.assertTrue(self.reached(destroying, deleter),
                        outcome.get('delete'))
        self.assertRaises(exceptions.BackingNotFound,
                          cloner.create_cloned_volume, clone, source)
        deleter.join(120)
        self.assertEqual('ok', outcome['delete'])
        self.assertEqual([], self.backings(source.id))
        self.assertEqual([], self.backings(clone.id))


class ProcessesTest(ConcurrencyTestCase):

    def test_same_creates_from_two_processes_make_one_backing_each(self):
        volumes = [self.track_all(lb.make_volume(1)) for _ in range(4)]
        ops = [{'op': 'create', 'volume': as_json(v)} for v in volumes]
        results = self.workers([ops, ops])
        self.assertEqual([['ok'] * 4] * 2, results)
        self.assertEqual([1] * 4, [len(self.backings(v.id))
                                   for v in volumes])

    def test_same_linked_clone_from_two_processes_makes_one_clone(self):
        source = self.track_all(self.create(1))
        clones = [self.track_all(lb.make_volume(1, LINKED))
                  for _ in range(2)]
        ops = [{'op': 'clone', 'volume': as_json(c),
                'source': as_json(source)} for c in clones]
        results = self.workers([ops, ops])
        self.assertEqual([['ok'] * 2] * 2, results)
        self.assertEqual([1, 1], [len(self.backings(c.id)) for c in clones])
        state, markers = self.source_state(source.id)
        self.assertEqual(sorted(specs.KEY_CLONE_PREFIX + c.id
                                for c in clones), sorted(markers))
        self.assertEqual(sorted('clone-' + c.id for c in clones),
                         sorted(state.snapshot_names))

    def test_creates_and_deletes_of_one_id_from_two_processes(self):
        # Each id is created by one process while the other creates and
        # then deletes it: whatever the order, never two backings, every
        # call succeeds, and a delete of the id leaves nothing behind.
        volumes = [self.track_all(lb.make_volume(1)) for _ in range(3)]
        first = [{'op': 'create', 'volume': as_json(v)} for v in volumes]
        second = first + [{'op': 'delete', 'volume': as_json(v)}
                          for v in volumes]
        results = self.workers([first, second])
        self.assertEqual([['ok'] * 3, ['ok'] * 6], results)
        counts = [len(self.backings(v.id)) for v in volumes]
        self.assertTrue(all(c <= 1 for c in counts), counts)
        for volume in volumes:
            self.driver.delete_volume(volume)
        self.assertEqual([0, 0, 0], [len(self.backings(v.id))
                                     for v in volumes])


class BackendNamesTest(ConcurrencyTestCase):

    def test_lock_of_one_backend_does_not_block_another(self):
        volume = self.track_all(lb.make_volume(1))
        first = self.new_driver(vcenter_backend_name='backend-a')
        second = self.new_driver(vcenter_backend_name='backend-a')
        other = self.new_driver(vcenter_backend_name='backend-b')
        self.assertNotEqual(first.locks.names([volume.id]),
                            other.locks.names([volume.id]))
        done = threading.Event()

        def create_with_same_backend():
            # Whether it then finds the other backend's backing acceptable
            # is not the point here: only when it gets to run.
            try:
                second.create_volume(volume)
            except exceptions.VMwareBackendException:
                pass
            done.set()

        with first.locks.hold(volume.id):
            # Another backend's driver is not held up by backend-a's lock.
            other.create_volume(volume)
            self.assertEqual(1, len(self.backings(volume.id)))
            waiter = threading.Thread(target=create_with_same_backend)
            waiter.start()
            # A driver of the same backend (its own coordinator) waits.
            self.assertFalse(done.wait(2))
        self.assertTrue(done.wait(60))
        waiter.join(60)
        self.assertEqual(1, len(self.backings(volume.id)))
        self.driver.delete_volume(types.SimpleNamespace(
            **dict(vars(volume), status='available')))
        self.assertEqual([], self.backings(volume.id))
