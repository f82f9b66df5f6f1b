// Fitting the detector's input to the camera's frame. A registry detector letterboxes every frame into its
// nominal square input (416x416); a 4:3 frame then leaves a quarter of the tensor as grey padding that the
// network still convolves. Registry models whose graph runs at any multiple of their stride get an input
// of the frame's aspect ratio at the same scale: 768x576 -> 416x320 (PETS09-S2L1 with YOLOX-nano: 23 %
// less detector work, MOTA / IDF1 unchanged; docs/benchmarks-edge.md).
import type { CameraSpec, DetectorSpec } from '@mei/contracts/job';
import { findModel } from '@mei/vision/models/registry';
import { inputArgs, probeVideo } from '../sources/ffmpeg.ts';
import { findFfmpeg, parseSource } from '../sources/index.ts';

export interface FrameSize {
  width: number;
  height: number;
}

/**
 * The spec with inputWidth/inputHeight fitted to `frame`, or the spec unchanged when the user chose a size,
 * a file (path: its graph may need its exported size), or a model without a sizeStride.
 */
export function fitDetectorInput(spec: DetectorSpec, frame: FrameSize | undefined): DetectorSpec {
  if (!frame || !spec.name || spec.path || spec.inputWidth !== undefined || spec.inputHeight !== undefined) return spec;
  const entry = findModel(spec.name);
  const stride = entry?.sizeStride;
  if (!entry || !stride || !(frame.width > 0 && frame.height > 0)) return spec;
  const { width: w, height: h } = entry.input;
  // The letterbox scale of the nominal input; rounding each side up keeps that scale.
  const scale = Math.min(w / frame.width, h / frame.height);
  const fit = (side: number, max: number) => Math.min(max, Math.max(stride, Math.ceil((side * scale) / stride) * stride));
  return { ...spec, inputWidth: fit(frame.width, w), inputHeight: fit(frame.height, h) };
}

/**
 * The frame size a camera will deliver when it is known before streaming: its ROI, or a probe of a file or
 * image folder. Undefined for network streams and for sources that fail to probe (opening the source then
 * reports the error with its field).
 */
export async function knownFrameSize(camera: Pick<CameraSpec, 'source' | 'roi'>, env: Record<string, string | undefined>): Promise<FrameSize | undefined> {
  if (camera.roi) return { width: camera.roi.width, height: camera.roi.height };
  try {
    const parsed = parseSource(camera.source);
    if (parsed.kind === 'stream') return undefined;
    const info = await probeVideo(findFfmpeg(env), inputArgs(parsed, { realtime: false, loop: false }));
    return { width: info.width, height: info.height };
  } catch {
    return undefined;
  }
}
