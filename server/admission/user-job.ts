// Admission of a job a dashboard/API user submits, beyond the CRD schema: what the spec alone decides
// about the media policy (schemes, placeholders, `..`, hosts), the worker image allow-list, and metadata a
// user may not set (ownerReferences would tie the job's lifetime to someone else's object; finalizers would
// block its deletion). Both modes run this in server/http before the backend sees the object.
import type { FieldError, Me } from '@mei/contracts';
import { readFileSync } from 'node:fs';
import { checkMediaDirText, checkModelPathText, checkSourceText, mediaAccessFor, mediaPolicyFromEnv, PolicyError, type MediaPolicy } from '@mei/contracts/media-policy';
import { allowedImagePrefixes, imageAllowed } from '../backends/kubernetes/image-policy.ts';

export interface AdmissionPolicy {
  media: MediaPolicy;
  /** Registry prefixes spec.workers[].image may use. */
  imagePrefixes: readonly string[];
}

/** The admin's policies from the environment (MEI_MEDIA_POLICY, MEI_AGENT_IMAGE_PREFIXES); throws naming the variable. */
export function admissionPolicyFromEnv(env: Record<string, string | undefined>): AdmissionPolicy {
  return { media: mediaPolicyFromEnv(env, (p) => readFileSync(p, 'utf8')), imagePrefixes: allowedImagePrefixes(env) };
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
const forbidden = (field: string, message: string): FieldError => ({ field, reason: 'FieldValueForbidden', message: `Forbidden: ${message}` });

function policyError(e: unknown): FieldError {
  if (e instanceof PolicyError) return forbidden(e.field, e.reason);
  throw e;
}

/** Field errors of a user's job input (shape errors are left to the schema validator that runs next). */
export function admitUserJob(input: { metadata?: unknown; spec?: unknown }, namespace: string, policy: AdmissionPolicy): FieldError[] {
  const errors: FieldError[] = [];
  const meta = isObject(input.metadata) ? input.metadata : {};
  for (const k of ['ownerReferences', 'finalizers'] as const) {
    if (meta[k] !== undefined && !(Array.isArray(meta[k]) && meta[k].length === 0)) errors.push(forbidden(`metadata.${k}`, `${k} are set by the server, not by users`));
  }
  const spec = isObject(input.spec) ? input.spec : {};
  const access = mediaAccessFor(policy.media, namespace);
  if (Array.isArray(spec.cameras)) {
    spec.cameras.forEach((c, i) => {
      if (!isObject(c) || typeof c.source !== 'string') return;
      const field = `spec.cameras[${i}].source`;
      try {
        const checked = checkSourceText(c.source, access, field);
        if (checked.kind === 'path') checkMediaDirText(checked.path, access.mediaDir, field);
      } catch (e) {
        errors.push(policyError(e));
      }
    });
  }
  const models = isObject(spec.models) ? spec.models : {};
  for (const k of ['detector', 'reid'] as const) {
    const m = models[k];
    if (!isObject(m) || typeof m.path !== 'string') continue;
    try {
      checkModelPathText(m.path, `spec.models.${k}.path`);
    } catch (e) {
      errors.push(policyError(e));
    }
  }
  if (Array.isArray(spec.workers)) {
    spec.workers.forEach((w, i) => {
      if (!isObject(w) || w.image === undefined || typeof w.image !== 'string') return;
      if (!imageAllowed(w.image, policy.imagePrefixes)) errors.push(forbidden(`spec.workers[${i}].image`, `image is not in the allowed registry prefixes (${policy.imagePrefixes.join(', ')})`));
    });
  }
  return errors;
}

/**
 * Start-up refusal: a tenant (a user without "*") whose namespace reads the whole data root by default (the
 * `default` namespace, or an admin's '' root) would see every other namespace's recordings. '.' says so knowingly.
 */
export function sharedMediaRootError(policy: AdmissionPolicy, users: readonly Me[]): string | undefined {
  for (const u of users) {
    if (u.namespaces.includes('*')) continue;
    const ns = u.namespaces.find((n) => mediaAccessFor(policy.media, n).mediaDir === '');
    if (ns)
      return `MEI_USERS_FILE: user "${u.username}" has namespace "${ns}", whose media folder is the whole data root (every namespace's recordings): give the user another namespace, or set MEI_MEDIA_POLICY namespaceRoots.${ns} ("${ns}" for its own folder, "." to share the whole data root knowingly)`;
  }
  return undefined;
}
