#!/usr/bin/env bash
# Checks a built agent-init binary: static, for the architecture it is named
# for, within the 4 MiB size budget, and carrying its dependency list (the
# `.dep-v0` section that `cargo auditable` embeds, which Trivy, syft and
# `cargo audit bin` read).
#   scripts/check-binary.sh ARCH PATH      ARCH: x86_64 | aarch64
set -euo pipefail
arch=$1 bin=$2
budget=$((4 * 1024 * 1024))

fail() { echo "error: $bin: $*" >&2; exit 1; }

[ -f "$bin" ] || fail "missing"
desc=$(file -L "$bin")
case $arch in
  x86_64) machine="x86-64" ;;
  aarch64) machine="ARM aarch64" ;;
  *) fail "unknown architecture $arch (x86_64 or aarch64)" ;;
esac
grep -q "$machine" <<<"$desc" || fail "not an $arch binary: $desc"
grep -Eq 'statically linked|static-pie linked' <<<"$desc" || fail "not static: $desc"
size=$(stat -c %s "$bin")
[ "$size" -le "$budget" ] || fail "$size bytes, over the $budget-byte budget"
readelf -S -W "$bin" | grep -q '\.dep-v0' ||
  fail "no .dep-v0 section: build it with \`cargo auditable build\`"
# No path of the build machine (what keeps two builds at different paths
# apart): the registry's sources are remapped to /cargo, the workspace's are
# relative.
root=$(cd "$(dirname "$0")/.." && pwd)
cargo_home=${CARGO_HOME:-$HOME/.cargo}
for path in "$cargo_home/" "$root/"; do
  if grep -qaF "$path" "$bin"; then
    fail "contains the build machine's path $path (is --remap-path-prefix missing?)"
  fi
done
echo "built $bin: $arch, static, $size bytes (budget $budget), dependency list embedded, no build paths"
