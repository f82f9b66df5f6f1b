#!/bin/sh
# Runs a command in an unpacked image's root filesystem the way a container runtime would, where none can run
# (this sandbox: crun fails on cgroups): its own mount and PID namespaces (everything it starts dies with it),
# the root filesystem read-only, /proc, /dev, writable tmpfs folders and bind mounts as a pod would have them,
# and the image's user. Test use only (test/images/images.test.ts); needs root.
#   chroot-run.sh ROOTFS UID:GID WORKDIR [--tmpfs DIR]... [--bind SRC:DST[:ro]]... -- [K=V]... -- ARGV...
set -eu
[ "$(id -u)" = 0 ] || { echo "chroot-run.sh: needs root" >&2; exit 1; }
rootfs="$1"; user="$2"; workdir="$3"; shift 3
mounts=""
while [ "$1" != "--" ]; do mounts="$mounts $1=$2"; shift 2; done
shift
envs=""
while [ "$1" != "--" ]; do envs="$envs $1"; shift; done
shift
exec unshare -m -p -f --mount-proc --kill-child sh -euc '
  rootfs="$1"; user="$2"; workdir="$3"; mounts="$4"; envs="$5"; shift 5
  mount --make-rprivate /
  # Mount points first (a container runtime creates them too), then the root goes read-only.
  for m in $mounts; do
    dst="${m#*=}"; [ "${m%%=*}" = --tmpfs ] || { dst="${dst#*:}"; dst="${dst%:ro}"; }
    mkdir -p "$rootfs$dst"
  done
  mount --bind "$rootfs" "$rootfs"
  mount -o remount,bind,ro "$rootfs"
  mount -t proc proc "$rootfs/proc"
  mount --rbind /dev "$rootfs/dev"
  for m in $mounts; do
    kind="${m%%=*}"; spec="${m#*=}"
    if [ "$kind" = --tmpfs ]; then
      mount -t tmpfs -o "mode=0700,uid=${user%%:*},gid=${user##*:}" tmpfs "$rootfs$spec"
    else
      src="${spec%%:*}"; rest="${spec#*:}"; dst="${rest%:ro}"
      mount --bind "$src" "$rootfs$dst"
      [ "$rest" = "$dst" ] || mount -o remount,bind,ro "$rootfs$dst"
    fi
  done
  # This shell stays PID 1 of the namespace, as root: unshare --kill-child SIGKILLs it when unshare dies, and the
  # kernel then kills everything in the namespace. (The command itself would lose that signal: it is cleared
  # when chroot switches to the user of the image.)
  chroot --userspec="$user" --groups="${user##*:}" "$rootfs" /usr/bin/env -i -C "$workdir" $envs "$@" &
  trap "kill -TERM \$! 2>/dev/null" TERM INT
  wait $! || exit $?
' sh "$rootfs" "$user" "$workdir" "$mounts" "$envs" "$@"
