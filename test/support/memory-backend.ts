// Test fake: an in-memory JobBackend for unit tests of the controllers, the API and the live view. It is held to
// the same conformance suite as the real backends (test/unit/memory-backend.test.ts runs
// test/support/job-backend-suite.ts on it): CRD validation and defaults, optimistic concurrency on
// resourceVersion, generation bumps on spec changes, no-op updates, finalizers, watch. Backends made over one
// MemoryStore share its jobs, as servers share a database.
import { randomUUID } from 'node:crypto';
import {
  DEFAULT_NAMESPACE,
  ValidationError,
  createValidator,
  jobKey,
  validateObjectName,
  type FieldError,
  type MultiEdgeInference,
  type MultiEdgeInferenceInput,
  type WatchEvent,
} from '@mei/contracts';
import { API_VERSION, CRD_GROUP, CRD_KIND, CRD_PLURAL, loadJobSchema } from '@mei/contracts/crd';
import { AlreadyExistsError, ConflictError, NotFoundError, type JobBackend } from '../../server/backend/types.ts';
import { k8sTime, metaErrors, nonEmpty, sameJson, typeMetaErrors } from '../../server/store/object-meta.ts';

const validator = createValidator(loadJobSchema());
const clone = <T>(v: T): T => structuredClone(v);
const what = (name: unknown) => `${CRD_PLURAL}.${CRD_GROUP} "${String(name)}"`;
const invalid = (name: unknown, errors: FieldError[]) => new ValidationError(`${CRD_KIND}.${CRD_GROUP} "${typeof name === 'string' ? name : ''}"`, errors);
const isObject = (v: unknown): v is Record<string, any> => v !== null && typeof v === 'object' && !Array.isArray(v);
interface Watcher {
  onEvent: (ev: WatchEvent) => void;
  onError: (err: unknown) => void;
}

/** The jobs several MemoryBackends share (one database, several servers). */
export class MemoryStore {
  readonly jobs = new Map<string, MultiEdgeInference>();
  readonly watchers = new Set<Watcher>();
  rv = 0;

  emit(type: WatchEvent['type'], object: MultiEdgeInference): void {
    for (const w of [...this.watchers]) {
      // One watcher's bug must not keep the event from the others.
      try {
        w.onEvent({ type, object: clone(object) });
      } catch (err) {
        w.onError(err);
      }
    }
  }
}

export interface MemoryBackendOptions {
  /** Errors thrown by watchers (default: logged). */
  onError?: (err: unknown) => void;
}

export class MemoryBackend implements JobBackend {
  readonly mode = 'embedded' as const;
  private readonly mine = new Set<Watcher>();
  private readonly onError: (err: unknown) => void;
  private closed = false;
  /** The next n update/updateStatus calls fail with ConflictError (after bumping the stored version). */
  conflictsToInject = 0;
  readonly calls = { update: 0, updateStatus: 0 };

  constructor(
    readonly store = new MemoryStore(),
    options: MemoryBackendOptions = {},
  ) {
    this.onError = options.onError ?? ((e) => console.error('[memory backend] watcher:', e));
  }

  async create(input: MultiEdgeInferenceInput): Promise<MultiEdgeInference> {
    this.assertOpen();
    if (!isObject(input)) throw invalid(undefined, [{ field: '', reason: 'FieldValueTypeInvalid', message: 'the object must be a JSON object' }]);
    const meta: Record<string, any> = isObject(input.metadata) ? input.metadata : {};
    const { name } = meta;
    const namespace = meta.namespace ?? DEFAULT_NAMESPACE;
    // status and server-owned metadata sent on create are ignored; the schema defaults the spec.
    const { status: _status, metadata: _meta, ...body } = clone(input) as Record<string, any>;
    const candidate: Record<string, any> = { ...body, apiVersion: API_VERSION, kind: CRD_KIND, metadata: {} };
    const errors = [...validateObjectName(name), ...validateObjectName(namespace, 'metadata.namespace'), ...metaErrors(meta), ...typeMetaErrors(input), ...validator.validate(candidate)];
    if (errors.length) throw invalid(name, errors);
    const key = `${namespace}/${name}`;
    if (this.store.jobs.has(key)) throw new AlreadyExistsError(what(name));
    const obj: MultiEdgeInference = {
      apiVersion: API_VERSION,
      kind: CRD_KIND,
      metadata: {
        name,
        namespace,
        uid: randomUUID(),
        resourceVersion: String(++this.store.rv),
        generation: 1,
        creationTimestamp: k8sTime(new Date()),
        ...(nonEmpty(meta.finalizers) ? { finalizers: [...meta.finalizers] } : {}),
        ...(nonEmpty(meta.labels) ? { labels: { ...meta.labels } } : {}),
        ...(nonEmpty(meta.annotations) ? { annotations: { ...meta.annotations } } : {}),
      },
      spec: candidate.spec,
    };
    this.store.jobs.set(key, obj);
    this.store.emit('ADDED', obj);
    return clone(obj);
  }

  async get(namespace: string, name: string) {
    this.assertOpen();
    const j = this.store.jobs.get(`${namespace}/${name}`);
    return j && clone(j);
  }

  async list(namespace?: string) {
    this.assertOpen();
    return [...this.store.jobs.values()]
      .filter((j) => !namespace || j.metadata.namespace === namespace)
      .sort((a, b) => a.metadata.namespace.localeCompare(b.metadata.namespace) || a.metadata.name.localeCompare(b.metadata.name))
      .map(clone);
  }

  async update(obj: MultiEdgeInference) {
    this.calls.update++;
    this.checkUpdateTarget(obj);
    const meta = obj.metadata as unknown as Record<string, any>;
    const candidate: Record<string, any> = { apiVersion: API_VERSION, kind: CRD_KIND, metadata: {}, spec: clone(obj.spec) };
    const errors = [...metaErrors(meta), ...typeMetaErrors(obj as any), ...validator.validate(candidate)];
    if (errors.length) throw invalid(meta.name, errors);
    const cur = this.current(obj);
    const finalizers: string[] = [...(meta.finalizers ?? [])];
    if (cur.metadata.deletionTimestamp) {
      const added = finalizers.filter((f) => !(cur.metadata.finalizers ?? []).includes(f));
      if (added.length) throw invalid(meta.name, [{ field: 'metadata.finalizers', reason: 'FieldValueInvalid', message: `Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers ${JSON.stringify(added)}` }]);
    }
    const labels = nonEmpty(meta.labels);
    const annotations = nonEmpty(meta.annotations);
    const specChanged = !sameJson(cur.spec, candidate.spec);
    if (!specChanged && sameJson(cur.metadata.labels, labels) && sameJson(cur.metadata.annotations, annotations) && sameJson(cur.metadata.finalizers ?? [], finalizers)) return clone(cur);
    const next: MultiEdgeInference = { ...clone(cur), spec: candidate.spec };
    next.metadata.generation += specChanged ? 1 : 0;
    next.metadata.resourceVersion = String(++this.store.rv);
    for (const [k, v] of [['finalizers', nonEmpty(finalizers)], ['labels', labels], ['annotations', annotations]] as const) {
      if (v === undefined) delete next.metadata[k];
      else (next.metadata as any)[k] = clone(v);
    }
    if (next.metadata.deletionTimestamp && !next.metadata.finalizers) {
      this.store.jobs.delete(jobKey(next));
      this.store.emit('DELETED', next);
    } else {
      this.store.jobs.set(jobKey(next), next);
      this.store.emit('MODIFIED', next);
    }
    return clone(next);
  }

  async updateStatus(obj: MultiEdgeInference) {
    this.calls.updateStatus++;
    this.checkUpdateTarget(obj);
    if (obj.status !== undefined && !isObject(obj.status)) throw invalid(obj.metadata.name, [{ field: 'status', reason: 'FieldValueTypeInvalid', message: 'Invalid value: status must be an object' }]);
    const cur = this.current(obj);
    const candidate: Record<string, any> = { apiVersion: API_VERSION, kind: CRD_KIND, metadata: {}, spec: clone(cur.spec) };
    if (obj.status !== undefined) candidate.status = clone(obj.status);
    const errors = validator.validate(candidate);
    if (errors.length) throw invalid(cur.metadata.name, errors);
    if (sameJson(cur.status, candidate.status)) return clone(cur);
    const next: MultiEdgeInference = { ...clone(cur), status: candidate.status };
    if (next.status === undefined) delete next.status;
    next.metadata.resourceVersion = String(++this.store.rv);
    this.store.jobs.set(jobKey(next), next);
    this.store.emit('MODIFIED', next);
    return clone(next);
  }

  async delete(namespace: string, name: string) {
    this.assertOpen();
    const key = `${namespace}/${name}`;
    const cur = this.store.jobs.get(key);
    if (!cur) throw new NotFoundError(what(name));
    if (cur.metadata.deletionTimestamp) return; // already being deleted: waits for its finalizers
    if (cur.metadata.finalizers?.length) {
      const next = clone(cur);
      next.metadata.deletionTimestamp = k8sTime(new Date());
      next.metadata.resourceVersion = String(++this.store.rv);
      this.store.jobs.set(key, next);
      this.store.emit('MODIFIED', next);
      return;
    }
    this.store.jobs.delete(key);
    this.store.emit('DELETED', { ...clone(cur), metadata: { ...cur.metadata, resourceVersion: String(++this.store.rv) } });
  }

  async watch(onEvent: (ev: WatchEvent) => void) {
    this.assertOpen();
    const w: Watcher = { onEvent, onError: this.onError };
    for (const j of await this.list()) {
      try {
        onEvent({ type: 'ADDED', object: j });
      } catch (err) {
        this.onError(err);
      }
    }
    this.store.watchers.add(w);
    this.mine.add(w);
    return () => {
      this.store.watchers.delete(w);
      this.mine.delete(w);
    };
  }

  /** Stops this backend's watches; the store (and other backends on it) stay. */
  async close() {
    this.closed = true;
    for (const w of this.mine) this.store.watchers.delete(w);
    this.mine.clear();
  }

  /** Simulates another writer: bumps the stored version so the caller's copy is stale. */
  touch(namespace: string, name: string): void {
    const cur = this.store.jobs.get(`${namespace}/${name}`);
    if (cur) cur.metadata.resourceVersion = String(++this.store.rv);
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('the memory job backend is closed');
  }

  private checkUpdateTarget(obj: MultiEdgeInference): void {
    this.assertOpen();
    if (!isObject(obj) || !isObject(obj.metadata)) throw invalid(undefined, [{ field: 'metadata', reason: 'FieldValueRequired', message: 'Required value: the object must have metadata' }]);
    const rv = obj.metadata.resourceVersion;
    const errors = [...validateObjectName(obj.metadata.name), ...validateObjectName(obj.metadata.namespace ?? DEFAULT_NAMESPACE, 'metadata.namespace')];
    if (rv === undefined || rv === null || rv === '') errors.push({ field: 'metadata.resourceVersion', reason: 'FieldValueInvalid', message: 'Invalid value: 0x0: must be specified for an update' });
    if (errors.length) throw invalid(obj.metadata.name, errors);
  }

  /** The stored object an update targets, after its preconditions (uid, resourceVersion). */
  private current(obj: MultiEdgeInference): MultiEdgeInference {
    const cur = this.store.jobs.get(jobKey(obj));
    if (!cur) throw new NotFoundError(what(obj.metadata.name));
    if (this.conflictsToInject > 0) {
      this.conflictsToInject--;
      cur.metadata.resourceVersion = String(++this.store.rv);
      throw new ConflictError(what(obj.metadata.name));
    }
    if (obj.metadata.uid && obj.metadata.uid !== cur.metadata.uid) throw new ConflictError(what(obj.metadata.name));
    if (String(obj.metadata.resourceVersion) !== cur.metadata.resourceVersion) throw new ConflictError(what(obj.metadata.name));
    return cur;
  }
}
