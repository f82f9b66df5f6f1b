// The JobBackend conformance suite: the behaviour the controllers rely on, run against every backend —
// the in-memory fake (test/unit/memory-backend.test.ts), PGlite (test/unit/store-backend.test.ts), a real
// PostgreSQL server (test/integration/db-postgres.test.ts) and a real kube-apiserver (test/kube/backend.test.ts).
// What genuinely differs by backend is a declared capability of the target, and the test asserts each side of it.
import { describe, expect, it, beforeAll, afterAll, beforeEach } from 'vitest';
import type { MultiEdgeInference, WatchEvent } from '@mei/contracts';
import { ValidationError } from '@mei/contracts';
import { AlreadyExistsError, ConflictError, NotFoundError, type JobBackend } from '../../server/backends/types.ts';
import type { Database } from '../../server/store/db.ts';
import { createEmbeddedBackend } from '../../server/backends/embedded/job-backend.ts';
import { baseJob } from '../fixtures/invalid-specs.ts';

export async function waitFor<T>(what: string, fn: () => T | undefined | false, timeoutMs = 120_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export async function fieldsOf(p: Promise<unknown>): Promise<string[]> {
  const err = await p.then(
    () => undefined,
    (e) => e,
  );
  expect(err, 'expected a ValidationError').toBeInstanceOf(ValidationError);
  return (err as ValidationError).errors.map((e) => e.field);
}

/** Where backends differ by design; each test asserts the declared side. */
export interface BackendCapabilities {
  /** Jobs outlive closing every backend and the store behind them (a database, etcd); not the in-memory fake. */
  durable: boolean;
  /**
   * Marking a job with finalizers for deletion bumps metadata.generation, as kube-apiserver does for every
   * object; the embedded store (and its fake) count spec changes only.
   */
  generationOnDelete: boolean;
}

/** A backend under test: any number of backends over one store, as several servers share a database or cluster. */
export interface JobBackendTarget {
  readonly caps: BackendCapabilities;
  /** A new backend over the target's store (opening the store first if needed). */
  open(options?: { onError?: (err: unknown) => void }): Promise<JobBackend>;
  /** Closes every backend opened and the store; the next open() starts again from what the store kept. */
  close(): Promise<void>;
  /** A namespace jobs can be created in, new on each call. */
  namespace(): Promise<string>;
}

/** The embedded backend over a database: `open` must return the same database each time (same data dir / URL). */
export function databaseTarget(openDb: () => Promise<Database>): JobBackendTarget & { db(): Database } {
  let db: Database | undefined;
  const backends: JobBackend[] = [];
  let n = 0;
  return {
    caps: { durable: true, generationOnDelete: false },
    async open(options = {}) {
      db ??= await openDb();
      const b = createEmbeddedBackend(db, { pollMs: 500, onError: options.onError });
      backends.push(b);
      return b;
    },
    async close() {
      for (const b of backends.splice(0)) await b.close();
      await db?.close();
      db = undefined;
    },
    // Each test works in its own namespace of the one database.
    async namespace() {
      return `t${++n}-${Date.now().toString(36)}`;
    },
    db() {
      if (!db) throw new Error('the database is not open');
      return db;
    },
  };
}

export function jobBackendSuite(label: string, target: JobBackendTarget) {
  describe(`JobBackend conformance on ${label}`, () => {
    let backend: JobBackend;
    let ns: string;
    const job = (name: string, namespace = ns) => ({ ...baseJob(name), metadata: { name, namespace } });

    beforeAll(async () => {
      backend = await target.open();
    }, 600_000); // a fresh PGlite runs initdb in WASM: seconds on a busy machine
    afterAll(() => target.close(), 600_000);
    beforeEach(async () => {
      ns = await target.namespace();
    }, 120_000);

    it('creates a job with server-set metadata and schema defaults; get and list return it', async () => {
      const created = await backend.create(job('alpha') as any);
      expect(created.apiVersion).toBe('sedna.io/v1alpha1');
      expect(created.kind).toBe('MultiEdgeInference');
      expect(created.metadata.uid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(created.metadata.generation).toBe(1);
      expect(created.metadata.resourceVersion).toMatch(/^\d+$/);
      expect(Math.abs(Date.parse(created.metadata.creationTimestamp) - Date.now())).toBeLessThan(60_000);
      expect(created.spec.mode).toBe('live');
      expect(created.spec.cameras[0].fps).toBe(10);
      expect(created.status).toBeUndefined();

      const got = await backend.get(ns, 'alpha');
      expect(got).toEqual(created);
      expect(await backend.get(ns, 'nope')).toBeUndefined();
      await backend.create(job('beta') as any);
      expect((await backend.list(ns)).map((j) => j.metadata.name)).toEqual(['alpha', 'beta']);
      const all = await backend.list();
      expect(all.filter((j) => j.metadata.namespace === ns)).toHaveLength(2);
    });

    it('requires metadata.name (generateName is not served) and names the field', async () => {
      const { name: _n, ...meta } = job('unnamed').metadata;
      expect(await fieldsOf(backend.create({ ...job('unnamed'), metadata: { ...meta, generateName: 'gen-' } } as any))).toEqual(['metadata.name']);
      expect(await backend.list(ns)).toEqual([]);
    });

    it('ignores status and server-owned metadata sent on create', async () => {
      const input: any = { ...job('gamma'), status: { phase: 'Succeeded' } };
      input.metadata.uid = 'client-chosen';
      input.metadata.labels = { app: 'mei' };
      const created = await backend.create(input);
      expect(created.status).toBeUndefined();
      expect(created.metadata.uid).not.toBe('client-chosen');
      expect(created.metadata.labels).toEqual({ app: 'mei' });
    });

    it('refuses a second job with the same name in a namespace (AlreadyExistsError)', async () => {
      await backend.create(job('dup') as any);
      await expect(backend.create(job('dup') as any)).rejects.toBeInstanceOf(AlreadyExistsError);
      await expect(backend.create(job('dup') as any)).rejects.toThrow('multiedgeinferences.sedna.io "dup" already exists');
      const otherNs = await target.namespace();
      const other = await backend.create(job('dup', otherNs) as any);
      expect(other.metadata.namespace).toBe(otherNs);
    });

    it('update: a stale resourceVersion is a ConflictError and changes nothing', async () => {
      const v1 = await backend.create(job('conf') as any);
      const v2 = await backend.update({ ...v1, spec: { ...v1.spec, mode: 'history' } });
      expect(BigInt(v2.metadata.resourceVersion)).toBeGreaterThan(BigInt(v1.metadata.resourceVersion));
      await expect(backend.update({ ...v1, spec: { ...v1.spec, mode: 'live' } })).rejects.toBeInstanceOf(ConflictError);
      await expect(backend.updateStatus({ ...v1, status: { phase: 'Running' } })).rejects.toBeInstanceOf(ConflictError);
      await expect(backend.update({ ...v2, metadata: { ...v2.metadata, uid: '00000000-0000-4000-8000-000000000000' } })).rejects.toBeInstanceOf(ConflictError);
      expect(await backend.get(ns, 'conf')).toEqual(v2);
      const noRv = { ...v2, metadata: { ...v2.metadata, resourceVersion: '' } };
      expect(await fieldsOf(backend.update(noRv))).toEqual(['metadata.resourceVersion']);
      await expect(backend.update({ ...v2, metadata: { ...v2.metadata, name: 'missing' } })).rejects.toBeInstanceOf(NotFoundError);
    });

    it('generation counts spec changes only; a no-op update keeps the resourceVersion', async () => {
      const v1 = await backend.create(job('gen') as any);
      const v2 = await backend.update({ ...v1, spec: { ...v1.spec, cameras: [{ ...v1.spec.cameras[0], fps: 5 }] } });
      expect(v2.metadata.generation).toBe(2);
      expect(v2.spec.cameras).toHaveLength(1);
      const v3 = await backend.update({ ...v2, metadata: { ...v2.metadata, labels: { tier: 'gold' } } });
      expect(v3.metadata.generation).toBe(2);
      expect(v3.metadata.labels).toEqual({ tier: 'gold' });
      expect(v3.metadata.resourceVersion).not.toBe(v2.metadata.resourceVersion);
      const same = await backend.update(structuredClone(v3));
      expect(same.metadata.resourceVersion).toBe(v3.metadata.resourceVersion);
      // Defaults are applied on update too, so sending the spec without them is no change.
      const { loop: _l, ...bare } = v3.spec.cameras[0];
      expect(_l).toBe(false);
      const again = await backend.update({ ...v3, spec: { ...v3.spec, cameras: [bare as any] } });
      expect(again.metadata.resourceVersion).toBe(v3.metadata.resourceVersion);
      expect((await backend.get(ns, 'gen'))!.metadata.generation).toBe(2);
    });

    it('update validates the spec again and names the field', async () => {
      const v1 = await backend.create(job('val') as any);
      const bad = structuredClone(v1) as any;
      bad.spec.cameras[1].fps = 0;
      bad.spec.models.detector.decoder = 'ssd';
      expect((await fieldsOf(backend.update(bad))).sort()).toEqual(['spec.cameras[1].fps', 'spec.models.detector.decoder']);
      expect(await backend.get(ns, 'val')).toEqual(v1);
    });

    it('update ignores status; updateStatus changes only status and keeps the generation', async () => {
      const v1 = await backend.create(job('stat') as any);
      const v2 = await backend.update({ ...v1, status: { phase: 'Failed' } } as MultiEdgeInference);
      expect(v2.status).toBeUndefined();
      expect(v2.metadata.resourceVersion).toBe(v1.metadata.resourceVersion);

      const status = { phase: 'Running' as const, observedGeneration: 1, cameraCount: 2, conditions: [{ type: 'Ready', status: 'True' as const }] };
      const v3 = await backend.updateStatus({ ...v2, spec: { ...v2.spec, mode: 'history' }, metadata: { ...v2.metadata, labels: { x: 'y' } }, status });
      expect(v3.status).toEqual(status);
      expect(v3.spec.mode).toBe('live'); // spec in a status update is ignored
      expect(v3.metadata.labels).toBeUndefined();
      expect(v3.metadata.generation).toBe(1);
      expect(BigInt(v3.metadata.resourceVersion)).toBeGreaterThan(BigInt(v2.metadata.resourceVersion));
      expect(await backend.get(ns, 'stat')).toEqual(v3);

      expect(await fieldsOf(backend.updateStatus({ ...v3, status: { phase: 'Exploded' } as any }))).toEqual(['status.phase']);
      expect(await fieldsOf(backend.updateStatus({ ...v3, status: { ...status, workers: [{ name: 'w' }] } as any }))).toEqual(['status.workers[0].node']);
    });

    it('delete removes a job without finalizers', async () => {
      await backend.create(job('gone') as any);
      await backend.delete(ns, 'gone');
      expect(await backend.get(ns, 'gone')).toBeUndefined();
      await expect(backend.delete(ns, 'gone')).rejects.toBeInstanceOf(NotFoundError);
      // The name is free again, under a new uid.
      const again = await backend.create(job('gone') as any);
      expect(again.metadata.generation).toBe(1);
    });

    it('finalizers: delete only marks the job; removing the last finalizer removes it', async () => {
      const v1 = await backend.create({ ...job('fin'), metadata: { name: 'fin', namespace: ns, finalizers: ['sedna.io/workers', 'sedna.io/history'] } } as any);
      expect(v1.metadata.finalizers).toEqual(['sedna.io/workers', 'sedna.io/history']);
      await backend.delete(ns, 'fin');
      const v2 = (await backend.get(ns, 'fin'))!;
      expect(v2.metadata.deletionTimestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      expect(v2.metadata.generation).toBe(target.caps.generationOnDelete ? 2 : 1);
      await backend.delete(ns, 'fin'); // again: still waiting, no error
      expect((await backend.get(ns, 'fin'))!.metadata.resourceVersion).toBe(v2.metadata.resourceVersion);

      const addMore = { ...v2, metadata: { ...v2.metadata, finalizers: ['sedna.io/workers', 'sedna.io/history', 'example.com/new'] } };
      expect(await fieldsOf(backend.update(addMore))).toEqual(['metadata.finalizers']);
      // Status updates still work while a job is being deleted (controllers report the teardown).
      const v3 = await backend.updateStatus({ ...v2, status: { phase: 'Succeeded' } });
      const v4 = await backend.update({ ...v3, metadata: { ...v3.metadata, finalizers: ['sedna.io/history'] } });
      expect(v4.metadata.finalizers).toEqual(['sedna.io/history']);
      expect(await backend.get(ns, 'fin')).toBeDefined();
      await backend.update({ ...v4, metadata: { ...v4.metadata, finalizers: [] } });
      expect(await backend.get(ns, 'fin')).toBeUndefined();
    });

    it('watch: ADDED for every existing job first, then changes in commit order', async () => {
      await backend.create(job('w-old-1') as any);
      await backend.create(job('w-old-2') as any);
      const events: WatchEvent[] = [];
      const stop = await backend.watch((ev) => events.push(ev));
      const mine = () => events.filter((e) => e.object.metadata.namespace === ns);
      expect(mine().map((e) => `${e.type} ${e.object.metadata.name}`)).toEqual(['ADDED w-old-1', 'ADDED w-old-2']);

      const a = await backend.create(job('w-new') as any);
      const b = await backend.update({ ...a, metadata: { ...a.metadata, finalizers: ['sedna.io/workers'] } });
      const c = await backend.updateStatus({ ...b, status: { phase: 'Running' } });
      await backend.delete(ns, 'w-new');
      await backend.delete(ns, 'w-old-1');
      const d = (await backend.get(ns, 'w-new'))!;
      await backend.update({ ...d, metadata: { ...d.metadata, finalizers: [] } });

      await waitFor('8 events', () => mine().length >= 8);
      expect(mine().map((e) => `${e.type} ${e.object.metadata.name}`)).toEqual([
        'ADDED w-old-1',
        'ADDED w-old-2',
        'ADDED w-new',
        'MODIFIED w-new', // finalizer added
        'MODIFIED w-new', // status
        'MODIFIED w-new', // deletionTimestamp
        'DELETED w-old-1',
        'DELETED w-new', // last finalizer removed
      ]);
      const tail = mine().slice(2);
      expect(tail[0].object).toEqual(a);
      expect(tail[2].object).toEqual(c);
      expect(tail[3].object.metadata.deletionTimestamp).toBeDefined();
      const rvs = tail.map((e) => BigInt(e.object.metadata.resourceVersion));
      expect(rvs).toEqual([...rvs].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0)));
      expect(new Set(rvs).size).toBe(rvs.length);

      // A second watcher gets its own ADDED snapshot of what is there now.
      const second: string[] = [];
      const stop2 = await backend.watch((ev) => ev.object.metadata.namespace === ns && second.push(`${ev.type} ${ev.object.metadata.name}`));
      expect(second).toEqual(['ADDED w-old-2']);

      stop();
      const before = events.length;
      await backend.create(job('after-stop') as any);
      // Once the watcher still running has the event, a stopped one would have had it too.
      await waitFor('the running watcher to see after-stop', () => second.includes('ADDED after-stop'));
      expect(events.length).toBe(before);
      stop2();
    });

    it('concurrent writers: every write gets its own rv and watchers see them all, in rv order', async () => {
      const seen: WatchEvent[] = [];
      const stop = await backend.watch((ev) => ev.object.metadata.namespace === ns && seen.push(ev));
      const names = Array.from({ length: 12 }, (_, i) => `c-${i}`);
      const created = await Promise.all(names.map((nm) => backend.create(job(nm) as any)));
      // Racing updates of one object: exactly one wins per resourceVersion.
      const contended = created[0];
      const results = await Promise.allSettled([1, 2, 3].map((fps) => backend.update({ ...contended, spec: { ...contended.spec, cameras: [{ ...contended.spec.cameras[0], fps }] } })));
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      expect(results.filter((r) => r.status === 'rejected').every((r) => (r as PromiseRejectedResult).reason instanceof ConflictError)).toBe(true);
      await waitFor('13 events', () => seen.length >= 13);
      const rvs = seen.map((e) => BigInt(e.object.metadata.resourceVersion));
      expect(rvs).toEqual([...rvs].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0)));
      expect(new Set(created.map((c) => c.metadata.resourceVersion)).size).toBe(12);
      expect(seen.filter((e) => e.type === 'ADDED').map((e) => e.object.metadata.name).sort()).toEqual([...names].sort());
      stop();
    });

    it('a throwing watcher does not stop the others', async () => {
      const errors: unknown[] = [];
      const b2 = await target.open({ onError: (e) => errors.push(e) });
      await b2.create(job('before') as any); // so the snapshot of each new watch is not empty
      const good: string[] = [];
      // It throws on its snapshot too: watch() still succeeds.
      const stopBad = await b2.watch(() => {
        throw new Error('watcher bug');
      });
      expect(errors.length).toBeGreaterThan(0);
      const stopGood = await b2.watch((ev) => ev.object.metadata.namespace === ns && good.push(ev.object.metadata.name));
      const before = errors.length;
      await backend.create(job('robust') as any); // written through another backend on the same store
      await waitFor('event for robust', () => good.includes('robust'));
      await waitFor('the bad watcher to fail on robust too', () => errors.length > before);
      expect(errors.every((e) => (e as Error).message === 'watcher bug')).toBe(true);
      stopBad();
      stopGood();
    });

    it(`${target.caps.durable ? 'keeps' : 'loses'} the data across close and reopen`, async () => {
      const v1 = await backend.create({ ...job('durable'), metadata: { name: 'durable', namespace: ns, labels: { keep: 'yes' }, finalizers: ['sedna.io/workers'] } } as any);
      const v2 = await backend.updateStatus({ ...v1, status: { phase: 'Running', identities: 3 } });
      await target.close();
      backend = await target.open();
      if (!target.caps.durable) {
        expect(await backend.list()).toEqual([]);
        return;
      }
      expect(await backend.get(ns, 'durable')).toEqual(v2);
      // resourceVersions keep growing after a restart (the changelog sequence is durable too).
      const v3 = await backend.update({ ...v2, metadata: { ...v2.metadata, labels: { keep: 'still' } } });
      expect(BigInt(v3.metadata.resourceVersion)).toBeGreaterThan(BigInt(v2.metadata.resourceVersion));
      const events: WatchEvent[] = [];
      const stop = await backend.watch((ev) => events.push(ev));
      expect(events.find((e) => e.object.metadata.namespace === ns && e.object.metadata.name === 'durable')?.object).toEqual(v3);
      stop();
    });
  });
}

/** The history tables next to the jobs, on a database target (PGlite and PostgreSQL). */
export function historyTablesSuite(label: string, target: ReturnType<typeof databaseTarget>) {
  describe(`history tables on ${label}`, () => {
    afterAll(() => target.close(), 600_000);
    it('history tables: a track with trajectory segments and real[] embeddings round-trips; deleting it cascades', async () => {
      const backend = await target.open();
      const db = target.db();
      const ns = await target.namespace();
      const jobUid = (await backend.create({ ...baseJob('hist'), metadata: { name: 'hist', namespace: ns } } as any)).metadata.uid;
      const vector = Array.from({ length: 512 }, (_, i) => Math.fround(Math.sin(i) / 16)); // float4-exact values
      const track = await db.prisma.track.create({
        data: {
          jobUid,
          jobKey: `${ns}/hist`,
          camera: 'cam-a',
          localId: 7,
          startMs: 1_700_000_000_000n,
          endMs: 1_700_000_000_500n,
          segments: { create: [{ startMs: 1_700_000_000_000n, endMs: 1_700_000_000_500n, points: [[1_700_000_000_000, 10, 20, 30, 60, 0.9]] }] },
          embeddings: { create: [{ tMs: 1_700_000_000_250n, model: 'osnet-x0.25-msmt17', dim: vector.length, vector }] },
        },
      });
      await expect(db.prisma.track.create({ data: { jobUid, jobKey: `${ns}/hist`, camera: 'cam-a', localId: 7, startMs: 0n, endMs: 0n } })).rejects.toThrow();
      await db.prisma.track.update({ where: { id: track.id }, data: { globalId: 'g-1', endMs: 1_700_000_001_000n } });
      const back = await db.prisma.track.findFirstOrThrow({ where: { jobUid, globalId: 'g-1' }, include: { segments: true, embeddings: true } });
      expect(back.endMs).toBe(1_700_000_001_000n);
      expect(back.segments[0].points).toEqual([[1_700_000_000_000, 10, 20, 30, 60, 0.9]]);
      // real[] keeps float32 precision: values come back as float4's shortest decimal, equal after fround.
      expect(back.embeddings[0].vector.map(Math.fround)).toEqual(vector);
      await db.prisma.track.delete({ where: { id: track.id } });
      expect(await db.prisma.embedding.count({ where: { trackId: track.id } })).toBe(0);
      expect(await db.prisma.trackSegment.count({ where: { trackId: track.id } })).toBe(0);
    });
  });
}
