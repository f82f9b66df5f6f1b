// RBAC with the harness's restricted users: a user without roles is refused,
// a group binding grants exactly the verbs of its role.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { CoreV1Api, CustomObjectsApi, RbacAuthorizationV1Api } from '@kubernetes/client-node';
import { randomBytes } from 'node:crypto';
import { CRD_GROUP, CRD_VERSION, CRD_PLURAL, CRD_KIND, API_VERSION, CRD_PATH } from '@mei/contracts/crd';
import { useKube, kubeConfigFor, installCrd } from './cluster.ts';

const kube = useKube();
const ns = `mei-rbac-${randomBytes(3).toString('hex')}`;
const role = `mei-job-viewer-${randomBytes(3).toString('hex')}`;
const job = {
  apiVersion: API_VERSION,
  kind: CRD_KIND,
  metadata: { name: 'rbac-job' },
  spec: { cameras: [{ name: 'cam-a', node: 'edge-1', source: 'file:///data/vtest.avi' }], models: { detector: { decoder: 'yolox' } } },
};
const where = { group: CRD_GROUP, version: CRD_VERSION, namespace: ns, plural: CRD_PLURAL };

beforeAll(async () => {
  const admin = kubeConfigFor(kube());
  await installCrd(admin, CRD_PATH);
  await admin.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: ns } } });
  await admin.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({ ...where, body: job });
});

afterAll(async () => {
  const admin = kubeConfigFor(kube());
  await admin.makeApiClient(RbacAuthorizationV1Api).deleteClusterRole({ name: role }).catch(() => {});
  await admin.makeApiClient(CoreV1Api).deleteNamespace({ name: ns }).catch(() => {});
});

/** The authorizer learns of new bindings through an informer, so allow it a moment. */
async function eventually<T>(fn: () => Promise<T>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (e) {
      if (Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

describe('RBAC for MultiEdgeInference with static-token users', () => {
  it('refuses a user with no roles, naming the user and the resource', async () => {
    const nobody = kubeConfigFor(kube(), 'mei-nobody').makeApiClient(CustomObjectsApi);
    const err = await nobody.listNamespacedCustomObject(where).then(
      () => undefined,
      (e: { code: number; body: string }) => e,
    );
    expect(err?.code).toBe(403);
    expect(JSON.parse(err!.body).message).toContain(`User "mei-nobody" cannot list resource "${CRD_PLURAL}" in API group "${CRD_GROUP}"`);
  });

  it('lets a group bound to a read-only role list jobs but not create them', async () => {
    const rbac = kubeConfigFor(kube()).makeApiClient(RbacAuthorizationV1Api);
    await rbac.createClusterRole({
      body: { metadata: { name: role }, rules: [{ apiGroups: [CRD_GROUP], resources: [CRD_PLURAL], verbs: ['get', 'list', 'watch'] }] },
    });
    await rbac.createNamespacedRoleBinding({
      namespace: ns,
      body: {
        metadata: { name: 'viewers' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role },
        subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: 'mei:viewers' }],
      },
    });
    const viewer = kubeConfigFor(kube(), 'mei-viewer').makeApiClient(CustomObjectsApi);
    const list = (await eventually(() => viewer.listNamespacedCustomObject(where))) as { items: Array<{ metadata: { name: string } }> };
    expect(list.items.map((i) => i.metadata.name)).toEqual(['rbac-job']);
    await expect(viewer.createNamespacedCustomObject({ ...where, body: { ...job, metadata: { name: 'not-allowed' } } })).rejects.toMatchObject({ code: 403 });
    // The binding is per namespace and per group: others still see nothing.
    await expect(viewer.listNamespacedCustomObject({ ...where, namespace: 'default' })).rejects.toMatchObject({ code: 403 });
    const operator = kubeConfigFor(kube(), 'mei-operator').makeApiClient(CustomObjectsApi);
    await expect(operator.listNamespacedCustomObject(where)).rejects.toMatchObject({ code: 403 });
  });
});
