// A live-view server for tests over real Socket.IO on TCP: socket server + LiveHub + controllers on the
// in-memory fake backend and fake runtime (mock: no worker processes), observations through the real ingest
// service on a real in-memory PGlite ingest log. Agents are raw
// Socket.IO clients with real tokens; browsers are /ui clients with real session cookies that acknowledge
// every live message (at once, or after a delay to act as a busy browser) and record what they got.
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'vitest';
import { io as connect, type Socket } from 'socket.io-client';
import type { Server } from 'socket.io';
import type { LiveFrame, LiveIdentities, LivePreview, LiveThumbnail, MultiEdgeInferenceInput, MultiEdgeInferenceSpec } from '@mei/contracts';
import { AgentTokens } from '../../server/auth/agent-tokens.ts';
import { Sessions } from '../../server/auth/sessions.ts';
import { silentLogger } from '../../server/log.ts';
import { ControllerManager } from '../../server/controllers/manager.ts';
import { LiveHub } from '../../server/live/live-hub.ts';
import { IngestService } from '../../server/ingest/ingest-service.ts';
import { pgliteSqlClient } from '../../server/store/db.ts';
import { runMigrations } from '../../server/store/migrate.ts';
import { PGlite } from '@electric-sql/pglite';
import { attachRealtime } from '../../server/realtime/socket-server.ts';
import type { SocketLimits } from '../../server/realtime/socket-limits.ts';
import { FakeRuntime } from '../support/fake-runtime.ts';
import { MemoryBackend } from '../support/memory-backend.ts';

export interface LiveBrowser {
  socket: Socket;
  /** The session cookie (name=value) it connected with. */
  cookie: string;
  /** With the local time each frame arrived (for latency checks). */
  frames: Array<LiveFrame & { receivedAt: number }>;
  identities: LiveIdentities[];
  previews: LivePreview[];
  thumbnails: LiveThumbnail[];
  /** A browser made with acks 'held': acknowledge everything it got so far, and from now on at once. */
  release(): void;
}

export interface LiveHarness {
  url: string;
  hub: LiveHub;
  ingest: IngestService;
  backend: MemoryBackend;
  tokens: AgentTokens;
  manager: ControllerManager;
  /** The Socket.IO server (to look at a client's server-side socket). */
  io: Server;
  sessions: Sessions;
  /** Creates a job (cameras a, b on edge-1 and c on edge-2 unless `spec` says otherwise) and waits for the informer. */
  createJob(name: string, namespace?: string, spec?: Partial<MultiEdgeInferenceSpec>): ReturnType<MemoryBackend['create']>;
  rawAgent(jobKey: string, uid: string, node?: string): Promise<Socket>;
  /** A /ui client of `user` (namespaces: see `users`) that acknowledges live messages after `ackDelayMs`. */
  /** acks 'held': the browser acknowledges nothing until release() (a stalled tab, whatever the machine's speed). */
  browser(user: string, acks?: 'immediate' | 'held'): Promise<LiveBrowser>;
  close(): Promise<void>;
}

/** admin sees every namespace; alice only team-a; bob only team-b. */
export const users = {
  get: (u: string) => ({ username: u, namespaces: u === 'admin' ? ['*'] : u === 'bob' ? ['team-b'] : ['team-a'] }),
};

export const ask = (s: Socket, event: string, payload: unknown) => s.timeout(3000).emitWithAck(event, payload);

const connected = (s: Socket) => new Promise<void>((resolve, reject) => (s.connected ? resolve() : (s.once('connect', () => resolve()), s.once('connect_error', reject))));

export async function startLiveServer(o: { limits?: Partial<SocketLimits>; sessionTtlMs?: number } = {}): Promise<LiveHarness> {
  const tokens = new AgentTokens(Buffer.alloc(32, 7));
  const sessions = new Sessions(Buffer.alloc(32, 7), users, { ttlMs: o.sessionTtlMs });
  const sockets: Socket[] = [];
  const backend = new MemoryBackend();
  const runtime = new FakeRuntime();
  runtime.initialPhase = 'Running';
  let url = '';
  const manager = new ControllerManager({ backend, runtime, mintToken: (c) => tokens.mint(c), serverUrl: () => url, log: silentLogger });
  const hub = new LiveHub({ jobs: manager.jobs, identityCounts: manager.reports, log: silentLogger, tickMs: 50, statusEveryMs: 100, refreshMs: 300 });
  const pglite = new PGlite();
  const sql = pgliteSqlClient(pglite);
  await runMigrations(sql);
  const ingest = new IngestService({ sql, live: hub, jobs: manager.jobs, log: silentLogger });
  const http: HttpServer = createServer();
  const rt = attachRealtime(http, { backend, controllers: manager, tokens, sessions, live: hub, ingest, limits: o.limits, log: silentLogger });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', () => r()));
  url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  await manager.start();
  await ingest.start();

  return {
    url,
    hub,
    ingest,
    backend,
    tokens,
    manager,
    io: rt.io,
    sessions,
    async createJob(name, namespace = 'default', spec = {}) {
      const input: MultiEdgeInferenceInput = {
        metadata: { name, namespace },
        spec: {
          cameras: [
            { name: 'a', node: 'edge-1', source: '/v/a.mp4', overlaps: ['b'] },
            { name: 'b', node: 'edge-1', source: '/v/b.mp4' },
            { name: 'c', node: 'edge-2', source: '/v/c.mp4' },
          ],
          models: { detector: { decoder: 'yolox' } },
          ...spec,
        },
      };
      const job = await backend.create(input);
      await expect.poll(() => manager.jobs.get(`${namespace}/${name}`)?.metadata.uid).toBe(job.metadata.uid);
      return job;
    },
    async rawAgent(jobKey, uid, node = 'edge-1') {
      const s = connect(`${url}/agent`, { auth: { token: tokens.mint({ jobKey, uid, node }) }, transports: ['websocket'], reconnection: false });
      sockets.push(s);
      await connected(s);
      return s;
    },
    async browser(user, acks = 'immediate') {
      const cookie = sessions.create(user).split(';')[0];
      const socket = connect(`${url}/ui`, { transports: ['websocket'], reconnection: false, extraHeaders: { cookie } });
      sockets.push(socket);
      let held: Array<() => void> | undefined = acks === 'held' ? [] : undefined;
      const release = () => {
        const pending = held ?? [];
        held = undefined;
        pending.forEach((fn) => fn());
      };
      const b: LiveBrowser = { socket, cookie, frames: [], identities: [], previews: [], thumbnails: [], release };
      const ack = (fn: () => void) => (held ? held.push(fn) : fn());
      socket.on('live:frame', (f: LiveFrame, done: () => void) => (b.frames.push({ ...f, receivedAt: Date.now() }), ack(done)));
      socket.on('live:identities', (m: LiveIdentities, done: () => void) => (b.identities.push(m), ack(done)));
      socket.on('live:preview', (p: LivePreview, done: () => void) => (b.previews.push(p), ack(done)));
      socket.on('live:thumbnail', (t: LiveThumbnail, done: () => void) => (b.thumbnails.push(t), ack(done)));
      await connected(socket);
      return b;
    },
    async close() {
      sockets.forEach((s) => s.disconnect());
      await ingest.close();
      hub.close();
      await manager.stop();
      await rt.close();
      http.close();
      await pglite.close();
    },
  };
}
