// The ingest contract (issue #11, part 1): store bounds in one place used by the batch schema, and the
// agent's reading of an ack by its structure only (never its text).
import { describe, expect, it } from 'vitest';
import { BOUNDS, MAX_INT32, ObservationBatchSchema, describeZodError, } from '@mei/contracts';
import { toIngestAck } from '../../edge-agent/src/transport/connection.ts';

const batch = (over: { seq?: number; localId?: number; timestampMs?: number; frameIndex?: number } = {}) => ({
  jobKey: 'a/b',
  camera: 'c',
  seq: over.seq ?? 1,
  frames: [{ frameIndex: over.frameIndex ?? 0, timestampMs: over.timestampMs ?? 0, emittedAt: 0, width: 10, height: 10, tracks: [{ id: over.localId ?? 1, x: 0, y: 0, w: 1, h: 1, score: 0.5, state: 'confirmed' }] }],
});

describe('observation batch bounds (what the store can hold)', () => {
  it('accepts the largest values the store holds and refuses one more, naming the field', () => {
    expect(ObservationBatchSchema.safeParse(batch({ localId: MAX_INT32, timestampMs: BOUNDS.timestampMs, frameIndex: BOUNDS.frameIndex, seq: BOUNDS.seq })).success).toBe(true);
    const cases: Array<[Parameters<typeof batch>[0], string]> = [
      [{ localId: 2 ** 31 }, 'frames[0].tracks[0].id'],
      [{ timestampMs: 9.3e18 }, 'frames[0].timestampMs'],
      [{ frameIndex: 2 ** 31 }, 'frames[0].frameIndex'],
      [{ seq: 2 ** 53 + 2 }, 'seq'],
    ];
    for (const [over, field] of cases) {
      const r = ObservationBatchSchema.safeParse(batch(over));
      expect(r.success).toBe(false);
      if (!r.success) expect(describeZodError(r.error).field).toBe(field);
    }
  });
});

describe('ack reading (structure, never text)', () => {
  it('maps IngestAcks and older plain Acks by their fields', () => {
    expect(toIngestAck({ code: 'committed', through: 7 }, 9, 500)).toEqual({ code: 'committed', through: 7 });
    expect(toIngestAck({ code: 'refused', field: 'seq', error: 'x' }, 9, 500)).toEqual({ code: 'refused', field: 'seq', error: 'x' });
    expect(toIngestAck({ ok: true }, 9, 500)).toEqual({ code: 'committed', through: 9 });
    expect(toIngestAck({ ok: false, field: 'camera', error: 'no camera' }, 9, 500)).toMatchObject({ code: 'refused', field: 'camera' });
    // The text of the old outbox's disconnect error no longer matters: no field = retry.
    expect(toIngestAck({ ok: false, error: 'socket has been disconnected' }, 9, 500)).toMatchObject({ code: 'retry-later' });
    expect(toIngestAck(undefined, 9, 500)).toMatchObject({ code: 'retry-later' });
  });
});
