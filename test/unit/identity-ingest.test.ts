// Exactly-once ingest of observation batches per (job, camera, seq), and the per-job identity registry.
import { describe, expect, it } from 'vitest';
import { IngestDedup, JobIdentities } from '../../server/identity/index.ts';
import { interleave, noisy, person, rng, sceneBatches } from './identity-scenes.ts';

describe('IngestDedup', () => {
  it('applies each seq once per (job, camera), accepts late holes, refuses what fell out of the window', () => {
    const d = new IngestDedup(4);
    const ok = (job: string, cam: string, seq: number) => d.check(job, cam, seq).accept;
    expect([0, 1, 2].map((s) => ok('ns/j', 'a', s))).toEqual([true, true, true]);
    expect(d.check('ns/j', 'a', 1)).toEqual({ accept: false, reason: 'duplicate' });
    expect(ok('ns/j', 'b', 1)).toBe(true); // other camera: its own numbering
    expect(ok('ns/k', 'a', 1)).toBe(true); // other job
    expect(ok('ns/j', 'a', 5)).toBe(true);
    expect(ok('ns/j', 'a', 4)).toBe(true); // a hole filled late
    expect(ok('ns/j', 'a', 4)).toBe(false);
    expect(d.check('ns/j', 'a', 1)).toEqual({ accept: false, reason: 'too-old' });
    d.reset('ns/j', 'a'); // agent restarted: numbering starts again
    expect(ok('ns/j', 'a', 0)).toBe(true);
    expect(ok('ns/j', 'b', 1)).toBe(false); // other camera untouched by the reset
    expect(() => d.check('ns/j', 'a', -1)).toThrow(/seq must be an integer >= 0/);
  });

  it('keeps memory bounded by the window', () => {
    const d = new IngestDedup(8);
    for (let s = 0; s < 10_000; s++) d.check('ns/j', 'a', s);
    // @ts-expect-error reading private state to check the bound
    const seen: Set<number> = d.cameras.get('ns/j\u0000a').seen;
    expect(seen.size).toBeLessThanOrEqual(17);
  });
});

describe('JobIdentities', () => {
  const X = person(7);
  const Y = person(8);
  const spec = { cameras: [{ name: 'a', node: 'n1', source: 'x', overlaps: ['b'] }, { name: 'b', node: 'n2', source: 'y' }], crossCamera: { matchThreshold: 0.35 } };

  function batches() {
    const rx = rng(1);
    const ry = rng(2);
    return interleave(
      sceneBatches(
        [
          { camera: 'a', localId: 1, fromMs: 0, toMs: 3000, appearance: () => noisy(X, 0.25, rx) },
          { camera: 'b', localId: 1, fromMs: 2000, toMs: 5000, appearance: () => noisy(X, 0.25, rx) },
          { camera: 'b', localId: 2, fromMs: 0, toMs: 5000, appearance: () => noisy(Y, 0.25, ry) },
        ],
        { cameras: ['a', 'b'], jobKey: 'ns/demo', framesPerBatch: 5 },
      ),
      { seed: 4 },
    );
  }

  it('a resent batch (agent reconnect) is applied once and changes nothing', () => {
    const jobs = new JobIdentities();
    const svc = jobs.ensure('ns/demo', 'uid-1', spec);
    const all = batches();
    const firstHalf = all.slice(0, Math.floor(all.length / 2));
    for (const b of firstHalf) expect(jobs.ingest(b).applied).toBe(true);
    const before = svc.stats();
    // The agent reconnects and resends everything it had not seen acknowledged.
    for (const b of firstHalf) expect(jobs.ingest(b)).toEqual({ applied: false, events: [] });
    expect(svc.stats()).toEqual(before);
    for (const b of all.slice(firstHalf.length)) jobs.ingest(b);
    expect(svc.identityOf('b', 1)).toBe(svc.identityOf('a', 1));
    expect(svc.identityOf('b', 2)).not.toBe(svc.identityOf('a', 1));
    expect(svc.identityCount()).toBe(2);
  });

  it('keeps one service per job run, and a recreated job (new uid) starts afresh', () => {
    const jobs = new JobIdentities();
    const s1 = jobs.ensure('ns/demo', 'uid-1', spec);
    expect(jobs.ensure('ns/demo', 'uid-1', spec)).toBe(s1);
    for (const b of batches()) jobs.ingest(b);
    const s2 = jobs.ensure('ns/demo', 'uid-2', spec);
    expect(s2).not.toBe(s1);
    expect(s2.identityCount()).toBe(0);
    expect(jobs.ingest(batches()[0]).applied).toBe(true); // seqs start over for the new run
  });

  it('names the field for a batch of an unknown job or camera, without using up its seq', () => {
    const jobs = new JobIdentities();
    const b = batches()[0];
    expect(() => jobs.ingest(b)).toThrow(/jobKey: no identity service for job "ns\/demo"/);
    jobs.ensure('ns/demo', 'uid-1', spec);
    expect(() => jobs.ingest({ ...b, camera: 'zz' })).toThrow(/camera: unknown camera "zz"/);
    expect(jobs.ingest(b).applied).toBe(true);
  });
});
