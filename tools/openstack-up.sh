#!/usr/bin/env bash
# Bring up a small OpenStack around this driver, on loopback only:
# the embedded vCenter simulator (vcsim, two clusters), RabbitMQ, MariaDB,
# Keystone (gunicorn), Glance (gunicorn, file store) and cinder-api,
# cinder-scheduler and cinder-volume with two backends of this driver
# (vmware-1 on cluster DC0_C0, vmware-2 on DC0_C1).
#
# From nothing: installs the Debian packages it needs (as root) and a venv
# with Cinder 29.0.0, Keystone 30, Glance 33, the clients, tempest 47 and
# this project. Every service runs in its own session; its id is recorded
# in $STATE/pids/<name>.pid, its output in $STATE/log/<name>.log.
# tools/openstack-down.sh stops them by those ids.
#
# Afterwards:   . $STATE/openstack.env && openstack volume create --size 1 v
#
# Environment:
#   VMWARE_BACKEND_OPENSTACK_STATE   state dir (default ~/.cache/vmware-backend-openstack/state)
#   VMWARE_BACKEND_OPENSTACK_VENV    venv (default ~/.cache/vmware-backend-openstack/venv)
#   VMWARE_BACKEND_OPENSTACK_BACKUP  1 (default): also run cinder-backup
#       (posix driver, backups in $STATE/cinder/backups); 0: not
#   VMWARE_BACKEND_OPENSTACK_CLUSTER 1: two cinder-volume services (hosts
#       node1, node2) in one Cinder cluster, locks in redis-server (needs a
#       driver with SUPPORTS_ACTIVE_ACTIVE; Cinder refuses to start otherwise)
#   VMWARE_BACKEND_OPENSTACK_TASK_DELAY_MS  vcsim completes every *_Task
#       this many ms after it started (default 0: at once); the cluster
#       check uses it so that a kill finds work in flight
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
HOME_DIR=${HOME:-/root}/.cache/vmware-backend-openstack
STATE=${VMWARE_BACKEND_OPENSTACK_STATE:-$HOME_DIR/state}
VENV=${VMWARE_BACKEND_OPENSTACK_VENV:-$HOME_DIR/venv}
BACKUP=${VMWARE_BACKEND_OPENSTACK_BACKUP:-1}
CLUSTER=${VMWARE_BACKEND_OPENSTACK_CLUSTER:-0}

APT_PACKAGES="rabbitmq-server mariadb-server qemu-utils"
PIP_PACKAGES="cinder==29.0.0 keystone==30.0.0 glance==33.0.0
    python-openstackclient python-cinderclient python-glanceclient
    tempest==47.0.0 PyMySQL gunicorn redis"
KEYSTONE_PORT=5000 GLANCE_PORT=9292 CINDER_PORT=8776 RABBIT_PORT=5672
REDIS_PORT=6379

log() { printf '%s openstack-up: %s\n' "$(date -u +%T)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# --- helpers ---------------------------------------------------------------

# start NAME CMD...: run CMD in a session of its own, output to the log,
# session id (= its pid) recorded for openstack-down.sh.
start() {
    local name=$1; shift
    setsid "$@" >"$STATE/log/$name.log" 2>&1 </dev/null &
    echo $! >"$STATE/pids/$name.pid"
    log "started $name (pid $!)"
}

# wait_for NAME SECONDS CHECK...: poll CHECK until it succeeds; fail with
# the tail of NAME's log when NAME died or the time ran out.
wait_for() {
    local name=$1 limit=$2 t0=$SECONDS; shift 2
    until "$@" >/dev/null 2>&1; do
        if ! kill -0 "$(cat "$STATE/pids/$name.pid")" 2>/dev/null; then
            tail -n 30 "$STATE/log/$name.log" >&2
            die "$name exited (log: $STATE/log/$name.log)"
        fi
        if (( SECONDS - t0 > limit )); then
            tail -n 30 "$STATE/log/$name.log" >&2
            die "$name not ready within ${limit}s (log: $STATE/log/$name.log)"
        fi
        sleep 1
    done
    log "$name ready after $((SECONDS - t0))s"
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
http_ok() { curl -fsS -o /dev/null "$1"; }

require_free_port() {
    if port_open "$1"; then
        die "127.0.0.1:$1 is in use (another stack? tools/openstack-down.sh)"
    fi
}

secret() { openssl rand -hex 12; }

# --- packages --------------------------------------------------------------

install_packages() {
    local missing=
    command -v mariadbd >/dev/null || missing=1
    command -v qemu-img >/dev/null || missing=1
    [ -x /usr/lib/rabbitmq/bin/rabbitmq-server ] || missing=1
    if [ "$CLUSTER" = 1 ]; then
        APT_PACKAGES="$APT_PACKAGES redis-server"
        command -v redis-server >/dev/null || missing=1
    fi
    command -v curl >/dev/null || APT_PACKAGES="$APT_PACKAGES curl"
    command -v curl >/dev/null || missing=1
    if [ -n "$missing" ]; then
        [ "$(id -u)" = 0 ] || die "run as root to install: $APT_PACKAGES"
        log "apt-get install $APT_PACKAGES"
        apt-get update -qq
        # Debian's policy-rc.d keeps the packaged services from starting.
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
            $APT_PACKAGES >/dev/null
    fi
    local stamp="$VENV/.vmware-backend-openstack"
    local want
    want=$(echo $PIP_PACKAGES | tr ' ' '\n' | sort | sha256sum | cut -c1-16)
    if [ ! -x "$VENV/bin/python" ]; then
        log "creating venv $VENV"
        python3 -m venv "$VENV"
    fi
    if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
        log "pip install (a few minutes the first time): $(echo $PIP_PACKAGES)"
        "$VENV/bin/pip" install -q --disable-pip-version-check -U pip
        "$VENV/bin/pip" install -q --disable-pip-version-check $PIP_PACKAGES
        echo "$want" >"$stamp"
    fi
    # This project, from this checkout (cheap: no dependencies to fetch).
    "$VENV/bin/pip" install -q --disable-pip-version-check "$REPO" \
        >"$HOME_DIR/pip-project.log" 2>&1 ||
        die "pip install $REPO failed ($HOME_DIR/pip-project.log)"
}

# --- services --------------------------------------------------------------

start_vcsim() {
    local out
    out=$("$VENV/bin/python" -m vmware_backend.testbed.prepare)
    VCSIM_BIN=$(sed -n 's/^vcsim binary: //p' <<<"$out")
    WSDL=$(sed -n 's/^vSphere WSDL: //p' <<<"$out")
    VC_USER=vcsim-user VC_PASSWORD=$(secret)
    start vcsim "$VCSIM_BIN" -listen 127.0.0.1:0 -clusters 2 \
        -username "$VC_USER" -password "$VC_PASSWORD" \
        -task-delay-ms "${VMWARE_BACKEND_OPENSTACK_TASK_DELAY_MS:-0}"
    wait_for vcsim 120 grep -q '^VCSIM_READY' "$STATE/log/vcsim.log"
    VC_PORT=$(sed -n 's/^VCSIM_URL=.*:\([0-9]*\)\/.*/\1/p' \
        "$STATE/log/vcsim.log")
    [ -n "$VC_PORT" ] || die "no VCSIM_URL in $STATE/log/vcsim.log"
}

start_rabbitmq() {
    local dir=$STATE/rabbitmq
    mkdir -p "$dir/mnesia" "$dir/log"
    echo '[].' >"$dir/enabled_plugins"
    cat >"$dir/rabbitmq.conf" <<EOF
listeners.tcp.1 = 127.0.0.1:$RABBIT_PORT
loopback_users.guest = true
EOF
    : >"$dir/rabbitmq-env.conf"
    # epmd first, in our session: Erlang would start it as a daemon.
    start epmd env ERL_EPMD_ADDRESS=127.0.0.1 epmd
    start rabbitmq env HOME="$dir" ERL_EPMD_ADDRESS=127.0.0.1 \
        RABBITMQ_NODENAME=rabbit@localhost \
        RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 \
        RABBITMQ_NODE_PORT=$RABBIT_PORT \
        RABBITMQ_DIST_PORT=25672 \
        RABBITMQ_CONF_ENV_FILE="$dir/rabbitmq-env.conf" \
        RABBITMQ_CONFIG_FILE="$dir/rabbitmq.conf" \
        RABBITMQ_ENABLED_PLUGINS_FILE="$dir/enabled_plugins" \
        RABBITMQ_MNESIA_BASE="$dir/mnesia" \
        RABBITMQ_LOG_BASE="$dir/log" \
        RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS='-kernel inet_dist_use_interface {127,0,0,1}' \
        /usr/lib/rabbitmq/bin/rabbitmq-server
}

# The tooz backend of the cluster's locks; in memory only.
start_redis() {
    mkdir -p "$STATE/redis"
    start redis redis-server --bind 127.0.0.1 --port "$REDIS_PORT" \
        --save '' --appendonly no --dir "$STATE/redis"
}

mysql() { command mariadb --no-defaults -S "$STATE/mysql.sock" -uroot "$@"; }

start_mariadb() {
    mariadb-install-db --no-defaults --datadir="$STATE/mysql" --user=root \
        --auth-root-authentication-method=normal --skip-test-db \
        >"$STATE/log/mariadb-install.log" 2>&1 ||
        die "mariadb-install-db failed (log: $STATE/log/mariadb-install.log)"
    start mariadb mariadbd --no-defaults --datadir="$STATE/mysql" \
        --user=root --socket="$STATE/mysql.sock" --skip-networking \
        --pid-file="$STATE/mysql.pid" --max-connections=1000 \
        --innodb-buffer-pool-size=64M
}

create_databases() {
    DB_PASSWORD=$(secret)
    mysql <<EOF
CREATE USER 'openstack'@'localhost' IDENTIFIED BY '$DB_PASSWORD';
CREATE DATABASE keystone; CREATE DATABASE glance; CREATE DATABASE cinder;
GRANT ALL ON keystone.* TO 'openstack'@'localhost';
GRANT ALL ON glance.* TO 'openstack'@'localhost';
GRANT ALL ON cinder.* TO 'openstack'@'localhost';
EOF
}

db_url() {
    echo "mysql+pymysql://openstack:$DB_PASSWORD@localhost/$1?unix_socket=$STATE/mysql.sock&charset=utf8"
}

authtoken() {  # the [keystone_authtoken] section of service user $1
    cat <<EOF
[keystone_authtoken]
www_authenticate_uri = http://127.0.0.1:$KEYSTONE_PORT/v3
auth_url = http://127.0.0.1:$KEYSTONE_PORT/v3
auth_type = password
project_domain_name = Default
user_domain_name = Default
project_name = service
username = $1
password = $SERVICE_PASSWORD
service_token_roles_required = true
EOF
}

start_keystone() {
    local etc=$STATE/etc/keystone
    mkdir -p "$etc" "$STATE/keystone"
    cat >"$etc/keystone.conf" <<EOF
[database]
connection = $(db_url keystone)
[identity]
# bcrypt's cheapest cost: tempest creates users and logs in for every class.
password_hash_rounds = 4
[token]
provider = fernet
[fernet_tokens]
key_repository = $STATE/keystone/fernet-keys
[fernet_receipts]
key_repository = $STATE/keystone/fernet-keys
[credential]
key_repository = $STATE/keystone/credential-keys
EOF
    # oslo.config would parse gunicorn's command line: reset it first.
    cat >"$etc/keystone_wsgi.py" <<'EOF'
import sys
sys.argv = sys.argv[:1]
from keystone.wsgi.api import application  # noqa: E402,F401
EOF
    km() {
        "$VENV/bin/keystone-manage" --config-file "$etc/keystone.conf" "$@" \
            >>"$STATE/log/keystone-manage.log" 2>&1 ||
            die "keystone-manage $1 failed ($STATE/log/keystone-manage.log)"
    }
    km db_sync
    km fernet_setup --keystone-user root --keystone-group root
    km credential_setup --keystone-user root --keystone-group root
    km bootstrap --bootstrap-password "$ADMIN_PASSWORD" \
        --bootstrap-admin-url "http://127.0.0.1:$KEYSTONE_PORT/v3" \
        --bootstrap-internal-url "http://127.0.0.1:$KEYSTONE_PORT/v3" \
        --bootstrap-public-url "http://127.0.0.1:$KEYSTONE_PORT/v3" \
        --bootstrap-region-id RegionOne
    start keystone env OS_KEYSTONE_CONFIG_FILES="$etc/keystone.conf" \
        "$VENV/bin/gunicorn" --bind "127.0.0.1:$KEYSTONE_PORT" --workers 2 \
        --timeout 120 --pythonpath "$etc" keystone_wsgi:application
}

write_glance_conf() {
    local etc=$STATE/etc/glance
    mkdir -p "$etc" "$STATE"/glance/{images,staging,tasks}
    cp "$VENV/etc/glance/glance-api-paste.ini" "$etc/"
    cat >"$etc/glance-api.conf" <<EOF
[DEFAULT]
enabled_backends = file:file
worker_self_reference_url = http://127.0.0.1:$GLANCE_PORT
[glance_store]
default_backend = file
[file]
filesystem_store_datadir = $STATE/glance/images
[os_glance_staging_store]
filesystem_store_datadir = $STATE/glance/staging
[os_glance_tasks_store]
filesystem_store_datadir = $STATE/glance/tasks
[database]
connection = $(db_url glance)
[paste_deploy]
flavor = keystone
$(authtoken glance)
EOF
}

start_glance() {
    start glance env OS_GLANCE_CONFIG_DIR="$STATE/etc/glance" \
        "$VENV/bin/gunicorn" --bind "127.0.0.1:$GLANCE_PORT" --workers 1 \
        --threads 4 --timeout 600 glance.wsgi.api:application
}

backend_section() {  # name cluster
    cat <<EOF
[$1]
volume_driver = vmware_backend.openstack.cinder_driver.VMwareBackendCinderDriver
volume_backend_name = $1
vcenter_host = 127.0.0.1
vcenter_port = $VC_PORT
vcenter_scheme = http
vcenter_username = $VC_USER
vcenter_password = $VC_PASSWORD
vcenter_wsdl_location = $WSDL
vcenter_cluster_names = $2
vcenter_volume_folder = OpenStack/$1
vcenter_task_poll_interval = 0.2
vcenter_image_tmp_dir = $STATE/cinder/image-tmp
EOF
}

write_cinder_conf() {
    local etc=$STATE/etc/cinder ve=$VENV/etc/cinder
    mkdir -p "$etc" "$STATE/cinder/locks" "$STATE/cinder/coordination" \
        "$STATE/cinder/image-tmp"
    cat >"$etc/cinder.conf" <<EOF
[DEFAULT]
transport_url = rabbit://guest:guest@127.0.0.1:$RABBIT_PORT/
auth_strategy = keystone
enabled_backends = vmware-1,vmware-2
my_ip = 127.0.0.1
osapi_volume_listen = 127.0.0.1
osapi_volume_listen_port = $CINDER_PORT
osapi_volume_workers = 2
state_path = $STATE/cinder
api_paste_config = $ve/api-paste.ini
rootwrap_config = $ve/rootwrap.conf
resource_query_filters_file = $ve/resource_filters.json
glance_api_servers = http://127.0.0.1:$GLANCE_PORT
# Cinder's default filters plus this package's: an extend of a volume with
# snapshots is refused by the scheduler and the volume stays available.
scheduler_default_filters = AvailabilityZoneFilter,CapacityFilter,CapabilitiesFilter,VMwareExtendFilter
# On SIGTERM a service waits this long for its threads, then exits
# (oslo.service's default is 60 s); openstack-down.sh waits 30 s.
graceful_shutdown_timeout = 20
EOF
    local coordination=file://$STATE/cinder/coordination
    if [ "$CLUSTER" = 1 ]; then
        # node1 is reported down 20 s after it stopped (default 60 s).
        printf 'cluster = vmware\nreport_interval = 5\nservice_down_time = 20\n' \
            >>"$etc/cinder.conf"
        coordination=redis://127.0.0.1:$REDIS_PORT
        for node in node1 node2; do
            printf '[DEFAULT]\nhost = %s\n' "$node" >"$etc/$node.conf"
        done
    fi
    if [ "$BACKUP" = 1 ]; then
        mkdir -p "$STATE/cinder/backups"
        cat >>"$etc/cinder.conf" <<EOF
backup_driver = cinder.backup.drivers.posix.PosixBackupDriver
backup_posix_path = $STATE/cinder/backups
EOF
    fi
    # Cinder's privsep daemons start with "sudo privsep-helper"; as root on
    # a host without sudo, the venv's helper is run directly (the root
    # helper of plain commands is not used when the process is root).
    if ! command -v sudo >/dev/null && [ "$(id -u)" = 0 ]; then
        local group
        for group in cinder_sys_admin privsep_osbrick; do
            printf '[%s]\nhelper_command = %s\n' "$group" \
                "$VENV/bin/privsep-helper" >>"$etc/cinder.conf"
        done
    fi
    cat >>"$etc/cinder.conf" <<EOF
[database]
connection = $(db_url cinder)
[oslo_concurrency]
lock_path = $STATE/cinder/locks
[coordination]
backend_url = $coordination
$(authtoken cinder)
$(backend_section vmware-1 DC0_C0)
$(backend_section vmware-2 DC0_C1)
# Cinder's image-volume cache on one backend (tools/openstack/
# image_cache_check.py); vmware-1 keeps the plain download path.
image_volume_cache_enabled = True
EOF
    chmod 600 "$etc/cinder.conf"
}

start_cinder() {
    local conf="--config-file $STATE/etc/cinder/cinder.conf"
    start cinder-api "$VENV/bin/cinder-api" $conf
    start cinder-scheduler "$VENV/bin/cinder-scheduler" $conf
    if [ "$CLUSTER" = 1 ]; then
        for node in node1 node2; do
            start "cinder-volume-$node" "$VENV/bin/cinder-volume" $conf \
                --config-file "$STATE/etc/cinder/$node.conf"
        done
    else
        start cinder-volume "$VENV/bin/cinder-volume" $conf
    fi
    if [ "$BACKUP" = 1 ]; then
        start cinder-backup "$VENV/bin/cinder-backup" $conf
    fi
}

write_env() {
    cat >"$STATE/openstack.env" <<EOF
# . this file to use the stack with the openstack and cinder clients
export PATH="$VENV/bin:\$PATH"
export OS_AUTH_URL=http://127.0.0.1:$KEYSTONE_PORT/v3
export OS_IDENTITY_API_VERSION=3
export OS_USERNAME=admin OS_PASSWORD=$ADMIN_PASSWORD
export OS_PROJECT_NAME=admin OS_USER_DOMAIN_NAME=Default
export OS_PROJECT_DOMAIN_NAME=Default OS_REGION_NAME=RegionOne
export OS_VOLUME_API_VERSION=3
EOF
    chmod 600 "$STATE/openstack.env"
}

# cinder-volume reports both backends (of each node) up to the scheduler.
backends_up() {
    local up want=2
    [ "$CLUSTER" = 1 ] && want=4
    up=$("$VENV/bin/openstack" volume service list -f value \
        -c Binary -c Host -c State | grep -c 'cinder-volume .*@vmware-[12] up')
    [ "$up" = "$want" ]
}

main() {
    [ ! -d "$STATE/pids" ] || [ -z "$(ls -A "$STATE/pids")" ] ||
        die "$STATE has running services: tools/openstack-down.sh first"
    for port in $KEYSTONE_PORT $GLANCE_PORT $CINDER_PORT $RABBIT_PORT \
            $([ "$CLUSTER" = 1 ] && echo $REDIS_PORT); do
        require_free_port "$port"
    done
    local t0=$SECONDS
    install_packages
    log "packages ready after $((SECONDS - t0))s"
    t0=$SECONDS
    rm -rf "$STATE"
    mkdir -p "$STATE/pids" "$STATE/log"
    chmod 700 "$STATE"
    ADMIN_PASSWORD=$(secret) SERVICE_PASSWORD=$(secret)

    start_mariadb
    start_rabbitmq
    start_vcsim
    if [ "$CLUSTER" = 1 ]; then start_redis; fi
    wait_for mariadb 60 mysql -e 'SELECT 1'
    create_databases
    start_keystone
    write_glance_conf
    write_cinder_conf
    write_env
    "$VENV/bin/glance-manage" --config-dir "$STATE/etc/glance" db_sync \
        >"$STATE/log/glance-manage.log" 2>&1 ||
        die "glance-manage db_sync failed ($STATE/log/glance-manage.log)"
    "$VENV/bin/cinder-manage" --config-file "$STATE/etc/cinder/cinder.conf" \
        db sync >"$STATE/log/cinder-manage.log" 2>&1 ||
        die "cinder-manage db sync failed ($STATE/log/cinder-manage.log)"
    wait_for keystone 120 http_ok "http://127.0.0.1:$KEYSTONE_PORT/v3"
    # shellcheck disable=SC1091
    . "$STATE/openstack.env"
    "$VENV/bin/python" "$REPO/tools/openstack/keystone_setup.py" \
        --service-password "$SERVICE_PASSWORD" \
        --cinder-url "http://127.0.0.1:$CINDER_PORT/v3/%(project_id)s" \
        --glance-url "http://127.0.0.1:$GLANCE_PORT" \
        --internal-tenant-conf "$STATE/etc/cinder/internal-tenant.conf"
    # Cinder's internal tenant (owner of image-volume cache entries).
    cat "$STATE/etc/cinder/internal-tenant.conf" >>"$STATE/etc/cinder/cinder.conf"
    wait_for rabbitmq 120 port_open "$RABBIT_PORT"
    if [ "$CLUSTER" = 1 ]; then wait_for redis 30 port_open "$REDIS_PORT"; fi
    start_glance
    start_cinder
    wait_for glance 120 http_ok "http://127.0.0.1:$GLANCE_PORT/versions"
    wait_for cinder-api 120 http_ok "http://127.0.0.1:$CINDER_PORT/"
    local volume=cinder-volume
    [ "$CLUSTER" = 1 ] && volume=cinder-volume-node1
    wait_for "$volume" 180 backends_up
    log "stack up in $((SECONDS - t0))s; . $STATE/openstack.env"
}

main "$@"
