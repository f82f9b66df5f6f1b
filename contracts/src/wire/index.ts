// Wire protocol 2 for observation batches (agent -> server): a compact binary form of the canonical
// ObservationBatch (events.ts stays the one source of the batch's shape and meaning). MessagePack
// (@msgpack/msgpack) carries the structure; inside it the per-frame tracks are one byte string of varints:
//   batch = [2, jobKey, camera, seq, session|nil, width, height, frameIndex0, timestampUs0, emittedAt0, frames, embeddings|nil]
//           (+ [droppedCount, heldFrom] as a 13th field only when the agent declares dropped batches)
//   frame = [dFrameIndex, dTimestampUs, dEmittedAtMs, tracks: bin] (+ [width, height] when it differs from the header)
//   track = varint(id*4 + state) zigzag(x) zigzag(y) varint(w) varint(h) u8(score*255)   (integer pixels)
//   embedding = [id, scale: float32, int8 bytes]  (vector = q*scale, renormalised on decode)
// The identity fields (jobKey, camera, seq, session) are the first plain values, so a receiver can read them
// (to ack or dedup) before decoding the rest. Decoding checks every bound and names the field it fails on;
// the server then runs ObservationBatchSchema on the result as for protocol 1.
import { decode, encode } from '@msgpack/msgpack';
import { ObservationBatchSchema, describeZodError, type ObservationBatch, type TrackObservation } from '../events.ts';

/** Protocol 1: today's JSON payloads. Protocol 2: observations as `encodeObservations` bytes. */
export const WIRE_PROTOCOLS = [1, 2] as const;
export type WireProtocol = (typeof WIRE_PROTOCOLS)[number];
export const LATEST_WIRE_PROTOCOL: WireProtocol = 2;

/** The protocol an agent asked for in its handshake (`auth.protocol`); absent = 1 (agents before #17). */
export function negotiatedProtocol(auth: unknown): WireProtocol | Error {
  const p = (auth as { protocol?: unknown } | undefined)?.protocol;
  if (p === undefined) return 1;
  return WIRE_PROTOCOLS.includes(p as WireProtocol) ? (p as WireProtocol) : new Error(`auth.protocol: must be one of ${WIRE_PROTOCOLS.join(', ')}`);
}

/** A wire payload that cannot be decoded; `field` names the canonical field (e.g. `frames[2].tracks`). */
export class WireError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
  }
}

const STATES: TrackObservation['state'][] = ['tentative', 'confirmed', 'lost', 'removed'];
const STATE_CODE = new Map(STATES.map((s, i) => [s, i]));
const MAX_FRAMES = 100;
const MAX_TRACKS = 500;
const MAX_EMBEDDINGS = 500;
const MAX_DIM = 4096;
const MAX_SAFE = Number.MAX_SAFE_INTEGER;

class Writer {
  private buf = new Uint8Array(256);
  private n = 0;
  private room(k: number): void {
    if (this.n + k <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.n + k));
    next.set(this.buf.subarray(0, this.n));
    this.buf = next;
  }
  uvar(v: number): void {
    this.room(8);
    // Arithmetic, not bit operations: values up to 2^53 stay exact.
    while (v >= 0x80) {
      this.buf[this.n++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.buf[this.n++] = v;
  }
  svar(v: number): void {
    this.uvar(v < 0 ? -2 * v - 1 : 2 * v);
  }
  u8(v: number): void {
    this.room(1);
    this.buf[this.n++] = v;
  }
  bytes(): Uint8Array {
    return this.buf.slice(0, this.n);
  }
}

class Reader {
  private i = 0;
  constructor(
    private readonly b: Uint8Array,
    private readonly field: string,
  ) {}
  get done(): boolean {
    return this.i >= this.b.length;
  }
  uvar(): number {
    let v = 0;
    let mul = 1;
    for (;;) {
      if (this.i >= this.b.length) throw new WireError(this.field, 'truncated');
      const byte = this.b[this.i++];
      v += (byte & 0x7f) * mul;
      if (v > MAX_SAFE) throw new WireError(this.field, 'integer too large');
      if (byte < 0x80) return v;
      mul *= 0x80;
    }
  }
  svar(): number {
    const u = this.uvar();
    return u % 2 ? -(u + 1) / 2 : u / 2;
  }
  u8(): number {
    if (this.i >= this.b.length) throw new WireError(this.field, 'truncated');
    return this.b[this.i++];
  }
}

/** int8 with one scale per vector: |error| per component <= scale/2 (about max|v|/254). */
export function quantizeEmbedding(vector: ArrayLike<number>): { scale: number; q: Int8Array } {
  let max = 0;
  for (let i = 0; i < vector.length; i++) max = Math.max(max, Math.abs(vector[i]));
  const scale = Math.fround(max > 0 ? max / 127 : 1);
  const q = new Int8Array(vector.length);
  for (let i = 0; i < vector.length; i++) q[i] = Math.max(-127, Math.min(127, Math.round(vector[i] / scale)));
  return { scale, q };
}

/** The vector an int8 embedding stands for, L2-normalised again (the canonical embeddings are unit vectors). */
export function dequantizeEmbedding(scale: number, q: Int8Array): number[] {
  const v = Array.from(q, (x) => x * scale);
  const norm = Math.hypot(...v);
  return norm > 0 ? v.map((x) => x / norm) : v;
}

const us = (ms: number) => Math.round(ms * 1000);

/** Encodes a canonical batch (already valid by ObservationBatchSchema) as protocol 2 bytes. */
export function encodeObservations(batch: ObservationBatch): Uint8Array {
  const f0 = batch.frames[0];
  let prev = { frameIndex: f0.frameIndex, ts: us(f0.timestampMs), emittedAt: Math.round(f0.emittedAt) };
  const frames = batch.frames.map((f) => {
    const w = new Writer();
    for (const t of f.tracks) {
      w.uvar(t.id * 4 + (STATE_CODE.get(t.state) ?? 0));
      w.svar(Math.round(t.x));
      w.svar(Math.round(t.y));
      w.uvar(Math.round(t.w));
      w.uvar(Math.round(t.h));
      w.u8(Math.round(t.score * 255));
    }
    const cur = { frameIndex: f.frameIndex, ts: us(f.timestampMs), emittedAt: Math.round(f.emittedAt) };
    const row: unknown[] = [cur.frameIndex - prev.frameIndex, cur.ts - prev.ts, cur.emittedAt - prev.emittedAt, w.bytes()];
    if (f.width !== f0.width || f.height !== f0.height) row.push(f.width, f.height);
    prev = cur;
    return row;
  });
  const embeddings = batch.embeddings?.map((e) => {
    const { scale, q } = quantizeEmbedding(e.vector);
    return [e.id, scale, new Uint8Array(q.buffer)];
  });
  const fields: unknown[] = [2, batch.jobKey, batch.camera, batch.seq, batch.session ?? null, f0.width, f0.height, f0.frameIndex, us(f0.timestampMs), Math.round(f0.emittedAt), frames, embeddings ?? null];
  if (batch.dropped) fields.push([batch.dropped.count, batch.dropped.heldFrom]);
  return encode(fields, { forceFloat32: true });
}

/** Protocol-2 bytes with ObservationBatch.dropped set (undefined: removed); every other byte's meaning unchanged. */
export function withDropped(data: Uint8Array, dropped: ObservationBatch['dropped']): Uint8Array {
  const a = decode(data) as unknown[];
  a.length = 12;
  if (dropped) a.push([dropped.count, dropped.heldFrom]);
  return encode(a, { forceFloat32: true });
}

const isInt = (v: unknown, min = 0, max = MAX_SAFE): v is number => Number.isSafeInteger(v) && (v as number) >= min && (v as number) <= max;
function int(v: unknown, field: string, min = 0, max = MAX_SAFE): number {
  if (!isInt(v, min, max)) throw new WireError(field, `must be an integer in ${min}..${max}`);
  return v;
}
function bytes(v: unknown, field: string): Uint8Array {
  if (!(v instanceof Uint8Array)) throw new WireError(field, 'must be binary');
  return v;
}
function str(v: unknown, field: string, max: number): string {
  if (typeof v !== 'string' || v.length > max) throw new WireError(field, `must be a string of at most ${max} characters`);
  return v;
}
function list(v: unknown, field: string, max: number): unknown[] {
  if (!Array.isArray(v)) throw new WireError(field, 'must be an array');
  if (v.length > max) throw new WireError(field, `at most ${max} items`);
  return v;
}

/**
 * Decodes protocol 2 bytes into the canonical batch (structure and bounds checked here, naming the field;
 * the caller still runs ObservationBatchSchema on it).
 */
export function decodeObservations(data: Uint8Array | ArrayBuffer): ObservationBatch {
  let raw: unknown;
  try {
    raw = decode(data instanceof ArrayBuffer ? new Uint8Array(data) : data, { maxStrLength: 4096, maxBinLength: 1 << 20, maxArrayLength: MAX_DIM, maxMapLength: 0 });
  } catch (err) {
    throw new WireError('(message)', `not a protocol 2 observation batch (${(err as Error).message})`);
  }
  const a = list(raw, '(message)', 13);
  if (a[0] !== 2) throw new WireError('(message)', `unknown wire version ${String(a[0]).slice(0, 16)}`);
  if (a.length !== 12 && a.length !== 13) throw new WireError('(message)', 'must have 12 or 13 fields');
  const jobKey = str(a[1], 'jobKey', 320);
  const camera = str(a[2], 'camera', 63);
  const seq = int(a[3], 'seq');
  const session = a[4] === null ? undefined : str(a[4], 'session', 64);
  const width = int(a[5], 'frames[0].width', 1, 16384);
  const height = int(a[6], 'frames[0].height', 1, 16384);
  let frameIndex = int(a[7], 'frames[0].frameIndex');
  let ts = int(a[8], 'frames[0].timestampMs');
  let emittedAt = int(a[9], 'frames[0].emittedAt');
  const rows = list(a[10], 'frames', MAX_FRAMES);
  if (!rows.length) throw new WireError('frames', 'at least one frame');
  const frames: ObservationBatch['frames'] = rows.map((r, i) => {
    const f = `frames[${i}]`;
    const row = list(r, f, 6);
    if (row.length !== 4 && row.length !== 6) throw new WireError(f, 'must have 4 or 6 fields');
    if (i > 0) {
      frameIndex += int(row[0], `${f}.frameIndex`, -MAX_SAFE);
      ts += int(row[1], `${f}.timestampMs`, -MAX_SAFE);
      emittedAt += int(row[2], `${f}.emittedAt`, -MAX_SAFE);
    }
    const w = row.length === 6 ? int(row[4], `${f}.width`, 1, 16384) : width;
    const h = row.length === 6 ? int(row[5], `${f}.height`, 1, 16384) : height;
    const rd = new Reader(bytes(row[3], `${f}.tracks`), `${f}.tracks`);
    const tracks: TrackObservation[] = [];
    while (!rd.done) {
      if (tracks.length >= MAX_TRACKS) throw new WireError(`${f}.tracks`, `at most ${MAX_TRACKS} items`);
      const idState = rd.uvar();
      tracks.push({ id: Math.floor(idState / 4), x: rd.svar(), y: rd.svar(), w: rd.uvar(), h: rd.uvar(), score: rd.u8() / 255, state: STATES[idState % 4] });
    }
    return { frameIndex, timestampMs: ts / 1000, emittedAt, width: w, height: h, tracks };
  });
  const batch: ObservationBatch = { jobKey, camera, seq, ...(session !== undefined ? { session } : {}), frames };
  if (a.length === 13) {
    const d = list(a[12], 'dropped', 2);
    batch.dropped = { count: int(d[0], 'dropped.count', 1), heldFrom: int(d[1], 'dropped.heldFrom') };
  }
  if (a[11] !== null) {
    batch.embeddings = list(a[11], 'embeddings', MAX_EMBEDDINGS).map((e, i) => {
      const f = `embeddings[${i}]`;
      const row = list(e, f, 3);
      const scale = row[1];
      if (typeof scale !== 'number' || !Number.isFinite(scale) || scale <= 0) throw new WireError(`${f}.scale`, 'must be a positive number');
      const q = bytes(row[2], `${f}.vector`);
      if (q.length < 8 || q.length > MAX_DIM) throw new WireError(`${f}.vector`, `must have 8..${MAX_DIM} components`);
      return { id: int(row[0], `${f}.id`), vector: dequantizeEmbedding(scale, new Int8Array(q.buffer, q.byteOffset, q.length)) };
    });
  }
  return batch;
}

/** The payload an agent sends for one batch under `protocol` (1: the JSON object, 2: protocol-2 bytes). */
export function observationPayload(batch: ObservationBatch, protocol: WireProtocol): ObservationBatch | Uint8Array {
  return protocol === 2 ? encodeObservations(batch) : batch;
}

/**
 * Reads one `observations` payload as the connection's negotiated protocol says, then validates it with
 * ObservationBatchSchema: the one place a receiver turns wire bytes or JSON into a canonical batch. A payload
 * of the wrong form (bytes under protocol 1, an object under protocol 2) is refused like any bad field.
 */
export function parseObservationPayload(payload: unknown, protocol: WireProtocol): { ok: true; batch: ObservationBatch } | { ok: false; field: string; error: string } {
  let candidate: unknown = payload;
  const binary = payload instanceof Uint8Array || payload instanceof ArrayBuffer;
  if (protocol === 1 && binary) return { ok: false, field: '(message)', error: '(message): protocol 1 observations must be a JSON object (binary batches need auth.protocol 2 in the handshake)' };
  if (protocol === 2) {
    if (!binary) return { ok: false, field: '(message)', error: '(message): protocol 2 observations must be binary (encodeObservations), not JSON' };
    try {
      candidate = decodeObservations(payload);
    } catch (err) {
      if (err instanceof WireError) return { ok: false, field: err.field, error: err.message };
      throw err;
    }
  }
  const parsed = ObservationBatchSchema.safeParse(candidate);
  return parsed.success ? { ok: true, batch: parsed.data } : { ok: false, ...describeZodError(parsed.error) };
}
