import { describe, expect, it } from 'vitest';
import { EMBEDDING_EVERY_MS, EmbeddingCadence } from '../src/agent/embedding-cadence.ts';

describe('EmbeddingCadence (when a track re-sends its embedding)', () => {
  it('sends on a track’s first frame, then once per period of video time, per track', () => {
    const c = new EmbeddingCadence(1000);
    expect(c.due(1, 0)).toBe(true);
    expect(c.due(1, 500)).toBe(false);
    expect(c.due(2, 500)).toBe(true);
    expect(c.due(1, 999)).toBe(false);
    expect(c.due(1, 1000)).toBe(true);
    expect(c.due(2, 1400)).toBe(false);
    expect(c.due(2, 1500)).toBe(true);
  });

  it('runs on the timestamps given, not the wall clock (history jobs faster than real time send the same)', () => {
    const c = new EmbeddingCadence();
    const sent = Array.from({ length: 100 }, (_, i) => c.due(7, i * 100)).filter(Boolean).length;
    expect(sent).toBe(Math.ceil((100 * 100) / EMBEDDING_EVERY_MS));
  });

  it('a clock that restarts (a looped file) sends again at once', () => {
    const c = new EmbeddingCadence(1000);
    expect(c.due(3, 50_000)).toBe(true);
    expect(c.due(3, 100)).toBe(true);
    expect(c.due(3, 600)).toBe(false);
  });
});
