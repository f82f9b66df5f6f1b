#!/usr/bin/env bash
# Builds the real `helm` CLI from its Go module for the chart tests (test/kube/helm.test.ts), into a cache keyed
# by its version: ${XDG_CACHE_HOME:-~/.cache}/mei/helm/<version>/helm. A binary already there is not rebuilt;
# MEI_HELM names one to use instead. The last line on stdout is the binary's path.
set -euo pipefail
version=v4.3.2
if [[ -n "${MEI_HELM:-}" ]]; then
  [[ -x "$MEI_HELM" ]] || { echo "build-helm.sh: MEI_HELM=$MEI_HELM is not an executable" >&2; exit 1; }
  echo "$MEI_HELM"
  exit 0
fi
out="${XDG_CACHE_HOME:-$HOME/.cache}/mei/helm/$version"
if [[ -x "$out/helm" ]]; then
  echo "$out/helm"
  exit 0
fi
command -v go >/dev/null || { echo "build-helm.sh: go is not installed (needed to build helm $version)" >&2; exit 1; }
mkdir -p "$out"
exec 9>"$out/.build.lock"
flock 9
if [[ ! -x "$out/helm" ]]; then
  echo "building helm $version from helm.sh/helm/v4/cmd/helm (takes minutes the first time) ..." >&2
  start=$(date +%s)
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  # Low priority: the machine is shared. GOTOOLCHAIN=local never downloads another Go.
  (cd "$tmp" && GOTOOLCHAIN=local CGO_ENABLED=0 GOBIN="$tmp" nice -n 10 go install -trimpath \
    -ldflags="-s -w -X helm.sh/helm/v4/internal/version.version=$version" "helm.sh/helm/v4/cmd/helm@$version")
  mv "$tmp/helm" "$out/helm"
  echo "built helm in $(( $(date +%s) - start ))s" >&2
fi
echo "$out/helm"
