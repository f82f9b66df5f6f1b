#!/bin/sh
# The final stage's setup on the Debian root, as root (the Containerfiles' RUN and scripts/build-images.sh's
# chroot build): `stage-runtime.sh server|edge-agent`. Installs the stage's packages (packages.env) and makes
# the writable state folder for the non-root user; the root filesystem is read-only when it runs.
set -eu
here="$(dirname "$0")"
. "$here/packages.env"
case "$1" in
  server) packages="$SERVER_PACKAGES" ;;
  edge-agent) packages="$AGENT_PACKAGES" ;;
  *) echo "stage-runtime.sh: unknown image '$1'" >&2; exit 2 ;;
esac
if [ "${MEI_SKIP_APT:-}" != 1 ]; then
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $packages
fi
rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/cache/apt/archives/*.deb /var/log/apt /var/log/dpkg.log
mkdir -p /var/lib/mei
chown 10001:10001 /var/lib/mei
chmod 0700 /var/lib/mei
ln -sf /opt/mei/edge-agent/bin/mei-agent.mjs /usr/local/bin/mei-agent
