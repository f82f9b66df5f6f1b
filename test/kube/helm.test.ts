// The Helm chart deploy/helm/mei with a real `helm` (built from its Go module, test/kube-harness/build-helm.sh):
// lint, template with several value sets (and the values that must fail, named), then a server-side dry run and
// a real install on the suite's kube-apiserver. There the server's ServiceAccount is checked with
// SubjectAccessReviews (Secrets and Pods only in the namespaces it manages) and used for real: the server's
// Kubernetes mode, configured from the installed ConfigMap, leads, runs a job's worker and is refused elsewhere.
// An upgrade keeps the CRD and the signing secret; an uninstall keeps both too.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile, spawn } from 'node:child_process';
import { lstatSync, mkdtempSync, readFileSync, readlinkSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import yaml from 'js-yaml';
import { ApiextensionsV1Api, AuthorizationV1Api, CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { ValidationError } from '@mei/contracts';
import { CRD_PATH } from '@mei/contracts/crd';
import { createKubernetesMode } from '../../server/backends/kubernetes/config.ts';
import { LEADER_LABEL } from '../../server/backends/kubernetes/leader.ts';
import { baseJob } from '../fixtures/invalid-specs.ts';
import { kubeConfigFor, useKube } from './cluster.ts';
import { kubeRequest } from './harness.ts';
import { memoryLogger, waitFor } from './support.ts';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const CHART = join(REPO, 'deploy/helm/mei');
const PG = 'database.url=postgresql://mei:secret@postgres.db.svc:5432/mei';
const kube = useKube();
let helmBin: string;
let helmHome: string;

beforeAll(async () => {
  helmBin = await new Promise<string>((resolve, reject) => {
    const child = spawn('bash', [join(REPO, 'test/kube-harness/build-helm.sh')], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => ((err += d), process.stderr.write(`[helm] ${d}`)));
    child.on('close', (code) => (code === 0 ? resolve(out.trim().split('\n').pop()!) : reject(new Error(`build-helm.sh failed (${code}):\n${err.slice(-3000)}`))));
  });
  helmHome = mkdtempSync(join(tmpdir(), 'mei-helm-'));
}, 60 * 60 * 1000);
afterAll(() => helmHome && rmSync(helmHome, { recursive: true, force: true }));

/** Runs helm against the suite's apiserver, in a private config/cache folder; rejects with its stderr. */
function helm(args: string[]): Promise<string> {
  const env = { ...process.env, KUBECONFIG: kube().kubeconfigPath, HELM_CONFIG_HOME: join(helmHome, 'config'), HELM_CACHE_HOME: join(helmHome, 'cache'), HELM_DATA_HOME: join(helmHome, 'data') };
  return new Promise((resolve, reject) =>
    execFile(helmBin, args, { env, timeout: 120_000, maxBuffer: 32 << 20 }, (err, stdout, stderr) => (err ? reject(new Error(`helm ${args.join(' ')}: ${stderr || err.message}`)) : resolve(stdout))),
  );
}
const sets = (values: string[]) => values.flatMap((v) => ['--set', v]);
async function template(values: string[], namespace = 'mei-system'): Promise<any[]> {
  return (yaml.loadAll(await helm(['template', 'mei', CHART, '-n', namespace, ...sets(values)])) as any[]).filter(Boolean);
}
const find = (docs: any[], kind: string, name?: string) => docs.filter((d) => d.kind === kind && (name === undefined || d.metadata.name === name));
const one = (docs: any[], kind: string, name?: string) => {
  const found = find(docs, kind, name);
  expect(found, `${kind}/${name ?? '*'}`).toHaveLength(1);
  return found[0];
};
const serverContainer = (docs: any[]) => one(docs, 'Deployment').spec.template.spec.containers[0];

describe('deploy/helm/mei: lint and template', () => {
  it('takes the CRD from crds/ (a symlink: no copy to drift) and shares the version of package.json', () => {
    const link = join(CHART, 'crds/sedna.io_multiedgeinferences.yaml');
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readlinkSync(link)).toBe('../../../../crds/sedna.io_multiedgeinferences.yaml');
    expect(realpathSync(link)).toBe(realpathSync(CRD_PATH));
    const chart = yaml.load(readFileSync(join(CHART, 'Chart.yaml'), 'utf8')) as any;
    const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8'));
    expect([chart.version, chart.appVersion]).toEqual([pkg.version, pkg.version]);
  });

  it('helm lint passes for every documented value set', async () => {
    for (const values of [[], ['replicas=2', PG], ['ingress.enabled=true', 'ingress.tls.enabled=true'], ['rbac.clusterWide=true'], ['edge.kubeEdge=false', 'rbac.userRoles=false', 'admissionPolicy.enabled=false']]) {
      const out = await helm(['lint', CHART, '--strict', ...sets(values)]);
      expect(out, values.join(' ')).toMatch(/1 chart\(s\) linted, 0 chart\(s\) failed/);
    }
  });

  it('one replica (the default): PGlite on a PVC, Recreate, no PDB, no leader election', async () => {
    const docs = await template([]);
    expect(one(docs, 'Deployment').spec.replicas).toBe(1);
    expect(one(docs, 'Deployment').spec.strategy).toEqual({ type: 'Recreate' });
    const pvc = one(docs, 'PersistentVolumeClaim', 'mei-pglite');
    expect(pvc.spec.resources.requests.storage).toBe('5Gi');
    expect(one(docs, 'Deployment').spec.template.spec.volumes).toContainEqual({ name: 'state', persistentVolumeClaim: { claimName: 'mei-pglite' } });
    expect(find(docs, 'PodDisruptionBudget')).toEqual([]);
    expect(one(docs, 'ConfigMap').data).toMatchObject({ MEI_MODE: 'kubernetes', MEI_LEADER_ELECTION: 'false', MEI_NAMESPACES: 'default', MEI_PUBLIC_URL: 'http://mei.mei-system.svc:3000' });
    expect(serverContainer(docs).env.find((e: any) => e.name === 'DATABASE_URL')).toBeUndefined();
  });

  it('replicas > 1 needs PostgreSQL (the render fails naming it); with it: no PVC, a PDB, a rolling update, one shared secret', async () => {
    await expect(template(['replicas=2'])).rejects.toThrow(/replicas: 2 needs PostgreSQL \(database\.url or database\.existingSecret\)/);
    const docs = await template(['replicas=3', PG]);
    expect(find(docs, 'PersistentVolumeClaim')).toEqual([]);
    expect(one(docs, 'PodDisruptionBudget').spec.minAvailable).toBe(1);
    const deploy = one(docs, 'Deployment');
    expect(deploy.spec.strategy).toEqual({ type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } });
    expect(deploy.spec.template.spec.volumes).toContainEqual({ name: 'state', emptyDir: {} });
    const env = serverContainer(docs).env;
    // Every replica reads MEI_SECRET from the one Secret: tokens survive a failover.
    expect(env.find((e: any) => e.name === 'MEI_SECRET').valueFrom.secretKeyRef).toEqual({ name: 'mei', key: 'MEI_SECRET' });
    expect(env.find((e: any) => e.name === 'DATABASE_URL').valueFrom.secretKeyRef).toEqual({ name: 'mei', key: 'DATABASE_URL' });
    const secret = one(docs, 'Secret', 'mei');
    expect(Buffer.from(secret.data.MEI_SECRET, 'base64').toString()).toMatch(/^[A-Za-z0-9]{64}$/);
    expect(Buffer.from(secret.data.DATABASE_URL, 'base64').toString()).toBe('postgresql://mei:secret@postgres.db.svc:5432/mei');
    expect(one(docs, 'ConfigMap').data).toMatchObject({ MEI_LEADER_ELECTION: 'true', MEI_LEASE_NAME: 'mei' });
    // An existing database Secret instead of a URL; an existing auth Secret instead of the generated one.
    const ext = await template(['replicas=2', 'database.existingSecret=pg', 'database.existingSecretKey=url', 'auth.existingSecret=mine']);
    expect(find(ext, 'Secret')).toEqual([]);
    expect(serverContainer(ext).env.find((e: any) => e.name === 'DATABASE_URL').valueFrom.secretKeyRef).toEqual({ name: 'pg', key: 'url' });
    expect(serverContainer(ext).env.find((e: any) => e.name === 'MEI_SECRET').valueFrom.secretKeyRef).toEqual({ name: 'mine', key: 'MEI_SECRET' });
  });

  it('values that cannot work fail the render, naming the value', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['replicas=0'], /replicas must be at least 1, got 0/],
      [[PG, 'database.existingSecret=pg'], /database\.url and database\.existingSecret: set one of them/],
      [['rbac.namespaces=null'], /rbac\.namespaces must list at least one namespace/],
      [['ingress.enabled=true', 'ingress.host='], /ingress\.host is required/],
    ];
    for (const [values, message] of cases) await expect(template(values), values.join(' ')).rejects.toThrow(message);
  });

  it('RBAC: the job rules bound per managed namespace only; the release namespace gets leader election; clusterWide says so', async () => {
    const docs = await template(['rbac.namespaces={team-a,team-b,team-a}']);
    const bindings = find(docs, 'RoleBinding').map((b) => `${b.metadata.namespace}/${b.metadata.name}->${b.roleRef.kind}/${b.roleRef.name}`);
    expect(bindings.sort()).toEqual(['mei-system/mei-leader->Role/mei-leader', 'team-a/mei-jobs->ClusterRole/mei-mei-system-jobs', 'team-b/mei-jobs->ClusterRole/mei-mei-system-jobs']);
    expect(find(docs, 'ClusterRoleBinding')).toEqual([]);
    expect(one(docs, 'ConfigMap').data.MEI_NAMESPACES).toBe('team-a,team-b');
    // Secrets and pods appear in the job rules only, with the verbs the server uses.
    const rules = one(docs, 'ClusterRole', 'mei-mei-system-jobs').rules;
    const verbs = (resource: string) => rules.find((r: any) => r.resources.includes(resource))?.verbs;
    expect(verbs('secrets')).toEqual(['get', 'list', 'create', 'delete']);
    expect(verbs('pods')).toEqual(['get', 'list', 'watch', 'create', 'delete']);
    expect(one(docs, 'Role', 'mei-leader').rules).toEqual([
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'create', 'update'] },
      { apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'patch'] },
    ]);
    const wide = await template(['rbac.clusterWide=true']);
    expect(find(wide, 'ClusterRoleBinding').map((b) => b.roleRef.name)).toEqual(['mei-mei-system-jobs']);
    expect(find(wide, 'RoleBinding').map((b) => b.metadata.name)).toEqual(['mei-leader']);
    expect(one(wide, 'ConfigMap').data.MEI_NAMESPACES).toBe('*');
  });

  it('images, ingress/TLS, edge node selector and tolerations, resources, a read-only non-root server', async () => {
    const docs = await template([
      'image.server.repository=registry.local/mei/server',
      'image.agent.repository=registry.local/mei/edge-agent',
      'image.agent.tag=0.1.0-rc1',
      'ingress.enabled=true',
      'ingress.className=nginx',
      'ingress.host=mei.plant.example',
      'ingress.tls.enabled=true',
      'edge.nodeSelector.site=plant-1',
      'resources.limits.memory=2Gi',
      'nodeSelector.kubernetes\\.io/os=linux',
    ]);
    const c = serverContainer(docs);
    expect(c.image).toBe('registry.local/mei/server:0.1.0');
    expect(c.resources.limits.memory).toBe('2Gi');
    expect(c.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
    expect(c.volumeMounts.map((m: any) => m.mountPath).sort()).toEqual(['/tmp', '/var/lib/mei']);
    expect(c.readinessProbe.httpGet.path).toBe('/api/health');
    expect(c.livenessProbe.httpGet.path).toBe('/api/health?live');
    const spec = one(docs, 'Deployment').spec.template.spec;
    expect(spec.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 10001 });
    expect(spec.nodeSelector).toEqual({ 'kubernetes.io/os': 'linux' });
    const ing = one(docs, 'Ingress');
    expect(ing.spec).toMatchObject({ ingressClassName: 'nginx', tls: [{ hosts: ['mei.plant.example'], secretName: 'mei-tls' }] });
    expect(ing.spec.rules[0].http.paths[0].backend.service).toEqual({ name: 'mei', port: { name: 'http' } });
    const data = one(docs, 'ConfigMap').data;
    expect(data.MEI_PUBLIC_URL).toBe('https://mei.plant.example');
    expect(data.MEI_AGENT_IMAGE).toBe('registry.local/mei/edge-agent:0.1.0-rc1');
    expect(JSON.parse(data.MEI_EDGE_NODE_SELECTOR)).toEqual({ 'node-role.kubernetes.io/edge': '', site: 'plant-1' });
    expect(JSON.parse(data.MEI_EDGE_TOLERATIONS)).toEqual([
      { key: 'node-role.kubernetes.io/edge', operator: 'Exists', effect: 'NoSchedule' },
      { key: 'node-role.kubernetes.io/edge', operator: 'Exists', effect: 'NoExecute' },
    ]);
    // The Service sends agents and browsers to the leader only.
    expect(one(docs, 'Service').spec.selector).toEqual({ 'app.kubernetes.io/name': 'mei-server', 'app.kubernetes.io/instance': 'mei', [LEADER_LABEL]: 'true' });
  });

  it('admission of jobs made with kubectl: the rules of deploy/job-admission-policy.yaml, the release\'s service account exempt, bound to rbac.namespaces', async () => {
    const docs = await template(['rbac.namespaces={team-a,team-b}', 'image.agent.allowedPrefixes={registry.local/mei/,mei/edge-agent}']);
    const policy = one(docs, 'ValidatingAdmissionPolicy', 'mei-mei-system-jobs');
    // One source for the CEL: the kustomize file, only name, labels and the exempt identity differ.
    const source = yaml.load(readFileSync(join(REPO, 'deploy/job-admission-policy.yaml'), 'utf8')) as any;
    expect({ ...policy.spec, matchConditions: undefined }).toEqual({ ...source.spec, matchConditions: undefined });
    expect(policy.spec.matchConditions).toEqual([{ name: 'not-the-server', expression: "request.userInfo.username != 'system:serviceaccount:mei-system:mei'" }]);
    expect(one(docs, 'ServiceAccount').metadata.name).toBe('mei');
    const binding = one(docs, 'ValidatingAdmissionPolicyBinding', 'mei-mei-system-jobs');
    expect(binding.spec).toEqual({
      policyName: 'mei-mei-system-jobs',
      validationActions: ['Deny'],
      paramRef: { name: 'mei', namespace: 'mei-system', parameterNotFoundAction: 'Deny' },
      matchResources: { namespaceSelector: { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'In', values: ['team-a', 'team-b'] }] } },
    });
    // The parameters: the server's own ConfigMap, so both read the same prefixes.
    expect(one(docs, 'ConfigMap').data.MEI_AGENT_IMAGE_PREFIXES).toBe('registry.local/mei/,mei/edge-agent');
    expect(one(await template([]), 'ConfigMap').data.MEI_AGENT_IMAGE_PREFIXES).toBeUndefined();
    expect(one(await template(['rbac.clusterWide=true']), 'ValidatingAdmissionPolicyBinding').spec.matchResources).toBeUndefined();
    const off = await template(['admissionPolicy.enabled=false']);
    expect([...find(off, 'ValidatingAdmissionPolicy'), ...find(off, 'ValidatingAdmissionPolicyBinding')]).toEqual([]);
  });
});

describe('deploy/helm/mei installed on the real apiserver', () => {
  const suffix = randomBytes(3).toString('hex');
  const release = `mei-${suffix}`; // also the objects' name (it says mei)
  const system = `mei-sys-${suffix}`;
  const jobs = `jobs-${suffix}`;
  const other = `other-${suffix}`;
  const values = ['replicas=2', PG, `rbac.namespaces={${jobs}}`, 'leaderElection.leaseDurationSeconds=5'];
  let admin: KubeConfig;

  beforeAll(async () => {
    admin = kubeConfigFor(kube());
    const core = admin.makeApiClient(CoreV1Api);
    for (const name of [jobs, other]) await core.createNamespace({ body: { metadata: { name } } });
  });

  /** Whether the server's ServiceAccount may do `verb` (SubjectAccessReview, as `kubectl auth can-i --as`). */
  async function can(verb: string, resource: string, namespace: string, group = '', subresource?: string): Promise<boolean> {
    const review = await admin.makeApiClient(AuthorizationV1Api).createSubjectAccessReview({
      body: {
        spec: {
          user: `system:serviceaccount:${system}:${release}`,
          groups: ['system:serviceaccounts', `system:serviceaccounts:${system}`, 'system:authenticated'],
          resourceAttributes: { verb, resource, namespace, group, subresource },
        },
      },
    });
    return review.status!.allowed;
  }

  it('server-side dry run, then install: the objects exist, the CRD from crds/', async () => {
    const dry = await helm(['install', release, CHART, '-n', system, '--create-namespace', '--dry-run=server', ...sets(values)]);
    expect(dry).toMatch(/STATUS: pending-install/);
    await expect(admin.makeApiClient(CoreV1Api).readNamespacedConfigMap({ name: release, namespace: system })).rejects.toMatchObject({ code: 404 });
    const out = await helm(['install', release, CHART, '-n', system, '--create-namespace', ...sets(values)]);
    expect(out).toMatch(/STATUS: deployed/);
    const manifest = (yaml.loadAll(await helm(['get', 'manifest', release, '-n', system])) as any[]).filter(Boolean);
    expect(manifest.map((d) => `${d.kind}/${d.metadata.name}`).sort()).toEqual(
      [
        'ClusterRole/' + `${release}-${system}-jobs`,
        'ClusterRole/' + `${release}-${system}-job-editor`,
        'ClusterRole/' + `${release}-${system}-job-viewer`,
        'ConfigMap/' + release,
        'Deployment/' + release,
        'PodDisruptionBudget/' + release,
        'Role/' + `${release}-leader`,
        'RoleBinding/' + `${release}-jobs`,
        'RoleBinding/' + `${release}-leader`,
        'Secret/' + release,
        'Service/' + release,
        'ServiceAccount/' + release,
        'ValidatingAdmissionPolicy/' + `${release}-${system}-jobs`,
        'ValidatingAdmissionPolicyBinding/' + `${release}-${system}-jobs`,
      ].sort(),
    );
    const crd = await admin.makeApiClient(ApiextensionsV1Api).readCustomResourceDefinition({ name: 'multiedgeinferences.sedna.io' });
    expect(crd.spec.versions.map((v) => v.name)).toEqual((yaml.load(readFileSync(CRD_PATH, 'utf8')) as any).spec.versions.map((v: any) => v.name));
  });

  it('least privilege (SubjectAccessReview): Secrets and Pods only in the managed namespace, nothing in kube-system', async () => {
    const expectations: Array<[string, string, string, string, string | undefined, boolean]> = [
      ['get', 'secrets', jobs, '', undefined, true],
      ['create', 'pods', jobs, '', undefined, true],
      ['watch', 'multiedgeinferences', jobs, 'sedna.io', undefined, true],
      ['update', 'multiedgeinferences', jobs, 'sedna.io', 'finalizers', true],
      ['update', 'leases', system, 'coordination.k8s.io', undefined, true],
      ['patch', 'pods', system, '', undefined, true],
      // Refused: other namespaces, the cluster scope, verbs the server never uses.
      ['get', 'secrets', 'kube-system', '', undefined, false],
      ['list', 'secrets', '', '', undefined, false],
      ['list', 'pods', '', '', undefined, false],
      ['create', 'pods', other, '', undefined, false],
      ['get', 'secrets', other, '', undefined, false],
      ['create', 'multiedgeinferences', other, 'sedna.io', undefined, false],
      ['get', 'secrets', system, '', undefined, false],
      ['update', 'secrets', jobs, '', undefined, false],
      ['patch', 'pods', jobs, '', undefined, false],
      ['create', 'pods', 'kube-system', '', undefined, false],
      ['update', 'leases', jobs, 'coordination.k8s.io', undefined, false],
      ['create', 'customresourcedefinitions', '', 'apiextensions.k8s.io', undefined, false],
    ];
    const got = [];
    for (const [verb, resource, ns, group, sub] of expectations) got.push(await can(verb, resource, ns, group, sub));
    expect(got).toEqual(expectations.map((e) => e[5]));
  });

  it('the server, configured by the installed ConfigMap and authenticated as its ServiceAccount, leads and runs a job; jobs elsewhere are refused', async () => {
    const core = admin.makeApiClient(CoreV1Api);
    const env: Record<string, string> = { ...(await core.readNamespacedConfigMap({ name: release, namespace: system })).data, POD_NAME: `${release}-0`, POD_NAMESPACE: system };
    // The replica's own pod (no kubelet here), labelled as the Deployment's template labels it.
    const deployment = (yaml.loadAll(await helm(['get', 'manifest', release, '-n', system])) as any[]).find((d) => d?.kind === 'Deployment');
    await core.createNamespacedPod({ namespace: system, body: { metadata: { name: `${release}-0`, labels: deployment.spec.template.metadata.labels }, spec: { containers: [{ name: 'server', image: 'mei/server' }] } } });
    const token = await core.createNamespacedServiceAccountToken({ name: release, namespace: system, body: { spec: { audiences: [], expirationSeconds: 3600 } } });
    const sa = new KubeConfig();
    sa.loadFromOptions({
      clusters: [{ name: 'c', server: kube().url, caData: Buffer.from(kube().caPem).toString('base64') }],
      users: [{ name: 'sa', token: token.status!.token }],
      contexts: [{ name: 'ctx', cluster: 'c', user: 'sa' }],
      currentContext: 'ctx',
    });
    const log = memoryLogger();
    const mode = await createKubernetesMode({ kc: sa, log, env });
    expect(mode.settings).toMatchObject({ namespaces: [jobs], leaseName: release, edgeNodeSelector: { 'node-role.kubernetes.io/edge': '' } });
    let leading = false;
    const elector = mode.campaign({ onStartedLeading: () => void (leading = true), onStoppedLeading: () => void (leading = false) })!;
    await waitFor('leader label', async () => leading && (await core.readNamespacedPod({ name: `${release}-0`, namespace: system })).metadata?.labels?.[LEADER_LABEL] === 'true');
    expect(elector.health()).toEqual({ ready: true, role: 'leader' });

    const { backend, runtime } = mode;
    const seen: string[] = [];
    const stop = await backend.watch((ev) => seen.push(`${ev.type} ${ev.object.metadata.namespace}/${ev.object.metadata.name}`));
    const job = await backend.create({ ...baseJob('helm-job'), metadata: { name: 'helm-job', namespace: jobs } } as any);
    await runtime.ensure({ job, node: 'edge-1', token: 't', serverUrl: env.MEI_PUBLIC_URL! });
    await waitFor('worker listed', async () => (await runtime.list(`${jobs}/helm-job`)).length === 1);
    const pod = (await core.listNamespacedPod({ namespace: jobs, labelSelector: 'sedna.io/job-name=helm-job' })).items[0];
    expect(pod.spec?.nodeSelector).toEqual({ 'node-role.kubernetes.io/edge': '' });
    expect(pod.spec?.containers[0].image).toBe('mei/edge-agent:0.1.0');
    await runtime.remove(`${jobs}/helm-job`);
    await backend.delete(jobs, 'helm-job');
    await waitFor('watched', () => seen.includes(`ADDED ${jobs}/helm-job`));
    // Another namespace: refused by the server, naming the field, before the apiserver would refuse it.
    const err = await backend.create({ ...baseJob('elsewhere'), metadata: { name: 'elsewhere', namespace: other } } as any).catch((e) => e);
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).errors).toEqual([expect.objectContaining({ field: 'metadata.namespace', reason: 'FieldValueNotSupported' })]);
    expect(await backend.list(other)).toEqual([]);
    stop();
    await mode.recorder.flush();
    expect(log.lines.filter((l) => l.startsWith('warn') || l.startsWith('error'))).toEqual([]);
    await mode.close();
  });

  it('jobs made with kubectl by anyone but the server: user finalizers refused in the managed namespace (422 naming the field), not elsewhere', async () => {
    const jobsUrl = (ns: string) => `/apis/sedna.io/v1alpha1/namespaces/${ns}/multiedgeinferences?dryRun=All`;
    const body = (ns: string) => JSON.stringify({ ...baseJob('kubectl-job'), metadata: { name: 'kubectl-job', namespace: ns, finalizers: ['example.com/stuck'] } });
    // The admin of the cluster is not the server either; the apiserver loads a new policy asynchronously.
    const refused = await waitFor('the chart\'s policy to refuse', async () => {
      const r = await kubeRequest(kube(), jobsUrl(jobs), { method: 'POST', body: body(jobs) });
      return r.status === 422 && r;
    }, 60_000, 100);
    expect(JSON.parse(refused.body).message).toContain('metadata.finalizers: Forbidden: finalizers are set by the server, not by users');
    expect((await kubeRequest(kube(), jobsUrl(other), { method: 'POST', body: body(other) })).status).toBe(201);
  });

  it('upgrade keeps the CRD and the signing secret; uninstall keeps both', async () => {
    const apiext = admin.makeApiClient(ApiextensionsV1Api);
    const core = admin.makeApiClient(CoreV1Api);
    const crdUid = (await apiext.readCustomResourceDefinition({ name: 'multiedgeinferences.sedna.io' })).metadata!.uid;
    const secretBefore = (await core.readNamespacedSecret({ name: release, namespace: system })).data!.MEI_SECRET;
    const out = await helm(['upgrade', release, CHART, '-n', system, ...sets([...values, 'leaderElection.leaseDurationSeconds=20'])]);
    expect(out).toMatch(/STATUS: deployed/);
    expect((await core.readNamespacedConfigMap({ name: release, namespace: system })).data!.MEI_LEASE_DURATION_SECONDS).toBe('20');
    expect((await core.readNamespacedSecret({ name: release, namespace: system })).data!.MEI_SECRET).toBe(secretBefore);
    expect((await apiext.readCustomResourceDefinition({ name: 'multiedgeinferences.sedna.io' })).metadata!.uid).toBe(crdUid);
    await helm(['uninstall', release, '-n', system]);
    expect((await apiext.readCustomResourceDefinition({ name: 'multiedgeinferences.sedna.io' })).metadata!.uid).toBe(crdUid);
    expect((await core.readNamespacedSecret({ name: release, namespace: system })).data!.MEI_SECRET).toBe(secretBefore);
    await expect(core.readNamespacedConfigMap({ name: release, namespace: system })).rejects.toMatchObject({ code: 404 });
  });
});
