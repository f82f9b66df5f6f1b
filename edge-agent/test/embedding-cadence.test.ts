import { describe, expect, it } from 'vitest';
import { EMBEDDING_EVERY_MS, EMBEDDING_REFRESH_MS, LOOK_CHANGE_DISTANCE, EmbeddingCadence } from '../src/agent/embedding-cadence.ts';
import { l2NormalizeInPlace } from '@mei/vision/vector';

/** A unit vector at cosine distance `d` from e0 = (1, 0, 0, ...) (8-d). */
function lookAt(d: number): Float32Array {
  const v = new Float32Array(8);
  v[0] = 1 - d;
  v[1] = Math.sqrt(1 - (1 - d) ** 2);
  return l2NormalizeInPlace(v);
}

describe('EmbeddingCadence (when a track re-sends its embedding)', () => {
  it('fixed cadence (a number): sends on a track’s first frame, then once per period of video time, per track', () => {
    const c = new EmbeddingCadence(1000);
    expect(c.due(1, 0)).toBe(true);
    expect(c.due(1, 500)).toBe(false);
    expect(c.due(2, 500)).toBe(true);
    expect(c.due(1, 999)).toBe(false);
    expect(c.due(1, 1000)).toBe(true);
    expect(c.due(2, 1400)).toBe(false);
    expect(c.due(2, 1500)).toBe(true);
  });

  it('an unchanged look goes out only at the refresh; a changed one after EMBEDDING_EVERY_MS, not sooner', () => {
    const c = new EmbeddingCadence();
    const same = lookAt(0);
    expect(c.due(1, 0, same)).toBe(true);
    for (let t = 100; t < EMBEDDING_REFRESH_MS; t += 100) expect(c.due(1, t, same)).toBe(false);
    expect(c.due(1, EMBEDDING_REFRESH_MS, same)).toBe(true);
    // A new look: held back until EMBEDDING_EVERY_MS after the last one, then sent.
    const t0 = EMBEDDING_REFRESH_MS;
    const changed = lookAt(LOOK_CHANGE_DISTANCE * 1.5);
    expect(c.due(1, t0 + EMBEDDING_EVERY_MS - 1, changed)).toBe(false);
    expect(c.due(1, t0 + EMBEDDING_EVERY_MS, changed)).toBe(true);
    // Measured against the last one sent (now `changed`): a small drift from it is not a new look.
    expect(c.due(1, t0 + 2 * EMBEDDING_EVERY_MS, lookAt(LOOK_CHANGE_DISTANCE * 1.5 + 0.01))).toBe(false);
  });

  it('never sends more than the fixed 2 s cadence did, whatever the looks do', () => {
    const looks = [lookAt(0), lookAt(0.5)];
    const c = new EmbeddingCadence();
    const at = Array.from({ length: 600 }, (_, i) => i * 100).filter((t, i) => c.due(7, t, looks[i % 2]));
    expect(at.length).toBeGreaterThan(20);
    for (let i = 1; i < at.length; i++) expect(at[i] - at[i - 1]).toBeGreaterThanOrEqual(EMBEDDING_EVERY_MS);
  });

  it('runs on the timestamps given, not the wall clock (history jobs faster than real time send the same)', () => {
    const c = new EmbeddingCadence();
    const look = lookAt(0);
    const sent = Array.from({ length: 100 }, (_, i) => c.due(7, i * 100, look)).filter(Boolean).length;
    expect(sent).toBe(Math.ceil((100 * 100) / EMBEDDING_REFRESH_MS));
  });

  it('secondMs: a track’s second embedding (its settled look) goes out that long after the first, changed or not; then the usual rules', () => {
    const c = new EmbeddingCadence({ secondMs: 3000 });
    const same = lookAt(0);
    expect(c.due(1, 0, same)).toBe(true);
    expect(c.due(1, 2999, same)).toBe(false);
    expect(c.due(1, 3000, same)).toBe(true);
    // Only the second: the third waits for the refresh (or a new look).
    for (let t = 3100; t < 3000 + EMBEDDING_REFRESH_MS; t += 100) expect(c.due(1, t, same)).toBe(false);
    expect(c.due(1, 3000 + EMBEDDING_REFRESH_MS, same)).toBe(true);
    // Never sooner than everyMs, whatever secondMs says; each track on its own clock.
    const early = new EmbeddingCadence({ secondMs: 500 });
    expect(early.due(2, 0, same)).toBe(true);
    expect(early.due(2, EMBEDDING_EVERY_MS - 1, same)).toBe(false);
    expect(early.due(2, EMBEDDING_EVERY_MS, same)).toBe(true);
    expect(early.due(3, EMBEDDING_EVERY_MS, same)).toBe(true);
    // A restarted clock starts the count again: its next embedding is a second one.
    expect(c.due(1, 100, same)).toBe(true);
    expect(c.due(1, 3100, same)).toBe(true);
  });

  it('a clock that restarts (a looped file) sends again at once', () => {
    const c = new EmbeddingCadence(1000);
    expect(c.due(3, 50_000)).toBe(true);
    expect(c.due(3, 100)).toBe(true);
    expect(c.due(3, 600)).toBe(false);
  });
});
