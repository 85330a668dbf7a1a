# Shared by up.sh, down.sh and service.sh (sourced, not run). Knows how to launch, wait for and stop each
# service of the test cloud. Every service runs in its own session (setsid), so its pid is also its
# process-group id: stopping it signals the whole group (gunicorn workers, beam.smp, ...) and nothing else.

CLOUD_SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
D="${DEVSTACK_CLOUD_DIR:-/tmp/devstack-client-cloud}"
PW="${DEVSTACK_CLOUD_PASSWORD:-secret}"
V="$D/venv"
PGB="${DEVSTACK_CLOUD_PGBIN:-/usr/lib/postgresql/15/bin}"
T_START=${T_START:-$(date +%s)}

# start order; down.sh stops in reverse
ALL_SERVICES="epmd rabbitmq postgres keystone glance placement neutron cinder-api cinder-scheduler cinder-volume
  nova-api nova-conductor nova-scheduler nova-compute"
API_SERVICES="keystone glance placement neutron cinder-api nova-api"

log() { echo "[cloud +$(( $(date +%s) - T_START ))s] $*"; }

# tail_logs FILE... : print the last lines of each existing, non-empty file, indented
tail_logs() {
  local f
  for f in "$@"; do
    [ -s "$f" ] || continue
    echo "---- last lines of $f" >&2
    tail -n "${TAIL_LINES:-25}" "$f" | sed 's/^/    /' >&2
  done
}

die() { # die MESSAGE [LOGFILE...]
  local msg=$1; shift
  echo "ERROR: $msg" >&2
  tail_logs "$@"
  exit 1
}

# canonical service name (accepts a few aliases)
svc_name() {
  case "$1" in
    glance|glance-api) echo glance ;;
    placement|placement-api) echo placement ;;
    neutron|neutron-api|neutron-server) echo neutron ;;
    cinder|cinder-api) echo cinder-api ;;
    cinder-scheduler|cinder-volume) echo "$1" ;;
    nova|nova-api) echo nova-api ;;
    conductor|nova-conductor) echo nova-conductor ;;
    scheduler|nova-scheduler) echo nova-scheduler ;;
    compute|nova-compute) echo nova-compute ;;
    rabbit|rabbitmq) echo rabbitmq ;;
    postgres|postgresql) echo postgres ;;
    keystone|epmd) echo "$1" ;;
    *) return 1 ;;
  esac
}

pidfile() { echo "$D/run/$1.pid"; }
running() { local f; f=$(pidfile "$1"); [ -f "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null; }

# log files worth showing when NAME fails
svc_logs() {
  case "$1" in
    keystone|glance|placement|neutron|cinder-api|nova-api)
      echo "$D/logs/$1-gunicorn.log $D/logs/$1.log" ;;
    nova-*|cinder-*) echo "$D/logs/$1.out $D/logs/$1.log" ;;
    rabbitmq) echo "$D/logs/rabbitmq.out $(ls "$D"/logs/rabbitmq/*.log 2>/dev/null | head -1)" ;;
    *) echo "$D/logs/$1.out" ;;
  esac
}

# port, WSGI target and extra environment of each API service
wsgi_spec() {
  WSGI_ENV=()
  case "$1" in
    keystone)  WSGI_PORT=5000; WSGI_TARGET=keystone.wsgi.api:application
               WSGI_ENV=(OS_KEYSTONE_CONFIG_FILES="$D/etc/keystone/keystone.conf") ;;
    glance)    WSGI_PORT=9292; WSGI_TARGET=glance.wsgi.api:application
               WSGI_ENV=(OS_GLANCE_CONFIG_DIR="$D/etc/glance") ;;
    placement) WSGI_PORT=8778; WSGI_TARGET=placement.wsgi.api:application
               WSGI_ENV=(OS_PLACEMENT_CONFIG_DIR="$D/etc/placement") ;;
    neutron)   WSGI_PORT=9696; WSGI_TARGET=neutron.wsgi.api:application
               WSGI_ENV=(OS_NEUTRON_CONFIG_DIR="$D/etc/neutron" "OS_NEUTRON_CONFIG_FILES=neutron.conf;plugins/ml2/ml2_conf.ini") ;;
    # cinder's WSGI app has no config-file environment variable: the shim passes these flags as its argv
    cinder-api) WSGI_PORT=8776; WSGI_TARGET=cinder.wsgi.api:application
               WSGI_ENV=("DEVSTACK_CLOUD_WSGI_ARGS=--config-file $D/etc/cinder/cinder.conf --log-file $D/logs/cinder-api.log") ;;
    nova-api)  WSGI_PORT=8774; WSGI_TARGET=nova.wsgi.osapi_compute:application
               WSGI_ENV=(OS_NOVA_CONFIG_DIR="$D/etc/nova" "OS_NOVA_CONFIG_FILES=api-paste.ini;nova.conf;nova-api.conf") ;;
    *) return 1 ;;
  esac
}

# Combined log format + the request's duration + the project of the request's token (set in the WSGI environment
# by keystonemiddleware) + for keystone's POST /v3/auth/tokens the user name asking (set by tools/wsgi_shim.py).
# Tests count the gateway's upstream calls in these files, by User-Agent ("%(a)s"), project and user.
ACCESS_LOG_FORMAT='%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(M)sms project=%({http_x_project_id}e)s user=%({devstack_cloud.auth_user}e)s'

rabbit_env=(HOME="$D/data/rabbitmq" ERL_EPMD_ADDRESS=127.0.0.1 ERL_EPMD_PORT=4369
  RABBITMQ_NODENAME=rabbit@localhost RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_NODE_PORT=5672
  RABBITMQ_DIST_PORT=25672
  "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=-kernel inet_dist_use_interface {127,0,0,1}"
  "RABBITMQ_CTL_ERL_ARGS=-kernel inet_dist_use_interface {127,0,0,1}"
  RABBITMQ_CONFIG_FILE="$D/etc/rabbitmq/rabbitmq.conf"
  RABBITMQ_ENABLED_PLUGINS_FILE="$D/etc/rabbitmq/enabled_plugins"
  RABBITMQ_MNESIA_BASE="$D/data/rabbitmq/mnesia" RABBITMQ_LOG_BASE="$D/logs/rabbitmq")

# ports each service listens on (all on 127.0.0.1)
svc_ports() {
  case "$1" in
    rabbitmq) echo "5672 25672" ;;
    postgres) echo 5432 ;;
    keystone|glance|placement|neutron|cinder-api|nova-api) wsgi_spec "$1"; echo "$WSGI_PORT" ;;
  esac
}

# die unless NAME's ports are free: otherwise another process would answer in its place
check_ports_free() {
  local port
  for port in $(svc_ports "$1"); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      die "cannot start $1: 127.0.0.1:$port is already in use by a process that up.sh did not start:
$(ss -ltnpH "sport = :$port" 2>/dev/null | sed 's/^/    /')"
    fi
  done
}

# launch NAME: start the service in its own session, record its pid; does not wait for readiness.
# No-op when it is already running.
launch() {
  local name=$1
  running "$name" && return 0
  check_ports_free "$name"
  case "$name" in
    epmd)
      setsid nohup /usr/bin/epmd -address 127.0.0.1 -port 4369 >"$D/logs/epmd.out" 2>&1 </dev/null & ;;
    rabbitmq)
      env "${rabbit_env[@]}" setsid nohup /usr/lib/rabbitmq/bin/rabbitmq-server \
          >"$D/logs/rabbitmq.out" 2>&1 </dev/null & ;;
    postgres)
      mkdir -p "$D/run/pgsock"; chown nobody:nogroup "$D/run/pgsock"
      # postgres refuses to run as root: run as nobody. Throwaway data: durability off for speed.
      (cd /tmp && exec setsid nohup setpriv --reuid=nobody --regid=nogroup --clear-groups env HOME=/tmp \
          "$PGB/postgres" -D "$D/data/pg" -c listen_addresses=127.0.0.1 -c port=5432 \
          -c unix_socket_directories="$D/run/pgsock" -c fsync=off -c synchronous_commit=off \
          -c full_page_writes=off -c max_connections=300 -c shared_buffers=128MB \
          >"$D/logs/postgres.out" 2>&1 </dev/null) & ;;
    keystone|glance|placement|neutron|cinder-api|nova-api)
      wsgi_spec "$name"
      env DEVSTACK_CLOUD_WSGI_TARGET="$WSGI_TARGET" "${WSGI_ENV[@]}" setsid nohup "$V/bin/gunicorn" \
          --pythonpath "$D/wsgi" --bind "127.0.0.1:$WSGI_PORT" --workers 1 --threads 4 --timeout 120 \
          --limit-request-line 0 --keep-alive 30 --graceful-timeout 3 --no-control-socket --name "$name" \
          --access-logfile "$D/logs/$name-access.log" --access-logformat "$ACCESS_LOG_FORMAT" \
          shim:application >"$D/logs/$name-gunicorn.log" 2>&1 </dev/null & ;;
    nova-conductor|nova-scheduler|nova-compute)
      setsid nohup "$V/bin/$name" --config-file "$D/etc/nova/nova.conf" >"$D/logs/$name.out" 2>&1 </dev/null & ;;
    cinder-scheduler|cinder-volume)  # the fake volume driver (tools/cinder_fake.py) is in $D/lib
      env PYTHONPATH="$D/lib" setsid nohup "$V/bin/$name" --config-file "$D/etc/cinder/cinder.conf" \
          >"$D/logs/$name.out" 2>&1 </dev/null & ;;
    *) die "unknown service '$name'" ;;
  esac
  echo $! > "$(pidfile "$name")"
}

# wait_ready NAME [TIMEOUT_S]: until it answers (HTTP for the APIs); dies with its log tail if it exits or times out
wait_ready() {
  local name=$1 timeout=${2:-120} deadline
  deadline=$(( $(date +%s) + timeout ))
  # shellcheck disable=SC2046
  while :; do
    running "$name" || die "$name exited during startup" $(svc_logs "$name")
    case "$name" in
      keystone|glance|placement|neutron|cinder-api|nova-api)
        wsgi_spec "$name"
        curl -s -o /dev/null --max-time 5 "http://127.0.0.1:$WSGI_PORT/" && return 0 ;;
      rabbitmq)
        env "${rabbit_env[@]}" /usr/lib/rabbitmq/bin/rabbitmqctl -q await_startup --timeout 5 >/dev/null 2>&1 \
          && return 0 ;;
      postgres)
        "$PGB/pg_isready" -q -h 127.0.0.1 -p 5432 && return 0 ;;
      *) return 0 ;;
    esac
    [ "$(date +%s)" -lt "$deadline" ] || die "$name not ready after ${timeout}s" $(svc_logs "$name")
    sleep 0.5
  done
}

# stop NAME...: SIGTERM each process group (postgres: SIGINT = fast shutdown), wait up to 20 s, then SIGKILL.
# Only pids recorded in $D/run are touched.
stop() {
  local name f pid tgt i
  local -A target=()
  for name in "$@"; do
    f=$(pidfile "$name"); [ -f "$f" ] || continue
    pid=$(cat "$f")
    if kill -0 "$pid" 2>/dev/null; then
      if [ "$(ps -o pgid= -p "$pid" | tr -d ' ')" = "$pid" ]; then tgt="-$pid"; else tgt="$pid"; fi
      target[$name]=$tgt
      if [ "$name" = postgres ]; then kill -INT -- "$tgt" 2>/dev/null || true
      else kill -TERM -- "$tgt" 2>/dev/null || true; fi
    else
      rm -f "$f"
    fi
  done
  for name in "$@"; do
    tgt=${target[$name]:-}; [ -n "$tgt" ] || continue
    for i in $(seq 1 40); do kill -0 -- "$tgt" 2>/dev/null || break; sleep 0.5; done
    if kill -0 -- "$tgt" 2>/dev/null; then
      echo "$name: still running after 20 s, SIGKILL" >&2
      kill -KILL -- "$tgt" 2>/dev/null || true
      sleep 0.5
    fi
    rm -f "$(pidfile "$name")"
  done
}
