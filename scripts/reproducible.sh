#!/usr/bin/env bash
# Reproducibility check: builds dist/ a second time from a copy of the
# sources at another path, with another CARGO_HOME (the same crates, reached
# through a symlink), and compares its SHA256SUMS with this tree's dist/.
# Every binary, SBOM and the license inventory must match byte for byte.
#   scripts/reproducible.sh        (after `make dist`)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
[ -f dist/SHA256SUMS ] || { echo "error: no dist/SHA256SUMS: run make dist first" >&2; exit 1; }
cargo_home=${CARGO_HOME:-$HOME/.cargo}

work=$(mktemp -d /tmp/agent-init-rebuild.XXXXXX)
trap 'rm -rf "$work"' EXIT
copy=$work/elsewhere/agent-init-copy
mkdir -p "$copy" "$work/cargo-home"
# The sources as they are now (uncommitted edits and new files included).
git ls-files -z --cached --others --exclude-standard | tar --null -T - -c | tar -x -C "$copy"
for entry in registry bin .crates.toml .crates2.json; do
  [ -e "$cargo_home/$entry" ] && ln -s "$cargo_home/$entry" "$work/cargo-home/$entry"
done

started=$(date +%s)
echo "reproducible: building dist/ again in $copy"
if ! CARGO_HOME=$work/cargo-home SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH CARGO_NET_OFFLINE=true \
     make -C "$copy" dist >"$work/build.log" 2>&1; then
  tail -30 "$work/build.log" >&2
  echo "error: the second build failed" >&2
  exit 1
fi
if ! diff -u dist/SHA256SUMS "$copy/dist/SHA256SUMS"; then
  echo "error: the second build differs (above: this tree's SHA256SUMS, then the copy's)" >&2
  exit 1
fi
echo "reproducible: $(wc -l < dist/SHA256SUMS) artifacts identical in a second build at another path ($(( $(date +%s) - started )) s)"
