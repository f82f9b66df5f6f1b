// JobBackend on a real kube-apiserver: MultiEdgeInference objects are custom resources (crds/ installs the
// CRD), so the apiserver validates, defaults, versions and stores them, and MEI reads them with an informer.
// Parity with the embedded backend: unknown fields are rejected (fieldValidation=Strict), errors come back as
// ValidationError with the same FieldError paths, 404/409 as NotFoundError/AlreadyExistsError/ConflictError,
// and job names keep MEI's 63-character limit (they prefix pod names) even though the apiserver allows 253.
import { CustomObjectsApi, type KubeConfig, type KubernetesListObject } from '@kubernetes/client-node';
import {
  DEFAULT_NAMESPACE,
  ValidationError,
  validateObjectName,
  type FieldError,
  type MultiEdgeInference,
  type MultiEdgeInferenceInput,
  type ObjectMeta,
  type WatchEvent,
} from '@mei/contracts';
import { API_VERSION, CRD_GROUP, CRD_KIND, CRD_PLURAL, CRD_VERSION } from '@mei/contracts/crd';
import type { JobBackend } from '../types.ts';
import { decodingErrorsOf, fieldErrorsOf, statusOf, translate, withRetry } from './errors.ts';
import { Informer, NamespacedInformers, type SharedInformer } from './informer.ts';

export interface KubernetesBackendOptions {
  /** Re-deliver every job to watchers this often (level-triggered safety net). Default 10 min; 0 = never. */
  resyncMs?: number;
  /** Name recorded in managedFields for MEI's writes. */
  fieldManager?: string;
  onError?: (err: unknown) => void;
  /**
   * The namespaces whose jobs this server manages (MEI_NAMESPACES): it lists and watches only those, so its RBAC
   * need not reach further; a job elsewhere is refused naming metadata.namespace. Undefined: every namespace.
   */
  namespaces?: readonly string[];
}

const what = (name: string) => `${CRD_PLURAL}.${CRD_GROUP} "${name}"`;
const kindAndName = (name: unknown) => `${CRD_KIND}.${CRD_GROUP} "${typeof name === 'string' ? name : ''}"`;
const isObject = (v: unknown): v is Record<string, any> => v !== null && typeof v === 'object' && !Array.isArray(v);
const where = { group: CRD_GROUP, version: CRD_VERSION, plural: CRD_PLURAL };
const iso = (t: unknown) => (t instanceof Date ? t.toISOString().replace('.000Z', 'Z') : (t as string));

/** Raw apiserver JSON to MEI's object: the ObjectMeta fields MEI uses (managedFields etc. left out). */
export function toJob(raw: any): MultiEdgeInference {
  const m = raw.metadata ?? {};
  const metadata: ObjectMeta = {
    name: m.name,
    namespace: m.namespace,
    uid: m.uid,
    resourceVersion: m.resourceVersion,
    generation: m.generation,
    creationTimestamp: iso(m.creationTimestamp),
  };
  if (m.deletionTimestamp) metadata.deletionTimestamp = iso(m.deletionTimestamp);
  if (m.finalizers?.length) metadata.finalizers = [...m.finalizers];
  if (m.labels && Object.keys(m.labels).length) metadata.labels = { ...m.labels };
  if (m.annotations && Object.keys(m.annotations).length) metadata.annotations = { ...m.annotations };
  // Kept (untyped) so an update does not drop owner references someone else set.
  if (m.ownerReferences?.length) (metadata as any).ownerReferences = m.ownerReferences;
  const job: MultiEdgeInference = { apiVersion: API_VERSION, kind: CRD_KIND, metadata, spec: raw.spec };
  if (raw.status !== undefined && raw.status !== null) job.status = raw.status;
  return job;
}

/** Metadata a client may set: the rest (uid, timestamps, generation) belongs to the apiserver. */
function writableMeta(meta: Record<string, any>, namespace: string): Record<string, unknown> {
  const out: Record<string, unknown> = { name: meta.name, namespace };
  for (const k of ['labels', 'annotations', 'finalizers', 'ownerReferences'] as const) if (meta[k] !== undefined) out[k] = meta[k];
  return out;
}

/** Errors of both lists, one per field: the apiserver's wording wins over MEI's local checks. */
function merge(server: FieldError[], local: FieldError[]): FieldError[] {
  const fields = new Set(server.map((e) => e.field));
  return [...local.filter((e) => !fields.has(e.field)), ...server];
}

function addressErrors(obj: unknown): { namespace: string; errors: FieldError[] } {
  if (!isObject(obj) || !isObject(obj.metadata))
    return { namespace: DEFAULT_NAMESPACE, errors: [{ field: 'metadata', reason: 'FieldValueRequired', message: 'Required value: the object must have metadata' }] };
  const namespace = obj.metadata.namespace ?? DEFAULT_NAMESPACE;
  return { namespace, errors: [...validateObjectName(obj.metadata.name), ...validateObjectName(namespace, 'metadata.namespace')] };
}

export class KubernetesJobBackend implements JobBackend {
  readonly mode = 'kubernetes' as const;
  private readonly api: CustomObjectsApi;
  private informer?: SharedInformer<any>;
  private closed = false;
  private readonly fieldManager: string;
  private readonly resyncMs: number;
  private readonly onError?: (err: unknown) => void;
  private readonly namespaces?: readonly string[];

  constructor(
    private readonly kc: KubeConfig,
    { resyncMs = 10 * 60_000, fieldManager = 'mei-server', onError, namespaces }: KubernetesBackendOptions = {},
  ) {
    this.api = kc.makeApiClient(CustomObjectsApi);
    this.fieldManager = fieldManager;
    this.resyncMs = resyncMs;
    this.onError = onError;
    this.namespaces = namespaces;
  }

  async create(input: MultiEdgeInferenceInput): Promise<MultiEdgeInference> {
    this.assertOpen();
    if (!isObject(input)) throw new ValidationError(kindAndName(undefined), [{ field: '', reason: 'FieldValueTypeInvalid', message: 'the object must be a JSON object' }]);
    const meta: Record<string, any> = isObject(input.metadata) ? input.metadata : {};
    const namespace = meta.namespace ?? DEFAULT_NAMESPACE;
    const nsErrors = validateObjectName(namespace, 'metadata.namespace');
    if (!nsErrors.length && !this.manages(namespace))
      nsErrors.push({ field: 'metadata.namespace', reason: 'FieldValueNotSupported', message: `Unsupported value: "${namespace}": this server manages jobs in ${this.namespaces!.join(', ')} only` });
    if (nsErrors.length) throw new ValidationError(kindAndName(meta.name), nsErrors);
    // MEI's own name rule (63 characters); the apiserver still gets the object so every other error shows too.
    const local = validateObjectName(meta.name);
    const { status: _status, metadata: _metadata, ...rest } = structuredClone(input) as Record<string, any>;
    const body = { ...rest, apiVersion: rest.apiVersion ?? API_VERSION, kind: rest.kind ?? CRD_KIND, metadata: writableMeta(meta, namespace) };
    const created = await this.write(meta.name, local, (fieldValidation, dryRun) =>
      withRetry(() => this.api.createNamespacedCustomObject({ ...where, namespace, body, fieldValidation, dryRun, fieldManager: this.fieldManager })),
    );
    return toJob(created);
  }

  /**
   * A write with fieldValidation=Strict that fails with every problem at once, as embedded mode does: Strict
   * decoding stops at unknown fields, so a dry run that drops them (Ignore) reports the rest. `local` are MEI's
   * own rules: when any fails, only a dry run is sent, to collect the apiserver's errors alongside.
   */
  private async write(name: unknown, local: FieldError[], send: (fieldValidation: 'Strict' | 'Ignore', dryRun?: 'All') => Promise<unknown>): Promise<unknown> {
    let out: unknown;
    try {
      out = await send('Strict', local.length ? 'All' : undefined);
    } catch (err) {
      const s = statusOf(err);
      const decoding = s ? decodingErrorsOf(s) : [];
      if (decoding.length) {
        const others = await send('Ignore', 'All').then(
          () => [],
          (e) => (statusOf(e)?.code === 422 ? fieldErrorsOf(statusOf(e)!) : []),
        );
        // A field of the wrong type (an object where a list belongs) has no "unknown" fields of its own.
        const wrongType = others.filter((e) => e.reason === 'FieldValueTypeInvalid').map((e) => e.field);
        const unknown = decoding.filter((d) => !wrongType.some((f) => d.field.startsWith(`${f}.`) || d.field.startsWith(`${f}[`)));
        throw new ValidationError(kindAndName(name), merge([...unknown, ...others], local));
      }
      if (s?.code === 422) throw new ValidationError(kindAndName(name), merge(fieldErrorsOf(s), local));
      throw translate(err, what(String(name)), kindAndName(name));
    }
    if (local.length) throw new ValidationError(kindAndName(name), local);
    return out;
  }

  async get(namespace: string, name: string): Promise<MultiEdgeInference | undefined> {
    this.assertOpen();
    if (!this.manages(namespace)) return undefined;
    try {
      return toJob(await withRetry(() => this.api.getNamespacedCustomObject({ ...where, namespace, name })));
    } catch (err) {
      if (statusOf(err)?.code === 404) return undefined;
      throw translate(err, what(name));
    }
  }

  /** Whether jobs in `namespace` are this server's (MEI_NAMESPACES). */
  manages(namespace: string): boolean {
    return !this.namespaces || this.namespaces.includes(namespace);
  }

  async list(namespace?: string): Promise<MultiEdgeInference[]> {
    this.assertOpen();
    const listIn = async (ns: string | undefined) =>
      ((await withRetry(() => (ns ? this.api.listNamespacedCustomObject({ ...where, namespace: ns }) : this.api.listClusterCustomObject(where)))) as KubernetesListObject<any>).items;
    const scope = namespace !== undefined ? (this.manages(namespace) ? [namespace] : []) : (this.namespaces ?? [undefined]);
    const items = (await Promise.all(scope.map(listIn))).flat();
    return items.map(toJob).sort((a, b) => a.metadata.namespace.localeCompare(b.metadata.namespace) || a.metadata.name.localeCompare(b.metadata.name));
  }

  async update(obj: MultiEdgeInference): Promise<MultiEdgeInference> {
    this.assertOpen();
    const { namespace, errors } = addressErrors(obj);
    if (errors.length) throw new ValidationError(kindAndName(obj?.metadata?.name), errors);
    const m = obj.metadata;
    // status goes through updateStatus only (the apiserver would ignore it here anyway).
    const body = {
      apiVersion: API_VERSION,
      kind: CRD_KIND,
      metadata: { ...writableMeta(m as any, namespace), uid: m.uid || undefined, resourceVersion: m.resourceVersion },
      spec: obj.spec,
    };
    return toJob(
      await this.write(m.name, [], (fieldValidation, dryRun) =>
        withRetry(() => this.api.replaceNamespacedCustomObject({ ...where, namespace, name: m.name, body, fieldValidation, dryRun, fieldManager: this.fieldManager })),
      ),
    );
  }

  async updateStatus(obj: MultiEdgeInference): Promise<MultiEdgeInference> {
    this.assertOpen();
    const { namespace, errors } = addressErrors(obj);
    if (errors.length) throw new ValidationError(kindAndName(obj?.metadata?.name), errors);
    const m = obj.metadata;
    const body: Record<string, unknown> = {
      apiVersion: API_VERSION,
      kind: CRD_KIND,
      metadata: { name: m.name, namespace, uid: m.uid || undefined, resourceVersion: m.resourceVersion },
      spec: obj.spec,
    };
    if (obj.status !== undefined) body.status = obj.status;
    return toJob(
      await this.write(m.name, [], (fieldValidation, dryRun) =>
        withRetry(() => this.api.replaceNamespacedCustomObjectStatus({ ...where, namespace, name: m.name, body, fieldValidation, dryRun, fieldManager: this.fieldManager })),
      ),
    );
  }

  async delete(namespace: string, name: string): Promise<void> {
    this.assertOpen();
    try {
      // Background: the apiserver marks the job (our finalizer keeps it until its pods are gone); in a cluster
      // the garbage collector also removes anything left that the job owns.
      await withRetry(() => this.api.deleteNamespacedCustomObject({ ...where, namespace, name, propagationPolicy: 'Background' }));
    } catch (err) {
      throw translate(err, what(name));
    }
  }

  async watch(onEvent: (ev: WatchEvent) => void): Promise<() => void> {
    this.assertOpen();
    const informer = await this.sharedInformer();
    // Same tick: the snapshot and the subscription see the same cache, so nothing is missed or doubled.
    // A watcher that throws is reported, as the informer does for its events, and still subscribed.
    for (const raw of informer.list()) {
      try {
        onEvent({ type: 'ADDED', object: toJob(raw) });
      } catch (err) {
        this.watchError(err);
      }
    }
    const unsubscribe = informer.subscribe((type, raw) => onEvent({ type, object: toJob(raw) }));
    return () => {
      unsubscribe();
      if (this.informer === informer && informer.subscribers === 0) {
        informer.stop();
        this.informer = undefined;
      }
    };
  }

  private watchError(err: unknown): void {
    if (this.onError) this.onError(err);
    else console.warn('[kubernetes] job watch:', (err as Error)?.message ?? err);
  }

  /** The informer behind watch() (tests read its relist count). */
  get jobInformer(): SharedInformer<any> | undefined {
    return this.informer;
  }

  private async sharedInformer(): Promise<SharedInformer<any>> {
    if (!this.informer) {
      const opts = {
        resyncMs: this.resyncMs,
        onError: (e: unknown) => this.watchError(e),
      };
      const namespaces = this.namespaces;
      this.informer = namespaces
        ? new NamespacedInformers<any>(namespaces, (namespace) =>
            new Informer<any>(this.kc, `/apis/${CRD_GROUP}/${CRD_VERSION}/namespaces/${namespace}/${CRD_PLURAL}`, () => withRetry(() => this.api.listNamespacedCustomObject({ ...where, namespace })) as Promise<KubernetesListObject<any>>, opts),
          )
        : new Informer<any>(this.kc, `/apis/${CRD_GROUP}/${CRD_VERSION}/${CRD_PLURAL}`, () => withRetry(() => this.api.listClusterCustomObject(where)) as Promise<KubernetesListObject<any>>, opts);
    }
    const informer = this.informer;
    try {
      await informer.start();
    } catch (err) {
      if (this.informer === informer) this.informer = undefined;
      throw translate(err, `${CRD_PLURAL}.${CRD_GROUP}`);
    }
    return informer;
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('the Kubernetes job backend is closed');
  }

  async close(): Promise<void> {
    this.closed = true;
    this.informer?.stop();
    this.informer = undefined;
  }
}

export function createKubernetesBackend(kc: KubeConfig, o?: KubernetesBackendOptions): KubernetesJobBackend {
  return new KubernetesJobBackend(kc, o);
}
