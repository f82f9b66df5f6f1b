// The one interface the controllers are written against. The embedded backend (Prisma store + local agent
// processes) and the Kubernetes backend (kube-apiserver + Pods on KubeEdge edge nodes) both implement it,
// so no controller knows which one it runs on.
import type { MultiEdgeInference, MultiEdgeInferenceInput, WatchEvent, WorkerPhase as ContractWorkerPhase } from '@mei/contracts';

export class NotFoundError extends Error {
  readonly code = 404;
  constructor(what: string) {
    super(`${what} not found`);
    this.name = 'NotFoundError';
  }
}
export class AlreadyExistsError extends Error {
  readonly code = 409;
  constructor(what: string) {
    super(`${what} already exists`);
    this.name = 'AlreadyExistsError';
  }
}
/** The object changed since it was read (resourceVersion mismatch): re-read and re-apply. */
export class ConflictError extends Error {
  readonly code = 409;
  constructor(what: string) {
    super(`Operation cannot be fulfilled on ${what}: the object has been modified; please apply your changes to the latest version and try again`);
    this.name = 'ConflictError';
  }
}

/** Jobs: CRUD with optimistic concurrency and a watch, like a Kubernetes resource. */
export interface JobBackend {
  readonly mode: 'embedded' | 'kubernetes';
  /** Validates against the CRD schema (throws ValidationError with field paths), applies defaults, stores. */
  create(input: MultiEdgeInferenceInput): Promise<MultiEdgeInference>;
  get(namespace: string, name: string): Promise<MultiEdgeInference | undefined>;
  /** All namespaces when `namespace` is omitted. */
  list(namespace?: string): Promise<MultiEdgeInference[]>;
  /** Replaces metadata (labels, annotations, finalizers) and spec; `metadata.resourceVersion` must be current. */
  update(obj: MultiEdgeInference): Promise<MultiEdgeInference>;
  /** Replaces status only (the status subresource); `metadata.resourceVersion` must be current. */
  updateStatus(obj: MultiEdgeInference): Promise<MultiEdgeInference>;
  /** Marks for deletion (deletionTimestamp) while finalizers remain, else removes. */
  delete(namespace: string, name: string): Promise<void>;
  /** Streams changes; first an ADDED for every existing job. Returns a stop function. */
  watch(onEvent: (ev: WatchEvent) => void): Promise<() => void>;
  close(): Promise<void>;
}

/** What a runtime observes of a worker process or Pod: part of the contract's WorkerPhase. */
export type WorkerPhase = Extract<ContractWorkerPhase, 'Pending' | 'Running' | 'Succeeded' | 'Failed'>;

/** A worker as its runtime observes it: a local process or a Pod. */
export interface ObservedWorker {
  jobKey: string;
  jobUid: string;
  node: string;
  /** Process or Pod name. */
  name: string;
  phase: WorkerPhase;
  restarts: number;
  message?: string;
  startedAt?: string;
  /** Hash of the template the worker was created from (rolling runtimes; absent for older workers). */
  templateHash?: string;
  /** Deletion started (a Pod with deletionTimestamp, a process being stopped); it will be gone soon. */
  terminating?: boolean;
}

export interface WorkerLaunch {
  job: MultiEdgeInference;
  node: string;
  /** Credential the agent presents on connect (minted by the main controller). */
  token: string;
  /** Where the agent connects, e.g. http://127.0.0.1:3000. */
  serverUrl: string;
}

/** Creates and removes edge workers: local agent processes (embedded) or Pods (Kubernetes). */
export interface WorkerRuntime {
  /** Idempotent: creates the worker if absent; leaves a running one alone. */
  ensure(launch: WorkerLaunch): Promise<void>;
  /** Removes the job's workers (one node, or all when node is omitted). Idempotent. */
  remove(jobKey: string, node?: string): Promise<void>;
  list(jobKey?: string): Promise<ObservedWorker[]>;
  /** Calls back with the job key whenever one of its workers changes. */
  watch(onChange: (jobKey: string) => void): () => void;
  close(): Promise<void>;
  /**
   * Rolling runtimes (backends/worker-template.ts): stable hash of the worker `launch` would create now —
   * the pod spec, or the process argv and environment — without per-launch secrets (the agent token is minted
   * anew on every reconcile). A runtime without it (a test fake) never rolls its workers.
   */
  templateHash?(launch: WorkerLaunch): string;
  /**
   * Dry run: why creating the worker for `launch` would be refused (the apiserver's validation or admission
   * message), or undefined when it would be accepted; throws when the answer is unknown (network). Lets a
   * rollout keep the old worker instead of deleting it for a template that cannot be created.
   */
  checkTemplate?(launch: WorkerLaunch): Promise<string | undefined>;
  /** Tells the job's watchers (Kubernetes Events) about a rollout step. */
  recordEvent?(job: Pick<MultiEdgeInference, 'metadata'>, type: 'Normal' | 'Warning', reason: string, message: string): void;
}
