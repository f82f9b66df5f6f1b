// The job's defaults, in ONE place: the CRD's `default:` values. kube-apiserver applies them structurally;
// the embedded validator (validation.ts) and every reader of a spec apply them here, through the same walk.
// Code never restates a default: it reads a DefaultedJobSpec (applyDefaults) or a part (withDefaults).
import type {
  CameraSpec,
  CrossCameraSpec,
  DefaultedCameraSpec,
  DefaultedCrossCameraSpec,
  DefaultedDetectorSpec,
  DefaultedJobSpec,
  DefaultedPrivacySpec,
  DefaultedReidSpec,
  DefaultedRetentionSpec,
  DefaultedTrackingSpec,
  DefaultedWorkerSpec,
  DetectorSpec,
  MultiEdgeInferenceSpec,
  PrivacySpec,
  ReidSpec,
  RetentionSpec,
  TrackingSpec,
  WorkerSpec,
} from './generated/job.ts';
import type { TaskAssignment, TaskAssignmentInput } from './events.ts';
import { SPEC_DEFAULTS, type DefaultsNode } from './generated/defaults.ts';

export { SPEC_DEFAULTS, type DefaultsNode };

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * Kubernetes structural defaulting (apiextensions-apiserver's defaulting.Default), in place: a missing
 * property with a `default`, or a null one that is not `nullable`, gets a copy of it, then every present
 * value is walked (so `default: {}` on a section fills that section's own defaults). Works on the CRD's
 * openAPIV3Schema and on the generated SPEC_DEFAULTS tree alike. Values of the wrong type are left for
 * validation to report.
 */
export function applySchemaDefaults(schema: DefaultsNode, value: unknown): void {
  if (Array.isArray(value)) {
    if (schema.items) for (const item of value) applySchemaDefaults(schema.items, item);
    return;
  }
  if (!isObject(value) || !schema.properties) return;
  for (const [key, sub] of Object.entries(schema.properties)) {
    if (sub.default !== undefined && (value[key] === undefined || (value[key] === null && !sub.nullable))) value[key] = structuredClone(sub.default);
    if (value[key] !== undefined) applySchemaDefaults(sub, value[key]);
  }
}

/** A copy of `spec` with every CRD default filled in (the spec as kube-apiserver would store it). */
export function applyDefaults(spec: MultiEdgeInferenceSpec): DefaultedJobSpec {
  const out = structuredClone(spec);
  applySchemaDefaults(SPEC_DEFAULTS, out);
  return out as DefaultedJobSpec;
}

/** The spec's parts that have defaults of their own: path in the spec -> [as written, as defaulted]. */
interface SpecParts {
  'cameras[]': [CameraSpec, DefaultedCameraSpec];
  'workers[]': [WorkerSpec, DefaultedWorkerSpec];
  'models.detector': [DetectorSpec, DefaultedDetectorSpec];
  'models.reid': [ReidSpec, DefaultedReidSpec];
  tracking: [TrackingSpec, DefaultedTrackingSpec];
  crossCamera: [CrossCameraSpec, DefaultedCrossCameraSpec];
  privacy: [PrivacySpec, DefaultedPrivacySpec];
  retention: [RetentionSpec, DefaultedRetentionSpec];
}

/**
 * A copy of one part of a spec with its CRD defaults filled in, e.g. `withDefaults('models.detector', d)`;
 * without a value, the part's defaults alone (`withDefaults('retention').tracksDays`).
 */
export function withDefaults<P extends keyof SpecParts>(path: P, value: SpecParts[P][0] = {} as SpecParts[P][0]): SpecParts[P][1] {
  let node: DefaultsNode | undefined = SPEC_DEFAULTS;
  for (const seg of path.split('.')) {
    const name = seg.replace(/\[\]$/, '');
    node = node?.properties?.[name];
    if (seg.endsWith('[]')) node = node?.items;
  }
  const out = structuredClone(value ?? {});
  if (node) applySchemaDefaults(node, out);
  return out as SpecParts[P][1];
}

/**
 * A task as an agent runs it: the job's sections carry the spec's field names, so the spec's defaults apply
 * to them as they are (a task from an older server, without them, is defaulted the same way).
 */
export function applyTaskDefaults(task: TaskAssignmentInput): TaskAssignment {
  const out = structuredClone(task) as TaskAssignment;
  if (!isObject(out)) return out; // not a task: the receiver reports it
  applySchemaDefaults(SPEC_DEFAULTS, out);
  const worker = withDefaults('workers[]', { node: out.node });
  out.threads ??= worker.threads;
  out.floorFps ??= worker.floorFps;
  return out;
}

/** Every default as `path -> value` (`cameras[].fps` -> 10), for tests and documentation. */
export function defaultsTable(node: DefaultsNode = SPEC_DEFAULTS, path = ''): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (path && node.default !== undefined) out[path] = node.default;
  for (const [k, sub] of Object.entries(node.properties ?? {})) Object.assign(out, defaultsTable(sub, path ? `${path}.${k}` : k));
  if (node.items) Object.assign(out, defaultsTable(node.items, `${path}[]`));
  return out;
}
