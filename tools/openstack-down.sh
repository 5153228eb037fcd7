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

# The live processes of session $1 (up.sh runs every service with setsid);
# a zombie has already exited and only waits for its parent to reap it.
members() {
    ps -o pid=,stat= -s "$1" 2>/dev/null | awk '$2 !~ /^Z/ {print $1}'
}

# wait_gone SID TENTHS: poll until session SID has no live process, at most
# TENTHS tenths of a second; succeed when it is gone.
wait_gone() {
    local i
    for i in $(seq 1 "$2"); do
        [ -n "$(members "$1")" ] || return 0
        sleep 0.1
    done
    [ -z "$(members "$1")" ]
}

stop() {
    local name=$1 file=$STATE/pids/$1.pid sid
    [ -f "$file" ] || return 0
    sid=$(cat "$file")
    if [ -n "$(members "$sid")" ]; then
        kill -TERM -- "-$sid" 2>/dev/null
        if ! wait_gone "$sid" 300; then
            # oslo.service waits up to graceful_shutdown_timeout for the
            # service's threads; the stack's cinder.conf sets it to 20 s.
            log "$name (session $sid) still running 30s after SIGTERM: SIGKILL"
            tail -n 20 "$STATE/log/$name.log" >&2
            kill -KILL -- "-$sid" 2>/dev/null
            # A killed process can take a while to release its memory.
            wait_gone "$sid" 100
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
