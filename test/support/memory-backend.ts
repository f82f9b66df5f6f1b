// Test fake: an in-memory JobBackend with the semantics the controllers rely on (CRD validation, optimistic
// concurrency on resourceVersion, generation bumps on spec changes, finalizers, watch). Unit tests only;
// the integration test runs the real embedded store.
import { randomUUID } from 'node:crypto';
import {
  DEFAULT_NAMESPACE,
  ValidationError,
  createValidator,
  jobKey,
  validateObjectName,
  type MultiEdgeInference,
  type MultiEdgeInferenceInput,
  type WatchEvent,
} from '@mei/contracts';
import { loadJobSchema } from '@mei/contracts/crd';
import { AlreadyExistsError, ConflictError, NotFoundError, type JobBackend } from '../../server/backends/types.ts';

const validator = createValidator(loadJobSchema());
const clone = <T>(v: T): T => structuredClone(v);

export class MemoryBackend implements JobBackend {
  readonly mode = 'embedded' as const;
  private readonly jobs = new Map<string, MultiEdgeInference>();
  private readonly watchers = new Set<(ev: WatchEvent) => void>();
  private rv = 0;
  /** The next n update/updateStatus calls fail with ConflictError (after bumping the stored version). */
  conflictsToInject = 0;
  readonly calls = { update: 0, updateStatus: 0 };

  async create(input: MultiEdgeInferenceInput): Promise<MultiEdgeInference> {
    const namespace = input.metadata?.namespace ?? DEFAULT_NAMESPACE;
    const name = input.metadata?.name;
    const obj = clone({ apiVersion: 'sedna.io/v1alpha1', kind: 'MultiEdgeInference', metadata: input.metadata, spec: input.spec }) as unknown as MultiEdgeInference;
    const errors = [...validateObjectName(name), ...validator.validate(obj)];
    if (errors.length) throw new ValidationError(`MultiEdgeInference "${name}"`, errors);
    const key = `${namespace}/${name}`;
    if (this.jobs.has(key)) throw new AlreadyExistsError(`multiedgeinferences.sedna.io "${name}"`);
    obj.metadata = {
      ...obj.metadata,
      name: name!,
      namespace,
      uid: randomUUID(),
      resourceVersion: String(++this.rv),
      generation: 1,
      creationTimestamp: new Date().toISOString(),
    };
    this.jobs.set(key, obj);
    this.emit('ADDED', obj);
    return clone(obj);
  }

  async get(namespace: string, name: string) {
    const j = this.jobs.get(`${namespace}/${name}`);
    return j && clone(j);
  }

  async list(namespace?: string) {
    return [...this.jobs.values()].filter((j) => !namespace || j.metadata.namespace === namespace).map(clone);
  }

  async update(obj: MultiEdgeInference) {
    this.calls.update++;
    const cur = this.current(obj);
    const next = clone(cur);
    next.metadata.labels = obj.metadata.labels;
    next.metadata.annotations = obj.metadata.annotations;
    next.metadata.finalizers = obj.metadata.finalizers?.length ? [...obj.metadata.finalizers] : undefined;
    if (JSON.stringify(obj.spec) !== JSON.stringify(cur.spec)) {
      next.spec = clone(obj.spec);
      next.metadata.generation++;
    }
    next.metadata.resourceVersion = String(++this.rv);
    if (next.metadata.deletionTimestamp && !next.metadata.finalizers) {
      this.jobs.delete(jobKey(next));
      this.emit('DELETED', next);
    } else {
      this.jobs.set(jobKey(next), next);
      this.emit('MODIFIED', next);
    }
    return clone(next);
  }

  async updateStatus(obj: MultiEdgeInference) {
    this.calls.updateStatus++;
    const cur = this.current(obj);
    const next = { ...clone(cur), status: clone(obj.status) };
    const errors = validator.validate(clone(next));
    if (errors.length) throw new ValidationError(`MultiEdgeInference "${cur.metadata.name}" status`, errors);
    next.metadata.resourceVersion = String(++this.rv);
    this.jobs.set(jobKey(next), next);
    this.emit('MODIFIED', next);
    return clone(next);
  }

  async delete(namespace: string, name: string) {
    const cur = this.jobs.get(`${namespace}/${name}`);
    if (!cur) throw new NotFoundError(`multiedgeinferences.sedna.io "${name}"`);
    if (cur.metadata.finalizers?.length) {
      if (cur.metadata.deletionTimestamp) return;
      cur.metadata.deletionTimestamp = new Date().toISOString();
      cur.metadata.resourceVersion = String(++this.rv);
      this.emit('MODIFIED', cur);
      return;
    }
    this.jobs.delete(`${namespace}/${name}`);
    this.emit('DELETED', cur);
  }

  async watch(onEvent: (ev: WatchEvent) => void) {
    for (const j of this.jobs.values()) onEvent({ type: 'ADDED', object: clone(j) });
    this.watchers.add(onEvent);
    return () => void this.watchers.delete(onEvent);
  }

  async close() {
    this.watchers.clear();
  }

  /** Simulates another writer: bumps the stored version so the caller's copy is stale. */
  touch(namespace: string, name: string): void {
    const cur = this.jobs.get(`${namespace}/${name}`);
    if (cur) cur.metadata.resourceVersion = String(++this.rv);
  }

  private current(obj: MultiEdgeInference): MultiEdgeInference {
    const cur = this.jobs.get(jobKey(obj));
    if (!cur || cur.metadata.uid !== obj.metadata.uid) throw new NotFoundError(`multiedgeinferences.sedna.io "${obj.metadata.name}"`);
    if (this.conflictsToInject > 0) {
      this.conflictsToInject--;
      cur.metadata.resourceVersion = String(++this.rv);
      throw new ConflictError(`multiedgeinferences.sedna.io "${obj.metadata.name}"`);
    }
    if (cur.metadata.resourceVersion !== obj.metadata.resourceVersion) throw new ConflictError(`multiedgeinferences.sedna.io "${obj.metadata.name}"`);
    return cur;
  }

  private emit(type: WatchEvent['type'], object: MultiEdgeInference): void {
    for (const w of this.watchers) w({ type, object: clone(object) });
  }
}
