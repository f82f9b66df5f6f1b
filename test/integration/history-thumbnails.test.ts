// privacy.preview 'thumbnails' end to end on the real control plane (embedded PGlite store, controllers,
// live hub, history writer) with Socket.IO over TCP, read back through the real thumbnail route handler
// (app/api/search/tracks/[id]/thumbnail/route.ts). Agents are raw Socket.IO clients with real tokens, and
// the real edge agent running YOLOX-nano on the first frames of PETS09-S2L1. Worker processes the control
// plane starts are an idle stand-in (test/unit/fixtures/fake-agent.mjs): the agents here connect themselves.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import jpeg from 'jpeg-js';
import { io as connect, type Socket } from 'socket.io-client';
import type { Ack, MultiEdgeInferenceInput, ObservationBatch, PrivacySpec, StoredTrack } from '@mei/contracts';
import { startControlPlane, type ControlPlane } from '../../server/control-plane.ts';
import { silentLogger } from '../../server/log.ts';
import { publishContext } from '../../server/http/context.ts';
import { currentHistory } from '../../server/history/context.ts';
import type { HistoryService } from '../../server/history/service.ts';
import { attachRealtime } from '../../server/realtime/socket-server.ts';
import { GET as getThumbnail } from '../../app/api/search/tracks/[id]/thumbnail/route.ts';
import { GET as listTracksRoute } from '../../app/api/search/tracks/route.ts';
import { EdgeAgent } from '../../edge-agent/src/agent/agent.ts';
import { pipelineRunnerFactory } from '../../edge-agent/src/agent/pipeline-runner.ts';
import { cropRegion, encodeCrop } from '@mei/vision/image';
import { AgentConnection } from '../../edge-agent/src/transport/connection.ts';

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const IDLE_AGENT = path.join(REPO_ROOT, 'test/unit/fixtures/fake-agent.mjs');
const DATA_DIR = process.env.MEI_DATA_DIR ?? path.resolve(REPO_ROOT, '../shared/data');
const MODEL_DIR = process.env.MEI_MODEL_DIR ?? path.resolve(REPO_ROOT, '../shared/models');
const VTEST = path.join(DATA_DIR, 'vtest.avi');

const stateDir = mkdtempSync(path.join(tmpdir(), 'mei-thumbs-'));
let http: HttpServer;
let url: string;
let cp: ControlPlane;
let closeRealtime: () => Promise<void>;
let cookie: string;
const sockets: Socket[] = [];

beforeAll(async () => {
  http = createServer();
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', () => r()));
  url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  const env = { ...process.env, MEI_DEMO: '0', MEI_ADMIN_PASSWORD: 'thumbs-test-password', MEI_AGENT_COMMAND: JSON.stringify([process.execPath, IDLE_AGENT]), MEI_DATA_DIR: DATA_DIR, MEI_MODEL_DIR: MODEL_DIR };
  cp = await startControlPlane({ env, stateDir, serverUrl: () => url, log: silentLogger });
  publishContext(cp);
  closeRealtime = attachRealtime(http, { backend: cp.backend, controllers: cp.controllers, tokens: cp.tokens, sessions: cp.sessions, live: cp.live, ingest: cp.ingest, log: silentLogger }).close;
  cookie = cp.sessions.create('admin').split(';')[0];
});

afterAll(async () => {
  sockets.forEach((s) => s.disconnect());
  await closeRealtime?.();
  await cp?.close();
  publishContext(undefined);
  http?.close();
  rmSync(stateDir, { recursive: true, force: true });
});

// ---- helpers -------------------------------------------------------------------------------------------

async function createJob(name: string, privacy: PrivacySpec, o: { node?: string; mode?: 'live' | 'history' } = {}) {
  const input: MultiEdgeInferenceInput = {
    metadata: { name, namespace: 'default' },
    spec: {
      ...(o.mode ? { mode: o.mode } : {}),
      cameras: [{ name: 'cam', node: o.node ?? 'edge-1', source: VTEST }],
      models: { detector: { name: 'yolox-nano', decoder: 'yolox' } },
      privacy,
    },
  };
  const job = await cp.backend.create(input);
  await expect.poll(() => cp.controllers.jobs.get(`default/${name}`)?.metadata.uid).toBe(job.metadata.uid);
  return { key: `default/${name}`, uid: job.metadata.uid };
}

async function rawAgent(jobKey: string, uid: string, node = 'edge-1'): Promise<Socket> {
  const s = connect(`${url}/agent`, { auth: { token: cp.tokens.mint({ jobKey, uid, node }) }, transports: ['websocket'], reconnection: false });
  sockets.push(s);
  await new Promise<void>((resolve, reject) => (s.once('connect', () => resolve()), s.once('connect_error', reject)));
  return s;
}

const ask = (s: Socket, event: string, payload: unknown): Promise<Ack> => s.timeout(5000).emitWithAck(event, payload);

function observations(jobKey: string, seq: number, frameIndex: number, id: number): ObservationBatch {
  return {
    jobKey,
    camera: 'cam',
    seq,
    session: 's1',
    frames: [{ frameIndex, timestampMs: frameIndex * 100, emittedAt: Date.now(), width: 768, height: 576, tracks: [{ id, x: 200, y: 150, w: 40, h: 100, score: 0.9, state: 'confirmed' }] }],
  };
}

/** A person crop as the agent encodes it, `h` pixels tall (the detail the server compares). */
function crop(jobKey: string, localId: number, h: number, shade: number) {
  const W = 320;
  const H = 320;
  const data = new Uint8Array(W * H * 3).map((_, i) => (i % 3 === 0 ? shade : (i * 13) % 200));
  const img = encodeCrop({ width: W, height: H, data }, cropRegion({ x: 10, y: 10, w: Math.round(h * 0.4), h }, W, H));
  return { jobKey, camera: 'cam', session: 's1', localId, frameIndex: 5, timestampMs: 500, ...img };
}

const request = (p: string) => new Request(`${url}${p}`, { headers: { cookie } });

async function listTracks(jobKey: string): Promise<StoredTrack[]> {
  const res = await listTracksRoute(request(`/api/search/tracks?job=${encodeURIComponent(jobKey)}`));
  expect(res.status).toBe(200);
  return ((await res.json()) as { items: StoredTrack[] }).items;
}

async function thumbnailOf(trackId: string): Promise<{ status: number; type: string | null; bytes: Buffer }> {
  const res = await getThumbnail(request(`/api/search/tracks/${trackId}/thumbnail`), { params: Promise.resolve({ id: trackId }) });
  return { status: res.status, type: res.headers.get('content-type'), bytes: Buffer.from(await res.arrayBuffer()) };
}

const writerStats = () => (currentHistory() as HistoryService).writer.stats();

// ---- tests ---------------------------------------------------------------------------------------------

describe("privacy.preview 'thumbnails' (real control plane, PGlite, Socket.IO over TCP)", () => {
  it("an agent's crop becomes the track's thumbnail, replaced only by a clearly larger one", async () => {
    const { key, uid } = await createJob('thumbs', { preview: 'thumbnails' });
    const agent = await rawAgent(key, uid);
    // The thumbnail may arrive before the observations that create its track: the writer waits for them.
    const small = crop(key, 7, 60, 40);
    expect(await ask(agent, 'thumbnail', small)).toEqual({ ok: true });
    expect(await ask(agent, 'observations', observations(key, 0, 5, 7))).toMatchObject({ code: 'committed' });
    let track!: StoredTrack;
    await expect.poll(async () => ((track = (await listTracks(key)).find((t) => t.localId === 7)!), track?.thumbnail), { timeout: 60_000 }).toBe(true);
    let t = await thumbnailOf(track.id);
    expect(t).toMatchObject({ status: 200, type: 'image/jpeg' });
    expect(t.bytes.equals(small.jpeg)).toBe(true); // stored as the agent cut it
    const decoded = jpeg.decode(t.bytes, { useTArray: true });
    expect([decoded.width, decoded.height]).toEqual([small.width, small.height]);

    // 2x the pixels (and then some): replaces it. A smaller one later does not.
    const large = crop(key, 7, 150, 200);
    expect(large.width * large.height).toBeGreaterThanOrEqual(2 * small.width * small.height);
    expect(await ask(agent, 'thumbnail', large)).toEqual({ ok: true });
    await expect.poll(async () => (await thumbnailOf(track.id)).bytes.equals(large.jpeg), { timeout: 60_000 }).toBe(true);
    const dropped = writerStats().thumbnailsDropped;
    expect(await ask(agent, 'thumbnail', crop(key, 7, 100, 90))).toEqual({ ok: true });
    await expect.poll(() => writerStats().thumbnailsDropped, { timeout: 60_000 }).toBe(dropped + 1);
    t = await thumbnailOf(track.id);
    expect(t.bytes.equals(large.jpeg)).toBe(true);
    // Another job's camera, or a camera of another node, is refused before anything is stored.
    expect(await ask(agent, 'thumbnail', { ...small, jobKey: 'default/other' })).toMatchObject({ ok: false, field: 'jobKey' });
    expect(await ask(agent, 'thumbnail', { ...small, camera: 'nope' })).toMatchObject({ ok: false, field: 'camera' });
    expect(await ask(agent, 'thumbnail', { ...small, width: 500 })).toMatchObject({ ok: false, field: 'width' });
  });

  it.each(['none', 'snapshot'] as const)("privacy.preview '%s': a thumbnail is refused (and counted), nothing is stored", async (preview) => {
    const { key, uid } = await createJob(`no-thumbs-${preview}`, { preview });
    const agent = await rawAgent(key, uid);
    const refusedBefore = cp.live.stats().thumbnailsRefused;
    expect(await ask(agent, 'observations', observations(key, 0, 5, 3))).toMatchObject({ code: 'committed' });
    expect(await ask(agent, 'thumbnail', crop(key, 3, 80, 120))).toMatchObject({ ok: false, field: 'jpeg', error: expect.stringContaining(`"${preview}"`) });
    expect(cp.live.stats().thumbnailsRefused).toBe(refusedBefore + 1);
    let track: StoredTrack | undefined;
    await expect.poll(async () => (track = (await listTracks(key)).find((t) => t.localId === 3)), { timeout: 60_000 }).toBeDefined();
    // The store checks the job's privacy too: a crop handed to it directly is refused and counted.
    const writer = (currentHistory() as HistoryService).writer;
    const before = writer.stats().thumbnailsRefused;
    writer.thumbnail({ ...crop(key, 3, 80, 120), jobUid: uid });
    expect(writer.stats().thumbnailsRefused).toBe(before + 1);
    await writer.flush();
    expect((await listTracks(key)).find((t) => t.localId === 3)?.thumbnail).toBe(false);
    const t = await thumbnailOf(track!.id);
    expect(t.status).toBe(404);
  });

  it('the real edge agent (YOLOX-nano, 30 frames of PETS09-S2L1) leaves a retrievable thumbnail per confirmed track', async () => {
    const { key, uid } = await createJob('real-thumbs', { preview: 'thumbnails' }, { node: 'edge-2', mode: 'history' });
    const log: string[] = [];
    let agent!: EdgeAgent;
    const connection = new AgentConnection(
      { serverUrl: url, token: cp.tokens.mint({ jobKey: key, uid, node: 'edge-2' }), log: (m) => log.push(m) },
      {
        onTask: (task) => void agent.handleTask(task),
        onStop: (stop) => void agent.handleStop(stop),
        onConnect: () => agent.onConnect(),
        onFatal: (reason) => void agent.shutdown(reason, 3),
      },
    );
    const env = { ...process.env, MEI_MODEL_DIR: MODEL_DIR, MEI_DATA_DIR: DATA_DIR };
    agent = new EdgeAgent({ node: 'edge-2', transport: connection, runners: pipelineRunnerFactory(env, { maxFrames: 30 }), log: (m) => log.push(m) });
    try {
      expect(await agent.finished, log.join('\n')).toBe(0); // the history task ran to its end
    } finally {
      connection.close();
    }
    expect(log.filter((m) => m.includes('refused'))).toEqual([]);
    // Observations and thumbnails of the camera run reach the store (thumbnails wait for their tracks).
    let tracks: StoredTrack[] = [];
    await expect.poll(async () => (tracks = await listTracks(key)).filter((t) => t.thumbnail).length, { timeout: 60_000 }).toBeGreaterThanOrEqual(3);
    for (const tr of tracks.filter((x) => x.thumbnail)) {
      const t = await thumbnailOf(tr.id);
      expect(t).toMatchObject({ status: 200, type: 'image/jpeg' });
      const img = jpeg.decode(t.bytes, { useTArray: true });
      expect(Math.max(img.width, img.height)).toBeLessThanOrEqual(160);
      expect(img.height).toBeGreaterThan(img.width); // a standing person
    }
  });
});
