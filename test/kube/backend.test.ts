// The Kubernetes JobBackend against a real kube-apiserver: the shared invalid-spec table is rejected with the
// same field paths as by the embedded backend (both backends run each case), and CRUD, optimistic
// concurrency, finalizers and watch pass the JobBackend conformance suite (test/support/job-backend-suite.ts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ValidationError } from '@mei/contracts';
import { CRD_PATH } from '@mei/contracts/crd';
import type { KubeConfig } from '@kubernetes/client-node';
import type { JobBackend } from '../../server/backends/types.ts';
import { KubernetesJobBackend } from '../../server/backends/kubernetes/job-backend.ts';
import { openDatabase, type Database } from '../../server/store/db.ts';
import { createEmbeddedBackend } from '../../server/backends/embedded/job-backend.ts';
import { INVALID_SPECS, VALID_SPECS, baseJob, valueAtPath } from '../fixtures/invalid-specs.ts';
import { installCrd, kubeConfigFor, useKube } from './cluster.ts';
import { fieldsOf, freshNamespace } from './support.ts';
import { jobBackendSuite } from '../support/job-backend-suite.ts';

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

// CRUD, optimistic concurrency, finalizers and watch: the conformance suite every JobBackend passes.
const opened: KubernetesJobBackend[] = [];
jobBackendSuite('the kube-apiserver', {
  caps: { durable: true, generationOnDelete: true }, // etcd keeps the jobs when every backend (server) is gone
  async open(options = {}) {
    const b = new KubernetesJobBackend(kc, { resyncMs: 0, onError: options.onError });
    opened.push(b);
    return b;
  },
  async close() {
    for (const b of opened.splice(0)) await b.close();
  },
  namespace: () => freshNamespace(kc, 'mei-conf'),
});

describe('watch (informer: list + watch)', () => {
  it('the watchers share one informer, which stops with the last of them', async () => {
    const wns = await freshNamespace(kc, 'mei-watch');
    await backend.create(job('w-old', wns));
    const first: string[] = [];
    const second: string[] = [];
    const stop1 = await backend.watch((ev) => ev.object.metadata.namespace === wns && first.push(`${ev.type} ${ev.object.metadata.name}`));
    const informer = backend.jobInformer;
    expect(informer).toBeDefined();
    const stop2 = await backend.watch((ev) => ev.object.metadata.namespace === wns && second.push(`${ev.type} ${ev.object.metadata.name}`));
    expect(backend.jobInformer).toBe(informer);
    expect(informer!.subscribers).toBe(2);
    expect(first).toEqual(['ADDED w-old']);
    expect(second).toEqual(['ADDED w-old']);
    stop1();
    expect(backend.jobInformer).toBe(informer);
    stop2();
    expect(backend.jobInformer).toBeUndefined();
  });

  it('rejects watch() when jobs cannot be listed (a user without RBAC), naming the status', async () => {
    const nobody = new KubernetesJobBackend(kubeConfigFor(kube(), 'mei-nobody'), { resyncMs: 0 });
    await expect(nobody.watch(() => {})).rejects.toThrow(/403/);
    await nobody.close();
  });
});
