// deploy/job-admission-policy.yaml on a real kube-apiserver (its own: the policy binds the `default` namespace,
// which other test files use on the shared one). Jobs made directly in the apiserver skip the MEI server's own
// admission; this ValidatingAdmissionPolicy closes that. The whole kustomize render is applied, then:
//  - a user with the built-in edit rights on jobs (mei-job-editor), another service account and even a cluster
//    admin are refused finalizers and ownerReferences (422 naming the field), and worker images outside the
//    prefixes of the server's ConfigMap;
//  - the server's service account (a real TokenRequest token) still adds and releases its finalizer;
//  - the CEL image rule agrees with server/backends/kubernetes/image-policy.ts `imageAllowed` on generated images.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import yaml from 'js-yaml';
import { CoreV1Api, KubeConfig, RbacAuthorizationV1Api } from '@kubernetes/client-node';
import { FINALIZER } from '../../server/controllers/main-controller.ts';
import { updateWithRetry } from '../../server/controllers/status.ts';
import { KubernetesJobBackend } from '../../server/backends/kubernetes/job-backend.ts';
import { allowedImagePrefixes, imageAllowed } from '../../server/backends/kubernetes/image-policy.ts';
import { baseJob } from '../fixtures/invalid-specs.ts';
import { seededRandom } from '../support/random.ts';
import { ensureKubeAssets, kubeRequest, startKubeApiServer, type KubeApiServer } from './harness.ts';
import { runKubectl, serviceAccountKubeConfig, waitFor } from './support.ts';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const JOBS = '/apis/sedna.io/v1alpha1/namespaces/default/multiedgeinferences';
let server: KubeApiServer;
let admin: KubeConfig;
let rendered: any[];
/** Bearer tokens of the identities that are not the server. */
const tokens: Record<string, string> = {};
let serverToken: string;

beforeAll(async () => {
  const kubectlBin = join(await ensureKubeAssets({ kubectl: true }), 'kubectl');
  server = await startKubeApiServer({ users: [{ name: 'alice', groups: ['team-editors'] }] });
  admin = new KubeConfig();
  admin.loadFromFile(server.kubeconfigPath);
  const out = await runKubectl(kubectlBin, server.kubeconfigPath, ['kustomize', join(REPO, 'deploy')]);
  rendered = (yaml.loadAll(out) as any[]).filter(Boolean);
  await runKubectl(kubectlBin, server.kubeconfigPath, ['apply', '--server-side', '-f', '-'], out);
  await runKubectl(kubectlBin, server.kubeconfigPath, ['wait', '--for=condition=Established', 'crd/multiedgeinferences.sedna.io', '--timeout=60s']);
  const core = admin.makeApiClient(CoreV1Api);
  const rbac = admin.makeApiClient(RbacAuthorizationV1Api);
  await core.createNamespace({ body: { metadata: { name: 'default' } } }).catch((e) => {
    if (e.code !== 409) throw e;
  });
  // alice (a person with kubectl) and another workload's service account get the editor role on jobs in default.
  await core.createNamespacedServiceAccount({ namespace: 'default', body: { metadata: { name: 'ci-bot' } } });
  await rbac.createNamespacedRoleBinding({
    namespace: 'default',
    body: {
      metadata: { name: 'job-editors' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'mei-job-editor' },
      subjects: [
        { kind: 'Group', name: 'team-editors', apiGroup: 'rbac.authorization.k8s.io' },
        { kind: 'ServiceAccount', name: 'ci-bot', namespace: 'default' },
      ],
    },
  });
  tokens.alice = server.users.alice.token;
  tokens.admin = server.token;
  tokens['ci-bot'] = (await serviceAccountKubeConfig(admin, server, 'default', 'ci-bot')).getCurrentUser()!.token!;
  serverToken = (await serviceAccountKubeConfig(admin, server, 'mei-system', 'mei-server')).getCurrentUser()!.token!;
  // The policy works once the apiserver has loaded it, its binding and the parameter ConfigMap.
  await waitFor('the policy to refuse', async () => (await post('alice', withMeta('probe', { finalizers: ['example.com/x'] }), true)).status === 422, 60_000, 200);
}, 15 * 60 * 1000);
afterAll(async () => {
  await server?.stop();
});

function withMeta(name: string, meta: Record<string, unknown> = {}, workers?: unknown[]) {
  const job = baseJob(name) as any;
  job.metadata = { ...job.metadata, ...meta };
  if (workers) job.spec.workers = workers;
  return job;
}
function post(who: string, body: unknown, dryRun = false) {
  return kubeRequest(server, `${JOBS}${dryRun ? '?dryRun=All' : ''}`, { method: 'POST', body: JSON.stringify(body), token: who === 'server' ? serverToken : tokens[who] });
}
function put(who: string, body: any) {
  return kubeRequest(server, `${JOBS}/${body.metadata.name}`, { method: 'PUT', body: JSON.stringify(body), token: who === 'server' ? serverToken : tokens[who] });
}
const message = (r: { body: string }) => JSON.parse(r.body).message as string;
const read = async (name: string) => JSON.parse((await kubeRequest(server, `${JOBS}/${name}`)).body);

describe('deploy/job-admission-policy.yaml (kustomize) on the real kube-apiserver', () => {
  it('is served by this apiserver (admissionregistration.k8s.io/v1, the ValidatingAdmissionPolicy plugin on by default) and rendered by kustomize', async () => {
    const group = JSON.parse((await kubeRequest(server, '/apis/admissionregistration.k8s.io/v1')).body);
    expect(group.resources.map((r: any) => r.name)).toEqual(expect.arrayContaining(['validatingadmissionpolicies', 'validatingadmissionpolicybindings']));
    const binding = rendered.find((d) => d.kind === 'ValidatingAdmissionPolicyBinding');
    expect(binding.spec).toMatchObject({ policyName: 'mei-server-jobs', validationActions: ['Deny'], paramRef: { name: 'mei-server-config', namespace: 'mei-system', parameterNotFoundAction: 'Deny' } });
    // Bound where the server's rules are bound (its RoleBinding) and nowhere else.
    const roleBinding = rendered.find((d) => d.kind === 'RoleBinding' && d.metadata.name === 'mei-server-jobs');
    expect(binding.spec.matchResources.namespaceSelector.matchExpressions).toEqual([{ key: 'kubernetes.io/metadata.name', operator: 'In', values: [roleBinding.metadata.namespace] }]);
    const policy = rendered.find((d) => d.kind === 'ValidatingAdmissionPolicy');
    expect(policy.spec.matchConditions[0].expression).toContain(`system:serviceaccount:mei-system:${rendered.find((d) => d.kind === 'ServiceAccount').metadata.name}`);
  });

  it('refuses user-set finalizers and ownerReferences on create, for a user, another service account and a cluster admin, naming the field', async () => {
    const owner = { apiVersion: 'v1', kind: 'ConfigMap', name: 'someone-elses', uid: '6b1c3f6e-1111-4222-8333-444455556666', controller: true, blockOwnerDeletion: true };
    for (const who of ['alice', 'ci-bot', 'admin']) {
      const fin = await post(who, withMeta(`fin-${who}`, { finalizers: ['example.com/never-released'] }));
      expect(fin.status, `${who}: ${fin.body}`).toBe(422);
      expect(message(fin)).toMatch(/metadata\.finalizers: Forbidden: finalizers are set by the server, not by users \(found example\.com\/never-released\)/);
      const own = await post(who, withMeta(`own-${who}`, { ownerReferences: [owner] }));
      expect(own.status, `${who}: ${own.body}`).toBe(422);
      expect(message(own)).toMatch(/metadata\.ownerReferences: Forbidden: ownerReferences are set by the server/);
    }
    // Nothing was stored.
    expect(JSON.parse((await kubeRequest(server, JOBS)).body).items).toEqual([]);
  });

  it('refuses worker images outside the prefixes of the server ConfigMap (create and spec changes), naming the worker', async () => {
    const bad = await post('alice', withMeta('evil-image', {}, [{ node: 'edge-1', image: 'mei/edge-agent-evil:1' }]));
    expect(bad.status, bad.body).toBe(422);
    expect(message(bad)).toContain('spec.workers[node=edge-1].image: Forbidden: image is not in the allowed registry prefixes (mei/edge-agent)');
    const ok = await post('alice', withMeta('good-image', {}, [{ node: 'edge-1', image: 'mei/edge-agent:0.2.0' }]));
    expect(ok.status, ok.body).toBe(201);
    const job = JSON.parse(ok.body);
    job.spec.workers[0].image = 'docker.io/attacker/miner:latest';
    const changed = await put('alice', job);
    expect(changed.status, changed.body).toBe(422);
    expect(message(changed)).toContain('spec.workers[node=edge-1].image');
  });

  it('the server\'s service account still adds and releases its finalizer; users may then edit and remove, never add', async () => {
    const created = await post('alice', withMeta('lobby'));
    expect(created.status, created.body).toBe(201);
    // As MainController does it: updateWithRetry through the server's JobBackend, authenticated as mei-server.
    const sa = new KubeConfig();
    sa.loadFromOptions({
      clusters: [{ name: 'c', server: server.url, caData: Buffer.from(server.caPem).toString('base64') }],
      users: [{ name: 'mei-server', token: serverToken }],
      contexts: [{ name: 'ctx', cluster: 'c', user: 'mei-server' }],
      currentContext: 'ctx',
    });
    const backend = new KubernetesJobBackend(sa, { resyncMs: 0 });
    const finalized = await updateWithRetry(backend, (await backend.get('default', 'lobby'))!, (j) => {
      j.metadata.finalizers = [...(j.metadata.finalizers ?? []), FINALIZER];
      return j;
    });
    expect(finalized?.metadata.finalizers).toEqual([FINALIZER]);
    // The server is not bound by the policy at all (it runs its own admission first).
    const serverOwn = await post('server', withMeta('server-made', { finalizers: ['example.com/server-side'] }), true);
    expect(serverOwn.status, serverOwn.body).toBe(201);

    // alice edits the finalized job (kubectl edit keeps the server's finalizer): allowed.
    const job = await read('lobby');
    job.metadata.labels = { site: 'plant-1' };
    expect((await put('alice', job)).status).toBe(200);
    // Adding another finalizer is not.
    const added = await read('lobby');
    added.metadata.finalizers.push('example.com/mine');
    const r = await put('alice', added);
    expect(r.status, r.body).toBe(422);
    expect(message(r)).toContain('metadata.finalizers: Forbidden');
    // The server's own finalizer on a new object is allowed (the server adds it anyway and releases it).
    expect((await post('alice', withMeta('copied', { finalizers: [FINALIZER] }), true)).status).toBe(201);

    // Deletion: the server releases its finalizer and the job is gone.
    await backend.delete('default', 'lobby');
    const deleting = (await backend.get('default', 'lobby'))!;
    expect(deleting.metadata.deletionTimestamp).toBeTruthy();
    await updateWithRetry(backend, deleting, (j) => {
      j.metadata.finalizers = j.metadata.finalizers!.filter((f) => f !== FINALIZER);
      return j;
    });
    await waitFor('the job to be gone', async () => (await kubeRequest(server, `${JOBS}/lobby`)).status === 404, 30_000, 100);
    await backend.close();
  });

  it('a metadata-only update (labels; the garbage collector releasing a finalizer) is not blocked by a prefix list changed since; a spec change is', async () => {
    const created = await post('alice', withMeta('old-image', {}, [{ node: 'edge-1', image: 'mei/edge-agent:0.1.0' }]));
    expect(created.status, created.body).toBe(201);
    await setParams({ MEI_AGENT_IMAGE_PREFIXES: 'registry.plant.example/mei/' });
    try {
      const job = await read('old-image');
      job.metadata.labels = { touched: 'yes' };
      expect((await put('alice', job)).status).toBe(200);
      const again = await read('old-image');
      again.spec.cameras[0].fps = 5;
      const specChange = await put('alice', again);
      expect(specChange.status, specChange.body).toBe(422);
      expect(message(specChange)).toContain('(registry.plant.example/mei/)');
    } finally {
      await setParams({ MEI_AGENT_IMAGE_PREFIXES: undefined });
    }
  });

  it('the CEL image rule agrees with imageAllowed (server/backends/kubernetes/image-policy.ts) on 300 generated images', async () => {
    const prefixes = ['reg.local:5000/team/', 'mei/edge-agent', 'quay.io/acme/agent'];
    await setParams({ MEI_AGENT_IMAGE_PREFIXES: ` ${prefixes.join(' , ')} ,` });
    try {
      const rand = seededRandom(1230);
      const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)];
      const heads = ['', 'reg.local:5000/team/', 'reg.local:5000/team', 'reg.local:5000/teamx/', 'mei/edge-agent', 'mei/edge-agent-evil', 'MEI/edge-agent', 'quay.io/acme/agent', 'quay.io/acme/', 'x@', 'docker.io/mei/edge-agent', 'evil.io/reg.local:5000/team/'];
      const tails = ['', 'a', 'agent', 'sub/agent', ':1.0', ':latest', '@sha256:abc', ':1@sha256:abc', ':x/y', '/x', ' ', '\u00a0', '\u2028', '\t', ':', '@', '/../../x', 'mei/edge-agent'];
      const images = new Set<string>(['', 'reg.local:5000/team/', 'mei/edge-agent', 'mei/edge-agent:1', 'mei/edge-agent@sha256:1']);
      while (images.size < 300) images.add(pick(heads) + pick(tails) + (rand() < 0.3 ? pick(tails) : ''));
      const disagree: string[] = [];
      let admitted = 0;
      for (const image of images) {
        const r = await post('alice', withMeta('cel-vs-ts', {}, [{ node: 'edge-1', image }]), true);
        const cel = r.status === 201 ? true : r.status === 422 && message(r).includes('spec.workers[node=edge-1].image') ? false : `HTTP ${r.status}: ${r.body.slice(0, 200)}`;
        if (cel === true) admitted++;
        if (cel !== imageAllowed(image, prefixes)) disagree.push(`${JSON.stringify(image)}: CEL ${cel}, imageAllowed ${imageAllowed(image, prefixes)}`);
      }
      expect(disagree).toEqual([]);
      // Both outcomes are well represented.
      expect(admitted).toBeGreaterThan(30);
      expect(images.size - admitted).toBeGreaterThan(30);
    } finally {
      await setParams({ MEI_AGENT_IMAGE_PREFIXES: undefined });
    }
  });

  it('without MEI_AGENT_IMAGE_PREFIXES: the repository of MEI_AGENT_IMAGE (as allowedImagePrefixes); without the ConfigMap: refused', async () => {
    await setParams({ MEI_AGENT_IMAGE: 'registry.plant.example:5000/mei/edge-agent:0.3.0@sha256:0123' });
    try {
      expect((await post('alice', withMeta('fallback', {}, [{ node: 'edge-1', image: 'registry.plant.example:5000/mei/edge-agent:9' }]), true)).status).toBe(201);
      const r = await post('alice', withMeta('fallback', {}, [{ node: 'edge-1', image: 'mei/edge-agent:0.1.0' }]), true);
      expect(message(r)).toContain('(registry.plant.example:5000/mei/edge-agent)');
    } finally {
      await setParams({ MEI_AGENT_IMAGE: 'mei/edge-agent:0.1.0' });
    }
    const core = admin.makeApiClient(CoreV1Api);
    const cm = await core.readNamespacedConfigMap({ name: 'mei-server-config', namespace: 'mei-system' });
    await core.deleteNamespacedConfigMap({ name: 'mei-server-config', namespace: 'mei-system' });
    try {
      const r = await waitFor('a refusal without parameters', async () => {
        const res = await post('alice', withMeta('no-params'), true);
        return res.status !== 201 && res;
      }, 30_000, 100);
      expect(r.status, r.body).toBeGreaterThanOrEqual(400);
      expect(message(r)).toMatch(/mei-server-config|param/i);
    } finally {
      await core.createNamespacedConfigMap({ namespace: 'mei-system', body: { metadata: { name: 'mei-server-config', labels: cm.metadata?.labels }, data: cm.data } });
      await waitFor('parameters back', async () => (await post('alice', withMeta('params-back'), true)).status === 201, 30_000, 100);
    }
  });
});

/** Sets (or, with undefined, removes) keys of the server ConfigMap, then waits until the policy sees the change. */
async function setParams(change: Record<string, string | undefined>): Promise<void> {
  const core = admin.makeApiClient(CoreV1Api);
  const cm = await core.readNamespacedConfigMap({ name: 'mei-server-config', namespace: 'mei-system' });
  const data = { ...cm.data };
  for (const [k, v] of Object.entries(change)) {
    if (v === undefined) delete data[k];
    else data[k] = v;
  }
  await core.replaceNamespacedConfigMap({ name: 'mei-server-config', namespace: 'mei-system', body: { ...cm, data } });
  // Until a refusal states the prefixes this version of the ConfigMap gives (the server's own reading of it).
  const expected = `(${allowedImagePrefixes(data).join(', ')})`;
  await waitFor(`the policy to read ${expected}`, async () => {
    const r = await post('alice', withMeta('probe', {}, [{ node: 'edge-1', image: 'probe.invalid/never:1' }]), true);
    return r.status === 422 && message(r).includes(expected);
  }, 30_000, 100);
}
