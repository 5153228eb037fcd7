"""Cinder's image-volume cache with this driver, read back on vCenter.

Run by tools/openstack-tempest.sh after tempest (stack of tools/
openstack-up.sh: ``image_volume_cache_enabled = True`` on backend
vmware-2, Cinder's internal tenant = the service project and cinder
user). Cinder keys cache entries by ``host@backend#pool`` and this
driver's pools are datastores, so a volume type pins the two volumes to
one pool (``pool_name``) and asks for linked clones
(``vmware:clone_type=linked``):

1. volume A from the image: a cache miss downloads the image into A
   (``copy_image_to_volume``), and Cinder clones A into its cache entry C
   (``image-<image id>``, internal tenant); the driver makes C a full
   clone, so A stays deletable (if an entry existed already, A is a clone
   of it);
2. volume B from the same image: a cache hit; Cinder asks the driver for a
   clone of C, no download: vCenter must show B's backing as a linked
   clone of C's (the ``parent`` record of ``vmware-backend-manage
   volumes``), C's backing with no parent (not tied to A), and still one
   cache entry for the pool;
3. everything is deleted again: B, A, then every volume of the internal
   tenant (the cache entries, also those tempest's image tests made), and
   no backing of them may be left.

Exit status 1 on any violation.
"""

import argparse
import os
import sys
import time
import uuid

from cinderclient import client as cinder_client

import stackenv


def log(msg):
    print('%s image-cache-check: %s' % (time.strftime('%H:%M:%S'), msg),
          flush=True)


def cinder():
    return cinder_client.Client('3.50',
                                session=stackenv.keystone_session())


def wait(what, predicate, timeout=300, interval=2):
    value = stackenv.poll(predicate, timeout, interval)
    if not value:
        raise SystemExit('image-cache-check: timed out waiting for %s'
                         % what)
    return value


def backings(conf):
    """{volume id: row of ``vmware-backend-manage volumes``}."""
    rows = {}
    for backend in stackenv.volumes_report(conf):
        if backend['errors'] or backend['status']:
            raise SystemExit('image-cache-check: volumes of %s: %s'
                             % (backend['backend'], backend['errors']))
        for row in backend['result']:
            rows[row['volume_id']] = row
    return rows


def internal_project(state):
    path = os.path.join(state, 'etc', 'cinder', 'internal-tenant.conf')
    with open(path) as f:
        for line in f:
            key, _, value = line.partition('=')
            if key.strip() == 'cinder_internal_tenant_project_id':
                return value.strip()
    raise SystemExit('image-cache-check: no internal tenant in %s' % path)


def host_of(volume):
    return getattr(volume, 'os-vol-host-attr:host')


def create_from_image(cs, name, image_id, volume_type):
    volume = cs.volumes.create(1, name=name, imageRef=image_id,
                               volume_type=volume_type)

    def done():
        current = cs.volumes.get(volume.id)
        if current.status == 'error':
            raise SystemExit('image-cache-check: volume %s (%s) failed'
                             % (name, volume.id))
        return current if current.status == 'available' else None
    return wait('volume %s' % name, done)


def delete_all(cs, ids, what):
    for vol_id in ids:
        cs.volumes.delete(vol_id)

    def gone():
        left = [v for v in cs.volumes.list(search_opts={'all_tenants': 1})
                if v.id in ids]
        failed = [v.id for v in left if v.status == 'error_deleting']
        if failed:
            raise SystemExit('image-cache-check: delete of %s failed: %s'
                             % (what, failed))
        return not left
    wait('%s deleted' % what, gone)


def backend_pool(host):
    """``backend#pool`` of ``host@backend#pool``.

    In a Cinder cluster (VMWARE_BACKEND_OPENSTACK_CLUSTER=1) either node
    may hold a volume.
    """
    return host.split('@', 1)[-1]


def cache_entries(cs, project, image_id, host):
    entries = cs.volumes.list(search_opts={
        'all_tenants': 1, 'project_id': project,
        'name': 'image-%s' % image_id})
    return [v for v in entries
            if backend_pool(host_of(v)) == backend_pool(host)]


def pinned_type(cs, backend):
    """(volume type, pool): a linked-clone type pinned to one pool."""
    pools = [p.name for p in cs.pools.list(detailed=False)
             if p.name.split('#')[0].endswith('@' + backend)]
    if not pools:
        raise SystemExit('image-cache-check: no pool of backend %s' % backend)
    pool = sorted(pools)[0]
    vtype = cs.volume_types.create('image-cache-check-%s'
                                   % uuid.uuid4().hex[:8])
    vtype.set_keys({'volume_backend_name': backend,
                    'pool_name': pool.split('#', 1)[1],
                    'vmware:clone_type': 'linked'})
    return vtype, pool


def check(cs, conf, project, image_id, vtype, pool, problems):
    made = []
    try:
        before = cache_entries(cs, project, image_id, pool)
        first = create_from_image(cs, 'cache-a', image_id, vtype.id)
        made.append(first.id)
        entries = cache_entries(cs, project, image_id, host_of(first))
        log('volume A %s on %s; cache entries for the pool before: %d, '
            'after A: %s' % (first.id, host_of(first), len(before),
                             [v.id for v in entries]))
        if len(entries) != 1:
            problems.append('after A: %d cache entries, expected 1'
                            % len(entries))
            return
        entry = entries[0]
        second = create_from_image(cs, 'cache-b', image_id, vtype.id)
        made.append(second.id)
        after = [v.id for v in cache_entries(cs, project, image_id,
                                             host_of(first))]
        rows = backings(conf)
        parent = (rows.get(second.id) or {}).get('parent')
        log('volume B %s: backing parent %r; cache entry %s: parent %r, '
            'linked clones %s; A: linked clones %s' % (
                second.id, parent, entry.id,
                (rows.get(entry.id) or {}).get('parent'),
                sorted((rows.get(entry.id) or {}).get('linked_clones')
                       or {}),
                sorted((rows.get(first.id) or {}).get('linked_clones')
                       or {})))
        if after != [entry.id]:
            problems.append('after B: cache entries %s, expected [%s]'
                            % (after, entry.id))
        if not parent or parent.split(':', 1)[0] != entry.id:
            problems.append('B (%s) is not a linked clone of cache entry '
                            '%s on vCenter (parent %r)'
                            % (second.id, entry.id, parent))
        if entry.id not in rows:
            problems.append('cache entry %s has no backing' % entry.id)
        elif rows[entry.id].get('parent'):
            problems.append('cache entry %s is a linked clone (%s): it '
                            'ties a user\'s volume' % (
                                entry.id, rows[entry.id]['parent']))
    finally:
        delete_all(cs, list(reversed(made)), 'volumes A and B')


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--state', required=True)
    parser.add_argument('--image-id', required=True)
    parser.add_argument('--backend', default='vmware-2')
    args = parser.parse_args()
    conf = os.path.join(args.state, 'etc', 'cinder', 'cinder.conf')
    project = internal_project(args.state)
    cs = cinder()
    problems = []
    t0 = time.monotonic()
    vtype, pool = pinned_type(cs, args.backend)
    try:
        check(cs, conf, project, args.image_id, vtype, pool, problems)
    finally:
        # Cache entries outlive their images: remove every one (also those
        # of tempest's image tests) so that no backing is left.
        internal = [v.id for v in cs.volumes.list(search_opts={
            'all_tenants': 1, 'project_id': project})]
        log('deleting %d volume(s) of the internal tenant (cache entries)'
            % len(internal))
        delete_all(cs, internal, 'cache entries')
        # The cache entry has the type too: deleted last.
        cs.volume_types.delete(vtype.id)
    left = set(backings(conf)) & set(internal)
    if left:
        problems.append('backings left of cache entries %s' % sorted(left))
    for problem in problems:
        log('VIOLATION: %s' % problem)
    log('%d violation(s), %.0f s' % (len(problems), time.monotonic() - t0))
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main())
