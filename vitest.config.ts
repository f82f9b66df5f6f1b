// Unit and integration tests of the dashboard/server and the edge agent. Kubernetes tests have their own
// config (test/kube/vitest.config.ts: one real kube-apiserver for the whole run); browser e2e is Playwright.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      {
        extends: true,
        test: { name: 'unit', include: ['test/unit/**/*.test.ts', 'contracts/**/*.test.ts'], testTimeout: 120_000 },
      },
      {
        extends: true,
        test: { name: 'agent', include: ['edge-agent/test/**/*.test.ts', 'vision/test/**/*.test.ts', 'tools/test/**/*.test.ts'], testTimeout: 300_000, hookTimeout: 300_000 },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          testTimeout: 600_000,
          hookTimeout: 600_000,
          // Each file starts real servers and processes; two cores cannot run many at once.
          fileParallelism: false,
        },
      },
    ],
    pool: 'forks',
    maxWorkers: 2,
    // Ceilings only bound a hang: a saturated 2-core machine runs these several times slower than an idle one,
    // and no test asserts how much happens within a wall-clock window (docs/testing.md).
    expect: { poll: { timeout: 60_000, interval: 50 } },
  },
});
