// The agent connection over real Socket.IO on TCP: server realtime layer + controllers on the in-memory
// fake backend and fake runtime (mock: no database, no processes) + the real edge agent (transport, task
// handling, heartbeats) with a fake camera runner (mock: no video).
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { io as connect, type Socket } from 'socket.io-client';
import type { CameraReport, MultiEdgeInferenceInput, TaskAssignmentInput, WatchEvent } from '@mei/contracts';
import { AgentTokens } from '../../server/auth/agent-tokens.ts';
import { Sessions } from '../../server/auth/sessions.ts';
import { silentLogger } from '../../server/log.ts';
import { ControllerManager } from '../../server/controllers/manager.ts';
import { attachRealtime } from '../../server/realtime/socket-server.ts';
import { EdgeAgent } from '../../edge-agent/src/agent/agent.ts';
import type { CameraRunner, CameraRunnerContext } from '../../edge-agent/src/agent/camera-runner.ts';
import { AgentConnection } from '../../edge-agent/src/transport/connection.ts';
import { FakeRuntime } from '../support/fake-runtime.ts';
import { MemoryBackend } from '../support/memory-backend.ts';

let http: HttpServer;
let url: string;
let backend: MemoryBackend;
let runtime: FakeRuntime;
let manager: ControllerManager;
let closeRealtime: () => Promise<void>;
const tokens = new AgentTokens(Buffer.alloc(32, 5));
const users = { get: (u: string) => ({ username: u, namespaces: u === 'admin' ? ['*'] : ['team-a'] }) };
const sessions = new Sessions(Buffer.alloc(32, 5), users);
const sockets: Socket[] = [];

const input = (name: string, namespace = 'default', cameras = ['cam-1', 'cam-2']): MultiEdgeInferenceInput => ({
  metadata: { name, namespace },
  spec: { cameras: cameras.map((c) => ({ name: c, node: 'edge-1', source: `/v/${c}.mp4` })), models: { detector: { decoder: 'yolox' } } },
});

/** A camera that "streams" as soon as it starts (mock). */
class FakeRunner implements CameraRunner {
  readonly camera: string;
  state: CameraReport['state'] = 'Pending';
  stopped = false;
  constructor(private readonly ctx: CameraRunnerContext) {
    this.camera = ctx.camera.name;
  }
  async start() {
    this.state = 'Streaming';
    this.ctx.onChange();
  }
  async stop() {
    this.stopped = true;
  }
  report(): CameraReport {
    return { name: this.camera, state: this.state, fps: 10, framesProcessed: 5 };
  }
}

function rawAgent(token: unknown): Socket {
  const s = connect(`${url}/agent`, { auth: { token }, transports: ['websocket'], reconnection: false });
  sockets.push(s);
  return s;
}
const connectError = (s: Socket) => new Promise<string>((resolve) => s.once('connect_error', (e) => resolve(e.message)));
const connected = (s: Socket) => new Promise<void>((resolve, reject) => (s.once('connect', () => resolve()), s.once('connect_error', reject)));

beforeAll(async () => {
  backend = new MemoryBackend();
  runtime = new FakeRuntime();
  runtime.initialPhase = 'Running';
  manager = new ControllerManager({ backend, runtime, mintToken: (c) => tokens.mint(c), serverUrl: () => url, log: silentLogger });
  http = createServer();
  closeRealtime = attachRealtime(http, { backend, controllers: manager, tokens, sessions, log: silentLogger }).close;
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', () => r()));
  url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  await manager.start();
});

afterAll(async () => {
  sockets.forEach((s) => s.disconnect());
  await manager.stop();
  await closeRealtime();
  http.close();
});

describe('agent namespace (in-memory fake backend, fake camera runner)', () => {
  it('refuses missing, forged and stale tokens with connect_error "unauthorized"', async () => {
    const job = await backend.create(input('refuse'));
    expect(await connectError(rawAgent(undefined))).toBe('unauthorized');
    expect(await connectError(rawAgent('garbage'))).toBe('unauthorized');
    expect(await connectError(rawAgent(new AgentTokens(Buffer.alloc(32, 6)).mint({ jobKey: 'default/refuse', uid: job.metadata.uid, node: 'edge-1' })))).toBe('unauthorized');
    expect(await connectError(rawAgent(tokens.mint({ jobKey: 'default/refuse', uid: job.metadata.uid, node: 'edge-2' })))).toBe('unauthorized');
    expect(await connectError(rawAgent(tokens.mint({ jobKey: 'default/refuse', uid: 'other-uid', node: 'edge-1' })))).toBe('unauthorized');
  });

  it('a store that cannot answer (mock: the backend read throws) does not get a valid token refused: the synced job cache decides', async () => {
    const job = await backend.create(input('store-down'));
    await expect.poll(() => manager.jobs.get('default/store-down')?.metadata.uid).toBe(job.metadata.uid);
    const get = backend.get;
    backend.get = async () => {
      throw new Error('apiserver unreachable (mock)');
    };
    try {
      await connected(rawAgent(tokens.mint({ jobKey: 'default/store-down', uid: job.metadata.uid, node: 'edge-1' })));
      // The cache still refuses what it does not vouch for.
      expect(await connectError(rawAgent(tokens.mint({ jobKey: 'default/store-down', uid: 'other-uid', node: 'edge-1' })))).toBe('unauthorized');
      expect(await connectError(rawAgent(tokens.mint({ jobKey: 'default/no-such-job', uid: job.metadata.uid, node: 'edge-1' })))).toBe('unauthorized');
    } finally {
      backend.get = get;
    }
  });

  it('runs a job end to end: task -> ack -> Ready, state -> status.cameras, task:stop -> agent exits 0', async () => {
    const job = await backend.create(input('e2e'));
    await expect.poll(() => runtime.workers.get('default/e2e@edge-1')?.token, { timeout: 60_000 }).toBeDefined();
    const token = runtime.workers.get('default/e2e@edge-1')!.token;
    const runners: FakeRunner[] = [];
    const tasks: TaskAssignmentInput[] = [];
    let agent!: EdgeAgent;
    const conn = new AgentConnection(
      { serverUrl: url, token },
      {
        onTask: (t) => (tasks.push(t), void agent.handleTask(t)),
        onStop: (s) => void agent.handleStop(s),
        onConnect: () => agent.onConnect(),
        onFatal: (r) => void agent.shutdown(r, 3),
      },
    );
    agent = new EdgeAgent({ node: 'edge-1', transport: conn, runners: (ctx) => (runners.push(new FakeRunner(ctx)), runners.at(-1)!), heartbeatMs: 200 });
    try {
      const stored = async () => (await backend.get('default', 'e2e'))!;
      await expect.poll(async () => (await stored()).status?.conditions?.find((c) => c.type === 'Ready')?.status, { timeout: 60_000 }).toBe('True');
      expect(tasks[0]).toMatchObject({ jobKey: 'default/e2e', uid: job.metadata.uid, generation: 1, node: 'edge-1' });
      await expect.poll(async () => (await stored()).status?.cameras?.map((c) => c.state), { timeout: 60_000 }).toEqual(['Streaming', 'Streaming']);
      expect((await stored()).status!.workers![0].lastHeartbeat).toBeDefined();

      // A spec change reaches the agent as a new generation; only the changed camera restarts.
      const j = await stored();
      j.spec.cameras[1].fps = 2;
      await backend.update(j);
      await expect.poll(() => tasks.at(-1)?.generation, { timeout: 60_000 }).toBe(2);
      await expect.poll(() => runners.length).toBe(3);
      expect(runners.map((r) => [r.camera, r.stopped])).toEqual([
        ['cam-1', false],
        ['cam-2', true],
        ['cam-2', false],
      ]);

      await backend.delete('default', 'e2e');
      expect(await Promise.race([agent.finished, new Promise((r) => setTimeout(() => r('timeout'), 5000))])).toBe(0);
      expect(runners.every((r) => r.stopped)).toBe(true);
      // As `mei-agent run` does when its agent finishes: disconnect and exit 0 (the fake runtime's process).
      conn.close();
      runtime.set('default/e2e', 'edge-1', { phase: 'Succeeded' });
      await expect.poll(() => backend.get('default', 'e2e'), { timeout: 60_000 }).toBeUndefined();
    } finally {
      conn.close();
      await agent.shutdown('test over');
    }
  });

  it('answers malformed payloads with an error ack naming the field, and refuses other jobs', async () => {
    const job = await backend.create(input('bad-payloads'));
    const s = rawAgent(tokens.mint({ jobKey: 'default/bad-payloads', uid: job.metadata.uid, node: 'edge-1' }));
    await connected(s);
    const ack = (ev: string, payload?: unknown) => s.timeout(2000).emitWithAck(ev, payload);
    expect(await ack('state', { jobKey: 'default/bad-payloads', uid: job.metadata.uid, phase: 'Running', sentAt: 'now', cameras: [] })).toMatchObject({ ok: false, field: 'sentAt' });
    expect(await ack('state', { jobKey: 'default/bad-payloads', uid: job.metadata.uid, phase: 'Running', sentAt: new Date().toISOString(), cameras: [{ name: 'cam-1', state: 'Streaming', fps: -1 }] })).toMatchObject({ ok: false, field: 'cameras[0].fps' });
    expect(await ack('task:ack', 'not an object')).toMatchObject({ ok: false });
    expect(await ack('task:ack', { jobKey: 'default/other', uid: job.metadata.uid, generation: 1 })).toMatchObject({ ok: false, error: expect.stringContaining('jobKey') });
    expect(await ack('no-such-event', {})).toMatchObject({ ok: false, error: expect.stringContaining('unknown event') });
    expect(await ack('state', { jobKey: 'default/bad-payloads', uid: job.metadata.uid, phase: 'Running', sentAt: new Date().toISOString(), cameras: [] })).toEqual({ ok: true });
  });
});

describe('ui namespace (in-memory fake backend)', () => {
  const uiSocket = (user?: string, origin?: string) => {
    const cookie = user ? sessions.create(user).split(';')[0] : undefined;
    const s = connect(`${url}/ui`, { transports: ['websocket'], reconnection: false, extraHeaders: { ...(cookie ? { cookie } : {}), ...(origin ? { origin } : {}) } });
    sockets.push(s);
    return s;
  };

  it('needs a session cookie and pushes job events only for the namespaces a user may see', async () => {
    expect(await connectError(uiSocket())).toBe('unauthorized');
    expect(await connectError(uiSocket('admin', 'https://evil.example'))).toBe('unauthorized');
    const alice = uiSocket('alice');
    const admin = uiSocket('admin');
    await Promise.all([connected(alice), connected(admin)]);
    expect(await alice.timeout(2000).emitWithAck('jobs:subscribe', { namespace: 'default' })).toMatchObject({ ok: false, field: 'namespace' });
    expect(await alice.timeout(2000).emitWithAck('jobs:subscribe', {})).toEqual({ ok: true });
    expect(await admin.timeout(2000).emitWithAck('jobs:subscribe', {})).toEqual({ ok: true });
    expect(await admin.timeout(2000).emitWithAck('jobs:subscribe', { namespace: 42 })).toMatchObject({ ok: false, field: 'namespace' });
    const seen = { alice: [] as string[], admin: [] as string[] };
    alice.on('job', (ev: WatchEvent) => seen.alice.push(ev.object.metadata.namespace));
    admin.on('job', (ev: WatchEvent) => seen.admin.push(ev.object.metadata.namespace));
    await backend.create(input('visible', 'team-a'));
    await backend.create(input('hidden', 'team-b'));
    await expect.poll(() => seen.admin.includes('team-b'), { timeout: 60_000 }).toBe(true);
    expect(seen.alice.length).toBeGreaterThan(0);
    expect(new Set(seen.alice)).toEqual(new Set(['team-a']));
  });
});
