#!/usr/bin/env bash
# Installs what building and testing agent-init needs on a fresh Debian or
# Ubuntu machine, and nothing when it is all there (so `make` runs it every
# time): the build's tools and the musl targets (x86_64 and aarch64), the
# tools the black-box tests drive (unshare, nsenter, setpriv), python3-venv
# for the tests' MCP server, valgrind (the start-up instruction count) and
# strace (system calls per forwarded signal, in the benchmarks), and for the aarch64 build and its tests:
# clang and the arm64 musl headers (two crates compile a little C),
# qemu-user-static, and the cargo subcommands of the release artifacts
# (cargo-auditable and cargo-cyclonedx, at pinned versions).
# The Docker engine for the end-to-end tests is tests/e2e/engine.sh's job.
# Needs root (or sudo) only when something is missing.
set -euo pipefail
TARGETS="x86_64-unknown-linux-musl aarch64-unknown-linux-musl"

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
for tool in cc:gcc file:file unshare:util-linux nsenter:util-linux setpriv:util-linux \
            mount:mount make:make ps:procps git:git npm:npm python3:python3 \
            musl-gcc:musl-tools openssl:openssl curl:curl clang:clang readelf:binutils \
            qemu-aarch64-static:qemu-user-static valgrind:valgrind strace:strace; do
  command -v "${tool%%:*}" >/dev/null 2>&1 || missing+=("${tool#*:}")
done
if command -v python3 >/dev/null 2>&1 && ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
  missing+=(python3-venv)
fi
# The C headers of musl for arm64 (the C that ring compiles includes the C
# library's headers): Debian's musl-dev of the arm64 architecture.
if [ ! -f /usr/include/aarch64-linux-musl/signal.h ]; then
  if command -v dpkg >/dev/null 2>&1 && ! dpkg --print-foreign-architectures | grep -qx arm64; then
    echo "setup: adding the arm64 architecture to dpkg (for musl-dev:arm64)"
    as_root dpkg --add-architecture arm64
  fi
  missing+=(musl-dev:arm64)
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update -qq
  as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: no cargo: install Rust with rustup (https://rustup.rs), then run make again" >&2
  exit 1
fi
if command -v rustup >/dev/null 2>&1; then
  installed=$(rustup target list --installed)
  for target in $TARGETS; do
    grep -qx "$target" <<<"$installed" || rustup target add "$target"
  done
  components=$(rustup component list --installed)
  for c in rustfmt clippy; do
    grep -q "^$c" <<<"$components" || rustup component add "$c"
  done
else
  for target in $TARGETS; do
    if ! rustc --print target-libdir --target "$target" >/dev/null 2>&1; then
      echo "setup: the $target target is missing and there is no rustup to add it" >&2
      exit 1
    fi
  done
fi

# The release artifacts' cargo subcommands, from crates.io, built once.
listed=$(cargo install --list)
for tool in cargo-auditable@0.7.7 cargo-cyclonedx@0.5.9; do
  name=${tool%@*} version=${tool#*@}
  if ! grep -qx "$name v$version:" <<<"$listed"; then
    echo "setup: installing $name $version"
    cargo install --quiet --locked "$name" --version "$version"
  fi
done
