// Worker templates and their hashes, for rolling workers whose desired template changed (a new image, new
// resources, a new server URL...). A runtime that can roll its workers stamps each one with the hash of the
// template it was created from and reports it back; the main controller compares that with the hash of what
// it would create now, and replaces the worker when they differ (Pods are immutable, processes keep their argv).
//
import { createHash } from 'node:crypto';
import type { WorkerRuntime } from './types.ts';
import { canonicalJson } from '../lib/canonical-json.ts';

export type TemplatedWorkerRuntime = WorkerRuntime & Required<Pick<WorkerRuntime, 'templateHash'>>;

export function supportsTemplates(runtime: WorkerRuntime): runtime is TemplatedWorkerRuntime {
  return typeof runtime.templateHash === 'function';
}

/** 16 hex digits of SHA-256 over the canonical JSON (sorted keys, no undefined): equal templates, equal hashes. */
export function templateHashOf(template: unknown): string {
  return createHash('sha256').update(canonicalJson(template)).digest('hex').slice(0, 16);
}
