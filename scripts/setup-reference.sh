#!/usr/bin/env bash
# Creates the Python venv (.venv-ref at the repo root) that holds the reference MOT evaluators
# (py-motmetrics, TrackEval) used by tools/test/eval-parity.test.ts. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv-ref/bin/python ]; then
  python3 -m venv .venv-ref
fi
.venv-ref/bin/pip install --quiet --disable-pip-version-check -r test/reference/requirements.txt
.venv-ref/bin/python -c 'import motmetrics, trackeval; print("reference venv ready: motmetrics", motmetrics.__version__)'
.venv-ref/bin/python -c 'import prometheus_client' 
