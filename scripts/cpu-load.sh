#!/usr/bin/env bash
# Runs a command with every core saturated by other work: one busy loop per core (nice 0, like any other
# job on a shared machine), stopped when the command ends. Used to prove the suite does not depend on speed:
#   bash scripts/cpu-load.sh npm test
# MEI_LOAD_WORKERS overrides the number of busy loops (default: nproc).
set -euo pipefail
n="${MEI_LOAD_WORKERS:-$(nproc)}"
pids=()
stop() { kill "${pids[@]}" 2>/dev/null || true; }
trap stop EXIT
for _ in $(seq "$n"); do
  bash -c 'while :; do :; done' &
  pids+=($!)
done
echo "[cpu-load] $n busy loops on $(nproc) cores; load average: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
start=$(date +%s)
set +e
"$@"
rc=$?
set -e
echo "[cpu-load] '$*' exited $rc after $(( $(date +%s) - start )) s; load average: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
exit $rc
