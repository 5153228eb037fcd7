"""Totals and the skipped tests (with tempest's reason) of a tempest run.

Reads the run's subunit stream on stdin (``stestr last --subunit``) and
prints the counts per status, the skipped tests grouped by reason and the
failed tests. Exit status 1 when a test failed or none ran.
"""

import collections
import sys

import subunit
import testtools


def _reason(details):
    content = details.get('reason')
    if content is None:
        return '(no reason given)'
    return ''.join(t.decode() if isinstance(t, bytes) else t
                   for t in content.iter_text()).strip()


def main():
    tests = []
    stream = subunit.ByteStreamToStreamResult(sys.stdin.buffer,
                                              non_subunit_name='stdout')
    result = testtools.StreamToDict(tests.append)
    result.startTestRun()
    try:
        stream.run(result)
    finally:
        result.stopTestRun()
    tests = [t for t in tests if t['status'] != 'exists']
    counts = collections.Counter(t['status'] for t in tests)
    print('tempest totals: ran %d, passed %d, skipped %d, failed %d'
          % (len(tests), counts['success'] + counts['xfail'],
             counts['skip'], counts['fail'] + counts['uxsuccess']))
    skipped = collections.defaultdict(list)
    for test in tests:
        if test['status'] == 'skip':
            skipped[_reason(test['details'])].append(test['id'])
    if skipped:
        print('\nskipped tests by reason:')
        for reason in sorted(skipped, key=lambda r: -len(skipped[r])):
            print('\n  %d x %s' % (len(skipped[reason]), reason))
            for test_id in sorted(skipped[reason]):
                print('      %s' % test_id.split('[')[0])
    failed = sorted(t['id'] for t in tests
                    if t['status'] in ('fail', 'uxsuccess'))
    if failed:
        print('\nfailed tests:')
        for test_id in failed:
            print('  %s' % test_id)
    return 1 if failed or not tests else 0


if __name__ == '__main__':
    sys.exit(main())
