"""The campaign's figures table, as plain text."""

from vmware_backend.testbed.faults import invariants
from vmware_backend.testbed.faults import rules

EXAMPLES = 3


def violations(result):
    """Names of the checks that failed in one run's ``result``."""
    failed = [name for name, _t in invariants.INVARIANTS
              if result['after_faults'][name] or
              result['after_teardown'][name] or
              result['during'].get(name)]
    if result['teardown_failures']:
        failed.append('teardown first-try failures')
    if result['left_after_teardown']:
        failed.append('left after teardown')
    if result['password_hits']:
        failed.append('password found')
    for name, found in sorted(result.get('concurrency', {}).items()):
        if found:
            failed.append('concurrency: %s' % name)
    return failed


def render(result):
    """The figures table of one run."""
    out = []
    add = out.append
    add('=' * 78)
    add('FAULT CAMPAIGN  seed %(seed)s  task delay %(task_delay_ms)s ms  '
        '%(ops)s operations  %(seconds).0f s' % result +
        '  reads over %s' % result.get('transport', 'soap'))
    add('proxy: %(requests)s requests, %(faults)s faults injected' % result)
    channels = ('soap', 'json', 'nfc', 'other')
    kinds, faulted = (result.get('request_kinds') or {},
                      result.get('fault_channels') or {})
    add('  requests (faults): ' + ', '.join(
        '%s %d (%d)' % (c, kinds.get(c, 0), faulted.get(c, 0))
        for c in channels if kinds.get(c)))
    add('')
    add('%-28s %8s' % ('fault kind', 'injected'))
    counts = result['fault_counts']
    for kind in rules.KINDS:
        add('%-28s %8s' % (kind, counts.get(kind, 0)))
    for kind, n in sorted(result['skipped'].items()):
        add('  not injected: %s x%d (%s)' % (kind[0], n, kind[1]))
    add('')
    add('%-38s %9s %6s %7s %7s' % ('operation', 'attempted', 'failed',
                                   'retried', 'refused'))
    for op, c in sorted(result['operations'].items()):
        add('%-38s %9s %6s %7s %7s' % (op, c['attempted'], c['failed'],
                                       c['retried'], c['refused']))
    add('')
    add('errors seen by the manager (failed tries, by type):')
    for key, n in sorted(result['errors'].items()):
        add('  %-44s %4d  e.g. %s' % (key, n,
                                      result['error_examples'][key][:90]))
    add('')
    add('invariant (read from the simulator)   %6s %6s %8s'
        % ('during', 'end', 'teardown'))
    for name, text in invariants.INVARIANTS:
        during = result['during'].get(name, [])
        add('%-37s %6d %6d %8d' % (name, len(during),
                                   len(result['after_faults'][name]),
                                   len(result['after_teardown'][name])))
    add('  (during: distinct items seen by the checks every 25 operations;'
        ' end: after the')
    add('  last fault; teardown: after deleting everything)')
    add('%-53s %8d' % ('teardown first-try failures',
                       len(result['teardown_failures'])))
    add('%-53s %8d' % ('left after teardown (3 tries)',
                       len(result['left_after_teardown'])))
    add('%-53s %8d' % ('password found (%d texts, %d at DEBUG)'
                       % (result['password_scanned'],
                          result['password_debug_scanned']),
                       result['password_hits']))
    for name, found in sorted(result.get('concurrency', {}).items()):
        add('%-53s %8d' % ('concurrency: ' + name, len(found)))
    failed = violations(result)
    if failed:
        add('')
        add('examples:')
        for phase in ('during', 'after_faults', 'after_teardown'):
            for name, found in result[phase].items():
                for item in found[:EXAMPLES]:
                    add('  [%s] %s: %s' % (phase, name, item))
        for item in result['teardown_failures'][:EXAMPLES]:
            add('  teardown: %s' % item[:300])
        for item in result['password_examples'][:EXAMPLES]:
            add('  password: %s' % item)
        for name, found in sorted(result.get('concurrency', {}).items()):
            for item in found[:EXAMPLES]:
                add('  concurrency %s: %s' % (name, item))
    add('')
    add('RESULT: %s' % ('FAIL (%s)' % ', '.join(failed) if failed
                        else 'PASS'))
    return '\n'.join(out)
