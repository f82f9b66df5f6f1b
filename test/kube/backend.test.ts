// The Kubernetes JobBackend against a real kube-apiserver: the shared invalid-spec table is rejected with the
// same field paths as by the embedded backend (both backends run each case), and CRUD, optimistic
// concurrency, finalizers and watch behave as the embedded backend's do (test/support/job-backend-suite.ts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ValidationError, type MultiEdgeInference, type WatchEvent } from '@mei/contracts';
import { CRD_PATH } from '@mei/contracts/crd';
import type { KubeConfig } from '@kubernetes/client-node';
import { AlreadyExistsError, ConflictError, NotFoundError, type JobBackend } from '../../server/backends/types.ts';
import { KubernetesJobBackend } from '../../server/backends/kubernetes/job-backend.ts';
import { openDatabase, type Database } from '../../server/store/db.ts';
import { createEmbeddedBackend } from '../../server/backends/embedded/job-backend.ts';
import { INVALID_SPECS, VALID_SPECS, baseJob, valueAtPath } from '../fixtures/invalid-specs.ts';
import { installCrd, kubeConfigFor, useKube } from './cluster.ts';
import { fieldsOf, freshNamespace, waitFor } from './support.ts';

const kube = useKube();
let kc: KubeConfig;
let backend: KubernetesJobBackend;
let tmp: string;
let db: Database;
let embedded: JobBackend;
let ns: string;

beforeAll(async () => {
  kc = kubeConfigFor(kube());
  await installCrd(kc, CRD_PATH);
  backend = new KubernetesJobBackend(kc, { resyncMs: 0 });
  ns = await freshNamespace(kc, 'mei-backend');
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mei-kube-embedded-'));
  db = await openDatabase({ dataDir: path.join(tmp, 'db') });
  embedded = createEmbeddedBackend(db);
}, 600_000);

afterAll(async () => {
  await backend?.close();
  await embedded?.close();
  await db?.close();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

const job = (name: string, namespace = ns) => ({ ...baseJob(name), metadata: { name, namespace } }) as any;

async function errorsOf(p: Promise<unknown>): Promise<ValidationError> {
  const err = await p.then(
    () => undefined,
    (e) => e,
  );
  expect(err, 'expected a ValidationError').toBeInstanceOf(ValidationError);
  return err as ValidationError;
}

describe('the invalid-spec table: one table, two backends', () => {
  it.each(INVALID_SPECS.map((c, i) => ({ ...c, i })))('rejects $name at $field, as embedded mode does', async ({ mutate, field, i }) => {
    const make = () => {
      const j = baseJob(`invalid-${i}`);
      mutate(j);
      if (j.metadata && typeof j.metadata === 'object') j.metadata.namespace = ns;
      return j;
    };
    const [kubeErr, embeddedErr] = [await errorsOf(backend.create(make() as any)), await errorsOf(embedded.create(make() as any))];
    expect(kubeErr.errors.map((e) => e.field)).toEqual([field]);
    expect(kubeErr.errors.map((e) => e.field)).toEqual(embeddedErr.errors.map((e) => e.field));
    // Same reason codes too, so a client can branch on them in either mode.
    expect(kubeErr.errors.map((e) => e.reason)).toEqual(embeddedErr.errors.map((e) => e.reason));
    expect(kubeErr.message).toContain(`${field}: `);
    const name = make().metadata?.name;
    if (typeof name === 'string' && /^[a-z0-9-]{1,63}$/.test(name)) expect(await backend.get(ns, name)).toBeUndefined();
  });

  it.each(VALID_SPECS)('accepts $name with the same defaults as embedded mode', async ({ name, mutate, expect: expected }) => {
    const i = VALID_SPECS.findIndex((c) => c.name === name);
    const make = () => {
      const j = baseJob(`valid-${i}`);
      mutate(j);
      j.metadata.namespace = ns;
      return j;
    };
    const sent = make();
    const created = await backend.create(sent as any);
    for (const [p, v] of Object.entries(expected)) expect(valueAtPath(created, p), p).toEqual(v);
    expect(sent).toEqual(make()); // the caller's object is not mutated
    expect(created.spec).toEqual((await embedded.create(make() as any)).spec);
    expect(await backend.get(ns, sent.metadata.name)).toEqual(created);
  });

  it('reports every problem at once, unknown fields included (Strict decoding stops at those)', async () => {
    const bad = job('Bad_Name');
    bad.spec.mode = 'sometimes';
    bad.spec.cameras[0].fps = 0;
    bad.spec.unknownField = true;
    const err = await errorsOf(backend.create(bad));
    expect(err.errors.map((e) => e.field).sort()).toEqual(['metadata.name', 'spec.cameras[0].fps', 'spec.mode', 'spec.unknownField']);
    expect(err.message).toMatch(/^MultiEdgeInference\.sedna\.io "Bad_Name" is invalid: /);
  });

  it('rejects a wrong apiVersion or kind and non-objects without a request crash', async () => {
    expect((await fieldsOf(backend.create({ ...job('typed'), apiVersion: 'v1' }))).sort()).toEqual(['apiVersion']);
    expect((await fieldsOf(backend.create({ ...job('typed'), kind: 'Pod' }))).sort()).toEqual(['kind']);
    for (const bad of [null, 42, 'job', []]) await expect(backend.create(bad as any)).rejects.toBeInstanceOf(ValidationError);
    await expect(backend.create({ spec: baseJob().spec, metadata: { namespace: ns } } as any)).rejects.toThrow(/metadata\.name: Required value/);
    expect(await fieldsOf(backend.create(job('x', 'Not A Namespace')))).toEqual(['metadata.namespace']);
  });

  it('a namespace that does not exist is a NotFoundError naming it', async () => {
    await expect(backend.create(job('orphan', 'no-such-namespace-here'))).rejects.toThrow('namespace "no-such-namespace-here" not found');
  });
});

describe('CRUD and optimistic concurrency (parity with the embedded backend)', () => {
  it('creates with server-set metadata and defaults; get and list return it; status and uid on create are ignored', async () => {
    const input = { ...job('alpha'), status: { phase: 'Succeeded' } };
    input.metadata.uid = 'client-chosen';
    input.metadata.labels = { app: 'mei' };
    const created = await backend.create(input);
    expect(created.apiVersion).toBe('sedna.io/v1alpha1');
    expect(created.metadata.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(created.metadata.uid).not.toBe('client-chosen');
    expect(created.metadata.generation).toBe(1);
    expect(created.metadata.resourceVersion).toMatch(/^\d+$/);
    expect(created.metadata.creationTimestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(created.metadata.labels).toEqual({ app: 'mei' });
    expect(created.status).toBeUndefined();
    expect(created.spec.cameras[0].fps).toBe(10);
    expect(Object.keys(created.metadata)).not.toContain('managedFields');
    expect(await backend.get(ns, 'alpha')).toEqual(created);
    expect(await backend.get(ns, 'nope')).toBeUndefined();
    await backend.create(job('beta'));
    expect((await backend.list(ns)).map((j) => j.metadata.name)).toEqual(expect.arrayContaining(['alpha', 'beta']));
    expect((await backend.list()).some((j) => j.metadata.namespace === ns && j.metadata.name === 'beta')).toBe(true);
  });

  it('refuses a duplicate name with AlreadyExistsError', async () => {
    await backend.create(job('dup'));
    const err = await backend.create(job('dup')).catch((e) => e);
    expect(err).toBeInstanceOf(AlreadyExistsError);
    expect(err.message).toBe('multiedgeinferences.sedna.io "dup" already exists');
  });

  it('update: stale resourceVersion or wrong uid is a ConflictError; missing rv names the field; missing job is NotFound', async () => {
    const v1 = await backend.create(job('conf'));
    const v2 = await backend.update({ ...v1, spec: { ...v1.spec, mode: 'history' } });
    expect(BigInt(v2.metadata.resourceVersion)).toBeGreaterThan(BigInt(v1.metadata.resourceVersion));
    expect(v2.metadata.generation).toBe(2);
    await expect(backend.update({ ...v1, spec: { ...v1.spec, mode: 'live' } })).rejects.toBeInstanceOf(ConflictError);
    await expect(backend.updateStatus({ ...v1, status: { phase: 'Running' } })).rejects.toBeInstanceOf(ConflictError);
    await expect(backend.update({ ...v2, metadata: { ...v2.metadata, uid: '00000000-0000-4000-8000-000000000000' } })).rejects.toBeInstanceOf(ConflictError);
    expect(await backend.get(ns, 'conf')).toEqual(v2);
    expect(await fieldsOf(backend.update({ ...v2, metadata: { ...v2.metadata, resourceVersion: '' } }))).toEqual(['metadata.resourceVersion']);
    await expect(backend.update({ ...v2, metadata: { ...v2.metadata, name: 'missing', uid: '' } })).rejects.toBeInstanceOf(NotFoundError);
  });

  it('generation counts spec changes only; a no-op update keeps the resourceVersion; update validates', async () => {
    const v1 = await backend.create(job('gen'));
    const v2 = await backend.update({ ...v1, metadata: { ...v1.metadata, labels: { tier: 'gold' } } });
    expect(v2.metadata.generation).toBe(1);
    expect(v2.metadata.resourceVersion).not.toBe(v1.metadata.resourceVersion);
    const same = await backend.update(structuredClone(v2));
    expect(same.metadata.resourceVersion).toBe(v2.metadata.resourceVersion);
    const bad = structuredClone(v2) as any;
    bad.spec.cameras[1].fps = 0;
    bad.spec.models.detector.decoder = 'ssd';
    expect((await fieldsOf(backend.update(bad))).sort()).toEqual(['spec.cameras[1].fps', 'spec.models.detector.decoder']);
    bad.spec.extra = 1;
    expect((await fieldsOf(backend.update(bad))).sort()).toEqual(['spec.cameras[1].fps', 'spec.extra', 'spec.models.detector.decoder']);
    expect(await backend.get(ns, 'gen')).toEqual(v2);
  });

  it('update ignores status; updateStatus changes only status (status subresource)', async () => {
    const v1 = await backend.create(job('stat'));
    const v2 = await backend.update({ ...v1, status: { phase: 'Failed' } } as MultiEdgeInference);
    expect(v2.status).toBeUndefined();
    const status = { phase: 'Running' as const, observedGeneration: 1, cameraCount: 2, conditions: [{ type: 'Ready', status: 'True' as const }] };
    const v3 = await backend.updateStatus({ ...v2, spec: { ...v2.spec, mode: 'history' }, metadata: { ...v2.metadata, labels: { x: 'y' } }, status });
    expect(v3.status).toEqual(status);
    expect(v3.spec.mode).toBe('live');
    expect(v3.metadata.labels).toBeUndefined();
    expect(v3.metadata.generation).toBe(1);
    expect(await fieldsOf(backend.updateStatus({ ...v3, status: { phase: 'Exploded' } as any }))).toEqual(['status.phase']);
    expect(await fieldsOf(backend.updateStatus({ ...v3, status: { ...status, workers: [{ name: 'w' }] } as any }))).toEqual(['status.workers[0].node']);
  });

  it('delete: removes a job without finalizers; with finalizers marks it until the last is removed', async () => {
    await backend.create(job('gone'));
    await backend.delete(ns, 'gone');
    expect(await backend.get(ns, 'gone')).toBeUndefined();
    await expect(backend.delete(ns, 'gone')).rejects.toBeInstanceOf(NotFoundError);

    const v1 = await backend.create({ ...job('fin'), metadata: { name: 'fin', namespace: ns, finalizers: ['sedna.io/workers', 'sedna.io/history'] } });
    await backend.delete(ns, 'fin');
    const v2 = (await backend.get(ns, 'fin'))!;
    expect(v2.metadata.deletionTimestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    await backend.delete(ns, 'fin'); // again: still waiting, no error
    const addMore = { ...v2, metadata: { ...v2.metadata, finalizers: ['sedna.io/workers', 'sedna.io/history', 'example.com/new'] } };
    expect(await fieldsOf(backend.update(addMore))).toEqual(['metadata.finalizers']);
    const v3 = await backend.updateStatus({ ...v2, status: { phase: 'Succeeded' } });
    const v4 = await backend.update({ ...v3, metadata: { ...v3.metadata, finalizers: ['sedna.io/history'] } });
    expect(v4.metadata.finalizers).toEqual(['sedna.io/history']);
    await backend.update({ ...v4, metadata: { ...v4.metadata, finalizers: [] } });
    expect(await backend.get(ns, 'fin')).toBeUndefined();
    expect(v1.metadata.uid).toBe(v4.metadata.uid);
  });
});

describe('watch (informer: list + watch)', () => {
  it('ADDED for every existing job first, then changes in order; stop() ends delivery', async () => {
    const wns = await freshNamespace(kc, 'mei-watch');
    await backend.create(job('w-old-1', wns));
    await backend.create(job('w-old-2', wns));
    const events: WatchEvent[] = [];
    const stop = await backend.watch((ev) => events.push(ev));
    const mine = () => events.filter((e) => e.object.metadata.namespace === wns).map((e) => `${e.type} ${e.object.metadata.name}`);
    expect(mine()).toEqual(['ADDED w-old-1', 'ADDED w-old-2']);

    const a = await backend.create(job('w-new', wns));
    const b = await backend.update({ ...a, metadata: { ...a.metadata, finalizers: ['sedna.io/workers'] } });
    const c = await backend.updateStatus({ ...b, status: { phase: 'Running' } });
    await backend.delete(wns, 'w-new');
    await backend.delete(wns, 'w-old-1');
    const d = (await backend.get(wns, 'w-new'))!;
    await backend.update({ ...d, metadata: { ...d.metadata, finalizers: [] } });
    await waitFor('8 events', () => mine().length >= 8);
    expect(mine()).toEqual([
      'ADDED w-old-1',
      'ADDED w-old-2',
      'ADDED w-new',
      'MODIFIED w-new',
      'MODIFIED w-new',
      'MODIFIED w-new',
      'DELETED w-old-1',
      'DELETED w-new',
    ]);
    const tail = events.filter((e) => e.object.metadata.namespace === wns).slice(2);
    expect(tail[0].object).toEqual(a);
    expect(tail[2].object).toEqual(c);
    expect(tail[3].object.metadata.deletionTimestamp).toBeDefined();

    // A second watcher shares the informer and still gets its own ADDED snapshot.
    const second: string[] = [];
    const stop2 = await backend.watch((ev) => ev.object.metadata.namespace === wns && second.push(`${ev.type} ${ev.object.metadata.name}`));
    expect(second).toEqual(['ADDED w-old-2']);
    stop();
    stop2();
    expect(backend.jobInformer).toBeUndefined();
    const before = events.length;
    await backend.create(job('after-stop', wns));
    await new Promise((r) => setTimeout(r, 500));
    expect(events.length).toBe(before);
  });

  it('concurrent writers: exactly one update wins per resourceVersion, the rest are ConflictErrors', async () => {
    const target = await backend.create(job('race'));
    const results = await Promise.allSettled([1, 2, 3].map((fps) => backend.update({ ...target, spec: { ...target.spec, cameras: [{ ...target.spec.cameras[0], fps }] } })));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(results.filter((r) => r.status === 'rejected').every((r) => (r as PromiseRejectedResult).reason instanceof ConflictError)).toBe(true);
  });

  it('rejects watch() when jobs cannot be listed (a user without RBAC), naming the status', async () => {
    const nobody = new KubernetesJobBackend(kubeConfigFor(kube(), 'mei-nobody'), { resyncMs: 0 });
    await expect(nobody.watch(() => {})).rejects.toThrow(/403/);
    await nobody.close();
  });
});
