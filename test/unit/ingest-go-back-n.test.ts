// Go-back-N per stream on one connection (server/ingest/go-back-n.ts): after retry-later for seq M, no later
// seq of the stream is acked committed until a seq <= M was settled again, so `committed through` stays
// cumulative; other streams are not affected.
import { describe, expect, it } from 'vitest';
import type { IngestAck } from '@mei/contracts';
import { GoBackN } from '../../server/ingest/go-back-n.ts';
import { ByteBudget } from '../../server/ingest/byte-budget.ts';

const committed = (through: number): IngestAck => ({ code: 'committed', through });
const later: IngestAck = { code: 'retry-later', retryAfterMs: 700, reason: 'saturated' };

describe('go-back-N per stream', () => {
  it('stops waiting for a seq the agent declares dropped (dropped.heldFrom past it), settled in arrival order', () => {
    const g = new GoBackN();
    for (const s of [1, 2, 3]) expect(g.arrive('A', s)).toBeUndefined();
    expect(g.settle('A', 1, later)).toEqual(later);
    expect(g.settle('A', 2, committed(2))).toMatchObject({ code: 'retry-later' });
    expect(g.settle('A', 3, committed(3))).toMatchObject({ code: 'retry-later' });
    // Without a declaration a later seq is answered retry-later at once: the server waits for 1.
    expect(g.arrive('A', 4)).toMatchObject({ code: 'retry-later', reason: expect.stringContaining('seq 1') });
    // The agent's spool dropped 1 and 2: it holds 3 on and says so. The stream flows again.
    expect(g.arrive('A', 3, 3)).toBeUndefined();
    expect(g.settle('A', 3, committed(3), 3)).toEqual(committed(3));
    expect(g.arrive('A', 4)).toBeUndefined();
    expect(g.settle('A', 4, committed(4))).toEqual(committed(4));
    // Arrival order: a batch sent before the drop settles under the old wait, the declaring one after it.
    for (const s of [1, 2]) g.arrive('C', s);
    g.settle('C', 1, later);
    expect(g.arrive('C', 5, 3)).toBeUndefined();
    expect(g.settle('C', 2, committed(2))).toMatchObject({ code: 'retry-later' });
    expect(g.settle('C', 5, committed(5), 3)).toEqual(committed(5));
    // A declaration at or below the seq waited for changes nothing.
    g.arrive('B', 1);
    g.settle('B', 1, later);
    expect(g.arrive('B', 2, 1)).toMatchObject({ code: 'retry-later' });
  });

  it('answers retry-later for every later seq until the missing one is settled again', () => {
    const g = new GoBackN();
    for (const s of [1, 2, 3, 4]) expect(g.arrive('A', s)).toBeUndefined();
    expect(g.settle('A', 1, committed(1))).toEqual(committed(1));
    expect(g.settle('A', 2, later)).toEqual(later);
    // 3 and 4 were stored (say), but 2 is not: acking them would tell the agent 2 is durable.
    expect(g.settle('A', 3, committed(3))).toMatchObject({ code: 'retry-later', retryAfterMs: 700 });
    expect(g.settle('A', 4, committed(4))).toMatchObject({ code: 'retry-later' });
    // Nothing of A is open now: a later seq is answered at once, without being stored.
    expect(g.arrive('A', 5)).toMatchObject({ code: 'retry-later', reason: expect.stringContaining('seq 2') });
    // Another stream flows meanwhile.
    expect(g.arrive('B', 9)).toBeUndefined();
    expect(g.settle('B', 9, committed(9))).toEqual(committed(9));
    // The agent goes back to 2: the stream flows again.
    for (const s of [2, 3, 4, 5]) expect(g.arrive('A', s)).toBeUndefined();
    for (const s of [2, 3, 4, 5]) expect(g.settle('A', s, committed(s))).toEqual(committed(s));
  });

  it('keeps the lowest retry-later seq; a refusal passes (the agent drops it) without unblocking', () => {
    const g = new GoBackN();
    for (const s of [5, 6, 7, 8]) g.arrive('A', s);
    g.settle('A', 5, later);
    expect(g.settle('A', 6, { code: 'refused', field: 'frames', error: 'x' })).toMatchObject({ code: 'refused' });
    expect(g.settle('A', 7, later)).toMatchObject({ code: 'retry-later' });
    expect(g.settle('A', 8, committed(8))).toMatchObject({ code: 'retry-later', reason: expect.stringContaining('seq 5') });
  });
});

describe('byte budget per job', () => {
  it('refuses room past the limit to that job only, and a lone batch always fits', () => {
    const b = new ByteBudget(1000);
    expect(b.take('a', 600)).toBe(true);
    expect(b.take('a', 600)).toBe(false);
    expect(b.take('b', 900)).toBe(true);
    expect(b.take('c', 5000)).toBe(true); // alone: larger than the limit, still admitted
    b.release('a', 600);
    expect(b.take('a', 600)).toBe(true);
    expect(b.usedBy('a')).toBe(600);
  });
});
