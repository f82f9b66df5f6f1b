// Starts the real MEI server (`node --import tsx server/main.ts`) on a free port with a temporary state
// directory, for integration tests. Next runs in dev mode in a side build directory (MEI_NEXT_DIST_DIR),
// so a developer's own server or build in .next is left alone; route handlers compile on first request.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** A request to the test server: status, the body parsed as JSON (or the text when it is not), content type. */
export async function fetchJson(url: string, init: RequestInit): Promise<{ status: number; json: any; type: string }> {
  const res = await fetch(url, init);
  const text = await res.text();
  let json: any;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = text;
  }
  return { status: res.status, json, type: res.headers.get('content-type') ?? '' };
}

export interface ServerProcess {
  url: string;
  stateDir: string;
  child: ChildProcess;
  /** Everything the server printed so far (shown when a test fails). */
  output(): string;
  stop(): Promise<number | null>;
}

/** `at`: a fixed port and state directory (a restart of the same server), default a free port and a new directory. */
export async function startServer(env: Record<string, string>, readyTimeoutMs = 240_000, at: { port?: number; stateDir?: string } = {}): Promise<ServerProcess> {
  const port = at.port ?? (await freePort());
  const stateDir = at.stateDir ?? mkdtempSync(path.join(tmpdir(), 'mei-int-'));
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'server/main.ts')], {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      NODE_ENV: 'development',
      NEXT_TELEMETRY_DISABLED: '1',
      PORT: String(port),
      HOST: '127.0.0.1',
      MEI_DATA_HOME: stateDir,
      MEI_NEXT_DIST_DIR: '.mei/next-integration',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + readyTimeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode} before it was ready:\n${out}`);
    try {
      const res = await fetch(`${url}/api/health`, { signal: AbortSignal.timeout(30_000) });
      if (res.status === 200) break;
    } catch {
      // not listening yet, or Next still compiling the route
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`server not healthy within ${readyTimeoutMs} ms:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  return {
    url,
    stateDir,
    child,
    output: () => out,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}
