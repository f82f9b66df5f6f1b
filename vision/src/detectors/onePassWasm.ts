// The one-pass bilinear resize of resize.ts as a WebAssembly function: the detector's letterbox (768x576 ->
// 416x312, BGR) costs ~1.3 CPU ms a frame here against ~2 in JavaScript (npm run bench:preprocess), whose
// typed-array loads each carry a bounds check. The module is assembled below from its instructions (a few
// hundred bytes; no toolchain, no binary in the repository). WebAssembly's f64 arithmetic and its f32.demote
// are IEEE-754 round-to-nearest like JavaScript's numbers and Float32Array stores, and the expressions are
// evaluated in the same order, so the tensor has the same bits (vision/test/resize.test.ts).
import type { Pass, Taps } from './resize.ts';

const uleb = (n: number): number[] => {
  const out: number[] = [];
  do {
    const b = n & 0x7f;
    n >>>= 7;
    out.push(n ? b | 0x80 : b);
  } while (n);
  return out;
};
const sleb = (n: number): number[] => {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && !(b & 0x40)) || (n === -1 && b & 0x40)) return [...out, b];
    out.push(b | 0x80);
  }
};
const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];
const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];
const name = (s: string): number[] => [...uleb(s.length), ...new TextEncoder().encode(s)];

const I32 = 0x7f;
const F64 = 0x7c;
const get = (i: number) => [0x20, ...uleb(i)];
const set = (i: number) => [0x21, ...uleb(i)];
const tee = (i: number) => [0x22, ...uleb(i)];
const i32 = (n: number) => [0x41, ...sleb(n)];
const [ADD, MUL, GE_S, SHL] = [[0x6a], [0x6c], [0x4e], [0x74]];
const [LOAD8_U, LOAD_I32, LOAD_F32, LOAD_F64, STORE_F32] = [[0x2d, 0, 0], [0x28, 2, 0], [0x2a, 2, 0], [0x2b, 3, 0], [0x38, 2, 0]];
const [FADD, FSUB, FMUL, FROM_U8, PROMOTE, DEMOTE] = [[0xa0], [0xa1], [0xa2], [0xb8], [0xbb], [0xb6]];
const [BLOCK, LOOP, END] = [[0x02, 0x40], [0x03, 0x40], [0x0b]];
const brIf = (depth: number) => [0x0d, depth];
const br = (depth: number) => [0x0c, depth];

// run(src, dst, planeBytes, rowBytes, dw, dh, c0, c1, c2, xs0, xs1, xw, ys0, ys1, yw, m0, m1, m2, a0, a1, a2):
// byte addresses; rows of the output are rowBytes apart, planes planeBytes.
const [SRC, DST, PLANE, ROW, DW, DH] = [0, 1, 2, 3, 4, 5];
const C = [6, 7, 8];
const [XS0, XS1, XW, YS0, YS1, YW] = [9, 10, 11, 12, 13, 14];
const M = [15, 16, 17];
const A = [18, 19, 20];
const PARAMS = [...Array<number>(15).fill(I32), ...Array<number>(6).fill(F64)];
const [Y, X, R0, R1, O, P00, P01, P10, P11] = [21, 22, 23, 24, 25, 26, 27, 28, 29];
const [WY, WX, T, B, TMP] = [30, 31, 32, 33, 34];
const LOCALS = [
  [9, I32],
  [5, F64],
];

/** base + 4 * i */
const at4 = (base: number, i: number) => [...get(base), ...get(i), ...i32(2), ...SHL, ...ADD];
const byteAt = (p: number, c: number) => [...get(p), ...get(c), ...ADD, ...LOAD8_U, ...FROM_U8];
/** dst = a + (b - a) * wx, a and b the bytes of channel c at p and q (as `t` / `b` in resize.ts). */
const lerpX = (p: number, q: number, c: number, dst: number) => [...byteAt(p, c), ...tee(TMP), ...byteAt(q, c), ...get(TMP), ...FSUB, ...get(WX), ...FMUL, ...FADD, ...set(dst)];
/** out[plane k] = f32((t + (b - t) * wy) * m + a) */
const channel = (k: number) => [
  ...lerpX(P00, P01, C[k], T),
  ...lerpX(P10, P11, C[k], B),
  ...get(O),
  ...(k > 0 ? [...get(PLANE), ...ADD] : []),
  ...(k > 1 ? [...get(PLANE), ...ADD] : []),
  ...get(T), ...get(B), ...get(T), ...FSUB, ...get(WY), ...FMUL, ...FADD, ...get(M[k]), ...FMUL, ...get(A[k]), ...FADD, ...DEMOTE,
  ...STORE_F32,
];
const BODY = [
  ...i32(0), ...set(Y),
  ...BLOCK, ...LOOP,
  ...get(Y), ...get(DH), ...GE_S, ...brIf(1),
  ...at4(YS0, Y), ...LOAD_I32, ...get(SRC), ...ADD, ...set(R0),
  ...at4(YS1, Y), ...LOAD_I32, ...get(SRC), ...ADD, ...set(R1),
  ...get(YW), ...get(Y), ...i32(3), ...SHL, ...ADD, ...LOAD_F64, ...set(WY),
  ...get(DST), ...get(Y), ...get(ROW), ...MUL, ...ADD, ...set(O),
  ...i32(0), ...set(X),
  ...BLOCK, ...LOOP,
  ...get(X), ...get(DW), ...GE_S, ...brIf(1),
  ...at4(XS0, X), ...LOAD_I32, ...tee(P10), ...get(R0), ...ADD, ...set(P00),
  ...get(P10), ...get(R1), ...ADD, ...set(P10),
  ...at4(XS1, X), ...LOAD_I32, ...tee(P11), ...get(R0), ...ADD, ...set(P01),
  ...get(P11), ...get(R1), ...ADD, ...set(P11),
  ...at4(XW, X), ...LOAD_F32, ...PROMOTE, ...set(WX),
  ...channel(0), ...channel(1), ...channel(2),
  ...get(O), ...i32(4), ...ADD, ...set(O),
  ...get(X), ...i32(1), ...ADD, ...set(X),
  ...br(0), ...END, ...END,
  ...get(Y), ...i32(1), ...ADD, ...set(Y),
  ...br(0), ...END, ...END,
  ...END,
];
const FUNC = [...vec(LOCALS.map(([n, t]) => [...uleb(n), t])), ...BODY];
const MODULE = new Uint8Array([
  ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
  ...section(1, vec([[0x60, ...vec(PARAMS.map((t) => [t])), 0]])),
  ...section(3, vec([[0]])),
  ...section(5, vec([[0x00, 1]])),
  ...section(7, vec([[...name('run'), 0x00, 0], [...name('mem'), 0x02, 0]])),
  ...section(10, vec([[...uleb(FUNC.length), ...FUNC]])),
]);

// One instance per thread (a module's memory is its own): the detector worker and the main thread each get one.
const instance = new WebAssembly.Instance(new WebAssembly.Module(MODULE), {});
const run = instance.exports.run as (...args: number[]) => void;
const memory = instance.exports.mem as WebAssembly.Memory;

const align = (n: number) => (n + 15) & ~15;

/**
 * resize.ts's one-pass resize of the output rows [0, dh) with the taps already computed: copies the source
 * rows the taps read into the module's memory, runs, and copies the dw x dh block of each plane into
 * p.out at `offset` (rows planeW apart).
 */
export function onePassWasm(p: Pass, t: Taps, dh: number, offset: number, planeW: number, stride: number): void {
  const { data, out, plane, dw } = p;
  const first = t.ys0[0];
  const end = Math.min(data.length, t.ys1[dh - 1] + stride);
  const yw = 0;
  const ys0 = yw + 8 * dh;
  const ys1 = ys0 + 4 * dh;
  const xs0 = ys1 + 4 * dh;
  const xs1 = xs0 + 4 * dw;
  const xw = xs1 + 4 * dw;
  const src = align(xw + 4 * dw);
  const dst = align(src + end - first);
  const need = dst + 12 * dw * dh;
  if (memory.buffer.byteLength < need) memory.grow(Math.ceil((need - memory.buffer.byteLength) / 65536));
  const buf = memory.buffer;
  new Float64Array(buf, yw, dh).set(t.yw.subarray(0, dh));
  new Int32Array(buf, ys0, dh).set(t.ys0.subarray(0, dh));
  new Int32Array(buf, ys1, dh).set(t.ys1.subarray(0, dh));
  new Int32Array(buf, xs0, dw).set(t.xs0.subarray(0, dw));
  new Int32Array(buf, xs1, dw).set(t.xs1.subarray(0, dw));
  new Float32Array(buf, xw, dw).set(t.xw.subarray(0, dw));
  new Uint8Array(buf, src, end - first).set(data.subarray(first, end));
  // Row offsets count from the frame's first byte, which sits `first` bytes before the copy (i32 wraps).
  run(src - first, dst, 4 * dw * dh, 4 * dw, dw, dh, p.c0, p.c1, p.c2, xs0, xs1, xw, ys0, ys1, yw, p.m0, p.m1, p.m2, p.a0, p.a1, p.a2);
  const res = new Float32Array(buf, dst, 3 * dw * dh);
  for (let c = 0; c < 3; c++) {
    if (dw === planeW) out.set(res.subarray(c * dw * dh, (c + 1) * dw * dh), offset + c * plane);
    else for (let y = 0; y < dh; y++) out.set(res.subarray((c * dh + y) * dw, (c * dh + y + 1) * dw), offset + c * plane + y * planeW);
  }
}
