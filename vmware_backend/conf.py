"""Configuration options of the vCenter block-storage backend.

Every option lives here, in the ``[vmware]`` group of the backend's ini file.
The same option list is appended to a backend section of cinder.conf by the
Cinder adapter, which is why every name carries the ``vcenter_`` prefix: it
keeps them clear of Cinder's own backend options (``reserved_percentage``,
``volume_backend_name``...) and of Cinder's in-tree ``vmware_*`` options.
"""

import os
import re
from urllib import parse

from oslo_config import cfg

from vmware_backend import exceptions

GROUP = 'vmware'

ADAPTER_TYPES = ('lsiLogic', 'busLogic', 'lsiLogicsas', 'paraVirtual', 'ide')
DISK_TYPES = ('thin', 'thick', 'eagerZeroedThick')
CLONE_TYPES = ('full', 'linked')
DATASTORE_TYPES = ('VMFS', 'NFS', 'NFS41', 'vsan', 'VVOL')

connection_opts = [
    cfg.HostAddressOpt(
        'vcenter_host',
        help='vCenter server host name or IP address. When unset, the '
             'operator commands ("demo") start the embedded vCenter '
             'simulator instead.'),
    cfg.PortOpt(
        'vcenter_port', default=443, min=1,
        help='vCenter server port (1-65535).'),
    cfg.StrOpt(
        'vcenter_scheme', default='https', choices=['https', 'http'],
        help='Protocol used to talk to vCenter. Plain "http" is only meant '
             'for the vCenter simulator and must be chosen explicitly.'),
    cfg.StrOpt(
        'vcenter_username',
        help='User name for the vCenter login.'),
    cfg.StrOpt(
        'vcenter_password', secret=True,
        help='Password for the vCenter login.'),
    cfg.StrOpt(
        'vcenter_ca_file',
        help='CA bundle used to verify the vCenter server certificate. '
             'Takes precedence over vcenter_insecure.'),
    cfg.BoolOpt(
        'vcenter_insecure', default=False,
        help='Skip verification of the vCenter server certificate. Only for '
             'test set-ups: it exposes the credentials to anyone who can '
             'intercept the connection.'),
    cfg.StrOpt(
        'vcenter_wsdl_location',
        help='URL or path of the vSphere WSDL (vimService.wsdl). By default '
             'the WSDL served by vCenter at /sdk/vimService.wsdl is used.'),
    cfg.StrOpt(
        'vcenter_pbm_wsdl_location',
        help='URL or path of the vSphere storage policy (PBM) WSDL '
             '(pbmService.wsdl), used for volume types with '
             'vmware:storage_profile. By default the one oslo.vmware ships '
             'for the vCenter\'s version (its "major.minor" folder) is used; '
             'set this when oslo.vmware has none for that version.'),
    cfg.IntOpt(
        'vcenter_api_retry_count', default=3, min=0,
        help='Times a vCenter call is retried after a connection problem or '
             'an expired session.'),
    cfg.FloatOpt(
        'vcenter_task_poll_interval', default=1.0, min=0.01,
        help='Longest pause, in seconds, between two polls of a running '
             'vCenter task. Polling starts within milliseconds and backs off '
             'up to this value, so short tasks are noticed promptly.'),
    cfg.FloatOpt(
        'vcenter_task_timeout', default=1800.0, min=1.0,
        help='Deadline, in seconds, for one vCenter task. A task still '
             'running after it is reported as a timeout naming the task and '
             'the object.'),
    cfg.FloatOpt(
        'vcenter_http_timeout', default=120.0, min=1.0,
        help='Timeout, in seconds, of every HTTP request to vCenter.'),
    cfg.FloatOpt(
        'vcenter_transfer_timeout', default=300.0, min=1.0,
        help='Longest wait, in seconds, for data during a disk transfer '
             '(images, backups: the HttpNfcLease upload or download). '
             'vCenter may send nothing for a while as it skips the '
             'unwritten part of a large thin disk, so it is separate from '
             'vcenter_http_timeout, which still bounds connecting.'),
    cfg.IntOpt(
        'vcenter_connection_pool_size', default=10, min=1,
        help='Maximum number of HTTP connections kept open to vCenter.'),
]

placement_opts = [
    cfg.ListOpt(
        'vcenter_cluster_names', default=[],
        help='Clusters whose hosts and datastores the backend may use. '
             'Empty means every cluster of the vCenter.'),
    cfg.StrOpt(
        'vcenter_volume_folder', default='OpenStack/Volumes',
        help='VM folder, below the datacenter\'s VM folder, that holds the '
             'volume backings. Nested folders are separated by "/" and '
             'created when missing.'),
    cfg.StrOpt(
        'vcenter_datastore_regex',
        help='Only datastores whose name matches this regular expression '
             'are used as pools.'),
    cfg.ListOpt(
        'vcenter_datastore_types', default=list(DATASTORE_TYPES),
        item_type=cfg.types.String(choices=DATASTORE_TYPES),
        help='Datastore types usable as pools.'),
    cfg.IntOpt(
        'vcenter_reserved_percentage', default=0, min=0, max=100,
        help='Percentage of each datastore kept free; placement does not '
             'use it.'),
    cfg.FloatOpt(
        'vcenter_max_over_subscription_ratio', default=20.0, min=1.0,
        help='Ratio of provisioned to real capacity allowed for thin '
             'volumes on a datastore.'),
    cfg.FloatOpt(
        'vcenter_inventory_cache_seconds', default=30.0, min=0.0,
        help='Lifetime of the cached datastore and host data used for '
             'placement and statistics.'),
    cfg.IntOpt(
        'vcenter_inventory_page_size', default=1000, min=1,
        help='Objects per page when reading the inventory '
             '(RetrievePropertiesEx maxObjects).'),
    cfg.StrOpt(
        'vcenter_read_transport', default='auto',
        choices=[('auto', 'VI/JSON when vCenter offers it (8.0 U1 and '
                  'later), SOAP otherwise'),
                 ('json', 'always VI/JSON; an error when vCenter does not '
                  'offer it'),
                 ('soap', 'always SOAP')],
        help='Wire protocol of the inventory reads (pools, placement, the '
             'volumes, audit, manageable and check commands): VI/JSON '
             '(/sdk/vim25/{release}/..., read asynchronously with aiohttp, '
             'several times faster than SOAP for large inventories) or SOAP. '
             'auto probes vCenter once per session (System.hello, then the '
             'service content over VI/JSON) and falls back to SOAP; it also '
             'uses SOAP in eventlet-patched processes (cinder-volume). TLS '
             'verification and vcenter_ca_file apply to both. Changes '
             '(create, clone, delete, ...) always use SOAP.'),
]

volume_opts = [
    cfg.StrOpt(
        'vcenter_image_tmp_dir',
        help='Directory for the temporary files of image conversions '
             '(raw, qcow2 and non-streamOptimized vmdk images are converted '
             'with qemu-img before they are sent to vCenter, and uploads to '
             'raw/qcow2 images are converted from the exported disk) and of '
             'disks staged for Cinder\'s backup service (subdirectory '
             'vmware-backend-backup; cinder-backup must run on this host or '
             'see this directory at the same path). Free space is checked '
             'before each conversion and the files are removed afterwards, '
             'on failure too. Unset: the system temporary directory. '
             'streamOptimized vmdk images need no local space: they are '
             'streamed.'),
    cfg.StrOpt(
        'vcenter_backend_name', default='vmware_backend',
        help='Backend name reported in the volume statistics when the '
             'driver runs outside Cinder (inside Cinder the '
             'volume_backend_name is used). With vcenter_volume_folder it '
             'identifies the backend on vCenter: each backing records it '
             'as its owner, and the operator commands (volumes, audit) '
             'only consider the backings of this owner, so their '
             'configuration must set it to the Cinder backend\'s '
             'volume_backend_name.'),
    cfg.StrOpt(
        'vcenter_default_adapter_type', default='lsiLogic',
        choices=ADAPTER_TYPES,
        help='Disk adapter type of a volume whose type does not set '
             'vmware:adapter_type.'),
    cfg.StrOpt(
        'vcenter_default_disk_type', default='thin', choices=DISK_TYPES,
        help='Disk provisioning type of a volume whose type does not set '
             'vmware:vmdk_type.'),
    cfg.StrOpt(
        'vcenter_default_clone_type', default='full', choices=CLONE_TYPES,
        help='Clone type of a volume whose type does not set '
             'vmware:clone_type.'),
    cfg.IntOpt(
        'vcenter_backing_memory_mb', default=128, min=4,
        help='Memory of a backing VM. Backings are never powered on; the '
             'value only has to be valid for vCenter.'),
    cfg.StrOpt(
        'vcenter_coordination_url',
        default='file:///var/lib/vmware_backend/locks',
        help='tooz backend URL of the per-volume locks that keep two '
             'processes from creating, changing or deleting the same volume '
             'at once (e.g. two creates of one volume id making two '
             'backings). The default, a file-lock backend in a local '
             'directory, only serialises processes of this node; for '
             'processes on several nodes use a shared backend such as '
             'redis://HOST:6379 or etcd3+http://HOST:2379. Inside Cinder '
             'this option is ignored: the locks are taken through Cinder\'s '
             'own coordination ([coordination] backend_url). Set it to that '
             'same URL where operator commands run beside cinder-volume, so '
             'both take the same locks (lock names carry the backend name: '
             'set vcenter_backend_name to the volume_backend_name).'),
    cfg.StrOpt(
        'vcenter_wsdl_cache_dir',
        help='Directory of the parsed vSphere service description (the '
             'WSDL as suds builds it, ~11 MB per WSDL version), so that a '
             'new process starts a session without parsing the WSDL again. '
             'Entries are keyed by the SHA-256 of the WSDL and of every '
             'schema file it imports, so a changed WSDL is parsed anew. '
             'The directory is made mode 0700 and its files 0600; a '
             'directory or file not owned by this user or writable by '
             'others is not used. Unset: $XDG_CACHE_HOME/vmware_backend/wsdl '
             '(~/.cache/vmware_backend/wsdl). An empty value keeps the '
             'description in process memory only.'),
]

ALL_OPTS = connection_opts + placement_opts + volume_opts

_REQUIRED_WITH_HOST = ('vcenter_username', 'vcenter_password')


def register_opts(conf, group=GROUP):
    """Register every option of this package in ``group`` of ``conf``."""
    conf.register_opts(ALL_OPTS, group=group)


def option_defaults(**overrides):
    """Every option's default value, updated with ``overrides``.

    For code that runs the backend without an ini file (tests, the demo on
    the embedded simulator).
    """
    values = {opt.dest: opt.default for opt in ALL_OPTS}
    unknown = set(overrides) - set(values)
    if unknown:
        raise KeyError('unknown options: %s' % ', '.join(sorted(unknown)))
    values.update(overrides)
    return values


def list_opts():
    """Options for oslo-config-generator (``oslo.config.opts`` entry)."""
    return [(GROUP, ALL_OPTS)]


def read_options(conf, group=GROUP):
    """Read and check every option, returning them as a plain dict.

    oslo.config only converts a value when it is first read, so a bad value
    would otherwise surface deep inside a later vCenter call. Reading all of
    them here turns that into one error at start-up naming the option.

    :raises exceptions.InvalidConfiguration: naming the bad option.
    """
    section = conf[group] if group else conf
    values = {}
    for opt in ALL_OPTS:
        try:
            values[opt.dest] = getattr(section, opt.dest)
        except (cfg.ConfigFileValueError, ValueError) as err:
            raise exceptions.InvalidConfiguration(
                group=group, option=opt.name, reason=_first_line(err))
    if values['vcenter_host']:
        for name in _REQUIRED_WITH_HOST:
            if not values[name]:
                raise exceptions.InvalidConfiguration(
                    group=group, option=name,
                    reason='required when vcenter_host is set')
    if values['vcenter_datastore_regex']:
        try:
            re.compile(values['vcenter_datastore_regex'])
        except re.error as err:
            raise exceptions.InvalidConfiguration(
                group=group, option='vcenter_datastore_regex',
                reason='%r is not a valid regular expression: %s'
                       % (values['vcenter_datastore_regex'], err))
    folder = values['vcenter_volume_folder']
    if not folder or any(not part.strip() for part in folder.split('/')):
        raise exceptions.InvalidConfiguration(
            group=group, option='vcenter_volume_folder',
            reason='%r must be a "/"-separated path of non-empty folder '
                   'names' % folder)
    check_files(values, group)
    return values


def _first_line(err):
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def wsdl_path(location):
    """The local file a ``vcenter_wsdl_location`` names, or None (a URL)."""
    if not location:
        return None
    scheme = parse.urlsplit(location).scheme
    if scheme == 'file':
        return parse.unquote(parse.urlsplit(location).path)
    return None if scheme else location


def check_files(values, group=GROUP):
    """Check that the CA bundle and a local WSDL file can be read.

    :raises exceptions.InvalidConfiguration: naming the option and the path.
    """
    for option, path in (('vcenter_ca_file', values.get('vcenter_ca_file')),
                         ('vcenter_wsdl_location',
                          wsdl_path(values.get('vcenter_wsdl_location')))):
        if not path:
            continue
        if not os.path.isfile(path):
            reason = ('%s does not exist' % path if not os.path.exists(path)
                      else '%s is not a file' % path)
        elif not os.access(path, os.R_OK):
            reason = '%s is not readable by this process' % path
        else:
            continue
        raise exceptions.InvalidConfiguration(
            group=group, option=option,
            reason=reason + '; set it to the path of an existing file')
