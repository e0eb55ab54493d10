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
# arm64 containers of static binaries run here through qemu-user, which
# the kernel starts for aarch64 executables (binfmt_misc, with the F flag
# so that it works inside containers). Used by the test of the arm64 image.
binfmt=/proc/sys/fs/binfmt_misc
qemu=$(command -v qemu-aarch64-static || true)
if [ -n "$qemu" ] && [ ! -e $binfmt/qemu-aarch64 ]; then
  [ -e $binfmt/register ] || mount -t binfmt_misc binfmt_misc $binfmt
  printf '%s' ':qemu-aarch64:M::\x7f\x45\x4c\x46\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00:\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff:'"$qemu"':F' \
    > $binfmt/register
fi
"$DOCKER" info --format 'docker engine {{.ServerVersion}}, storage {{.Driver}}' \
  || { echo "e2e: no Docker engine (see $log)" >&2; exit 1; }
