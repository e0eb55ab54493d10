#!/bin/bash
# The shell entrypoint agent-init replaces, written the way the seed images
# write it: validate the workspace, git safe.directory, required variables,
# wait for the MCP server, then keep-alive or exec the command, forwarding
# signals by hand. Used by the benchmarks as the baseline.
set -euo pipefail

WORKSPACE="${WORKSPACE:-/workspace}"
MCP_URL="${MCP_URL:-}"
WAIT_TIMEOUT="${WAIT_TIMEOUT:-60}"
REQUIRED_ENV="${REQUIRED_ENV:-}"

log() { echo "[entrypoint] $(date -u +%H:%M:%S) $*" >&2; }

# 1. Workspace mount
if [ ! -d "$WORKSPACE" ]; then
  log "ERROR: workspace $WORKSPACE does not exist"; exit 1
fi
if [ ! -w "$WORKSPACE" ]; then
  log "ERROR: workspace $WORKSPACE is not writable"; exit 1
fi
log "workspace $WORKSPACE ok"

# 2. git safe.directory
git config --global --add safe.directory "$WORKSPACE"
log "git safe.directory set"

# 3. Required environment
for var in $REQUIRED_ENV; do
  if [ -z "${!var:-}" ]; then
    log "ERROR: $var is not set"; exit 1
  fi
done
log "environment ok"

# 4. Wait for the MCP server
if [ -n "$MCP_URL" ]; then
  deadline=$(( $(date +%s) + WAIT_TIMEOUT ))
  until curl -fsS -o /dev/null --max-time 2 "$MCP_URL"; do
    if [ "$(date +%s)" -ge "$deadline" ]; then
      log "ERROR: MCP server $MCP_URL not ready after ${WAIT_TIMEOUT}s"; exit 1
    fi
    sleep 1
  done
  log "MCP server ready"
fi

# 5. Keep-alive or command mode
if [ $# -eq 0 ]; then
  log "no command: keep-alive"
  exec sleep infinity
fi
log "starting: $*"
"$@" &
child=$!
trap 'kill -TERM $child 2>/dev/null' TERM INT
wait $child
