import { describe, expect, it } from 'vitest';
import { encodeObservations, type ObservationBatch } from '@mei/contracts';
import { UPSTREAM_WINDOW_S, UpstreamMeter, payloadBytes } from '../src/transport/upstream-meter.ts';

const batch = (camera: string, embeddings = 0): ObservationBatch => ({
  jobKey: 'ns/job',
  camera,
  seq: 1_700_000_000_000_000,
  session: 'abc',
  frames: [{ frameIndex: 3, timestampMs: 300.5, emittedAt: 1_700_000_000_123, width: 768, height: 576, tracks: [{ id: 4, x: 10.25, y: -3, w: 40, h: 100, score: 0.9, state: 'confirmed' }] }],
  ...(embeddings ? { embeddings: Array.from({ length: embeddings }, (_, i) => ({ id: i, vector: Array.from({ length: 16 }, (_, k) => (k === i ? 1 : 0)) })) } : {}),
});

describe('UpstreamMeter (bytes the agent sends per camera)', () => {
  it('counts a JSON payload as exactly its JSON text, binary as its length', () => {
    const values: unknown[] = [batch('a', 2), { s: 'é"\n\u2028', n: [1.5, -0, 1e21, 3e-7], t: true, f: false, z: null, u: undefined }, [undefined, 'x'], 'plain'];
    for (const v of values) expect(payloadBytes(v)).toBe(Buffer.byteLength(JSON.stringify(v)));
    expect(payloadBytes(new Uint8Array(123))).toBe(123);
    expect(payloadBytes(Buffer.alloc(7))).toBe(7);
  });

  it('splits observations into boxes and embeddings (detail), both protocols; state shared among its cameras', () => {
    const m = new UpstreamMeter({ detail: true, now: () => 5_000 });
    const b = batch('a', 3);
    const wire = encodeObservations(b);
    m.sent('observations', b, wire);
    m.sent('observations', batch('b', 2)); // protocol 1: the object itself
    m.sent('state', { jobKey: 'ns/job', cameras: [{ name: 'a' }, { name: 'b' }] });
    const t = m.totals();
    expect(t['ns/job a'].bytes.boxes + t['ns/job a'].bytes.embeddings).toBe(wire.length);
    expect(t['ns/job a'].bytes.boxes).toBe(encodeObservations({ ...b, embeddings: undefined }).length);
    expect(t['ns/job a'].messages).toMatchObject({ boxes: 1, embeddings: 3, state: 0.5 });
    expect(t['ns/job b'].bytes.boxes + t['ns/job b'].bytes.embeddings).toBe(Buffer.byteLength(JSON.stringify(batch('b', 2))));
    const state = Buffer.byteLength(JSON.stringify({ jobKey: 'ns/job', cameras: [{ name: 'a' }, { name: 'b' }] }));
    expect(t['ns/job a'].bytes.state + t['ns/job b'].bytes.state).toBe(state);
  });

  it('reports bytes per second over the last whole seconds of its clock, per camera and job', () => {
    let now = 100_000;
    const m = new UpstreamMeter({ now: () => now });
    const b = batch('a');
    const size = payloadBytes(b);
    for (let i = 0; i < 10 * UPSTREAM_WINDOW_S; i++) {
      m.sent('observations', b);
      now += 100;
    }
    expect(m.bytesPerSecond('ns/job', 'a')).toBe(Math.round(size * 10));
    expect(m.bytesPerSecond('ns/job', 'b')).toBe(0);
    expect(m.bytesPerSecond('other/job', 'a')).toBe(0);
    now += (UPSTREAM_WINDOW_S + 1) * 1000; // silence: the rate falls to zero
    expect(m.bytesPerSecond('ns/job', 'a')).toBe(0);
  });
});
