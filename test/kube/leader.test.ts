// Leader election on a real coordination.k8s.io/v1 Lease: one leader at a time, a standby takes over when the
// leader dies (a SIGKILLed process, or one cut off from the apiserver) but never before its lease expired, and
// without waiting for the lease when the leader steps down; the leader's pod carries the label the Service
// selects. Assertions are about order and lease times, not how fast things happen (docs/testing.md).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { CoordinationV1Api, CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { LEADER_LABEL, LeaderElector } from '../../server/backends/kubernetes/leader.ts';
import { kubeConfigFor, useKube } from './cluster.ts';
import { freshNamespace, memoryLogger, startProxy, viaProxy, waitFor, type Proxy } from './support.ts';

const kube = useKube();
let kc: KubeConfig;
let ns: string;
// Long enough that a renewing leader keeps its lease on a saturated 2-core machine (renewDeadline 3.5 s).
const LEASE_S = 5;
const RETRY_MS = 250;
const log = memoryLogger();
const electors: LeaderElector[] = [];
let proxy: Proxy | undefined;
let child: ChildProcess | undefined;

beforeAll(async () => {
  kc = kubeConfigFor(kube());
  ns = await freshNamespace(kc, 'mei-leader');
});
afterAll(async () => {
  child?.kill('SIGKILL');
  await Promise.all(electors.map((e) => e.stop()));
  await proxy?.close();
});

interface Candidate {
  elector: LeaderElector;
  log: string[];
  startedAt: number[];
  stoppedAt: number[];
}

function candidate(identity: string, o: { lease?: string; kc?: KubeConfig; pod?: string; leaseSeconds?: number; onStart?: () => Promise<void> } = {}): Candidate {
  const c: Candidate = { log: [], startedAt: [], stoppedAt: [], elector: undefined as unknown as LeaderElector };
  c.elector = new LeaderElector(o.kc ?? kc, {
    namespace: ns,
    name: o.lease ?? 'mei-server',
    identity,
    leaseDurationSeconds: o.leaseSeconds ?? LEASE_S,
    renewDeadlineMs: 3500,
    retryPeriodMs: RETRY_MS,
    onStartedLeading: async () => {
      c.startedAt.push(Date.now());
      c.log.push('started');
      await o.onStart?.();
    },
    onStoppedLeading: (why) => void (c.stoppedAt.push(Date.now()), c.log.push(why)),
    pod: o.pod ? { namespace: ns, name: o.pod } : undefined,
    log,
  });
  electors.push(c.elector);
  return c;
}

const readLease = (name = 'mei-server') => kc.makeApiClient(CoordinationV1Api).readNamespacedLease({ name, namespace: ns });

describe('leader election on a Lease', () => {
  it('one leader; a standby takes over after the leader stops renewing, never before its lease expired', async () => {
    const a = candidate('server-a', { lease: 'crash' });
    const b = candidate('server-b', { lease: 'crash' });
    a.elector.start();
    await waitFor('a leads', () => a.elector.isLeader);
    b.elector.start();
    // Longer than the lease: a renewing leader keeps it.
    await new Promise((r) => setTimeout(r, LEASE_S * 1000 + 500));
    expect([a.elector.isLeader, b.elector.isLeader]).toEqual([true, false]);
    expect(b.elector.leader).toBe('server-a');
    const held = await readLease('crash');
    expect(held.spec).toMatchObject({ holderIdentity: 'server-a', leaseDurationSeconds: LEASE_S, leaseTransitions: 0 });

    const crashedAt = Date.now();
    await a.elector.abandon(); // no release, no callback: like a process that died
    // The last renewal the apiserver recorded (a may renew once more between this read and abandon(): later).
    const lastRenew = Date.parse(String((await readLease('crash')).spec!.renewTime));
    await waitFor('b leads', () => b.elector.isLeader, 120_000, 10);
    console.log(`[leader] standby took over ${b.startedAt[0] - crashedAt} ms after the leader stopped renewing (lease ${LEASE_S} s, retry ${RETRY_MS} ms)`);
    // Not before the lease could have expired: the standby must not steal a live lease (same clock: one machine;
    // renewTime has microsecond precision, Date.now() milliseconds).
    expect(b.startedAt[0]).toBeGreaterThanOrEqual(lastRenew + LEASE_S * 1000 - 1);
    const taken = await readLease('crash');
    expect(taken.spec).toMatchObject({ holderIdentity: 'server-b', leaseTransitions: 1 });
    expect(a.log).toEqual(['started']);
    await b.elector.stop();
    expect(b.log).toEqual(['started', 'stopped']);
  });

  it('stop() releases the lease: the standby leads at its next retry, not after leaseDuration', async () => {
    // A lease far longer than the wait below: b can only lead in time because a released it.
    const a = candidate('calm-a', { lease: 'handoff', leaseSeconds: 300 });
    const b = candidate('calm-b', { lease: 'handoff', leaseSeconds: 300 });
    a.elector.start();
    await waitFor('a leads', () => a.elector.isLeader);
    b.elector.start();
    await new Promise((r) => setTimeout(r, 3 * RETRY_MS));
    const t0 = Date.now();
    await a.elector.stop();
    expect((await readLease('handoff')).spec?.holderIdentity).not.toBe('calm-a');
    await waitFor('b leads (well before the 300 s lease could expire)', () => b.elector.isLeader, 120_000, 10);
    console.log(`[leader] handoff after release: ${Date.now() - t0} ms`);
    expect(a.log).toEqual(['started', 'stopped']);
    await b.elector.stop();
  });

  it('five candidates racing for a new lease: never two leaders at once', async () => {
    const cs = Array.from({ length: 5 }, (_, i) => candidate(`racer-${i}`, { lease: 'race' }));
    let maxLeaders = 0;
    const sample = () => (maxLeaders = Math.max(maxLeaders, cs.filter((c) => c.elector.isLeader).length));
    const sampler = setInterval(sample, 5);
    cs.forEach((c) => c.elector.start());
    // Sample from the start until someone leads and then over several more retry rounds of the others.
    await waitFor('a leader', () => cs.some((c) => c.elector.isLeader));
    const rounds = cs.map((c) => c.elector).filter((e) => !e.isLeader);
    await new Promise((r) => setTimeout(r, 8 * RETRY_MS));
    clearInterval(sampler);
    sample();
    expect(rounds).toHaveLength(4);
    expect(maxLeaders).toBe(1);
    const holder = (await readLease('race')).spec?.holderIdentity;
    expect(cs.filter((c) => c.elector.isLeader).map((c) => c.elector.leader)).toEqual([holder]);
    await Promise.all(cs.map((c) => c.elector.stop()));
  });

  it('a leader cut off from the apiserver stops leading before the standby takes over', async () => {
    proxy = await startProxy(Number(new URL(kube().url).port));
    const a = candidate('island-a', { lease: 'partition', kc: viaProxy(kc, proxy) });
    const b = candidate('island-b', { lease: 'partition' });
    a.elector.start();
    await waitFor('a leads', () => a.elector.isLeader);
    b.elector.start();
    await new Promise((r) => setTimeout(r, 2 * RETRY_MS));
    const cutAt = Date.now();
    proxy.cut();
    await waitFor('a gives up', () => !a.elector.isLeader, 120_000, 10);
    expect(a.log).toEqual(['started', 'lost']);
    await waitFor('b leads', () => b.elector.isLeader, 120_000, 10);
    console.log(`[leader] partitioned leader stopped after ${a.stoppedAt[0] - cutAt} ms; standby led after ${b.startedAt[0] - cutAt} ms`);
    // Never two leaders: the cut-off leader gave up before the standby started.
    expect(a.stoppedAt[0]).toBeLessThan(b.startedAt[0]);
    await b.elector.stop();
    await a.elector.stop();
  });

  it('takes over from a SIGKILLed leader process', async () => {
    const script = fileURLToPath(new URL('./fixtures/leader-child.ts', import.meta.url));
    child = spawn(process.execPath, ['--import', 'tsx', script, kube().kubeconfigPath, ns, 'process-a', String(LEASE_S)], { stdio: ['ignore', 'pipe', 'pipe'] });
    const lines: string[] = [];
    createInterface({ input: child.stdout! }).on('line', (l) => lines.push(l));
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    await waitFor(`the child process to lead (stderr: ${stderr})`, () => lines.includes('LEADING process-a'), 120_000);
    const b = candidate('process-b');
    b.elector.start();
    await new Promise((r) => setTimeout(r, 3 * RETRY_MS));
    expect(b.elector.isLeader).toBe(false);
    const killedAt = Date.now();
    child.kill('SIGKILL');
    await waitFor('b leads', () => b.elector.isLeader, 120_000, 10);
    console.log(`[leader] took over from a SIGKILLed process after ${b.startedAt[0] - killedAt} ms (lease ${LEASE_S} s)`);
    expect((await readLease()).spec?.holderIdentity).toBe('process-b');
    await b.elector.stop();
  });

  it('labels the leader pod for the Service and clears the label when it stops leading', async () => {
    const core = kc.makeApiClient(CoreV1Api);
    for (const name of ['mei-server-0', 'mei-server-1']) {
      await core.createNamespacedPod({
        namespace: ns,
        body: { metadata: { name, labels: { app: 'mei-server', [LEADER_LABEL]: 'true' } }, spec: { containers: [{ name: 'server', image: 'mei/server' }] } },
      });
    }
    const label = async (name: string) => (await core.readNamespacedPod({ name, namespace: ns })).metadata?.labels?.[LEADER_LABEL];
    const a = candidate('pod-a', { lease: 'labels', pod: 'mei-server-0' });
    const b = candidate('pod-b', { lease: 'labels', pod: 'mei-server-1' });
    a.elector.start();
    await waitFor('a leads', () => a.elector.isLeader);
    b.elector.start();
    // A stale label (from a pod that led before a restart) is cleared by the candidate itself.
    await waitFor('labels', async () => (await label('mei-server-0')) === 'true' && (await label('mei-server-1')) === undefined);
    await a.elector.stop();
    await waitFor('the label moved to b', async () => (await label('mei-server-0')) === undefined && (await label('mei-server-1')) === 'true');
    await b.elector.stop();
    expect(await label('mei-server-1')).toBeUndefined();
  });

  it('labels its pod and turns ready only once its controllers have started; renews meanwhile', async () => {
    const core = kc.makeApiClient(CoreV1Api);
    await core.createNamespacedPod({ namespace: ns, body: { metadata: { name: 'slow-start-0' }, spec: { containers: [{ name: 'server', image: 'mei/server' }] } } });
    const label = async () => (await core.readNamespacedPod({ name: 'slow-start-0', namespace: ns })).metadata?.labels?.[LEADER_LABEL];
    let finishStart!: () => void;
    const controllersStarted = new Promise<void>((r) => (finishStart = r));
    const a = candidate('slow-a', { lease: 'slow-start', pod: 'slow-start-0', onStart: () => controllersStarted });
    a.elector.start();
    await waitFor('a leads', () => a.elector.isLeader);
    expect(a.elector.health()).toMatchObject({ ready: false, role: 'starting' });
    // The controllers take longer than the lease: the leader keeps renewing while they start.
    const renewBefore = String((await readLease('slow-start')).spec!.renewTime);
    await waitFor('a renewal while starting', async () => String((await readLease('slow-start')).spec!.renewTime) !== renewBefore);
    expect(await label()).toBeUndefined();
    expect(a.elector.role).toBe('starting');
    finishStart();
    await waitFor('the label once started', async () => (await label()) === 'true');
    expect(a.elector.health()).toEqual({ ready: true, role: 'leader' });
    await a.elector.stop();
    expect(await label()).toBeUndefined();
    expect(a.elector.health()).toEqual({ ready: true, role: 'standby' });
  });

  it('a leader cut off from the apiserver turns unready, and the next leader removes its stale label', async () => {
    const core = kc.makeApiClient(CoreV1Api);
    for (const name of ['cut-0', 'cut-1']) {
      await core.createNamespacedPod({ namespace: ns, body: { metadata: { name }, spec: { containers: [{ name: 'server', image: 'mei/server' }] } } });
    }
    const label = async (name: string) => (await core.readNamespacedPod({ name, namespace: ns })).metadata?.labels?.[LEADER_LABEL];
    const cutProxy = await startProxy(Number(new URL(kube().url).port));
    try {
      const a = candidate('cut-a', { lease: 'cut', pod: 'cut-0', kc: viaProxy(kc, cutProxy) });
      const b = candidate('cut-b', { lease: 'cut', pod: 'cut-1' });
      a.elector.start();
      await waitFor('a labelled', async () => (await label('cut-0')) === 'true');
      b.elector.start();
      cutProxy.cut();
      // Unready while it still holds the lease (before stepping down), so the Service stops sending to it.
      await waitFor('a unready', () => !a.elector.health().ready, 120_000, 10);
      const unreadyWhileLeading = a.elector.isLeader;
      await waitFor('a gives up', () => a.log.includes('lost'), 120_000, 10);
      expect(unreadyWhileLeading).toBe(true);
      expect(a.log).toEqual(['started', 'lost']);
      // a could not remove its own label; b does, once its controllers run.
      expect(await label('cut-0')).toBe('true');
      await waitFor('b leads and labelled', async () => b.elector.isLeader && (await label('cut-1')) === 'true');
      await waitFor('the stale label removed', async () => (await label('cut-0')) === undefined);
      expect(log.lines.some((l) => l.includes('removing the stale') && l.includes('cut-0'))).toBe(true);
      await b.elector.stop();
      await a.elector.stop();
    } finally {
      await cutProxy.close();
    }
  });
});
