// Kubernetes-mode tests against a real kube-apiserver + etcd on loopback.
// Run: npx vitest run --config test/kube/vitest.config.ts
import { defineConfig } from 'vitest/config';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

export default defineConfig({
  root,
  test: {
    include: ['test/kube/**/*.test.ts'],
    globalSetup: ['test/kube/global-setup.ts'],
    // All files share one apiserver; running them one at a time keeps them from
    // tripping over each other's cluster-scoped objects (CRDs, RBAC).
    fileParallelism: false,
    pool: 'forks',
    // Ceilings only bound a hang (docs/testing.md): under full CPU load the apiserver and agents are slow.
    testTimeout: 300_000,
    hookTimeout: 300_000,
    expect: { poll: { timeout: 60_000, interval: 50 } },
  },
});
