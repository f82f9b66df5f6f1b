// Object metadata rules the embedded backend enforces the way kube-apiserver does for a custom resource
// (names, labels, annotations, finalizers), so a client sees the same field errors in both modes.
import type { FieldError } from '@mei/contracts';
import { API_VERSION, CRD_KIND } from '@mei/contracts/crd';

// Kubernetes qualified name: optional DNS-subdomain prefix + "/" + name of at most 63 characters.
const QUALIFIED_NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const MAX_ANNOTATIONS_BYTES = 256 * 1024;

function qualifiedNameProblem(key: string): string | undefined {
  const slash = key.lastIndexOf('/');
  const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  if (prefix !== undefined && (prefix.length > 253 || !DNS_SUBDOMAIN.test(prefix))) return 'prefix part must be a lowercase RFC 1123 subdomain';
  if (!name || name.length > 63 || !QUALIFIED_NAME.test(name))
    return "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (at most 63)";
  return undefined;
}

const isStringMap = (v: unknown): v is Record<string, string> =>
  v !== null && typeof v === 'object' && !Array.isArray(v) && Object.values(v as object).every((x) => typeof x === 'string');

export function validateLabels(labels: unknown, field = 'metadata.labels'): FieldError[] {
  if (labels === undefined || labels === null) return [];
  if (!isStringMap(labels)) return [{ field, reason: 'FieldValueTypeInvalid', message: `Invalid value: ${field} must be a map of string keys to string values` }];
  const out: FieldError[] = [];
  for (const [k, v] of Object.entries(labels)) {
    const p = qualifiedNameProblem(k);
    if (p) out.push({ field, reason: 'FieldValueInvalid', message: `Invalid value: "${k}": ${p}` });
    if (v.length > 63 || !LABEL_VALUE.test(v))
      out.push({ field, reason: 'FieldValueInvalid', message: `Invalid value: "${v}": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (at most 63)` });
  }
  return out;
}

export function validateAnnotations(annotations: unknown, field = 'metadata.annotations'): FieldError[] {
  if (annotations === undefined || annotations === null) return [];
  if (!isStringMap(annotations)) return [{ field, reason: 'FieldValueTypeInvalid', message: `Invalid value: ${field} must be a map of string keys to string values` }];
  const out: FieldError[] = [];
  let bytes = 0;
  for (const [k, v] of Object.entries(annotations)) {
    const p = qualifiedNameProblem(k.toLowerCase());
    if (p) out.push({ field, reason: 'FieldValueInvalid', message: `Invalid value: "${k}": ${p}` });
    bytes += Buffer.byteLength(k) + Buffer.byteLength(v);
  }
  if (bytes > MAX_ANNOTATIONS_BYTES) out.push({ field, reason: 'FieldValueTooLong', message: `Too long: must have at most ${MAX_ANNOTATIONS_BYTES} bytes` });
  return out;
}

export function validateFinalizers(finalizers: unknown, field = 'metadata.finalizers'): FieldError[] {
  if (finalizers === undefined || finalizers === null) return [];
  if (!Array.isArray(finalizers)) return [{ field, reason: 'FieldValueTypeInvalid', message: `Invalid value: ${field} must be a list of strings` }];
  const out: FieldError[] = [];
  finalizers.forEach((f, i) => {
    const p = typeof f !== 'string' ? 'must be a string' : qualifiedNameProblem(f);
    if (p) out.push({ field: `${field}[${i}]`, reason: 'FieldValueInvalid', message: `Invalid value: ${JSON.stringify(f)}: ${p}` });
  });
  return out;
}

/** Kubernetes timestamps are RFC 3339 with second precision. */
export const k8sTime = (d: Date) => new Date(Math.floor(d.getTime() / 1000) * 1000).toISOString().replace('.000Z', 'Z');

/** Empty maps are stored and returned as absent (as kube-apiserver does). */
export const nonEmpty = <T extends object>(m: T | undefined | null): T | undefined => (m && Object.keys(m).length ? m : undefined);

/** apiVersion and kind, when sent, must be this CRD's. */
export function typeMetaErrors(obj: Record<string, any>): FieldError[] {
  const out: FieldError[] = [];
  if (obj.apiVersion !== undefined && obj.apiVersion !== API_VERSION)
    out.push({ field: 'apiVersion', reason: 'FieldValueInvalid', message: `Invalid value: ${JSON.stringify(obj.apiVersion)}: must be ${API_VERSION}` });
  if (obj.kind !== undefined && obj.kind !== CRD_KIND)
    out.push({ field: 'kind', reason: 'FieldValueInvalid', message: `Invalid value: ${JSON.stringify(obj.kind)}: must be ${CRD_KIND}` });
  return out;
}

/** The writable metadata a client sends: labels, annotations, finalizers. */
export function metaErrors(meta: Record<string, any>): FieldError[] {
  return [...validateLabels(meta.labels), ...validateAnnotations(meta.annotations), ...validateFinalizers(meta.finalizers)];
}
