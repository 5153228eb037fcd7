"""Operations on a backing whose datastore holds every simulator VM.

``python -m bench.crowded [VMS ...]`` (default 1000 5000): a simulator
laid out as the inventory-size benchmark's (2 clusters of 4 hosts, 4
datastores, VMS VMs, all on one datastore), a backing created on that
crowded datastore, then ``create_snapshot``, ``delete_snapshot`` and
``delete_volume`` of it, 3 times; medians of calls, KB received and
seconds per operation. Their attachment check reads every VM on the
backing's datastores (``Datastore.vm``), so these are the operations
whose answers grow with the VMs there; run it on two commits to compare.
"""

import collections
import statistics
import sys
import time

REPEAT = 3
DEFAULT_VMS = (1000, 5000)


def _crowded_pool(driver, session):
    from vmware_backend.vsphere import inventory
    counts = collections.Counter()
    for _ref, props in inventory.read_container(
            session, {'VirtualMachine': ['datastore']}):
        for datastore in props.get('datastore') or []:
            counts[datastore.value] += 1
    crowded, vms = counts.most_common(1)[0]
    stats = driver.get_volume_stats(refresh=True)
    # Pools are named after the datastore's moref (pool_names.py).
    pool = [p for p in stats['pools'] if crowded in p['pool_name']][0]
    return pool['pool_name'], vms


def measure(vms, repeat=REPEAT):
    """{operation: (calls, median KB received, median seconds)}."""
    from vmware_backend import conf
    from vmware_backend.testbed import vcsim
    from vmware_backend.volume import driver as driver_mod
    from vmware_backend.volume import plain_objects
    flags = {'clusters': 2, 'datacenters': 1, 'datastores': 4, 'hosts': 4,
             'standalone-hosts': 0, 'vms': vms // 2}
    rows = collections.defaultdict(list)
    with vcsim.VcsimServer(flags) as server:
        options = conf.option_defaults(**server.options(
            vcenter_read_transport='soap'))
        driver = driver_mod.VMwareVolumeDriver(options)
        session = driver.session
        try:
            pool, on_it = _crowded_pool(driver, session)
            for _i in range(repeat):
                volume = plain_objects.volume(1, host='bench@vmware#%s' % pool)
                driver.create_volume(volume)
                snapshot = plain_objects.snapshot(volume)
                for name, call in (
                        ('create_snapshot',
                         lambda: driver.create_snapshot(snapshot)),
                        ('delete_snapshot',
                         lambda: driver.delete_snapshot(snapshot)),
                        ('delete_volume',
                         lambda: driver.delete_volume(volume))):
                    calls = session.total_requests()
                    received = session.bytes_snapshot()['received']
                    start = time.perf_counter()
                    call()
                    rows[name].append((
                        session.total_requests() - calls,
                        (session.bytes_snapshot()['received'] - received) /
                        1024.0, time.perf_counter() - start))
        finally:
            driver.close()
            session.close()
    return on_it, {name: (found[0][0],
                          statistics.median(r[1] for r in found),
                          statistics.median(r[2] for r in found))
                   for name, found in rows.items()}


def main(argv=None):
    sizes = [int(arg) for arg in (argv if argv is not None
                                  else sys.argv[1:])] or DEFAULT_VMS
    from vmware_backend import utils
    utils.use_threading_backend()
    for vms in sizes:
        on_it, rows = measure(vms)
        print('%d VMs on the backing\'s datastore:' % on_it)
        for name, (calls, kb, seconds) in rows.items():
            print('  %-16s calls %d  KB recv %8.1f  ms %7.1f'
                  % (name, calls, kb, seconds * 1e3))
    return 0


if __name__ == '__main__':
    sys.exit(main())
