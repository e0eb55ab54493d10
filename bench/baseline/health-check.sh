#!/bin/bash
# The shell health check agent-init replaces, as the seed images write it:
# CLI available, workspace mounted and writable, MCP reachable, memory and
# disk above thresholds. Used by the benchmarks as the baseline.
set -uo pipefail

CLI="${CLI:-claude}"
WORKSPACE="${WORKSPACE:-/workspace}"
MCP_URL="${MCP_URL:-}"
MIN_FREE_MEMORY_MB="${MIN_FREE_MEMORY_MB:-64}"
MIN_FREE_DISK_MB="${MIN_FREE_DISK_MB:-100}"

fail() { echo "UNHEALTHY: $*"; exit 1; }

command -v "$CLI" >/dev/null 2>&1 || fail "$CLI not found"
[ -d "$WORKSPACE" ] && [ -w "$WORKSPACE" ] || fail "workspace $WORKSPACE not writable"
if [ -n "$MCP_URL" ]; then
  curl -fsS -o /dev/null --max-time 5 "$MCP_URL" || fail "MCP server $MCP_URL unreachable"
fi
free_mem=$(free -m | awk '/^Mem:/ {print $7}')
[ "$free_mem" -ge "$MIN_FREE_MEMORY_MB" ] || fail "only ${free_mem} MB memory available"
free_disk=$(df -Pm "$WORKSPACE" | awk 'NR==2 {print $4}')
[ "$free_disk" -ge "$MIN_FREE_DISK_MB" ] || fail "only ${free_disk} MB disk free"
echo "HEALTHY"
