"""Int8 copies of MEI's ONNX models (issue #16): onnxruntime's static quantization (QDQ, per-channel int8
weights, uint8 activations) calibrated on frames of the user's own video. Run by scripts/quantize-models.sh,
which creates the venv; the float files are only read. Writes <out>/<name>.int8.onnx and links the float
originals beside them, so MEI_MODEL_DIR=<out> offers both (registry names yolox-nano / yolox-nano-int8 ...).

usage: quantize_models.py --models DIR --out DIR --video FILE [--frames N] [--boxes MOT_DET_FILE]
       [--only detector|reid] [--detector-size WxH] [--calibration minmax|entropy|percentile]
       [--float-stem N] [--float-head N] [--activations uint8|int8] [--reduce-range] [--format qdq|qoperator]
       [--percentile P]

The detector is mixed int8/float by default: its first 8 conv layers along every path from the input and its
last 6 before the outputs stay float (YOLOX-nano: the stem, the stride-4 stage and the stride-8 entry, 13
convs; the whole head, 36 convs). Why: on the calibration frames the int8 error accumulates fastest there
(signal-to-noise of the activations against the float model falls from 25 to 5 dB within the first three
convs; the head's box regression loses localisation). Activation ranges: percentile calibration (99.999 %)
for the detector, MinMax for ReID. Keeping those layers float costs ~2.6 of the ~4.7 CPU ms that an all-int8
YOLOX-nano saves at 416x320, and keeps MOTA/IDF1 within 0.5 of the float model on PETS09 (all-int8: -2.4 / -2.6).
docs/benchmarks.md "int8 detector, round 3" has the measurements of each option. After
quantizing, the int8 file's output is compared with the float model's on the calibration inputs (printed in
dB) and a file that onnxruntime's graph optimizations break is refused.
"""
import argparse
import os
import subprocess
import sys

import numpy as np
import onnx
import onnx.version_converter
from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType, quantize_static

# Registry files (vision/src/models/registry.ts): float file -> int8 file. Input contracts as MEI feeds them.
DETECTOR = ("yolox_nano.onnx", "yolox_nano.int8.onnx")
REID = ("osnet_x0_25_msmt17.onnx", "osnet_x0_25_msmt17.int8.onnx")
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], np.float32).reshape(3, 1, 1)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], np.float32).reshape(3, 1, 1)


def fail(msg):
    print(f"quantize: {msg}", file=sys.stderr)
    sys.exit(2)


def read_frames(video, n, size=None):
    """n frames spread over the video as RGB uint8 arrays (ffmpeg decodes; optional WxH scale)."""
    probe = subprocess.run(["ffmpeg", "-hide_banner", "-i", video], capture_output=True, text=True).stderr
    import re

    m = re.search(r"Video: .*?(\d{2,5})x(\d{2,5})", probe)
    if not m:
        fail(f"--video: ffmpeg found no video stream in {video}")
    w, h = (size or (int(m.group(1)), int(m.group(2))))
    d = re.search(r"Duration: (\d+):(\d+):([\d.]+)", probe)
    dur = int(d.group(1)) * 3600 + int(d.group(2)) * 60 + float(d.group(3)) if d else 60.0
    vf = f"fps={max(n / max(dur, 1e-3), 0.01):.4f}" + (f",scale={w}:{h}" if size else "")
    raw = subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-i", video, "-vf", vf, "-frames:v", str(n), "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"],
        capture_output=True,
        check=True,
    ).stdout
    count = len(raw) // (w * h * 3)
    if count == 0:
        fail(f"--video: no frames decoded from {video}")
    return [np.frombuffer(raw, np.uint8, w * h * 3, i * w * h * 3).reshape(h, w, 3) for i in range(count)]


def make_dims_symbolic(src, dst):
    """Height and width of the first input become symbolic: MEI feeds any multiple of 32 (fitted input)."""
    model = onnx.load(src)
    # Per-channel QDQ needs DequantizeLinear's axis (opset >= 13); exports are often older (YOLOX: 11).
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 13)
    if opset < 13:
        model = onnx.version_converter.convert_version(model, 13)
    dims = model.graph.input[0].type.tensor_type.shape.dim
    dims[2].dim_param, dims[3].dim_param = "height", "width"
    del model.graph.value_info[:]
    # Output shapes were inferred for the exported size: all but the last dim (classes, embedding) symbolic.
    for out in model.graph.output:
        od = out.type.tensor_type.shape.dim
        for i in range(len(od) - 1):
            od[i].dim_param = f"{out.name}_d{i}"
    onnx.save(model, dst)


class Reader(CalibrationDataReader):
    def __init__(self, name, tensors):
        self.name, self.items = name, iter(tensors)

    def get_next(self):
        t = next(self.items, None)
        return None if t is None else {self.name: t}


def output_tail(model, depth=1):
    """Nodes between the outputs and the last `depth` Conv/Gemm layers on every path to them, those layers
    included. depth 1: quantizing the last layers puts unlike values on one int8 scale (YOLOX concatenates
    box offsets with 0-1 scores: scores lose their resolution and recall drops), so they stay float; a few
    percent of the compute. Larger depths keep more of a detection head float."""
    producer = {o: n for n in model.graph.node for o in n.output}
    seen, todo = {}, [(o.name, 0) for o in model.graph.output]
    while todo:
        tensor, convs = todo.pop()
        n = producer.get(tensor)
        if n is None:
            continue
        convs += n.op_type in ("Conv", "Gemm", "MatMul")
        if convs > depth or seen.get(n.name, depth + 1) <= convs:
            continue
        seen[n.name] = convs
        todo.extend((i, convs) for i in n.input)
    return sorted(seen)


def input_stem(model, depth):
    """Nodes between the input and the first `depth` Conv layers on every path from it, those included."""
    if depth <= 0:
        return []
    consumers = {}
    for n in model.graph.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    seen, todo = {}, [(model.graph.input[0].name, 0)]
    while todo:
        tensor, convs = todo.pop()
        for n in consumers.get(tensor, []):
            c = convs + (n.op_type in ("Conv", "Gemm", "MatMul"))
            if c > depth or seen.get(n.name, depth + 1) <= c:
                continue
            seen[n.name] = c
            # A stem layer's own output stays float; the next layer quantizes it.
            if c < depth or n.op_type not in ("Conv", "Gemm", "MatMul"):
                todo.extend((o, c) for o in n.output)
    return sorted(seen)


class Options:
    """How one model is quantized (see the usage for each field)."""

    def __init__(self, method="minmax", float_head=1, float_stem=0, activations="uint8", reduce_range=False, fmt="qdq", percentile=99.999):
        self.__dict__.update(locals())
        del self.__dict__["self"]


def quantize_once(tmp, dst, name, tensors, o, keep_float):
    extra = {}
    if o.activations == "int8":
        extra["ActivationSymmetric"] = True
    if o.method == "percentile":
        extra["CalibPercentile"] = o.percentile
    quantize_static(
        tmp,
        dst,
        Reader(name, tensors),
        quant_format={"qdq": QuantFormat.QDQ, "qoperator": QuantFormat.QOperator}[o.fmt],
        activation_type=QuantType.QInt8 if o.activations == "int8" else QuantType.QUInt8,
        weight_type=QuantType.QInt8,
        per_channel=True,
        reduce_range=o.reduce_range,
        nodes_to_exclude=sorted(keep_float),
        calibrate_method={"minmax": CalibrationMethod.MinMax, "entropy": CalibrationMethod.Entropy, "percentile": CalibrationMethod.Percentile}[o.method],
        extra_options=extra,
    )


def output_sqnr(float_path, int8_path, name, tensors):
    """Signal-to-noise ratio (dB) of the int8 model's first output against the float model's, as MEI runs
    them (all graph optimizations), and of the int8 graph run without optimizations."""
    import onnxruntime as ort

    def run(path, level):
        so = ort.SessionOptions()
        so.graph_optimization_level = level
        sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
        return [sess.run(None, {name: t})[0] for t in tensors]

    ref = run(float_path, ort.GraphOptimizationLevel.ORT_ENABLE_ALL)

    def sqnr(outs):
        noise = sum(float(np.sum((o - r) ** 2)) for o, r in zip(outs, ref))
        return 10 * np.log10(sum(float(np.sum(r**2)) for r in ref) / max(noise, 1e-30))

    return sqnr(run(int8_path, ort.GraphOptimizationLevel.ORT_ENABLE_ALL)), sqnr(run(int8_path, ort.GraphOptimizationLevel.ORT_DISABLE_ALL))


def quantize(src, dst, tensors, o=None):
    o = o or Options()
    tmp = dst + ".float-symbolic.onnx"
    make_dims_symbolic(src, tmp)
    model = onnx.load(tmp)
    name = model.graph.input[0].name
    keep_float = set(output_tail(model, o.float_head)) | set(input_stem(model, o.float_stem))
    try:
        quantize_once(tmp, dst, name, tensors, o, keep_float)
        # onnxruntime 1.23.2's graph optimizations turn some mixed graphs (a float depthwise conv between int8
        # layers, seen on YOLOX) into wrong results while the same graph unoptimized is fine: check.
        optimized, plain = output_sqnr(tmp, dst, name, tensors[:: max(1, len(tensors) // 8)][:8])
        print(f"{os.path.basename(dst)}: output SNR against the float model on calibration inputs {optimized:.1f} dB")
        if optimized < plain - 1:
            os.remove(dst)
            fail(f"onnxruntime's graph optimizations break the quantized {os.path.basename(dst)} (output SNR {optimized:.1f} dB optimized, {plain:.1f} dB not): keep other layers float")
    finally:
        os.remove(tmp)


def detector_inputs(frames, in_w, in_h):
    """YOLOX as MEI feeds it: BGR 0-255, frame scaled to fit, top-left, grey 114 padding."""
    out = []
    for f in frames:
        t = np.full((3, in_h, in_w), 114, np.float32)
        h, w = f.shape[:2]
        t[:, :h, :w] = f[:, :, ::-1].transpose(2, 0, 1)
        out.append(t[None])
    return out


def resize_nearest(img, w, h):
    ys = (np.arange(h) * img.shape[0] / h).astype(int)
    xs = (np.arange(w) * img.shape[1] / w).astype(int)
    return img[ys][:, xs]


def reid_inputs(frames, boxes, rng):
    """Person crops (from a MOT det file when given, else random upright crops), 256x128 RGB, ImageNet norm."""
    crops = []
    for i, f in enumerate(frames):
        fh, fw = f.shape[:2]
        cand = boxes.get(i, []) if boxes else []
        if not cand:
            for _ in range(4):
                h = int(rng.integers(fh // 6, fh // 2))
                w = max(8, h // 2)
                x, y = int(rng.integers(0, fw - w)), int(rng.integers(0, fh - h))
                cand.append((x, y, w, h))
        for x, y, w, h in cand[:6]:
            x, y = max(0, int(x)), max(0, int(y))
            c = f[y : y + max(2, int(h)), x : x + max(2, int(w))]
            if c.shape[0] < 2 or c.shape[1] < 2:
                continue
            t = resize_nearest(c, 128, 256).astype(np.float32).transpose(2, 0, 1) / 255.0
            crops.append(((t - IMAGENET_MEAN) / IMAGENET_STD)[None].astype(np.float32))
    return crops


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", required=True, help="folder with the float files (read only)")
    p.add_argument("--out", required=True, help="folder for the int8 files (created)")
    p.add_argument("--video", required=True, help="calibration video: the cameras' own scenery is best")
    p.add_argument("--frames", type=int, default=48)
    p.add_argument("--boxes", help="MOT det/gt file of the video (frame,id,x,y,w,h,...) for ReID crops")
    p.add_argument("--only", choices=["detector", "reid"])
    p.add_argument("--calibration", choices=["minmax", "entropy", "percentile"], help="how activation ranges are chosen (default: percentile for the detector, minmax for ReID; entropy equals minmax in onnxruntime 1.23.2: 128 bins for 128 levels)")
    p.add_argument("--detector-size", default="416x320", help="detector input WxH to calibrate at (MEI fits 416 to the frame)")
    g = p.add_argument_group("detector quantization (the ReID network keeps its output tail float, nothing else)")
    g.add_argument("--float-head", type=int, default=6, help="keep the last N conv layers before the outputs float (1: output tail only; 6: YOLOX's whole head)")
    g.add_argument("--float-stem", type=int, default=8, help="keep the first N conv layers after the input float (8: YOLOX-nano's stem, stride-4 stage and stride-8 entry, 13 convs)")
    g.add_argument("--activations", choices=["uint8", "int8"], default="uint8", help="uint8 asymmetric or int8 symmetric activations")
    g.add_argument("--reduce-range", action="store_true", help="7-bit weights (for CPUs without VNNI)")
    g.add_argument("--format", choices=["qdq", "qoperator"], default="qdq")
    g.add_argument("--percentile", type=float, default=99.999, help="with --calibration percentile: the share of values kept inside the range")
    a = p.parse_args()
    if a.frames < 4 or a.frames > 2000:
        fail("--frames must be in [4, 2000]")
    if not 50 <= a.percentile <= 100:
        fail(f"--percentile must be in [50, 100], got {a.percentile}")
    for flag in ("float_head", "float_stem"):
        if not 0 <= getattr(a, flag) <= 200:
            fail(f"--{flag.replace('_', '-')} must be in [0, 200]")
    det_opts = Options(a.calibration or "percentile", a.float_head, a.float_stem, a.activations, a.reduce_range, a.format, a.percentile)
    try:
        in_w, in_h = (int(v) for v in a.detector_size.lower().split("x"))
    except ValueError:
        fail(f"--detector-size must look like 416x320, got {a.detector_size}")
    if os.path.realpath(a.out) == os.path.realpath(a.models):
        fail("--out must differ from --models (the float files are never written)")
    os.makedirs(a.out, exist_ok=True)
    rng = np.random.default_rng(0)
    for float_name, _ in (DETECTOR, REID):
        src, link = os.path.join(a.models, float_name), os.path.join(a.out, float_name)
        if os.path.exists(src) and not os.path.exists(link):
            os.symlink(os.path.realpath(src), link)
    if a.only in (None, "detector"):
        src = os.path.join(a.models, DETECTOR[0])
        if not os.path.exists(src):
            fail(f"--models: {src} not found")
        probe = read_frames(a.video, 1)[0]
        scale = min(in_w / probe.shape[1], in_h / probe.shape[0])
        size = (int(probe.shape[1] * scale), int(probe.shape[0] * scale))
        frames = read_frames(a.video, a.frames, size)
        quantize(src, os.path.join(a.out, DETECTOR[1]), detector_inputs(frames, in_w, in_h), det_opts)
        print(f"wrote {os.path.join(a.out, DETECTOR[1])} ({len(frames)} calibration frames at {in_w}x{in_h})")
    if a.only in (None, "reid"):
        src = os.path.join(a.models, REID[0])
        if not os.path.exists(src):
            fail(f"--models: {src} not found")
        frames = read_frames(a.video, a.frames)
        boxes = None
        if a.boxes:
            # Frames were sampled evenly: map each sample to its nearest video frame's boxes.
            rows = np.loadtxt(a.boxes, delimiter=",", ndmin=2)
            last = int(rows[:, 0].max())
            boxes = {}
            for i in range(len(frames)):
                fr = 1 + round(i * (last - 1) / max(1, len(frames) - 1))
                boxes[i] = [tuple(r[2:6]) for r in rows[rows[:, 0] == fr]]
        crops = reid_inputs(frames, boxes, rng)
        quantize(src, os.path.join(a.out, REID[1]), crops, Options(a.calibration or "minmax"))
        print(f"wrote {os.path.join(a.out, REID[1])} ({len(crops)} calibration crops)")
    print(f"use: MEI_MODEL_DIR={os.path.realpath(a.out)} with models yolox-nano-int8 / osnet-x0.25-msmt17-int8")


if __name__ == "__main__":
    main()
