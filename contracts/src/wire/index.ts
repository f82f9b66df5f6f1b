// Wire protocol 2 for observation batches (agent -> server): a compact binary form of the canonical
// ObservationBatch (events.ts stays the one source of the batch's shape and meaning). MessagePack
// (@msgpack/msgpack) carries the structure; the frames are one byte string of varints. Layout version 3
// (what encodeObservations writes):
//   batch = [3, jobKey, camera, seq, session|nil, frames: bin, embeddings|nil, ...optional fields]
//   optional fields, in order: [droppedCount, heldFrom] (ObservationBatch.dropped, only when the agent's spool
//   dropped batches of this camera run)
//   frames = varint(width) varint(height) varint(frameIndex0) varint(timestampUs0) varint(emittedAt0), then per
//            frame: (after the first: zigzag deltas of frameIndex, timestampUs, emittedAt from the previous
//            frame) varint(tracks*2 + sized) [varint(width) varint(height) when sized: the frame's own size]
//            and its tracks
//   track = varint(id*4 + state) zigzag(x) zigzag(y) varint(w) varint(h) u8(score*255)   (integer pixels)
//   embedding = [id, scale: float32, int8 bytes]  (vector = q*scale, renormalised on decode)
// Every batch is self-contained (a resend after a reconnect decodes alone): the deltas are within the batch,
// and what repeats from batch to batch (job key, camera, session, the high bytes of seq and clocks) is left to
// permessage-deflate's window, which starts afresh with each connection. The identity fields (jobKey,
// camera, seq, session) are the first plain values, so a receiver can read them (to ack or dedup) before
// decoding the rest. New optional fields go after `embeddings`, in order (a decoder refuses fields it does
// not know). Layout version 2 (the first, still read: spools and the server's ingest log keep such bytes):
//   batch = [2, jobKey, camera, seq, session|nil, width, height, frameIndex0, timestampUs0, emittedAt0, frames, embeddings|nil]
//   frame = [dFrameIndex, dTimestampUs, dEmittedAtMs, tracks: bin] (+ [width, height] when it differs from the header)
// Decoding checks every bound and names the field it fails on; the server then runs ObservationBatchSchema on
// the result as for protocol 1.
import { decode, encode } from '@msgpack/msgpack';
import { ObservationBatchSchema, describeZodError, trackState, type ObservationBatch, type TrackObservation } from '../events.ts';

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

// The wire codes of track states are their positions in the contract's enum: append, never reorder.
const STATES: readonly TrackObservation['state'][] = trackState.options;
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
  constructor(
    private readonly b: Uint8Array,
    /** The field being read: errors name it. */
    public field: string,
    private i = 0,
  ) {}
  get offset(): number {
    return this.i;
  }
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

/**
 * Levels per sign an embedding is quantized to, inside its int8 bytes. Fewer levels leave most components
 * of a ReID vector (mass near 0) on a few small values that deflate codes in few bits; the decoder only
 * multiplies by the scale, so this is the encoder's choice and any level count decodes. 19: on OSNet
 * vectors about 185 instead of 320 deflated bytes, mean cosine error ~2e-3 (127: 6e-5), and the same
 * cross-camera IDF1, person-search mAP (within 0.1) and rank-1 on the replayed PETS09 run; 15 cost 5 points
 * of search rank-1 (docs/benchmarks.md, "Bandwidth"). Benches compare others (encodeObservations' `levels`).
 */
export const EMBEDDING_LEVELS = 19;

/** int8 with one scale per vector: |error| per component <= scale/2 (about max|v|/(2 x levels)). */
export function quantizeEmbedding(vector: ArrayLike<number>, levels = EMBEDDING_LEVELS): { scale: number; q: Int8Array } {
  if (!(Number.isInteger(levels) && levels >= 1 && levels <= 127)) throw new RangeError(`embedding levels must be an integer in 1..127, got ${levels}`);
  let max = 0;
  for (let i = 0; i < vector.length; i++) max = Math.max(max, Math.abs(vector[i]));
  const scale = Math.fround(max > 0 ? max / levels : 1);
  const q = new Int8Array(vector.length);
  for (let i = 0; i < vector.length; i++) q[i] = Math.max(-levels, Math.min(levels, Math.round(vector[i] / scale)));
  return { scale, q };
}

/** The vector an int8 embedding stands for, L2-normalised again (the canonical embeddings are unit vectors). */
export function dequantizeEmbedding(scale: number, q: Int8Array): number[] {
  const v = Array.from(q, (x) => x * scale);
  const norm = Math.hypot(...v);
  return norm > 0 ? v.map((x) => x / norm) : v;
}

const us = (ms: number) => Math.round(ms * 1000);
/** Layout versions a decoder reads (the first element of a batch); encodeObservations writes the last. */
const LAYOUTS = [2, 3];
/** Fields of a layout-3 batch: the 7 required ones (up to embeddings), then the optional ones, in order. */
const V3_FIELDS = 7;

function writeTracks(w: Writer, tracks: readonly TrackObservation[]): void {
  for (const t of tracks) {
    w.uvar(t.id * 4 + (STATE_CODE.get(t.state) ?? 0));
    w.svar(Math.round(t.x));
    w.svar(Math.round(t.y));
    w.uvar(Math.round(t.w));
    w.uvar(Math.round(t.h));
    w.u8(Math.round(t.score * 255));
  }
}

function readTrack(rd: Reader): TrackObservation {
  const idState = rd.uvar();
  return { id: Math.floor(idState / 4), x: rd.svar(), y: rd.svar(), w: rd.uvar(), h: rd.uvar(), score: rd.u8() / 255, state: STATES[idState % 4] };
}

/**
 * Encodes a canonical batch (already valid by ObservationBatchSchema) as protocol 2 bytes (layout 3), its
 * embeddings quantized to `embeddingLevels` per sign (agents use the default; benches try others).
 */
export function encodeObservations(batch: ObservationBatch, embeddingLevels = EMBEDDING_LEVELS): Uint8Array {
  const f0 = batch.frames[0];
  const w = new Writer();
  let prev = { frameIndex: f0.frameIndex, ts: us(f0.timestampMs), emittedAt: Math.round(f0.emittedAt) };
  for (const v of [f0.width, f0.height, prev.frameIndex, prev.ts, prev.emittedAt]) w.uvar(v);
  batch.frames.forEach((f, i) => {
    const cur = { frameIndex: f.frameIndex, ts: us(f.timestampMs), emittedAt: Math.round(f.emittedAt) };
    if (i > 0) {
      w.svar(cur.frameIndex - prev.frameIndex);
      w.svar(cur.ts - prev.ts);
      w.svar(cur.emittedAt - prev.emittedAt);
    }
    const sized = f.width !== f0.width || f.height !== f0.height;
    w.uvar(f.tracks.length * 2 + (sized ? 1 : 0));
    if (sized) {
      w.uvar(f.width);
      w.uvar(f.height);
    }
    writeTracks(w, f.tracks);
    prev = cur;
  });
  const embeddings = batch.embeddings?.map((e) => {
    const { scale, q } = quantizeEmbedding(e.vector, embeddingLevels);
    return [e.id, scale, new Uint8Array(q.buffer)];
  });
  const fields: unknown[] = [3, batch.jobKey, batch.camera, batch.seq, batch.session ?? null, w.bytes(), embeddings ?? null];
  if (batch.dropped) fields.push([batch.dropped.count, batch.dropped.heldFrom]);
  return encode(fields, { forceFloat32: true });
}

/** Protocol-2 bytes with ObservationBatch.dropped set (undefined: removed); every other byte's meaning unchanged. */
export function withDropped(data: Uint8Array, dropped: ObservationBatch['dropped']): Uint8Array {
  const a = decode(data) as unknown[];
  // Layout 2 (bytes an older agent spooled) has no optional fields: such a batch is written again as layout 3.
  if (a[0] !== 3) return encodeObservations({ ...decodeObservations(data), dropped });
  a.length = V3_FIELDS;
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
/** A varint of `field` read from `rd`, bounded; errors (truncated, out of range) name the field. */
function varint(rd: Reader, field: string, min: number, max: number, signed = false): number {
  rd.field = field;
  const v = signed ? rd.svar() : rd.uvar();
  if (v < min || v > max) throw new WireError(field, `must be an integer in ${min}..${max}`);
  return v;
}

type Frames = ObservationBatch['frames'];

/** Layout 2: the frame header as plain values, one [deltas, tracks] row per frame. */
function framesV2(a: unknown[]): Frames {
  if (a.length !== 12) throw new WireError('(message)', 'must have 12 fields');
  const width = int(a[5], 'frames[0].width', 1, 16384);
  const height = int(a[6], 'frames[0].height', 1, 16384);
  let frameIndex = int(a[7], 'frames[0].frameIndex');
  let ts = int(a[8], 'frames[0].timestampMs');
  let emittedAt = int(a[9], 'frames[0].emittedAt');
  const rows = list(a[10], 'frames', MAX_FRAMES);
  if (!rows.length) throw new WireError('frames', 'at least one frame');
  return rows.map((r, i) => {
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
      tracks.push(readTrack(rd));
    }
    return { frameIndex, timestampMs: ts / 1000, emittedAt, width: w, height: h, tracks };
  });
}

/** Layout 3: every frame in one byte string (see the top of this file). */
function framesV3(data: Uint8Array): Frames {
  const rd = new Reader(data, 'frames');
  const width = varint(rd, 'frames[0].width', 1, 16384);
  const height = varint(rd, 'frames[0].height', 1, 16384);
  let frameIndex = varint(rd, 'frames[0].frameIndex', 0, MAX_SAFE);
  let ts = varint(rd, 'frames[0].timestampMs', 0, MAX_SAFE);
  let emittedAt = varint(rd, 'frames[0].emittedAt', 0, MAX_SAFE);
  const frames: Frames = [];
  while (frames.length === 0 || !rd.done) {
    const f = `frames[${frames.length}]`;
    if (frames.length >= MAX_FRAMES) throw new WireError('frames', `at most ${MAX_FRAMES} items`);
    if (frames.length > 0) {
      frameIndex += varint(rd, `${f}.frameIndex`, -MAX_SAFE, MAX_SAFE, true);
      ts += varint(rd, `${f}.timestampMs`, -MAX_SAFE, MAX_SAFE, true);
      emittedAt += varint(rd, `${f}.emittedAt`, -MAX_SAFE, MAX_SAFE, true);
    }
    const head = varint(rd, `${f}.tracks`, 0, MAX_TRACKS * 2 + 1);
    const sized = head % 2 === 1;
    const w = sized ? varint(rd, `${f}.width`, 1, 16384) : width;
    const h = sized ? varint(rd, `${f}.height`, 1, 16384) : height;
    rd.field = `${f}.tracks`;
    const tracks = Array.from({ length: Math.floor(head / 2) }, () => readTrack(rd));
    frames.push({ frameIndex, timestampMs: ts / 1000, emittedAt, width: w, height: h, tracks });
  }
  return frames;
}

function embeddingsOf(v: unknown): NonNullable<ObservationBatch['embeddings']> {
  return list(v, 'embeddings', MAX_EMBEDDINGS).map((e, i) => {
    const f = `embeddings[${i}]`;
    const row = list(e, f, 3);
    const scale = row[1];
    if (typeof scale !== 'number' || !Number.isFinite(scale) || scale <= 0) throw new WireError(`${f}.scale`, 'must be a positive number');
    const q = bytes(row[2], `${f}.vector`);
    if (q.length < 8 || q.length > MAX_DIM) throw new WireError(`${f}.vector`, `must have 8..${MAX_DIM} components`);
    return { id: int(row[0], `${f}.id`), vector: dequantizeEmbedding(scale, new Int8Array(q.buffer, q.byteOffset, q.length)) };
  });
}

/**
 * Decodes protocol 2 bytes (layout 3, or 2 as earlier agents wrote them) into the canonical batch (structure
 * and bounds checked here, naming the field; the caller still runs ObservationBatchSchema on it).
 */
export function decodeObservations(data: Uint8Array | ArrayBuffer): ObservationBatch {
  let raw: unknown;
  try {
    raw = decode(data instanceof ArrayBuffer ? new Uint8Array(data) : data, { maxStrLength: 4096, maxBinLength: 1 << 20, maxArrayLength: MAX_DIM, maxMapLength: 0 });
  } catch (err) {
    throw new WireError('(message)', `not a protocol 2 observation batch (${(err as Error).message})`);
  }
  const a = list(raw, '(message)', 12);
  if (!LAYOUTS.includes(a[0] as number)) throw new WireError('(message)', `unknown wire version ${String(a[0]).slice(0, 16)}`);
  if (a[0] === 3 && a.length !== V3_FIELDS && a.length !== V3_FIELDS + 1) throw new WireError('(message)', `must have ${V3_FIELDS} or ${V3_FIELDS + 1} fields`);
  const jobKey = str(a[1], 'jobKey', 320);
  const camera = str(a[2], 'camera', 63);
  const seq = int(a[3], 'seq');
  const session = a[4] === null ? undefined : str(a[4], 'session', 64);
  const frames = a[0] === 2 ? framesV2(a) : framesV3(bytes(a[5], 'frames'));
  const batch: ObservationBatch = { jobKey, camera, seq, ...(session !== undefined ? { session } : {}), frames };
  const embeddings = a[0] === 2 ? a[11] : a[6];
  if (embeddings !== null) batch.embeddings = embeddingsOf(embeddings);
  if (a[0] === 3 && a.length > V3_FIELDS) {
    const d = list(a[V3_FIELDS], 'dropped', 2);
    batch.dropped = { count: int(d[0], 'dropped.count', 1), heldFrom: int(d[1], 'dropped.heldFrom') };
  }
  return batch;
}

// ---- one WebSocket message per batch ----------------------------------------------------------------------
// Socket.IO sends an event with a binary argument as two WebSocket messages (a text header with a placeholder,
// then the bytes): about 13 TCP bytes per batch with deflate, 10 batches a second per live camera. Under
// protocol 2 an agent sends `observations` as ONE binary message instead (the agent's Socket.IO encoder,
// socket-parser.ts), which the server's decoder turns back into the same event:
//   frame = [OBSERVATIONS_FRAME_TAG] [uvarint: ack id + 1, 0 = no ack] [observation batch bytes]
// Default Socket.IO never sends a binary message outside a header's attachments, so the two cannot be
// confused; 0xC1 is never the first byte of MessagePack, so a frame cannot be mistaken for a bare batch.

export const OBSERVATIONS_FRAME_TAG = 0xc1;
/** Largest ack id a frame carries (Socket.IO numbers acks per connection from 0). */
const MAX_ACK_ID = 2 ** 32 - 2;

/** One `observations` event (its ack id, if the sender waits for an ack, and the batch bytes) as one binary message. */
export function encodeObservationsFrame(ackId: number | undefined, batch: Uint8Array): Uint8Array {
  if (ackId !== undefined && !isInt(ackId, 0, MAX_ACK_ID)) throw new WireError('(frame).ackId', `must be an integer in 0..${MAX_ACK_ID}`);
  const w = new Writer();
  w.u8(OBSERVATIONS_FRAME_TAG);
  w.uvar(ackId === undefined ? 0 : ackId + 1);
  const head = w.bytes();
  const out = new Uint8Array(head.length + batch.length);
  out.set(head);
  out.set(batch, head.length);
  return out;
}

/** Whether a binary message is an observations frame (its first byte). */
export const isObservationsFrame = (msg: Uint8Array): boolean => msg.length > 0 && msg[0] === OBSERVATIONS_FRAME_TAG;

/** Reads an observations frame; the batch bytes are a view into `msg`. Throws WireError naming the field. */
export function decodeObservationsFrame(msg: Uint8Array): { ackId?: number; batch: Uint8Array } {
  if (!isObservationsFrame(msg)) throw new WireError('(frame)', `must start with the byte 0x${OBSERVATIONS_FRAME_TAG.toString(16)}`);
  const rd = new Reader(msg, '(frame).ackId', 1);
  const id = rd.uvar();
  if (id > MAX_ACK_ID + 1) throw new WireError('(frame).ackId', `must be an integer in 0..${MAX_ACK_ID}`);
  if (rd.offset >= msg.length) throw new WireError('(frame).batch', 'missing');
  return { ...(id > 0 ? { ackId: id - 1 } : {}), batch: msg.subarray(rd.offset) };
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
