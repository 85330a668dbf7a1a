#!/usr/bin/env bash
# Build the Containerfile for real, on a base made here from Debian's packages,
# and start the gateway from the image's filesystem (README "Deploying").
#
# No base image can be pulled on our machines and no container engine runs, so:
#  1. debootstrap makes a Debian 12 root with python3 and python3-venv: a stand-in
#     for python:3.11-slim-bookworm (Debian's CPython 3.11 in /usr/bin instead of
#     the image's own build in /usr/local/bin); `podman import` makes it an image;
#  2. `podman build` runs the Containerfile itself on it (buildah's chroot isolation:
#     the OCI runtime cannot start containers here), both stages, with .containerignore;
#  3. `podman run` cannot start containers here either (crun may not set rlimits), so
#     the image's filesystem (`podman image mount`) is started the way a runtime
#     would: its own network, mount and pid namespaces, the root read-only with a
#     tmpfs on /tmp (as deploy/compose.yaml and the Kubernetes Deployment run it),
#     as the image's user, with only the image's environment plus API_KEYS, and the
#     image's own CMD. Then the image's own HEALTHCHECK command must pass, /healthz
#     must answer, every gateway process must run as the image's user, the
#     gateway must be unable to write to its root, and SIGTERM must stop it.
#
# Needs root, debootstrap, podman (Debian packages; installed when missing), the
# Debian archive and PyPI. Usage: bash deploy/prove-rootfs.sh   (7 minutes cold on 2 busy cores)
# DEVSTACK_CLIENT_ROOTFS_DIR (default /tmp/devstack-client-rootfs) keeps the Debian
# root between runs; remove it to start cold.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
started=$(date +%s)
WORK="${DEVSTACK_CLIENT_ROOTFS_DIR:-/tmp/devstack-client-rootfs}"
BASE_IMAGE=localhost/devstack-client-base:bookworm
IMAGE=localhost/devstack-client:proof
step() { printf '[%4ss] %s\n' "$(($(date +%s) - started))" "$*"; }

missing=""
command -v debootstrap >/dev/null || missing="$missing debootstrap"
command -v podman >/dev/null || missing="$missing podman"
[ -z "$missing" ] || { apt-get update -qq && apt-get install -y -qq $missing >/dev/null; }
mkdir -p "$WORK"

# --- 1. the base: Debian 12 with Python 3.11, from Debian's packages -----------------
if [ ! -x "$WORK/base/usr/bin/python3" ]; then
    # The archive this machine's apt already uses (its sources name it).
    mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
    [ -n "$mirror" ] || mirror=$(awk '$1 == "deb" && $3 ~ /^bookworm$/ {print $2; exit}' /etc/apt/sources.list)
    step "debootstrap bookworm from $mirror"
    rm -rf "$WORK/base"
    debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates bookworm "$WORK/base" "$mirror" \
        >"$WORK/debootstrap.log" 2>&1 || { tail -20 "$WORK/debootstrap.log"; exit 1; }
    # CA certificates this machine adds to the system's (if any), so that pip in the build
    # trusts what pip here trusts. The image built from the real base has only its own.
    if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
        cp /usr/local/share/ca-certificates/*.crt "$WORK/base/usr/local/share/ca-certificates/"
        chroot "$WORK/base" update-ca-certificates >/dev/null 2>&1
    fi
fi
if [ "$WORK/base" -nt "$WORK/imported" ] || ! podman image exists "$BASE_IMAGE"; then
    step "import the Debian root as $BASE_IMAGE"
    tar -C "$WORK/base" -c . | podman import - "$BASE_IMAGE" >/dev/null 2>&1
    touch "$WORK/imported"
fi

# --- 2. the Containerfile, built by podman ------------------------------------------
step "podman build -f Containerfile (base: $BASE_IMAGE)"
podman build --isolation chroot --network host --format docker --build-arg "PYTHON_IMAGE=$BASE_IMAGE" \
    -t "$IMAGE" -f Containerfile . >"$WORK/build.log" 2>&1 || { tail -30 "$WORK/build.log"; exit 1; }
step "built: $(podman image inspect "$IMAGE" --format '{{.Size}}') bytes"

# --- 3. start the image's filesystem as a runtime would ------------------------------
# The image's own settings, read back from it: user, environment, command, health check.
podman image inspect "$IMAGE" --format json >"$WORK/image.json"
read_image() { python3 -c 'import json, sys; sys.stdout.write(str(eval(sys.argv[1], {"image": json.load(open(sys.argv[2]))[0]})))' "$1" "$WORK/image.json"; }
user=$(read_image 'image["Config"]["User"]')
port=$(read_image 'next(e.split("=", 1)[1] for e in image["Config"]["Env"] if e.startswith("PORT="))')
read_image '"".join(e + "\n" for e in image["Config"]["Env"])' >"$WORK/env"
read_image '"\0".join(image["Config"]["Cmd"])' >"$WORK/cmd"
read_image '"\0".join(image["Healthcheck"]["Test"][1:])' >"$WORK/healthcheck"  # after "CMD"
[ "$(read_image 'image["Healthcheck"]["Test"][0]')" = CMD ]
root=$(podman image mount "$IMAGE")
trap 'podman image unmount "$IMAGE" >/dev/null 2>&1 || true' EXIT
# An API key, made by the image's own command: it listens on 0.0.0.0 and refuses to without keys.
chroot --userspec="$user" "$root" /usr/bin/env -i "$(grep ^PATH= "$WORK/env")" \
    devstack-client hash-key reader rootfs-proof >"$WORK/key"
key=$(sed -n 2p "$WORK/key")
echo "API_KEYS=$(sed -n 4p "$WORK/key")" >>"$WORK/env"

# Start the image's CMD in namespaces of its own, run the checks, stop it with SIGTERM.
# CLOUD=0: its own network too (as a container has), no credentials.
# CLOUD=1: the host's network, HOST=127.0.0.1, and the local test cloud's demo user.
start_image() {
    export WORK root user port key CLOUD="$1"
    local net=--net
    [ "$CLOUD" = 0 ] || net=
    unshare --mount $net --pid --fork --mount-proc --propagation private bash -euo pipefail <<'INSIDE'
[ "$CLOUD" = 1 ] || ip link set lo up
mount --bind "$root" "$root" && mount -o remount,bind,ro "$root"
mount -t tmpfs -o mode=1777 tmpfs "$root/tmp"
mount -t proc proc "$root/proc"
mapfile -t env <"$WORK/env"
in_image() { chroot --userspec="$user" "$root" /usr/bin/env -i "${env[@]}" "$@"; }
mapfile -d '' -t cmd <"$WORK/cmd"
mapfile -d '' -t healthcheck <"$WORK/healthcheck"
# chroot, env and the command exec one another: $! is gunicorn's master.
chroot --userspec="$user" "$root" /usr/bin/env -i "${env[@]}" "${cmd[@]}" >"$WORK/gateway.log" 2>&1 &
master=$!
t0=$(date +%s%N)
until in_image "${healthcheck[@]}" 2>/dev/null; do
    kill -0 $master 2>/dev/null || { echo "the gateway exited:"; tail -20 "$WORK/gateway.log"; exit 1; }
    [ $(( ($(date +%s%N) - t0) / 1000000000 )) -lt 60 ] || { echo "no health after 60 s"; exit 1; }
    sleep 0.2
done
echo "HEALTHCHECK (the image's own command) passed $(( ($(date +%s%N) - t0) / 1000000 )) ms after start"
body=$(curl -s "http://127.0.0.1:$port/healthz")
[ "$body" = '{"status":"alive"}' ] || { echo "/healthz answered $body"; exit 1; }
echo "GET /healthz -> $body"
status=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/api/v1/flavor")
[ "$status" = 401 ] || { echo "GET /api/v1/flavor without a key answered $status, not 401"; exit 1; }
echo "GET /api/v1/flavor without a key -> 401 (API keys on)"
readyz=$(curl -s -w ' %{http_code}' "http://127.0.0.1:$port/readyz")
if [ "$CLOUD" = 0 ]; then
    # A worker loads openstacksdk and keystoneauth to answer: without credentials, 503.
    case "$readyz" in *'"credentials_missing"'*' 503') ;; *) echo "/readyz answered $readyz"; exit 1 ;; esac
    echo "GET /readyz without credentials -> 503 credentials_missing"
else
    # Each worker has its own first check (a token, the catalog): ask until one says ready, for a minute.
    t0=$(date +%s)
    until case "$readyz" in '{"ready":true'*' 200') true ;; *) false ;; esac; do
        [ $(($(date +%s) - t0)) -lt 60 ] || { echo "/readyz answered $readyz"; exit 1; }
        sleep 2
        readyz=$(curl -s -w ' %{http_code}' "http://127.0.0.1:$port/readyz")
    done
    echo "GET /readyz -> 200 after $(($(date +%s) - t0)) s: Keystone, Nova, Glance and Neutron answered"
    flavors=$(curl -s -w ' %{http_code}' -H "Authorization: Bearer $key" "http://127.0.0.1:$port/api/v1/flavor")
    case "$flavors" in *'"m1.nano"'*' 200') ;; *) echo "GET /api/v1/flavor answered $flavors"; exit 1 ;; esac
    echo "GET /api/v1/flavor with the key -> 200, m1.nano among them"
    metrics=$(curl -s -w ' %{http_code}' -H "Authorization: Bearer $key" "http://127.0.0.1:$port/metrics")
    case "$metrics" in *'devstack_client_upstream_requests_total{service="compute"}'*' 200') ;;
        *) echo "GET /metrics answered ${metrics: -300}"; exit 1 ;; esac
    echo "GET /metrics -> 200, upstream calls counted (its files on the tmpfs)"
fi
processes="$master,$(pgrep -d, -P $master)"
uids=$(ps -o uid= -p "$processes" | sort | uniq -c | tr -s ' \n' ' ')
echo "gateway processes (master and workers) by uid:$uids"
[ "$(ps -o uid= -p "$processes" | sort -u | tr -d ' ')" = "${user%%:*}" ] || { echo "a process runs as another user"; exit 1; }
echo "RSS (KiB) of the master and each worker: $(ps -o rss= -p "$processes" | tr -s ' \n' ' ')"
# As root, which the permissions alone would not stop.
if chroot "$root" /usr/bin/touch /opt/devstack-client/probe 2>"$WORK/write.err"; then
    echo "the root filesystem is writable"; exit 1
fi
grep -q 'Read-only file system' "$WORK/write.err"
echo "root filesystem read-only: even root's write to /opt/devstack-client is refused"
t0=$(date +%s%N)
kill -TERM $master
wait $master && rc=0 || rc=$?
echo "SIGTERM: stopped in $(( ($(date +%s%N) - t0) / 1000000 )) ms, exit status $rc"
[ $rc = 0 ]
grep -q '"level": "ERROR"' "$WORK/gateway.log" && { grep '"level": "ERROR"' "$WORK/gateway.log" | head -5; exit 1; }
true
INSIDE
}

step "start $(tr "\0" " " <"$WORK/cmd") as $user from $root (read-only, own network)"
start_image 0
# With the local test cloud (tests/cloud/up.sh) running, the image also talks to a real OpenStack.
cloud_env="${DEVSTACK_CLOUD_DIR:-/tmp/devstack-client-cloud}/demo.env"
if [ -f "$cloud_env" ] && curl -s -o /dev/null "$(sed -n 's/^AUTH_URL=//p' "$cloud_env")"; then
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    # READY_TIMEOUT=10: the shared test cloud, busy with other suites, takes more than 2 s at times.
    { grep -v '^#' "$cloud_env"; echo HOST=127.0.0.1; echo "PORT=$port"; echo READY_TIMEOUT=10; } >>"$WORK/env"
    step "start it again on 127.0.0.1:$port as the local test cloud's demo user"
    start_image 1
else
    step "no local test cloud ($cloud_env): the image did not meet OpenStack"
fi
step "proved: the image built and its gateway served as $user on a read-only root"
