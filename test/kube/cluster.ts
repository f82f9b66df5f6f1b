// Test-side access to the shared kube-apiserver. Under test/kube/vitest.config.ts
// one apiserver is started by global-setup.ts and handed over with provide/inject;
// run under any other config, a file starts its own, so a kube test never runs
// (or passes) without a real apiserver.
import { afterAll, beforeAll, inject } from 'vitest';
import { KubeConfig, ApiextensionsV1Api, loadYaml, type V1CustomResourceDefinition } from '@kubernetes/client-node';
import { readFile } from 'node:fs/promises';
import { startKubeApiServer, type KubeApiServer, type KubeUserSpec } from './harness.ts';

/** What tests get: everything but stop(), which belongs to whoever started the server. */
export type KubeInfo = Omit<KubeApiServer, 'stop'>;

declare module 'vitest' {
  export interface ProvidedContext {
    kube: KubeInfo;
  }
}

/** Restricted users present on every test apiserver, for RBAC tests (no roles are bound to them). */
export const TEST_USERS: KubeUserSpec[] = [
  { name: 'mei-viewer', groups: ['mei:viewers'] },
  { name: 'mei-operator', groups: ['mei:operators'] },
  { name: 'mei-nobody' },
];

// A first build of kube-apiserver takes many minutes; later starts take seconds.
const FIRST_START_TIMEOUT_MS = 60 * 60 * 1000;

/** Call at the top of a test file; the returned getter works inside tests and hooks. */
export function useKube(): () => KubeInfo {
  let info: KubeInfo | undefined;
  let own: KubeApiServer | undefined;
  beforeAll(async () => {
    info = inject('kube');
    if (!info) info = own = await startKubeApiServer({ users: TEST_USERS });
  }, FIRST_START_TIMEOUT_MS);
  afterAll(async () => {
    await own?.stop();
  });
  return () => {
    if (!info) throw new Error('kube-apiserver is not started: call useKube() at the top of the test file');
    return info;
  };
}

/** A client config as the admin, or as one of the restricted users. */
export function kubeConfigFor(info: KubeInfo, user?: string): KubeConfig {
  const kc = new KubeConfig();
  if (!user) {
    kc.loadFromFile(info.kubeconfigPath);
    return kc;
  }
  const u = info.users[user];
  if (!u) throw new Error(`no test user "${user}" (have: ${Object.keys(info.users).join(', ')})`);
  kc.loadFromFile(u.kubeconfigPath);
  return kc;
}

/**
 * Creates (or replaces) a CRD from a YAML file and waits until the apiserver
 * reports it Established, i.e. its resource is served.
 */
export async function installCrd(kc: KubeConfig, file: string, timeoutMs = 30_000): Promise<V1CustomResourceDefinition> {
  // loadYaml, not js-yaml: the typed client serializes by its own field names
  // (`_default`, `_enum`, `xKubernetesListType`), so a plain YAML object would
  // reach the apiserver without its defaults, enums and list types.
  const body = loadYaml<V1CustomResourceDefinition>(await readFile(file, 'utf8'));
  const api = kc.makeApiClient(ApiextensionsV1Api);
  const name = body.metadata!.name!;
  try {
    await api.createCustomResourceDefinition({ body });
  } catch (e) {
    if ((e as { code?: number }).code !== 409) throw e;
    const current = await api.readCustomResourceDefinition({ name });
    await api.replaceCustomResourceDefinition({ name, body: { ...body, metadata: { ...body.metadata, resourceVersion: current.metadata!.resourceVersion } } });
  }
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const crd = await api.readCustomResourceDefinition({ name });
    const established = crd.status?.conditions?.find((c) => c.type === 'Established');
    if (established?.status === 'True') return crd;
    if (Date.now() > deadline) {
      throw new Error(`CRD ${name} not Established after ${timeoutMs} ms: ${JSON.stringify(crd.status?.conditions ?? [])}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
