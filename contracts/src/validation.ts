// Validates MultiEdgeInference objects against the CRD's openAPIV3Schema the way kube-apiserver does
// (structural defaults, strict unknown-field rejection, list-type=map keys), reporting Kubernetes-style
// field paths such as `spec.cameras[0].fps`. Isomorphic: the server and the browser form both use it.
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import { applySchemaDefaults } from './defaults.ts';

export type JSONSchema = Record<string, unknown> & {
  type?: string;
  properties?: Record<string, JSONSchema>;
  items?: JSONSchema;
  required?: string[];
  default?: unknown;
  description?: string;
  enum?: unknown[];
};

export type FieldErrorReason =
  | 'FieldValueRequired'
  | 'FieldValueInvalid'
  | 'FieldValueNotSupported'
  | 'FieldValueTypeInvalid'
  | 'FieldValueTooLong'
  | 'FieldValueTooMany'
  | 'FieldValueDuplicate'
  | 'FieldValueUnknown'
  | 'FieldValueForbidden';

export interface FieldError {
  /** Kubernetes-style path, e.g. `spec.cameras[0].fps`. */
  field: string;
  reason: FieldErrorReason;
  message: string;
}

export class ValidationError extends Error {
  readonly errors: FieldError[];
  constructor(kindAndName: string, errors: FieldError[]) {
    super(`${kindAndName} is invalid: ${errors.map((e) => `${e.field}: ${e.message}`).join(', ')}`);
    this.name = 'ValidationError';
    this.errors = errors;
  }
}

// Kubernetes object names: RFC 1123 DNS subdomain, at most 253 chars (jobs become pod-name prefixes, so 63).
const NAME_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
export const MAX_JOB_NAME = 63;

export function validateObjectName(name: unknown, field = 'metadata.name'): FieldError[] {
  if (typeof name !== 'string' || name === '') return [{ field, reason: 'FieldValueRequired', message: 'Required value: name is required' }];
  if (name.length > MAX_JOB_NAME) return [{ field, reason: 'FieldValueTooLong', message: `Too long: may not be more than ${MAX_JOB_NAME} characters` }];
  if (!NAME_RE.test(name))
    return [{ field, reason: 'FieldValueInvalid', message: `Invalid value: "${name}": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character` }];
  return [];
}

/** Copy of the schema with Kubernetes' structural semantics made explicit for Ajv. */
function toAjvSchema(schema: JSONSchema, isRoot = true): JSONSchema {
  const out: JSONSchema = {};
  for (const [k, v] of Object.entries(schema)) {
    if (k.startsWith('x-kubernetes-') || k === 'description') continue;
    if (k === 'properties') {
      out.properties = Object.fromEntries(Object.entries(v as Record<string, JSONSchema>).map(([p, s]) => [p, toAjvSchema(s, false)]));
    } else if (k === 'items') {
      out.items = toAjvSchema(v as JSONSchema, false);
    } else {
      out[k] = v;
    }
  }
  // OpenAPI v3.0 writes an exclusive bound as a boolean beside minimum/maximum; Ajv (draft 7) wants the number.
  if (out.exclusiveMinimum === true) {
    out.exclusiveMinimum = out.minimum;
    delete out.minimum;
  }
  if (out.exclusiveMaximum === true) {
    out.exclusiveMaximum = out.maximum;
    delete out.maximum;
  }
  // Kubernetes prunes (or with fieldValidation=Strict rejects) fields the schema does not declare; we reject.
  const preserve = schema['x-kubernetes-preserve-unknown-fields'] === true;
  if (schema.type === 'object' && schema.properties && !preserve && !('additionalProperties' in schema)) out.additionalProperties = false;
  if (isRoot && out.properties?.metadata) out.properties.metadata = { type: 'object' };
  return out;
}

function pointerToField(pointer: string): string {
  let field = '';
  for (const raw of pointer.split('/').slice(1)) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    field += /^\d+$/.test(seg) ? `[${seg}]` : field ? `.${seg}` : seg;
  }
  return field;
}

const show = (v: unknown) => (typeof v === 'string' ? `"${v}"` : JSON.stringify(v));

function valueAt(root: unknown, pointer: string): unknown {
  let cur: any = root;
  for (const raw of pointer.split('/').slice(1)) cur = cur?.[raw.replace(/~1/g, '/').replace(/~0/g, '~')];
  return cur;
}

function toFieldError(e: ErrorObject, root: unknown): FieldError | undefined {
  const field = pointerToField(e.instancePath);
  const value = valueAt(root, e.instancePath);
  const p = e.params as Record<string, any>;
  const join = (child: string) => (field ? `${field}.${child}` : child);
  switch (e.keyword) {
    case 'required':
      return { field: join(p.missingProperty), reason: 'FieldValueRequired', message: 'Required value' };
    case 'additionalProperties':
      return { field: join(p.additionalProperty), reason: 'FieldValueUnknown', message: `unknown field "${join(p.additionalProperty)}"` };
    case 'type':
      return { field, reason: 'FieldValueTypeInvalid', message: `Invalid value: ${show(value)}: ${field} in body must be of type ${p.type}` };
    case 'enum':
      return { field, reason: 'FieldValueNotSupported', message: `Unsupported value: ${show(value)}: supported values: ${(p.allowedValues as unknown[]).map(show).join(', ')}` };
    case 'minimum':
      return { field, reason: 'FieldValueInvalid', message: `Invalid value: ${show(value)}: ${field} in body should be greater than or equal to ${p.limit}` };
    case 'exclusiveMinimum':
      return { field, reason: 'FieldValueInvalid', message: `Invalid value: ${show(value)}: ${field} in body should be greater than ${p.limit}` };
    case 'maximum':
      return { field, reason: 'FieldValueInvalid', message: `Invalid value: ${show(value)}: ${field} in body should be less than or equal to ${p.limit}` };
    case 'exclusiveMaximum':
      return { field, reason: 'FieldValueInvalid', message: `Invalid value: ${show(value)}: ${field} in body should be less than ${p.limit}` };
    case 'minLength':
      return { field, reason: 'FieldValueInvalid', message: `Invalid value: ${show(value)}: ${field} in body should be at least ${p.limit} chars long` };
    case 'maxLength':
      return { field, reason: 'FieldValueTooLong', message: `Too long: may not be more than ${p.limit} bytes` };
    case 'pattern':
      return { field, reason: 'FieldValueInvalid', message: `Invalid value: ${show(value)}: ${field} in body should match '${p.pattern}'` };
    case 'minItems':
      return { field, reason: 'FieldValueInvalid', message: `Invalid value: ${Array.isArray(value) ? value.length : 0}: ${field} in body should have at least ${p.limit} items` };
    case 'maxItems':
      return { field, reason: 'FieldValueTooMany', message: `Too many: ${Array.isArray(value) ? value.length : '?'}: must have at most ${p.limit} items` };
    case 'format':
      return { field, reason: 'FieldValueInvalid', message: `Invalid value: ${show(value)}: ${field} in body must be of type ${p.format}` };
    default:
      return { field, reason: 'FieldValueInvalid', message: e.message ?? 'Invalid value' };
  }
}

/** list-type=map arrays must not repeat their keys (kube-apiserver: "Duplicate value"). */
function duplicateMapKeys(schema: JSONSchema, value: unknown, field: string, out: FieldError[]) {
  if (value === null || typeof value !== 'object') return;
  if (Array.isArray(value)) {
    const keys = schema['x-kubernetes-list-map-keys'] as string[] | undefined;
    if (schema['x-kubernetes-list-type'] === 'map' && keys) {
      const seen = new Set<string>();
      value.forEach((item, i) => {
        if (item === null || typeof item !== 'object') return;
        const key = JSON.stringify(keys.map((k) => (item as any)[k]));
        if (seen.has(key)) out.push({ field: `${field}[${i}]`, reason: 'FieldValueDuplicate', message: `Duplicate value: ${JSON.stringify(Object.fromEntries(keys.map((k) => [k, (item as any)[k]])))}` });
        seen.add(key);
      });
    }
    if (schema.items) value.forEach((item, i) => duplicateMapKeys(schema.items!, item, `${field}[${i}]`, out));
    return;
  }
  for (const [k, sub] of Object.entries(schema.properties ?? {})) {
    if (k === 'metadata' && !field) continue;
    duplicateMapKeys(sub, (value as any)[k], field ? `${field}.${k}` : k, out);
  }
}

export interface Validator {
  /** Applies schema defaults to `obj` in place and returns every field error (empty when valid). */
  validate(obj: unknown): FieldError[];
}

export function createValidator(schema: JSONSchema): Validator {
  const ajv = new Ajv({ allErrors: true, strict: false, useDefaults: false, formats: { 'date-time': true, int64: true, int32: true, double: true, float: true } });
  const compiled: ValidateFunction = ajv.compile(toAjvSchema(schema));
  return {
    validate(obj) {
      if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) return [{ field: '', reason: 'FieldValueTypeInvalid', message: 'the object must be a JSON object' }];
      const errors: FieldError[] = [];
      const seen = new Set<string>();
      // Defaults first, as kube-apiserver does, through the one defaulting walk (defaults.ts), not Ajv's own.
      applySchemaDefaults(schema, obj);
      if (!compiled(obj)) {
        for (const e of compiled.errors ?? []) {
          const fe = toFieldError(e, obj);
          const key = fe && `${fe.field}|${fe.reason}`;
          if (fe && !seen.has(key!)) {
            seen.add(key!);
            errors.push(fe);
          }
        }
      }
      duplicateMapKeys(schema, obj, '', errors);
      return errors;
    },
  };
}
