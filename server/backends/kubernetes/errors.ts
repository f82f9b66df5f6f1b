// Maps kube-apiserver failures (client-node's ApiException carrying a metav1.Status) to the errors the rest of
// MEI understands: NotFoundError, AlreadyExistsError, ConflictError and @mei/contracts' ValidationError with
// the same FieldError shape the embedded backend produces, so the HTTP API answers alike in both modes.
import { ValidationError, type FieldError, type FieldErrorReason } from '@mei/contracts';
import { AlreadyExistsError, ConflictError, NotFoundError } from '../types.ts';

/** The parts of a metav1.Status MEI reads. */
export interface KubeStatus {
  code: number;
  reason?: string;
  message?: string;
  details?: { name?: string; kind?: string; causes?: Array<{ reason?: string; message?: string; field?: string }> };
}

/** The Status of a failed API call, or undefined when `err` is not an API answer (network error, bug). */
export function statusOf(err: unknown): KubeStatus | undefined {
  const e = err as { code?: unknown; statusCode?: unknown; body?: unknown } | undefined;
  const code = typeof e?.code === 'number' ? e.code : typeof e?.statusCode === 'number' ? e.statusCode : undefined;
  if (code === undefined) return undefined;
  let body: unknown = e?.body;
  if (typeof body === 'string') {
    try {
      body = JSON.parse(body);
    } catch {
      body = { message: body };
    }
  }
  const s = (body && typeof body === 'object' ? body : {}) as Partial<KubeStatus>;
  return { ...s, code };
}

export const isNotFound = (err: unknown) => statusOf(err)?.code === 404;
export const isConflict = (err: unknown) => statusOf(err)?.code === 409;
export const isAlreadyExists = (err: unknown) => {
  const s = statusOf(err);
  return s?.code === 409 && s.reason === 'AlreadyExists';
};

const KNOWN_REASONS = new Set<FieldErrorReason>([
  'FieldValueRequired',
  'FieldValueInvalid',
  'FieldValueNotSupported',
  'FieldValueTypeInvalid',
  'FieldValueTooLong',
  'FieldValueTooMany',
  'FieldValueDuplicate',
  'FieldValueUnknown',
]);

/**
 * The causes of a 422 Invalid Status as FieldErrors, each once. kube-apiserver repeats some causes (finalizer
 * rules) and adds a field-less "<nil>" echo of integer-format failures; those say nothing new and are dropped.
 */
export function fieldErrorsOf(status: KubeStatus): FieldError[] {
  const seen = new Set<string>();
  const out: FieldError[] = [];
  for (const c of status.details?.causes ?? []) {
    const fe: FieldError = {
      field: c.field && c.field !== '<nil>' ? c.field : '',
      reason: KNOWN_REASONS.has(c.reason as FieldErrorReason) ? (c.reason as FieldErrorReason) : 'FieldValueInvalid',
      message: c.message ?? status.message ?? 'Invalid value',
    };
    const key = `${fe.field}|${fe.reason}|${fe.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(fe);
  }
  const named = out.filter((e) => e.field);
  return named.length ? named : out;
}

/**
 * A 400 BadRequest the decoder raised before validation: unknown or duplicate fields under
 * fieldValidation=Strict ("strict decoding error: unknown field \"spec.x\", ..."), or a wrong apiVersion.
 * Returns them as FieldErrors, or [] when the message is something else.
 */
export function decodingErrorsOf(status: KubeStatus): FieldError[] {
  if (status.code !== 400 || !status.message) return [];
  const out: FieldError[] = [];
  for (const m of status.message.matchAll(/(unknown|duplicate) field "([^"]*)"/g)) {
    const field = m[2];
    out.push(
      m[1] === 'unknown'
        ? { field, reason: 'FieldValueUnknown', message: `unknown field "${field}"` }
        : { field, reason: 'FieldValueDuplicate', message: `duplicate field "${field}"` },
    );
  }
  if (/does not match the expected API version/.test(status.message)) out.push({ field: 'apiVersion', reason: 'FieldValueInvalid', message: status.message });
  return out;
}

/**
 * Rethrows an API failure as MEI's error for it. `what` names the object, as the messages of the embedded
 * backend do (`multiedgeinferences.sedna.io "x"`).
 */
export function translate(err: unknown, what: string, kindAndName = what): Error {
  const s = statusOf(err);
  if (!s) return err as Error;
  if (s.code === 404) {
    // A missing namespace is also a 404: say which one, rather than blaming the object.
    const e = new NotFoundError(s.details?.kind === 'namespaces' ? `namespace "${s.details.name}"` : what);
    return e;
  }
  if (s.code === 409) return s.reason === 'AlreadyExists' ? new AlreadyExistsError(what) : new ConflictError(what);
  if (s.code === 422) {
    const errors = fieldErrorsOf(s);
    return new ValidationError(kindAndName, errors.length ? errors : [{ field: '', reason: 'FieldValueInvalid', message: s.message ?? 'invalid' }]);
  }
  const decoding = decodingErrorsOf(s);
  if (decoding.length) return new ValidationError(kindAndName, decoding);
  const e = new Error(`kube-apiserver: ${s.code} ${s.reason ?? ''}: ${s.message ?? ''}`.trim());
  (e as Error & { code: number }).code = s.code;
  return e;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Runs an API call again when the apiserver asks to (429 Too Many Requests: priority and fairness, or a
 * resource whose storage is still initializing right after its CRD was installed), waiting Retry-After
 * seconds when given, as client-go does. Other failures are returned at once.
 */
export async function withRetry<T>(call: () => Promise<T>, attempts = 6): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await call();
    } catch (err) {
      const s = statusOf(err);
      if (s?.code !== 429 || i >= attempts) throw err;
      const headers = (err as { headers?: Record<string, string> }).headers ?? {};
      const retryAfter = Number(headers['retry-after'] ?? headers['Retry-After']);
      await sleep(Number.isFinite(retryAfter) && retryAfter > 0 ? Math.min(retryAfter, 10) * 1000 : 100 * 2 ** i);
    }
  }
}
