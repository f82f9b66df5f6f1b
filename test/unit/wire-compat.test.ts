// Wire protocols 1 (JSON, agents before #17) and 2 (binary) side by side on one server over real Socket.IO
// on TCP, and protocol 2's one-message observations (a protocol-2 agent's batch is one WebSocket message, the
// server still takes Socket.IO's two-message form, a frame on a protocol-1 connection is refused naming the
// field, a malformed frame closes only its own connection): socket server + LiveHub + controllers on the
// in-memory fake backend and fake runtime (mock: no database, no worker processes); agents are the real EdgeAgent + AgentConnection with scripted cameras
// (mock: no video) or raw Socket.IO clients; the browser is a /ui client with a real session cookie.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { io as connect, type Socket } from 'socket.io-client';
import { AGENT_NAMESPACE, OBSERVATIONS_FRAME_TAG, encodeObservations, type ObservationBatch, type WireProtocol } from '@mei/contracts';
import { agentParser } from '@mei/contracts/wire/socket-parser';
import { EdgeAgent } from '../../edge-agent/src/agent/agent.ts';
import { AgentConnection } from '../../edge-agent/src/transport/connection.ts';
import { ScriptedRunner } from '../../edge-agent/test/support/scripted-runner.ts';
import { person } from './identity-scenes.ts';
import { ask, startLiveServer, type LiveHarness } from './live-harness.ts';

let h: LiveHarness;
const cleanup: Array<() => unknown> = [];
beforeAll(async () => {
  h = await startLiveServer();
}, 120_000);
afterAll(async () => {
  for (const fn of cleanup.reverse()) await fn();
  await h.close();
});

/** One frame of `camera` with person `localId` at x, and its embedding. */
function frame(jobKey: string, camera: string, seq: number, i: number, localId: number, vector: Float32Array): ObservationBatch {
  return {
    jobKey,
    camera,
    seq,
    frames: [{ frameIndex: i, timestampMs: 1_000 + i * 100, emittedAt: Date.now(), width: 640, height: 480, tracks: [{ id: localId, x: 10 + i, y: 100, w: 40, h: 100, score: 0.9, state: 'confirmed' }] }],
    embeddings: [{ id: localId, vector: Array.from(vector) }],
  };
}

/** The real agent on `node`, speaking `protocol`, with scripted cameras. */
function startAgent(jobKey: string, uid: string, node: string, protocol: WireProtocol) {
  const runners = new Map<string, ScriptedRunner>();
  let agent!: EdgeAgent;
  const conn = new AgentConnection(
    { serverUrl: h.url, token: h.tokens.mint({ jobKey, uid, node }), protocol },
    { onTask: (t) => void agent.handleTask(t), onStop: (s) => void agent.handleStop(s), onConnect: () => agent.onConnect(), onFatal: () => {} },
  );
  agent = new EdgeAgent({ node, transport: conn, runners: (ctx) => { const r = new ScriptedRunner(ctx); runners.set(r.camera, r); return r; }, heartbeatMs: 300 });
  cleanup.push(() => agent.shutdown('test over'), () => conn.close());
  return { conn, agent, runners };
}

/** A raw Socket.IO agent client (default parser unless given: e.g. the agent's protocol-2 one). */
const rawAgent = (auth: Record<string, unknown>, parser?: unknown): Socket => {
  const s = connect(`${h.url}${AGENT_NAMESPACE}`, { auth, transports: ['websocket'], reconnection: false, ...(parser ? { parser } : {}) });
  cleanup.push(() => s.disconnect());
  return s;
};
const connected = (s: Socket) => new Promise<void>((resolve, reject) => (s.once('connect', () => resolve()), s.once('connect_error', reject)));
const connectError = (s: Socket) => new Promise<string>((resolve) => s.once('connect_error', (e) => resolve(e.message)));

describe('wire protocols 1 and 2 on one server (in-memory fake backend and runtime, scripted cameras)', () => {
  it('a protocol-1 agent and a protocol-2 agent at once: both applied, identities and live frames for both, bytes/s in the job status', async () => {
    const job = await h.createJob('mixed-fleet');
    const key = 'default/mixed-fleet';
    const browser = await h.browser('admin');
    expect(await ask(browser.socket, 'live:subscribe', { jobKey: key })).toEqual({ ok: true });
    const old = startAgent(key, job.metadata.uid, 'edge-1', 1); // cameras a, b
    const neu = startAgent(key, job.metadata.uid, 'edge-2', 2); // camera c
    await expect.poll(() => old.runners.has('a') && neu.runners.has('c'), { timeout: 30_000 }).toBe(true);

    // The server reads each connection in the protocol it asked for.
    const protocols = () => [...h.io.of(AGENT_NAMESPACE).sockets.values()].filter((s) => s.data.claims?.jobKey === key).map((s) => s.data.protocol).sort();
    expect(protocols()).toEqual([1, 2]);

    const before = h.hub.stats().batchesApplied;
    const X = person(31, 16);
    const Y = person(32, 16);
    for (let i = 0; i < 10; i++) {
      old.runners.get('a')!.ctx.emitObservations({ camera: 'a', ...pick(frame(key, 'a', 0, i, 1, X)) });
      neu.runners.get('c')!.ctx.emitObservations({ camera: 'c', ...pick(frame(key, 'c', 0, i, 7, Y)) });
    }
    await expect.poll(() => h.hub.stats().batchesApplied - before, { timeout: 30_000 }).toBe(20);
    // Live frames of both cameras reach the browser with global identities.
    await expect.poll(() => ['a', 'c'].map((c) => browser.frames.filter((f) => f.camera === c && f.tracks[0]?.globalId).at(-1)?.frameIndex), { timeout: 30_000 }).toEqual([9, 9]);
    const ids = (cam: string) => new Set(browser.frames.filter((f) => f.camera === cam).flatMap((f) => f.tracks.map((t) => t.globalId)));
    expect(ids('a').size).toBe(1);
    expect(ids('c').size).toBe(1);
    expect([...ids('a')][0]).not.toBe([...ids('c')][0]); // two different people
    await expect.poll(() => browser.identities.at(-1)?.total, { timeout: 30_000 }).toBe(2);

    // What each sent for the same content: protocol 2 is a fraction of protocol 1.
    const sent = (c: AgentConnection, cam: string) => c.meter.totals()[`${key} ${cam}`].bytes;
    const p1 = sent(old.conn, 'a');
    const p2 = sent(neu.conn, 'c');
    expect(p2.boxes + p2.embeddings).toBeGreaterThan(0);
    expect((p2.boxes + p2.embeddings) * 4).toBeLessThan(p1.boxes + p1.embeddings);

    // Bandwidth is visible: the agents report bytes/s per camera, copied into the job status.
    await expect
      .poll(async () => {
        const cams = (await h.backend.get('default', 'mixed-fleet'))?.status?.cameras ?? [];
        return ['a', 'c'].map((n) => (cams.find((c) => c.name === n)?.upstreamBytesPerSecond ?? 0) > 0);
      }, { timeout: 30_000 })
      .toEqual([true, true]);
  });

  it('refuses bytes under protocol 1 and JSON under protocol 2, naming the field; the connection stays usable', async () => {
    const job = await h.createJob('wrong-form');
    const key = 'default/wrong-form';
    const token = (node: string) => h.tokens.mint({ jobKey: key, uid: job.metadata.uid, node });
    const X = person(33, 16);
    // One agent per node (a second connection for a node replaces the first): edge-1 has a and b, edge-2 c.
    const v1 = rawAgent({ token: token('edge-1') }); // no auth.protocol: 1
    const v2 = rawAgent({ token: token('edge-2'), protocol: 2 });
    await Promise.all([connected(v1), connected(v2)]);

    expect(await ask(v1, 'observations', encodeObservations(frame(key, 'a', 1, 0, 1, X)))).toMatchObject({ code: 'refused', field: '(message)', error: expect.stringContaining('protocol 1 observations must be a JSON object') });
    expect(await ask(v2, 'observations', frame(key, 'c', 1, 0, 1, X))).toMatchObject({ code: 'refused', field: '(message)', error: expect.stringContaining('protocol 2 observations must be binary') });
    // A damaged binary batch: the field that fails to decode is named.
    const bytes = encodeObservations(frame(key, 'c', 2, 0, 1, X));
    const cut = bytes.slice(0, bytes.length - 520); // inside the embedding
    expect(await ask(v2, 'observations', cut)).toMatchObject({ code: 'refused', field: '(message)' });
    const wrongCamera = encodeObservations(frame(key, 'a', 3, 0, 1, X)); // a camera of edge-1
    expect(await ask(v2, 'observations', wrongCamera)).toMatchObject({ code: 'refused', field: 'camera' });
    // Each still takes its own form.
    expect(await ask(v1, 'observations', frame(key, 'a', 4, 0, 1, X))).toEqual({ code: 'committed', through: 4 });
    expect(await ask(v2, 'observations', encodeObservations(frame(key, 'c', 5, 0, 2, X)))).toEqual({ code: 'committed', through: 5 });
  });

  it('refuses an unknown auth.protocol at the handshake with an error naming it', async () => {
    const job = await h.createJob('future-agent');
    const token = h.tokens.mint({ jobKey: 'default/future-agent', uid: job.metadata.uid, node: 'edge-1' });
    for (const protocol of [3, '2', 0, null]) {
      const s = rawAgent({ token, protocol });
      expect(await connectError(s)).toBe('auth.protocol: must be one of 1, 2');
      expect(s.connected).toBe(false);
    }
  });
});

function oneFrame(jobKey: string, camera: string, seq: number, i: number): ObservationBatch {
  return {
    jobKey,
    camera,
    seq,
    session: 's1',
    frames: [{ frameIndex: i, timestampMs: 1_000 + i * 100, emittedAt: Date.now(), width: 640, height: 480, tracks: [{ id: 1, x: 10 + i, y: 100, w: 40, h: 100, score: 0.9, state: 'confirmed' }] }],
  };
}

/** Engine.IO messages the client writes (one per WebSocket message). */
function countMessages(s: Socket): Array<string | Uint8Array> {
  const out: Array<string | Uint8Array> = [];
  s.io.engine.on('packetCreate', (p: { type: string; data?: string | Uint8Array }) => {
    if (p.type === 'message') out.push(p.data!);
  });
  return out;
}

describe('one WebSocket message per observation batch (real Socket.IO over TCP, in-memory fake backend)', () => {
  it('a protocol-2 AgentConnection sends each batch as one binary message; protocol 1 as one JSON message; both committed', async () => {
    const job = await h.createJob('one-message');
    const key = 'default/one-message';
    const token = (node: string) => h.tokens.mint({ jobKey: key, uid: job.metadata.uid, node });
    const conns = [1, 2].map((protocol) => {
      const c = new AgentConnection({ serverUrl: h.url, token: token(protocol === 1 ? 'edge-1' : 'edge-2'), protocol: protocol as 1 | 2 }, { onTask: () => {}, onStop: () => {}, onFatal: () => {} });
      cleanup.push(() => c.close());
      return c;
    });
    await expect.poll(() => conns.every((c) => c.connected), { timeout: 30_000 }).toBe(true);
    const [p1, p2] = conns.map((c) => countMessages(c.socket as unknown as Socket));
    expect(await conns[1].sendObservations(encodeObservations(oneFrame(key, 'c', 7, 0)), 7)).toEqual({ code: 'committed', through: 7 });
    expect(p2).toHaveLength(1);
    expect(p2[0]).toBeInstanceOf(Uint8Array);
    expect((p2[0] as Uint8Array)[0]).toBe(OBSERVATIONS_FRAME_TAG);
    expect(await conns[0].sendObservations(encodeObservations(oneFrame(key, 'a', 3, 0)), 3)).toEqual({ code: 'committed', through: 3 });
    expect(p1).toHaveLength(1);
    expect(typeof p1[0]).toBe('string');
    // Other events of a protocol-2 agent keep Socket.IO's default form (a JSON text message).
    expect(await conns[1].send('task:ack', { jobKey: key, uid: job.metadata.uid, generation: 0 })).toMatchObject({ ok: true });
    expect(typeof p2[1]).toBe('string');
    // The server took them as the same batches: a resend of seq 7 is a duplicate, committed through 7.
    expect(await conns[1].sendObservations(encodeObservations(oneFrame(key, 'c', 7, 0)), 7)).toEqual({ code: 'committed', through: 7 });
  });

  it("the server still takes Socket.IO's two-message form under protocol 2, and refuses a frame on a protocol-1 connection, naming the field", async () => {
    const job = await h.createJob('two-forms');
    const key = 'default/two-forms';
    const token = (node: string) => h.tokens.mint({ jobKey: key, uid: job.metadata.uid, node });
    const twoMessages = rawAgent({ token: token('edge-2'), protocol: 2 }); // default parser: header + attachment
    const frameOnV1 = rawAgent({ token: token('edge-1') }, agentParser); // no auth.protocol: 1
    await Promise.all([connected(twoMessages), connected(frameOnV1)]);
    const sent = countMessages(twoMessages);
    expect(await ask(twoMessages, 'observations', encodeObservations(oneFrame(key, 'c', 1, 0)))).toEqual({ code: 'committed', through: 1 });
    expect(sent).toHaveLength(2);
    expect(await ask(frameOnV1, 'observations', encodeObservations(oneFrame(key, 'a', 1, 0)))).toMatchObject({ code: 'refused', field: '(message)', error: expect.stringContaining('protocol 1 observations must be a JSON object') });
    expect(frameOnV1.connected).toBe(true);
  });

  it('a malformed frame closes only its own connection; another agent of the job keeps sending', async () => {
    const job = await h.createJob('bad-frame');
    const key = 'default/bad-frame';
    const token = (node: string) => h.tokens.mint({ jobKey: key, uid: job.metadata.uid, node });
    const bad = rawAgent({ token: token('edge-1'), protocol: 2 });
    const good = rawAgent({ token: token('edge-2'), protocol: 2 }, agentParser);
    await Promise.all([connected(bad), connected(good)]);
    const closed = new Promise<string>((resolve) => bad.once('disconnect', (reason) => resolve(reason)));
    // A frame whose ack id is cut off, written straight to the engine (no Socket.IO header before it).
    bad.io.engine.write(Uint8Array.from([OBSERVATIONS_FRAME_TAG, 0x80]) as unknown as string);
    expect(await closed).toBe('transport close');
    expect(await ask(good, 'observations', encodeObservations(oneFrame(key, 'c', 1, 0)))).toEqual({ code: 'committed', through: 1 });
  });
});

/** The fields a runner emits (the agent adds jobKey and seq). */
function pick(b: ObservationBatch): Pick<ObservationBatch, 'frames' | 'embeddings'> {
  return { frames: b.frames, embeddings: b.embeddings };
}
