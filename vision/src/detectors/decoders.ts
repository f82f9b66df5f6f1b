// Raw network output -> person boxes in network-input pixels (before NMS).
import type { Detection } from '../types.ts';

export interface DecodeContext {
  inputWidth: number;
  inputHeight: number;
  scoreThreshold: number;
  /** COCO classes to keep (MEI: [0] = person). */
  classIds: readonly number[];
}

export interface OutputDecoder {
  /** Throws a message when the output shape cannot come from this decoder at this input size. */
  check(dims: readonly number[], ctx: DecodeContext): void;
  decode(data: Float32Array, dims: readonly number[], ctx: DecodeContext): Detection[];
}

export const YOLOX_STRIDES = [8, 16, 32] as const;

export function yoloxAnchorCount(w: number, h: number): number {
  return YOLOX_STRIDES.reduce((n, s) => n + Math.floor(w / s) * Math.floor(h / s), 0);
}

/**
 * YOLOX raw head output [1, N, 5 + C]: per anchor (x, y, log w, log h, objectness, class probs),
 * anchors in stride order 8/16/32, row-major grids. Box: cx = (x + gx) * s, w = exp(w) * s; score = obj * p(class).
 */
export const yoloxDecoder: OutputDecoder = {
  check(dims, ctx) {
    const n = yoloxAnchorCount(ctx.inputWidth, ctx.inputHeight);
    if (dims.length !== 3 || dims[1] !== n || dims[2] < 6) {
      throw new Error(`YOLOX output must be [1, ${n}, 5+classes] for a ${ctx.inputWidth}x${ctx.inputHeight} input, got [${dims.join(', ')}]`);
    }
  },
  decode(data, dims, ctx) {
    const n = dims[1];
    const step = dims[2];
    const out: Detection[] = [];
    let a = 0;
    for (const s of YOLOX_STRIDES) {
      const gw = Math.floor(ctx.inputWidth / s);
      const gh = Math.floor(ctx.inputHeight / s);
      for (let gy = 0; gy < gh; gy++) {
        for (let gx = 0; gx < gw; gx++, a++) {
          if (a >= n) return out;
          const o = a * step;
          const obj = data[o + 4];
          if (obj < ctx.scoreThreshold) continue; // score = obj * p <= obj
          for (const c of ctx.classIds) {
            const score = obj * data[o + 5 + c];
            if (score < ctx.scoreThreshold) continue;
            const w = Math.exp(data[o + 2]) * s;
            const h = Math.exp(data[o + 3]) * s;
            out.push({ x: (data[o] + gx) * s - w / 2, y: (data[o + 1] + gy) * s - h / 2, w, h, score, classId: c });
          }
        }
      }
    }
    return out;
  },
};

/**
 * YOLOv8-style output [1, 4 + C, N] (cx, cy, w, h in input pixels, then class scores), also accepted
 * transposed as [1, N, 4 + C] when N > 4 + C.
 */
export const yolov8Decoder: OutputDecoder = {
  check(dims, ctx) {
    const maxClass = Math.max(...ctx.classIds);
    if (dims.length !== 3 || Math.min(dims[1], dims[2]) < 5 + maxClass) {
      throw new Error(`YOLOv8 output must be [1, 4+classes, anchors], got [${dims.join(', ')}]`);
    }
  },
  decode(data, dims, ctx) {
    // Channel-first when the attribute axis is the small one.
    const channelFirst = dims[1] < dims[2];
    const n = channelFirst ? dims[2] : dims[1];
    const attrs = channelFirst ? dims[1] : dims[2];
    const at = channelFirst ? (i: number, k: number) => data[k * n + i] : (i: number, k: number) => data[i * attrs + k];
    const out: Detection[] = [];
    for (let i = 0; i < n; i++) {
      for (const c of ctx.classIds) {
        const score = at(i, 4 + c);
        if (score < ctx.scoreThreshold) continue;
        const w = at(i, 2);
        const h = at(i, 3);
        out.push({ x: at(i, 0) - w / 2, y: at(i, 1) - h / 2, w, h, score, classId: c });
      }
    }
    return out;
  },
};
