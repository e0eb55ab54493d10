#!/usr/bin/env bash
# Installs what building and testing agent-init needs on a fresh Debian or
# Ubuntu machine, and nothing when it is all there (so `make` runs it every
# time): the build's tools and the musl target, the tools the black-box
# tests drive (unshare, nsenter, setpriv), and python3-venv for the tests'
# MCP server. The Docker engine for the end-to-end tests is
# tests/e2e/engine.sh's job. Needs root (or sudo) only when something is
# missing.
set -euo pipefail
TARGET=${TARGET:-x86_64-unknown-linux-musl}

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
for tool in cc:gcc file:file unshare:util-linux nsenter:util-linux setpriv:util-linux \
            mount:mount make:make ps:procps git:git npm:npm python3:python3 \
            musl-gcc:musl-tools openssl:openssl curl:curl; do
  command -v "${tool%%:*}" >/dev/null 2>&1 || missing+=("${tool#*:}")
done
if command -v python3 >/dev/null 2>&1 && ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
  missing+=(python3-venv)
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
  grep -qx "$TARGET" <<<"$installed" || rustup target add "$TARGET"
  components=$(rustup component list --installed)
  for c in rustfmt clippy; do
    grep -q "^$c" <<<"$components" || rustup component add "$c"
  done
elif ! rustc --print target-libdir --target "$TARGET" >/dev/null 2>&1; then
  echo "setup: the $TARGET target is missing and there is no rustup to add it" >&2
  exit 1
fi
