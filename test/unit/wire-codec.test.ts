// Wire protocol 2 codec (contracts/src/wire): round trips of generated batches (property style, seeded),
// quantization error of int8 embeddings, size against JSON, bad bytes refused naming the field (layout 3, and
// layout 2 as earlier agents spooled it), layout-2 bytes of an earlier build still read, and the one-message
// observations frame (round trip, bounds, errors naming the field).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { encode } from '@msgpack/msgpack';
import { OBSERVATIONS_FRAME_TAG, ObservationBatchSchema, WireError, decodeObservations, decodeObservationsFrame, encodeObservations, encodeObservationsFrame, negotiatedProtocol, withDropped, type ObservationBatch } from '@mei/contracts';

/** mulberry32: a small seeded generator so failures reproduce. */
function rng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const STATES = ['tentative', 'confirmed', 'lost', 'removed'] as const;

function unit(r: () => number, dim: number): number[] {
  const v = Array.from({ length: dim }, () => r() * 2 - 1);
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
}

function genBatch(r: () => number): ObservationBatch {
  const width = 1 + Math.floor(r() * 4000);
  const height = 1 + Math.floor(r() * 3000);
  let frameIndex = Math.floor(r() * 1e6);
  let ts = r() * 1e7;
  let emittedAt = 1.7e12 + Math.floor(r() * 1e9);
  const frames = Array.from({ length: 1 + Math.floor(r() * 30) }, () => {
    frameIndex += Math.floor(r() * 3);
    ts += r() * 200;
    emittedAt += Math.floor(r() * 300);
    const odd = r() < 0.1; // a frame of another size (rare, allowed)
    return {
      frameIndex,
      timestampMs: ts,
      emittedAt,
      width: odd ? width + 1 : width,
      height,
      tracks: Array.from({ length: Math.floor(r() * 20) }, () => ({
        id: r() < 0.05 ? 2 ** 31 - 1 : Math.floor(r() * 5000),
        x: (r() - 0.1) * width,
        y: (r() - 0.1) * height,
        w: r() * width * 0.5,
        h: r() * height * 0.5,
        score: r(),
        state: STATES[Math.floor(r() * 4)],
      })),
    };
  });
  const dim = r() < 0.5 ? 512 : 8 + Math.floor(r() * 100);
  const embeddings = Array.from({ length: Math.floor(r() * 6) }, () => ({ id: Math.floor(r() * 5000), vector: unit(r, dim) }));
  return {
    jobKey: 'default/demo',
    camera: `cam-${Math.floor(r() * 100)}`,
    seq: Math.floor(r() * Number.MAX_SAFE_INTEGER),
    ...(r() < 0.8 ? { session: 'abc123XYZ' } : {}),
    frames,
    ...(embeddings.length ? { embeddings } : {}),
  };
}

/** The field a WireError names (fails when `fn` does not throw one). */
function wireError(fn: () => unknown): WireError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(WireError);
    return err as WireError;
  }
  throw new Error('expected a WireError');
}
const fieldOf = (data: Uint8Array) => wireError(() => decodeObservations(data)).field;

const cosine = (a: number[], b: number[]) => a.reduce((s, x, i) => s + x * b[i], 0) / (Math.hypot(...a) * Math.hypot(...b));

describe('wire protocol 2 codec', () => {
  it('round-trips 120 generated batches: identity exact, boxes within 0.5 px, times within 1 µs / 0.5 ms, score within 1/510', () => {
    const r = rng(17);
    let worstCos = 1;
    for (let n = 0; n < 120; n++) {
      const batch = ObservationBatchSchema.parse(genBatch(r));
      const back = decodeObservations(encodeObservations(batch));
      expect(ObservationBatchSchema.safeParse(back).success).toBe(true);
      expect({ jobKey: back.jobKey, camera: back.camera, seq: back.seq, session: back.session }).toEqual({ jobKey: batch.jobKey, camera: batch.camera, seq: batch.seq, session: batch.session });
      expect(back.frames.length).toBe(batch.frames.length);
      batch.frames.forEach((f, i) => {
        const g = back.frames[i];
        expect([g.frameIndex, g.width, g.height]).toEqual([f.frameIndex, f.width, f.height]);
        expect(Math.abs(g.timestampMs - f.timestampMs)).toBeLessThanOrEqual(0.001);
        expect(Math.abs(g.emittedAt - f.emittedAt)).toBeLessThanOrEqual(0.5);
        expect(g.tracks.length).toBe(f.tracks.length);
        f.tracks.forEach((t, j) => {
          const u = g.tracks[j];
          expect([u.id, u.state]).toEqual([t.id, t.state]);
          for (const k of ['x', 'y', 'w', 'h'] as const) {
            expect(Number.isInteger(u[k])).toBe(true);
            expect(Math.abs(u[k] - t[k])).toBeLessThanOrEqual(0.5);
          }
          expect(Math.abs(u.score - t.score)).toBeLessThanOrEqual(1 / 510 + 1e-12);
        });
      });
      expect(back.embeddings?.length ?? 0).toBe(batch.embeddings?.length ?? 0);
      batch.embeddings?.forEach((e, i) => {
        const d = back.embeddings![i];
        expect(d.id).toBe(e.id);
        expect(d.vector.length).toBe(e.vector.length);
        expect(Math.abs(Math.hypot(...d.vector) - 1)).toBeLessThan(1e-9);
        worstCos = Math.min(worstCos, cosine(d.vector, e.vector));
      });
    }
    // EMBEDDING_LEVELS (19) per sign with a per-vector scale: the decoded look is within 0.006 cosine of the
    // original even for these dense random vectors (ReID vectors, mass near 0: ~2e-3 on average).
    expect(worstCos).toBeGreaterThan(0.994);
  });

  it('quantizes embeddings to the levels the encoder is given (benches compare level counts)', () => {
    const r = rng(11);
    const batch = ObservationBatchSchema.parse(genBatch(r));
    batch.embeddings = [{ id: 1, vector: unit(r, 512) }];
    const err = (levels?: number) => 1 - cosine(decodeObservations(encodeObservations(batch, levels)).embeddings![0].vector, batch.embeddings![0].vector);
    expect(err()).toBe(err(19)); // the default is EMBEDDING_LEVELS
    expect(err(127)).toBeLessThan(err(19));
    expect(err(3)).toBeGreaterThan(err(19));
    for (const bad of [0, 128, 2.5]) expect(() => encodeObservations(batch, bad)).toThrow(/embedding levels must be an integer in 1\.\.127/);
  });

  it('is far smaller than the JSON form of the same batch', () => {
    const r = rng(3);
    const batch = ObservationBatchSchema.parse(genBatch(r));
    batch.embeddings = [{ id: 1, vector: unit(r, 512) }];
    const wire = encodeObservations(batch).byteLength;
    expect(wire).toBeLessThan(Buffer.byteLength(JSON.stringify(batch)) / 4);
  });

  it('refuses malformed bytes with an error naming the field', () => {
    const ok = ObservationBatchSchema.parse(genBatch(rng(5)));
    expect(fieldOf(new Uint8Array([1, 2, 3]))).toBe('(message)');
    expect(fieldOf(Buffer.from(JSON.stringify(ok)))).toBe('(message)');
    const fields = (override: Record<number, unknown>) => {
      const a: unknown[] = [2, 'default/demo', 'cam', 1, null, 640, 480, 0, 0, 0, [[0, 0, 0, new Uint8Array(0)]], null];
      for (const [k, v] of Object.entries(override)) a[Number(k)] = v;
      return fieldOf(encode(a));
    };
    // Layout 2 (earlier agents' spools, the server's ingest log): still read, so its bounds still hold.
    expect(fields({ 0: 9 })).toBe('(message)');
    expect(fields({ 3: -1 })).toBe('seq');
    expect(fields({ 3: 1.5 })).toBe('seq');
    expect(fields({ 5: 0 })).toBe('frames[0].width');
    expect(fields({ 6: 20000 })).toBe('frames[0].height');
    expect(fields({ 10: [] })).toBe('frames');
    expect(fields({ 10: Array.from({ length: 101 }, () => [0, 0, 0, new Uint8Array(0)]) })).toBe('frames');
    expect(fields({ 10: [[0, 0, 0, new Uint8Array(0)], [1, 1, 1, new Uint8Array([0x80])]] })).toBe('frames[1].tracks');
    expect(fields({ 10: [[0, 0, 0, 'x']] })).toBe('frames[0].tracks');
    expect(fields({ 11: [[1, 0, new Uint8Array(16)]] })).toBe('embeddings[0].scale');
    expect(fields({ 11: [[1, 0.1, new Uint8Array(4)]] })).toBe('embeddings[0].vector');
    expect(fields({ 11: [[-1, 0.1, new Uint8Array(16)]] })).toBe('embeddings[0].id');
    // A decoded batch that breaks a canonical bound is still caught by the schema (the server runs both).
    const far = decodeObservations(encode([2, 'Bad Key', 'cam', 1, null, 640, 480, 0, 0, 0, [[0, 0, 0, new Uint8Array(0)]], null]));
    expect(ObservationBatchSchema.safeParse(far).success).toBe(false);
  });

  it('layout 3: refuses malformed frame bytes and fields with an error naming the field', () => {
    /** The frames byte string: varints, signed (zigzag) varints `['s', n]` and raw bytes `['u8', n]`. */
    const bin = (...vs: Array<number | ['u8' | 's', number]>) => {
      const out: number[] = [];
      for (const x of vs) {
        if (Array.isArray(x) && x[0] === 'u8') {
          out.push(x[1]);
          continue;
        }
        const n = Array.isArray(x) ? x[1] : x;
        let v = Array.isArray(x) ? (n < 0 ? -2 * n - 1 : 2 * n) : n;
        while (v >= 0x80) {
          out.push((v % 0x80) | 0x80);
          v = Math.floor(v / 0x80);
        }
        out.push(v);
      }
      return Uint8Array.from(out);
    };
    const batch = (frames: unknown, more: Record<number, unknown> = {}) => {
      const a: unknown[] = [3, 'default/demo', 'cam', 1, null, frames, null];
      for (const [k, v] of Object.entries(more)) a[Number(k)] = v;
      return encode(a);
    };
    // width, height, frameIndex0, timestampUs0, emittedAt0, then frame 0: tracks*2 + sized, tracks.
    const track = [2 * 4 + 1, ['s', 10], ['s', 20], 30, 90, ['u8', 200]] as Array<number | ['u8' | 's', number]>;
    expect(decodeObservations(batch(bin(640, 480, 7, 700_000, 1e12, 2, ...track))).frames[0]).toEqual({
      frameIndex: 7,
      timestampMs: 700,
      emittedAt: 1e12,
      width: 640,
      height: 480,
      tracks: [{ id: 2, x: 10, y: 20, w: 30, h: 90, score: 200 / 255, state: 'confirmed' }],
    });
    // Frame 1: deltas (here negative: a clock stepped back), and a frame of its own size.
    const two = decodeObservations(batch(bin(640, 480, 7, 700_000, 1e12, 0, ['s', 1], ['s', 100_000], ['s', -5], 1, 320, 240)));
    expect(two.frames.map((f) => [f.frameIndex, f.timestampMs, f.emittedAt, f.width, f.height])).toEqual([
      [7, 700, 1e12, 640, 480],
      [8, 800, 1e12 - 5, 320, 240],
    ]);
    expect(fieldOf(batch(bin(0, 480, 0, 0, 0, 0)))).toBe('frames[0].width');
    expect(fieldOf(batch(bin(640, 20_000, 0, 0, 0, 0)))).toBe('frames[0].height');
    expect(fieldOf(batch(bin(640, 480)))).toBe('frames[0].frameIndex'); // truncated
    expect(fieldOf(batch(bin(640, 480, 0)))).toBe('frames[0].timestampMs');
    expect(fieldOf(batch(bin(640, 480, 0, 0)))).toBe('frames[0].emittedAt');
    expect(fieldOf(batch(bin(640, 480, 0, 0, 0)))).toBe('frames[0].tracks'); // no frame
    expect(fieldOf(batch(bin(640, 480, 0, 0, 0, 1002)))).toBe('frames[0].tracks'); // 501 tracks
    expect(fieldOf(batch(bin(640, 480, 0, 0, 0, 2, 9, 20)))).toBe('frames[0].tracks'); // a track cut short
    expect(fieldOf(batch(bin(640, 480, 0, 0, 0, 0, ['u8', 0x80])))).toBe('frames[1].frameIndex');
    expect(fieldOf(batch(bin(640, 480, 0, 0, 0, 0, 1)))).toBe('frames[1].timestampMs');
    expect(fieldOf(batch(bin(640, 480, 0, 0, 0, 0, 1, 1)))).toBe('frames[1].emittedAt');
    expect(fieldOf(batch(bin(640, 480, 0, 0, 0, 0, 2, 2, 2, 1, 0, 240)))).toBe('frames[1].width');
    expect(fieldOf(batch(bin(640, 480, 0, 0, 0, 0, 2, 2, 2, 1, 320, 0)))).toBe('frames[1].height');
    expect(fieldOf(batch(bin(640, 480, 0, 0, 0, ...Array(101).fill([0, 0, 0, 0]).flat().slice(3))))).toBe('frames');
    expect(fieldOf(batch('not binary'))).toBe('frames');
    expect(fieldOf(batch(bin(640, 480, 0, 0, 0, 0), { 3: -1 }))).toBe('seq');
    expect(fieldOf(batch(bin(640, 480, 0, 0, 0, 0), { 4: 5 }))).toBe('session');
    expect(fieldOf(batch(bin(640, 480, 0, 0, 0, 0), { 6: [[1, 0, new Uint8Array(16)]] }))).toBe('embeddings[0].scale');
    expect(fieldOf(batch(bin(640, 480, 0, 0, 0, 0), { 6: [[1, 0.1, new Uint8Array(4)]] }))).toBe('embeddings[0].vector');
    // The optional `dropped` field (the 8th), bounded; a further optional field this decoder does not know:
    // refused, not silently dropped.
    expect(fieldOf(batch(bin(640, 480, 0, 0, 0, 0), { 7: 1 }))).toBe('dropped');
    expect(fieldOf(batch(bin(640, 480, 0, 0, 0, 0), { 7: [0, 5] }))).toBe('dropped.count');
    expect(fieldOf(batch(bin(640, 480, 0, 0, 0, 0), { 7: [2, -1] }))).toBe('dropped.heldFrom');
    expect(fieldOf(batch(bin(640, 480, 0, 0, 0, 0), { 7: [2, 5], 8: 1 }))).toBe('(message)');
    expect(fieldOf(encode([3, 'default/demo', 'cam', 1, null, bin(640, 480, 0, 0, 0, 0)]))).toBe('(message)');
  });

  it('reads layout-2 bytes of an earlier build (agents spool them, the server logs them) as it read them then; layout 3 is smaller', () => {
    const fixture = JSON.parse(readFileSync(new URL('./fixtures/wire-v2-batches.json', import.meta.url), 'utf8')) as { batches: Array<{ base64: string; decoded: ObservationBatch }> };
    expect(fixture.batches.length).toBeGreaterThan(1);
    for (const { base64, decoded } of fixture.batches) {
      const v2 = new Uint8Array(Buffer.from(base64, 'base64'));
      expect(v2[1]).toBe(2); // fixarray, then the layout version
      const back = decodeObservations(v2);
      expect(back).toEqual(decoded);
      // The same batch in layout 3: the same canonical batch (embeddings quantized again: within 0.006
      // cosine), in fewer bytes.
      const v3 = encodeObservations(back);
      const again = decodeObservations(v3);
      expect({ ...again, embeddings: undefined }).toEqual({ ...back, embeddings: undefined });
      again.embeddings?.forEach((e, i) => expect(cosine(e.vector, back.embeddings![i].vector)).toBeGreaterThan(0.994));
      expect(again.embeddings?.length).toBe(back.embeddings?.length);
      expect(v3.length).toBeLessThan(v2.length);
    }
  });

  it('withDropped sets and removes the dropped declaration and keeps the rest; layout 2 bytes come back as layout 3', () => {
    const fixture = JSON.parse(readFileSync(new URL('./fixtures/wire-v2-batches.json', import.meta.url), 'utf8')) as { batches: Array<{ base64: string }> };
    for (const { base64 } of fixture.batches.slice(0, 3)) {
      const v2 = new Uint8Array(Buffer.from(base64, 'base64'));
      const back = decodeObservations(v2);
      const declared = withDropped(v2, { count: 3, heldFrom: 17 });
      expect(declared[1]).toBe(3);
      const d = decodeObservations(declared);
      expect(d.dropped).toEqual({ count: 3, heldFrom: 17 });
      expect({ ...d, dropped: undefined, embeddings: undefined }).toEqual({ ...back, embeddings: undefined });
      const v3 = encodeObservations(back);
      const again = decodeObservations(withDropped(withDropped(v3, { count: 1, heldFrom: 4 }), undefined));
      expect(again.dropped).toBeUndefined();
      expect(again).toEqual(decodeObservations(v3));
    }
  });

  it('negotiates the protocol from the handshake auth', () => {
    expect(negotiatedProtocol({ token: 't' })).toBe(1);
    expect(negotiatedProtocol(undefined)).toBe(1);
    expect(negotiatedProtocol({ protocol: 2 })).toBe(2);
    expect(negotiatedProtocol({ protocol: 3 })).toBeInstanceOf(Error);
  });
});

const batchBytes = Uint8Array.from([0x93, 0x01, 0x02, 0x03]);

describe('observations frame codec', () => {
  it('round-trips the ack id (none, 0, large) and the batch bytes', () => {
    for (const ackId of [undefined, 0, 1, 127, 128, 300_000, 2 ** 32 - 2]) {
      const frame = encodeObservationsFrame(ackId, batchBytes);
      expect(frame[0]).toBe(OBSERVATIONS_FRAME_TAG);
      const back = decodeObservationsFrame(frame);
      expect(back.ackId).toBe(ackId);
      expect([...back.batch]).toEqual([...batchBytes]);
    }
    // No ack: tag, one zero byte, the batch.
    expect(encodeObservationsFrame(undefined, batchBytes).length).toBe(batchBytes.length + 2);
  });

  it('refuses bad ack ids and damaged frames, naming the field', () => {
    for (const bad of [-1, 1.5, 2 ** 32 - 1, Number.NaN]) expect(wireError(() => encodeObservationsFrame(bad, batchBytes)).field).toBe('(frame).ackId');
    expect(wireError(() => decodeObservationsFrame(Uint8Array.from([0x93, 0x01]))).field).toBe('(frame)'); // not a frame
    expect(wireError(() => decodeObservationsFrame(new Uint8Array())).field).toBe('(frame)');
    const truncated = wireError(() => decodeObservationsFrame(Uint8Array.from([OBSERVATIONS_FRAME_TAG, 0x80])));
    expect([truncated.field, truncated.message]).toEqual(['(frame).ackId', '(frame).ackId: truncated']);
    // ack id 2^32 - 1 (+1 on the wire = 2^32): beyond the bound.
    const big = Uint8Array.from([OBSERVATIONS_FRAME_TAG, 0x80, 0x80, 0x80, 0x80, 0x10, 0x93]);
    expect(wireError(() => decodeObservationsFrame(big)).field).toBe('(frame).ackId');
    expect(wireError(() => decodeObservationsFrame(Uint8Array.from([OBSERVATIONS_FRAME_TAG, 0x05]))).field).toBe('(frame).batch');
  });
});
