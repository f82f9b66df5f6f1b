// Starts the real MEI server for the browser tests (unless MEI_E2E_URL points at one already):
// `node --import tsx server/main.ts` on a free port, embedded mode, a fresh data dir, a known admin
// password, no demo job; the production build when there is one, else Next dev (MEI_E2E_NEXT forces one). Waits for /api/health
// and returns the teardown that stops the server and its agent processes.
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const HEALTH_TIMEOUT_MS = Number(process.env.MEI_E2E_START_TIMEOUT_MS ?? 240_000);

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** MEI_*_DIR from the environment, else the repo's ./data|./models, else a sibling ../shared/ checkout. */
function sharedDir(envName: string, sub: string): string | undefined {
  if (process.env[envName]) return process.env[envName];
  for (const dir of [path.join(REPO, sub), path.join(REPO, '..', 'shared', sub)]) if (existsSync(dir)) return dir;
  return undefined;
}

function tail(file: string, lines = 60): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

async function waitForHealth(url: string, child: ChildProcess, log: string): Promise<void> {
  const deadline = Date.now() + HEALTH_TIMEOUT_MS;
  let last = '';
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`MEI server exited (${child.exitCode ?? child.signalCode}) before it was healthy. Log ${log}:\n${tail(log)}`);
    }
    try {
      const res = await fetch(`${url}/api/health`, { signal: AbortSignal.timeout(5000) });
      if (res.ok) return;
      last = `HTTP ${res.status}`;
    } catch (e) {
      last = (e as Error).message;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`MEI server not healthy at ${url}/api/health after ${HEALTH_TIMEOUT_MS} ms (last: ${last}). Log ${log}:\n${tail(log)}`);
}

function stop(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null || !child.pid) return resolve();
    const timer = setTimeout(() => {
      // The server did not stop in time: kill its whole process group (agents included).
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {}
    }, 15_000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    // SIGTERM to the group: the server shuts its agents down; agents get it too in case it cannot.
    try {
      process.kill(-child.pid, 'SIGTERM');
    } catch {
      resolve();
    }
  });
}

export default async function globalSetup(): Promise<(() => Promise<void>) | void> {
  process.env.MEI_E2E_USER ??= 'admin';
  if (process.env.MEI_E2E_URL) {
    if (!process.env.MEI_E2E_PASSWORD) throw new Error('MEI_E2E_URL is set: also set MEI_E2E_PASSWORD (the password of MEI_E2E_USER, default admin)');
    return;
  }
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const home = mkdtempSync(path.join(os.tmpdir(), 'mei-e2e-'));
  const log = path.join(home, 'server.log');
  const password = `e2e-${Math.random().toString(36).slice(2, 12)}`;
  // MEI_E2E_NEXT=dev|production forces one; by default the production build is used when it exists.
  const production = process.env.MEI_E2E_NEXT ? process.env.MEI_E2E_NEXT === 'production' : existsSync(path.join(REPO, process.env.MEI_NEXT_DIST_DIR || '.next', 'BUILD_ID'));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PORT: String(port),
    HOST: '127.0.0.1',
    MEI_DATA_HOME: home,
    MEI_ADMIN_USER: process.env.MEI_E2E_USER,
    MEI_ADMIN_PASSWORD: password,
    MEI_DEMO: '0',
    NODE_ENV: production ? 'production' : 'development',
    NEXT_TELEMETRY_DISABLED: '1',
    CHECKPOINT_DISABLE: '1',
  };
  // Embedded mode: a DATABASE_URL or kubeconfig from the caller's shell must not leak into the test server.
  delete env.DATABASE_URL;
  delete env.KUBECONFIG;
  const dataDir = sharedDir('MEI_DATA_DIR', 'data');
  const modelDir = sharedDir('MEI_MODEL_DIR', 'models');
  if (dataDir) env.MEI_DATA_DIR = dataDir;
  if (modelDir) env.MEI_MODEL_DIR = modelDir;

  const out = openSync(log, 'a');
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
    cwd: REPO,
    env,
    // Own process group, so teardown can stop the server and the agent processes it started.
    detached: true,
    stdio: ['ignore', out, out],
  });
  console.log(`[e2e] MEI server pid ${child.pid} on ${url} (${production ? 'production build' : 'next dev'}), data ${home}`);
  try {
    await waitForHealth(url, child, log);
  } catch (e) {
    await stop(child);
    throw e;
  }
  process.env.MEI_E2E_URL = url;
  process.env.MEI_E2E_PASSWORD = password;
  process.env.MEI_E2E_SERVER_LOG = log;

  return async () => {
    await stop(child);
    // Keep the server log next to the test results (traces, screenshots) for failures.
    const results = path.join(os.tmpdir(), 'mei-e2e-results');
    mkdirSync(results, { recursive: true });
    copyFileSync(log, path.join(results, 'server.log'));
    if (process.env.MEI_E2E_KEEP) console.log(`[e2e] kept ${home}`);
    else rmSync(home, { recursive: true, force: true });
  };
}
