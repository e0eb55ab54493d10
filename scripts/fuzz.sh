#!/usr/bin/env bash
# Runs every fuzz target (fuzz/, libFuzzer through cargo-fuzz): first over
# its corpus in fuzz/corpus/TARGET (every input there must pass), then on
# new inputs for SECONDS each. New inputs go to a scratch directory, so the
# committed corpora change only when someone copies a finding in. A crash,
# a panic, a stack overflow or an input slower than 10 s fails the run; the
# input is kept in fuzz/artifacts/TARGET/.
#
# usage: scripts/fuzz.sh SECONDS [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:?usage: scripts/fuzz.sh SECONDS [TARGET...]}
shift
version=0.13.1
if ! cargo fuzz --version 2>/dev/null | grep -q "$version"; then
  echo "fuzz: installing cargo-fuzz $version"
  cargo install --quiet --locked cargo-fuzz --version "$version"
fi
cd fuzz
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(cargo fuzz list)
fi
# No sanitizer: the code under test is safe Rust; what is looked for is a
# panic, an overflowed stack or a hang, which libFuzzer sees without one
# (and the build works on a stable toolchain).
cargo fuzz build --sanitizer none --dev 2>&1 | tail -1
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
failed=0
for t in "${targets[@]}"; do
  mkdir -p "$scratch/$t" "artifacts/$t"
  if cargo fuzz run --sanitizer none --dev "$t" "$scratch/$t" "corpus/$t" -- \
       -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
       -print_final_stats=1 >"$scratch/$t.log" 2>&1; then
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$scratch/$t.log" | tail -1)
    echo "fuzz: $t ok (${runs:-?} runs in ${seconds} s, corpus $(ls "corpus/$t" | wc -l) inputs)"
  else
    echo "fuzz: $t FAILED (log: fuzz/artifacts/$t/log)"
    cp "$scratch/$t.log" "artifacts/$t/log"
    grep -E "panicked|ERROR|SUMMARY|Test unit written|Slowest|rss" "$scratch/$t.log" | head -20 || true
    tail -5 "$scratch/$t.log"
    failed=$((failed + 1))
  fi
done
total=${#targets[@]}
echo "fuzz: $((total - failed)) passed, $failed failed"
[ "$failed" -eq 0 ]
