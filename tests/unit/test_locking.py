"""Per-volume locks: names, order, re-entry, the tooz provider, the facade."""

import threading
import types

import fixtures
import testtools

from vmware_backend import conf
from vmware_backend import exceptions
from vmware_backend.volume import driver as driver_mod
from vmware_backend.volume import locking
from vmware_backend.volume import plain_objects

ID = '0f4c2a5e-6f0c-4a8e-9d43-7a7b3c1f9e21'
OTHER = '1a2b3c4d-0000-4000-8000-000000000001'


class Recording(locking.LockProvider):
    """Records the names it is asked for, in order; grants them all."""

    def __init__(self):
        self.taken = []
        self.released = []

    def lock(self, name):
        provider = self

        class _Held:
            def __enter__(self):
                provider.taken.append(name)

            def __exit__(self, *exc):
                provider.released.append(name)

        return _Held()


class LockNameTest(testtools.TestCase):

    def test_names_carry_backend_and_volume(self):
        self.assertEqual('vmware_backend-b1-volume-%s' % ID,
                         locking.lock_name('b1', ID))

    def test_backends_get_different_names_for_one_volume(self):
        self.assertNotEqual(locking.lock_name('b1', ID),
                            locking.lock_name('b2', ID))
        self.assertEqual(locking.lock_name('b1', ID),
                         locking.lock_name('b1', ID))

    def test_unsafe_parts_become_digests(self):
        for bad in ('../../etc', 'a/b', '', 'x' * 300, 'caf\u00e9', '.'):
            name = locking.lock_name('my backend', bad)
            name.encode('ascii')
            self.assertNotIn('/', name)
            self.assertLess(len(name), 150)
        self.assertNotEqual(locking.lock_name('b', 'a/b'),
                            locking.lock_name('b', 'a_b'))

    def test_redacted_url_hides_passwords(self):
        url = 'redis://user:s3cret@host:6379?password=other&db=1'
        text = locking.redacted_url(url)
        self.assertNotIn('s3cret', text)
        self.assertNotIn('other', text)
        self.assertIn('host:6379', text)
        self.assertIn('db=1', text)


class VolumeLocksTest(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.provider = Recording()
        self.locks = locking.VolumeLocks(self.provider, 'b1')

    def test_several_ids_are_taken_in_sorted_order_and_released(self):
        with self.locks.hold(OTHER, ID, None, ID):
            self.assertTrue(self.locks.holds(ID))
            self.assertTrue(self.locks.holds(OTHER))
        expected = sorted([locking.lock_name('b1', ID),
                           locking.lock_name('b1', OTHER)])
        self.assertEqual(expected, self.provider.taken)
        self.assertEqual(sorted(expected), sorted(self.provider.released))
        self.assertFalse(self.locks.holds(ID))

    def test_a_thread_goes_through_its_own_lock(self):
        with self.locks.hold(ID):
            with self.locks.hold(ID, OTHER):
                pass
            self.assertTrue(self.locks.holds(ID))
            self.assertFalse(self.locks.holds(OTHER))
        self.assertEqual([locking.lock_name('b1', ID),
                          locking.lock_name('b1', OTHER)],
                         self.provider.taken)

    def test_held_locks_are_per_thread(self):
        seen = []
        with self.locks.hold(ID):
            thread = threading.Thread(
                target=lambda: seen.append(self.locks.holds(ID)))
            thread.start()
            thread.join()
        self.assertEqual([False], seen)


class ToozLocksTest(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.dir = self.useFixture(fixtures.TempDir()).path

    def provider(self, url=None):
        provider = locking.ToozLocks(url or 'file://' + self.dir)
        self.addCleanup(provider.stop)
        return provider

    def test_a_held_lock_blocks_another_coordinator_until_released(self):
        first, second = self.provider(), self.provider()
        entered = threading.Event()

        def take():
            with second.lock('n1'):
                entered.set()

        with first.lock('n1'):
            thread = threading.Thread(target=take)
            thread.start()
            self.assertFalse(entered.wait(0.5))
            with second.lock('n2'):  # another name is free
                pass
        self.assertTrue(entered.wait(10))
        thread.join(10)

    def test_unknown_scheme_names_the_option(self):
        err = self.assertRaises(exceptions.CoordinationError,
                                self.provider('nosuch://h/x').start)
        self.assertIn('vcenter_coordination_url', str(err))
        self.assertIn('nosuch', str(err))

    def test_not_a_url_names_the_option(self):
        err = self.assertRaises(exceptions.CoordinationError,
                                self.provider('/var/lib/x').start)
        self.assertIn('vcenter_coordination_url', str(err))

    def test_unusable_directory_names_the_option_not_the_password(self):
        blocker = self.dir + '/file'
        with open(blocker, 'w'):
            pass
        err = self.assertRaises(
            exceptions.CoordinationError,
            self.provider('file://%s/locks' % blocker).start)
        self.assertIn('vcenter_coordination_url', str(err))
        self.assertIn(blocker, str(err))

    def test_errors_never_carry_the_password(self):
        url = 'redis://user:s3cret-pw@127.0.0.1:1?password=other-pw'
        err = self.assertRaises(exceptions.CoordinationError,
                                self.provider(url).start)
        self.assertIn('vcenter_coordination_url', str(err))
        self.assertNotIn('s3cret-pw', str(err))
        self.assertNotIn('other-pw', str(err))
        self.assertNotIn('s3cret-pw', repr(self.provider(url)))
        self.assertEqual('a *** b ***', locking.scrubbed(
            'a s3cret-pw b other-pw', url))

    def test_stop_then_lock_starts_again(self):
        provider = self.provider()
        with provider.lock('n'):
            pass
        provider.stop()
        provider.stop()
        with provider.lock('n'):
            pass


class Explode(Exception):
    """Raised at the first vCenter access in the facade tests."""


class FacadeTest(testtools.TestCase):
    """Each public operation touches vCenter only holding its locks."""

    def setUp(self):
        super().setUp()
        self.provider = Recording()
        self.driver = driver_mod.VMwareVolumeDriver(
            conf.option_defaults(vcenter_backend_name='b1'),
            session=types.SimpleNamespace(factory=None),
            locks=self.provider)
        self.held_at_vcenter = []
        test = self

        class Vcenter:
            def __getattr__(self, name):
                test.held_at_vcenter.append(sorted(
                    test.driver.locks._held()))
                raise Explode(name)

        self.driver._ops = self.driver._placement = Vcenter()

    def names(self, *ids):
        return sorted(locking.lock_name('b1', i) for i in ids)

    def check(self, call, *ids):
        self.held_at_vcenter.clear()
        self.assertRaises(Explode, call)
        self.assertEqual([self.names(*ids)], self.held_at_vcenter[:1])
        self.assertEqual([], sorted(self.driver.locks._held()))

    def test_operations_hold_the_locks_of_the_volumes_they_change(self):
        source = plain_objects.volume(1)
        volume = plain_objects.volume(1)
        snap = plain_objects.snapshot(source)
        d = self.driver
        self.check(lambda: d.create_volume(volume), volume.id)
        self.check(lambda: d.delete_volume(volume), volume.id)
        clone = types.SimpleNamespace(**dict(vars(volume),
                                             source_volid=source.id))
        self.check(lambda: d.delete_volume(clone), volume.id, source.id)
        self.check(lambda: d.extend_volume(volume, 2), volume.id)
        self.check(lambda: d.create_snapshot(snap), source.id)
        self.check(lambda: d.delete_snapshot(snap), source.id)
        self.check(lambda: d.revert_to_snapshot(None, source, snap),
                   source.id)
        self.check(lambda: d.create_volume_from_snapshot(volume, snap),
                   volume.id, source.id)
        self.check(lambda: d.create_cloned_volume(volume, source),
                   volume.id, source.id)
        self.check(lambda: d.initialize_connection(volume, {}), volume.id)
        self.check(lambda: d.attach_volume('vm-1', volume), volume.id)
        self.check(lambda: d.detach_volume('vm-1', volume), volume.id)

    def test_keyword_arguments_are_understood(self):
        volume = plain_objects.volume(1)
        self.check(lambda: self.driver.extend_volume(volume=volume,
                                                     new_size=2), volume.id)

    def test_statistics_take_no_lock(self):
        self.assertRaises(Explode, self.driver.get_volume_stats, True)
        self.assertEqual([[]], self.held_at_vcenter)

    def test_default_provider_is_tooz_on_the_option(self):
        lock_dir = self.useFixture(fixtures.TempDir()).path
        driver = driver_mod.VMwareVolumeDriver(conf.option_defaults(
            vcenter_coordination_url='file://' + lock_dir))
        self.assertIsInstance(driver.locks.provider, locking.ToozLocks)
        self.assertEqual('file://' + lock_dir, driver.locks.provider.url)
        self.assertEqual('vmware_backend', driver.locks.backend_name)
        driver.locks.provider.start()
        driver.close()
