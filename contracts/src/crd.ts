// Loads the MultiEdgeInference CRD from crds/ (Node only). The YAML is the one source of truth for the job
// schema: validation (embedded backend, API, browser form) and the generated TypeScript types all come from it.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import yaml from 'js-yaml';
import type { JSONSchema } from './validation.ts';

export const CRD_GROUP = 'sedna.io';
export const CRD_VERSION = 'v1alpha1';
export const CRD_KIND = 'MultiEdgeInference';
export const CRD_PLURAL = 'multiedgeinferences';
export const API_VERSION = `${CRD_GROUP}/${CRD_VERSION}`;

export const CRD_PATH = fileURLToPath(new URL('../../crds/sedna.io_multiedgeinferences.yaml', import.meta.url));

export interface CrdDocument {
  apiVersion: string;
  kind: string;
  metadata: { name: string };
  spec: {
    group: string;
    names: { kind: string; plural: string; shortNames?: string[] };
    versions: Array<{ name: string; schema: { openAPIV3Schema: JSONSchema } }>;
  };
}

let cached: CrdDocument | undefined;

export function loadCrd(file: string = CRD_PATH): CrdDocument {
  if (file === CRD_PATH && cached) return cached;
  const doc = yaml.load(readFileSync(file, 'utf8')) as CrdDocument;
  if (file === CRD_PATH) cached = doc;
  return doc;
}

/** The openAPIV3Schema of the served version. */
export function loadJobSchema(file?: string): JSONSchema {
  const crd = loadCrd(file);
  const version = crd.spec.versions.find((v) => v.name === CRD_VERSION);
  if (!version) throw new Error(`${file ?? CRD_PATH}: no version ${CRD_VERSION}`);
  return version.schema.openAPIV3Schema;
}

export const crdDir = path.dirname(CRD_PATH);
