#!/usr/bin/env bash
# Model preparation (issue #16): int8 copies of YOLOX-nano and OSNet x0.25 for small edge nodes, made with
# onnxruntime's own quantization tools in a venv created here from PyPI. The float files are only read; the
# int8 files (and links to the float ones) go to --out, which then serves as MEI_MODEL_DIR.
#   scripts/quantize-models.sh --models DIR --out DIR --video FILE [--frames N] [--boxes MOT_FILE] [--only detector|reid]
#                              [--float-stem N] [--float-head N] [...]   (--help lists all; defaults are the measured best)
# Env: MEI_QUANT_VENV (default ~/.cache/mei/quant-venv). Calibrate on video of the cameras that will run it.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="${MEI_QUANT_VENV:-$HOME/.cache/mei/quant-venv}"
# The quantizer's onnxruntime matches the runtime MEI uses (onnxruntime-node 1.23.2).
pins=(onnxruntime==1.23.2 onnx==1.23.2 numpy==2.4.6)
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import onnxruntime, onnx, numpy' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet "${pins[@]}"
fi
exec "$venv/bin/python" "$here/quantize/quantize_models.py" "$@"
