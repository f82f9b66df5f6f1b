// JobBackend on MEI's own database (PGlite or PostgreSQL): jobs behave like a Kubernetes custom resource —
// the CRD schema validates and defaults them, resourceVersion gives optimistic concurrency, generation counts
// spec changes, finalizers delay deletion, and a watch streams changes in commit order (see job-feed.ts).
import { Prisma, type Job as JobRow } from '@prisma/client';
import {
  createValidator,
  type MultiEdgeInference,
  type MultiEdgeInferenceInput,
  type ObjectMeta,
  type Validator,
  type WatchEvent,
  type WatchEventType,
} from '@mei/contracts';
import { API_VERSION, CRD_KIND, loadJobSchema } from '@mei/contracts/crd';
import { AlreadyExistsError, ConflictError, NotFoundError, type JobBackend } from '../types.ts';
import type { Database } from '../../store/db.ts';
import { JOB_EVENTS_CHANNEL, JOB_WRITE_LOCK, JobFeed, type Snapshot } from './job-feed.ts';
import { k8sTime } from './object-meta.ts';
import { checkStatusShape, deletion, jobWhat, newJob, updateRequest, updateTarget, updatedJob, withStatus } from './job-object.ts';

export interface EmbeddedBackendOptions {
  /** Validator for the CRD schema; default: createValidator(loadJobSchema()). */
  validator?: Validator;
  /** Watch polling interval (ms), the safety net behind NOTIFY. Default 2000. */
  pollMs?: number;
  /** Changelog rows kept at least (default 1000) and for at least this long (default 10 min). */
  keepEvents?: number;
  keepEventsMs?: number;
  onError?: (err: unknown) => void;
}

type Tx = Prisma.TransactionClient;
type Json = Prisma.InputJsonValue;

const what = jobWhat;
const PRUNE_EVERY = 200n;

function toObject(row: JobRow): MultiEdgeInference {
  const metadata: ObjectMeta = {
    name: row.name,
    namespace: row.namespace,
    uid: row.uid,
    resourceVersion: String(row.resourceVersion),
    generation: row.generation,
    creationTimestamp: k8sTime(row.creationTimestamp),
  };
  if (row.deletionTimestamp) metadata.deletionTimestamp = k8sTime(row.deletionTimestamp);
  if (row.finalizers.length) metadata.finalizers = [...row.finalizers];
  if (row.labels) metadata.labels = row.labels as Record<string, string>;
  if (row.annotations) metadata.annotations = row.annotations as Record<string, string>;
  const obj: MultiEdgeInference = { apiVersion: API_VERSION, kind: CRD_KIND, metadata, spec: row.spec as any };
  if (row.status != null) obj.status = row.status as any;
  return obj;
}

function toRow(obj: MultiEdgeInference, rv: bigint) {
  const m = obj.metadata;
  return {
    uid: m.uid,
    namespace: m.namespace,
    name: m.name,
    resourceVersion: rv,
    generation: m.generation,
    spec: obj.spec as unknown as Json,
    status: obj.status === undefined ? Prisma.DbNull : (obj.status as unknown as Json),
    labels: m.labels ? (m.labels as Json) : Prisma.DbNull,
    annotations: m.annotations ? (m.annotations as Json) : Prisma.DbNull,
    finalizers: m.finalizers ?? [],
    creationTimestamp: new Date(m.creationTimestamp),
    deletionTimestamp: m.deletionTimestamp ? new Date(m.deletionTimestamp) : null,
  };
}

export function createEmbeddedBackend(db: Database, opts: EmbeddedBackendOptions = {}): JobBackend {
  const validator = opts.validator ?? createValidator(loadJobSchema());
  const keepEvents = BigInt(opts.keepEvents ?? 1000);
  const keepEventsMs = opts.keepEventsMs ?? 10 * 60_000;
  const onError = opts.onError ?? ((e: unknown) => console.error('[store] job watch:', e));
  const { prisma } = db;
  let closed = false;

  /** A job write: serialised (PGlite by its single connection, PostgreSQL by an advisory lock). */
  const write = <T>(fn: (tx: Tx) => Promise<T>): Promise<T> => {
    if (closed) return Promise.reject(new Error('the job store is closed'));
    return prisma.$transaction(
      async (tx) => {
        if (db.kind === 'postgresql') await tx.$executeRaw`SELECT pg_advisory_xact_lock(${JOB_WRITE_LOCK}::bigint)`;
        return fn(tx);
      },
      { maxWait: 15_000, timeout: 30_000 },
    );
  };

  /** Appends to the changelog (notifying watchers at commit) and returns the new resourceVersion. */
  const appendEvent = async (tx: Tx, type: WatchEventType, obj: MultiEdgeInference): Promise<bigint> => {
    const { resourceVersion: _rv, ...metadata } = obj.metadata;
    const body = JSON.stringify({ ...obj, metadata });
    const rows = await tx.$queryRaw<{ rv: bigint }[]>`
      WITH e AS (
        INSERT INTO job_events (type, namespace, name, uid, object)
        VALUES (${type}, ${obj.metadata.namespace}, ${obj.metadata.name}, ${obj.metadata.uid}::uuid, ${body}::jsonb)
        RETURNING rv)
      SELECT e.rv FROM e, LATERAL (SELECT pg_notify(${JOB_EVENTS_CHANNEL}, e.rv::text)) n`;
    const rv = BigInt(rows[0].rv);
    if (rv % PRUNE_EVERY === 0n) {
      // Keep what local watchers still need; a remote watcher that falls further behind re-lists.
      const lowest = feed.lowestCursor();
      const upTo = lowest !== undefined && lowest < rv - keepEvents ? lowest : rv - keepEvents;
      await tx.$executeRaw`DELETE FROM job_events WHERE rv <= ${upTo} AND created_at < ${new Date(Date.now() - keepEventsMs)}`;
    }
    return rv;
  };

  const snapshot = async (): Promise<Snapshot> => {
    const read = async (tx: Tx) => {
      const rows = await tx.job.findMany({ orderBy: [{ namespace: 'asc' }, { name: 'asc' }] });
      const maxEvent = (await tx.jobEvent.aggregate({ _max: { rv: true } }))._max.rv ?? 0n;
      const maxJob = rows.reduce((m, r) => (r.resourceVersion > m ? r.resourceVersion : m), 0n);
      return { jobs: rows.map(toObject), rv: maxEvent > maxJob ? maxEvent : maxJob };
    };
    // Taking the write lock makes the list and the max rv one consistent cut on PostgreSQL.
    return write(read);
  };

  const feed = new JobFeed(db, { pollMs: opts.pollMs ?? 2000, snapshot, onError });

  const find = (tx: Tx | typeof prisma, namespace: string, name: string) => tx.job.findUnique({ where: { namespace_name: { namespace, name } } });

  const save = async (tx: Tx, type: WatchEventType, next: MultiEdgeInference): Promise<MultiEdgeInference> => {
    const rv = await appendEvent(tx, type, next);
    next.metadata.resourceVersion = String(rv);
    const row = toRow(next, rv);
    if (type === 'ADDED') await tx.job.create({ data: row, select: { uid: true } });
    else if (type === 'DELETED') await tx.job.delete({ where: { uid: row.uid }, select: { uid: true } });
    else await tx.job.update({ where: { uid: row.uid }, data: row, select: { uid: true } });
    return next;
  };

  /** Reads the stored object an update targets and checks its preconditions (uid, resourceVersion). */
  const current = async (tx: Tx, obj: MultiEdgeInference, namespace: string) => {
    const row = await find(tx, namespace, obj.metadata.name);
    if (!row) throw new NotFoundError(what(obj.metadata.name));
    if (obj.metadata.uid && obj.metadata.uid !== row.uid) throw new ConflictError(what(obj.metadata.name));
    if (String(obj.metadata.resourceVersion) !== String(row.resourceVersion)) throw new ConflictError(what(obj.metadata.name));
    return row;
  };

  return {
    mode: 'embedded',

    async create(input: MultiEdgeInferenceInput) {
      const job = newJob(input, validator);
      const { name, namespace } = job.metadata;
      try {
        return await write(async (tx) => {
          if (await find(tx, namespace, name)) throw new AlreadyExistsError(what(name));
          return save(tx, 'ADDED', job);
        });
      } catch (e) {
        // A racing create that slipped past the check (should not happen under the write lock).
        if (e instanceof Prisma.PrismaClientKnownRequestError && e.code === 'P2002') throw new AlreadyExistsError(what(name));
        throw e;
      }
    },

    async get(namespace, name) {
      const row = await find(prisma, namespace, name);
      return row ? toObject(row) : undefined;
    },

    async list(namespace) {
      const rows = await prisma.job.findMany({ where: namespace ? { namespace } : {}, orderBy: [{ namespace: 'asc' }, { name: 'asc' }] });
      return rows.map(toObject);
    },

    async update(obj) {
      const namespace = updateTarget(obj);
      const request = updateRequest(obj, validator);
      return write(async (tx) => {
        const cur = toObject(await current(tx, obj, namespace));
        const change = updatedJob(cur, request);
        return change ? save(tx, change.type, change.next) : cur;
      });
    },

    async updateStatus(obj) {
      const namespace = updateTarget(obj);
      checkStatusShape(obj);
      return write(async (tx) => {
        const cur = toObject(await current(tx, obj, namespace));
        const next = withStatus(cur, obj, validator);
        return next ? save(tx, 'MODIFIED', next) : cur;
      });
    },

    async delete(namespace, name) {
      await write(async (tx) => {
        const row = await find(tx, namespace, name);
        if (!row) throw new NotFoundError(what(name));
        const change = deletion(toObject(row));
        if (change) await save(tx, change.type, change.next);
      });
    },

    watch(onEvent: (ev: WatchEvent) => void) {
      return feed.subscribe(onEvent);
    },

    /** Stops watches. The database belongs to the caller (openDatabase) and stays open. */
    async close() {
      closed = true;
      await feed.close();
    },
  };
}
