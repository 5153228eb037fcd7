"""Defects the fault campaign found in the VI/JSON reads and the disk
transfers, one deterministic test each (faults chosen by request, not by
chance).

The driver talks to the simulator through the fault proxy; the proxy
names a VI/JSON call ``json:<method>`` and a disk transfer ``nfc:<verb>``
(see :mod:`vmware_backend.testbed.faults.rules`). What vCenter holds
afterwards is read over the test case's own direct session.
"""

import atexit
import os
import threading

import fixtures

from tests.functional import base
from vmware_backend import conf
from vmware_backend import exceptions
from vmware_backend.testbed.faults import control as control_mod
from vmware_backend.testbed.faults import diskdata
from vmware_backend.testbed.faults import proxy as proxy_mod
from vmware_backend.testbed.faults import rules
from vmware_backend.volume import driver as vmware_driver
from vmware_backend.volume import plain_objects
from vmware_backend.vsphere import session as vc_session

HTTP_TIMEOUT = 2.0

_shared = {}
_lock = threading.Lock()


def _proxy(server):
    """One proxy per test process in front of the shared simulator."""
    with _lock:
        if _shared.get('server') is not server:
            ctl = control_mod.SimulatorControl(
                '127.0.0.1', server.port, server.username, server.password)
            proxy = proxy_mod.FaultProxy('127.0.0.1', server.port,
                                         control=ctl, slow_hold=3.0).start()
            atexit.register(proxy.stop)
            _shared.update(server=server, proxy=proxy)
        return _shared['proxy']


class ProxiedDriverTestCase(base.FunctionalTestCase):
    """A driver of its own whose every request passes the fault proxy."""

    def setUp(self):
        super().setUp()
        self.proxy = _proxy(self.vcsim)
        self.plan = rules.FaultPlan(seed=9)
        self.plan.pause()
        self.proxy.plan = self.plan
        self.addCleanup(setattr, self.proxy, 'plan', rules.FaultPlan())

    def driver(self, transport, **overrides):
        options = conf.option_defaults(**self.proxy.options(
            self.vcsim.options(
                vcenter_http_timeout=HTTP_TIMEOUT,
                vcenter_api_retry_count=2,
                vcenter_read_transport=transport,
                vcenter_inventory_cache_seconds=0.0, **overrides)))
        session = vc_session.VCenterSession(options)
        self.addCleanup(session.close)
        driver = vmware_driver.VMwareVolumeDriver(options, session=session)
        driver.do_setup()
        return driver

    def fault(self, *rule_args):
        self.plan.rules = [rules.Rule(*rule_args, count=1)]
        self.plan.resume()

    def injected(self):
        return [(i.kind, i.method) for i in self.plan.injected]


class InventoryReadFaultTest(ProxiedDriverTestCase):
    """A placement or statistics read under faults.

    The pools, complete, or an error; never a partial answer.
    """

    def pool_names(self, driver):
        return sorted(p['pool_name'] for p in
                      driver.get_volume_stats(refresh=True)['pools'])

    def setUp(self):
        super().setUp()
        direct = vmware_driver.VMwareVolumeDriver(self.options,
                                                  session=self.session)
        self.want = self.pool_names(direct)
        self.assertNotEqual([], self.want)

    def test_lost_vijson_answers_are_read_again(self):
        driver = self.driver('json')
        for rule in (('reset', 'json:CreateContainerView'),
                     ('http_503', 'json:RetrievePropertiesEx'),
                     ('drop_answer', 'json:RetrievePropertiesEx'),
                     ('http_500', 'json:CreateContainerView')):
            self.fault(*rule)
            self.assertEqual(self.want, self.pool_names(driver))
        self.assertEqual([('reset', 'json:CreateContainerView'),
                          ('http_503', 'json:RetrievePropertiesEx'),
                          ('drop_answer', 'json:RetrievePropertiesEx'),
                          ('http_500', 'json:CreateContainerView')],
                         self.injected())

    def test_vijson_session_expired_after_the_view_was_made(self):
        # The session ends between CreateContainerView and the first
        # page: the simulator, as vCenter, no longer knows the view
        # (ManagedObjectNotFound), which died with the session.
        driver = self.driver('json')
        self.fault('not_authenticated', 'json:RetrievePropertiesEx')
        self.assertEqual(self.want, self.pool_names(driver))
        self.assertEqual([('not_authenticated', 'json:RetrievePropertiesEx')],
                         self.injected())

    def test_soap_session_expired_after_the_view_was_made(self):
        driver = self.driver('soap')
        self.fault('not_authenticated', 'RetrievePropertiesEx')
        self.assertEqual(self.want, self.pool_names(driver))
        self.assertEqual([('not_authenticated', 'RetrievePropertiesEx')],
                         self.injected())


class DiskTransferFaultTest(ProxiedDriverTestCase):
    """Images in and out under faults on the lease calls and transfers.

    Success with the data on vCenter, or a failure that leaves no backing
    and no temporary file.
    """

    def setUp(self):
        super().setUp()
        self.tmp = self.useFixture(fixtures.TempDir()).path
        self.images, self.heads = diskdata.campaign_images()
        self.read_head = diskdata.HeadReader(self.session, self.vcsim.port)
        self.direct = vmware_driver.VMwareVolumeDriver(self.options,
                                                       session=self.session)
        self.faulty = self.driver('soap', vcenter_image_tmp_dir=self.tmp)

    def new_volume(self):
        volume = plain_objects.volume(1)
        self.faulty.create_volume(volume)
        self.addCleanup(self.direct.delete_volume, volume)
        return volume

    def import_image(self, volume, image_id='image-stream'):
        self.faulty.copy_image_to_volume(None, volume, self.images,
                                         image_id)

    def assertNoTemporaryFiles(self):
        self.assertEqual([], [os.path.join(d, f) for d, _s, files in
                              os.walk(self.tmp) for f in files])

    def test_lost_answers_to_the_lease_calls_do_not_fail_the_import(self):
        for rule in (('drop_answer', 'HttpNfcLeaseProgress'),
                     ('drop_answer', 'HttpNfcLeaseComplete'),
                     ('http_503', 'HttpNfcLeaseComplete')):
            volume = self.new_volume()
            self.fault(*rule)
            self.import_image(volume, 'image-qcow2')
            self.assertEqual([rule], self.injected()[-1:])
            self.assertEqual(self.heads['image-qcow2'],
                             self.read_head(volume.id), rule)
            self.assertNoTemporaryFiles()

    def test_interrupted_upload_leaves_no_backing(self):
        for kind in ('reset', 'drop_answer', 'http_500'):
            volume = self.new_volume()
            self.fault(kind, 'nfc:PUT')
            self.assertRaises(exceptions.ImageTransferError,
                              self.import_image, volume, 'image-qcow2')
            self.assertEqual([(kind, 'nfc:PUT')], self.injected()[-1:])
            self.assertIsNone(self.read_head(volume.id), kind)
            self.assertNoTemporaryFiles()

    def test_download_broken_off_midway_is_a_failure(self):
        volume = self.new_volume()
        self.import_image(volume)
        for disk_format in ('vmdk', 'qcow2'):
            image_id = self.images.queued(disk_format)
            self.fault('drop_answer', 'nfc:GET')
            err = self.assertRaises(
                exceptions.ImageTransferError,
                self.faulty.copy_volume_to_image, None, volume, self.images,
                {'id': image_id, 'disk_format': disk_format,
                 'container_format': 'bare'})
            self.assertEqual([('drop_answer', 'nfc:GET')],
                             self.injected()[-1:], str(err))
            self.assertEqual('broken off after %d bytes'
                             % proxy_mod.STREAM_CHUNK,
                             self.plan.injected[-1].detail)
            self.assertIsNone(self.images.images[image_id]['data'])
            self.assertNoTemporaryFiles()
        # the volume is as it was
        self.assertEqual(self.heads['image-stream'],
                         self.read_head(volume.id))
