#!/usr/bin/env bash
# Shows agent-init's main job as PID 1 of a fresh PID namespace (root needed):
# command mode with reaping and the exit code, graceful and forced shutdown,
# and keep-alive mode.
set -euo pipefail
BIN=${TEST_AGENT_INIT_BIN:-target/x86_64-unknown-linux-musl/release/agent-init}
ns() { unshare --pid --fork --mount-proc "$@"; }
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "command mode: the command leaves 100 orphans behind, then exits 3"
set +e
ns "$BIN" -- sh -c '
  for i in $(seq 100); do (sleep 0.1 &); done
  sleep 0.5
  echo "zombies in the namespace: $(grep -l "^State:.*Z" /proc/[0-9]*/status 2>/dev/null | wc -l)"
  exit 3'
echo "agent-init exited with $? (the command's code)"

step "graceful stop: SIGTERM reaches the command, which exits on it"
ns "$BIN" -- sh -c 'trap "echo command: got SIGTERM, cleaning up; exit 0" TERM; kill -TERM 1; while :; do sleep 0.1; done'
echo "agent-init exited with $?"

step "a command that ignores SIGTERM is SIGKILLed after --grace-period 1"
start=$EPOCHREALTIME
ns "$BIN" --grace-period 1 -- sh -c 'trap "" TERM; kill -TERM 1; while :; do sleep 0.1; done'
code=$?
awk -v c="$code" -v s="$start" -v e="$EPOCHREALTIME" \
  'BEGIN { printf "agent-init exited with %s after %.1fs (128+9: killed)\n", c, e - s }'

step "keep-alive mode: no command; SIGTERM ends it with 0"
unshare --pid --fork --mount-proc "$BIN" &
outer=$!
until init=$(tr -d ' ' < "/proc/$outer/task/$outer/children" 2>/dev/null) && [ -n "$init" ]; do sleep 0.05; done
sleep 0.5
echo "agent-init (pid $init outside) idle: state $(awk '/^State/ {print $2}' "/proc/$init/status"), rss $(awk '/^VmRSS/ {print $2 " " $3}' "/proc/$init/status")"
kill -TERM "$init"
wait "$outer"
echo "agent-init exited with $?"
