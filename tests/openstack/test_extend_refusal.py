"""An extend this driver must refuse, in Cinder's own scheduler.

vSphere cannot grow a disk with snapshots. Refused in cinder-volume, the
extend would leave the volume in ``error_extending`` (Cinder 29's
``VolumeManager.extend_volume_completion`` does that for every driver
error); refused by the scheduler filter
:class:`vmware_backend.openstack.scheduler_filter.VMwareExtendFilter`, the
volume goes back to ``available``. These tests run Cinder's real
``SchedulerManager.extend_volume`` (filter scheduler, host manager loading
the filter through the ``cinder.scheduler.filters`` entry point by its name
in ``scheduler_default_filters``) on Cinder's test database
(``cinder.tests.unit.test.TestCase``), and read back the volume's status,
size, the user message and the quota reservation from the database.
"""

import copy

from tests import openstack

openstack.load_cinder()  # before the imports below, as cinder-volume does

from oslo_serialization import jsonutils  # noqa: E402

from cinder import context as cinder_context  # noqa: E402
from cinder.db import api as db  # noqa: E402
from cinder.objects import base as objects_base  # noqa: E402
from cinder import quota  # noqa: E402
from cinder.scheduler import host_manager  # noqa: E402,F401 (its options)
from cinder.scheduler import manager as scheduler_manager  # noqa: E402
from cinder.tests.unit import fake_constants  # noqa: E402
from cinder.tests.unit import test as cinder_test  # noqa: E402
from cinder.tests.unit import utils as cinder_utils  # noqa: E402
from cinder.volume import rpcapi as volume_rpcapi  # noqa: E402

HOST = 'cinder-test@vmware-1'
POOL = 'dc-1:datastore-11'
# The backend-level statistics this driver reports (tests.unit.
# test_driver_stats pins them), with one pool.
CAPABILITIES = {
    'volume_backend_name': 'vmware-1',
    'vendor_name': 'VMware',
    'driver_version': '1.0.0',
    'storage_protocol': 'vmdk',
    'total_capacity_gb': 100.0,
    'free_capacity_gb': 80.0,
    'reserved_percentage': 0,
    'max_over_subscription_ratio': 1.0,
    'thin_provisioning_support': True,
    'thick_provisioning_support': True,
    'multiattach': False,
    'online_extend_support': False,
    'pools': [{
        'pool_name': POOL,
        'total_capacity_gb': 100.0,
        'free_capacity_gb': 80.0,
        'provisioned_capacity_gb': 20.0,
        'reserved_percentage': 0,
        'max_over_subscription_ratio': 1.0,
        'thin_provisioning_support': True,
        'thick_provisioning_support': True,
        'online_extend_support': False,
        'multiattach': False,
        'QoS_support': True,
    }],
}
FILTERS = ['AvailabilityZoneFilter', 'CapacityFilter', 'CapabilitiesFilter',
           'VMwareExtendFilter']


class SchedulerExtendTest(cinder_test.TestCase):

    def setUp(self):
        super().setUp()
        self.override_config('scheduler_default_filters', FILTERS)
        # The user's request context, as cinder-api passes it on.
        self.ctxt = cinder_context.RequestContext(
            fake_constants.USER_ID, fake_constants.PROJECT_ID)
        cinder_utils.create_service(self.ctxt.elevated(), {
            'host': HOST, 'binary': 'cinder-volume',
            'topic': 'cinder-volume', 'availability_zone': 'fake_az',
            'rpc_current_version': volume_rpcapi.VolumeAPI.RPC_API_VERSION,
            'object_current_version':
                objects_base.OBJ_VERSIONS.get_current()})
        # Volume casts to cinder-volume are recorded, not sent.
        self.casts = []
        self.patch('cinder.volume.rpcapi.VolumeAPI.extend_volume',
                   side_effect=lambda ctxt, volume, new_size, reservations:
                   self.casts.append((volume.id, new_size)))

    def _start_scheduler(self, capabilities):
        self.scheduler = scheduler_manager.SchedulerManager()
        self.scheduler.update_service_capabilities(
            self.ctxt, service_name='volume', host=HOST,
            # The host manager writes into the pools' dicts.
            capabilities=copy.deepcopy(capabilities), cluster_name=None,
            timestamp=None)

    def _extend(self, snapshots=0, capabilities=CAPABILITIES):
        self._start_scheduler(capabilities)
        volume = cinder_utils.create_volume(
            self.ctxt, host='%s#%s' % (HOST, POOL), size=1,
            status='extending', previous_status='available',
            availability_zone='fake_az')
        for _ in range(snapshots):
            cinder_utils.create_snapshot(self.ctxt, volume.id,
                                         status='available')
        reservations = quota.QUOTAS.reserve(
            self.ctxt, project_id=volume.project_id, gigabytes=1)
        # What cinder-api sends (volume/api.py _extend), as the scheduler's
        # RPC API serialises it.
        request_spec = jsonutils.to_primitive({
            'volume_properties': volume, 'volume_type': {},
            'volume_id': volume.id})
        self.scheduler.extend_volume(self.ctxt, volume, 2, reservations,
                                     request_spec=request_spec)
        return volume, reservations

    def _reserved(self, project_id):
        usages = db.quota_usage_get_all_by_project(self.ctxt, project_id)
        return usages['gigabytes']['reserved']

    def test_volume_with_snapshots_stays_available(self):
        volume, _ = self._extend(snapshots=2)
        stored = db.volume_get(self.ctxt, volume.id)
        self.assertEqual('available', stored.status)
        self.assertEqual(1, stored.size)
        self.assertEqual([], self.casts)
        self.assertEqual(0, self._reserved(volume.project_id))
        messages = db.message_get_all(self.ctxt)
        self.assertEqual(
            [(volume.id, 'VOLUME_VOLUME_007_003')],
            [(m['resource_uuid'], m['event_id']) for m in messages])
        self.assertEqual(2, len(db.snapshot_get_all_for_volume(
            self.ctxt, volume.id)))

    def test_volume_without_snapshots_goes_to_the_volume_service(self):
        volume, _ = self._extend(snapshots=0)
        self.assertEqual([(volume.id, 2)], self.casts)
        self.assertEqual('extending',
                         db.volume_get(self.ctxt, volume.id).status)
        self.assertEqual([], db.message_get_all(self.ctxt))

    def test_other_backends_extend_volumes_with_snapshots(self):
        other = dict(copy.deepcopy(CAPABILITIES), vendor_name='Open Source',
                     storage_protocol='iSCSI')
        volume, _ = self._extend(snapshots=1, capabilities=other)
        self.assertEqual([(volume.id, 2)], self.casts)
        self.assertEqual('extending',
                         db.volume_get(self.ctxt, volume.id).status)
