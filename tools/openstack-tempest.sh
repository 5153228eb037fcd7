#!/usr/bin/env bash
# tox -e openstack: bring the stack up (tools/openstack-up.sh), run
# tempest's volume API tests against it with --concurrency 2, print the
# totals and the skipped tests with tempest's reason, and always take the
# stack down again (tools/openstack-down.sh, by recorded process ids; it
# fails when a backing is left on vCenter).
#
# Arguments: a tempest --regex (default: every tempest.api.volume test).
# Environment (besides openstack-up.sh's):
#   VMWARE_BACKEND_OPENSTACK_IMAGES  1 (default): run the tests that create
#       volumes from images or upload volumes to images (copy_image_to_volume,
#       copy_volume_to_image), then tools/openstack/image_cache_check.py
#       (Cinder's image-volume cache); 0: leave them out, listed below
#   VMWARE_BACKEND_OPENSTACK_BACKUP  1 (default): cinder-backup runs (posix
#       driver) and tempest's backup tests are on; 0: off
#   VMWARE_BACKEND_OPENSTACK_KEEP    1: leave the stack running afterwards
#   VMWARE_BACKEND_OPENSTACK_TEMPEST_DURING  a command run in the background
#       while tempest runs, VMWARE_BACKEND_OPENSTACK_TEMPEST_AFTER one run
#       after it, which then judges tempest's failures; either failing
#       fails the run (tools/openstack-cluster.sh --tempest: kill a
#       cinder-volume service mid-run, then check vCenter)
set -euo pipefail

TOOLS=$(cd "$(dirname "$0")" && pwd)
HOME_DIR=${HOME:-/root}/.cache/vmware-backend-openstack
STATE=${VMWARE_BACKEND_OPENSTACK_STATE:-$HOME_DIR/state}
VENV=${VMWARE_BACKEND_OPENSTACK_VENV:-$HOME_DIR/venv}
IMAGES=${VMWARE_BACKEND_OPENSTACK_IMAGES:-1}
BACKUP=${VMWARE_BACKEND_OPENSTACK_BACKUP:-1}
REGEX=${1:-'^tempest\.api\.volume\.'}
export VMWARE_BACKEND_OPENSTACK_BACKUP=$BACKUP

flag() { [ "$1" = 1 ] && echo true || echo false; }

# Tests left out, each with the reason (printed with the results).
EXCLUDED=()
if [ "${VMWARE_BACKEND_OPENSTACK_CLUSTER:-0}" = 1 ]; then
    # In a Cinder cluster os-vol-host-attr:host names the service that did
    # the work: cinder-volume sets it to its own host on create, the
    # scheduler to the host of the cluster's entry in its host manager
    # (the first service it saw up) on manage and retype; these two tests
    # want the same host before and after.
    EXCLUDED+=(
        'admin\.test_volume_manage\.VolumeManageAdminTest\.test_unmanage_manage_volume\b|active-active: compares os-vol-host-attr:host (node1@ or node2@: whichever service of the cluster handled the request)'
        'admin\.test_volume_retype\.VolumeRetypeWithoutMigrationTest\.test_available_volume_retype\b|active-active: compares os-vol-host-attr:host (node1@ or node2@: whichever service of the cluster handled the request)'
    )
fi
if [ "$IMAGES" != 1 ]; then
    EXCLUDED+=(
        'test_volumes_extend\.VolumesExtendTest\.test_volume_extend\[|creates its volume from an image: copy_image_to_volume'
        'test_image_metadata\.|creates its volume from an image: copy_image_to_volume'
        'test_volumes_clone\.VolumesCloneTest\.test_create_from_bootable_volume|creates its volume from an image: copy_image_to_volume'
        'test_volumes_get\.VolumesGetTest\.test_volume_create_get_update_delete_from_image|creates its volume from an image: copy_image_to_volume'
        'test_volumes_actions\.VolumesActionsTest\.test_volume_upload|uploads a volume to an image: copy_volume_to_image'
        'test_volumes_backup\.VolumesBackupsTest\.test_bootable_volume_backup_and_restore|creates its volume from an image: copy_image_to_volume'
    )
fi

down() {
    local rc=$? t0=$SECONDS
    if [ "${VMWARE_BACKEND_OPENSTACK_KEEP:-0}" = 1 ]; then
        echo "stack left running; tools/openstack-down.sh stops it" >&2
        exit $rc
    fi
    "$TOOLS/openstack-down.sh" || rc=1
    echo "timing: down $((SECONDS - t0))s" >&2
    exit $rc
}

write_tempest_conf() {
    # shellcheck disable=SC1091
    . "$STATE/openstack.env"
    cat >"$1" <<EOF
[DEFAULT]
log_file = $STATE/log/tempest.log
[compute]
image_ref = $IMAGE_ID
[auth]
admin_username = admin
admin_password = $OS_PASSWORD
admin_project_name = admin
admin_domain_name = Default
use_dynamic_credentials = true
create_isolated_networks = false
[identity]
uri_v3 = $OS_AUTH_URL
auth_version = v3
region = RegionOne
[identity-feature-enabled]
api_v2 = false
[service_available]
cinder = true
glance = true
nova = false
# Without Neutron tempest skips whole classes (VolumesSnapshotTestJSON,
# SnapshotManageAdminTest, VolumesActionsTest...) because one of their
# tests boots a server. Saying neutron = true does not help: tempest then
# cleans security groups up through the network API after every class.
neutron = false
swift = false
horizon = false
[validation]
run_validation = false
[volume]
catalog_type = block-storage
storage_protocol = vmdk
vendor_name = VMware
backend_names = vmware-1,vmware-2
min_microversion = 3.0
max_microversion = latest
build_timeout = 300
# unmanage keeps the backing with instanceUuid = the old volume id, and
# renames a snapshot unmanaged-<id> (README, "Import existing disks").
manage_volume_ref = source-id,%s
manage_snapshot_ref = source-name,unmanaged-%s
backup_driver = posix
disk_format = vmdk
# Multi-attach volume types (multiattach='<is> True': vSphere multi-writer
# disks); tempest keeps the switch under compute, also for its volume API
# test VolumeRetypeMultiattachTest. No compute test runs (nova = false).
[compute-feature-enabled]
volume_multiattach = true
[volume-feature-enabled]
multi_backend = true
snapshot = true
clone = true
manage_volume = true
manage_snapshot = true
# The driver refuses to extend a volume with snapshots (README, Known limits).
extend_volume_with_snapshot = false
# Attached volumes need Nova; the driver refuses to extend them anyway.
extend_attached_volume = false
backup = $(flag "$BACKUP")
enable_volume_image_dep_tests = true
EOF
}

# The image tempest's tests start from ([compute] image_ref): 1 MiB of
# random data as a streamOptimized vmdk, the form vCenter imports as is.
upload_image() {
    local dir=$STATE/image
    mkdir -p "$dir"
    head -c 1048576 /dev/urandom >"$dir/disk.raw"
    qemu-img convert -f raw -O vmdk -o subformat=streamOptimized \
        "$dir/disk.raw" "$dir/disk.vmdk"
    # qemu-img ends the stream after its last grain; VMware's format (and
    # vCenter's NFC reader) want an end-of-stream marker: one zero sector.
    head -c 512 /dev/zero >>"$dir/disk.vmdk"
    # shellcheck disable=SC1091
    . "$STATE/openstack.env"
    IMAGE_ID=$("$VENV/bin/openstack" image create --disk-format vmdk \
        --container-format bare --public --file "$dir/disk.vmdk" \
        --property vmware_disktype=streamOptimized \
        --property vmware_adaptertype=lsiLogic \
        -f value -c id vmware-backend-tempest)
    rm -rf "$dir"
}

main() {
    local t0=$SECONDS
    trap down EXIT
    "$TOOLS/openstack-up.sh"
    echo "timing: up $((SECONDS - t0))s" >&2
    local ws=$STATE/tempest
    rm -rf "$ws"
    "$VENV/bin/tempest" init --workspace-path "$STATE/tempest-workspaces.yaml" \
        "$ws" >/dev/null
    upload_image
    write_tempest_conf "$ws/etc/tempest.conf"
    local exclude='' entry
    for entry in "${EXCLUDED[@]}"; do
        exclude="${exclude:+$exclude|}${entry%%|*}"
    done
    t0=$SECONDS
    local rc=0 drc=0 crc=0 during=
    if [ -n "${VMWARE_BACKEND_OPENSTACK_TEMPEST_DURING:-}" ]; then
        bash -c "$VMWARE_BACKEND_OPENSTACK_TEMPEST_DURING" &
        during=$!
    fi
    (cd "$ws" && "$VENV/bin/tempest" run --concurrency 2 \
        --regex "$REGEX" --exclude-regex "$exclude") \
        >"$STATE/log/tempest-run.log" 2>&1 || rc=$?
    if [ -n "$during" ]; then wait "$during" || drc=1; rc=$((rc | drc)); fi
    echo "timing: tempest $((SECONDS - t0))s" >&2
    grep -E '^(Totals|=+| - [A-Z][a-z]+|Sum of execute)' \
        "$STATE/log/tempest-run.log" | tail -n 12 || true
    (cd "$ws" && "$VENV/bin/stestr" last --subunit) |
        "$VENV/bin/python" "$TOOLS/openstack/tempest_summary.py" || rc=1
    if [ "$IMAGES" = 1 ]; then
        # Cinder's image-volume cache: the 2nd volume of an image is a
        # clone of the cache entry on vCenter; removes the cache entries.
        t0=$SECONDS
        "$VENV/bin/python" "$TOOLS/openstack/image_cache_check.py" \
            --state "$STATE" --image-id "$IMAGE_ID" || crc=1
        rc=$((rc | crc))
        echo "timing: image cache check $((SECONDS - t0))s" >&2
    fi
    if [ ${#EXCLUDED[@]} -gt 0 ]; then
        echo; echo "left out (--exclude-regex):"
        for entry in "${EXCLUDED[@]}"; do
            printf '  %s\n      %s\n' "${entry#*|}" "${entry%%|*}"
        done
    fi
    if [ -n "${VMWARE_BACKEND_OPENSTACK_TEMPEST_AFTER:-}" ]; then
        # It judges tempest's failures itself (reads $STATE/tempest).
        rc=$((drc | crc))
        bash -c "$VMWARE_BACKEND_OPENSTACK_TEMPEST_AFTER" || rc=1
    fi
    cp "$ws/etc/tempest.conf" "$STATE/log/tempest.conf"
    sed -i 's/^\(admin_password = \).*/\1<redacted>/' "$STATE/log/tempest.conf"
    return $rc
}

main "$@"
