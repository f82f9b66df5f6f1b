// The bilinear resize of resize.ts as two WebAssembly functions: one pass (each output value from its four
// neighbours: the detector's letterbox, 768x576 -> 416x312) and separable (each source row resized once and
// kept while output rows blend it: ReID crops stretched to 128x256). Against the one-pass JavaScript they
// replaced, whose typed-array loads each carry a bounds check: letterbox ~2.1 -> ~1.3 CPU ms a frame, a crop
// ~0.55 -> ~0.2 ms (npm run bench:preprocess). The module is assembled below from its instructions (a few
// hundred bytes; no toolchain, no binary in the repository). WebAssembly's f64 arithmetic and f32.demote round
// to nearest like JavaScript's numbers and Float32Array stores, and every expression is evaluated in the same
// order, so the tensors have the same bits (vision/test/resize.test.ts).
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

// Both functions take (src, dst, planeBytes, rowBytes, dw, dh, c0, c1, c2, xs0, xs1, xw, ys0, ys1, yw, m0, m1,
// m2, a0, a1, a2, rows): byte addresses (src: the frame's first byte), output rows rowBytes apart, planes
// planeBytes; rows: scratch for two resized source rows of the separable pass (3 x dw float64 each).
const [SRC, DST, PLANE, ROW, DW, DH] = [0, 1, 2, 3, 4, 5];
const C = [6, 7, 8];
const [XS0, XS1, XW, YS0, YS1, YW] = [9, 10, 11, 12, 13, 14];
const M = [15, 16, 17];
const A = [18, 19, 20];
const ROWS = 21;
const PARAMS = [...Array<number>(15).fill(I32), ...Array<number>(6).fill(F64), I32];
const [Y, X, R0, R1, O, P00, P01, P10, P11, TOP, BOT, TOP_ROW, BOT_ROW, PX, SWAP] = Array.from({ length: 15 }, (_, i) => 22 + i);
const [WY, WX, T, B, TMP] = Array.from({ length: 5 }, (_, i) => 37 + i);
const LOCALS = [
  [15, I32],
  [5, F64],
];

/** base + (i << shift) */
const at = (base: number, i: number, shift: number) => [...get(base), ...get(i), ...i32(shift), ...SHL, ...ADD];
const byteAt = (p: number, c: number) => [...get(p), ...get(c), ...ADD, ...LOAD8_U, ...FROM_U8];
/** dst = a + (b - a) * wx, a and b the bytes of channel c at p and q (as `t` / `b` in resize.ts). */
const lerpX = (p: number, q: number, c: number, dst: number) => [...byteAt(p, c), ...tee(TMP), ...byteAt(q, c), ...get(TMP), ...FSUB, ...get(WX), ...FMUL, ...FADD, ...set(dst)];
/** Address O + k * PLANE of plane k's output value. */
const outAt = (k: number) => [...get(O), ...(k > 0 ? [...get(PLANE), ...ADD] : []), ...(k > 1 ? [...get(PLANE), ...ADD] : [])];
/** f32((t + (b - t) * wy) * m + a) of plane k, stored at outAt(k). */
const blendStore = (k: number) => [...outAt(k), ...get(T), ...get(B), ...get(T), ...FSUB, ...get(WY), ...FMUL, ...FADD, ...get(M[k]), ...FMUL, ...get(A[k]), ...FADD, ...DEMOTE, ...STORE_F32];
/** for (x = 0; x < dw; x++) { body } */
const forX = (body: number[]) => [...i32(0), ...set(X), ...BLOCK, ...LOOP, ...get(X), ...get(DW), ...GE_S, ...brIf(1), ...body, ...get(X), ...i32(1), ...ADD, ...set(X), ...br(0), ...END, ...END];
/** for (y = 0; y < dh; y++) { wy = yw[y]; o = dst + y * rowBytes; body } */
const forY = (body: number[]) => [
  ...i32(0), ...set(Y), ...BLOCK, ...LOOP, ...get(Y), ...get(DH), ...GE_S, ...brIf(1),
  ...at(YW, Y, 3), ...LOAD_F64, ...set(WY),
  ...get(DST), ...get(Y), ...get(ROW), ...MUL, ...ADD, ...set(O),
  ...body,
  ...get(Y), ...i32(1), ...ADD, ...set(Y), ...br(0), ...END, ...END,
];
/** r = src + table[y] (a source row's address) */
const rowAddress = (table: number, r: number) => [...at(table, Y, 2), ...LOAD_I32, ...get(SRC), ...ADD, ...set(r)];
/** p = r + table[x] (a source pixel's address) */
const pixel = (table: number, r: number, p: number) => [...at(table, X, 2), ...LOAD_I32, ...get(r), ...ADD, ...set(p)];
const loadWx = [...at(XW, X, 2), ...LOAD_F32, ...PROMOTE, ...set(WX)];

// One pass: each output value from its four neighbours.
const ONE_PASS = forY([
  ...rowAddress(YS0, R0),
  ...rowAddress(YS1, R1),
  ...forX([
    ...pixel(XS0, R0, P00), ...pixel(XS1, R0, P01), ...pixel(XS0, R1, P10), ...pixel(XS1, R1, P11), ...loadWx,
    ...[0, 1, 2].flatMap((k) => [...lerpX(P00, P01, C[k], T), ...lerpX(P10, P11, C[k], B), ...blendStore(k)]),
    ...get(O), ...i32(4), ...ADD, ...set(O),
  ]),
]);

// Separable: the source row at address r resized into the row buffer at `buf` (plane k at buf + 8 * dw * k).
const F64_STORE = [0x39, 3, 0];
const plane8 = (k: number) => (k > 0 ? [...get(DW), ...i32(3 + (k - 1)), ...SHL, ...ADD] : []);
const resizeRow = (r: number, buf: number) => [
  ...forX([
    ...pixel(XS0, r, P00), ...pixel(XS1, r, P01), ...loadWx,
    ...at(buf, X, 3), ...set(PX),
    ...[0, 1, 2].flatMap((k) => [...get(PX), ...plane8(k), ...lerpX(P00, P01, C[k], T), ...get(T), ...F64_STORE]),
  ]),
];
const loadRow = (buf: number, k: number, dst: number) => [...at(buf, X, 3), ...plane8(k), ...LOAD_F64, ...set(dst)];
const blendRows = forX([
  ...[0, 1, 2].flatMap((k) => [...loadRow(TOP, k, T), ...loadRow(BOT, k, B), ...blendStore(k)]),
  ...get(O), ...i32(4), ...ADD, ...set(O),
]);
const [EQ, EQZ, AND, IF, ELSE] = [[0x46], [0x45], [0x71], [0x04, 0x40], [0x05]];
const SEPARABLE = [
  ...get(ROWS), ...set(TOP),
  ...get(ROWS), ...get(DW), ...i32(24), ...MUL, ...ADD, ...set(BOT),
  ...i32(-1), ...tee(TOP_ROW), ...set(BOT_ROW),
  ...forY([
    ...rowAddress(YS0, R0),
    ...rowAddress(YS1, R1),
    // Unless this output row blends the same two source rows as the last one:
    ...get(R0), ...get(TOP_ROW), ...EQ, ...get(R1), ...get(BOT_ROW), ...EQ, ...AND, ...EQZ, ...IF,
    ...get(R0), ...get(BOT_ROW), ...EQ, ...IF,
    // one source row down: the bottom row becomes the top one
    ...get(TOP), ...set(SWAP), ...get(BOT), ...set(TOP), ...get(SWAP), ...set(BOT), ...get(R0), ...set(TOP_ROW),
    ...ELSE,
    ...get(R0), ...get(TOP_ROW), ...EQ, ...EQZ, ...IF, ...resizeRow(R0, TOP), ...get(R0), ...set(TOP_ROW), ...END,
    ...END,
    ...resizeRow(R1, BOT), ...get(R1), ...set(BOT_ROW),
    ...END,
    ...blendRows,
  ]),
];

const func = (body: number[]) => {
  const f = [...vec(LOCALS.map(([n, t]) => [...uleb(n), t])), ...body, ...END];
  return [...uleb(f.length), ...f];
};
const MODULE = new Uint8Array([
  ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
  ...section(1, vec([[0x60, ...vec(PARAMS.map((t) => [t])), 0]])),
  ...section(3, vec([[0], [0]])),
  ...section(5, vec([[0x00, 1]])),
  ...section(7, vec([[...name('onePass'), 0x00, 0], [...name('separable'), 0x00, 1], [...name('mem'), 0x02, 0]])),
  ...section(10, vec([func(ONE_PASS), func(SEPARABLE)])),
]);

// One instance per thread (a module's memory is its own): the detector worker and the main thread each get one.
const instance = new WebAssembly.Instance(new WebAssembly.Module(MODULE), {});
const exported = instance.exports as { onePass: (...args: number[]) => void; separable: (...args: number[]) => void; mem: WebAssembly.Memory };
const memory = exported.mem;

const align = (n: number) => (n + 15) & ~15;

/**
 * resize.ts's resize of the output rows [0, dh) with the taps already computed, one pass or separable:
 * copies the taps and the source rows they read into the module's memory, runs, and copies the dw x dh
 * block of each plane into p.out at `offset` (rows planeW apart).
 */
export function resizeWasm(separable: boolean, p: Pass, t: Taps, dh: number, offset: number, planeW: number, stride: number): void {
  const { data, out, plane, dw } = p;
  const first = t.ys0[0];
  const end = Math.min(data.length, t.ys1[dh - 1] + stride);
  const yw = 0;
  const ys0 = yw + 8 * dh;
  const ys1 = ys0 + 4 * dh;
  const xs0 = ys1 + 4 * dh;
  const xs1 = xs0 + 4 * dw;
  const xw = xs1 + 4 * dw;
  const rows = align(xw + 4 * dw);
  const src = align(rows + (separable ? 48 * dw : 0));
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
  (separable ? exported.separable : exported.onePass)(src - first, dst, 4 * dw * dh, 4 * dw, dw, dh, p.c0, p.c1, p.c2, xs0, xs1, xw, ys0, ys1, yw, p.m0, p.m1, p.m2, p.a0, p.a1, p.a2, rows);
  const res = new Float32Array(buf, dst, 3 * dw * dh);
  for (let c = 0; c < 3; c++) {
    if (dw === planeW) out.set(res.subarray(c * dw * dh, (c + 1) * dw * dh), offset + c * plane);
    else for (let y = 0; y < dh; y++) out.set(res.subarray((c * dh + y) * dw, (c * dh + y + 1) * dw), offset + c * plane + y * planeW);
  }
}
