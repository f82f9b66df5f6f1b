// What a job write does to the object in a store that keeps jobs itself (the embedded backend; the unit tests'
// in-memory fake), by kube-apiserver's rules for a custom resource: the CRD schema validates and defaults, the
// server owns uid/generation/timestamps and status goes through the status subresource, generation counts spec
// changes, a no-op write changes nothing, a deleting object takes no new finalizers. Pure: the store reads the
// current object, asks here what to write, and writes it with a new resourceVersion.
import { randomUUID } from 'node:crypto';
import { DEFAULT_NAMESPACE, ValidationError, validateObjectName, type FieldError, type MultiEdgeInference, type Validator } from '@mei/contracts';
import { API_VERSION, CRD_GROUP, CRD_KIND, CRD_PLURAL } from '@mei/contracts/crd';
import { sameJson } from '../../lib/canonical-json.ts';
import { k8sTime, metaErrors, nonEmpty, typeMetaErrors } from './object-meta.ts';

export const jobWhat = (name: string) => `${CRD_PLURAL}.${CRD_GROUP} "${name}"`;
export const invalidJob = (name: unknown, errors: FieldError[]) => new ValidationError(`${CRD_KIND}.${CRD_GROUP} "${typeof name === 'string' ? name : ''}"`, errors);
const isObject = (v: unknown): v is Record<string, any> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** A new job from a client's object, validated and defaulted; resourceVersion is left for the store. */
export function newJob(input: unknown, validator: Validator): MultiEdgeInference {
  if (!isObject(input)) throw invalidJob(undefined, [{ field: '', reason: 'FieldValueTypeInvalid', message: 'the object must be a JSON object' }]);
  const meta: Record<string, any> = isObject(input.metadata) ? input.metadata : {};
  const name = meta.name;
  const namespace = meta.namespace ?? DEFAULT_NAMESPACE;
  const errors: FieldError[] = [...validateObjectName(name), ...validateObjectName(namespace, 'metadata.namespace'), ...metaErrors(meta), ...typeMetaErrors(input)];
  // status is reset on create (the status subresource owns it); metadata is checked above.
  const { status: _status, metadata: _meta, ...body } = structuredClone(input);
  const candidate: Record<string, any> = { ...body, apiVersion: API_VERSION, kind: CRD_KIND, metadata: {} };
  errors.push(...validator.validate(candidate));
  if (errors.length) throw invalidJob(name, errors);
  return {
    apiVersion: API_VERSION,
    kind: CRD_KIND,
    metadata: {
      name,
      namespace,
      uid: randomUUID(),
      resourceVersion: '',
      generation: 1,
      creationTimestamp: k8sTime(new Date()),
      ...(nonEmpty(meta.finalizers) ? { finalizers: [...meta.finalizers] } : {}),
      ...(nonEmpty(meta.labels) ? { labels: { ...meta.labels } } : {}),
      ...(nonEmpty(meta.annotations) ? { annotations: { ...meta.annotations } } : {}),
    },
    spec: candidate.spec,
  };
}

/** Shape checks of an update or status update; returns the namespace it addresses. */
export function updateTarget(obj: unknown): string {
  if (!isObject(obj) || !isObject(obj.metadata)) throw invalidJob(undefined, [{ field: 'metadata', reason: 'FieldValueRequired', message: 'Required value: the object must have metadata' }]);
  const namespace = obj.metadata.namespace ?? DEFAULT_NAMESPACE;
  const errors = [...validateObjectName(obj.metadata.name), ...validateObjectName(namespace, 'metadata.namespace')];
  const rv = obj.metadata.resourceVersion;
  if (rv === undefined || rv === null || rv === '') errors.push({ field: 'metadata.resourceVersion', reason: 'FieldValueInvalid', message: 'Invalid value: 0x0: must be specified for an update' });
  if (errors.length) throw invalidJob(obj.metadata.name, errors);
  return namespace;
}

/** An update's metadata and spec, validated and defaulted before the store reads the current object. */
export interface UpdateRequest {
  meta: Record<string, any>;
  spec: MultiEdgeInference['spec'] | undefined;
}

export function updateRequest(obj: MultiEdgeInference, validator: Validator): UpdateRequest {
  const meta = obj.metadata as unknown as Record<string, any>;
  const errors = [...metaErrors(meta), ...typeMetaErrors(obj as any)];
  const candidate: Record<string, any> = { apiVersion: API_VERSION, kind: CRD_KIND, metadata: {}, spec: structuredClone(obj.spec) };
  if (obj.spec === undefined) delete candidate.spec;
  errors.push(...validator.validate(candidate));
  if (errors.length) throw invalidJob(meta.name, errors);
  return { meta, spec: candidate.spec };
}

/** The object after an update of `cur`; undefined when nothing changes (the resourceVersion stays). */
export function updatedJob(cur: MultiEdgeInference, { meta, spec }: UpdateRequest): { type: 'MODIFIED' | 'DELETED'; next: MultiEdgeInference } | undefined {
  const finalizers: string[] = [...(meta.finalizers ?? [])];
  if (cur.metadata.deletionTimestamp) {
    const added = finalizers.filter((f) => !(cur.metadata.finalizers ?? []).includes(f));
    if (added.length)
      throw invalidJob(meta.name, [{ field: 'metadata.finalizers', reason: 'FieldValueInvalid', message: `Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers ${JSON.stringify(added)}` }]);
  }
  const labels = nonEmpty(meta.labels);
  const annotations = nonEmpty(meta.annotations);
  const specChanged = !sameJson(cur.spec, spec);
  const unchanged = !specChanged && sameJson(cur.metadata.labels, labels) && sameJson(cur.metadata.annotations, annotations) && sameJson(cur.metadata.finalizers ?? [], finalizers);
  if (unchanged) return undefined; // like kube-apiserver: a no-op update keeps the resourceVersion
  const next: MultiEdgeInference = {
    ...cur,
    metadata: {
      ...cur.metadata,
      generation: specChanged ? cur.metadata.generation + 1 : cur.metadata.generation,
      finalizers: finalizers.length ? finalizers : undefined,
      labels: labels && { ...labels },
      annotations: annotations && { ...annotations },
    },
    spec: spec as MultiEdgeInference['spec'],
  };
  for (const k of ['finalizers', 'labels', 'annotations'] as const) if (next.metadata[k] === undefined) delete next.metadata[k];
  // The last finalizer of a deleting object is gone: the object goes now.
  return { type: cur.metadata.deletionTimestamp && !finalizers.length ? 'DELETED' : 'MODIFIED', next };
}

/** The status field of a status update, checked before the store reads the current object. */
export function checkStatusShape(obj: MultiEdgeInference): void {
  if (obj.status !== undefined && !isObject(obj.status)) throw invalidJob(obj.metadata.name, [{ field: 'status', reason: 'FieldValueTypeInvalid', message: 'Invalid value: status must be an object' }]);
}

/** The object after a status update of `cur` (only status changes); undefined when the status is the same. */
export function withStatus(cur: MultiEdgeInference, obj: MultiEdgeInference, validator: Validator): MultiEdgeInference | undefined {
  const candidate: Record<string, any> = { apiVersion: API_VERSION, kind: CRD_KIND, metadata: {}, spec: structuredClone(cur.spec) };
  if (obj.status !== undefined) candidate.status = structuredClone(obj.status);
  const errors = validator.validate(candidate);
  if (errors.length) throw invalidJob(obj.metadata.name, errors);
  if (sameJson(cur.status, candidate.status)) return undefined;
  const next: MultiEdgeInference = { ...cur, metadata: { ...cur.metadata }, status: candidate.status };
  if (next.status === undefined) delete next.status;
  return next;
}

/** Delete of `cur`: marked while finalizers remain ('MODIFIED'), else removed; undefined when already marked. */
export function deletion(cur: MultiEdgeInference): { type: 'MODIFIED' | 'DELETED'; next: MultiEdgeInference } | undefined {
  if (cur.metadata.deletionTimestamp) return undefined; // already being deleted: waits for its finalizers
  if (cur.metadata.finalizers?.length) return { type: 'MODIFIED', next: { ...cur, metadata: { ...cur.metadata, deletionTimestamp: k8sTime(new Date()) } } };
  return { type: 'DELETED', next: cur };
}
