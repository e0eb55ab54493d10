#!/usr/bin/env bash
# The main job in a real container: command mode, keep-alive + docker exec,
# the HEALTHCHECK turning healthy in docker inspect, a fast graceful stop.
set -euo pipefail
DOCKER=${DOCKER:-docker}
IMAGE=${IMAGE:-agent-init/claude:dev}
name=agent-init-demo-$$
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
trap '"$DOCKER" rm -f "$name" >/dev/null 2>&1 || true' EXIT

step "command mode: docker run $IMAGE claude --version, then a command exiting 3"
"$DOCKER" run --rm "$IMAGE" claude --version
set +e
"$DOCKER" run --rm -e AGENT_INIT_LOG_LEVEL=warn "$IMAGE" sh -c 'echo "running as $(whoami) in $PWD"; exit 3'
echo "docker run exited with $? (the command's code)"
set -e

step "keep-alive mode: no command; the HEALTHCHECK runs agent-init health every second"
"$DOCKER" run -d --name "$name" --health-interval 1s --health-start-period 0s "$IMAGE" >/dev/null
for _ in $(seq 30); do
  status=$("$DOCKER" inspect -f '{{.State.Health.Status}}' "$name")
  echo "docker inspect: health is $status"
  [ "$status" = healthy ] && break
  sleep 1
done

step "docker exec $name agent-init health"
"$DOCKER" exec "$name" agent-init health

step "docker exec $name agent-init exec -- env: the command's environment (preset, git trust)"
"$DOCKER" exec "$name" agent-init exec -- sh -c 'env | grep -E "^(DISABLE_|GIT_CONFIG|CLAUDE_)" | sort'

step "docker stop: SIGTERM to PID 1, which stops what docker exec left and exits 0"
start=$(date +%s%N)
"$DOCKER" stop "$name" >/dev/null
echo "stopped in $(( ($(date +%s%N) - start) / 1000000 )) ms, exit code $("$DOCKER" inspect -f '{{.State.ExitCode}}' "$name")"
