// The job watch survives a lost connection: it resumes from the last resourceVersion, and when etcd has
// compacted that history away (410 Gone) it relists and reports what changed meanwhile, deletes included.
// Its own apiserver runs with --watch-cache=false so a watch reaches etcd, whose compaction only we trigger
// through etcd's HTTP gateway; a TCP proxy between backend and apiserver cuts the connection.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeConfig } from '@kubernetes/client-node';
import type { WatchEvent } from '@mei/contracts';
import { CRD_PATH } from '@mei/contracts/crd';
import { KubernetesJobBackend } from '../../server/backends/kubernetes/job-backend.ts';
import { baseJob } from '../fixtures/invalid-specs.ts';
import { installCrd } from './cluster.ts';
import { startKubeApiServer, type KubeApiServer } from './harness.ts';
import { freshNamespace, startProxy, viaProxy as throughProxy, waitFor, type Proxy } from './support.ts';

let server: KubeApiServer;
let admin: KubeConfig;
let proxy: Proxy;


async function etcd(path: string, body: object): Promise<any> {
  const r = await fetch(`${server.etcdUrl}${path}`, { method: 'POST', body: JSON.stringify(body) });
  if (!r.ok) throw new Error(`etcd ${path}: ${r.status} ${await r.text()}`);
  return r.json();
}

/** Compacts etcd's history up to now: older resourceVersions can no longer be watched from. */
async function compactEtcd(): Promise<number> {
  const { header } = await etcd('/v3/kv/range', { key: Buffer.from('/').toString('base64') });
  await etcd('/v3/kv/compaction', { revision: header.revision, physical: true });
  return Number(header.revision);
}

beforeAll(async () => {
  server = await startKubeApiServer({ extraApiServerArgs: ['--watch-cache=false', '--etcd-compaction-interval=0'] });
  admin = new KubeConfig();
  admin.loadFromFile(server.kubeconfigPath);
  await installCrd(admin, CRD_PATH);
  proxy = await startProxy(Number(new URL(server.url).port));
}, 600_000);

afterAll(async () => {
  await proxy?.close();
  await server?.stop();
});

const viaProxy = () => throughProxy(admin, proxy);

const job = (name: string, ns: string) => ({ ...baseJob(name), metadata: { name, namespace: ns } }) as any;

describe('job watch across a lost connection (real apiserver, real etcd compaction)', () => {
  it('resumes from its resourceVersion after a short outage without relisting', async () => {
    const ns = await freshNamespace(admin, 'mei-resume');
    const writer = new KubernetesJobBackend(admin, { resyncMs: 0 });
    const watcher = new KubernetesJobBackend(viaProxy(), { resyncMs: 0, onError: () => {} });
    await writer.create(job('r-1', ns));
    const events: string[] = [];
    const stop = await watcher.watch((ev) => ev.object.metadata.namespace === ns && events.push(`${ev.type} ${ev.object.metadata.name}`));
    expect(events).toEqual(['ADDED r-1']);
    proxy.cut();
    await writer.create(job('r-2', ns));
    await writer.delete(ns, 'r-1');
    await new Promise((r) => setTimeout(r, 300));
    proxy.restore();
    await waitFor('the changes made during the outage', () => events.length >= 3);
    expect(events).toEqual(['ADDED r-1', 'ADDED r-2', 'DELETED r-1']);
    expect(watcher.jobInformer!.lists).toBe(1);
    stop();
    await Promise.all([watcher.close(), writer.close()]);
  });

  it('relists after 410 Gone and reports deletes, adds and updates missed meanwhile', async () => {
    const ns = await freshNamespace(admin, 'mei-relist');
    const writer = new KubernetesJobBackend(admin, { resyncMs: 0 });
    const watcher = new KubernetesJobBackend(viaProxy(), { resyncMs: 0, onError: () => {} });
    const a = await writer.create(job('a', ns));
    const b = await writer.create(job('b', ns));
    const events: WatchEvent[] = [];
    const stop = await watcher.watch((ev) => ev.object.metadata.namespace === ns && events.push(ev));
    expect(events.map((e) => `${e.type} ${e.object.metadata.name}`)).toEqual(['ADDED a', 'ADDED b']);

    proxy.cut();
    await writer.delete(ns, 'a');
    await writer.create(job('c', ns));
    const b2 = await writer.updateStatus({ ...b, status: { phase: 'Running' } });
    const revision = await compactEtcd();
    expect(revision).toBeGreaterThan(Number(b2.metadata.resourceVersion) - 1);
    const t0 = Date.now();
    proxy.restore();

    await waitFor('relist results', () => events.length >= 5, 120_000);
    const tail = events.slice(2);
    expect(tail.map((e) => `${e.type} ${e.object.metadata.name}`).sort()).toEqual(['ADDED c', 'DELETED a', 'MODIFIED b']);
    expect(tail.find((e) => e.type === 'MODIFIED')!.object).toEqual(b2);
    expect(tail.find((e) => e.type === 'DELETED')!.object.metadata.uid).toBe(a.metadata.uid);
    // The list that replaced the expired watch is the second one.
    expect(watcher.jobInformer!.lists).toBe(2);
    console.log(`[relist] caught up ${Date.now() - t0} ms after the connection came back`);

    // And it keeps watching afterwards.
    await writer.delete(ns, 'c');
    await waitFor('DELETED c', () => events.some((e) => e.type === 'DELETED' && e.object.metadata.name === 'c'));
    stop();
    await Promise.all([watcher.close(), writer.close()]);
  });

  it('resync re-delivers every cached job as MODIFIED (level-triggered safety net)', async () => {
    const ns = await freshNamespace(admin, 'mei-resync');
    const writer = new KubernetesJobBackend(admin, { resyncMs: 0 });
    const watcher = new KubernetesJobBackend(admin, { resyncMs: 300 });
    const created = await writer.create(job('steady', ns));
    const events: WatchEvent[] = [];
    const stop = await watcher.watch((ev) => ev.object.metadata.namespace === ns && events.push(ev));
    await waitFor('two resyncs', () => events.filter((e) => e.type === 'MODIFIED').length >= 2, 120_000);
    expect(events.every((e) => e.object.metadata.resourceVersion === created.metadata.resourceVersion)).toBe(true);
    stop();
    await Promise.all([watcher.close(), writer.close()]);
  });
});
