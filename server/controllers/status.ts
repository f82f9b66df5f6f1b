// Status helpers shared by the controllers: Kubernetes-style conditions, per-node worker entries, and
// writes with optimistic-concurrency retry (a conflict means someone else wrote first: re-read, re-apply).
import { canonicalJson } from '../lib/canonical-json.ts';
import type { Condition, MultiEdgeInference, MultiEdgeInferenceStatus, WorkerStatus } from '@mei/contracts';
import { ConflictError, type JobBackend } from '../backends/types.ts';

export type ConditionInput = Omit<Condition, 'lastTransitionTime'>;

/** Sets a condition; lastTransitionTime moves only when its status flips. */
export function setCondition(conditions: Condition[] | undefined, next: ConditionInput, now: string): Condition[] {
  const list = conditions ? [...conditions] : [];
  const i = list.findIndex((c) => c.type === next.type);
  const prev = i >= 0 ? list[i] : undefined;
  const lastTransitionTime = prev && prev.status === next.status && prev.lastTransitionTime ? prev.lastTransitionTime : now;
  const cond: Condition = { ...next, lastTransitionTime };
  if (i >= 0) list[i] = cond;
  else list.push(cond);
  return list;
}

export function removeCondition(conditions: Condition[] | undefined, type: string): Condition[] | undefined {
  return conditions?.filter((c) => c.type !== type);
}

export function findCondition(status: MultiEdgeInferenceStatus | undefined, type: string): Condition | undefined {
  return status?.conditions?.find((c) => c.type === type);
}

/**
 * Updates the entry of `node` in status.workers (creating it if needed) and keeps the list in spec node
 * order without nodes that left the spec; each controller patches only the fields it owns.
 */
export function patchWorkerEntries(
  workers: WorkerStatus[] | undefined,
  nodes: string[],
  patch: (node: string, entry: WorkerStatus) => WorkerStatus,
): WorkerStatus[] {
  const byNode = new Map((workers ?? []).map((w) => [w.node, w]));
  return nodes.map((node) => patch(node, { ...(byNode.get(node) ?? { node }) }));
}

const MAX_CONFLICT_RETRIES = 5;

/**
 * Writes `mutate(status)` through the status subresource. Skips the write when nothing changed (so a
 * second reconcile is a no-op), and on a conflict re-reads the job and applies `mutate` again.
 * Returns the stored job, or undefined when the job is gone.
 */
export async function updateStatusWithRetry(
  backend: JobBackend,
  job: MultiEdgeInference,
  mutate: (status: MultiEdgeInferenceStatus, job: MultiEdgeInference) => MultiEdgeInferenceStatus,
): Promise<MultiEdgeInference | undefined> {
  return withConflictRetry(backend, job, async (current) => {
    const before = current.status ?? {};
    const after = mutate(structuredClone(before), current);
    if (canonicalJson(after) === canonicalJson(before)) return current;
    // Through JSON so unset optional fields are absent rather than `undefined` when validated and stored.
    return backend.updateStatus({ ...current, status: JSON.parse(JSON.stringify(after)) });
  });
}

/** Like updateStatusWithRetry for metadata/spec (finalizers): `mutate` returns undefined for "no change". */
export async function updateWithRetry(
  backend: JobBackend,
  job: MultiEdgeInference,
  mutate: (job: MultiEdgeInference) => MultiEdgeInference | undefined,
): Promise<MultiEdgeInference | undefined> {
  return withConflictRetry(backend, job, async (current) => {
    const next = mutate(structuredClone(current));
    return next ? backend.update(next) : current;
  });
}

// By name too: a backend may raise its own ConflictError class (e.g. mapped from a Kubernetes 409).
const isConflict = (err: unknown) => err instanceof ConflictError || (err as Error)?.name === 'ConflictError';

async function withConflictRetry(
  backend: JobBackend,
  job: MultiEdgeInference,
  write: (current: MultiEdgeInference) => Promise<MultiEdgeInference>,
): Promise<MultiEdgeInference | undefined> {
  let current: MultiEdgeInference | undefined = job;
  for (let attempt = 0; ; attempt++) {
    try {
      return await write(current);
    } catch (err) {
      if (!isConflict(err) || attempt >= MAX_CONFLICT_RETRIES) throw err;
      current = await backend.get(job.metadata.namespace, job.metadata.name);
      // A job re-created under the same name is a different object: never write the old one's state onto it.
      if (!current || current.metadata.uid !== job.metadata.uid) return undefined;
    }
  }
}
