// The MultiEdgeInference CRD on a real kube-apiserver: it installs, serves,
// defaults, rejects bad specs with Kubernetes field paths, and prints the
// columns `kubectl get mei` shows.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { CoreV1Api, CustomObjectsApi, type KubeConfig, type V1CustomResourceDefinition } from '@kubernetes/client-node';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import yaml from 'js-yaml';
import { CRD_GROUP, CRD_VERSION, CRD_PLURAL, CRD_KIND, API_VERSION, CRD_PATH } from '@mei/contracts/crd';
import { useKube, kubeConfigFor, installCrd } from './cluster.ts';
import { kubeRequest } from './harness.ts';

const kube = useKube();
const ns = `mei-crd-${randomBytes(3).toString('hex')}`;
let kc: KubeConfig;
let objects: CustomObjectsApi;
let crd: V1CustomResourceDefinition;

const validJob = (name: string) => ({
  apiVersion: API_VERSION,
  kind: CRD_KIND,
  metadata: { name },
  spec: {
    cameras: [{ name: 'cam-a', node: 'edge-1', source: 'file:///data/vtest.avi' }],
    models: { detector: { decoder: 'yolox' } },
  },
});

/** The apiserver's Status body of a failed call made through client-node. */
function statusOf(e: unknown): { code: number; reason?: string; message?: string; details?: { causes?: Array<{ field?: string; message?: string; reason?: string }> } } {
  const err = e as { code?: number; body?: unknown };
  if (typeof err.code !== 'number') throw e;
  return typeof err.body === 'string' ? JSON.parse(err.body) : (err.body as any);
}

beforeAll(async () => {
  kc = kubeConfigFor(kube());
  objects = kc.makeApiClient(CustomObjectsApi);
  crd = await installCrd(kc, CRD_PATH);
  await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: ns } } });
});

afterAll(async () => {
  // Namespace deletion needs the namespace controller to finish; the objects go with etcd at teardown.
  await kc?.makeApiClient(CoreV1Api).deleteNamespace({ name: ns }).catch(() => {});
});

describe('MultiEdgeInference CRD on a real kube-apiserver', () => {
  it('is Established and served under sedna.io/v1alpha1 with short name mei', async () => {
    expect(crd.status?.acceptedNames?.kind).toBe(CRD_KIND);
    expect(crd.status?.acceptedNames?.shortNames).toContain('mei');
    // Discovery is what kubectl uses to resolve `mei`.
    const r = await kubeRequest(kube(), `/apis/${CRD_GROUP}/${CRD_VERSION}`);
    expect(r.status).toBe(200);
    const resources = JSON.parse(r.body).resources as Array<{ name: string; shortNames?: string[]; kind: string }>;
    const main = resources.find((x) => x.name === CRD_PLURAL);
    expect(main).toMatchObject({ kind: CRD_KIND, shortNames: ['mei'] });
    expect(resources.map((x) => x.name)).toContain(`${CRD_PLURAL}/status`);
  });

  it('stores the schema and printer columns exactly as crds/ declares them', async () => {
    // Guards the install path: a schema that lost its defaults, enums or
    // x-kubernetes-* markers on the way would still be Established.
    const declared = (yaml.load(readFileSync(CRD_PATH, 'utf8')) as any).spec.versions[0];
    const r = await kubeRequest(kube(), `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${crd.metadata!.name}`);
    const served = JSON.parse(r.body).spec.versions[0];
    expect(served.schema.openAPIV3Schema).toEqual(declared.schema.openAPIV3Schema);
    expect(served.additionalPrinterColumns).toEqual(declared.additionalPrinterColumns);
  });

  it('creates a valid job and reads it back with the schema defaults applied', async () => {
    await objects.createNamespacedCustomObject({ group: CRD_GROUP, version: CRD_VERSION, namespace: ns, plural: CRD_PLURAL, body: validJob('valid-job') });
    const got = (await objects.getNamespacedCustomObject({ group: CRD_GROUP, version: CRD_VERSION, namespace: ns, plural: CRD_PLURAL, name: 'valid-job' })) as any;
    expect(got.metadata.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(got.metadata.generation).toBe(1);
    expect(got.spec.mode).toBe('live');
    expect(got.spec.cameras).toEqual([{ name: 'cam-a', node: 'edge-1', source: 'file:///data/vtest.avi', fps: 10, loop: false }]);
    expect(got.spec.models.detector).toEqual({ decoder: 'yolox', scoreThreshold: 0.3, nmsThreshold: 0.45, detectEvery: 1, detectIntervalMs: 0, coastMaxShift: 0.2, cadenceOnLoad: false, decodeAtInputSize: false, reducedInputScale: 0, fullEvery: 2 });
    // The sections' `default: {}` makes structural defaulting fill an omitted section's own defaults.
    expect(got.spec.tracking).toEqual({ type: 'multi', highThreshold: 0.5, lowThreshold: 0.1, maxLostSeconds: 3, minHits: 3, appearanceWeight: 0.5 });
    expect(got.spec.privacy).toEqual({ preview: 'none', previewFps: 2 });
    expect(got.spec.models.reid).toBeUndefined();
  });

  /** Creates a job whose first camera has `fps` and returns the apiserver's refusal (undefined if accepted). */
  async function createWithFps(name: string, fps: number) {
    const bad = validJob(name);
    (bad.spec.cameras[0] as Record<string, unknown>).fps = fps;
    try {
      await objects.createNamespacedCustomObject({ group: CRD_GROUP, version: CRD_VERSION, namespace: ns, plural: CRD_PLURAL, body: bad });
      return undefined;
    } catch (e) {
      return statusOf(e);
    }
  }

  it('rejects fps above the maximum with the field path spec.cameras[0].fps and stores nothing', async () => {
    const status = await createWithFps('fps-too-high', 61);
    expect(status, 'the apiserver accepted fps: 61').toBeDefined();
    expect(status!.code).toBe(422);
    expect(status!.reason).toBe('Invalid');
    expect(status!.details?.causes).toContainEqual(expect.objectContaining({ field: 'spec.cameras[0].fps', reason: 'FieldValueInvalid' }));
    expect(status!.message).toContain('spec.cameras[0].fps');
    await expect(
      objects.getNamespacedCustomObject({ group: CRD_GROUP, version: CRD_VERSION, namespace: ns, plural: CRD_PLURAL, name: 'fps-too-high' }),
    ).rejects.toMatchObject({ code: 404 });
  });

  it('rejects fps: 0 with the field path spec.cameras[0].fps (the CRD says 0 is not allowed)', async () => {
    // JSON 0 decodes as an integer, and kube-openapi then checks it against
    // int64(minimum): `minimum: 0.1` becomes 0 and lets 0 through. Only
    // `minimum: 0` + `exclusiveMinimum: true` rejects it on a real apiserver.
    const status = await createWithFps('fps-zero', 0);
    expect(status, 'the apiserver accepted fps: 0').toBeDefined();
    expect(status!.code).toBe(422);
    expect(status!.details?.causes).toContainEqual(expect.objectContaining({ field: 'spec.cameras[0].fps' }));
  });

  it('serves the printer columns Phase/Cameras/Identities/Age as a server-side Table (kubectl get mei)', async () => {
    await objects.createNamespacedCustomObject({ group: CRD_GROUP, version: CRD_VERSION, namespace: ns, plural: CRD_PLURAL, body: validJob('table-job') });
    // Status is only writable through the status subresource, as MEI's controller does it.
    await objects.patchNamespacedCustomObjectStatus(
      { group: CRD_GROUP, version: CRD_VERSION, namespace: ns, plural: CRD_PLURAL, name: 'table-job', body: [{ op: 'add', path: '/status', value: { phase: 'Running', cameraCount: 1, identities: 3 } }] },
    );
    const r = await kubeRequest(kube(), `/apis/${CRD_GROUP}/${CRD_VERSION}/namespaces/${ns}/${CRD_PLURAL}`, {
      accept: 'application/json;as=Table;v=v1;g=meta.k8s.io',
    });
    expect(r.status).toBe(200);
    const table = JSON.parse(r.body) as { kind: string; columnDefinitions: Array<{ name: string; type: string }>; rows: Array<{ cells: unknown[]; object: { metadata: { name: string } } }> };
    expect(table.kind).toBe('Table');
    expect(table.columnDefinitions.map((c) => c.name)).toEqual(['Name', 'Phase', 'Cameras', 'Identities', 'Age']);
    expect(table.columnDefinitions.map((c) => c.type)).toEqual(['string', 'string', 'integer', 'integer', 'date']);
    const byName = new Map(table.rows.map((row) => [row.object.metadata.name, row.cells]));
    const [name, phase, cameras, identities, age] = byName.get('table-job') ?? [];
    expect([name, phase, cameras, identities]).toEqual(['table-job', 'Running', 1, 3]);
    expect(age).toMatch(/^\d+s$/);
    // A job without status prints empty cells, not an error.
    expect(byName.get('valid-job')?.slice(0, 4)).toEqual(['valid-job', null, null, null]);
  });

  it('ignores status in a spec write and spec in a status write (status subresource)', async () => {
    const body = { ...validJob('split-job'), status: { phase: 'Succeeded' } };
    await objects.createNamespacedCustomObject({ group: CRD_GROUP, version: CRD_VERSION, namespace: ns, plural: CRD_PLURAL, body });
    const created = (await objects.getNamespacedCustomObject({ group: CRD_GROUP, version: CRD_VERSION, namespace: ns, plural: CRD_PLURAL, name: 'split-job' })) as any;
    expect(created.status).toBeUndefined();
    await objects.patchNamespacedCustomObjectStatus({
      group: CRD_GROUP, version: CRD_VERSION, namespace: ns, plural: CRD_PLURAL, name: 'split-job',
      body: [{ op: 'add', path: '/status', value: { phase: 'Pending' } }, { op: 'replace', path: '/spec/mode', value: 'history' }],
    });
    const after = (await objects.getNamespacedCustomObject({ group: CRD_GROUP, version: CRD_VERSION, namespace: ns, plural: CRD_PLURAL, name: 'split-job' })) as any;
    expect(after.status.phase).toBe('Pending');
    expect(after.spec.mode).toBe('live');
    expect(after.metadata.generation).toBe(1);
  });
});
