// Real data for the NanoDet tests and benchmark: chosen frames of PETS09-S2L1 (vtest.avi), its
// evaluated ground truth per 0-based video frame, and detection hit counting.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { readMotFile } from '../../tools/src/mot-eval/motFormat.ts';
import { iou } from '@mei/vision/geometry';
import type { Box, Detection, Frame } from '@mei/vision/types';
import { findFfmpeg, probeVideo } from '../src/sources/ffmpeg.ts';
import { PETS_GT } from '../../test/support/shared-data.ts';

export { MODEL_DIR, VTEST as PETS_VIDEO } from '../../test/support/shared-data.ts';

/** Decodes the given 0-based frames of a video to RGB24 with one ffmpeg run. */
export async function readVideoFrames(file: string, indices: number[]): Promise<Frame[]> {
  const ffmpeg = findFfmpeg();
  const { width, height, fps } = await probeVideo(ffmpeg, ['-i', file]);
  const sorted = [...new Set(indices)].sort((a, b) => a - b);
  const select = sorted.map((n) => `eq(n\\,${n})`).join('+');
  const { stdout } = await promisify(execFile)(
    ffmpeg,
    ['-v', 'error', '-nostdin', '-i', file, '-vf', `select=${select}`, '-vsync', '0', '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1'],
    { encoding: 'buffer', maxBuffer: sorted.length * width * height * 3 + 1024 },
  );
  const size = width * height * 3;
  if (stdout.length !== sorted.length * size) throw new Error(`ffmpeg returned ${stdout.length} bytes for ${sorted.length} frames of ${width}x${height}`);
  const byIndex = new Map(
    sorted.map((index, k) => [
      index,
      { index, timestampMs: (index / (fps ?? 7)) * 1000, width, height, data: new Uint8Array(stdout.buffer, stdout.byteOffset + k * size, size) },
    ]),
  );
  return indices.map((i) => byIndex.get(i)!);
}

/** Evaluated ground-truth boxes per 0-based video frame (GT frame n + 1; flag-0 rows dropped). */
export function readPetsGt(): Map<number, Box[]> {
  const gt = readMotFile(PETS_GT, { kind: 'gt', format: 'auto' });
  const byFrame = new Map<number, Box[]>();
  for (const r of gt.rows) {
    if (r.conf === 0) continue;
    const list = byFrame.get(r.frame - 1) ?? [];
    list.push({ x: r.x, y: r.y, w: r.w, h: r.h });
    byFrame.set(r.frame - 1, list);
  }
  return byFrame;
}

export interface MatchCounts {
  gt: number;
  detections: number;
  truePositives: number;
}

/** Greedy one-to-one matching by IoU (highest score first), as detection benchmarks count hits. */
export function matchDetections(dets: Detection[], gt: Box[], minIou = 0.5): MatchCounts {
  const used = new Uint8Array(gt.length);
  let tp = 0;
  for (const d of [...dets].sort((a, b) => b.score - a.score)) {
    let best = -1;
    let bestIou = minIou;
    gt.forEach((g, i) => {
      const v = iou(d, g);
      if (!used[i] && v >= bestIou) {
        best = i;
        bestIou = v;
      }
    });
    if (best >= 0) {
      used[best] = 1;
      tp++;
    }
  }
  return { gt: gt.length, detections: dets.length, truePositives: tp };
}

export function sumCounts(list: MatchCounts[]): MatchCounts & { recall: number; precision: number } {
  const s = list.reduce((a, c) => ({ gt: a.gt + c.gt, detections: a.detections + c.detections, truePositives: a.truePositives + c.truePositives }), {
    gt: 0,
    detections: 0,
    truePositives: 0,
  });
  return { ...s, recall: s.gt ? s.truePositives / s.gt : 0, precision: s.detections ? s.truePositives / s.detections : 0 };
}
