// The MultiEdgeInference object as both backends (embedded store and kube-apiserver) serve it.
import type { MultiEdgeInferenceSpec, MultiEdgeInferenceStatus } from './generated/job.ts';
export type * from './generated/job.ts';

export interface ObjectMeta {
  name: string;
  namespace: string;
  uid: string;
  /** Opaque version for optimistic concurrency: an update must carry the version it read. */
  resourceVersion: string;
  /** Incremented on every spec change (status.observedGeneration follows it). */
  generation: number;
  creationTimestamp: string;
  deletionTimestamp?: string;
  finalizers?: string[];
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface MultiEdgeInference {
  apiVersion: 'sedna.io/v1alpha1';
  kind: 'MultiEdgeInference';
  metadata: ObjectMeta;
  spec: MultiEdgeInferenceSpec;
  status?: MultiEdgeInferenceStatus;
}

/** What a client sends to create a job: metadata.name (+ namespace, labels) and a spec. */
export interface MultiEdgeInferenceInput {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec: MultiEdgeInferenceSpec;
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';
export interface WatchEvent<T = MultiEdgeInference> {
  type: WatchEventType;
  object: T;
}

export const DEFAULT_NAMESPACE = 'default';

export const jobKey = (j: { metadata: { namespace: string; name: string } }) => `${j.metadata.namespace}/${j.metadata.name}`;

export function parseJobKey(key: string): { namespace: string; name: string } {
  const i = key.indexOf('/');
  if (i <= 0 || i === key.length - 1) throw new Error(`invalid job key "${key}": expected <namespace>/<name>`);
  return { namespace: key.slice(0, i), name: key.slice(i + 1) };
}

/** Edge nodes of a job: every node named by a camera, in spec order, each once. */
export function jobNodes(spec: MultiEdgeInferenceSpec): string[] {
  return [...new Set(spec.cameras.map((c) => c.node))];
}
