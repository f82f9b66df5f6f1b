// A real MEI server process without the dashboard (MEI_DASHBOARD=off), with one job of `cameras` cameras over
// `nodes` edge nodes created in its store before it starts, on PGlite or a throw-away PostgreSQL server. The
// worker processes it starts are idle (the caller runs its own agents); tokens and browser sessions are
// minted with the server's secret. It can be SIGKILLed and started again on the same port and state. Used by
// the chaos harness and the ingest benchmark.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { MultiEdgeInferenceInput } from '@mei/contracts';
import { AgentTokens } from '../../server/auth/agent-tokens.ts';
import { Sessions } from '../../server/auth/sessions.ts';
import { openDatabase, type Database } from '../../server/store/db.ts';
import { createEmbeddedBackend } from '../../server/backends/embedded/job-backend.ts';
import { REPO_ROOT, freePort, startServer, type ServerProcess } from '../integration/server-process.ts';
import { startPostgres, type TestPostgres } from './postgres.ts';

const IDLE_AGENT = path.join(REPO_ROOT, 'test/integration/fixtures/idle-agent.mjs');

export interface HeadlessServerOptions {
  database: 'pglite' | 'postgresql';
  cameras: number;
  nodes: number;
  /** Where agents should connect (MEI_PUBLIC_URL), e.g. a proxy; default the server itself. */
  publicUrl?: (port: number) => Promise<string> | string;
  env?: Record<string, string>;
}

export interface HeadlessServer {
  jobKey: string;
  jobUid: string;
  port: number;
  stateDir: string;
  /** The running process (undefined between kill() and start()). */
  process?: ServerProcess;
  starts: number;
  /** Everything every start printed. */
  output(): string;
  start(): Promise<void>;
  /** SIGKILL, and wait for the exit. */
  kill(): Promise<void>;
  /** SIGTERM (graceful shutdown), and wait for the exit. */
  stop(): Promise<void>;
  tokenFor(node: string): string;
  /** A dashboard session cookie (`name=value`) of the admin. */
  adminCookie(): string;
  /** Opens the store (only while the server is stopped, for PGlite). */
  openStore(): Promise<Database>;
  cleanup(): Promise<void>;
}

export async function createHeadlessServer(o: HeadlessServerOptions): Promise<HeadlessServer> {
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mei-headless-'));
  const secret = randomBytes(24).toString('hex');
  let pg: TestPostgres | undefined;
  try {
    if (o.database === 'postgresql') pg = await startPostgres();
    const target = pg ? { url: pg.url } : { url: '', dataDir: path.join(stateDir, 'db') };
    const cameras = Array.from({ length: o.cameras }, (_, i) => ({ name: `cam-${i}`, node: `edge-${i % o.nodes}`, source: '/dev/null' }));
    const input: MultiEdgeInferenceInput = { metadata: { name: 'bench', namespace: 'default' }, spec: { cameras, models: { detector: { decoder: 'yolox' } } } };
    const db = await openDatabase(target);
    const job = await createEmbeddedBackend(db).create(input).finally(() => db.close());
    const port = await freePort();
    const env: Record<string, string> = {
      MEI_DASHBOARD: 'off',
      MEI_DEMO: '0',
      MEI_SECRET: secret,
      MEI_ADMIN_PASSWORD: randomBytes(12).toString('hex'),
      MEI_AGENT_COMMAND: JSON.stringify([process.execPath, IDLE_AGENT]),
      MEI_PUBLIC_URL: o.publicUrl ? await o.publicUrl(port) : `http://127.0.0.1:${port}`,
      NODE_ENV: 'production',
      DATABASE_URL: pg?.url ?? '',
      ...o.env,
    };
    const tokens = new AgentTokens(Buffer.from(secret, 'utf8'));
    const sessions = new Sessions(Buffer.from(secret, 'utf8'), { get: (u: string) => ({ username: u, namespaces: ['*'] }) });
    let past = '';
    const s: HeadlessServer = {
      jobKey: 'default/bench',
      jobUid: job.metadata.uid,
      port,
      stateDir,
      starts: 0,
      output: () => past + (s.process?.output() ?? ''),
      async start() {
        s.starts++;
        s.process = await startServer(env, 240_000, { port, stateDir });
      },
      async kill() {
        const p = s.process;
        if (!p) return;
        const exited = p.child.exitCode !== null || p.child.signalCode !== null ? Promise.resolve() : new Promise((r) => p.child.once('exit', r));
        p.child.kill('SIGKILL');
        await exited;
        past += p.output();
        s.process = undefined;
      },
      async stop() {
        const p = s.process;
        if (!p) return;
        await p.stop();
        past += p.output();
        s.process = undefined;
      },
      tokenFor: (node) => tokens.mint({ jobKey: 'default/bench', uid: job.metadata.uid, node }),
      adminCookie: () => sessions.create('admin').split(';')[0],
      openStore: () => openDatabase(target),
      async cleanup() {
        await s.kill();
        await pg?.stop();
        fs.rmSync(stateDir, { recursive: true, force: true });
      },
    };
    return s;
  } catch (err) {
    await pg?.stop();
    fs.rmSync(stateDir, { recursive: true, force: true });
    throw err;
  }
}
