"""Inventory reads over VI/JSON against SOAP/suds, as a ratio.

``python -m bench --only vijson`` (or ``python -m bench.vijson [--vms N]``)
starts one vCenter simulator with 5 000 VMs (``-vms 2500``) and reads every
VM's ``name``, ``config.instanceUuid``, ``config.extraConfig`` and
``config.hardware.device`` with :func:`vmware_backend.vsphere.inventory.
read_container` (ContainerView, pages of ``vcenter_inventory_page_size``),
once over SOAP (oslo.vmware/suds) and once over VI/JSON (aiohttp), in
interleaved rounds on two sessions logged in beforehand. The report gives
medians, the ratio VI/JSON / SOAP, the bytes of one page and whether both
transports returned identical results.
"""

import argparse
import statistics
import sys
import time
import warnings

ROUNDS = 3
VMS_PER_CLUSTER = 2500   # x (1 cluster + 1 standalone host) = 5 000 VMs
PATHS = {'VirtualMachine': ['name', 'config.instanceUuid',
                            'config.extraConfig', 'config.hardware.device']}
TRANSPORTS = ('soap', 'json')


def measure(server, rounds=ROUNDS, progress=lambda message: None):
    """{'soap': [s, ...], 'json': [...], 'objects': n, 'identical': bool}."""
    from vmware_backend import conf
    from vmware_backend.vsphere import inventory
    from vmware_backend.vsphere import session as vc_session

    sessions = {}
    results = {'soap': [], 'json': []}
    reads = {}
    try:
        for transport in TRANSPORTS:
            session = vc_session.VCenterSession(conf.option_defaults(
                **server.options(vcenter_read_transport=transport)))
            sessions[transport] = session
            # logged in (and, for VI/JSON, release negotiated) beforehand
            inventory.read_container(session, {'Datacenter': ['name']})
        for number in range(rounds):
            for transport in TRANSPORTS:
                began = time.perf_counter()
                objects = inventory.read_container(sessions[transport],
                                                   PATHS)
                seconds = time.perf_counter() - began
                results[transport].append(seconds)
                reads[transport] = objects
                progress('vijson round %d %s: %d VMs in %.2fs' % (
                    number + 1, transport, len(objects), seconds))
    finally:
        for session in sessions.values():
            session.close()
    results['objects'] = len(reads['soap'])
    results['identical'] = sorted(reads['soap']) == sorted(reads['json'])
    return results


def report(results):
    soap = statistics.median(results['soap'])
    over_json = statistics.median(results['json'])
    return '\n'.join([
        'Inventory read, %d VMs: name, instanceUuid, extraConfig, devices '
        '(median of %d; ratio to SOAP)' % (results['objects'],
                                           len(results['soap'])),
        '%-22s %10s %7s' % ('transport', 'seconds', 'ratio'),
        '%-22s %10.2f %7.2f' % ('SOAP (oslo.vmware/suds)', soap, 1.0),
        '%-22s %10.2f %7.2f' % ('VI/JSON (aiohttp)', over_json,
                                over_json / soap),
        'identical results: %s' % ('yes' if results['identical'] else 'NO'),
    ])


def main(vms_per_cluster=VMS_PER_CLUSTER, rounds=ROUNDS):
    """Start a simulator, measure, print the table.

    Returns 0, or 1 when the transports' results differ.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings('ignore', message=r'\s*Eventlet is deprecated')
        from vmware_backend import utils
        utils.use_threading_backend()
        from vmware_backend.testbed import vcsim

    def progress(message):
        sys.stderr.write('bench: %s\n' % message)
        sys.stderr.flush()

    progress('starting a simulator with -vms %d' % vms_per_cluster)
    with vcsim.VcsimServer({'vms': vms_per_cluster}) as server:
        results = measure(server, rounds, progress)
    print(report(results))
    return 0 if results['identical'] else 1


if __name__ == '__main__':
    parser = argparse.ArgumentParser(prog='python -m bench.vijson')
    parser.add_argument('--vms', type=int, default=VMS_PER_CLUSTER,
                        help='VMs per cluster and standalone host '
                             '(default: %(default)s, 5 000 in all)')
    parser.add_argument('--rounds', type=int, default=ROUNDS)
    args = parser.parse_args()
    sys.exit(main(args.vms, args.rounds))
