#!/usr/bin/env bash
# Makes sure a Docker engine answers: installs docker.io and debootstrap when
# missing, starts dockerd in the background when none runs. In CI a missing
# engine is a failure, not a skip.
set -euo pipefail
DOCKER=${DOCKER:-docker}
if ! command -v dockerd >/dev/null 2>&1 || ! command -v debootstrap >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq docker.io debootstrap >/dev/null
fi
if ! "$DOCKER" info >/dev/null 2>&1; then
  log=${TMPDIR:-/tmp}/agent-init-dockerd.log
  nohup dockerd >"$log" 2>&1 &
  for _ in $(seq 60); do
    "$DOCKER" info >/dev/null 2>&1 && break
    sleep 1
  done
fi
"$DOCKER" info --format 'docker engine {{.ServerVersion}}, storage {{.Driver}}' \
  || { echo "e2e: no Docker engine (see $log)" >&2; exit 1; }
