#!/usr/bin/env bash
# Start a small real OpenStack on 127.0.0.1 for the gateway's `cloud` tests: keystone 30, glance 33,
# placement 16, nova 34 (fake virt driver), neutron 29 (ML2 + our bind-everything mechanism driver + the router
# plugin), cinder 29 (fake volume driver), RabbitMQ and PostgreSQL from Debian. All state in $DEVSTACK_CLOUD_DIR (default /tmp/devstack-client-cloud).
# Idempotent: installs, database setup and seeding happen once; running services are left alone;
# after down.sh it restarts with the data kept. Writes $DEVSTACK_CLOUD_DIR/cloud.json and demo.env.
set -euo pipefail
T_START=$(date +%s)
# shellcheck source=lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"
trap 'echo "ERROR: up.sh failed at line $LINENO: $BASH_COMMAND" >&2' ERR

case "$D" in /*) ;; *) die "DEVSTACK_CLOUD_DIR must be an absolute path (got '$D')" ;; esac
mkdir -p "$D"/{etc/keystone,etc/glance,etc/placement,etc/nova,etc/neutron/plugins/ml2,etc/rabbitmq,etc/cinder} \
         "$D"/{data/glance/images,data/glance/staging,data/glance/tasks,data/glance/cache,data/nova/instances} \
         "$D"/{data/neutron,data/cinder/locks,data/locks,data/rabbitmq,logs/rabbitmq,logs/setup,run,wsgi,src,lib}
# postgres runs as nobody and must be able to reach its data directory (whatever the umask)
chmod 755 "$D" "$D/data" "$D/run"
if ! setpriv --reuid=nobody --regid=nogroup --clear-groups test -x "$D/data"; then
  die "$D is not traversable by user nobody (postgres runs as nobody): choose a DEVSTACK_CLOUD_DIR under /tmp"
fi

# run_step NAME FUNCTION [ARGS...]: run a setup step with `set -e`, output to logs/setup/NAME.log;
# on failure print the log tail and return 1. (Run as a background job so that set -e holds inside.)
run_step() {
  local name=$1 rc=0; shift
  local lf="$D/logs/setup/$name.log"
  ( set -e; "$@" ) >"$lf" 2>&1 </dev/null &
  wait $! || rc=$?
  if [ "$rc" -ne 0 ]; then
    echo "ERROR: step '$name' failed (exit $rc)" >&2
    TAIL_LINES=40 tail_logs "$lf"
    return 1
  fi
}
# wait_steps PID...: wait for background run_step jobs; exit 1 if any failed (each has printed its error)
wait_steps() {
  local p failed=0
  for p in "$@"; do wait "$p" || failed=1; done
  [ "$failed" = 0 ] || exit 1
}

# ------------------------------------------------------------------ 1. Debian packages and the cloud's venv (background)
step_apt() {
  local created_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then  # keep apt from starting a system-wide broker / database
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod 755 /usr/sbin/policy-rc.d; created_policy=1
  fi
  apt-get update -qq
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $APT_PKGS
  if [ "$created_policy" = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi
}
VENV_PKGS="keystone==30.0.0 glance==33.0.0 openstack-placement==16.0.0 nova==34.0.0 neutron==29.0.0 cinder==29.0.0
           pyroute2 gunicorn psycopg2-binary openstacksdk"
VENV_WANT="$(cat "$CLOUD_SRC/constraints.txt"; echo "$VENV_PKGS")"
VENV_WANT=$(echo "$VENV_WANT" | sha256sum | cut -c1-16)
step_venv() {
  [ -x "$V/bin/python" ] || python3 -m venv "$V"
  # shellcheck disable=SC2086
  "$V/bin/pip" install -q --disable-pip-version-check -c "$CLOUD_SRC/constraints.txt" $VENV_PKGS
  "$V/bin/python" -c "import keystone, glance, placement, nova, neutron, pyroute2, gunicorn, psycopg2, openstack"
  # on its own: it selects oslo.service's eventlet backend, which the imports above have already set to threading
  "$V/bin/python" -c "import cinder.tests.fake_driver"
  echo "$VENV_WANT" > "$V/.devstack-cloud-venv"
}
ML2_WANT=$(cd "$CLOUD_SRC/ml2_bindall" && cat pyproject.toml ml2_bindall/*.py | sha256sum | cut -c1-16)
step_ml2() {
  # build from a copy, so that the build leaves no egg-info/ build/ in the work tree
  rm -rf "$D/src/ml2_bindall"
  cp -r "$CLOUD_SRC/ml2_bindall" "$D/src/ml2_bindall"
  "$V/bin/pip" install -q --disable-pip-version-check --no-deps --force-reinstall "$D/src/ml2_bindall"
  "$V/bin/python" -c "
from importlib.metadata import entry_points
eps = entry_points(group='neutron.ml2.mechanism_drivers', name='bindall')
assert eps, 'entry point bindall not registered'
list(eps)[0].load()"
  echo "$ML2_WANT" > "$V/.devstack-cloud-ml2"
}

APT_PKGS=""
[ -x /usr/lib/rabbitmq/bin/rabbitmq-server ] || APT_PKGS="$APT_PKGS rabbitmq-server"
[ -x "$PGB/initdb" ] || APT_PKGS="$APT_PKGS postgresql-15"
command -v curl >/dev/null || APT_PKGS="$APT_PKGS curl"
command -v setsid >/dev/null || APT_PKGS="$APT_PKGS util-linux"
apt_pid="" venv_pid=""
if [ -n "$APT_PKGS" ]; then
  log "installing Debian packages:$APT_PKGS"
  run_step apt step_apt & apt_pid=$!
fi
if [ "$(cat "$V/.devstack-cloud-venv" 2>/dev/null)" != "$VENV_WANT" ]; then
  log "installing keystone, glance, placement, nova, neutron, cinder into $V (pip)"
  run_step venv step_venv & venv_pid=$!
fi

# ------------------------------------------------------------------ 2. PostgreSQL and RabbitMQ (while pip runs)
if [ -n "$apt_pid" ] && [ ! -x "$PGB/initdb" ]; then wait_steps "$apt_pid"; apt_pid=""; fi
if [ ! -f "$D/data/pg/PG_VERSION" ]; then
  rm -rf "$D/data/pg"; mkdir -p "$D/data/pg"; chown nobody:nogroup "$D/data/pg"; chmod 700 "$D/data/pg"
  (cd /tmp && setpriv --reuid=nobody --regid=nogroup --clear-groups env HOME=/tmp \
      "$PGB/initdb" -D "$D/data/pg" -U postgres --auth=trust -E UTF8 --no-locale >"$D/logs/setup/initdb.log" 2>&1) \
    || die "initdb failed" "$D/logs/setup/initdb.log"
fi
launch postgres
wait_ready postgres 60
psql() { "$PGB/psql" -X -q -h 127.0.0.1 -p 5432 -U postgres -d postgres -v ON_ERROR_STOP=1 "$@"; }
for db in keystone glance placement nova_api nova_cell0 nova_cell1 neutron cinder; do
  [ "$(psql -tAc "SELECT 1 FROM pg_database WHERE datname = '$db'")" = 1 ] && continue
  psql -c "CREATE DATABASE $db" >>"$D/logs/setup/createdb.log" 2>&1 || die "CREATE DATABASE $db failed" "$D/logs/setup/createdb.log"
done
if [ -n "$apt_pid" ]; then wait_steps "$apt_pid"; fi
started_rabbit=0
running rabbitmq || started_rabbit=1
launch epmd
sleep 0.2
launch rabbitmq   # its readiness is awaited later, in parallel with the database setup
if [ -n "$venv_pid" ]; then wait_steps "$venv_pid"; log "venv ready"; fi

# ------------------------------------------------------------------ 3. configuration (always re-rendered)
render() { sed -e "s#@STATE@#$D#g" -e "s#@PW@#$PW#g" "$CLOUD_SRC/templates/$1" > "$2"; }
render keystone.conf   "$D/etc/keystone/keystone.conf"
render glance-api.conf "$D/etc/glance/glance-api.conf"
render placement.conf  "$D/etc/placement/placement.conf"
render nova.conf       "$D/etc/nova/nova.conf"
render nova-api.conf   "$D/etc/nova/nova-api.conf"
render nova-policy.yaml "$D/etc/nova/policy.yaml"
render neutron.conf    "$D/etc/neutron/neutron.conf"
render ml2_conf.ini    "$D/etc/neutron/plugins/ml2/ml2_conf.ini"
render rabbitmq.conf   "$D/etc/rabbitmq/rabbitmq.conf"
render cinder.conf     "$D/etc/cinder/cinder.conf"
echo '[].' > "$D/etc/rabbitmq/enabled_plugins"   # no plugins: no management listener
cp "$V/etc/glance/glance-api-paste.ini" "$D/etc/glance/"
cp "$V/etc/nova/api-paste.ini" "$D/etc/nova/"
cp "$V/etc/neutron/api-paste.ini" "$D/etc/neutron/"
cp "$V/etc/cinder/api-paste.ini" "$V/etc/cinder/resource_filters.json" "$D/etc/cinder/"
cp "$CLOUD_SRC/tools/cinder_fake.py" "$D/lib/"
cp "$CLOUD_SRC/tools/wsgi_shim.py" "$D/wsgi/shim.py"
cat > "$D/admin-openrc" <<EOF
export OS_AUTH_URL=http://127.0.0.1:5000/v3
export OS_USERNAME=admin
export OS_PASSWORD=$PW
export OS_PROJECT_NAME=admin
export OS_USER_DOMAIN_NAME=Default
export OS_PROJECT_DOMAIN_NAME=Default
export OS_REGION_NAME=RegionOne
export OS_IDENTITY_API_VERSION=3
EOF

# ------------------------------------------------------------------ 4. per API service: schema (once), then start
# One background pipeline per service, so that each starts as soon as its own schema exists; keystone's also
# registers the catalog and the test projects/users as soon as keystone answers.
DBURL=postgresql+psycopg2://postgres@127.0.0.1:5432
step_keystone_db() {
  local ks=("$V/bin/keystone-manage" --config-file "$D/etc/keystone/keystone.conf")
  "${ks[@]}" db_sync
  "${ks[@]}" fernet_setup --keystone-user root --keystone-group root
  "${ks[@]}" credential_setup --keystone-user root --keystone-group root
  "${ks[@]}" bootstrap --bootstrap-username admin --bootstrap-password "$PW" \
      --bootstrap-project-name admin --bootstrap-role-name admin --bootstrap-service-name keystone \
      --bootstrap-region-id RegionOne --bootstrap-public-url http://127.0.0.1:5000/v3
  touch "$D/data/.keystone-done"
}
step_glance_db() {
  "$V/bin/glance-manage" --config-file "$D/etc/glance/glance-api.conf" db_sync
  touch "$D/data/.glance-done"
}
step_placement_db() {
  "$V/bin/placement-manage" --config-file "$D/etc/placement/placement.conf" db sync
  touch "$D/data/.placement-done"
}
step_neutron_db() {
  "$V/bin/python" "$CLOUD_SRC/tools/neutron_schema.py" neutron
  "$V/bin/neutron-db-manage" --config-file "$D/etc/neutron/neutron.conf" \
      --config-file "$D/etc/neutron/plugins/ml2/ml2_conf.ini" stamp heads
  touch "$D/data/.neutron-done"
}
step_nova_db() {
  local nm=("$V/bin/nova-manage" --config-file "$D/etc/nova/nova.conf")
  "${nm[@]}" api_db sync
  "${nm[@]}" cell_v2 map_cell0 --database_connection "$DBURL/nova_cell0"
  "${nm[@]}" db sync
  "${nm[@]}" cell_v2 list_cells | grep -q ' cell1 ' || "${nm[@]}" cell_v2 create_cell --name cell1
  touch "$D/data/.nova-done"
}
step_cinder_db() {
  "$V/bin/cinder-manage" --config-file "$D/etc/cinder/cinder.conf" db sync
  touch "$D/data/.cinder-done"
}
KEYSTONE_WANT=$(cat "$CLOUD_SRC/tools/keystone_setup.py" <(echo "$PW") | sha256sum | cut -c1-16)
pipe_keystone() {
  if [ ! -f "$D/data/.keystone-done" ]; then step_keystone_db; fi
  launch keystone
  wait_ready keystone 180
  if [ "$(cat "$D/data/.keystone-setup" 2>/dev/null)" != "$KEYSTONE_WANT" ]; then
    DEVSTACK_CLOUD_PASSWORD="$PW" "$V/bin/python" "$CLOUD_SRC/tools/keystone_setup.py"
    echo "$KEYSTONE_WANT" > "$D/data/.keystone-setup"
  fi
}
# The other schemas are made at a lower CPU priority: keystone and its setup are the critical path (2 cores).
# (`if`, not `||`: bash ignores set -e inside a function called from a || list)
niced() { renice -n 10 -p "$BASHPID" >/dev/null; "$@"; }
pipe_glance() { if [ ! -f "$D/data/.glance-done" ]; then (niced step_glance_db); fi; launch glance; }
pipe_placement() { if [ ! -f "$D/data/.placement-done" ]; then (niced step_placement_db); fi; launch placement; }
pipe_neutron() {
  local p=""
  if [ "$(cat "$V/.devstack-cloud-ml2" 2>/dev/null)" != "$ML2_WANT" ]; then (niced step_ml2) & p=$!; fi
  if [ ! -f "$D/data/.neutron-done" ]; then (niced step_neutron_db); fi
  if [ -n "$p" ]; then wait "$p"; fi
  launch neutron
}
pipe_cinder() { if [ ! -f "$D/data/.cinder-done" ]; then (niced step_cinder_db); fi; launch cinder-api; }
pipe_nova() { if [ ! -f "$D/data/.nova-done" ]; then (niced step_nova_db); fi; launch nova-api; }

pids=() new=""
for s in keystone glance placement neutron cinder nova; do
  [ -f "$D/data/.$s-done" ] || new="$new $s"
  run_step "$s" "pipe_$s" & pids+=($!)
done
if [ -n "$new" ]; then log "creating database schemas:$new; starting the API services"; fi
wait_steps "${pids[@]}"
if [ "$started_rabbit" = 1 ]; then
  wait_ready rabbitmq 90
  log "rabbitmq ready"
fi

# ------------------------------------------------------------------ 5. conductor, scheduler, compute; seed data
# conductor and scheduler authenticate as the nova service user at startup: only once keystone knows it
for s in nova-conductor nova-scheduler; do launch "$s"; done
# cinder's scheduler and volume service must report in (and the volume service its pool) before the cloud takes
# volumes: tools/ready.py waits for reports newer than their start
cinder_started_at=""
if ! running cinder-volume || ! running cinder-scheduler; then
  cinder_started_at=$(date -u +%Y-%m-%dT%H:%M:%S)
  for s in cinder-scheduler cinder-volume; do launch "$s"; done
fi
for s in $API_SERVICES; do wait_ready "$s" 180; done
log "APIs answer: keystone :5000, glance :9292, placement :8778, neutron :9696, cinder :8776, nova :8774"
compute_started_at=""
if ! running nova-compute; then
  compute_started_at=$(date -u +%Y-%m-%dT%H:%M:%S)
  launch nova-compute
fi
SEED_WANT=$(cat "$CLOUD_SRC/tools/seed.py" <(echo "$PW $D") | sha256sum | cut -c1-16)
if [ "$(cat "$D/data/.seed-done" 2>/dev/null)" != "$SEED_WANT" ] || [ ! -f "$D/cloud.json" ]; then
  log "seeding quotas, flavors, image and networks"
  run_step seed env DEVSTACK_CLOUD_DIR="$D" DEVSTACK_CLOUD_PASSWORD="$PW" \
      "$V/bin/python" "$CLOUD_SRC/tools/seed.py" || exit 1
  echo "$SEED_WANT" > "$D/data/.seed-done"
fi
# shellcheck disable=SC2046
for s in nova-conductor nova-scheduler nova-compute cinder-scheduler cinder-volume; do
  running "$s" || die "$s exited" $(svc_logs "$s")
done
if [ -n "$compute_started_at$cinder_started_at" ] || [ ! -f "$D/data/.ready" ]; then
  log "waiting for nova-compute and cinder-volume to report in"
  # shellcheck disable=SC2046
  run_step ready env DEVSTACK_CLOUD_DIR="$D" DEVSTACK_CLOUD_PASSWORD="$PW" "$V/bin/python" "$CLOUD_SRC/tools/ready.py" \
      "${compute_started_at:-1970-01-01T00:00:00}" "${cinder_started_at:-1970-01-01T00:00:00}" \
    || die "nova-compute or cinder did not become ready" $(svc_logs nova-compute) $(svc_logs cinder-volume)
  touch "$D/data/.ready"
fi

total=0
for f in "$D"/run/*.pid; do
  kb=$(ps -o rss= -g "$(cat "$f")" 2>/dev/null | awk '{s+=$1} END {print s+0}')
  total=$(( total + kb ))
  if [ "${DEVSTACK_CLOUD_VERBOSE:-0}" = 1 ]; then printf '  %-15s %5d MB\n' "$(basename "$f" .pid)" $(( kb / 1024 )); fi
done
log "cloud up in $(( $(date +%s) - T_START ))s, RSS $(( total / 1024 )) MB; details in $D/cloud.json, demo user in $D/demo.env"
