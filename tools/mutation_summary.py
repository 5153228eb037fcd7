"""Per-module summary of a mutmut run (tools/mutation.sh).

Reads mutmut's result cache (``.mutmut-cache``, SQLite) and prints, per
mutated module, the mutants in total, killed (a test failed, or the tests
ran ten times longer than the baseline), survived, listed as equivalent,
skipped (inside a ``LOG`` call: mutmut_config.py) and not tested yet. A
surviving mutant is "equivalent" only when it is listed in
``tools/mutation-equivalent.txt`` with the reason no test can tell it from
the original; the README lists the same mutants.

Exits 1 when a mutant survived that is not listed as equivalent.
"""

import collections
import os
import sqlite3
import sys

KILLED = ('ok_killed', 'ok_suspicious', 'bad_timeout')
SURVIVED = 'bad_survived'
SKIPPED = 'skipped'
EQUIVALENT_FILE = os.path.join(os.path.dirname(__file__),
                               'mutation-equivalent.txt')


def read_equivalent(path=EQUIVALENT_FILE):
    """``{(module, source line, index): reason}`` of the listed mutants.

    One mutant a line: ``module | source line (stripped) | index | reason``
    (``index`` is mutmut's number of the mutation within that line, as in
    ``mutmut show``'s ``line:index`` ids); ``#`` starts a comment line.
    """
    listed = {}
    if not os.path.exists(path):
        return listed
    with open(path) as lines:
        for number, text in enumerate(lines, 1):
            text = text.strip()
            if not text or text.startswith('#'):
                continue
            parts = [p.strip() for p in text.split(' | ')]
            if len(parts) != 4 or not parts[2].isdigit() or not parts[3]:
                raise SystemExit('%s:%d: expected "module | line | index | '
                                 'reason", got %r' % (path, number, text))
            listed[(parts[0], parts[1], int(parts[2]))] = parts[3]
    return listed


def read_results(cache='.mutmut-cache'):
    """``[(module, line number, source line, index, status)]``."""
    with sqlite3.connect(cache) as db:
        return db.execute(
            'SELECT f.filename, l.line_number, l.line, m."index", m.status '
            'FROM Mutant m JOIN Line l ON m.line = l.id '
            'JOIN SourceFile f ON l.sourcefile = f.id '
            'ORDER BY f.filename, l.line_number, m."index"').fetchall()


def summarise(results, equivalent):
    """Per-module counts and the surviving mutants not listed."""
    counts = collections.OrderedDict()
    unexplained = []
    used = set()
    for module, number, line, index, status in results:
        row = counts.setdefault(module, collections.Counter())
        row['total'] += 1
        key = (module, line.strip(), index)
        if status in KILLED:
            row['killed'] += 1
        elif status == SURVIVED and key in equivalent:
            row['equivalent'] += 1
            used.add(key)
        elif status == SURVIVED:
            row['survived'] += 1
            unexplained.append((module, number + 1, index, line.strip()))
        elif status == SKIPPED:
            row['skipped'] += 1
        else:
            row['untested'] += 1
    return counts, unexplained, used


def main(cache='.mutmut-cache'):
    results = read_results(cache)
    equivalent = read_equivalent()
    counts, unexplained, used = summarise(results, equivalent)
    columns = ('total', 'killed', 'survived', 'equivalent', 'skipped',
               'untested')
    print('%-40s %s' % ('module', ' '.join('%10s' % c for c in columns)))
    total = collections.Counter()
    for module, row in counts.items():
        total.update(row)
        print('%-40s %s' % (module, ' '.join('%10d' % row[c]
                                             for c in columns)))
    print('%-40s %s' % ('all', ' '.join('%10d' % total[c] for c in columns)))
    for module, number, index, line in unexplained:
        print('survived: %s:%d (mutation %d of the line) %s'
              % (module, number, index, line))
    for key in sorted(k for k in set(equivalent) - used if k[0] in counts):
        print('note: listed as equivalent but not a survivor of this run: '
              '%s | %s | %d' % key)
    return 1 if unexplained else 0


if __name__ == '__main__':
    sys.exit(main(*sys.argv[1:]))
