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
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
