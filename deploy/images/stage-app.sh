#!/bin/sh
# Copies what one image runs from the built tree (stage-build.sh) to OUT: `stage-app.sh server|edge-agent OUT`.
# The server needs the whole app (its person search loads the agent's ReID code); the agent only its own
# workspace, the contracts and the packages those import (prune-agent.mjs).
set -eu
image="$1"
out="$2"
mkdir -p "$out"
case "$image" in
  server)
    cp -a package.json next.config.js tsconfig.json prisma.config.ts prisma crds server contracts vision edge-agent node_modules .next "$out/"
    rm -rf "$out/edge-agent/test" "$out/edge-agent/bench" "$out/vision/test"
    node deploy/images/prune.mjs server "$out"
    ;;
  edge-agent)
    cp -a package.json tsconfig.json contracts vision edge-agent node_modules image-models "$out/"
    rm -rf "$out/edge-agent/test" "$out/edge-agent/bench" "$out/vision/test"
    node deploy/images/prune.mjs edge-agent "$out"
    ;;
  *)
    echo "stage-app.sh: unknown image '$image' (server or edge-agent)" >&2
    exit 2
    ;;
esac
