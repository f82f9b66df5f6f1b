#!/usr/bin/env bash
# Builds the MEI images (server, edge-agent) from the committed tree (`git archive HEAD`) into an OCI layout,
# tagged <image>-<version>-<arch>:
#   scripts/build-images.sh [--engine chroot|buildah] [--platform linux/amd64,linux/arm64] [--out dist/images]
#                           [--image server|edge-agent]...
# Engines (docs/kubernetes.md, "Images"):
# - buildah: `buildah bud` on deploy/images/*.Containerfile, one manifest list per image over the platforms
#   (arm64 on an amd64 host through qemu-user-static). Needs a working container runtime and a registry for
#   the Debian base (BASE, default debian:trixie-slim).
# - chroot (default): the same stages without a container runtime (sandboxes, CI without cgroups): the Debian
#   base made by mmdebstrap, each stage's script run in a chroot of it, the layers and the image configuration
#   (read from the Containerfile's final stage) written with umoci. Needs root, mmdebstrap and umoci; a foreign
#   platform needs qemu-user-static registered with binfmt_misc.
# Reproducible inputs: the commit, package-lock.json, packages.env; file times are clamped to the commit time
# (SOURCE_DATE_EPOCH). The Debian archive moves on, so the package versions of each image are listed in
# /opt/mei/debian-packages.txt.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
engine=chroot
out="$root/dist/images"
images=()
case "$(uname -m)" in x86_64) platforms=linux/amd64 ;; aarch64) platforms=linux/arm64 ;; *) platforms="linux/$(uname -m)" ;; esac
while [[ $# -gt 0 ]]; do
  case "$1" in
    --engine) engine="$2"; shift 2 ;;
    --platform) platforms="$2"; shift 2 ;;
    --out) out="$(mkdir -p "$2" && cd "$2" && pwd)"; shift 2 ;;
    --image) images+=("$2"); shift 2 ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "build-images.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
[[ ${#images[@]} -gt 0 ]] || images=(server edge-agent)
for i in "${images[@]}"; do
  [[ "$i" == server || "$i" == edge-agent ]] || { echo "build-images.sh: --image must be server or edge-agent, got '$i'" >&2; exit 2; }
done

version="$(node -p "require('$root/package.json').version")"
export SOURCE_DATE_EPOCH="$(git -C "$root" log -1 --format=%ct)"
created="$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)"
commit="$(git -C "$root" rev-parse HEAD)"
[[ -z "$(git -C "$root" status --porcelain --untracked-files=no)" ]] || echo "build-images.sh: note: uncommitted changes are not built (the image is HEAD $commit)" >&2
work="$(mktemp -d "${TMPDIR:-/tmp}/mei-images.XXXXXX")"
cleanup() {
  # Unmount anything a failed chroot left behind before deleting.
  grep -o " $work[^ ]*" /proc/self/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/context" "$out"
git -C "$root" archive HEAD | tar -x -C "$work/context"
# shellcheck source=../deploy/images/packages.env
. "$root/deploy/images/packages.env"
log() { echo "[images $(date -u +%H:%M:%S)] $*" >&2; }

if [[ "$engine" == buildah ]]; then
  for image in "${images[@]}"; do
    name="mei/$image:$version"
    buildah manifest rm "$name" >/dev/null 2>&1 || true
    log "buildah bud $name for $platforms"
    buildah bud --platform "$platforms" --manifest "$name" --timestamp "$SOURCE_DATE_EPOCH" \
      ${BASE:+--build-arg BASE="$BASE"} -f "$work/context/deploy/images/$image.Containerfile" "$work/context"
    buildah manifest push --all "$name" "oci:$out/oci:$image-$version"
  done
  log "done: $out/oci (push: skopeo copy --all oci:$out/oci:<image>-$version docker://REGISTRY/mei/<image>:$version)"
  exit 0
fi
[[ "$engine" == chroot ]] || { echo "build-images.sh: --engine must be chroot or buildah, got '$engine'" >&2; exit 2; }
[[ $EUID -eq 0 ]] || { echo "build-images.sh: the chroot engine needs root (chroot, mounts)" >&2; exit 1; }
for tool in mmdebstrap umoci unshare; do command -v "$tool" >/dev/null || { echo "build-images.sh: $tool is not installed (apt-get install mmdebstrap umoci)" >&2; exit 1; }; done

cache="${XDG_CACHE_HOME:-$HOME/.cache}/mei/images"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
mkdir -p "$cache"

# A Debian root for `arch` with `packages` (minbase when empty), cached by suite, arch and package list.
debian_root() {
  local arch="$1" packages="$2" key dir
  key="$(printf '%s|%s|%s|%s' "$DEBIAN_SUITE" "$arch" "$packages" "$mirror" | sha256sum | cut -c1-16)"
  dir="$cache/$DEBIAN_SUITE-$arch-$key.tar"
  if [[ ! -s "$dir" ]]; then
    log "mmdebstrap $DEBIAN_SUITE/$arch ${packages:-(minbase)}"
    mmdebstrap --variant=minbase --mode=root --format=tar --arch="$arch" ${packages:+--include="${packages// /,}"} \
      --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
      --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/info/*' \
      "$DEBIAN_SUITE" "$dir.tmp" "$mirror" >&2
    mv "$dir.tmp" "$dir"
  fi
  echo "$dir"
}

# Runs a command in a chroot of `dir` with /dev, /proc and the host's DNS, in its own mount and PID namespace
# (everything it started dies with it). MEI_NPM_CACHE (a folder) is shared as npm's cache.
in_chroot() {
  local dir="$1"
  shift
  cp /etc/resolv.conf "$dir/etc/resolv.conf"
  mkdir -p "$dir/root/.npm"
  unshare -m -p -f --mount-proc sh -euc '
    d="$1"; shift
    mount --rbind /dev "$d/dev"
    mount -t proc proc "$d/proc"
    [ -z "${MEI_NPM_CACHE:-}" ] || mount --bind "$MEI_NPM_CACHE" "$d/root/.npm"
    exec chroot "$d" env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
      SOURCE_DATE_EPOCH="$SOURCE_DATE_EPOCH" "$@"
  ' sh "$dir" "$@"
}

clamp_times() { find "$1" -xdev -newermt "@$SOURCE_DATE_EPOCH" -print0 | xargs -0r touch -h -d "@$SOURCE_DATE_EPOCH"; }

[[ -d "$out/oci" ]] || umoci init --layout "$out/oci"
for platform in ${platforms//,/ }; do
  arch="${platform#linux/}"
  [[ "$arch" == amd64 || "$arch" == arm64 ]] || { echo "build-images.sh: platform $platform: only linux/amd64 and linux/arm64" >&2; exit 2; }
  host="$(dpkg --print-architecture)"
  if [[ "$arch" != "$host" && ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 && ! -e /proc/sys/fs/binfmt_misc/qemu-x86_64 ]]; then
    echo "build-images.sh: $platform on a $host host needs qemu-user-static registered with binfmt_misc (apt-get install qemu-user-static binfmt-support)" >&2
    exit 1
  fi

  # Build stage: once for both images.
  build="$work/build-$arch"
  mkdir -p "$build"
  tar -x -C "$build" -f "$(debian_root "$arch" "$BUILD_PACKAGES")"
  cp -a "$work/context" "$build/src"
  log "build stage ($arch): npm ci, prisma, next build, NanoDet"
  in_chroot "$build" sh -c 'cd /src && sh deploy/images/stage-build.sh' >&2
  base="$(debian_root "$arch" "")"

  for image in "${images[@]}"; do
    tag="$image-$version-$arch"
    bundle="$work/bundle-$image-$arch"
    log "$tag: base layer"
    umoci new --image "$out/oci:$tag"
    umoci unpack --image "$out/oci:$tag" "$bundle" >/dev/null
    tar -x -C "$bundle/rootfs" -f "$base"
    clamp_times "$bundle/rootfs"
    umoci repack --image "$out/oci:$tag" --history.created "$created" --history.created_by "mmdebstrap --variant=minbase $DEBIAN_SUITE" "$bundle"
    log "$tag: packages and app layer"
    in_chroot "$build" sh -c "cd /src && rm -rf /out-$image && sh deploy/images/stage-app.sh $image /out-$image" >&2
    mkdir -p "$bundle/rootfs/tmp/mei-images"
    cp "$root/deploy/images/packages.env" "$root/deploy/images/stage-runtime.sh" "$bundle/rootfs/tmp/mei-images/"
    in_chroot "$bundle/rootfs" sh /tmp/mei-images/stage-runtime.sh "$image" >&2
    rm -rf "$bundle/rootfs/tmp/mei-images" "$bundle/rootfs/etc/resolv.conf" "$bundle/rootfs/root/.npm"
    : > "$bundle/rootfs/etc/resolv.conf"
    cp -a "$build/out-$image" "$bundle/rootfs/opt/mei"
    chroot "$bundle/rootfs" dpkg-query -W -f '${Package} ${Version}\n' > "$bundle/rootfs/opt/mei/debian-packages.txt"
    echo "$commit" > "$bundle/rootfs/opt/mei/COMMIT"
    clamp_times "$bundle/rootfs"
    umoci repack --image "$out/oci:$tag" --history.created "$created" --history.created_by "deploy/images/$image.Containerfile (chroot engine)" "$bundle"
    mapfile -t flags < <(node "$root/deploy/images/containerfile-config.mjs" "$root/deploy/images/$image.Containerfile")
    umoci config --image "$out/oci:$tag" --architecture "$arch" --os linux --created "$created" --no-history \
      --config.label "org.opencontainers.image.revision=$commit" --config.label "org.opencontainers.image.version=$version" \
      --config.label "org.opencontainers.image.source=MEI" "${flags[@]}"
    umoci gc --layout "$out/oci"
    rm -rf "$bundle"
    log "$tag: built ($(du -sh "$out/oci" | cut -f1) in $out/oci)"
  done
done
log "done: $out/oci tags: $(umoci ls --layout "$out/oci" | tr '\n' ' ')"
log "push: skopeo copy oci:$out/oci:<tag> docker://REGISTRY/mei/<image>:$version"
