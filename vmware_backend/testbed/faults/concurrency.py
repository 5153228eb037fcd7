"""The same create issued twice at once: by two threads, by two processes.

Cinder should never send it, but an operator's retry, a second
cinder-volume on the same backend or an RPC redelivery does. Each scenario
starts both calls at a barrier, then counts the VMs holding the volume id
(read by the caller's own session, not by the driver): more than one is a
duplicate.
"""

import multiprocessing
import random
import threading
import types

ROUNDS = 2
SCENARIOS = ('create', 'clone, full', 'clone, linked')


def _volume(volume_id, size=1, clone_type='full'):
    return types.SimpleNamespace(
        id=volume_id, name='volume-%s' % volume_id, size=size,
        volume_type=types.SimpleNamespace(
            extra_specs={'vmware:clone_type': clone_type}),
        status='creating', host=None)


def _call(driver, scenario, volume_id, source_id):
    linked = scenario.endswith('linked')
    volume = _volume(volume_id, clone_type='linked' if linked else 'full')
    if scenario == 'create':
        driver.create_volume(volume)
    else:
        driver.create_cloned_volume(volume, _volume(source_id))


def _in_process(options, scenario, volume_id, source_id, barrier, queue):
    from vmware_backend import utils
    utils.use_threading_backend()
    from vmware_backend.volume import driver as driver_mod
    driver = driver_mod.VMwareVolumeDriver(options)
    driver.do_setup()
    barrier.wait(60)
    try:
        _call(driver, scenario, volume_id, source_id)
        queue.put('ok')
    except Exception as err:
        queue.put('%s: %s' % (type(err).__name__, err))


def _threads(driver, scenario, volume_id, source_id):
    barrier = threading.Barrier(2)
    outcomes = []

    def one():
        barrier.wait(60)
        try:
            _call(driver, scenario, volume_id, source_id)
            outcomes.append('ok')
        except Exception as err:
            outcomes.append('%s: %s' % (type(err).__name__, err))

    threads = [threading.Thread(target=one) for _i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)
    return outcomes


def _processes(options, scenario, volume_id, source_id):
    ctx = multiprocessing.get_context('spawn')
    barrier = ctx.Barrier(2)
    queue = ctx.Queue()
    procs = [ctx.Process(target=_in_process, args=(
        options, scenario, volume_id, source_id, barrier, queue))
        for _i in range(2)]
    for proc in procs:
        proc.start()
    outcomes = [queue.get(timeout=300) for _p in procs]
    for proc in procs:
        proc.join(60)
    return outcomes


def _vms_with(checker, volume_id):
    found = checker.invoke(
        'FindAllByUuid', checker.service_content.searchIndex,
        uuid=volume_id, vmSearch=True, instanceUuid=True)
    return list(found or [])


def _destroy(checker, refs):
    for ref in refs:
        try:
            checker.invoke_task('Destroy_Task', ref)
        except Exception:  # a linked clone's parent may go first
            pass


def run(options, checker, seed, rounds=ROUNDS, quick=False):
    """All scenarios, ``rounds`` times each, without faults.

    :param quick: processes only for the plain create (each process
        parses the WSDL and logs in, which takes seconds).

    :param options: driver options; ``checker``: a session of our own.
    :returns: {scenario name: [one description per duplicate]}.
    """
    from vmware_backend.volume import driver as driver_mod
    rng = random.Random(seed)

    def new_id():
        raw = '%032x' % rng.getrandbits(128)
        return '-'.join((raw[:8], raw[8:12], raw[12:16], raw[16:20],
                         raw[20:]))

    driver = driver_mod.VMwareVolumeDriver(options)
    source_id = new_id()
    driver.create_volume(_volume(source_id))
    found = {}
    made = []
    for how in ('2 threads', '2 processes'):
        for scenario in SCENARIOS:
            if quick and how == '2 processes' and scenario != 'create':
                continue
            name = 'duplicates, %s, %s' % (scenario, how)
            found[name] = []
            for _round in range(rounds):
                volume_id = new_id()
                if how == '2 threads':
                    outcomes = _threads(driver, scenario, volume_id,
                                        source_id)
                else:
                    outcomes = _processes(options, scenario, volume_id,
                                          source_id)
                vms = _vms_with(checker, volume_id)
                made.append((volume_id, vms))
                found[name].extend('%s: %d VMs, calls: %s' % (
                    volume_id, len(vms), '; '.join(o[:80] for o in outcomes))
                    for _dup in vms[1:])
    for volume_id, vms in made:
        try:
            driver.delete_volume(_volume(volume_id))
        except Exception:
            pass
        _destroy(checker, _vms_with(checker, volume_id))
    try:
        driver.delete_volume(_volume(source_id))
    except Exception:
        pass
    _destroy(checker, _vms_with(checker, source_id))
    driver.session.close()
    return found
