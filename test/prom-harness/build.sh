#!/usr/bin/env bash
# Builds Prometheus's promtool from its Go module (the version in go.mod beside this file), cached by version
# (../kube-harness/go-tool.sh). Used by test/kube/monitoring.test.ts (`promtool check rules`, `promtool test
# rules`, `promtool check metrics`). PROMTOOL names an existing binary instead. The last line on stdout is
# the binary's path; progress goes to stderr.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/../kube-harness/go-tool.sh"
version="$(awk '$1 == "github.com/prometheus/prometheus" { print $2 }' "$here/go.mod" | head -n1)"
[[ -n "$version" ]] || { echo "build.sh: cannot read the prometheus version from $here/go.mod" >&2; exit 1; }
cd "$here"
GOFLAGS="${GOFLAGS:+$GOFLAGS }-mod=mod" go_tool promtool "$version" PROMTOOL \
  bash -c 'go build -p 2 -trimpath -ldflags="-s -w" -o "$GO_TOOL_OUT" github.com/prometheus/prometheus/cmd/promtool'
