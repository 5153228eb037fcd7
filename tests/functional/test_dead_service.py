"""A service of an active-active cluster died after starting a task.

vCenter runs the task to its end; Cinder hands the volume to another
service (its clean-up, then the user's delete), which has none of the dead
service's memory and whose lock is free (the dead holder's lock expired).
Modelled with two drivers on one simulator whose tasks take 1.5 s: driver
A starts the operation, driver B (its own session, lock directory and
memory) deletes while A's task runs. Without waiting for that task, B finds
nothing, returns, and the task then leaves a backing or a snapshot nobody
owns. Read back from the simulator with FindAllByUuid and the snapshot
tree.
"""

import threading
import time

import fixtures

from tests.functional import lifecycle_base as lb
from tests.functional import test_concurrency
from vmware_backend.volume import settle

TASK_MS = 1500


class DeadServiceTest(test_concurrency.ConcurrencyTestCase):

    VCSIM_FLAGS = {'task-delay-ms': TASK_MS}

    def setUp(self):
        super().setUp()
        other_locks = self.useFixture(fixtures.TempDir()).path
        self.other = self.new_driver(
            vcenter_coordination_url='file://' + other_locks)

    def in_thread(self, func, *args):
        """Run ``func`` in a thread; its outcome in the returned list."""
        outcome = []

        def run():
            try:
                func(*args)
                outcome.append('ok')
            except Exception as err:
                outcome.append(err)

        thread = threading.Thread(target=run)
        thread.start()
        self.addCleanup(thread.join, 60)
        return thread, outcome

    def wait_for_task(self, kind):
        """Until a task of ``kind`` runs on the simulator (10 s at most)."""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            for _task, info in self.other.ops.recent_tasks():
                if settle.busy(info) and \
                        (info.descriptionId or '').startswith(kind):
                    return
            time.sleep(0.05)
        self.fail('no %s task started' % kind)

    def test_delete_waits_for_a_create_started_by_another_service(self):
        volume = self.track_all(lb.make_volume(1))
        thread, outcome = self.in_thread(self.driver.create_volume, volume)
        self.wait_for_task('Folder.createVm')
        started = time.monotonic()
        self.other.delete_volume(volume)
        # It waited for the task (about 1.5 s) and removed what it made.
        self.assertGreater(time.monotonic() - started, 0.5)
        self.assertEqual([], self.backings(volume.id))
        thread.join(60)
        self.assertEqual(['ok'], outcome)
        self.assertEqual([], self.backings(volume.id))

    def test_delete_waits_for_a_clone_started_by_another_service(self):
        source = self.track_all(self.create(1))
        clone = self.track_all(lb.make_volume(1, source_volid=source.id))
        thread, outcome = self.in_thread(self.driver.create_cloned_volume,
                                         clone, source)
        self.wait_for_task('VirtualMachine.clone')
        self.other.delete_volume(clone)
        self.assertEqual([], self.backings(clone.id))
        thread.join(60)
        self.assertEqual(['ok'], outcome)
        self.assertEqual([], self.backings(clone.id))
        self.assertEqual(1, len(self.backings(source.id)))

    def test_snapshot_delete_waits_for_a_snapshot_of_another_service(self):
        volume = self.track_all(self.create(1))
        snapshot = lb.make_snapshot(volume)
        thread, outcome = self.in_thread(self.driver.create_snapshot,
                                         snapshot)
        self.wait_for_task('VirtualMachine.createSnapshot')
        self.other.delete_snapshot(snapshot)
        self.assertEqual([], self.state(volume.id).snapshot_names)
        thread.join(60)
        self.assertEqual(['ok'], outcome)
        self.assertEqual([], self.state(volume.id).snapshot_names)

    def test_delete_of_a_volume_never_created_reads_tasks_once(self):
        volume = lb.make_volume(1)
        before = self.other.session.counts_snapshot()
        self.other.delete_volume(volume)
        after = self.other.session.counts_snapshot()
        calls = {k: after[k] - before.get(k, 0) for k in after
                 if after[k] != before.get(k, 0)}
        # FindAllByUuid finds nothing; recentTask and the tasks' info are
        # read once (RetrievePropertiesEx twice); nothing is changed.
        self.assertEqual({'FindAllByUuid': 1, 'RetrievePropertiesEx': 2},
                         calls)
