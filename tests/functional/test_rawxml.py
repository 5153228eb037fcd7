"""The paged VM read parsed from XML gives the records the suds-parsed read
gives, on an inventory with backings, snapshots, linked clones, foreign VMs
and templates; and it recovers from an expired session as any read does."""

import requests

from tests.functional import lifecycle_base as lb
from tests.functional import test_manage
from vmware_backend.vsphere import inventory
from vmware_backend.vsphere import session as vc_session
from vmware_backend.vsphere import vm_disks


class RawReadTest(test_manage.ManageTestBase):

    # A simulator of its own: the reads compare a still inventory.
    VCSIM_FLAGS = {'vms': 3}

    def setUp(self):
        super().setUp()
        # raw=True parses SOAP answers: read over SOAP (the simulator offers
        # VI/JSON, which the default 'auto' would pick instead).
        self.session = vc_session.VCenterSession(
            dict(self.options, vcenter_read_transport='soap'))
        self.addCleanup(self.session.close)

    def test_same_records_as_suds(self):
        source = self.create(size=2)
        snapshot = lb.make_snapshot(source)
        self.driver.create_snapshot(snapshot)
        clone = lb.make_volume(2, {'vmware:clone_type': 'linked'})
        self.driver.create_volume_from_snapshot(clone, snapshot)
        self.track(clone)
        self.foreign_vm(disks_kb=(test_manage.GIB_KB, 3 * test_manage.GIB_KB),
                        extra={'cinder.volume.id': 'x', 'other': '7'})
        template, _uuid, _name = self.foreign_vm()
        self.session.invoke('MarkAsTemplate', template)

        before = self.session.total_requests()
        by_suds = vm_disks.read(self.session, raw=False)
        suds_calls = self.session.total_requests() - before
        before = self.session.total_requests()
        by_xml = vm_disks.read(self.session, raw=True)
        self.assertEqual(suds_calls, self.session.total_requests() - before)

        self.assertEqual(len(by_suds), len(by_xml))
        self.assertEqual(by_suds, by_xml)
        # What the comparison covered.
        [linked] = [vm for vm in by_xml if vm.instance_uuid == clone.id]
        self.assertTrue(linked.disks[0].parent_file)
        [src] = [vm for vm in by_xml if vm.instance_uuid == source.id]
        self.assertEqual([snapshot.name], [s.name for s in src.snapshots])
        self.assertIsNotNone(src.snapshots[0].create_time)
        self.assertTrue(any(vm.template for vm in by_xml))
        self.assertTrue(any(len(vm.disks) == 2 for vm in by_xml))
        self.assertTrue(any(vm.extra.get('other') == '7' for vm in by_xml))
        self.assertTrue(any(vm.powered_on for vm in by_xml))

    def expire_sessions(self):
        resp = requests.post(
            'http://127.0.0.1:%d/testbed/expire-sessions' % self.vcsim.port,
            json={}, timeout=10)
        self.assertEqual(200, resp.status_code, resp.text)

    def test_session_expired_between_pages(self):
        expected = inventory.read_container(self.session,
                                            vm_disks.TYPE_PATHS, raw=True)
        before = self.session.counts_snapshot()
        objects = inventory.iter_container(
            self.session, vm_disks.TYPE_PATHS, page_size=2, raw=True)
        first = next(objects)
        self.expire_sessions()
        # ContinueRetrievePropertiesEx (parsed from XML) is refused with
        # NotAuthenticated: the session logs in and the read starts over.
        got = [first] + list(objects)
        calls = self.session.counts_snapshot() - before
        self.assertEqual(1, calls['Login'])
        self.assertEqual(2, calls['CreateContainerView'])
        self.assertEqual(sorted(expected), sorted(got))
