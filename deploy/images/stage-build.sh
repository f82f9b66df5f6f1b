#!/bin/sh
# The build stage of both images, run in the repository's tree (the Containerfiles' RUN and the chroot build
# of scripts/build-images.sh run this same file): dependencies from package-lock.json, the Prisma client, the
# production dashboard build, the NanoDet detector converted once (so agents never convert at run time on a
# read-only root), then the dev dependencies dropped.
set -eu
export NEXT_TELEMETRY_DISABLED=1 CHECKPOINT_DISABLE=1 PRISMA_HIDE_UPDATE_MESSAGE=1
npm ci --no-audit --no-fund
node scripts/prepare.mjs
node --import tsx tools/src/nanodet-convert.ts --out image-models/nanodet-g.onnx
npm prune --omit=dev --no-audit --no-fund
rm -rf .next/cache
