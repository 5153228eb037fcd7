#!/usr/bin/env bash
# Active-active proof: the stack with two cinder-volume services (node1,
# node2) in one Cinder cluster, locks in redis (tools/openstack-up.sh with
# VMWARE_BACKEND_OPENSTACK_CLUSTER=1); tools/openstack/cluster_check.py
# kills node1 while volumes are being created and compares Cinder with
# vCenter (nothing lost, nothing duplicated, nothing left after delete);
# the stack is always taken down.
set -euo pipefail

TOOLS=$(cd "$(dirname "$0")" && pwd)
HOME_DIR=${HOME:-/root}/.cache/vmware-backend-openstack
STATE=${VMWARE_BACKEND_OPENSTACK_STATE:-$HOME_DIR/state}
VENV=${VMWARE_BACKEND_OPENSTACK_VENV:-$HOME_DIR/venv}
export VMWARE_BACKEND_OPENSTACK_CLUSTER=1
# cinder-backup is not part of this proof (not tried in a cluster).
export VMWARE_BACKEND_OPENSTACK_BACKUP=${VMWARE_BACKEND_OPENSTACK_BACKUP:-0}

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
