import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { loadCrd, loadJobSchema } from '../../contracts/src/crd.ts';
import { AgentStateSchema, ObservationBatchSchema, describeZodError } from '../../contracts/src/events.ts';
import { parseJobKey, jobNodes } from '../../contracts/src/job.ts';

describe('CRD contract', () => {
  it('is the sedna.io/v1alpha1 MultiEdgeInference, namespaced, with status subresource and printer columns', () => {
    const crd = loadCrd();
    expect(crd.spec.group).toBe('sedna.io');
    expect(crd.spec.names.kind).toBe('MultiEdgeInference');
    expect(crd.spec.names.plural).toBe('multiedgeinferences');
    expect(crd.spec.names.shortNames).toContain('mei');
    expect((crd.spec as any).scope).toBe('Namespaced');
    const v = crd.spec.versions[0] as any;
    expect(v.name).toBe('v1alpha1');
    expect(v.subresources).toEqual({ status: {} });
    expect(v.additionalPrinterColumns.map((c: any) => c.name)).toEqual(['Phase', 'Cameras', 'Identities', 'Age']);
  });

  it('documents every spec field (kubectl explain shows descriptions)', () => {
    const missing: string[] = [];
    const walk = (s: any, path: string) => {
      if (path && !s.description) missing.push(path);
      for (const [k, sub] of Object.entries(s.properties ?? {})) walk(sub, path ? `${path}.${k}` : k);
      if (s.items) walk(s.items, `${path}[]`);
    };
    walk(loadJobSchema().properties!.spec, 'spec');
    // array items are described by their array field
    expect(missing.filter((m) => !m.endsWith('[]'))).toEqual([]);
  });

  it('generated TypeScript types are up to date with the CRD', () => {
    execFileSync(process.execPath, ['--import', 'tsx', 'scripts/gen-contracts.ts', '--check'], { stdio: 'pipe' });
  });
});

describe('Socket.IO payload schemas', () => {
  const state = { jobKey: 'default/demo', uid: 'u1', phase: 'Running', sentAt: new Date().toISOString(), cameras: [{ name: 'left', state: 'Streaming', fps: 9.5 }] };

  it('accept a well-formed agent state', () => {
    expect(AgentStateSchema.safeParse(state).success).toBe(true);
  });

  it.each([
    ['jobKey', { ...state, jobKey: 'no-slash' }],
    ['phase', { ...state, phase: 'Dancing' }],
    ['cameras.0.fps', { ...state, cameras: [{ name: 'left', state: 'Streaming', fps: -1 }] }],
    ['extra', { ...state, extra: 1 }],
  ])('reject a bad %s with the field named', (field, payload) => {
    const r = AgentStateSchema.safeParse(payload);
    expect(r.success).toBe(false);
    const { error } = describeZodError((r as any).error);
    expect(error).toMatch(field === 'extra' ? /extra|Unrecognized/ : new RegExp(field.replace('.0.', '\\[0\\]\\.')));
  });

  it('bounds observation batches', () => {
    const frame = { frameIndex: 0, timestampMs: 0, emittedAt: 1, width: 10, height: 10, tracks: [] };
    expect(ObservationBatchSchema.safeParse({ jobKey: 'a/b', camera: 'c', seq: 0, frames: [frame] }).success).toBe(true);
    expect(ObservationBatchSchema.safeParse({ jobKey: 'a/b', camera: 'c', seq: 0, frames: Array(101).fill(frame) }).success).toBe(false);
    expect(ObservationBatchSchema.safeParse({ jobKey: 'a/b', camera: 'c', seq: -1, frames: [frame] }).success).toBe(false);
  });

  it('checks embedding vectors and drop declarations, naming the field', () => {
    const frame = { frameIndex: 0, timestampMs: 0, emittedAt: 1, width: 10, height: 10, tracks: [] };
    const fieldOf = (extra: object) => {
      const r = ObservationBatchSchema.safeParse({ jobKey: 'a/b', camera: 'c', seq: 5, frames: [frame], ...extra });
      return r.success ? 'ok' : describeZodError(r.error).field;
    };
    const v = Array.from({ length: 8 }, (_, i) => i / 10);
    expect(fieldOf({ embeddings: [{ id: 1, vector: v }] })).toBe('ok');
    for (const bad of [v.slice(0, 7), [...v.slice(0, 7), Number.NaN], [...v.slice(0, 7), Infinity], [...v.slice(0, 7), 2e6], [...v.slice(0, 7), '1'], 'v']) {
      expect(fieldOf({ embeddings: [{ id: 1, vector: v }, { id: 2, vector: bad }] })).toBe('embeddings[1].vector');
    }
    expect(fieldOf({ dropped: { count: 3, heldFrom: 5 } })).toBe('ok');
    expect(fieldOf({ dropped: { count: 0, heldFrom: 5 } })).toBe('dropped.count');
    expect(fieldOf({ dropped: { count: 1, heldFrom: -1 } })).toBe('dropped.heldFrom');
    expect(fieldOf({ dropped: { count: 1 } })).toBe('dropped.heldFrom');
  });
});

describe('job helpers', () => {
  it('parse job keys and reject malformed ones', () => {
    expect(parseJobKey('ns/name')).toEqual({ namespace: 'ns', name: 'name' });
    expect(() => parseJobKey('nokey')).toThrow(/namespace/);
    expect(() => parseJobKey('/x')).toThrow();
  });
  it('list each edge node once, in camera order', () => {
    const cams = [{ name: 'a', node: 'n2', source: 's' }, { name: 'b', node: 'n1', source: 's' }, { name: 'c', node: 'n2', source: 's' }];
    expect(jobNodes({ cameras: cams, models: { detector: { decoder: 'yolox' } } } as any)).toEqual(['n2', 'n1']);
  });
});
