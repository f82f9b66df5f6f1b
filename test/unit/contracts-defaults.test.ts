// @mei/contracts owns the job's defaults (issue #13): they come from the CRD through the generator, one
// walk applies them (validator, applyDefaults, withDefaults, applyTaskDefaults), and no code restates one.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  ENUMS,
  SPEC_DEFAULTS,
  applyDefaults,
  applyTaskDefaults,
  createValidator,
  defaultsTable,
  isVisible,
  mergeNewer,
  previewAllows,
  previewOf,
  withDefaults,
  type MultiEdgeInferenceSpec,
} from '../../contracts/src/index.ts';
import { loadJobSchema } from '../../contracts/src/crd.ts';
import type { JSONSchema } from '../../contracts/src/validation.ts';

const minimal = (): MultiEdgeInferenceSpec => ({ cameras: [{ name: 'a', node: 'n', source: 'x.mp4' }], models: { detector: { decoder: 'yolox' } } });

/** Every `default:` of the CRD's spec schema, by path (`cameras[].fps`), read from the YAML itself. */
function crdDefaults(s: JSONSchema, p = '', out: Record<string, unknown> = {}): Record<string, unknown> {
  if (p && s.default !== undefined) out[p] = s.default;
  for (const [k, sub] of Object.entries(s.properties ?? {})) crdDefaults(sub, p ? `${p}.${k}` : k, out);
  if (s.items) crdDefaults(s.items, `${p}[]`, out);
  return out;
}

describe('job defaults from the CRD', () => {
  it('the generated table holds every default of the CRD, and nothing else', () => {
    const fromCrd = crdDefaults(loadJobSchema().properties!.spec);
    expect(Object.keys(fromCrd).length).toBeGreaterThan(20);
    expect(defaultsTable()).toEqual(fromCrd);
  });

  it('applyDefaults fills every default into a minimal spec, sections included, without touching the input', () => {
    const spec = minimal();
    const d = applyDefaults(spec);
    expect(spec).toEqual(minimal());
    expect(d.mode).toBe('live');
    expect(d.cameras[0]).toMatchObject({ fps: 10, loop: false });
    expect(d.models.detector).toMatchObject({ scoreThreshold: 0.3, nmsThreshold: 0.45, detectEvery: 1, detectIntervalMs: 0, coastMaxShift: 0.2, cadenceOnLoad: false, decodeAtInputSize: false, reducedInputScale: 0, fullEvery: 2 });
    expect(d.tracking).toEqual({ type: 'multi', highThreshold: 0.5, lowThreshold: 0.1, maxLostSeconds: 3, minHits: 3, appearanceWeight: 0.5 });
    expect(d.crossCamera).toEqual({ enabled: true, matchThreshold: 0.2, maxGapSeconds: 10 });
    expect(d.privacy).toEqual({ preview: 'none', previewFps: 2 });
    expect(d.retention).toEqual({ tracksDays: 30, thumbnailsDays: 7 });
    expect(d.models.reid).toBeUndefined(); // no default section: absent means colour histograms
  });

  it('keeps what the spec sets, and defaults only what it leaves out', () => {
    const d = applyDefaults({ ...minimal(), privacy: { preview: 'live' }, retention: { tracksDays: 3 }, workers: [{ node: 'n', threads: 4 }], models: { detector: { decoder: 'yolox', scoreThreshold: 0.6 }, reid: { kind: 'onnx' } } });
    expect(d.privacy).toEqual({ preview: 'live', previewFps: 2 });
    expect(d.retention).toEqual({ tracksDays: 3, thumbnailsDays: 7 });
    expect(d.workers).toEqual([{ node: 'n', threads: 4, inferenceSlots: 0, floorFps: 2, shareReid: false }]);
    expect(d.models.detector.scoreThreshold).toBe(0.6);
    expect(d.models.reid).toEqual({ kind: 'onnx', batchSize: 16 });
  });

  it('the validator applies the same defaults (one walk) as kube-apiserver would, then validates', () => {
    const obj = { apiVersion: 'sedna.io/v1alpha1', kind: 'MultiEdgeInference', metadata: { name: 'j' }, spec: minimal() };
    expect(createValidator(loadJobSchema()).validate(obj)).toEqual([]);
    expect(obj.spec).toEqual(applyDefaults(minimal()));
    // A defaulted section is still validated: a bad value next to the defaults is named.
    const bad = { apiVersion: 'sedna.io/v1alpha1', kind: 'MultiEdgeInference', metadata: { name: 'j' }, spec: { ...minimal(), privacy: { previewFps: 99 } } };
    expect(createValidator(loadJobSchema()).validate(bad).map((e) => e.field)).toEqual(['spec.privacy.previewFps']);
    expect(bad.spec.privacy).toEqual({ preview: 'none', previewFps: 99 });
    // As kube-apiserver: a null where the schema has a default (and no nullable) is defaulted, not refused.
    const nulls = { apiVersion: 'sedna.io/v1alpha1', kind: 'MultiEdgeInference', metadata: { name: 'j' }, spec: { ...minimal(), mode: null, privacy: null } };
    expect(createValidator(loadJobSchema()).validate(nulls)).toEqual([]);
    expect(nulls.spec).toMatchObject({ mode: 'live', privacy: { preview: 'none', previewFps: 2 } });
  });

  it('withDefaults gives one part of a spec, and its defaults alone', () => {
    expect(withDefaults('retention')).toEqual({ tracksDays: 30, thumbnailsDays: 7 });
    expect(withDefaults('privacy', { preview: 'thumbnails' })).toEqual({ preview: 'thumbnails', previewFps: 2 });
    expect(withDefaults('models.detector', { decoder: 'nanodet', nmsThreshold: 0.6 })).toMatchObject({ decoder: 'nanodet', nmsThreshold: 0.6, scoreThreshold: 0.3 });
    expect(withDefaults('workers[]', { node: 'x' })).toEqual({ node: 'x', threads: 2, inferenceSlots: 0, floorFps: 2, shareReid: false });
    expect(withDefaults('cameras[]', { name: 'c', node: 'n', source: 's' })).toEqual({ name: 'c', node: 'n', source: 's', fps: 10, loop: false });
    // A copy: the generated defaults cannot be changed through a result.
    withDefaults('retention').tracksDays = 1;
    expect(withDefaults('retention').tracksDays).toBe(30);
    expect((SPEC_DEFAULTS.properties!.tracking!.default as object)).toEqual({});
  });

  it('a task from an older server (no defaulted sections) runs with the CRD defaults', () => {
    const task = applyTaskDefaults({ jobKey: 'a/b', uid: 'u', generation: 1, node: 'n', cameras: [{ name: 'c', node: 'n', source: 's' }], models: { detector: { decoder: 'yolox' } } });
    expect(task.mode).toBe('live');
    expect(task.threads).toBe(2);
    expect(task.privacy).toEqual({ preview: 'none', previewFps: 2 });
    expect(task.tracking.minHits).toBe(3);
    expect(task.cameras[0].fps).toBe(10);
    expect(task.inferenceSlots).toBeUndefined(); // absent = no budget, as the server sends it
    expect(task.floorFps).toBe(2); // an older server sends no floor: the CRD's
  });
});

describe('no CRD default restated in code', () => {
  const root = path.resolve(import.meta.dirname, '../..');
  const roots = ['server', 'app', 'edge-agent/src', 'vision/src', 'tools/src', 'contracts/src', 'scripts'];
  function* sources(dir: string): Generator<string> {
    for (const name of readdirSync(dir)) {
      const p = path.join(dir, name);
      if (name === 'node_modules' || name === 'generated' || name.startsWith('.')) continue;
      if (statSync(p).isDirectory()) yield* sources(p);
      else if (/\.(ts|tsx|mjs)$/.test(name)) yield p;
    }
  }
  const literal = (v: unknown) => (typeof v === 'string' ? `['"]${v}['"]` : String(v).replace('.', '\\.'));

  it('no `<field> ?? <its default>` fallback, nor the old default constants', () => {
    // For every leaf default: its field name followed by a fallback to the same value, e.g. `previewFps ?? 2`,
    // `privacy?.preview ?? 'none'`, `scoreThreshold ?? 0.3` (the forms the scattered defaults had).
    const patterns = Object.entries(defaultsTable())
      .filter(([, v]) => typeof v !== 'object')
      .map(([p, v]) => new RegExp(`\\b${p.split('.').at(-1)!.replace('[]', '')}\\)?\\s*(\\?\\?|\\|\\|)\\s*${literal(v)}(?![\\w.])`));
    patterns.push(/\bRETENTION_DEFAULTS\b|\bDEFAULT_PREVIEW_FPS\b|\bCROSS_CAMERA_DEFAULTS\s*[:=]\s*\{/);
    const found: string[] = [];
    for (const dir of roots) {
      for (const file of sources(path.join(root, dir))) {
        readFileSync(file, 'utf8')
          .split('\n')
          .forEach((line, i) => {
            // `crd-default-ok`: the same number by coincidence, not the field's default (say why on the line).
            if (patterns.some((re) => re.test(line)) && !line.includes('crd-default-ok')) found.push(`${path.relative(root, file)}:${i + 1}: ${line.trim()}`);
          });
      }
    }
    expect(found).toEqual([]);
  });
});

describe('shared rules', () => {
  it('previewAllows: what each privacy.preview lets leave the edge (the CRD description of the field)', () => {
    const table = Object.fromEntries(ENUMS['spec.privacy.preview'].map((p) => [p, (['crops', 'snapshot', 'stream'] as const).filter((w) => previewAllows(p, w))]));
    expect(table).toEqual({ none: [], snapshot: ['snapshot'], thumbnails: ['crops'], live: ['crops', 'snapshot', 'stream'] });
    expect(previewOf({})).toBe('none');
    expect(previewAllows({ privacy: {} }, 'crops')).toBe(false);
    expect(previewAllows({ privacy: { preview: 'thumbnails' } }, 'crops')).toBe(true);
  });

  it('isVisible: tentative and confirmed tracks are drawn, lost and removed ones are not', () => {
    expect(['tentative', 'confirmed', 'lost', 'removed'].filter((s) => isVisible(s as never))).toEqual(['tentative', 'confirmed']);
  });

  it('mergeNewer: the newer entry of the two ids stays under `into`', () => {
    const m = new Map([
      ['P1', { at: 5 }],
      ['P2', { at: 3 }],
      ['P3', { at: 1 }],
    ]);
    expect(mergeNewer(m, 'P1', 'P2', (v) => v.at)).toEqual({ kept: { at: 5 }, dropped: { at: 3 }, moved: true });
    expect([...m.keys()]).toEqual(['P3', 'P2']); // moved last: newest in insertion order
    expect(mergeNewer(m, 'P3', 'P2', (v) => v.at)).toEqual({ kept: { at: 5 }, dropped: { at: 1 }, moved: false });
    expect([...m]).toEqual([['P2', { at: 5 }]]);
    expect(mergeNewer(m, 'P9', 'P2', (v) => v.at)).toBeUndefined();
    expect(mergeNewer(m, 'P2', 'P2', (v) => v.at)).toBeUndefined();
    const relabelled = new Map([['A', { id: 'A', at: 2 }]]);
    mergeNewer(relabelled, 'A', 'B', (v) => v.at, (v) => ({ ...v, id: 'B' }));
    expect([...relabelled]).toEqual([['B', { id: 'B', at: 2 }]]);
  });
});
