"""The volume driver in Cinder's vocabulary.

:class:`VMwareVolumeDriver` puts together the parts of the driver, one module
per concern: :mod:`.backings` (finding backings), :mod:`.lifecycle`
(create, delete, extend), :mod:`.snapshots`, :mod:`.clones` and
:mod:`.connections`. Method names and signatures follow Cinder's volume
driver interface; volume and snapshot objects are read by attribute only, so
Cinder's objects and plain ones both work. Nothing here imports Cinder.
"""

from oslo_log import log as logging

from vmware_backend.volume import backings
from vmware_backend.volume import clones
from vmware_backend.volume import connections
from vmware_backend.volume import lifecycle
from vmware_backend.volume import manage
from vmware_backend.volume import manage_snapshots
from vmware_backend.volume import retype
from vmware_backend.volume import snapshots

LOG = logging.getLogger(__name__)


VERSION = '1.0.0'
VENDOR = 'VMware'
STORAGE_PROTOCOL = connections.STORAGE_PROTOCOL
CLONE_SNAPSHOT_PREFIX = clones.CLONE_SNAPSHOT_PREFIX


class VMwareVolumeDriver(lifecycle.LifecycleMixin, snapshots.SnapshotMixin,
                         clones.CloneMixin, connections.ConnectionMixin,
                         manage.ManageMixin,
                         manage_snapshots.ManageSnapshotsMixin,
                         retype.RetypeMixin,
                         backings.BackingAccess):
    """Maps Cinder volume operations onto vCenter.

    :param options: option values, see :func:`vmware_backend.conf.
        read_options`.
    :param session: a :class:`~vmware_backend.vsphere.session.VCenterSession`;
        one is made from ``options`` when omitted.
    """

    VERSION = VERSION

    def __init__(self, options, session=None, placement=None):
        super().__init__(options, session=session, placement=placement)
        self._stats = None

    def do_setup(self, context=None):
        """Log in to vCenter; errors name the server and the user."""
        self.session.api

    def check_for_setup_error(self):
        """Check that the configured clusters exist and have a pool."""
        pools = self.placement.pools(refresh=True)
        if not pools:
            LOG.warning('No usable datastore found: %s',
                        self.placement.rejected())

    def get_volume_stats(self, refresh=False):
        """Backend statistics with one pool per usable datastore."""
        if self._stats is None or refresh:
            pools = self.placement.pools(refresh=refresh)
            self._stats = {
                'volume_backend_name': self.options['vcenter_backend_name'],
                'vendor_name': VENDOR,
                'driver_version': VERSION,
                'storage_protocol': STORAGE_PROTOCOL,
                'total_capacity_gb': round(sum(
                    p['total_capacity_gb'] for p in pools), 2),
                'free_capacity_gb': round(sum(
                    p['free_capacity_gb'] for p in pools), 2),
                'reserved_percentage':
                    self.options['vcenter_reserved_percentage'],
                'max_over_subscription_ratio':
                    self.options['vcenter_max_over_subscription_ratio'],
                'thin_provisioning_support': True,
                'thick_provisioning_support': True,
                'multiattach': False,
                'online_extend_support': False,
                'pools': pools,
            }
        return self._stats
