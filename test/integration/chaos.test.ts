// Issue #11, "nothing lost", proven with real processes: a real MEI server process, real edge agent processes
// (scripted cameras: synthetic observations, no video or models) and a TCP proxy between them that the test
// controls (test/support/chaos.ts). While the cameras produce (10 fps x 10 people, one batch of 20 frames
// every 2 s each), the link gets 200 ms latency each way, is cut for 30 s and the server is SIGKILLed at 3
// random points; agents are SIGKILLed and restarted (their on-disk spools keep what was not committed); the
// link is cut for 10 minutes of camera time (the cameras produce 20x faster than real time meanwhile). The
// set of batches in the ingest log must equal the set the cameras produced: none lost, none stored twice, no
// seq gap, every row applied to identities/history. On PGlite and on PostgreSQL. Last, a spool too small
// for its outage drops its oldest batches: the agent says so, the server counts them, and the rest arrives.
import { describe, expect, it } from 'vitest';
import { runChaos } from '../support/chaos.ts';

describe.each([['PGlite', 'pglite'] as const, ['PostgreSQL', 'postgresql'] as const])('chaos on %s (scripted cameras, real server and agent processes, TCP proxy)', (_name, database) => {
  it('200 ms latency with 8 cameras, a 30 s cut and 3 server SIGKILLs lose nothing and store nothing twice', async () => {
    const r = await runChaos({
      database,
      cameras: 8,
      nodes: 2,
      seed: database === 'pglite' ? 11 : 17,
      phases: [
        { kind: 'latency', ms: 200, durationMs: 20_000 },
        { kind: 'cut', durationMs: 30_000 },
        { kind: 'kill-server', count: 3 },
      ],
    });
    expect(r.drained).toBe(true);
    expect(r.refusedByServer).toBe(0);
    expect(r.produced).toBeGreaterThan(8 * 20);
    expect({ lost: r.lost, duplicated: r.duplicated, unexpected: r.unexpected, seqGaps: r.seqGaps, unapplied: r.unapplied, agentDropped: r.agentDropped }).toEqual({ lost: 0, duplicated: 0, unexpected: 0, seqGaps: 0, unapplied: 0, agentDropped: 0 });
    expect(r.committed).toBe(r.produced);
    expect(r.serverStarts).toBe(4);
  }, 1_200_000);

  it('agents SIGKILLed and restarted twice, then a 10-minute outage (cameras at 20x), lose nothing and store nothing twice', async () => {
    const r = await runChaos({
      database,
      cameras: 8,
      nodes: 2,
      seed: database === 'pglite' ? 23 : 29,
      phases: [
        { kind: 'kill-agent', count: 2 },
        { kind: 'cut', durationMs: 600_000, speedup: 20 },
      ],
      drainTimeoutMs: 900_000,
    });
    expect(r.drained).toBe(true);
    expect(r.agentStarts).toBe(4);
    expect(r.refusedByServer).toBe(0);
    // 10 minutes of 8 cameras at one batch per 2 s: 2,400 batches produced while the link was down.
    expect(r.produced).toBeGreaterThan(2_400);
    expect(r.maxBacklog).toBeGreaterThanOrEqual(290);
    expect({ lost: r.lost, duplicated: r.duplicated, unexpected: r.unexpected, seqGaps: r.seqGaps, unapplied: r.unapplied, agentDropped: r.agentDropped }).toEqual({ lost: 0, duplicated: 0, unexpected: 0, seqGaps: 0, unapplied: 0, agentDropped: 0 });
    expect(r.committed).toBe(r.produced);
  }, 1_200_000);

  it('a spool too small for its outage drops the oldest batches, declares them (counted by the server), and the rest arrives once', async () => {
    const r = await runChaos({
      database,
      cameras: 2,
      nodes: 1,
      seed: 31,
      spoolBytes: 131_072, // two 64 KiB segments: about 40 batches of these cameras
      phases: [{ kind: 'cut', durationMs: 300_000, speedup: 30 }],
      drainTimeoutMs: 600_000,
    });
    expect(r.drained).toBe(true);
    expect(r.agentDropped).toBeGreaterThan(50);
    // What was lost is what the spools dropped (a dropped batch may have been committed before the cut).
    expect(r.lost).toBeGreaterThan(0);
    expect(r.lost).toBeLessThanOrEqual(r.agentDropped);
    expect(r.seqGaps).toBeLessThanOrEqual(r.agentDropped);
    expect(r.serverCountedDrops).toBe(r.agentDropped);
    expect({ duplicated: r.duplicated, unexpected: r.unexpected, unapplied: r.unapplied, refused: r.refusedByServer }).toEqual({ duplicated: 0, unexpected: 0, unapplied: 0, refused: 0 });
    expect(r.committed + r.lost).toBe(r.produced);
  }, 1_200_000);
});
