#!/usr/bin/env bash
# Stop the stack tools/openstack-up.sh started, by the session ids it
# recorded in $STATE/pids (never by process name), and remove its data.
#
# The Cinder services stop first; then, while the simulator still runs,
# the driver's CLI lists the backings left on vCenter (`vmware-backend-manage
# volumes` over both backends of the stack's cinder.conf). Anything left,
# or a process that would not stop, makes the exit status 1. The logs stay
# in $STATE/log for a look afterwards.
set -uo pipefail

HOME_DIR=${HOME:-/root}/.cache/vmware-backend-openstack
STATE=${VMWARE_BACKEND_OPENSTACK_STATE:-$HOME_DIR/state}
VENV=${VMWARE_BACKEND_OPENSTACK_VENV:-$HOME_DIR/venv}
STATUS=0

log() { printf '%s openstack-down: %s\n' "$(date -u +%T)" "$*" >&2; }

# The processes of session $1 (up.sh runs every service with setsid).
members() { ps -o pid= -s "$1" 2>/dev/null | tr -d ' '; }

stop() {
    local name=$1 file=$STATE/pids/$1.pid sid i
    [ -f "$file" ] || return 0
    sid=$(cat "$file")
    if [ -n "$(members "$sid")" ]; then
        kill -TERM -- "-$sid" 2>/dev/null
        for i in $(seq 1 30); do
            [ -n "$(members "$sid")" ] || break
            sleep 0.5
        done
        if [ -n "$(members "$sid")" ]; then
            log "$name (session $sid) ignored SIGTERM for 15s: SIGKILL"
            kill -KILL -- "-$sid" 2>/dev/null
            sleep 1
        fi
    fi
    if [ -n "$(members "$sid")" ]; then
        log "ERROR: $name (session $sid) still running: $(members "$sid")"
        STATUS=1
        return
    fi
    rm -f "$file"
    log "stopped $name"
}

# Backings still on vCenter, through the driver's own CLI.
check_backings() {
    local conf=$STATE/etc/cinder/cinder.conf out count
    [ -f "$conf" ] && [ -f "$STATE/pids/vcsim.pid" ] || return 0
    if ! out=$("$VENV/bin/vmware-backend-manage" --config-file "$conf" \
            --format json volumes 2>"$STATE/log/final-volumes.err"); then
        log "ERROR: vmware-backend-manage volumes failed:"
        cat "$STATE/log/final-volumes.err" >&2
        STATUS=1
        return
    fi
    echo "$out" >"$STATE/log/final-volumes.json"
    # {"backends": [{"backend": NAME, "errors": [...], "result": [rows]}]}
    count=$("$VENV/bin/python" -c '
import json, sys
backends = json.load(sys.stdin)["backends"]
bad = [b["backend"] for b in backends if b["errors"] or b["status"]]
print(len(bad) and "error" or sum(len(b["result"]) for b in backends))
' <<<"$out")
    if [ "$count" != 0 ]; then
        log "ERROR: $count backing(s) left on vCenter:"
        echo "$out" >&2
        STATUS=1
    else
        log "vCenter: no backing left (vmware-backend-manage volumes)"
    fi
}

[ -d "$STATE/pids" ] || { log "nothing to stop ($STATE/pids missing)"; exit 0; }
for name in cinder-volume cinder-volume-node1 cinder-volume-node2 \
        cinder-backup cinder-api cinder-scheduler; do
    stop "$name"
done
check_backings
for name in glance keystone rabbitmq epmd mariadb redis vcsim; do
    stop "$name"
done
for file in "$STATE"/pids/*.pid; do
    [ -e "$file" ] || continue
    stop "$(basename "$file" .pid)"
done
if [ "$STATUS" = 0 ]; then
    # Data (databases, queues, images, configuration with passwords).
    find "$STATE" -mindepth 1 -maxdepth 1 ! -name log -exec rm -rf {} +
fi
exit $STATUS
