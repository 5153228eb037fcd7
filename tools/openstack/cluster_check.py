"""Kill one cinder-volume of an active-active cluster mid-run; check vCenter.

Run by tools/openstack-cluster.sh against a stack brought up with
``VMWARE_BACKEND_OPENSTACK_CLUSTER=1`` (services node1 and node2 in one
Cinder cluster). Creates volumes, kills node1's session with SIGKILL while
they are being created, waits for node1 to be reported down, asks Cinder
to clean node1's unfinished work up (``workers/cleanup``: node2 does it),
then compares Cinder with vCenter (the driver's ``vmware-backend-manage
volumes``): no volume lost (available in Cinder without a backing), none
duplicated (two backings for one id), no backing Cinder does not know.
Finally deletes every volume and checks that no backing is left.
Exit status 1 on any violation.
"""

import argparse
import collections
import json
import os
import signal
import subprocess
import sys
import time

from cinderclient import client as cinder_client
from keystoneauth1 import identity
from keystoneauth1 import session as ks_session

SETTLED = ('available', 'error')


def log(msg):
    print('%s cluster-check: %s' % (time.strftime('%H:%M:%S'), msg),
          flush=True)


def cinder():
    auth = identity.Password(
        auth_url=os.environ['OS_AUTH_URL'],
        username=os.environ['OS_USERNAME'],
        password=os.environ['OS_PASSWORD'],
        project_name=os.environ['OS_PROJECT_NAME'],
        user_domain_name='Default', project_domain_name='Default')
    session = ks_session.Session(auth=auth)
    cs = cinder_client.Client('3.24', session=session)
    # Cinder's default quota is 10 volumes per project.
    cs.quotas.update(session.get_project_id(), volumes=-1, gigabytes=-1,
                     snapshots=-1)
    return cs


def wait(what, predicate, timeout, interval=2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise SystemExit('cluster-check: timed out waiting for %s' % what)


def backings(conf):
    out = subprocess.run(
        ['vmware-backend-manage', '--config-file', conf, '--format', 'json',
         'volumes'], check=True, capture_output=True, text=True).stdout
    ids = collections.Counter()
    for backend in json.loads(out)['backends']:
        if backend['errors'] or backend['status']:
            raise SystemExit('cluster-check: volumes of %s: %s'
                             % (backend['backend'], backend['errors']))
        for row in backend['result']:
            ids[row['volume_id']] += 1
    return ids


def compare(cs, conf):
    """The violations between Cinder's volumes and vCenter's backings."""
    volumes = {v.id: v.status for v in cs.volumes.list()}
    on_vcenter = backings(conf)
    problems = []
    for vol_id, count in sorted(on_vcenter.items()):
        if count > 1:
            problems.append('duplicated: %d backings of %s' % (count, vol_id))
        if vol_id not in volumes:
            problems.append('backing of %s unknown to Cinder' % vol_id)
    for vol_id, status in sorted(volumes.items()):
        if status == 'available' and not on_vcenter[vol_id]:
            problems.append('lost: %s is available without a backing'
                            % vol_id)
    counts = collections.Counter(volumes.values())
    log('Cinder: %s; vCenter: %d backing(s)'
        % (dict(counts), sum(on_vcenter.values())))
    return problems


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--state', required=True)
    parser.add_argument('--volumes', type=int, default=20)
    parser.add_argument('--kill-after', type=float, default=2.0)
    args = parser.parse_args()
    conf = os.path.join(args.state, 'etc', 'cinder', 'cinder.conf')
    cs = cinder()

    created = [cs.volumes.create(1, name='aa-%02d' % i).id
               for i in range(args.volumes)]
    log('asked for %d volumes' % len(created))
    time.sleep(args.kill_after)
    with open(os.path.join(args.state, 'pids',
                           'cinder-volume-node1.pid')) as f:
        sid = int(f.read())
    os.killpg(sid, signal.SIGKILL)
    log('killed cinder-volume node1 (session %d) with SIGKILL' % sid)
    statuses = collections.Counter(
        cs.volumes.get(v).status for v in created)
    log('at the kill: %s' % dict(statuses))

    def node1_down():
        services = cs.services.list(binary='cinder-volume')
        return all(s.state == 'down' for s in services
                   if s.host.startswith('node1@'))
    wait('node1 reported down', node1_down, 180)
    cleaning, unavailable = cs.workers.clean(host='node1',
                                             binary='cinder-volume')
    log('cleanup of node1 asked: %d service(s) cleaned by another node, '
        '%d without one' % (len(cleaning), len(unavailable)))

    def settled():
        return all(cs.volumes.get(v).status in SETTLED for v in created)
    wait('every volume available or error', settled, 300)
    problems = compare(cs, conf)

    for vol_id in created:
        cs.volumes.delete(vol_id)

    def gone():
        left = [v for v in cs.volumes.list() if v.id in created]
        if any(v.status == 'error_deleting' for v in left):
            raise SystemExit('cluster-check: delete failed: %s'
                             % [v.id for v in left
                                if v.status == 'error_deleting'])
        return not left
    wait('every volume deleted', gone, 300)
    left = backings(conf)
    if left:
        problems.append('after delete: backings left %s' % dict(left))
    for problem in problems:
        log('VIOLATION: %s' % problem)
    log('%d violation(s)' % len(problems))
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main())
