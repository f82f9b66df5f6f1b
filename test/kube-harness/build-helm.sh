#!/usr/bin/env bash
# Builds the real `helm` CLI from its Go module for the chart tests (test/kube/helm.test.ts), cached by version
# (go-tool.sh); MEI_HELM names a binary to use instead. The last line on stdout is the binary's path.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/go-tool.sh"
version=v4.3.2
# `go install pkg@version` builds outside any module; GOBIN is a temporary folder, then the binary moves.
go_tool helm "$version" MEI_HELM bash -c '
  tmp="$(mktemp -d)"; trap "rm -rf \"$tmp\"" EXIT
  cd "$tmp" && GOBIN="$tmp" go install -trimpath -ldflags="-s -w -X helm.sh/helm/v4/internal/version.version=$1" "helm.sh/helm/v4/cmd/helm@$1"
  mv "$tmp/helm" "$GO_TOOL_OUT"' _ "$version"
