// Unit and integration tests of the dashboard/server and the edge agent. Kubernetes tests have their own
// config (test/kube/vitest.config.ts: one real kube-apiserver for the whole run); browser e2e is Playwright.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      {
        extends: true,
        test: { name: 'unit', include: ['test/unit/**/*.test.ts', 'contracts/**/*.test.ts'], testTimeout: 30_000 },
      },
      {
        extends: true,
        test: { name: 'agent', include: ['edge-agent/test/**/*.test.ts'], testTimeout: 120_000, hookTimeout: 120_000 },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          testTimeout: 180_000,
          hookTimeout: 300_000,
          // Each file starts real servers and processes; two cores cannot run many at once.
          fileParallelism: false,
        },
      },
    ],
    pool: 'forks',
    maxWorkers: 2,
  },
});
