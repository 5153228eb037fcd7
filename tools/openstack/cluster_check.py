"""Kill one cinder-volume of an active-active cluster mid-run; check vCenter.

Run by tools/openstack-cluster.sh against a stack brought up with
``VMWARE_BACKEND_OPENSTACK_CLUSTER=1`` (services node1 and node2 in one
Cinder cluster, locks in redis). Commands:

``mix`` (default)
    Makes a few volumes and snapshots, then asks in one burst (order
    shuffled by ``--seed``) for creates, deletes, snapshot creates and
    deletes, clones, volumes from a snapshot, extends and backups (when
    the stack runs cinder-backup), and kills node1's session with SIGKILL
    while they run.
``create``
    Asks for ``--volumes`` volumes and kills node1 while they are created.
``kill``
    For tools/openstack-cluster.sh --tempest: waits ``--kill-after``
    seconds, records what is in flight, kills node1 and cleans up after it.
``after-tempest``
    See cluster_tempest.py.

After a kill: waits until Cinder reports node1 down, asks Cinder to clean
node1's unfinished work up (``workers/cleanup``: node2 does it), resets
what Cinder does not clean (a volume left ``extending``: Cinder keeps no
worker entry for extends) as an operator would, then compares Cinder with
vCenter (the driver's ``vmware-backend-manage volumes``): no volume lost
(available in Cinder without a backing), none duplicated (two backings for
one id), no backing Cinder does not know, no snapshot lost or unknown.
Then converges: retries the extends and deletes, deletes what ended in
error, checks the sizes and that ``vmware-backend-manage audit`` finds
nothing (stale clone markers, temporary snapshots), deletes everything and
checks that no backing is left. Backups must end ``available`` or
``error`` (none stuck), their volumes ``available`` again, no staged disk
file left in the driver's staging directory, and an ``available`` backup
must restore into a new volume. Exit status 1 on any violation.
"""

import argparse
import collections
import json
import os
import random
import signal
import subprocess
import sys
import time

from cinderclient import client as cinder_client

import stackenv

VOLUME_BUSY = ('creating', 'deleting', 'extending', 'downloading',
               'uploading', 'retyping', 'maintenance', 'reserved',
               'attaching', 'detaching', 'backing-up', 'restoring-backup')
SNAPSHOT_BUSY = ('creating', 'deleting', 'backing-up', 'restoring')
BACKUP_BUSY = ('creating', 'deleting', 'restoring')
# The driver stages disks for cinder-backup here (vcenter_image_tmp_dir of
# the stack's cinder.conf, volume/backups.py STAGING_DIR).
STAGING = ('cinder', 'image-tmp', 'vmware-backend-backup')
NODE = 'node1'


def log(msg):
    print('%s cluster-check: %s' % (time.strftime('%H:%M:%S'), msg),
          flush=True)


def fail(msg):
    raise SystemExit('cluster-check: %s' % msg)


def cinder():
    session = stackenv.keystone_session()
    cs = cinder_client.Client('3.24', session=session)
    # Cinder's default quota is 10 volumes per project.
    cs.quotas.update(session.get_project_id(), volumes=-1, gigabytes=-1,
                     snapshots=-1)
    return cs


def wait(what, predicate, timeout, interval=2):
    value = stackenv.poll(predicate, timeout, interval)
    if not value:
        fail('timed out after %ds waiting for %s' % (timeout, what))
    return value


# --- Cinder and vCenter ------------------------------------------------------

def volumes(cs):
    return {v.id: v for v in cs.volumes.list(search_opts={'all_tenants': 1})}


def snapshots(cs):
    return {s.id: s for s in
            cs.volume_snapshots.list(search_opts={'all_tenants': 1})}


def backups(cs):
    return {b.id: b for b in
            cs.backups.list(search_opts={'all_tenants': 1})}


def host_of(volume):
    return getattr(volume, 'os-vol-host-attr:host', None) or ''


def backings(conf):
    """{volume id: [backing row, ...]} from the driver's ``volumes``."""
    rows = collections.defaultdict(list)
    for backend in stackenv.volumes_report(conf):
        if backend['errors'] or backend['status']:
            fail('volumes of %s: %s' % (backend['backend'],
                                        backend['errors']))
        for row in backend['result']:
            rows[row['volume_id']].append(row)
    return rows


def audit(conf, known):
    """Problems ``vmware-backend-manage audit`` finds (none: [])."""
    proc = subprocess.run(
        ['vmware-backend-manage', '--config-file', conf, 'audit',
         '--min-age', '0', '--volume-ids', '-'], input='\n'.join(known),
        capture_output=True, text=True)
    if proc.returncode == 0:
        return []
    return ['audit (exit %d): %s' % (proc.returncode,
                                     (proc.stdout + proc.stderr).strip())]


def compare(cs, conf, sizes=False):
    """The violations between Cinder's volumes/snapshots and vCenter."""
    vols, snaps = volumes(cs), snapshots(cs)
    on_vcenter = backings(conf)
    problems = []
    vc_snaps = {}
    for vol_id, rows in sorted(on_vcenter.items()):
        if len(rows) > 1:
            problems.append('duplicated: %d backings of %s'
                            % (len(rows), vol_id))
        if vol_id not in vols:
            problems.append('backing of %s unknown to Cinder' % vol_id)
        for row in rows:
            for name in row['snapshots']:
                if name.startswith('snapshot-'):
                    vc_snaps[name[len('snapshot-'):]] = vol_id
    for vol_id, vol in sorted(vols.items()):
        rows = on_vcenter.get(vol_id, [])
        if vol.status in ('available', 'in-use') and not rows:
            problems.append('lost: %s is %s without a backing'
                            % (vol_id, vol.status))
        if sizes and vol.status == 'available' and len(rows) == 1 and \
                rows[0]['size_gb'] != vol.size:
            problems.append('size: %s is %s GiB in Cinder, %s GiB on '
                            'vCenter' % (vol_id, vol.size,
                                         rows[0]['size_gb']))
    for snap_id, snap in sorted(snaps.items()):
        if snap.status == 'available' and snap_id not in vc_snaps:
            problems.append('lost: snapshot %s is available without a '
                            'vCenter snapshot' % snap_id)
    for snap_id, vol_id in sorted(vc_snaps.items()):
        if snap_id not in snaps:
            problems.append('snapshot-%s on the backing of %s unknown to '
                            'Cinder' % (snap_id, vol_id))
    log('Cinder: volumes %s, snapshots %s; vCenter: %d backing(s), %d '
        'snapshot(s)' % (
            dict(collections.Counter(v.status for v in vols.values())),
            dict(collections.Counter(s.status for s in snaps.values())),
            sum(len(r) for r in on_vcenter.values()), len(vc_snaps)))
    return problems


# --- the kill and Cinder's clean-up ------------------------------------------

def in_flight(cs):
    """Volumes, snapshots and backups Cinder shows as being worked on.

    Each with the host of its volume (a snapshot's or backup's volume).
    """
    vols = volumes(cs)
    busy = [{'type': 'volume', 'id': v.id, 'status': v.status,
             'host': host_of(v), 'name': v.name}
            for v in vols.values() if v.status in VOLUME_BUSY]
    for kind, found, statuses in (('snapshot', snapshots(cs), SNAPSHOT_BUSY),
                                  ('backup', backups(cs), BACKUP_BUSY)):
        for item in found.values():
            if item.status in statuses:
                vol = vols.get(item.volume_id)
                busy.append({'type': kind, 'id': item.id,
                             'status': item.status, 'name': item.name,
                             'host': host_of(vol) if vol else '',
                             'volume_id': item.volume_id})
    return busy


def kill_node(state, cs):
    """SIGKILL node1's session; wait until it is down; clean up after it.

    :returns: what was in flight at the kill (list of dicts).
    """
    with open(os.path.join(state, 'pids',
                           'cinder-volume-%s.pid' % NODE)) as f:
        sid = int(f.read())
    os.killpg(sid, signal.SIGKILL)
    log('killed cinder-volume %s (session %d) with SIGKILL' % (NODE, sid))
    busy = in_flight(cs)
    log('in flight at the kill: %d (%s)' % (len(busy), ', '.join(
        '%s %s %s (host %s)' % (b['type'], b['id'][:8], b['status'],
                                b['host'].split('@')[0] or '-')
        for b in busy) or 'nothing'))

    def down():
        services = cs.services.list(binary='cinder-volume')
        return all(s.state == 'down' for s in services
                   if s.host.startswith(NODE + '@'))
    t0 = time.monotonic()
    wait('%s reported down' % NODE, down, 180)
    log('%s reported down after %.0fs' % (NODE, time.monotonic() - t0))
    cleaning, unavailable = cs.workers.clean(host=NODE,
                                             binary='cinder-volume')
    log('cleanup of %s asked: %d service(s) cleaned by another node, '
        '%d without one' % (NODE, len(cleaning), len(unavailable)))
    if unavailable:
        fail('no live service to clean %s up: %s'
             % (NODE, [s.host for s in unavailable]))
    return busy


def settle(cs, ids=None, timeout=300, grace=30):
    """Wait until nothing is busy; reset what Cinder never cleans.

    Cinder cleans a dead service's volumes ``creating``, ``deleting``,
    ``downloading``, ``uploading`` and snapshots ``creating`` (worker
    entries). An extend or a snapshot delete keeps no worker entry: when
    one is still running ``grace`` seconds after the rest settled, it died
    with the node, and it is reset as an operator would (``cinder
    reset-state``: a volume to ``available``, a snapshot to ``error``);
    converge() and delete_all() retry them.
    :returns: the ids reset.
    """
    def mine(b):
        return ids is None or b['id'] in ids

    def lingering(b):
        return (b['type'], b['status']) in (('volume', 'extending'),
                                            ('snapshot', 'deleting'))

    wait('every cleanable volume and snapshot settled', lambda: not [
        b for b in in_flight(cs) if mine(b) and not lingering(b)], timeout)
    deadline = time.monotonic() + grace
    while True:
        left = [b for b in in_flight(cs) if mine(b)]
        if not left or time.monotonic() > deadline:
            break
        time.sleep(2)
    reset = []
    for b in left:
        if not lingering(b):
            fail('%s %s is %s again' % (b['type'], b['id'], b['status']))
        if b['type'] == 'volume':
            cs.volumes.reset_state(b['id'], 'available')
        else:
            cs.volume_snapshots.reset_state(b['id'], 'error')
        reset.append(b['id'])
        log('reset-state: %s %s was %s %ds after the clean-up (Cinder keeps '
            'no worker entry for it; lost with %s)'
            % (b['type'], b['id'], b['status'], grace, NODE))
    return reset


def delete_all(cs, conf, vol_ids=None, attempts=3):
    """Delete the snapshots, then the volumes (retrying); check vCenter."""
    problems = []
    mine = [b for b in backups(cs).values()
            if vol_ids is None or b.volume_id in vol_ids]
    for backup in mine:
        if backup.status in ('available', 'error'):
            cs.backups.delete(backup.id)
    wait('backups deleted', lambda: not any(
        b.id in {m.id for m in mine} for b in backups(cs).values()), 300)
    for attempt in range(1, attempts + 1):
        snaps = [s for s in snapshots(cs).values()
                 if vol_ids is None or s.volume_id in vol_ids]
        for snap in snaps:
            if snap.status in ('available', 'error', 'error_deleting'):
                cs.volume_snapshots.delete(snap.id)
        wait('snapshots deleted', lambda: not any(
            s.status == 'deleting' for s in snapshots(cs).values()), 300)
        vols = [v for v in volumes(cs).values()
                if vol_ids is None or v.id in vol_ids]
        for vol in vols:
            if vol.status in ('available', 'error', 'error_deleting',
                              'error_extending'):
                try:
                    cs.volumes.delete(vol.id)
                except Exception as err:  # e.g. a snapshot left
                    log('delete %s (attempt %d): %s'
                        % (vol.id, attempt, err))
        wait('volumes deleted', lambda: not any(
            v.status == 'deleting' for v in volumes(cs).values()), 300)
        left = [v for v in volumes(cs).values()
                if vol_ids is None or v.id in vol_ids]
        if not left:
            break
        log('left after delete attempt %d: %s' % (
            attempt, ', '.join('%s %s' % (v.id, v.status) for v in left)))
    else:
        problems.append('not deletable after %d attempts: %s' % (
            attempts, ', '.join('%s %s' % (v.id, v.status) for v in left)))
    on_vcenter = backings(conf)
    left = {k: len(v) for k, v in on_vcenter.items()
            if vol_ids is None or k in vol_ids}
    if left:
        problems.append('after delete: backings left %s' % left)
    return problems


def check_backups(cs, state):
    """Backups settled, their volumes free, nothing staged; one restores.

    A backup that was being made on node1 when it died ends in ``error``
    (cinder-backup's call to the dead service times out) or ``available``
    (node2 answered); either way its volume is ``available`` again and the
    disk the driver staged for it is gone. A backup reported
    ``available`` must restore (into a new volume, which then counts in
    the comparisons and is deleted with the rest).
    """
    problems = []
    found = backups(cs)
    vols = volumes(cs)
    for backup in found.values():
        if backup.status not in ('available', 'error'):
            problems.append('backup %s is %s' % (backup.id, backup.status))
        vol = vols.get(backup.volume_id)
        if vol is not None and vol.status not in ('available', 'error'):
            problems.append('volume %s of backup %s is %s'
                            % (vol.id, backup.id, vol.status))
    staging = os.path.join(state, *STAGING)
    staged = sorted(os.listdir(staging)) if os.path.isdir(staging) else []
    if staged:
        problems.append('staged disk file(s) left in %s: %s'
                        % (staging, staged))
    log('backups: %s; staged files: %d' % (dict(collections.Counter(
        b.status for b in found.values())), len(staged)))
    done = sorted(b.id for b in found.values() if b.status == 'available')
    if done:
        restore = cs.restores.restore(done[0], name='aa-restored')
        vol_id = restore.volume_id

        def restored():
            status = cs.volumes.get(vol_id).status
            return status if status in ('available', 'error',
                                        'error_restoring') else None
        status = wait('restore of backup %s' % done[0], restored, 300)
        log('restore of backup %s into %s: %s' % (done[0], vol_id, status))
        if status != 'available':
            problems.append('backup %s is available but its restore '
                            'ended %s' % (done[0], status))
    return problems


def converge(cs, conf, extends, reset):
    """Retry the lost extends; check sizes and the audit; delete all."""
    problems = []
    for vol_id, size in sorted(extends.items()):
        vol = cs.volumes.get(vol_id)
        if vol.status == 'available' and vol.size < size:
            log('extend %s to %d GiB again (was %s)' % (
                vol_id, size, 'reset' if vol_id in reset else vol.size))
            cs.volumes.extend(vol_id, size)
    wait('extends done', lambda: not any(
        v.status == 'extending' for v in volumes(cs).values()), 300)
    for vol_id, size in sorted(extends.items()):
        vol = cs.volumes.get(vol_id)
        if vol.status != 'available' or vol.size != size:
            problems.append('extend of %s to %d GiB did not converge: %s, '
                            '%s GiB' % (vol_id, size, vol.status, vol.size))
    problems += compare(cs, conf, sizes=True)
    problems += audit(conf, sorted(volumes(cs)))
    return problems


def report(problems):
    for problem in problems:
        log('VIOLATION: %s' % problem)
    log('%d violation(s)' % len(problems))
    return 1 if problems else 0


# --- scenarios -------------------------------------------------------------

def wait_status(cs, vol_ids, status='available', timeout=300):
    def ready():
        vols = [cs.volumes.get(v) for v in vol_ids]
        bad = [v for v in vols if v.status.startswith('error')]
        if bad:
            fail('setup volume %s is %s' % (bad[0].id, bad[0].status))
        return all(v.status == status for v in vols)
    wait('%d volume(s) %s' % (len(vol_ids), status), ready, timeout)


def wait_snapshots(cs, snap_ids, timeout=300):
    def ready():
        snaps = [cs.volume_snapshots.get(s) for s in snap_ids]
        bad = [s for s in snaps if s.status.startswith('error')]
        if bad:
            fail('setup snapshot %s is %s' % (bad[0].id, bad[0].status))
        return all(s.status == 'available' for s in snaps)
    wait('%d snapshot(s) available' % len(snap_ids), ready, timeout)


def scenario_create(cs, args):
    created = [cs.volumes.create(1, name='aa-%02d' % i).id
               for i in range(args.volumes)]
    log('asked for %d volumes' % len(created))
    time.sleep(args.kill_after)
    return {}


def scenario_mix(cs, args):
    """Set up, then a shuffled burst of every kind of operation."""
    rng = random.Random(args.seed)
    roles = ['delete'] * 2 + ['snapshot'] * 2 + ['clone'] * 2 + \
        ['extend'] * 2 + ['from-snapshot', 'snapshot-delete']
    if os.path.exists(os.path.join(args.state, 'pids',
                                   'cinder-backup.pid')):
        roles += ['backup'] * 2
    base = {}
    for i, role in enumerate(roles):
        base[cs.volumes.create(1, name='aa-base-%02d-%s' % (i, role)).id] = \
            role
    wait_status(cs, list(base))
    pre = {}
    for vol_id, role in base.items():
        if role in ('from-snapshot', 'snapshot-delete'):
            pre[cs.volume_snapshots.create(
                vol_id, name='aa-pre-%s' % role).id] = role
    wait_snapshots(cs, list(pre))
    log('set up %d volumes and %d snapshots' % (len(base), len(pre)))

    ops = [('create', None)] * args.volumes
    ops += [(role, vol_id) for vol_id, role in base.items()
            if role in ('delete', 'snapshot', 'clone', 'extend', 'backup')]
    ops += [(role, snap_id) for snap_id, role in pre.items()]
    rng.shuffle(ops)
    extends = {}
    for n, (op, ref) in enumerate(ops):
        if op == 'create':
            cs.volumes.create(1, name='aa-new-%02d' % n)
        elif op == 'delete':
            cs.volumes.delete(ref)
        elif op == 'snapshot':
            cs.volume_snapshots.create(ref, name='aa-snap-%02d' % n)
        elif op == 'clone':
            cs.volumes.create(1, name='aa-clone-%02d' % n, source_volid=ref)
        elif op == 'extend':
            cs.volumes.extend(ref, 2)
            extends[ref] = 2
        elif op == 'from-snapshot':
            cs.volumes.create(1, name='aa-fromsnap-%02d' % n,
                              snapshot_id=ref)
        elif op == 'snapshot-delete':
            cs.volume_snapshots.delete(ref)
        elif op == 'backup':
            cs.backups.create(ref, name='aa-backup-%02d' % n)
    log('asked in one burst (seed %s): %s' % (args.seed, dict(
        collections.Counter(op for op, _ref in ops))))
    time.sleep(args.kill_after)
    return extends


def run_scenario(args, scenario):
    conf = os.path.join(args.state, 'etc', 'cinder', 'cinder.conf')
    cs = cinder()
    extends = scenario(cs, args)
    kill_node(args.state, cs)
    reset = settle(cs)
    problems = compare(cs, conf)
    problems += check_backups(cs, args.state)
    problems += converge(cs, conf, extends, reset)
    problems += delete_all(cs, conf)
    return report(problems)


def cmd_kill(args):
    """Kill node1 during a tempest run; record what was in flight."""
    time.sleep(args.kill_after)
    cs = cinder()
    busy = kill_node(args.state, cs)
    with open(os.path.join(args.state, 'log', 'cluster-kill.json'),
              'w') as f:
        json.dump({'killed': NODE, 'time': time.time(), 'in_flight': busy},
                  f, indent=1)
    return 0


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument('command', nargs='?', default='mix',
                        choices=('mix', 'create', 'kill'))
    parser.add_argument('--state', required=True)
    parser.add_argument('--volumes', type=int, default=None,
                        help='volumes created in the burst (create: 20, '
                             'mix: 6)')
    parser.add_argument('--kill-after', type=float, default=None,
                        help='seconds between the burst and the kill '
                             '(create: 2, mix: 1, kill: 90)')
    parser.add_argument('--seed', type=int, default=None,
                        help='order of the mix burst (default: random, '
                             'printed)')
    args = parser.parse_args()
    if args.seed is None:
        args.seed = random.randrange(10000)
    defaults = {'create': (20, 2.0), 'mix': (6, 1.0), 'kill': (0, 90.0)}
    volumes_default, kill_default = defaults[args.command]
    if args.volumes is None:
        args.volumes = volumes_default
    if args.kill_after is None:
        args.kill_after = kill_default
    if args.command == 'kill':
        return cmd_kill(args)
    scenario = scenario_mix if args.command == 'mix' else scenario_create
    return run_scenario(args, scenario)


if __name__ == '__main__':
    sys.exit(main())
