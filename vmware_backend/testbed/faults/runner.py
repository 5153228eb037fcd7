"""One campaign run: simulator, proxy, driver, campaign, checks, report.

``python -m vmware_backend.testbed.faults [--seed N[,N..]] [--faults N]
[--task-delay-ms 0|150[,..]] [--read-transport soap|json[,..]] [--quick]``
runs one campaign per seed, task delay and read transport, each on a fresh
simulator, prints the figures table of each and exits 1 when any check
failed.
"""

import argparse
import collections
import logging
import random
import shutil
import sys
import tempfile
import time

from vmware_backend import utils

utils.use_threading_backend()

from vmware_backend import conf  # noqa: E402
from vmware_backend.volume import driver as driver_mod  # noqa: E402
from vmware_backend.vsphere import session as session_mod  # noqa: E402
from vmware_backend.testbed.faults import campaign as campaign_mod  # noqa
from vmware_backend.testbed.faults import control as control_mod  # noqa
from vmware_backend.testbed.faults import diskdata  # noqa: E402
from vmware_backend.testbed.faults import foreign  # noqa: E402
from vmware_backend.testbed.faults import invariants  # noqa: E402
from vmware_backend.testbed.faults import passwords  # noqa: E402
from vmware_backend.testbed.faults import proxy as proxy_mod  # noqa: E402
from vmware_backend.testbed.faults import report  # noqa: E402
from vmware_backend.testbed.faults import rules  # noqa: E402
from vmware_backend.testbed import vcsim  # noqa: E402

# A password with every character that XML, URLs and base64 spell
# differently.
PASSWORD = 'Fault&Proxy<"pass">\'w0rd%+/='
USERNAME = 'campaign-user'
HTTP_TIMEOUT = 2.0
TASK_TIMEOUT = 3.0
# A disk transfer's data may take a while (the simulator reads the whole
# thin disk before it sends more than the first sectors).
TRANSFER_TIMEOUT = 60.0
FAULT_RATE = 0.08
# Relative weights of the fault kinds ('slow' and 'task_hang' cost seconds).
WEIGHTS = {'reset': 2, 'drop_answer': 2, 'http_500': 1, 'http_503': 1,
           'slow': 1, 'not_authenticated': 2, 'task_error_before': 2,
           'task_error_after': 2, 'task_hang': 1, 'task_slow': 1}


# VI/JSON calls (a few per inventory read) and disk transfers (two or
# three requests per image, backup or restore) are fewer than SOAP calls:
# faulted more often, with the HTTP kinds.
JSON_FAULT_RATE = 0.15
NFC_FAULT_RATE = 0.25


def fault_rules(task_faults, json_reads=False, nfc=False):
    """One ``*`` rule per kind; task kinds only with the control endpoint.

    With ``json_reads`` a ``json:*`` rule per HTTP kind, with ``nfc`` an
    ``nfc:*`` rule per HTTP kind, first.
    """
    found = []
    for on, pattern, rate in ((nfc, 'nfc:*', NFC_FAULT_RATE),
                              (json_reads, 'json:*', JSON_FAULT_RATE)):
        if on:
            total = float(sum(WEIGHTS[k] for k in rules.HTTP_KINDS))
            found.extend(rules.Rule(k, pattern, rate * WEIGHTS[k] / total)
                         for k in rules.HTTP_KINDS)
    kinds = [k for k in rules.KINDS
             if task_faults or k not in rules.TASK_KINDS]
    total = float(sum(WEIGHTS[k] for k in kinds))
    return found + [rules.Rule(k, '*', FAULT_RATE * WEIGHTS[k] / total)
                    for k in kinds]


def driver_options(server, proxy, transport='soap', tmp_dir=None):
    """Options of a driver talking to the simulator through the proxy.

    ``transport``: ``vcenter_read_transport`` (the proxy faults VI/JSON
    calls too); over VI/JSON the inventory is not cached, so every
    placement and statistics read goes over the wire.
    """
    extra = {}
    if transport == 'json':
        extra['vcenter_inventory_cache_seconds'] = 0.0
    return conf.option_defaults(**proxy.options(server.options(
        vcenter_http_timeout=HTTP_TIMEOUT, vcenter_task_timeout=TASK_TIMEOUT,
        vcenter_task_poll_interval=0.2, vcenter_api_retry_count=2,
        vcenter_read_transport=transport, vcenter_image_tmp_dir=tmp_dir,
        vcenter_transfer_timeout=TRANSFER_TIMEOUT,
        **extra)))


def run_once(seed, faults, task_delay_ms, concurrency=True,
             password_ops=20, quick=False, transport='soap', data=True,
             manage=True):
    """One campaign on a fresh simulator; returns the result dict.

    The first ``password_ops`` operations run with every logger at DEBUG
    (and two forced session expiries, so the driver logs in again while
    DEBUG is on); the rest at INFO, still scanned. Every exception text and
    every connection_info is scanned too.
    """
    started = time.monotonic()
    tmp_dir = tempfile.mkdtemp(prefix='vmware-backend-campaign-')
    watch = passwords.PasswordWatch(PASSWORD, USERNAME).install()
    server = vcsim.VcsimServer({'task-delay-ms': task_delay_ms},
                               username=USERNAME, password=PASSWORD).start()
    control = control_mod.SimulatorControl('127.0.0.1', server.port,
                                           USERNAME, PASSWORD)
    task_faults = control.has_endpoint()
    plan = rules.FaultPlan(fault_rules(task_faults, transport == 'json',
                                       data), seed=seed)
    plan.pause()
    proxy = proxy_mod.FaultProxy(
        '127.0.0.1', server.port, plan, control,
        slow_hold=HTTP_TIMEOUT + 1.0, task_delay_ms=task_delay_ms,
        task_slow_ms=int(TASK_TIMEOUT * 400)).start()
    checker = session_mod.VCenterSession(conf.option_defaults(
        **server.options()))
    try:
        checker.api
        options = driver_options(server, proxy, transport, tmp_dir)
        driver = driver_mod.VMwareVolumeDriver(options)
        driver.do_setup()
        # The session capped suds' loggers at INFO; DEBUG again.
        watch.force_level(logging.DEBUG)
        rng = random.Random(seed)
        camp = campaign_mod.Campaign(driver, plan, rng, watch, data=data,
                                     manage=manage)
        if manage:
            camp.setup_manage(
                lambda uuid, name: foreign.make(checker, uuid, name),
                lambda uuid: foreign.seen(checker, uuid),
                lambda volume_id, name: foreign.make_snapshot(
                    checker, volume_id, name))
        if data:
            images, heads = diskdata.campaign_images()
            reader = diskdata.HeadReader(checker, server.port,
                                         diskdata.HEAD)
            camp.setup_data(images, heads, tmp_dir, reader,
                            reader.datastore)

        def check(tasks=True):
            found = invariants.check(checker, camp.model, tasks=tasks)
            if data:
                found.update(camp.data_findings())
            return found

        expiry = rules.Rule('not_authenticated', '*', 0.5, count=2)
        plan.rules.insert(0, expiry)
        plan.resume()
        ops = camp.run(float('inf'), max_ops=password_ops)
        plan.rules.remove(expiry)
        debug_scanned = watch.scanned
        watch.force_level(logging.INFO)
        ops += camp.run(faults, max_ops=faults * 20,
                        check=lambda: check(tasks=False))
        _scan_connection_info(camp, watch)
        plan.pause()
        after_faults = check()
        camp.teardown()
        after_teardown = check()
        result = {'concurrency': {}}
        if concurrency:
            from vmware_backend.testbed.faults import concurrency as conc
            result['concurrency'] = conc.run(
                options, checker, seed, rounds=1 if quick else 2,
                quick=quick)
        for session in (checker, driver.session):
            watch.scan(repr(session), 'repr(session)')
        skipped = collections.Counter((i.kind, i.detail)
                                      for i in plan.skipped)
        channels = collections.Counter(
            proxy_mod.kind_of(i.method) for i in plan.injected)
        result.update(
            transport=transport, request_kinds=proxy.request_kinds,
            fault_channels=channels,
            seed=seed, task_delay_ms=task_delay_ms, ops=ops,
            seconds=time.monotonic() - started, requests=proxy.requests,
            faults=plan.total(), fault_counts=plan.counts(),
            skipped=skipped, operations=camp.stats.counts,
            errors=camp.stats.errors, after_faults=after_faults,
            after_teardown=after_teardown,
            teardown_failures=camp.teardown_failures,
            left_after_teardown=camp.left_after_teardown,
            password_hits=watch.hits, password_scanned=watch.scanned,
            password_examples=watch.examples, task_faults=task_faults,
            password_debug_scanned=debug_scanned, during=camp.seen,
            error_examples=camp.stats.error_examples)
        return result
    finally:
        proxy.stop()
        checker.close()
        server.stop()
        watch.uninstall()
        shutil.rmtree(tmp_dir, ignore_errors=True)


def _scan_connection_info(camp, watch):
    """Connection info of every available volume, scanned (faults on)."""
    for volume in camp.model.volumes_in('available'):
        try:
            info = camp.driver.initialize_connection(volume.obj(), {})
        except Exception as err:
            watch.scan_exception(err)
            continue
        watch.scan(repr(info), 'connection_info')


def _ints(text):
    return [int(x) for x in text.split(',') if x.strip()]


def main(argv=None):
    """Command line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog='python -m vmware_backend.testbed.faults',
        description='Fault campaign against the volume driver on the '
                    'simulator, behind the fault proxy.')
    parser.add_argument('--seed', default='1',
                        help='seed, or comma-separated seeds')
    parser.add_argument('--faults', type=int, default=200,
                        help='faults to inject per run (default 200)')
    parser.add_argument('--task-delay-ms', default='0',
                        help='simulator task duration(s), e.g. 0,150')
    parser.add_argument('--read-transport', default='soap',
                        help='vcenter_read_transport(s) of the driver, '
                             'soap and/or json (comma-separated); over '
                             'VI/JSON the proxy faults the VI/JSON calls')
    parser.add_argument('--log-file',
                        help='also write the log (INFO and above, the '
                             'password masked) to this file')
    parser.add_argument('--no-data', action='store_true',
                        help='without the data operations (images, '
                             'backups, restores, statistics)')
    parser.add_argument('--no-manage', action='store_true',
                        help='without manage_existing (source-id) and '
                             'unmanage')
    parser.add_argument('--quick', action='store_true',
                        help='a short run for CI (20 faults, 10 operations '
                             'at DEBUG, one concurrency round)')
    parser.add_argument('--no-concurrency', action='store_true',
                        help='skip the concurrent create/clone scenario')
    args = parser.parse_args(argv)
    faults = 20 if args.quick else args.faults
    failed = 0
    if args.log_file:
        handler = logging.FileHandler(args.log_file)
        handler.setLevel(logging.INFO)
        handler.setFormatter(logging.Formatter(
            '%(asctime)s %(threadName)s %(levelname)s %(name)s %(message)s'))
        logging.getLogger().addHandler(handler)
    transports = [t.strip() for t in args.read_transport.split(',')
                  if t.strip()]
    for name in transports:
        if name not in ('soap', 'json'):
            parser.error('--read-transport %r: use soap or json' % name)
    for transport in transports:
        for delay in _ints(args.task_delay_ms):
            for seed in _ints(args.seed):
                result = run_once(seed, faults, delay,
                                  concurrency=not args.no_concurrency,
                                  password_ops=10 if args.quick else 20,
                                  quick=args.quick, transport=transport,
                                  data=not args.no_data,
                                  manage=not args.no_manage)
                print(report.render(result))
                sys.stdout.flush()
                failed += bool(report.violations(result))
    return 1 if failed else 0
