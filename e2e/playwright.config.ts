// Browser tests against the real MEI server in Debian's Chromium (never `playwright install`).
// MEI_E2E_URL set: test that running server. Unset: global-setup.ts starts one on a free port with a
// throw-away data dir and exports MEI_E2E_URL before the workers (which re-read this file) start.
import { createHash } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { defineConfig } from '@playwright/test';

export default defineConfig({
  testDir: '.',
  testMatch: '*.spec.ts',
  globalSetup: './global-setup.ts',
  // Agents are real local processes loading ONNX models on a shared 2-core machine: be patient.
  timeout: 240_000,
  expect: { timeout: 60_000 },
  workers: 1,
  fullyParallel: false,
  retries: 0,
  forbidOnly: !!process.env.CI,
  reporter: [['list']],
  // One folder per checkout: two suites on one machine must not wipe each other's traces.
  outputDir: path.join(os.tmpdir(), `mei-e2e-results-${createHash('sha1').update(process.cwd()).digest('hex').slice(0, 8)}`),
  use: {
    baseURL: process.env.MEI_E2E_URL,
    trace: 'retain-on-failure',
    screenshot: 'only-on-failure',
    launchOptions: {
      executablePath: '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    },
  },
});
