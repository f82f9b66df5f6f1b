#!/usr/bin/env bash
# The README's first contact, as a new user does it: a fresh clone, `npm install && npm start` with an empty
# environment, then sign in as admin with the generated password and wait until the demo job is Running
# with every camera Streaming. Prints one JSON line with what it saw and the timings.
#   bash scripts/first-contact.sh [commit]      (default: HEAD of this checkout)
# The clone goes beside this checkout (so a sibling ../shared with models and data resolves as for a user),
# into a folder removed at the end. PORT is the only thing set for `npm start`, so a server already on :3000
# is not disturbed (MEI_FIRST_CONTACT_PORT, default 3999).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
commit="${1:-HEAD}"
port="${MEI_FIRST_CONTACT_PORT:-3999}"
dir="$(mktemp -d "$(dirname "$repo")/first-contact.XXXXXX")"
logs="$(mktemp -d)"
server=""
cleanup() {
  [[ -n "$server" ]] && kill -TERM -- "-$server" 2>/dev/null || true
  sleep 2
  [[ -n "$server" ]] && kill -KILL -- "-$server" 2>/dev/null || true
  rm -rf "$dir" "$logs"
}
trap cleanup EXIT
log() { echo "[first-contact] $*" >&2; }

git clone -q "$repo" "$dir"
git -C "$dir" checkout -q "$commit"
cd "$dir"
t0=$(date +%s)
env -i HOME="$HOME" PATH="$PATH" npm install >"$logs/install.log" 2>&1 || { tail -30 "$logs/install.log" >&2; log "npm install failed"; exit 1; }
t1=$(date +%s)
log "npm install: exit 0 in $((t1 - t0)) s"
# setsid: the server and its agents in one process group, stopped together at the end.
setsid env -i HOME="$HOME" PATH="$PATH" PORT="$port" npm start >"$logs/start.log" 2>&1 &
server=$!
base="http://127.0.0.1:$port"
until curl -sf "$base/api/health" >/dev/null; do
  kill -0 "$server" 2>/dev/null || { tail -40 "$logs/start.log" >&2; log "npm start exited"; exit 1; }
  [[ $(( $(date +%s) - t1 )) -lt 900 ]] || { tail -40 "$logs/start.log" >&2; log "no /api/health after 900 s"; exit 1; }
  sleep 2
done
t2=$(date +%s)
log "dashboard answers after $((t2 - t1)) s"
dashboard=$(curl -s -o /dev/null -w '%{http_code}' "$base/")
password="$(cat .mei/admin-password)"
jar="$logs/cookies"
body=$(node -e 'process.stdout.write(JSON.stringify({username:"admin",password:process.argv[1]}))' "$password")
curl -sf -c "$jar" -H 'content-type: application/json' -d "$body" "$base/api/auth/login" >/dev/null || { log "sign-in with .mei/admin-password failed"; exit 1; }
while :; do
  jobs="$(curl -sf -b "$jar" "$base/api/jobs" || true)"
  summary="$(node -e '
    const r = JSON.parse(process.argv[1] || "{}");
    const items = Array.isArray(r) ? r : (r.items ?? r.jobs ?? []);
    const j = items[0];
    if (!j) { console.log("{}"); process.exit(0); }
    const cams = (j.status?.cameras ?? []).map((c) => ({ name: c.name, state: c.state ?? c.phase, fps: c.fps }));
    console.log(JSON.stringify({ job: j.metadata.namespace + "/" + j.metadata.name, phase: j.status?.phase, cameras: cams }));
  ' "$jobs")"
  if node -e 'const s = JSON.parse(process.argv[1]); process.exit(s.phase === "Running" && s.cameras.length > 0 && s.cameras.every((c) => c.state === "Streaming") ? 0 : 1)' "$summary"; then break; fi
  [[ $(( $(date +%s) - t2 )) -lt 600 ]] || { log "demo job not Running with every camera Streaming after 600 s: $summary"; tail -40 "$logs/start.log" >&2; exit 1; }
  sleep 2
done
t3=$(date +%s)
log "demo job Running, cameras Streaming, $((t3 - t2)) s after the dashboard answered"
node -e 'console.log(JSON.stringify({ commit: process.argv[1], install_s: +process.argv[2], start_to_dashboard_s: +process.argv[3], dashboard_to_running_s: +process.argv[4], dashboard_status: +process.argv[5], demo: JSON.parse(process.argv[6]), load: process.argv[7] }))' \
  "$(git rev-parse --short HEAD)" "$((t1 - t0))" "$((t2 - t1))" "$((t3 - t2))" "$dashboard" "$summary" "$(cut -d' ' -f1-3 /proc/loadavg)"
