#!/usr/bin/env bash
# Mutation testing of the core modules with mutmut, within a time budget.
#
#   tools/mutation.sh [MODULE_PATH ...]      (run by "tox -e mutation")
#
# mutmut changes one thing at a time in the modules below (a constant, an
# operator, a comparison, a return value...) and runs the unit tests that
# cover them; a mutant the tests do not notice "survives". Results are kept
# in .mutmut-cache, so a run stopped by the budget
# (MUTATION_BUDGET_SECONDS, default 1800) resumes where it stopped the next
# time (with the same MUTATION_TESTS). "mutmut show ID" shows a surviving
# mutant. Do not query the cache ("mutmut results") while a run is going:
# mutmut 2.5.1's cache then breaks the run. Exits 1 when a mutant
# survived, 0 otherwise (also when the budget ran out first: the summary
# says how many mutants are still untested).
set -uo pipefail
cd "$(dirname "$0")/.."

MODULES=(
    vmware_backend/vsphere/specs.py
    vmware_backend/volume/volume_types.py
    vmware_backend/volume/datastore.py
    vmware_backend/volume/driver.py
    vmware_backend/volume/lifecycle.py
    vmware_backend/volume/snapshots.py
    vmware_backend/volume/clones.py
    vmware_backend/volume/backings.py
)
if [ $# -gt 0 ]; then
    MODULES=("$@")
fi
# MUTATION_TESTS overrides the unit test modules run against each mutant
# (e.g. only the fast ones that need no vSphere types when mutating the
# pure modules).
TESTS="${MUTATION_TESTS:-tests.unit.test_persisted_formats tests.unit.test_specs \
tests.unit.test_volume_types tests.unit.test_datastore \
tests.unit.test_driver_stats tests.unit.test_attached_on_vcenter \
tests.unit.test_driver}"
BUDGET="${MUTATION_BUDGET_SECONDS:-1800}"
paths=$(IFS=,; echo "${MODULES[*]}")

echo "mutation: mutmut over ${paths} (budget ${BUDGET}s)"
timeout --signal=INT --kill-after=60 "${BUDGET}" mutmut run \
    --paths-to-mutate "${paths}" \
    --runner "python -m unittest -f -q ${TESTS}" \
    --tests-dir tests/unit --simple-output --no-progress
status=$?
if [ "${status}" -eq 124 ]; then
    echo "mutation: time budget of ${BUDGET}s reached; run again to go on"
fi
mutmut results
survived=$(mutmut result-ids survived 2>/dev/null | wc -w)
untested=$(mutmut result-ids untested 2>/dev/null | wc -w)
killed=$(mutmut result-ids killed 2>/dev/null | wc -w)
echo "mutation: killed ${killed}, survived ${survived}, untested ${untested}"
[ "${survived}" -eq 0 ]
