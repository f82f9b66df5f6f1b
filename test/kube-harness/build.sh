#!/usr/bin/env bash
# Builds the real kube-apiserver and a matching etcd (and, when asked, kubectl)
# for MEI's Kubernetes-mode tests, into a cache keyed by the Kubernetes version:
#   ${XDG_CACHE_HOME:-~/.cache}/mei/kube/<version>/{kube-apiserver,etcd,kubectl}
# Binaries already present are not rebuilt. The last line on stdout is the
# asset directory (harness.ts reads it); progress goes to stderr.
#
# KUBEBUILDER_ASSETS (as used by envtest): if it names a folder holding
# kube-apiserver and etcd (and kubectl, when asked for), those are used and
# nothing is built.
#
# Usage: test/kube-harness/build.sh [--with-kubectl]
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

targets=(kube-apiserver etcd)
case "${1:-}" in
  "") ;;
  --with-kubectl) targets+=(kubectl) ;;
  *) echo "usage: $0 [--with-kubectl]" >&2; exit 2 ;;
esac

has_all() {
  local dir="$1" name
  for name in "${targets[@]}"; do [[ -x "$dir/$name" ]] || return 1; done
}

if [[ -n "${KUBEBUILDER_ASSETS:-}" ]]; then
  if has_all "$KUBEBUILDER_ASSETS"; then
    echo "using KUBEBUILDER_ASSETS=$KUBEBUILDER_ASSETS" >&2
    echo "$KUBEBUILDER_ASSETS"
    exit 0
  fi
  echo "KUBEBUILDER_ASSETS=$KUBEBUILDER_ASSETS lacks one of: ${targets[*]}; building instead" >&2
fi

# Versions come from go.mod, so the cache key cannot drift from what is built.
# (etcd is the one k8s.io/kubernetes itself requires.)
mod_version() {
  grep -E "^[[:space:]]*(require[[:space:]]+)?$1[[:space:]]+v" "$here/go.mod" | awk '{ print $2 == "'"$1"'" ? $3 : $2 }' | head -n1
}
version="$(mod_version k8s.io/kubernetes)"
if [[ -z "$version" ]]; then
  echo "build.sh: cannot read the k8s.io/kubernetes version from $here/go.mod" >&2
  exit 1
fi

out="${XDG_CACHE_HOME:-$HOME/.cache}/mei/kube/$version"
if has_all "$out"; then
  echo "$out"
  exit 0
fi
mkdir -p "$out"

declare -A pkg=(
  [kube-apiserver]=k8s.io/kubernetes/cmd/kube-apiserver
  [etcd]=go.etcd.io/etcd/server/v3
  [kubectl]=k8s.io/kubernetes/cmd/kubectl
)

# A plain `go build` leaves the version at v0.0.0-master; stamp the real one
# so /version, kubectl's skew check and the emulation-version logic see it.
version_ldflags() {
  local minor="${version#v1.}"; minor="${minor%%.*}"
  local p
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    printf -- '-X %s.gitVersion=%s -X %s.gitMajor=1 -X %s.gitMinor=%s -X %s.gitTreeState=clean ' \
      "$p" "$version" "$p" "$p" "$minor" "$p"
  done
}

command -v go >/dev/null || { echo "build.sh: go is not installed (needed to build kube-apiserver $version)" >&2; exit 1; }

# Parallel test runs may call this at once: one builds, the others wait.
exec 9>"$out/.build.lock"
flock 9

# -mod=mod lets go.sum fill in on a fresh checkout; GOTOOLCHAIN=local never
# tries to download another Go. Low priority and -p 2: the machine is shared.
export GOFLAGS="${GOFLAGS:+$GOFLAGS }-mod=mod" GOTOOLCHAIN=local CGO_ENABLED=0
for name in "${targets[@]}"; do
  if [[ -x "$out/$name" ]]; then
    echo "$name: cached at $out/$name" >&2
    continue
  fi
  echo "building $name (Kubernetes $version, etcd $(mod_version go.etcd.io/etcd/server/v3)) from ${pkg[$name]}; the first build takes minutes ..." >&2
  start=$(date +%s)
  (cd "$here" && nice -n 10 go build -p 2 -trimpath -ldflags="-s -w $(version_ldflags)" -o "$out/$name.tmp" "${pkg[$name]}")
  mv "$out/$name.tmp" "$out/$name"
  echo "built $name in $(( $(date +%s) - start ))s: $(du -h "$out/$name" | cut -f1)" >&2
done

echo "$out"
