"""``volumes`` and ``audit`` read this backend's folders, not the inventory.

Two simulators of their own, with 4 and 120 VMs outside the volume folder,
each with the same backings (one attached to an instance VM): the SOAP
calls of the listing, by method, are the same on both, and the CLI (run as
a subprocess) lists the attachment and reports its steps on stderr.
"""

import fixtures
import testtools

from tests.functional import base
from tests.functional import test_manage_cli
from vmware_backend.admin import demo
from vmware_backend.admin import listing
from vmware_backend.volume import driver as vmware_driver
from vmware_backend.volume import plain_objects
from vmware_backend.vsphere import session as vc_session

# The folder of the default options is OpenStack/Volumes: two FindChild.
EXPECTED_CALLS = {
    'CreateContainerView': 3,     # datastores, datacenters, the folder
    'DestroyView': 3,
    'FindChild': 2,
    # datastores, datacenters, the folder's VMs, the marks, the instance
    'RetrievePropertiesEx': 5,
}

# An empty ObjectContent of a VM in a RetrievePropertiesEx answer:
# <objects><obj type="VirtualMachine">vm-1234</obj></objects> and spaces.
PER_OTHER_VM_BYTES = 120


class ListingScaleTest(test_manage_cli.CliMixin, testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.useFixture(fixtures.Timeout(600, gentle=True))

    def prepare(self, vms):
        """A simulator with ``vms`` VMs per host group, 3 backings."""
        sim = self.useFixture(base.VcsimFixture({'vms': vms}))
        session = vc_session.VCenterSession(sim.options())
        self.addCleanup(session.close)
        driver = vmware_driver.VMwareVolumeDriver(sim.options(),
                                                  session=session)
        volumes = []
        for _n in range(3):
            volume = plain_objects.volume()
            driver.create_volume(volume)
            volumes.append(volume)
        instance, name = demo.pick_instance(session)
        driver.attach_volume(instance, volumes[0])
        return sim, session, volumes, name

    def listing_calls(self, session, devices):
        before = session.counts_snapshot()
        received = session.bytes_snapshot()['received']
        backings, instances = listing.read(
            session, devices=devices,
            volume_folder=session.options['vcenter_volume_folder'])
        calls = session.counts_snapshot() - before
        self.received[devices].append(
            session.bytes_snapshot()['received'] - received)
        return backings, instances, dict(calls)

    def test_calls_do_not_grow_with_the_vms_outside_the_folder(self):
        seen = {}
        self.received = {True: [], False: []}
        for vms in (1, 30):
            sim, session, volumes, name = self.prepare(vms)
            vm_count = len(listing.inventory.read_container(
                session, {'VirtualMachine': ['name']}))
            for devices in (True, False):
                backings, instances, calls = self.listing_calls(
                    session, devices)
                self.assertEqual(EXPECTED_CALLS, calls,
                                 '%d VMs, devices=%s' % (vm_count, devices))
                by_id = {b.volume_id: b for b in backings}
                self.assertEqual(sorted(v.id for v in volumes),
                                 sorted(by_id))
                self.assertEqual([name], [i.name for i in instances])
                if devices:
                    self.assertEqual([name],
                                     by_id[volumes[0].id].attached_to)
                    self.assertEqual([], by_id[volumes[1].id].attached_to)
                    self.assertEqual(1.0, by_id[volumes[1].id].size_gb)
            seen[vms] = vm_count

            proc = self.cli('--format', 'json', 'volumes',
                            config=self.ini(sim.server))
            self.assertExit(0, proc)
            rows = {r['volume_id']: r for r in self.json_of(proc)}
            self.assertEqual([name], rows[volumes[0].id]['attached_to'])
            self.assertEqual([], rows[volumes[2].id]['attached_to'])
            self.assertIn('Reading the attachment marks of 3 volume(s)',
                          proc.stderr)
            self.assertIn('Reading 1 instance VM(s) with attachment marks',
                          proc.stderr)
        # The second inventory is really larger (default layout: a cluster
        # and a standalone host, vms per host group, plus the 3 backings).
        self.assertEqual({1: 5, 30: 63}, seen)
        # What the 58 more VMs cost: at most an empty object each in the
        # answer of the marks read (when on a backing's datastore), never
        # their extraConfig or devices (kilobytes each).
        for devices, (small, large) in self.received.items():
            self.assertLessEqual(large - small, 58 * PER_OTHER_VM_BYTES,
                                 'devices=%s: %d then %d bytes'
                                 % (devices, small, large))
