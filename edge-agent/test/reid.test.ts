import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelError } from '@mei/vision/models/resolve';
import type { Embedder, Frame } from '@mei/vision/types';
import { createEmbedder, OnnxEmbedder } from '@mei/vision/reid';
import { cosineDistance } from '@mei/vision/vector';
import { openVideoSource } from '../src/sources/index.ts';
import { loadPetsGt, modelEnv, VTEST, type GtBox } from '../../test/support/shared-data.ts';

// Pairs of nearby video frames; people are matched across each pair by their ground-truth ids.
const PAIRS: Array<[number, number]> = [
  [0, 5],
  [100, 105],
  [200, 210],
];

describe('ReID embedders on PETS09-S2L1 ground-truth boxes', () => {
  const gt = loadPetsGt();
  const frames = new Map<number, Frame>();
  const embedders: Embedder[] = [];

  beforeAll(async () => {
    const want = new Set(PAIRS.flat());
    const src = await openVideoSource({ source: VTEST, mode: 'history', maxFrames: 211 });
    for await (const f of src) if (want.has(f.index)) frames.set(f.index, f);
  });
  afterAll(async () => {
    for (const e of embedders) await e.dispose();
  });

  /** Rank-1 (is the same person the nearest in the other frame?) and mean same / different distances. */
  async function score(e: Embedder) {
    let hits = 0;
    let queries = 0;
    const same: number[] = [];
    const diff: number[] = [];
    for (const [a, b] of PAIRS) {
      const ga: GtBox[] = gt.get(a + 1)!;
      const gb: GtBox[] = gt.get(b + 1)!;
      const ea = await e.embed(frames.get(a)!, ga);
      const eb = await e.embed(frames.get(b)!, gb);
      expect(ea).toHaveLength(ga.length);
      for (const v of ea) expect(Math.hypot(...v)).toBeCloseTo(1, 4);
      ga.forEach((p, i) => {
        const j = gb.findIndex((q) => q.id === p.id);
        if (j < 0) return;
        const d = gb.map((_, k) => cosineDistance(ea[i], eb[k]));
        queries++;
        if (d.indexOf(Math.min(...d)) === j) hits++;
        d.forEach((v, k) => (k === j ? same : diff).push(v));
      });
    }
    const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
    return { rank1: hits / queries, queries, same: mean(same), diff: mean(diff) };
  }

  it('OSNet x0.25: the same person a few frames later is nearer than anyone else', async () => {
    const e = await createEmbedder({ kind: 'onnx', name: 'osnet-x0.25-msmt17', batchSize: 4 }, { env: modelEnv() });
    embedders.push(e);
    expect(e.dim).toBe(512);
    const s = await score(e);
    expect(s.queries).toBeGreaterThanOrEqual(12);
    expect(s.rank1).toBeGreaterThanOrEqual(0.9);
    expect(s.same).toBeLessThan(s.diff - 0.2);
  });

  it('a smaller crop (inputWidth/inputHeight 96x192) re-declares the 256x128 export and still ranks the same person first', async () => {
    const e = await createEmbedder({ kind: 'onnx', name: 'osnet-x0.25-msmt17', inputWidth: 96, inputHeight: 192, batchSize: 4 }, { env: modelEnv() });
    embedders.push(e);
    const s = await score(e);
    expect(s.queries).toBeGreaterThanOrEqual(12);
    expect(s.rank1).toBeGreaterThanOrEqual(0.85);
    expect(s.same).toBeLessThan(s.diff - 0.15);
  });

  it('batching does not change the embeddings', async () => {
    const one = await OnnxEmbedder.create({ ...(await osnetOptions()), batchSize: 1 });
    const many = await OnnxEmbedder.create({ ...(await osnetOptions()), batchSize: 16 });
    embedders.push(one, many);
    const boxes = gt.get(1)!;
    const a = await one.embed(frames.get(0)!, boxes);
    const b = await many.embed(frames.get(0)!, boxes);
    a.forEach((v, i) => expect(cosineDistance(v, b[i])).toBeLessThan(1e-4));
  });

  it('colour-histogram fallback (no model) still ranks the same person first most of the time', async () => {
    const e = await createEmbedder(undefined);
    expect(e.name).toBe('hsv-histogram');
    const s = await score(e);
    expect(s.rank1).toBeGreaterThanOrEqual(0.75);
    expect(s.same).toBeLessThan(s.diff);
  });

  it('bad ReID specs give ModelErrors naming the field', async () => {
    const e1 = await createEmbedder({ kind: 'onnx', name: 'resnet-9000' }, { env: modelEnv() }).catch((e) => e);
    expect(e1).toBeInstanceOf(ModelError);
    expect(e1.field).toBe('spec.models.reid.name');
    const e3 = await createEmbedder({ kind: 'onnx', path: 'nope.onnx' }, { env: {} }).catch((e) => e);
    expect(e3.field).toBe('spec.models.reid.path');
    expect(e3.message).toMatch(/MEI_MODEL_DIR/);
  });
});

async function osnetOptions() {
  const { resolveReidModel } = await import('@mei/vision/models/resolve');
  const r = resolveReidModel({ name: 'osnet-x0.25-msmt17' }, modelEnv());
  return { modelPath: r.file, input: r.input, batchSize: 1, threads: 2, field: 'spec.models.reid.name' };
}
