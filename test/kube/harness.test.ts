// The harness itself: it never reports success without real binaries, honours
// KUBEBUILDER_ASSETS like envtest, and leaves no processes or files behind.
import { describe, it, expect } from 'vitest';
import { mkdtemp, rm, symlink } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:net';
import { ensureKubeAssets, startKubeApiServer, kubeRequest } from './harness.ts';
import { useKube } from './cluster.ts';

const kube = useKube();

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
const portOpen = (port: number) =>
  new Promise<boolean>((res) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => (s.destroy(), res(true)));
    s.once('error', () => res(false));
  });

describe('kube harness', () => {
  it('fails with the build error when the binaries are missing and cannot be built', async () => {
    const emptyCache = await mkdtemp(join(tmpdir(), 'mei-kube-cache-'));
    try {
      // No Go on PATH and an empty cache: the build cannot succeed, so neither may the harness.
      const env = { ...process.env, XDG_CACHE_HOME: emptyCache, KUBEBUILDER_ASSETS: '', PATH: '/usr/bin:/bin' };
      await expect(ensureKubeAssets({ env, verbose: false })).rejects.toThrow(/kube-apiserver is not available:[\s\S]*go is not installed/);
    } finally {
      await rm(emptyCache, { recursive: true, force: true });
    }
  });

  it('uses KUBEBUILDER_ASSETS when it holds kube-apiserver and etcd', async () => {
    const assets = await mkdtemp(join(tmpdir(), 'mei-kube-assets-'));
    try {
      for (const bin of ['kube-apiserver', 'etcd']) await symlink(join(kube().assetsDir, bin), join(assets, bin));
      const env = { ...process.env, KUBEBUILDER_ASSETS: assets, PATH: '/usr/bin:/bin' };
      expect(await ensureKubeAssets({ env, verbose: false })).toBe(assets);
    } finally {
      await rm(assets, { recursive: true, force: true });
    }
  });

  it('serves /version of the Kubernetes release pinned in test/kube-harness/go.mod', async () => {
    const r = await kubeRequest(kube(), '/version');
    expect(r.status).toBe(200);
    const pinned = /^require k8s\.io\/kubernetes (v\S+)$/m.exec(readFileSync(new URL('../kube-harness/go.mod', import.meta.url), 'utf8'))?.[1];
    expect(pinned).toMatch(/^v1\.\d+\.\d+$/);
    // Binaries from KUBEBUILDER_ASSETS may be any release; built ones are stamped with the pinned one.
    if (!process.env.KUBEBUILDER_ASSETS) expect(JSON.parse(r.body).gitVersion).toBe(pinned);
  });

  it('stop() ends etcd and kube-apiserver and removes the temp dir', async () => {
    const s = await startKubeApiServer();
    const port = Number(new URL(s.url).port);
    expect([alive(s.pids.etcd), alive(s.pids.apiserver), await portOpen(port), existsSync(s.dir)]).toEqual([true, true, true, true]);
    await s.stop();
    expect([alive(s.pids.etcd), alive(s.pids.apiserver), await portOpen(port), existsSync(s.dir)]).toEqual([false, false, false, false]);
  });
});
