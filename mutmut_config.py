"""mutmut hooks: each mutant is tested by the unit tests of its own module.

mutmut (2.5.1) imports this file from the directory it runs in
(tools/mutation.sh runs it at the top of the tree). Before each mutant,
``pre_mutation`` replaces the test command with the unit test modules that
exercise the mutated file (``TESTS_BY_MODULE``), so a mutant of
``volume_types.py`` costs a fraction of a second instead of the whole
driver suite. No functional test runs: mutants are checked by unit tests
only. A module missing from the table is tested by the union of all the
modules' tests (the baseline command), never skipped.

``MUTATION_TESTS`` (space-separated test modules) overrides the table for
every mutant. Mutants inside ``LOG.<level>(...)`` calls are skipped: they
change only the log text.
"""

import ast
import functools
import os

# The unit test modules that exercise each mutated module. A test module
# listed here must also pass on the unmutated tree (mutmut's baseline run
# is the union of all of them).
TESTS_BY_MODULE = {
    'vmware_backend/vsphere/specs.py': (
        'tests.unit.test_specs', 'tests.unit.test_specs_exact',
        'tests.unit.test_persisted_formats',
        'tests.unit.test_qos', 'tests.unit.test_settle',
        'tests.unit.test_audit_ownership', 'tests.unit.test_manage_refs'),
    'vmware_backend/volume/volume_types.py': (
        'tests.unit.test_volume_types', 'tests.unit.test_volume_types_exact',
        'tests.unit.test_bad_input'),
    'vmware_backend/volume/datastore.py': (
        'tests.unit.test_datastore', 'tests.unit.test_datastore_exact',
        'tests.unit.test_driver_stats',
        'tests.unit.test_pool_names', 'tests.unit.test_bad_input'),
}
_DRIVER_TESTS = (
    'tests.unit.test_driver', 'tests.unit.test_attached_on_vcenter',
    'tests.unit.test_persisted_formats', 'tests.unit.test_driver_stats',
    'tests.unit.test_bad_input', 'tests.unit.test_locking',
    'tests.unit.test_driver_locks', 'tests.unit.test_settle',
    'tests.unit.test_clones_exact', 'tests.unit.test_clone_paths_exact',
    'tests.unit.test_backings_exact', 'tests.unit.test_snapshots_exact',
    'tests.unit.test_lifecycle_exact')
for _name in ('driver', 'lifecycle', 'snapshots', 'clones', 'backings'):
    TESTS_BY_MODULE['vmware_backend/volume/%s.py' % _name] = _DRIVER_TESTS

# tools/mutation_runner.py: through the fork server tools/mutation.sh
# starts (MUTATION_RUNNER_SOCKET), else like "python -m unittest -f -q".
RUNNER = 'python tools/mutation_runner.py run '


def all_tests():
    """Every test module of the table, once, in a stable order."""
    seen = []
    for modules in TESTS_BY_MODULE.values():
        seen.extend(m for m in modules if m not in seen)
    return seen


def command_for(filename, override=None):
    """The test command for a mutant of ``filename``."""
    if override:
        return RUNNER + override
    modules = TESTS_BY_MODULE.get(os.path.normpath(filename), all_tests())
    return RUNNER + ' '.join(modules)


@functools.lru_cache(maxsize=None)
def log_call_lines(source):
    """Line numbers (0-based) of the ``LOG.<level>(...)`` calls in ``source``.

    A mutant there only changes what is logged; such mutants are skipped
    (counted apart by tools/mutation_summary.py), not tested.
    """
    lines = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and \
                isinstance(node.func, ast.Attribute) and \
                isinstance(node.func.value, ast.Name) and \
                node.func.value.id == 'LOG':
            lines.update(range(node.lineno - 1, node.end_lineno))
    return frozenset(lines)


def pre_mutation(context):
    if context.mutation_id.line_number in log_call_lines(context.source):
        context.skip = True
        return
    context.config.test_command = command_for(
        context.filename, os.environ.get('MUTATION_TESTS'))
