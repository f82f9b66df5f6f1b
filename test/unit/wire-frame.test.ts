// Protocol 2's one-message observations (contracts wire OBSERVATIONS_FRAME_TAG, wire/socket-parser): the frame
// codec (round trip, bounds, errors naming the field), and over real Socket.IO on TCP against the real socket
// server + LiveHub (in-memory fake backend and runtime: mock, no database): a protocol-2 agent's batch is one
// WebSocket message, the server still takes Socket.IO's two-message form, a frame on a protocol-1 connection
// is refused naming the field, and a malformed frame closes only its own connection.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { io as connect, type Socket } from 'socket.io-client';
import { AGENT_NAMESPACE, OBSERVATIONS_FRAME_TAG, WireError, decodeObservationsFrame, encodeObservations, encodeObservationsFrame, type ObservationBatch } from '@mei/contracts';
import { agentParser } from '@mei/contracts/wire/socket-parser';
import { AgentConnection } from '../../edge-agent/src/transport/connection.ts';
import { ask, startLiveServer, type LiveHarness } from './live-harness.ts';

const batchBytes = Uint8Array.from([0x93, 0x01, 0x02, 0x03]);

function wireError(fn: () => unknown): WireError {
  try {
    fn();
  } catch (err) {
    if (err instanceof WireError) return err;
    throw err;
  }
  throw new Error('expected a WireError');
}

describe('observations frame codec', () => {
  it('round-trips the ack id (none, 0, large) and the batch bytes', () => {
    for (const ackId of [undefined, 0, 1, 127, 128, 300_000, 2 ** 32 - 2]) {
      const frame = encodeObservationsFrame(ackId, batchBytes);
      expect(frame[0]).toBe(OBSERVATIONS_FRAME_TAG);
      const back = decodeObservationsFrame(frame);
      expect(back.ackId).toBe(ackId);
      expect([...back.batch]).toEqual([...batchBytes]);
    }
    // No ack: tag, one zero byte, the batch.
    expect(encodeObservationsFrame(undefined, batchBytes).length).toBe(batchBytes.length + 2);
  });

  it('refuses bad ack ids and damaged frames, naming the field', () => {
    for (const bad of [-1, 1.5, 2 ** 32 - 1, Number.NaN]) expect(wireError(() => encodeObservationsFrame(bad, batchBytes)).field).toBe('(frame).ackId');
    expect(wireError(() => decodeObservationsFrame(Uint8Array.from([0x93, 0x01]))).field).toBe('(frame)'); // not a frame
    expect(wireError(() => decodeObservationsFrame(new Uint8Array())).field).toBe('(frame)');
    const truncated = wireError(() => decodeObservationsFrame(Uint8Array.from([OBSERVATIONS_FRAME_TAG, 0x80])));
    expect([truncated.field, truncated.message]).toEqual(['(frame).ackId', '(frame).ackId: truncated']);
    // ack id 2^32 - 1 (+1 on the wire = 2^32): beyond the bound.
    const big = Uint8Array.from([OBSERVATIONS_FRAME_TAG, 0x80, 0x80, 0x80, 0x80, 0x10, 0x93]);
    expect(wireError(() => decodeObservationsFrame(big)).field).toBe('(frame).ackId');
    expect(wireError(() => decodeObservationsFrame(Uint8Array.from([OBSERVATIONS_FRAME_TAG, 0x05]))).field).toBe('(frame).batch');
  });
});

let h: LiveHarness;
const cleanup: Array<() => unknown> = [];
beforeAll(async () => {
  h = await startLiveServer();
}, 120_000);
afterAll(async () => {
  for (const fn of cleanup.reverse()) await fn();
  await h.close();
});

function frame(jobKey: string, camera: string, seq: number, i: number): ObservationBatch {
  return {
    jobKey,
    camera,
    seq,
    session: 's1',
    frames: [{ frameIndex: i, timestampMs: 1_000 + i * 100, emittedAt: Date.now(), width: 640, height: 480, tracks: [{ id: 1, x: 10 + i, y: 100, w: 40, h: 100, score: 0.9, state: 'confirmed' }] }],
  };
}

const rawAgent = (auth: Record<string, unknown>, parser?: unknown): Socket => {
  const s = connect(`${h.url}${AGENT_NAMESPACE}`, { auth, transports: ['websocket'], reconnection: false, ...(parser ? { parser } : {}) });
  cleanup.push(() => s.disconnect());
  return s;
};
const connected = (s: Socket) => new Promise<void>((resolve, reject) => (s.once('connect', () => resolve()), s.once('connect_error', reject)));
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
    expect(await conns[1].sendObservations(encodeObservations(frame(key, 'c', 7, 0)), 7)).toEqual({ code: 'committed', through: 7 });
    expect(p2).toHaveLength(1);
    expect(p2[0]).toBeInstanceOf(Uint8Array);
    expect((p2[0] as Uint8Array)[0]).toBe(OBSERVATIONS_FRAME_TAG);
    expect(await conns[0].sendObservations(encodeObservations(frame(key, 'a', 3, 0)), 3)).toEqual({ code: 'committed', through: 3 });
    expect(p1).toHaveLength(1);
    expect(typeof p1[0]).toBe('string');
    // Other events of a protocol-2 agent keep Socket.IO's default form (a JSON text message).
    expect(await conns[1].send('task:ack', { jobKey: key, uid: job.metadata.uid, generation: 0 })).toMatchObject({ ok: true });
    expect(typeof p2[1]).toBe('string');
    // The server took them as the same batches: a resend of seq 7 is a duplicate, committed through 7.
    expect(await conns[1].sendObservations(encodeObservations(frame(key, 'c', 7, 0)), 7)).toEqual({ code: 'committed', through: 7 });
  });

  it("the server still takes Socket.IO's two-message form under protocol 2, and refuses a frame on a protocol-1 connection, naming the field", async () => {
    const job = await h.createJob('two-forms');
    const key = 'default/two-forms';
    const token = (node: string) => h.tokens.mint({ jobKey: key, uid: job.metadata.uid, node });
    const twoMessages = rawAgent({ token: token('edge-2'), protocol: 2 }); // default parser: header + attachment
    const frameOnV1 = rawAgent({ token: token('edge-1') }, agentParser); // no auth.protocol: 1
    await Promise.all([connected(twoMessages), connected(frameOnV1)]);
    const sent = countMessages(twoMessages);
    expect(await ask(twoMessages, 'observations', encodeObservations(frame(key, 'c', 1, 0)))).toEqual({ code: 'committed', through: 1 });
    expect(sent).toHaveLength(2);
    expect(await ask(frameOnV1, 'observations', encodeObservations(frame(key, 'a', 1, 0)))).toMatchObject({ code: 'refused', field: '(message)', error: expect.stringContaining('protocol 1 observations must be a JSON object') });
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
    expect(await ask(good, 'observations', encodeObservations(frame(key, 'c', 1, 0)))).toEqual({ code: 'committed', through: 1 });
  });
});
