// deploy/ against real kube-apiservers: kustomize renders it with the CRD from crds/ (one source of truth),
// every manifest passes a server-side dry run, and the server's RBAC is enough — and needed — for what the
// server does: its JobBackend, Pod runtime, Event recorder and leader election run as the mei-server
// ServiceAccount (a real TokenRequest token) on an apiserver that also enforces owner-reference permissions.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import yaml from 'js-yaml';
import { CoordinationV1Api, CoreV1Api, KubeConfig, RbacAuthorizationV1Api, type V1Pod } from '@kubernetes/client-node';
import { CRD_PATH } from '@mei/contracts/crd';
import { createKubernetesMode } from '../../server/backends/kubernetes/config.ts';
import { KubernetesJobBackend } from '../../server/backends/kubernetes/job-backend.ts';
import { LEADER_LABEL } from '../../server/backends/kubernetes/leader.ts';
import { PodRuntime } from '../../server/backends/kubernetes/worker-runtime.ts';
import { sampleWorkerManifests } from '../../server/backends/kubernetes/print-worker-template.ts';
import { baseJob } from '../fixtures/invalid-specs.ts';
import { kubeConfigFor, useKube } from './cluster.ts';
import { ensureKubeAssets, startKubeApiServer, type KubeApiServer } from './harness.ts';
import { memoryLogger, runKubectl, serviceAccountKubeConfig, waitFor } from './support.ts';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const DEPLOY = join(REPO, 'deploy');
const kube = useKube();
let kubectlBin: string;
let rendered: string;
let docs: any[];

const kubectl = (kubeconfig: string, args: string[], input?: string) => runKubectl(kubectlBin, kubeconfig, args, input);

beforeAll(async () => {
  kubectlBin = join(await ensureKubeAssets({ kubectl: true }), 'kubectl');
  if (!existsSync(join(REPO, 'crds/kustomization.yaml')))
    throw new Error('deploy/ includes the CRD as the kustomization ../crds: crds/kustomization.yaml must list sedna.io_multiedgeinferences.yaml');
  rendered = await kubectl(kube().kubeconfigPath, ['kustomize', DEPLOY]);
  docs = yaml.loadAll(rendered).filter(Boolean) as any[];
}, 15 * 60 * 1000);

const byKind = (kind: string, name?: string) => docs.filter((d) => d.kind === kind && (name === undefined || d.metadata.name === name));

describe('deploy/ (kustomize)', () => {
  it('renders the namespace, the CRD from crds/, RBAC, config, the server Deployment and its Service', () => {
    expect(docs.map((d) => `${d.kind}/${d.metadata.name}`).sort()).toEqual(
      [
        'ClusterRole/mei-job-editor',
        'ClusterRole/mei-job-viewer',
        'ClusterRole/mei-server',
        'ConfigMap/mei-server-config',
        'ValidatingAdmissionPolicy/mei-server-jobs',
        'ValidatingAdmissionPolicyBinding/mei-server-jobs',
        'CustomResourceDefinition/multiedgeinferences.sedna.io',
        'Deployment/mei-server',
        'Namespace/mei-system',
        'PersistentVolumeClaim/mei-server-pglite',
        'Role/mei-server-leader',
        'RoleBinding/mei-server-jobs',
        'RoleBinding/mei-server-leader',
        'Service/mei-server',
        'ServiceAccount/mei-server',
      ].sort(),
    );
    // The CRD is crds/ itself, not a copy that could drift.
    const crd = byKind('CustomResourceDefinition')[0];
    expect(crd.spec).toEqual((yaml.load(readFileSync(CRD_PATH, 'utf8')) as any).spec);
    // Everything in mei-system but the job rules' binding, which lives where jobs do (and nowhere else).
    for (const d of docs.filter((x) => !['CustomResourceDefinition', 'Namespace', 'ClusterRole', 'ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding'].includes(x.kind)))
      expect(d.metadata.namespace, `${d.kind}/${d.metadata.name}`).toBe(d.metadata.name === 'mei-server-jobs' ? 'default' : 'mei-system');
    expect(byKind('ClusterRoleBinding')).toEqual([]);
    expect(byKind('ConfigMap')[0].data.MEI_NAMESPACES).toBe('default');

    // One replica: PGlite on its volume (several need PostgreSQL: the Helm chart checks that).
    const deploy = byKind('Deployment')[0];
    expect(deploy.spec.replicas).toBe(1);
    expect(deploy.spec.strategy).toEqual({ type: 'Recreate' });
    expect(deploy.spec.template.spec.volumes).toContainEqual({ name: 'state', persistentVolumeClaim: { claimName: 'mei-server-pglite' } });
    const c = deploy.spec.template.spec.containers[0];
    expect(c.image).toBe('mei/server:0.1.0');
    expect(deploy.spec.template.spec.serviceAccountName).toBe('mei-server');
    expect(c.readinessProbe.httpGet.path).toBe('/api/health');
    expect(c.livenessProbe.httpGet.path).toBe('/api/health?live');
    expect(c.securityContext.readOnlyRootFilesystem).toBe(true);
    expect(c.env.find((e: any) => e.name === 'POD_NAME').valueFrom.fieldRef.fieldPath).toBe('metadata.name');
    expect(c.envFrom).toEqual([{ configMapRef: { name: 'mei-server-config' } }, { secretRef: { name: 'mei-server' } }]);
    expect(byKind('ConfigMap')[0].data.MEI_MODE).toBe('kubernetes');
    // The Service reaches the leader only (its controllers and agent registry are the live ones).
    expect(byKind('Service')[0].spec.selector).toEqual({ 'app.kubernetes.io/name': 'mei-server', [LEADER_LABEL]: 'true' });
  });

  it('deploy/edge-worker.example.yaml is what the pod runtime creates', () => {
    expect(readFileSync(join(DEPLOY, 'edge-worker.example.yaml'), 'utf8')).toBe(sampleWorkerManifests());
  });

  it('every manifest passes a server-side dry run (kubectl apply --dry-run=server)', async () => {
    // Namespaced objects need their namespace to exist, even in a dry run.
    const core = kubeConfigFor(kube()).makeApiClient(CoreV1Api);
    await core.createNamespace({ body: { metadata: { name: 'mei-system' } } }).catch((e) => {
      if (e.code !== 409) throw e;
    });
    const out = await kubectl(kube().kubeconfigPath, ['apply', '--dry-run=server', '-f', '-'], rendered);
    const lines = out.trim().split('\n');
    expect(lines).toHaveLength(docs.length);
    expect(lines.every((l) => l.endsWith('(server dry run)')), out).toBe(true);
    const example = await kubectl(kube().kubeconfigPath, ['apply', '--dry-run=server', '-f', join(DEPLOY, 'edge-worker.example.yaml')]);
    expect(example).toMatch(/secret\/lobby-edge-node-1-\w+ created \(server dry run\)/);
    expect(example).toMatch(/pod\/lobby-edge-node-1-\w+ created \(server dry run\)/);
  });
});

describe('RBAC: the mei-server ClusterRole is enough and needed (own apiserver, OwnerReferencesPermissionEnforcement on)', () => {
  let server: KubeApiServer;
  let admin: KubeConfig;

  beforeAll(async () => {
    server = await startKubeApiServer({ users: [{ name: 'mei-nobody' }], extraApiServerArgs: ['--enable-admission-plugins=OwnerReferencesPermissionEnforcement'] });
    admin = new KubeConfig();
    admin.loadFromFile(server.kubeconfigPath);
    // A real apply of everything, as `kubectl apply -k deploy/` would do it.
    await kubectl(server.kubeconfigPath, ['apply', '--server-side', '-f', '-'], rendered);
    await kubectl(server.kubeconfigPath, ['wait', '--for=condition=Established', 'crd/multiedgeinferences.sedna.io', '--timeout=30s']);
  }, 600_000);
  afterAll(async () => {
    await server?.stop();
  });

  const serviceAccountConfig = (namespace: string, name: string) => serviceAccountKubeConfig(admin, server, namespace, name);

  it('as system:serviceaccount:mei-system:mei-server: jobs, status, finalizers, pods, secrets, events, lease and leader label all work', async () => {
    const core = admin.makeApiClient(CoreV1Api);
    await core.createNamespace({ body: { metadata: { name: 'team-a' } } });
    await core.createNamespace({ body: { metadata: { name: 'default' } } }).catch((e) => {
      if (e.code !== 409) throw e;
    });
    // The server's own pod (no kubelet here: it only needs to exist for the leader label).
    await core.createNamespacedPod({ namespace: 'mei-system', body: { metadata: { name: 'mei-server-0', labels: { 'app.kubernetes.io/name': 'mei-server' } }, spec: { containers: [{ name: 'server', image: 'mei/server' }] } } });
    const sa = await serviceAccountConfig('mei-system', 'mei-server');
    const log = memoryLogger();
    const mode = await createKubernetesMode({
      kc: sa,
      log,
      env: { POD_NAME: 'mei-server-0', POD_NAMESPACE: 'mei-system', MEI_LEASE_DURATION_SECONDS: '5', MEI_AGENT_IMAGE: 'mei/edge-agent:test', MEI_PUBLIC_URL: 'http://mei:3000', MEI_NAMESPACES: 'default' },
    });
    let leading = false;
    mode.campaign({ onStartedLeading: () => void (leading = true), onStoppedLeading: () => void (leading = false) });
    await waitFor('leadership', () => leading, 120_000);
    await waitFor('leader label', async () => (await core.readNamespacedPod({ name: 'mei-server-0', namespace: 'mei-system' })).metadata?.labels?.[LEADER_LABEL] === 'true');

    const { backend, runtime } = mode;
    const events: string[] = [];
    const stopWatch = await backend.watch((ev) => events.push(`${ev.type} ${ev.object.metadata.name}`));
    const job = await backend.create({ ...baseJob('rbac-job'), metadata: { name: 'rbac-job', namespace: 'default' } } as any);
    const withFinalizer = await backend.update({ ...job, metadata: { ...job.metadata, finalizers: ['sedna.io/multiedgeinference'] } });
    await backend.updateStatus({ ...withFinalizer, status: { phase: 'Pending' } });
    // blockOwnerDeletion owner references: allowed because the role may update multiedgeinferences/finalizers.
    await runtime.ensure({ job, node: 'edge-1', token: 't', serverUrl: 'http://mei:3000' });
    await waitFor('worker listed', async () => (await runtime.list('default/rbac-job')).length === 1);
    await runtime.remove('default/rbac-job');
    await backend.delete('default', 'rbac-job');
    await mode.recorder.flush();
    expect(log.lines.filter((l) => l.startsWith('warn') || l.startsWith('error'))).toEqual([]);
    const recorded = (await core.listNamespacedEvent({ namespace: 'default' })).items.map((e) => `${e.reason} ${e.source?.component}`);
    expect(recorded).toEqual(expect.arrayContaining(['WorkerCreated mei-server', 'WorkerDeleted mei-server']));
    await waitFor('watch events', () => events.includes('ADDED rbac-job') && events.filter((e) => e.startsWith('MODIFIED rbac-job')).length >= 3);
    stopWatch();
    await mode.close();
    // close() released the lease and cleared the label.
    expect((await admin.makeApiClient(CoordinationV1Api).readNamespacedLease({ name: 'mei-server', namespace: 'mei-system' })).spec?.holderIdentity).toBe('');
    expect((await core.readNamespacedPod({ name: 'mei-server-0', namespace: 'mei-system' })).metadata?.labels?.[LEADER_LABEL]).toBeUndefined();
  });

  it('the service account has no rights in a namespace it does not manage (team-a), nor on kube-system Secrets', async () => {
    const sa = await serviceAccountConfig('mei-system', 'mei-server');
    const core = sa.makeApiClient(CoreV1Api);
    await expect(core.listNamespacedSecret({ namespace: 'kube-system' })).rejects.toMatchObject({ code: 403 });
    await expect(core.listSecretForAllNamespaces()).rejects.toMatchObject({ code: 403 });
    await expect(core.createNamespacedPod({ namespace: 'team-a', body: { metadata: { name: 'x' }, spec: { containers: [{ name: 'c', image: 'x' }] } } })).rejects.toMatchObject({ code: 403 });
    await expect(new KubernetesJobBackend(sa, { resyncMs: 0 }).list('team-a')).rejects.toMatchObject({ code: 403 });
  });

  it('a user without the role is refused (403) for jobs and pods', async () => {
    const nobody = new KubeConfig();
    nobody.loadFromFile(server.users['mei-nobody'].kubeconfigPath);
    const backend = new KubernetesJobBackend(nobody, { resyncMs: 0 });
    await expect(backend.list('team-a')).rejects.toMatchObject({ code: 403 });
    await expect(backend.create({ ...baseJob('nope'), metadata: { name: 'nope', namespace: 'team-a' } } as any)).rejects.toThrow(/403 Forbidden/);
    const runtime = new PodRuntime(nobody, { log: memoryLogger(), image: 'x' });
    await expect(runtime.list()).rejects.toThrow(/403/);
    await backend.close();
    await runtime.close();
  });

  it('without multiedgeinferences/finalizers the worker pods are refused (blockOwnerDeletion)', async () => {
    const rbac = admin.makeApiClient(RbacAuthorizationV1Api);
    const core = admin.makeApiClient(CoreV1Api);
    const full = byKind('ClusterRole', 'mei-server')[0];
    const rules = full.rules.filter((r: any) => !r.resources.includes('multiedgeinferences/finalizers'));
    expect(rules.length).toBe(full.rules.length - 1);
    await rbac.createClusterRole({ body: { metadata: { name: 'mei-server-no-finalizers' }, rules } });
    await core.createNamespacedServiceAccount({ namespace: 'mei-system', body: { metadata: { name: 'mei-limited' } } });
    await rbac.createClusterRoleBinding({
      body: {
        metadata: { name: 'mei-limited' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'mei-server-no-finalizers' },
        subjects: [{ kind: 'ServiceAccount', name: 'mei-limited', namespace: 'mei-system' }],
      },
    });
    const limited = await serviceAccountConfig('mei-system', 'mei-limited');
    const backend = new KubernetesJobBackend(limited, { resyncMs: 0 });
    const job = await waitFor('RBAC to see the binding', () => backend.create({ ...baseJob('limited'), metadata: { name: 'limited', namespace: 'team-a' } } as any), 120_000, 100);
    const runtime = new PodRuntime(limited, { log: memoryLogger(), image: 'x' });
    const err = await runtime.ensure({ job, node: 'edge-1', token: 't', serverUrl: 'http://mei:3000' }).catch((e) => e);
    expect(err?.message).toMatch(/403.*cannot set blockOwnerDeletion/);
    const pods: V1Pod[] = (await core.listNamespacedPod({ namespace: 'team-a', labelSelector: 'sedna.io/job-name=limited' })).items;
    expect(pods).toEqual([]);
    await Promise.all([backend.close(), runtime.close()]);
  });
});
