"""Cinder 29's in-tree VMDK driver on the simulator (tests and bench).

``tox -e cinder`` (tests/openstack/test_cinder_driver.py: backings the
in-tree driver made, adopted by this one) and ``python -m bench --only
intree`` (per-operation cost side by side) load Cinder's own
``VMwareVcVmdkDriver`` against vcsim. Cinder is imported when
:func:`driver_class` is called, not with this module.
"""

DRIVER = 'cinder.volume.drivers.vmware.vmdk.VMwareVcVmdkDriver'


def section(server, cluster, task_poll_interval, **values):
    """A cinder.conf section of an in-tree backend on ``server``.

    :param values: more options, or ones replacing these.
    """
    return dict({
        'volume_driver': DRIVER,
        'vmware_host_ip': '127.0.0.1',
        'vmware_host_port': server.port,
        'vmware_host_username': server.username,
        'vmware_host_password': server.password,
        'vmware_wsdl_location': 'file://%s' % server.wsdl,
        'vmware_cluster_name': cluster,
        'vmware_lazy_create': 'false',
        'vmware_task_poll_interval': task_poll_interval}, **values)


def driver_class():
    """Cinder's in-tree driver class, unchanged but for the scheme.

    Its ``_create_session`` always speaks https; the simulator serves
    plain http, so the session is made with the same arguments and
    ``scheme='http'`` (oslo.vmware's own argument). Everything else --
    setup, extension registration, placement, backing creation,
    snapshots, clones, unmanage -- is the driver's own code.
    """
    from cinder.volume.drivers.vmware import vmdk
    from oslo_vmware import api

    class InTreeDriver(vmdk.VMwareVcVmdkDriver):

        def _create_session(self):
            conf = self.configuration
            return api.VMwareAPISession(
                conf.vmware_host_ip, conf.vmware_host_username,
                conf.vmware_host_password, conf.vmware_api_retry_count,
                conf.vmware_task_poll_interval,
                wsdl_loc=conf.safe_get('vmware_wsdl_location'),
                port=conf.vmware_host_port, scheme='http',
                pool_size=conf.vmware_connection_pool_size,
                op_id_prefix='c-vol')

    return InTreeDriver
