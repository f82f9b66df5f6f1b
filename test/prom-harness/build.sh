#!/usr/bin/env bash
# Builds Prometheus's promtool from its Go module (the version in go.mod beside this file) into a cache:
#   ${XDG_CACHE_HOME:-~/.cache}/mei/promtool/<version>/promtool
# Used by test/kube/monitoring.test.ts (`promtool check rules`, `promtool test rules`, `promtool check
# metrics`). A cached binary is not rebuilt. PROMTOOL names an existing binary instead. The last line on
# stdout is the binary's path; progress goes to stderr.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [[ -n "${PROMTOOL:-}" ]]; then
  [[ -x "$PROMTOOL" ]] || { echo "PROMTOOL=$PROMTOOL is not an executable" >&2; exit 1; }
  echo "$PROMTOOL"
  exit 0
fi
version="$(awk '$1 == "github.com/prometheus/prometheus" { print $2 }' "$here/go.mod" | head -n1)"
[[ -n "$version" ]] || { echo "build.sh: cannot read the prometheus version from $here/go.mod" >&2; exit 1; }
out="${XDG_CACHE_HOME:-$HOME/.cache}/mei/promtool/$version"
if [[ -x "$out/promtool" ]]; then
  echo "$out/promtool"
  exit 0
fi
command -v go >/dev/null || { echo "build.sh: go is not installed (needed to build promtool $version)" >&2; exit 1; }
mkdir -p "$out"
exec 9>"$out/.build.lock"
flock 9
if [[ ! -x "$out/promtool" ]]; then
  echo "building promtool (prometheus $version) from its Go module; the first build takes minutes ..." >&2
  start=$(date +%s)
  export GOFLAGS="${GOFLAGS:+$GOFLAGS }-mod=mod" GOTOOLCHAIN=local CGO_ENABLED=0
  (cd "$here" && nice -n 10 go build -p 2 -trimpath -ldflags="-s -w" -o "$out/promtool.tmp" github.com/prometheus/prometheus/cmd/promtool)
  mv "$out/promtool.tmp" "$out/promtool"
  echo "built promtool in $(( $(date +%s) - start ))s" >&2
fi
echo "$out/promtool"
