#!/usr/bin/env bash
# Stop everything up.sh started, and nothing else: the process groups recorded in $DEVSTACK_CLOUD_DIR/run/*.pid
# (all signalled at once, then awaited; SIGKILL after 20 s). Data, venv and logs are kept, so the next up.sh is
# a restart. To wipe the cloud: down.sh && rm -rf "${DEVSTACK_CLOUD_DIR:-/tmp/devstack-client-cloud}".
set -euo pipefail
T_START=$(date +%s)
# shellcheck source=lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"
[ -d "$D/run" ] || { log "nothing to stop ($D/run does not exist)"; exit 0; }
order=""
for s in $ALL_SERVICES; do order="$s $order"; done   # reverse start order
was=""
for s in $order; do running "$s" && was="$was $s"; done
# shellcheck disable=SC2086
stop $order
if [ -n "$was" ]; then log "stopped:$was"; else log "nothing was running"; fi
