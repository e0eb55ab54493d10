#!/usr/bin/env bash
# Validates every manifest in deploy/kubernetes offline against the
# Kubernetes OpenAPI schemas (the PyPI package kubernetes-validate, which
# carries them), strictly: an unknown field is an error. Then shows that
# the check can fail: the same manifest with one misspelt field must be
# rejected.
#   usage: scripts/validate-manifests.sh VENV_PYTHON_DIR
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${1:-target/k8s-venv}
versions=${K8S_VERSIONS:-1.33 1.37}
validate="$venv/bin/kubernetes-validate"
for v in $versions; do
  "$validate" --strict --quiet -k "$v.0" deploy/kubernetes/*.yaml
  echo "manifests: deploy/kubernetes/*.yaml valid for Kubernetes $v"
done
bad=$(mktemp --suffix=.yaml)
trap 'rm -f "$bad"' EXIT
sed 's/^\( *\)readinessProbe:/\1readinesProbe:/' deploy/kubernetes/claude.yaml >"$bad"
grep -q readinesProbe "$bad"
if "$validate" --strict --quiet "$bad" >/dev/null 2>&1; then
  echo "manifests: a misspelt field (readinesProbe) passed validation" >&2
  exit 1
fi
echo "manifests: a misspelt field (readinesProbe) is rejected"
