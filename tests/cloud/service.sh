#!/usr/bin/env bash
# Stop, start or restart one service of the test cloud (started before by up.sh), e.g. for outage tests:
#   bash tests/cloud/service.sh stop keystone
#   bash tests/cloud/service.sh start keystone     # returns once it answers HTTP (APIs) / is ready
#   bash tests/cloud/service.sh status
# NAME: keystone glance placement neutron cinder-api (cinder) cinder-scheduler cinder-volume nova-api (nova)
#       nova-conductor nova-scheduler nova-compute
#       rabbitmq postgres epmd
set -euo pipefail
T_START=$(date +%s)
# shellcheck source=lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"
usage() { echo "usage: $0 stop|start|restart NAME | status" >&2; exit 2; }
action=${1:-}
if [ "$action" = status ]; then
  for s in $ALL_SERVICES; do
    if running "$s"; then echo "$s running (pid $(cat "$(pidfile "$s")"))"; else echo "$s stopped"; fi
  done
  exit 0
fi
[ $# -eq 2 ] || usage
name=$(svc_name "$2") || die "unknown service '$2' (one of: $ALL_SERVICES)"
[ -f "$D/etc/nova/nova.conf" ] || die "no cloud in $D: run bash tests/cloud/up.sh first"
case "$action" in
  stop) stop "$name"; log "$name stopped" ;;
  start) launch "$name"; wait_ready "$name" 180; log "$name running (pid $(cat "$(pidfile "$name")"))" ;;
  restart) stop "$name"; launch "$name"; wait_ready "$name" 180; log "$name restarted (pid $(cat "$(pidfile "$name")"))" ;;
  *) usage ;;
esac
