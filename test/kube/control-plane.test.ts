// server/control-plane.ts with MEI_MODE=kubernetes against a real kube-apiserver: the control plane picks the
// Kubernetes backend and pod runtime, starts its controllers once it holds the leader lease, and releases the
// lease on close without treating that as a lost leadership.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CoordinationV1Api, CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { CRD_PATH } from '@mei/contracts/crd';
import { startControlPlane } from '../../server/control-plane.ts';
import { FINALIZER } from '../../server/controllers/main-controller.ts';
import { WORKER_SELECTOR } from '../../server/backends/kubernetes/pod-template.ts';
import { installCrd, kubeConfigFor, useKube } from './cluster.ts';
import { freshNamespace, memoryLogger, waitFor } from './support.ts';

const kube = useKube();
let kc: KubeConfig;
let stateDir: string;

beforeAll(async () => {
  kc = kubeConfigFor(kube());
  await installCrd(kc, CRD_PATH);
  stateDir = mkdtempSync(path.join(tmpdir(), 'mei-cp-'));
});
afterAll(() => {
  if (stateDir) rmSync(stateDir, { recursive: true, force: true });
});

describe('control plane in kubernetes mode', () => {
  it('leads, reconciles jobs into pods, and releases the lease on close', async () => {
    const system = await freshNamespace(kc, 'mei-sys');
    const ns = await freshNamespace(kc, 'mei-cp');
    const log = memoryLogger();
    let lost = 0;
    const env = {
      MEI_MODE: 'kubernetes',
      KUBECONFIG: kube().kubeconfigPath,
      POD_NAMESPACE: system,
      MEI_LEASE_DURATION_SECONDS: '5',
      MEI_PUBLIC_URL: 'http://mei.test:3000',
      MEI_SECRET: 'k'.repeat(40),
      MEI_ADMIN_PASSWORD: 'not-a-real-password-1',
    };
    const cp = await startControlPlane({ env: { NODE_ENV: 'test', ...env }, stateDir, serverUrl: () => 'http://mei.test:3000', log, onLostLeadership: () => void lost++ });
    try {
      expect(cp.mode).toBe('kubernetes');
      expect(cp.backend.mode).toBe('kubernetes');
      const lease = () => kc.makeApiClient(CoordinationV1Api).readNamespacedLease({ name: 'mei-server', namespace: system });
      await waitFor('the lease', async () => (await lease()).spec?.holderIdentity);
      await cp.backend.create({ metadata: { name: 'wired', namespace: ns }, spec: { cameras: [{ name: 'c', node: 'edge-1', source: 'rtsp://cam/s' }], models: { detector: { decoder: 'yolox' } } } });
      const core = kc.makeApiClient(CoreV1Api);
      await waitFor('the worker pod', async () => (await core.listNamespacedPod({ namespace: ns, labelSelector: WORKER_SELECTOR })).items.length === 1);
      // /api/health's source: the leader with its controllers running (they just reconciled the job).
      expect(cp.health?.()).toEqual({ ready: true, role: 'leader' });
      expect((await cp.backend.get(ns, 'wired'))!.metadata.finalizers).toEqual([FINALIZER]);
    } finally {
      await cp.close();
    }
    const after = await kc.makeApiClient(CoordinationV1Api).readNamespacedLease({ name: 'mei-server', namespace: system });
    expect(after.spec?.holderIdentity).toBe('');
    expect(lost).toBe(0);
    expect(log.lines.filter((l) => l.startsWith('error'))).toEqual([]);
  });
});
