// NanoDet (GFL head) outputs -> boxes in network-input pixels, before NMS.
//
// Per stride s in 8/16/32 the model gives, for each grid cell (row-major, ceil(H/s) x ceil(W/s)):
//   class scores [cells, C] (sigmoid already applied in the graph) and
//   box distances [cells, 4 * B]: left, top, right, bottom, each a distribution over B = reg_max + 1
//   bins; the distance is the softmax expectation sum(p_i * i) in stride units, measured from the
//   cell centre ((col + 0.5) * s, (row + 0.5) * s).
import type { Detection } from '../../types.ts';

export const NANODET_STRIDES = [8, 16, 32] as const;

export interface NamedOutput {
  dims: readonly number[];
  data: Float32Array;
}

export interface NanoDetLevel {
  stride: number;
  gridW: number;
  gridH: number;
  numClasses: number;
  /** Bins per box side (reg_max + 1). */
  bins: number;
  cls: Float32Array;
  reg: Float32Array;
}

export interface NanoDetDecodeOptions {
  scoreThreshold: number;
  /** COCO class ids to keep; default [0] (person). */
  classIds?: readonly number[];
  /** Cell centre offset in cells (0.5 for NanoDet's GFL head; 0 for NanoDet-Plus). */
  centerOffset?: number;
}

export function gridSize(inputWidth: number, inputHeight: number, stride: number): { gridW: number; gridH: number } {
  return { gridW: Math.ceil(inputWidth / stride), gridH: Math.ceil(inputHeight / stride) };
}

/**
 * Pairs the model's outputs into per-stride levels by shape alone (names differ between exports):
 * [1, cells, C] with the largest last dimension that is not 4 * bins is the class map.
 */
export function matchNanoDetOutputs(outputs: Record<string, NamedOutput>, inputWidth: number, inputHeight: number, numClasses = 80): NanoDetLevel[] {
  const list = Object.entries(outputs);
  return NANODET_STRIDES.map((stride) => {
    const { gridW, gridH } = gridSize(inputWidth, inputHeight, stride);
    const cells = gridW * gridH;
    const atLevel = list.filter(([, o]) => o.dims.length === 3 && o.dims[0] === 1 && o.dims[1] === cells);
    const cls = atLevel.find(([, o]) => o.dims[2] === numClasses);
    const reg = atLevel.find(([, o]) => o !== cls?.[1] && o.dims[2] % 4 === 0 && o.dims[2] >= 8);
    if (!cls || !reg) {
      const seen = list.map(([n, o]) => `${n} [${o.dims.join(',')}]`).join(', ');
      throw new Error(`NanoDet outputs for stride ${stride} at ${inputWidth}x${inputHeight} must be [1,${cells},${numClasses}] and [1,${cells},4*bins]; got ${seen}`);
    }
    return { stride, gridW, gridH, numClasses, bins: reg[1].dims[2] / 4, cls: cls[1].data, reg: reg[1].data };
  });
}

/** Softmax expectation of one side's bins, in bins. */
function expectedBin(reg: Float32Array, offset: number, bins: number): number {
  let max = -Infinity;
  for (let i = 0; i < bins; i++) max = Math.max(max, reg[offset + i]);
  let sum = 0;
  let weighted = 0;
  for (let i = 0; i < bins; i++) {
    const e = Math.exp(reg[offset + i] - max);
    sum += e;
    weighted += e * i;
  }
  return weighted / sum;
}

export function decodeNanoDet(levels: readonly NanoDetLevel[], opts: NanoDetDecodeOptions): Detection[] {
  const classIds = opts.classIds ?? [0];
  const off = opts.centerOffset ?? 0.5;
  const out: Detection[] = [];
  for (const lv of levels) {
    const cells = lv.gridW * lv.gridH;
    const regStep = 4 * lv.bins;
    for (let cell = 0; cell < cells; cell++) {
      for (const c of classIds) {
        const score = lv.cls[cell * lv.numClasses + c];
        if (!(score >= opts.scoreThreshold)) continue;
        const cx = ((cell % lv.gridW) + off) * lv.stride;
        const cy = (Math.floor(cell / lv.gridW) + off) * lv.stride;
        const base = cell * regStep;
        const l = expectedBin(lv.reg, base, lv.bins) * lv.stride;
        const t = expectedBin(lv.reg, base + lv.bins, lv.bins) * lv.stride;
        const r = expectedBin(lv.reg, base + 2 * lv.bins, lv.bins) * lv.stride;
        const b = expectedBin(lv.reg, base + 3 * lv.bins, lv.bins) * lv.stride;
        out.push({ x: cx - l, y: cy - t, w: l + r, h: t + b, score, classId: c });
      }
    }
  }
  return out;
}
