#!/usr/bin/env bash
# Active-active proof: the stack with two cinder-volume services (node1,
# node2) in one Cinder cluster, locks in redis (tools/openstack-up.sh with
# VMWARE_BACKEND_OPENSTACK_CLUSTER=1). node1's session is killed with
# SIGKILL mid-run; Cinder's clean-up runs on node2; Cinder is compared with
# vCenter (nothing lost, duplicated or left after delete). The stack is
# always taken down.
#
#   tools/openstack-cluster.sh [mix|create] [cluster_check.py options]
#       tools/openstack/cluster_check.py: a burst of creates, deletes,
#       snapshots, clones, extends and backups (mix, default; --seed N) or of
#       creates, node1 killed during it.
#   tools/openstack-cluster.sh --tempest [REGEX]
#       tempest against the cluster (tools/openstack-tempest.sh), node1
#       killed VMWARE_BACKEND_OPENSTACK_KILL_AFTER seconds (default 90)
#       after tempest started; tools/openstack/cluster_tempest.py then
#       checks vCenter and reports the failed tests with what happened.
set -euo pipefail

TOOLS=$(cd "$(dirname "$0")" && pwd)
HOME_DIR=${HOME:-/root}/.cache/vmware-backend-openstack
STATE=${VMWARE_BACKEND_OPENSTACK_STATE:-$HOME_DIR/state}
VENV=${VMWARE_BACKEND_OPENSTACK_VENV:-$HOME_DIR/venv}
export VMWARE_BACKEND_OPENSTACK_CLUSTER=1

if [ "${1:-}" = --tempest ]; then
    shift
    # cinder-backup is not part of the tempest-with-a-kill run.
    export VMWARE_BACKEND_OPENSTACK_BACKUP=${VMWARE_BACKEND_OPENSTACK_BACKUP:-0}
    # Tasks take 0.5 s, so that the kill finds some work in flight.
    export VMWARE_BACKEND_OPENSTACK_TASK_DELAY_MS=${VMWARE_BACKEND_OPENSTACK_TASK_DELAY_MS:-500}
    py="$VENV/bin/python $TOOLS/openstack"
    export VMWARE_BACKEND_OPENSTACK_TEMPEST_DURING=". $STATE/openstack.env && $py/cluster_check.py kill --state $STATE --kill-after ${VMWARE_BACKEND_OPENSTACK_KILL_AFTER:-90}"
    export VMWARE_BACKEND_OPENSTACK_TEMPEST_AFTER=". $STATE/openstack.env && $py/cluster_tempest.py --state $STATE"
    exec "$TOOLS/openstack-tempest.sh" "$@"
fi
# cinder-backup runs (mix: two backups in the burst, staged by the driver).
export VMWARE_BACKEND_OPENSTACK_BACKUP=${VMWARE_BACKEND_OPENSTACK_BACKUP:-1}
# Tasks take 2 s: the kill, 1 s after the burst, finds most of it in flight.
export VMWARE_BACKEND_OPENSTACK_TASK_DELAY_MS=${VMWARE_BACKEND_OPENSTACK_TASK_DELAY_MS:-2000}

down() {
    local rc=$?
    "$TOOLS/openstack-down.sh" || rc=1
    exit $rc
}
trap down EXIT
"$TOOLS/openstack-up.sh"
# shellcheck disable=SC1091
. "$STATE/openstack.env"
"$VENV/bin/python" "$TOOLS/openstack/cluster_check.py" --state "$STATE" "$@"
