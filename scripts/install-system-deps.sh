#!/usr/bin/env bash
# Debian packages MEI's tests and demo use: Chromium (Playwright e2e), ffmpeg (video decoding), PostgreSQL
# (the "real PostgreSQL" tests), etcd (the Kubernetes harness), Go (builds kube-apiserver), Python venv.
set -euo pipefail
need=()
command -v chromium >/dev/null || need+=(chromium)
command -v ffmpeg >/dev/null || need+=(ffmpeg)
[ -x /usr/lib/postgresql/15/bin/initdb ] || need+=(postgresql)
command -v etcd >/dev/null || need+=(etcd-server)
command -v openssl >/dev/null || need+=(openssl)
python3 -c 'import venv, ensurepip' 2>/dev/null || need+=(python3-venv)
if [ ${#need[@]} -gt 0 ]; then
  SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}"
fi
command -v go >/dev/null || echo "warning: Go is not installed; the Kubernetes tests build kube-apiserver with it" >&2
