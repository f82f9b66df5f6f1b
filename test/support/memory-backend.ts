// Test fake: an in-memory JobBackend for unit tests of the controllers, the API and the live view. What a write
// does to the object is the embedded store's own code (server/backends/embedded/job-object.ts); only storage and watch are
// the fake's, and it is held to the conformance suite the real backends pass (test/unit/memory-backend.test.ts).
// Backends made over one MemoryStore share its jobs, as servers share a database.
import { createValidator, jobKey, type MultiEdgeInference, type MultiEdgeInferenceInput, type WatchEvent } from '@mei/contracts';
import { loadJobSchema } from '@mei/contracts/crd';
import { AlreadyExistsError, ConflictError, NotFoundError, type JobBackend } from '../../server/backends/types.ts';
import { checkStatusShape, deletion, jobWhat, newJob, updateRequest, updateTarget, updatedJob, withStatus } from '../../server/backends/embedded/job-object.ts';

const validator = createValidator(loadJobSchema());
const clone = <T>(v: T): T => structuredClone(v);

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
    const obj = newJob(input, validator);
    const key = jobKey(obj);
    if (this.store.jobs.has(key)) throw new AlreadyExistsError(jobWhat(obj.metadata.name));
    obj.metadata.resourceVersion = String(++this.store.rv);
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
    this.assertOpen();
    updateTarget(obj);
    const request = updateRequest(obj, validator);
    const cur = this.current(obj);
    const change = updatedJob(clone(cur), request);
    return change ? this.save(change.type, change.next) : clone(cur);
  }

  async updateStatus(obj: MultiEdgeInference) {
    this.calls.updateStatus++;
    this.assertOpen();
    updateTarget(obj);
    checkStatusShape(obj);
    const cur = this.current(obj);
    const next = withStatus(clone(cur), obj, validator);
    return next ? this.save('MODIFIED', next) : clone(cur);
  }

  async delete(namespace: string, name: string) {
    this.assertOpen();
    const cur = this.store.jobs.get(`${namespace}/${name}`);
    if (!cur) throw new NotFoundError(jobWhat(name));
    const change = deletion(clone(cur));
    if (change) this.save(change.type, change.next);
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

  /** Stores a change under a new resourceVersion and tells the watchers. */
  private save(type: 'MODIFIED' | 'DELETED', obj: MultiEdgeInference): MultiEdgeInference {
    const next = clone(obj);
    next.metadata.resourceVersion = String(++this.store.rv);
    if (type === 'DELETED') this.store.jobs.delete(jobKey(next));
    else this.store.jobs.set(jobKey(next), next);
    this.store.emit(type, next);
    return clone(next);
  }

  /** The stored object an update targets, after its preconditions (uid, resourceVersion). */
  private current(obj: MultiEdgeInference): MultiEdgeInference {
    const cur = this.store.jobs.get(jobKey(obj));
    if (!cur) throw new NotFoundError(jobWhat(obj.metadata.name));
    if (this.conflictsToInject > 0) {
      this.conflictsToInject--;
      cur.metadata.resourceVersion = String(++this.store.rv);
      throw new ConflictError(jobWhat(obj.metadata.name));
    }
    if (obj.metadata.uid && obj.metadata.uid !== cur.metadata.uid) throw new ConflictError(jobWhat(obj.metadata.name));
    if (String(obj.metadata.resourceVersion) !== cur.metadata.resourceVersion) throw new ConflictError(jobWhat(obj.metadata.name));
    return cur;
  }
}
