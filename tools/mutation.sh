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
# mutmut 2.5.1's cache then breaks the run. The summary
# (tools/mutation_summary.py) counts the mutants per module; the command
# exits 1 when a mutant survived that tools/mutation-equivalent.txt does not
# list as equivalent (with the reason), 0 otherwise (also when the budget
# ran out first: the summary says how many mutants are still untested).
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
# Each mutant is tested by the unit tests of its own module only (the table
# in mutmut_config.py, no functional test); MUTATION_TESTS (space-separated
# unit test modules) overrides the table for every mutant. mutmut's
# baseline run is the union of the table's test modules.
TESTS="${MUTATION_TESTS:-$(python -c 'import mutmut_config; print(" ".join(mutmut_config.all_tests()))')}"
BUDGET="${MUTATION_BUDGET_SECONDS:-1800}"
paths=$(IFS=,; echo "${MODULES[*]}")

# The fork server (tools/mutation_runner.py) imports the libraries and
# parses the vSphere types once; each mutant's tests run in a child of it.
# It is stopped by its recorded PID when this script exits.
rundir=$(mktemp -d)
export MUTATION_RUNNER_SOCKET="${rundir}/runner.sock"
python tools/mutation_runner.py serve "${MUTATION_RUNNER_SOCKET}" \
    > "${rundir}/runner.log" 2>&1 &
runner_pid=$!
trap 'kill "${runner_pid}" 2>/dev/null; rm -rf "${rundir}"' EXIT
for _ in $(seq 300); do
    [ -S "${MUTATION_RUNNER_SOCKET}" ] && break
    kill -0 "${runner_pid}" 2>/dev/null || break
    sleep 0.2
done
if [ ! -S "${MUTATION_RUNNER_SOCKET}" ]; then
    echo "mutation: the test runner did not start:" >&2
    cat "${rundir}/runner.log" >&2
    exit 2
fi

echo "mutation: mutmut over ${paths} (budget ${BUDGET}s)"
timeout --signal=INT --kill-after=60 "${BUDGET}" mutmut run \
    --paths-to-mutate "${paths}" \
    --runner "python tools/mutation_runner.py run ${TESTS}" \
    --tests-dir tests/unit --simple-output --no-progress
status=$?
if [ "${status}" -eq 124 ] || [ "${status}" -eq 137 ]; then
    echo "mutation: time budget of ${BUDGET}s reached; run again to go on"
fi
# mutmut 2.5.1's batch run can leave a mutant that survived an earlier run
# untested again after the tests changed; each survivor is therefore tested
# once more on its own ("mutmut run ID" always tests that one mutant), with
# the current tests, before it is counted.
if [ "${status}" -ne 124 ] && [ "${status}" -ne 137 ]; then
    for id in $(mutmut result-ids survived 2>/dev/null); do
        mutmut run "${id}" --paths-to-mutate "${paths}" \
            --runner "python tools/mutation_runner.py run ${TESTS}" \
            --tests-dir tests/unit --simple-output --no-progress > /dev/null
    done
fi
# mutmut keeps the original of the module under test as MODULE.py.bak while
# a mutant runs; stopped by the budget (or ^C) it can exit without putting
# the original back. Put it back, so no mutant is ever left in the tree.
for path in "${MODULES[@]}"; do
    if [ -f "${path}.bak" ]; then
        mv -f "${path}.bak" "${path}"
        echo "mutation: restored ${path} (the run stopped during a mutant)"
    fi
done
python tools/mutation_summary.py
