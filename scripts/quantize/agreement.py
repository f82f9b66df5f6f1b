"""How closely an int8 YOLOX file reproduces the float model's person detections (issue #16): both run on
every 4th frame of a video from the 3rd (~200 of PETS09's 795; the calibration's 48 evenly spread frames are
mostly others), detections (person score >= 0.3, NMS 0.45) of the int8 file are matched to the float ones at IoU >= 0.5.
No ground truth: it measures fidelity to the float model, not accuracy, so it can rank quantization options
without tuning them to a test sequence's labels. Run with the quantizer's venv:
  ~/.cache/mei/quant-venv/bin/python scripts/quantize/agreement.py --float yolox_nano.onnx --video V.avi INT8.onnx [...]
         [--size 416x320]
Prints per file: F1 / TP / FP / FN against the float detections, mean IoU of the matched boxes, mean score
change of the matched boxes.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

import numpy as np
import onnxruntime as ort

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from quantize_models import detector_inputs, fail, make_dims_symbolic  # noqa: E402

STRIDES = (8, 16, 32)


def frames_of(video, w, h):
    probe = subprocess.run(["ffmpeg", "-hide_banner", "-i", video], capture_output=True, text=True).stderr
    m = re.search(r"Video: .*?(\d{2,5})x(\d{2,5})", probe)
    if not m:
        fail(f"--video: ffmpeg found no video stream in {video}")
    s = min(w / int(m.group(1)), h / int(m.group(2)))
    fw, fh = int(int(m.group(1)) * s), int(int(m.group(2)) * s)
    vf = f"select='eq(mod(n\\,4)\\,2)',scale={fw}:{fh}"
    raw = subprocess.run(["ffmpeg", "-loglevel", "error", "-i", video, "-vf", vf, "-vsync", "0", "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"], capture_output=True, check=True).stdout
    n = len(raw) // (fw * fh * 3)
    return detector_inputs([np.frombuffer(raw, np.uint8, fw * fh * 3, i * fw * fh * 3).reshape(fh, fw, 3) for i in range(n)], w, h)


def iou(a, b):
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    i = ix * iy
    return i / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - i + 1e-9)


def persons(out, w, h, thr=0.3):
    """YOLOX raw output [N, 85] -> person boxes x1,y1,x2,y2,score after NMS (as vision/src/detectors decodes)."""
    rows, a = [], 0
    for st in STRIDES:
        gw, gh = w // st, h // st
        g = out[a : a + gw * gh]
        a += gw * gh
        gy, gx = np.divmod(np.arange(gw * gh), gw)
        sc = g[:, 4] * g[:, 5]
        k = sc >= thr
        bw, bh = np.exp(g[k, 2]) * st, np.exp(g[k, 3]) * st
        cx, cy = (g[k, 0] + gx[k]) * st, (g[k, 1] + gy[k]) * st
        rows.append(np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2, sc[k]], 1))
    b = np.concatenate(rows)
    keep = []
    for r in b[np.argsort(-b[:, 4])]:
        if all(iou(r, q) < 0.45 for q in keep):
            keep.append(r)
    return keep


def run(path, tensors):
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    return [sess.run(None, {name: t})[0][0] for t in tensors]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--float", required=True, help="the float YOLOX file")
    p.add_argument("--video", required=True)
    p.add_argument("--size", default="416x320", help="detector input WxH")
    p.add_argument("int8", nargs="+", help="int8 files to compare")
    a = p.parse_args()
    try:
        w, h = (int(v) for v in a.size.lower().split("x"))
    except ValueError:
        fail(f"--size must look like 416x320, got {a.size}")
    tensors = frames_of(a.video, w, h)
    with tempfile.TemporaryDirectory() as tmp:
        sym = os.path.join(tmp, "float.onnx")
        make_dims_symbolic(a.float, sym)  # the release export fixes 416x416
        ref = [persons(o, w, h) for o in run(sym, tensors)]
    for f in a.int8:
        tp = fp = fn = 0
        ious, dscore = [], []
        for r, q in zip(ref, [persons(o, w, h) for o in run(f, tensors)]):
            used = set()
            for x in r:
                best, bj = 0.5, -1
                for j, y in enumerate(q):
                    v = iou(x, y)
                    if j not in used and v >= best:
                        best, bj = v, j
                if bj < 0:
                    fn += 1
                    continue
                used.add(bj)
                tp += 1
                ious.append(best)
                dscore.append(q[bj][4] - x[4])
            fp += len(q) - len(used)
        print(f"{f}: {w}x{h}, {len(tensors)} frames, F1 {2 * tp / max(1, 2 * tp + fp + fn):.4f} (tp {tp} fp {fp} fn {fn}), matched mean IoU {np.mean(ious) if ious else 0:.3f}, score change {np.mean(dscore) if dscore else 0:+.4f}")


if __name__ == "__main__":
    main()
