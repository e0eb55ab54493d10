#!/usr/bin/env bash
# Builds one image: docker/build.sh DOCKERFILE TAG [docker build options...]
# from the repository root as context.
#
# Why not plain `docker build -f`: BuildKit syncs the Dockerfile into a
# cache kept per build context and, like rsync, takes a file whose name,
# size and modification time match the cached one as unchanged. Every
# Dockerfile is called "Dockerfile", and a fresh checkout gives files one
# mtime, so two different Dockerfiles of one size built from the same
# context were confused: the second build silently used the first one's
# (Docker 20.10's built-in BuildKit; current buildx syncs the same way).
# Here the Dockerfile reaches BuildKit under a name made from its content,
# so different Dockerfiles can never look alike, and an unchanged one keeps
# its cache.
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: $0 DOCKERFILE TAG [docker build options...]" >&2; exit 64; }
dockerfile=$1 tag=$2
shift 2
DOCKER=${DOCKER:-docker}
CONTEXT=${CONTEXT:-.}
[ -f "$dockerfile" ] || { echo "$0: no Dockerfile at $dockerfile" >&2; exit 66; }
sum=$(sha256sum "$dockerfile" | cut -c1-16)
staged=$(mktemp -d)
trap 'rm -rf "$staged"' EXIT
cp "$dockerfile" "$staged/Dockerfile.$sum"
DOCKER_BUILDKIT=1 "$DOCKER" build -f "$staged/Dockerfile.$sum" -t "$tag" "$@" "$CONTEXT"
