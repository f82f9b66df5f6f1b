"""The usual Python edge pipeline, as Sedna's pedestrian-tracking example builds it: OpenCV decode, YOLOX-nano
in onnxruntime (416x416 letterbox, the YOLOX demo preprocessing), YOLOX decode + OpenCV NMS, ByteTrack from
PyPI (cjm-byte-track, a numpy/scipy port of the official tracker). No ReID. Run by bench:edge --peer in a
venv it creates; prints one JSON line (frames, wall and CPU time) and writes MOT results.

usage: peer_pipeline.py MODEL VIDEO OUT_MOT [--max-frames N] [--threads N]
"""
import argparse
import json
import os
import time

import cv2
import numpy as np
import onnxruntime as ort
from cjm_byte_track.byte_tracker import BYTETracker

STRIDES = (8, 16, 32)
SIZE = 416


def preprocess(img):
    """YOLOX demo letterbox: scale to fit 416x416, top-left, pad 114; BGR 0-255 float, CHW."""
    r = min(SIZE / img.shape[0], SIZE / img.shape[1])
    resized = cv2.resize(img, (int(img.shape[1] * r), int(img.shape[0] * r)), interpolation=cv2.INTER_LINEAR)
    padded = np.full((SIZE, SIZE, 3), 114, np.uint8)
    padded[: resized.shape[0], : resized.shape[1]] = resized
    return np.ascontiguousarray(padded.transpose(2, 0, 1)[None], dtype=np.float32), r


def grids():
    g, s = [], []
    for st in STRIDES:
        n = SIZE // st
        yv, xv = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
        g.append(np.stack((xv, yv), 2).reshape(-1, 2))
        s.append(np.full((n * n, 1), st))
    return np.concatenate(g).astype(np.float32), np.concatenate(s).astype(np.float32)


def detect(out, grid, stride, r, score_thr=0.1, nms_thr=0.45):
    """Person boxes (x1, y1, x2, y2, score) in frame pixels."""
    p = out[0]
    xy = (p[:, :2] + grid) * stride
    wh = np.exp(p[:, 2:4]) * stride
    score = p[:, 4] * p[:, 5]  # objectness x p(person)
    keep = score >= score_thr
    xy, wh, score = xy[keep], wh[keep], score[keep]
    boxes = np.concatenate((xy - wh / 2, wh), 1) / r
    if len(boxes) == 0:
        return np.zeros((0, 5), np.float32)
    idx = cv2.dnn.NMSBoxes(boxes.tolist(), score.tolist(), score_thr, nms_thr)
    idx = np.array(idx).reshape(-1)
    b = boxes[idx]
    return np.concatenate((b[:, :2], b[:, :2] + b[:, 2:], score[idx, None]), 1)


def main():
    a = argparse.ArgumentParser()
    a.add_argument("model")
    a.add_argument("video")
    a.add_argument("out")
    a.add_argument("--max-frames", type=int, default=0)
    a.add_argument("--threads", type=int, default=0, help="onnxruntime intra-op threads (0: its default, all cores)")
    o = a.parse_args()
    so = ort.SessionOptions()
    if o.threads:
        so.intra_op_num_threads = o.threads
    sess = ort.InferenceSession(o.model, so, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    grid, stride = grids()
    cap = cv2.VideoCapture(o.video)
    tracker = BYTETracker(track_thresh=0.5, track_buffer=30, match_thresh=0.8, frame_rate=30)
    rows, n = [], 0
    t0, c0 = time.perf_counter(), time.process_time()
    while True:
        ok, img = cap.read()
        if not ok or (o.max_frames and n >= o.max_frames):
            break
        n += 1
        x, r = preprocess(img)
        dets = detect(sess.run(None, {name: x})[0], grid, stride, r)
        h, w = img.shape[:2]
        for t in tracker.update(dets, (h, w), (h, w)):
            tx, ty, tw, th = t.tlwh
            rows.append(f"{n},{t.track_id},{tx:.2f},{ty:.2f},{tw:.2f},{th:.2f},{t.score:.4f},-1,-1,-1")
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    with open(o.out, "w") as f:
        f.write("\n".join(rows) + "\n")
    print(json.dumps({"frames": n, "wallSeconds": wall, "cpuSeconds": cpu, "threads": o.threads or os.cpu_count(), "opencv": cv2.__version__, "onnxruntime": ort.__version__}))


if __name__ == "__main__":
    main()
