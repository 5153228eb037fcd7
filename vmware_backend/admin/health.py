"""What ``vmware-backend-manage check`` and ``pools`` report.

:func:`check` connects with the configured options and gathers the vCenter
version, the configured clusters, the usable pools and the rejected
datastores into a plain dict, turning every problem into a
``{'problem': ..., 'hint': ...}`` entry. :func:`diagnose` (pure) maps a
connection error to its hint. No value here ever contains the password.
"""

from vmware_backend import exceptions
from vmware_backend.volume import datastore

HINT_LOGIN = ('check vcenter_username and vcenter_password in the [vmware] '
              'section; the user needs a vCenter role with the privileges '
              'of the backend')
HINT_CERTIFICATE = ('the vCenter certificate is not trusted: set '
                    'vcenter_ca_file to the CA bundle that signed it '
                    '(vcenter_insecure = true only for test set-ups)')
HINT_UNREACHABLE = ('check vcenter_host, vcenter_port and vcenter_scheme, '
                    'and that vCenter is reachable from this host')
HINT_CLUSTER = ('vcenter_cluster_names must name existing clusters '
                '(found: %s); leave it empty to use every cluster')
HINT_NO_POOL = ('no datastore is usable (see the rejected datastores); '
                'check vcenter_datastore_regex, vcenter_datastore_types and '
                'vcenter_cluster_names')
HINT_READ = ('the user may lack the read privilege on the inventory; see '
             'the vCenter logs')
HINT_NO_HOST = ('set vcenter_host (and vcenter_username, '
                'vcenter_password) in the [vmware] section')

_CERT_MARKERS = ('CERTIFICATE_VERIFY_FAILED', 'certificate verify failed',
                 'self signed certificate', 'self-signed certificate')


def problem(text, hint):
    """One problem entry."""
    return {'problem': text, 'hint': hint}


def diagnose(err):
    """The problem entry for an error raised while connecting."""
    text = getattr(err, 'msg', None) or str(err) or type(err).__name__
    text = text.strip().splitlines()[0] if text.strip() else text
    if isinstance(err, exceptions.VCenterLoginError):
        return problem(text, HINT_LOGIN)
    if isinstance(err, exceptions.VCenterTLSError) and err.hint:
        # The session knows which check failed (name, issuer, expiry).
        return problem(text, err.hint)
    if any(marker.lower() in str(err).lower() for marker in _CERT_MARKERS):
        return problem(text, HINT_CERTIFICATE)
    if isinstance(err, exceptions.VCenterConnectionError):
        return problem(text, HINT_UNREACHABLE)
    return problem('%s: %s' % (type(err).__name__, text), HINT_UNREACHABLE)


def clusters_of(inventory):
    """{cluster name: props} of every cluster in the inventory."""
    return {props.get('name'): props for ref, props in
            inventory.compute_resources.items()
            if ref.type == datastore.CLUSTER_TYPE}


def cluster_rows(inventory, configured):
    """One row per configured cluster (every cluster when none is).

    :returns: list of ``{'name', 'exists', 'hosts'}`` dicts.
    """
    clusters = clusters_of(inventory)
    names = list(configured) or sorted(clusters)
    return [{'name': name, 'exists': name in clusters,
             'hosts': len((clusters.get(name) or {}).get('host') or [])}
            for name in names]


def pool_rows(placement):
    """The usable pools as rows: name, type, sizes in GiB and host names.

    :param placement: a
        :class:`vmware_backend.volume.placement.PlacementService`.
    """
    pools = placement.usable_pools()
    stats = {s['pool_name']: s for s in placement.pools()}
    hosts = placement.inventory().hosts
    rows = []
    for pool in pools:
        stat = stats.get(pool.name, {})
        rows.append({
            'name': pool.name,
            'datastore': pool.datastore_name,
            'type': pool.type,
            'total_gb': stat.get('total_capacity_gb'),
            'free_gb': stat.get('free_capacity_gb'),
            'provisioned_gb': stat.get('provisioned_capacity_gb'),
            'hosts': sorted((hosts.get(h) or {}).get('name') or h.value
                            for h in pool.hosts),
        })
    return rows


def check(options, session_factory, placement_factory):
    """Connect and report on the backend's view of vCenter.

    :param options: option values (``conf.read_options``).
    :param session_factory: builds a session from ``options``.
    :param placement_factory: builds a placement service from
        ``(session, options)``.
    :returns: dict with ``ok``, ``vcenter``, ``clusters`` (the configured
        ones), ``available_clusters``, ``pools``, ``rejected`` and
        ``problems``.
    """
    report = {'ok': False, 'vcenter': {}, 'clusters': [],
              'available_clusters': [], 'pools': [], 'rejected': {},
              'problems': []}
    if not options.get('vcenter_host'):
        report['problems'].append(problem('vcenter_host is not set',
                                          HINT_NO_HOST))
        return report
    session = session_factory(options)
    report['vcenter'] = {'url': session.url,
                         'user': options.get('vcenter_username')}
    try:
        try:
            session.api
            about = session.service_content.about
        except Exception as err:
            report['problems'].append(diagnose(err))
            return report
        report['vcenter'].update({
            'name': str(getattr(about, 'fullName', '') or ''),
            'api_version': str(getattr(about, 'apiVersion', '') or ''),
            'instance_uuid': str(getattr(about, 'instanceUuid', '') or ''),
        })
        placement = placement_factory(session, options)
        try:
            inventory = placement.inventory(refresh=True)
        except exceptions.VMwareBackendException as err:
            report['problems'].append(problem(
                'reading the inventory failed: %s' % err, HINT_READ))
            return report
        report['clusters'] = cluster_rows(
            inventory, options.get('vcenter_cluster_names') or ())
        report['available_clusters'] = sorted(
            name for name in clusters_of(inventory) if name)
        report['pools'] = pool_rows(placement)
        report['rejected'] = placement.rejected()
    finally:
        session.close()
    report['problems'].extend(_placement_problems(report))
    report['ok'] = not report['problems']
    return report


def _placement_problems(report):
    problems = []
    missing = [c['name'] for c in report['clusters'] if not c['exists']]
    if missing:
        problems.append(problem(
            'cluster(s) not found in vCenter: %s' % ', '.join(missing),
            HINT_CLUSTER % (', '.join(report['available_clusters']) or
                            'no cluster at all')))
    if not report['pools']:
        problems.append(problem('no usable datastore', HINT_NO_POOL))
    return problems
