// The cross-camera identity service on scripted scenes with synthetic embeddings (person vector + noise).
import { describe, expect, it } from 'vitest';
import { IdentityInputError, IdentityService, type IdentityEvent } from '../../server/identity/index.ts';
import { atDistance, interleave, noisy, person, rng, sceneBatches, type ScriptedTrack } from './identity-scenes.ts';

const X = person(1);
const Y = person(2);
const Z = person(3);

/** Embeddings of one person: small noise (about 0.03 cosine distance from the truth). */
const looks = (p: Float32Array, seed: number) => {
  const r = rng(seed);
  return () => noisy(p, 0.25, r);
};

function run(
  tracks: ScriptedTrack[],
  cameras: Array<{ name: string; overlaps?: string[] }>,
  opts: { maxGapSeconds?: number; order?: 'time' | { seed: number }; skewMs?: Record<string, number>; enabled?: boolean } = {},
) {
  const svc = new IdentityService({
    cameras,
    crossCamera: { matchThreshold: 0.35, maxGapSeconds: opts.maxGapSeconds ?? 60, enabled: opts.enabled },
  });
  const events: IdentityEvent[] = [];
  const batches = interleave(sceneBatches(tracks, { cameras: cameras.map((c) => c.name), skewMs: opts.skewMs }), opts.order ?? 'time');
  for (const b of batches) events.push(...svc.ingest(b));
  return { svc, events };
}

describe('IdentityService: hand-offs', () => {
  it('overlapping cameras: a person seen in both at the same time keeps one identity', () => {
    const tracks: ScriptedTrack[] = [
      { camera: 'a', localId: 1, fromMs: 0, toMs: 5000, appearance: looks(X, 11) },
      { camera: 'b', localId: 4, fromMs: 3000, toMs: 9000, appearance: looks(X, 12) },
      { camera: 'b', localId: 5, fromMs: 0, toMs: 9000, appearance: looks(Y, 13) },
    ];
    const { svc, events } = run(tracks, [{ name: 'a', overlaps: ['b'] }, { name: 'b' }]);
    expect(svc.identityOf('a', 1)).toBeDefined();
    expect(svc.identityOf('b', 4)).toBe(svc.identityOf('a', 1));
    expect(svc.identityOf('b', 5)).not.toBe(svc.identityOf('a', 1));
    expect(svc.identityCount()).toBe(2);
    expect(events.filter((e) => e.type === 'split')).toEqual([]);
  });

  it('non-overlapping cameras: sequential appearances hand off to the same identity', () => {
    const tracks: ScriptedTrack[] = [
      { camera: 'a', localId: 1, fromMs: 0, toMs: 4000, appearance: looks(X, 21) },
      { camera: 'b', localId: 1, fromMs: 6000, toMs: 10000, appearance: looks(X, 22) },
      { camera: 'a', localId: 2, fromMs: 5000, toMs: 10000, appearance: looks(Y, 23) },
    ];
    const { svc, events } = run(tracks, [{ name: 'a' }, { name: 'b' }]);
    expect(svc.identityOf('b', 1)).toBe(svc.identityOf('a', 1));
    expect(svc.identityOf('a', 2)).not.toBe(svc.identityOf('a', 1));
    const assigned = events.filter((e) => e.type === 'assigned');
    expect(assigned.map((e) => e.type === 'assigned' && `${e.camera}/${e.localId}=${e.identity}`)).toEqual(['a/1=P1', 'a/2=P2', 'b/1=P1']);
  });

  it('non-overlapping cameras: the same appearance in both at the same time is two people', () => {
    // b's track is already seen for a second when its first embedding comes: the conflict is known at once.
    const tracks: ScriptedTrack[] = [
      { camera: 'a', localId: 1, fromMs: 0, toMs: 8000, appearance: looks(X, 31) },
      { camera: 'b', localId: 1, fromMs: 2000, toMs: 8000, appearance: looks(X, 32), firstEmbedAfterMs: 1000 },
    ];
    const { svc, events } = run(tracks, [{ name: 'a' }, { name: 'b' }]);
    expect(svc.identityOf('a', 1)).toBe('P1');
    expect(svc.identityOf('b', 1)).toBe('P2');
    expect(events.some((e) => e.type === 'merged')).toBe(false);
  });

  it('non-overlapping cameras: presence that only later turns out simultaneous splits the later joiner out', () => {
    // b's first embedding comes in its first frame, when both tracks were seen together for 0 ms.
    const tracks: ScriptedTrack[] = [
      { camera: 'a', localId: 1, fromMs: 0, toMs: 8000, appearance: looks(X, 41) },
      { camera: 'b', localId: 1, fromMs: 2000, toMs: 8000, appearance: looks(X, 42) },
    ];
    const { svc, events } = run(tracks, [{ name: 'a' }, { name: 'b' }]);
    expect(svc.identityOf('a', 1)).toBe('P1');
    expect(svc.identityOf('b', 1)).not.toBe('P1');
    expect(events).toContainEqual(expect.objectContaining({ type: 'split', camera: 'b', localId: 1, from: 'P1' }));
    expect(events.some((e) => e.type === 'merged')).toBe(false);
  });

  it('respects maxGapSeconds: a hand-off after a longer gap is a new identity', () => {
    const tracks: ScriptedTrack[] = [
      { camera: 'a', localId: 1, fromMs: 0, toMs: 2000, appearance: looks(X, 51) },
      { camera: 'b', localId: 1, fromMs: 4000, toMs: 6000, appearance: looks(X, 52) }, // 2 s gap: within 3 s
      { camera: 'a', localId: 2, fromMs: 10_000, toMs: 12_000, appearance: looks(X, 53) }, // 4 s gap: too long
    ];
    const { svc } = run(tracks, [{ name: 'a' }, { name: 'b' }], { maxGapSeconds: 3 });
    expect(svc.identityOf('b', 1)).toBe(svc.identityOf('a', 1));
    expect(svc.identityOf('a', 2)).not.toBe(svc.identityOf('a', 1));
    const wide = run(tracks, [{ name: 'a' }, { name: 'b' }], { maxGapSeconds: 5 }).svc;
    expect(wide.identityOf('a', 2)).toBe(wide.identityOf('a', 1));
  });

  it('gives the same answer whatever the arrival order across cameras, with clock skew', () => {
    const tracks: ScriptedTrack[] = [
      { camera: 'a', localId: 1, fromMs: 0, toMs: 4000, appearance: looks(X, 61) },
      { camera: 'b', localId: 7, fromMs: 3500, toMs: 9000, appearance: looks(X, 62) },
      { camera: 'c', localId: 2, fromMs: 10_000, toMs: 14_000, appearance: looks(X, 63) },
      { camera: 'a', localId: 3, fromMs: 1000, toMs: 12_000, appearance: looks(Y, 64) },
      { camera: 'c', localId: 9, fromMs: 0, toMs: 6000, appearance: looks(Z, 65) },
    ];
    const cameras = [{ name: 'a', overlaps: ['b'] }, { name: 'b' }, { name: 'c' }];
    const skewMs = { a: 0, b: 300, c: -250 };
    for (const order of ['time', { seed: 1 }, { seed: 2 }, { seed: 3 }] as const) {
      const { svc } = run(tracks, cameras, { order, skewMs });
      const x = svc.identityOf('a', 1);
      expect([svc.identityOf('b', 7), svc.identityOf('c', 2)], JSON.stringify(order)).toEqual([x, x]);
      expect(new Set([x, svc.identityOf('a', 3), svc.identityOf('c', 9)]).size).toBe(3);
      expect(svc.identityCount()).toBe(3);
    }
  });
});

describe('IdentityService: one camera', () => {
  it('two lookalikes crossing in one camera keep different ids', () => {
    const Xb = atDistance(X, 0.15, 71); // within the match threshold of X
    const tracks: ScriptedTrack[] = [
      { camera: 'a', localId: 1, fromMs: 0, toMs: 10_000, appearance: looks(X, 72) },
      { camera: 'a', localId: 2, fromMs: 500, toMs: 10_000, appearance: looks(Xb, 73) },
    ];
    const { svc, events } = run(tracks, [{ name: 'a' }]);
    expect(svc.identityOf('a', 1)).toBe('P1');
    expect(svc.identityOf('a', 2)).toBe('P2');
    expect(events.filter((e) => e.type !== 'assigned')).toEqual([]);
  });

  it('a local id switch while crossing: each local track follows the person it now shows', () => {
    const r1 = rng(81);
    const r2 = rng(82);
    const tracks: ScriptedTrack[] = [
      // At 5 s the tracker swaps the two people between its local ids.
      { camera: 'a', localId: 1, fromMs: 0, toMs: 10_000, appearance: (t) => noisy(t < 5000 ? X : Y, 0.25, r1) },
      { camera: 'a', localId: 2, fromMs: 0, toMs: 10_000, appearance: (t) => noisy(t < 5000 ? Y : X, 0.25, r2) },
    ];
    const { svc, events } = run(tracks, [{ name: 'a' }]);
    expect(svc.identityAt('a', 1, 2000)).toBe('P1');
    expect(svc.identityAt('a', 2, 2000)).toBe('P2');
    expect(svc.identityOf('a', 1)).toBe('P2');
    expect(svc.identityOf('a', 2)).toBe('P1');
    expect(svc.identityAt('a', 1, 9000)).toBe('P2');
    expect(events.filter((e) => e.type === 'split').length).toBeGreaterThanOrEqual(1);
    expect(svc.identityCount()).toBe(2);
  });

  it('a fragmented track (new local id after an occlusion) is re-linked to its identity', () => {
    const tracks: ScriptedTrack[] = [
      { camera: 'a', localId: 1, fromMs: 0, toMs: 3000, appearance: looks(X, 91) },
      { camera: 'a', localId: 2, fromMs: 3600, toMs: 7000, appearance: looks(X, 92) },
    ];
    const { svc } = run(tracks, [{ name: 'a' }]);
    expect(svc.identityOf('a', 2)).toBe(svc.identityOf('a', 1));
  });
});

describe('IdentityService: merge and split', () => {
  it('merges two identities when later evidence shows they are one person (older id kept)', () => {
    const r = rng(101);
    const tracks: ScriptedTrack[] = [
      { camera: 'a', localId: 1, fromMs: 0, toMs: 4000, appearance: looks(X, 102) },
      // b's first embedding is poor (partly occluded): 0.45 from X, beyond the 0.35 threshold; then clean.
      { camera: 'b', localId: 3, fromMs: 6000, toMs: 12_000, appearance: (_t, k) => (k === 0 ? atDistance(X, 0.45, 103) : noisy(X, 0.25, r)) },
    ];
    const { svc, events } = run(tracks, [{ name: 'a' }, { name: 'b' }]);
    expect(events).toContainEqual(expect.objectContaining({ type: 'assigned', camera: 'b', localId: 3, identity: 'P2' }));
    expect(events).toContainEqual(expect.objectContaining({ type: 'merged', from: 'P2', into: 'P1' }));
    expect(svc.identityOf('b', 3)).toBe('P1');
    expect(svc.identityAt('b', 3, 6000)).toBe('P1');
    expect(svc.identityCount()).toBe(1);
  });

  it('does not merge identities whose tracks were in non-overlapping cameras at the same time', () => {
    const r = rng(111);
    const tracks: ScriptedTrack[] = [
      { camera: 'a', localId: 1, fromMs: 0, toMs: 8000, appearance: looks(X, 112) },
      { camera: 'b', localId: 3, fromMs: 2000, toMs: 8000, appearance: (_t, k) => (k === 0 ? atDistance(X, 0.45, 113) : noisy(X, 0.25, r)) },
    ];
    const { svc, events } = run(tracks, [{ name: 'a' }, { name: 'b' }]);
    expect(events.some((e) => e.type === 'merged')).toBe(false);
    expect(svc.identityOf('b', 3)).not.toBe(svc.identityOf('a', 1));
  });

  it('does not merge two people because a third tracklet resembles both', () => {
    const Yx = atDistance(X, 0.45, 115); // a different person: beyond the threshold from X
    const mid = Float32Array.from(X, (v, i) => v + Yx[i]); // halfway: about 0.12 from each
    const tracks: ScriptedTrack[] = [
      { camera: 'a', localId: 1, fromMs: 0, toMs: 4000, appearance: looks(X, 116) },
      { camera: 'b', localId: 1, fromMs: 0, toMs: 4000, appearance: looks(Yx, 117) },
      { camera: 'c', localId: 1, fromMs: 6000, toMs: 12_000, appearance: looks(mid.map((v) => v / Math.hypot(...mid)), 118) },
    ];
    // a and b overlap, so only appearance keeps X and Yx apart.
    const { svc, events } = run(tracks, [{ name: 'a', overlaps: ['b'] }, { name: 'b' }, { name: 'c' }]);
    expect(events.some((e) => e.type === 'merged')).toBe(false);
    expect(svc.identityOf('a', 1)).not.toBe(svc.identityOf('b', 1));
  });

  it('does not merge when any two tracklets of the identities were in non-overlapping cameras at once', () => {
    // a/1 and d/1 look alike but are two people (seen at the same time). c/1 resembles both later.
    const tracks: ScriptedTrack[] = [
      { camera: 'a', localId: 1, fromMs: 0, toMs: 4000, appearance: looks(X, 119) },
      { camera: 'd', localId: 1, fromMs: 0, toMs: 4000, appearance: looks(X, 120), firstEmbedAfterMs: 1000 },
      { camera: 'c', localId: 1, fromMs: 6000, toMs: 12_000, appearance: looks(X, 121) },
    ];
    const { svc, events } = run(tracks, [{ name: 'a' }, { name: 'c' }, { name: 'd' }]);
    expect(svc.identityOf('a', 1)).not.toBe(svc.identityOf('d', 1));
    expect(events.some((e) => e.type === 'merged')).toBe(false);
    expect(svc.identityCount()).toBe(2);
  });

  it('splits a tracklet whose embeddings change to another person, onto that person', () => {
    const r = rng(121);
    const tracks: ScriptedTrack[] = [
      { camera: 'b', localId: 1, fromMs: 0, toMs: 4000, appearance: looks(Y, 122) },
      { camera: 'a', localId: 7, fromMs: 5000, toMs: 16_000, appearance: (t) => noisy(t < 10_000 ? X : Y, 0.25, r) },
    ];
    const { svc, events } = run(tracks, [{ name: 'a' }, { name: 'b' }]);
    expect(svc.identityOf('b', 1)).toBe('P1');
    expect(events).toContainEqual(expect.objectContaining({ type: 'split', camera: 'a', localId: 7, from: 'P2', to: 'P1' }));
    expect(svc.identityOf('a', 7)).toBe('P1');
    expect(svc.identityAt('a', 7, 7000)).toBe('P2');
    expect(svc.identityAt('a', 7, 12_000)).toBe('P1');
  });

  it('moves a misassigned tracklet out when its gallery no longer fits the identity', () => {
    const r = rng(131);
    const tracks: ScriptedTrack[] = [
      { camera: 'b', localId: 1, fromMs: 0, toMs: 3000, appearance: looks(X, 132) },
      // The first embedding looks like X (lookalike pose); every later one is clearly Z.
      { camera: 'a', localId: 4, fromMs: 5000, toMs: 12_000, appearance: (_t, k) => (k === 0 ? noisy(X, 0.25, r) : noisy(Z, 0.25, r)) },
    ];
    const { svc, events } = run(tracks, [{ name: 'a' }, { name: 'b' }]);
    expect(events).toContainEqual(expect.objectContaining({ type: 'assigned', camera: 'a', localId: 4, identity: 'P1' }));
    expect(events).toContainEqual(expect.objectContaining({ type: 'split', camera: 'a', localId: 4, from: 'P1', to: 'P2' }));
    expect(svc.identityOf('a', 4)).toBe('P2');
    expect(svc.identityOf('b', 1)).toBe('P1');
  });

  it('moves a tracklet to another identity that its grown evidence fits clearly better', () => {
    const Y3 = atDistance(X, 0.3, 135); // a lookalike: within the threshold of X
    const r = rng(136);
    const tracks: ScriptedTrack[] = [
      { camera: 'a', localId: 1, fromMs: 0, toMs: 4000, appearance: looks(X, 137) },
      { camera: 'b', localId: 1, fromMs: 0, toMs: 4000, appearance: looks(Y3, 138), firstEmbedAfterMs: 1000 },
      // First seen in an X-like pose, then clearly Y3.
      { camera: 'c', localId: 1, fromMs: 6000, toMs: 12_000, appearance: (_t, k) => noisy(k === 0 ? X : Y3, 0.25, r) },
    ];
    const { svc, events } = run(tracks, [{ name: 'a' }, { name: 'b' }, { name: 'c' }]);
    expect(svc.identityOf('a', 1)).toBe('P1');
    expect(svc.identityOf('b', 1)).toBe('P2');
    expect(events).toContainEqual(expect.objectContaining({ type: 'assigned', camera: 'c', localId: 1, identity: 'P1' }));
    expect(events).toContainEqual(expect.objectContaining({ type: 'split', camera: 'c', localId: 1, from: 'P1', to: 'P2' }));
    expect(svc.identityOf('c', 1)).toBe('P2');
  });

  it('a single far embedding (noise) neither cuts nor moves a tracklet', () => {
    const r = rng(141);
    const tracks: ScriptedTrack[] = [
      { camera: 'a', localId: 1, fromMs: 0, toMs: 8000, appearance: (_t, k) => (k === 6 ? noisy(Z, 0.25, r) : noisy(X, 0.25, r)) },
    ];
    const { svc, events } = run(tracks, [{ name: 'a' }]);
    expect(events.map((e) => e.type)).toEqual(['assigned']);
    expect(svc.identityAt('a', 1, 7000)).toBe('P1');
  });
});

describe('IdentityService: settings, cost and input', () => {
  it('crossCamera.enabled=false: every local track is its own identity, from its first observation', () => {
    const tracks: ScriptedTrack[] = [
      { camera: 'a', localId: 1, fromMs: 0, toMs: 3000, appearance: looks(X, 151) },
      { camera: 'b', localId: 1, fromMs: 4000, toMs: 6000, appearance: looks(X, 152), firstEmbedAfterMs: 500 },
    ];
    const { svc } = run(tracks, [{ name: 'a' }, { name: 'b' }], { enabled: false });
    expect(svc.identityOf('a', 1)).toBe('P1');
    expect(svc.identityOf('b', 1)).toBe('P2');
  });

  it('scores only identities active within the hand-off window, not all history', () => {
    // 300 people pass one after another through camera a, one new person each second; 5 s hand-off window.
    const svc = new IdentityService({ cameras: [{ name: 'a' }], crossCamera: { maxGapSeconds: 5 }, maxLagMs: 2000 });
    const dim = 512;
    for (let i = 0; i < 300; i++) {
      const p = person(1000 + i, dim);
      const t0 = i * 1000;
      for (let t = t0; t <= t0 + 800; t += 100) svc.observe('a', i + 1, t);
      svc.addEmbedding('a', i + 1, t0 + 800, p);
    }
    const s = svc.stats();
    expect(s.identities).toBe(300);
    expect(s.dim).toBe(512);
    // Window = 5 s gap + 0.5 s skew tolerance + up to one bucket (1 s) of slack: about 7 identities.
    expect(s.maxCandidatesPerQuery).toBeLessThanOrEqual(8);
    expect(s.activeIdentities).toBeLessThanOrEqual(12);
  });

  it('rejects bad input with the field named', () => {
    expect(() => new IdentityService({ cameras: [{ name: 'a', overlaps: ['nope'] }] })).toThrow(/cameras\[0\]\.overlaps\[0\]: unknown camera "nope"/);
    expect(() => new IdentityService({ cameras: [{ name: 'a' }], crossCamera: { matchThreshold: 3 } })).toThrow(/crossCamera\.matchThreshold/);
    const svc = new IdentityService({ cameras: [{ name: 'a' }] });
    const frame = { frameIndex: 0, timestampMs: 0, emittedAt: 0, width: 10, height: 10, tracks: [] };
    try {
      svc.ingest({ jobKey: 'default/x', camera: 'zz', seq: 0, frames: [frame] });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(IdentityInputError);
      expect((e as IdentityInputError).field).toBe('camera');
    }
    svc.addEmbedding('a', 1, 0, Array.from(X));
    expect(() => svc.ingest({ jobKey: 'default/x', camera: 'a', seq: 1, frames: [frame], embeddings: [{ id: 1, vector: [1, 2, 3, 4, 5, 6, 7, 8] }] })).toThrow(
      /embeddings\[0\]\.vector: has 8 entries but this job's embeddings have 128/,
    );
    expect(() => svc.addEmbedding('a', 2, 0, new Array(128).fill(0))).toThrow(/vector: must be a non-zero vector/);
    expect(() => svc.observe('a', 3, Number.NaN)).toThrow(/timestampMs/);
  });

  it('liveTracks joins local tracks to their global ids', () => {
    const svc = new IdentityService({ cameras: [{ name: 'a' }] });
    svc.observe('a', 1, 0);
    svc.observe('a', 2, 0);
    svc.addEmbedding('a', 1, 0, Array.from(X));
    const t = (id: number) => ({ id, x: 1, y: 2, w: 3, h: 4, score: 0.5, state: 'confirmed' as const });
    expect(svc.liveTracks('a', [t(1), t(2)])).toEqual([
      { localId: 1, globalId: 'P1', x: 1, y: 2, w: 3, h: 4, score: 0.5, state: 'confirmed' },
      { localId: 2, globalId: '', x: 1, y: 2, w: 3, h: 4, score: 0.5, state: 'confirmed' },
    ]);
  });
});
