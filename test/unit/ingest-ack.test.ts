// The ingest contract (issue #11, part 1): store bounds in one place used by the batch schema, and the
// agent's reading of an ack by its structure only (never its text).
import { describe, expect, it } from 'vitest';
import { BOUNDS, MAX_INT32, ObservationBatchSchema, describeZodError, type IngestAck, type ObservationBatch } from '@mei/contracts';
import { toIngestAck } from '../../edge-agent/src/transport/connection.ts';
import { ObservationOutbox } from '../../edge-agent/src/transport/outbox.ts';

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

  it('the outbox keeps a batch on retry-later, drops a refused one, and a cumulative commit clears its stream', async () => {
    const answers: IngestAck[] = [
      { code: 'retry-later', retryAfterMs: 0, reason: 'transport: socket has been disconnected' },
      { code: 'committed', through: 2 },
      { code: 'refused', field: 'frames[0].width', error: 'too small' },
    ];
    const sent: number[] = [];
    const outbox = new ObservationOutbox(async (b) => (sent.push(b.seq), answers.shift() ?? { code: 'committed', through: b.seq }));
    const mk = (seq: number, camera = 'c') => ({ jobKey: 'a/b', camera, seq, frames: [] }) as unknown as ObservationBatch;
    outbox.push(mk(1)); // first flush: retry-later, kept
    await outbox.flush();
    expect(outbox.size).toBe(1);
    outbox.push(mk(2));
    outbox.push(mk(3, 'other'));
    outbox.push(mk(4, 'other'));
    await outbox.flush(); // seq 1 -> committed through 2 (clears 1 and 2), 3 refused, 4 committed
    await new Promise((r) => setTimeout(r, 10));
    await outbox.flush();
    expect(outbox.size).toBe(0);
    expect(sent).toEqual([1, 1, 3, 4]);
    expect(outbox.refused).toBe(1);
  });
});
