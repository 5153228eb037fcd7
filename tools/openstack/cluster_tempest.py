"""Judge a tempest run during which a cinder-volume service was killed.

tools/openstack-cluster.sh --tempest runs tempest against the cluster
(tools/openstack-tempest.sh) with ``cluster_check.py kill`` in the
background, which SIGKILLs node1 mid-run, waits until Cinder reports it
down, asks for the clean-up and records what was in flight
(``$STATE/log/cluster-kill.json``). After tempest this script:

* resets what Cinder never cleans (cluster_check.settle) and compares
  Cinder with vCenter: nothing lost, duplicated or unknown;
* lists what tempest left behind (its clean-up fails on a volume left in
  error or a snapshot stuck in ``deleting``), converges (retried extends,
  sizes, ``vmware-backend-manage audit``) and deletes it, retrying;
  no backing may be left;
* prints each failed tempest test with its last error line and what
  happened to the resources it names: a test is *explained* when one of
  them was in flight at the kill or was left by it (the expected
  active-active outcome: the service died mid-request, the resource ended
  in error or stuck, and is deletable); any other failure is not.

Exit status 1 on a violation, a failure not explained, no test run, or no
kill.
"""

import argparse
import collections
import io
import json
import os
import re
import subprocess
import sys

import subunit
import testtools

import cluster_check as cc

UUID = re.compile(r'[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-'
                  r'[0-9a-f]{12}')


def failed_tests(workspace):
    """How many tests ran; [(test id, details text)] of the failures."""
    stream = subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), 'stestr'), 'last',
         '--subunit'], cwd=workspace, capture_output=True).stdout
    tests = []
    result = testtools.StreamToDict(tests.append)
    result.startTestRun()
    try:
        subunit.ByteStreamToStreamResult(
            io.BytesIO(stream), non_subunit_name='stdout').run(result)
    finally:
        result.stopTestRun()
    failed = []
    for test in tests:
        if test['status'] in ('fail', 'uxsuccess'):
            text = ''.join(
                ''.join(t.decode() if isinstance(t, bytes) else t
                        for t in content.iter_text())
                for content in test['details'].values())
            failed.append((test['id'].split('[')[0], text))
    return sum(1 for t in tests if t['status'] != 'exists'), failed


def last_error(text):
    """The last exception line of a traceback text."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    for line in reversed(lines):
        if re.match(r'^[\w.]+(Error|Exception|Timeout|Failure)\b.*:', line) \
                or line.startswith(('testtools.matchers', 'tempest.')):
            return line[:300]
    return lines[-1][:300] if lines else '(no details)'


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--state', required=True)
    args = parser.parse_args()
    conf = os.path.join(args.state, 'etc', 'cinder', 'cinder.conf')
    record = os.path.join(args.state, 'log', 'cluster-kill.json')
    if not os.path.exists(record):
        cc.log('VIOLATION: no kill recorded (%s): tempest ended before '
               'the kill, or the kill failed' % record)
        return 1
    with open(record) as f:
        kill = json.load(f)
    flight = {b['id']: b for b in kill['in_flight']}

    cs = cc.cinder()
    reset = cc.settle(cs)
    problems = cc.compare(cs, conf)
    vols, snaps = cc.volumes(cs), cc.snapshots(cs)
    left = {v.id: 'volume %s %s' % (v.name, v.status) for v in vols.values()}
    left.update({s.id: 'snapshot %s %s' % (s.name, s.status)
                 for s in snaps.values()})
    cc.log('left by tempest: %d (%s)' % (len(left), ', '.join(
        '%s %s' % (k[:8], v) for k, v in sorted(left.items())) or 'nothing'))
    problems += cc.converge(cs, conf, {}, reset)
    problems += cc.delete_all(cs, conf)

    ran, failed = failed_tests(os.path.join(args.state, 'tempest'))
    if not ran:
        problems.append('tempest ran no test')
    explained = collections.Counter()
    cc.log('tempest failures: %d' % len(failed))
    for test_id, text in failed:
        named = sorted(set(UUID.findall(text)))
        linked = [i for i in named if i in flight or i in left or i in reset]
        verdict = 'explained' if linked else 'NOT EXPLAINED'
        explained[verdict] += 1
        print('  %s: %s\n      %s' % (verdict, test_id, last_error(text)))
        for i in linked:
            what = []
            if i in flight:
                what.append('%s %s at the kill' % (flight[i]['type'],
                                                   flight[i]['status']))
            if i in reset:
                what.append('reset by the check (not cleaned by Cinder)')
            if i in left:
                what.append('left by tempest as %s, deleted by the check'
                            % left[i])
            print('      %s: %s' % (i, '; '.join(what)))
    if explained['NOT EXPLAINED']:
        problems.append('%d tempest failure(s) not linked to the kill'
                        % explained['NOT EXPLAINED'])
    return cc.report(problems)


if __name__ == '__main__':
    sys.exit(main())
