// Person crops in the live view over real Socket.IO on TCP (in-memory fake backend and runtime: see
// live-harness.ts): an agent's track thumbnail reaches the browsers watching the job under the track's
// global identity, only when privacy.preview allows crops and only for users allowed the namespace; a late
// subscriber gets the newest crop of each identity; merges leave no crop under a merged-away id.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Socket } from 'socket.io-client';
import type { LiveThumbnail, ObservationBatch } from '@mei/contracts';
import { encodeCrop } from '@mei/vision/image';
import { atDistance, interleave, noisy, person, rng, sceneBatches, type ScriptedTrack } from './identity-scenes.ts';
import { ask, startLiveServer, type LiveHarness } from './live-harness.ts';

let h: LiveHarness;
// The harness starts a real (in-memory) PGlite for the ingest log: generous ceilings for a loaded machine.
beforeAll(async () => {
  h = await startLiveServer();
}, 120_000);
afterAll(async () => {
  await h.close();
}, 60_000);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A real JPEG crop (the agent's encoder) whose pixels depend on `seed`, so crops can be told apart. */
function crop(seed: number) {
  const frame = { width: 64, height: 128, data: new Uint8Array(64 * 128 * 3).map((_, i) => (i * seed + seed * 31) % 256) };
  return encodeCrop(frame, { x: 8, y: 8, w: 40, h: 100 });
}

function thumbnailMsg(jobKey: string, camera: string, localId: number, seed: number) {
  const img = crop(seed);
  return { jobKey, camera, localId, frameIndex: seed, timestampMs: seed * 100, width: img.width, height: img.height, jpeg: img.jpeg };
}

const bytesOf = (t: LiveThumbnail) => Buffer.from(t.jpeg as ArrayBuffer);

/** One frame of camera `camera` with confirmed tracks `ids`, each with an embedding (vectors[i]). */
function batch(jobKey: string, camera: string, seq: number, ids: number[], vectors: Float32Array[]): ObservationBatch {
  return {
    jobKey,
    camera,
    seq,
    frames: [{ frameIndex: seq, timestampMs: 1_000 + seq * 100, emittedAt: Date.now(), width: 640, height: 480, tracks: ids.map((id, i) => ({ id, x: 10 + 60 * i, y: 100, w: 40, h: 100, score: 0.9, state: 'confirmed' as const })) }],
    embeddings: ids.map((id, i) => ({ id, vector: Array.from(vectors[i]) })),
  };
}

/** Waits until the hub has applied the batches that give `camera`'s track `localId` an identity. */
async function identityOf(jobKey: string, camera: string, localId: number): Promise<string> {
  await expect.poll(() => h.hub.identityService(jobKey)?.identityOf(camera, localId)).toMatch(/^P\d+$/);
  return h.hub.identityService(jobKey)!.identityOf(camera, localId)!;
}

async function send(agent: Socket, event: string, msg: unknown) {
  // observations answer with an IngestAck, thumbnails and previews with an Ack.
  expect(await ask(agent, event, msg)).toMatchObject(event === 'observations' ? { code: 'committed' } : { ok: true });
}

describe('live thumbnails over real Socket.IO (in-memory fake backend and runtime)', () => {
  it('reach an allowed browser under the track identity (also when the identity comes after the crop); others get nothing', async () => {
    const job = await h.createJob('crops', 'team-a', { privacy: { preview: 'thumbnails' } });
    const key = 'team-a/crops';
    const alice = await h.browser('alice'); // team-a
    const bob = await h.browser('bob'); // team-b only
    expect(await ask(alice.socket, 'live:subscribe', { jobKey: key })).toEqual({ ok: true });
    expect(await ask(bob.socket, 'live:subscribe', { jobKey: key })).toMatchObject({ ok: false, field: 'jobKey', error: expect.stringContaining('may not access namespace "team-a"') });

    const agent = await h.rawAgent(key, job.metadata.uid);
    const X = person(61, 16);
    const Y = person(62, 16);
    for (let i = 0; i < 3; i++) await send(agent, 'observations', batch(key, 'a', i, [1], [X]));
    const gid1 = await identityOf(key, 'a', 1);

    const first = thumbnailMsg(key, 'a', 1, 3);
    await send(agent, 'thumbnail', first);
    await expect.poll(() => alice.thumbnails.length).toBe(1);
    expect(alice.thumbnails[0]).toMatchObject({ jobKey: key, identity: gid1, camera: 'a', localId: 1, width: first.width, height: first.height });
    expect(bytesOf(alice.thumbnails[0]).equals(first.jpeg)).toBe(true);

    // Track 2's crop comes before any frame of it (agents send it on confirmation, before the embedding
    // has given it an identity): it waits, and goes out once a frame shows the track with an identity.
    const early = thumbnailMsg(key, 'a', 2, 5);
    await send(agent, 'thumbnail', early);
    await sleep(150);
    expect(alice.thumbnails).toHaveLength(1);
    await send(agent, 'observations', batch(key, 'a', 3, [1, 2], [X, Y]));
    const gid2 = await identityOf(key, 'a', 2);
    expect(gid2).not.toBe(gid1);
    await expect.poll(() => alice.thumbnails.length).toBe(2);
    expect(alice.thumbnails[1]).toMatchObject({ identity: gid2, camera: 'a', localId: 2 });
    expect(bytesOf(alice.thumbnails[1]).equals(early.jpeg)).toBe(true);

    await sleep(150);
    expect(bob.thumbnails).toHaveLength(0);
    expect(bob.frames).toHaveLength(0);
  });

  it("a job whose privacy.preview allows no crops ('none', 'snapshot') refuses them: no browser gets one", async () => {
    const admin = await h.browser('admin');
    const published = h.hub.stats().thumbnailsPublished;
    for (const [name, privacy] of [['crops-none', undefined], ['crops-snap', { preview: 'snapshot' as const }]] as const) {
      const job = await h.createJob(name, 'default', privacy ? { privacy } : {});
      const key = `default/${name}`;
      expect(await ask(admin.socket, 'live:subscribe', { jobKey: key })).toEqual({ ok: true });
      const agent = await h.rawAgent(key, job.metadata.uid);
      for (let i = 0; i < 3; i++) await send(agent, 'observations', batch(key, 'a', i, [1], [person(63, 16)]));
      await identityOf(key, 'a', 1);
      expect(await ask(agent, 'thumbnail', thumbnailMsg(key, 'a', 1, 7))).toMatchObject({ ok: false, field: 'jpeg', error: expect.stringContaining(`"${privacy?.preview ?? 'none'}"`) });
    }
    await expect.poll(() => admin.frames.filter((f) => f.jobKey === 'default/crops-snap').length).toBeGreaterThan(0);
    await sleep(150);
    expect(admin.thumbnails).toHaveLength(0);
    expect(h.hub.stats().thumbnailsPublished).toBe(published);
  });

  it('a late subscriber gets the newest crop of each identity, once', async () => {
    const job = await h.createJob('crops-late', 'default', { privacy: { preview: 'live', previewFps: 1 } });
    const key = 'default/crops-late';
    const early = await h.browser('admin');
    expect(await ask(early.socket, 'live:subscribe', { jobKey: key })).toEqual({ ok: true });
    const agent = await h.rawAgent(key, job.metadata.uid);
    const X = person(64, 16);
    const Y = person(65, 16);
    for (let i = 0; i < 3; i++) await send(agent, 'observations', batch(key, 'a', i, [1, 2], [X, Y]));
    const gx = await identityOf(key, 'a', 1);
    const gy = await identityOf(key, 'a', 2);
    const x1 = thumbnailMsg(key, 'a', 1, 11);
    const y1 = thumbnailMsg(key, 'a', 2, 12);
    const x2 = thumbnailMsg(key, 'a', 1, 13); // a larger, newer crop of the same track
    for (const m of [x1, y1, x2]) await send(agent, 'thumbnail', m);
    await expect.poll(() => early.thumbnails.length).toBe(3);

    const late = await h.browser('admin');
    expect(await ask(late.socket, 'live:subscribe', { jobKey: key })).toEqual({ ok: true });
    await expect.poll(() => late.thumbnails.length).toBe(2);
    await sleep(150);
    expect(late.thumbnails).toHaveLength(2);
    const byId = new Map(late.thumbnails.map((t) => [t.identity, t]));
    expect([...byId.keys()].sort()).toEqual([gx, gy].sort());
    expect(bytesOf(byId.get(gx)!).equals(x2.jpeg)).toBe(true);
    expect(bytesOf(byId.get(gy)!).equals(y1.jpeg)).toBe(true);
  });

  it('a merge moves the newer crop to the identity that stays: nothing is left under the merged-away id', async () => {
    // The identity service's merge scene (identity-service.test.ts): b's first embedding is poor, so its
    // track starts as a new identity, then later embeddings show it is a's person and the two merge.
    const job = await h.createJob('crops-merge', 'default', {
      cameras: [
        { name: 'a', node: 'edge-1', source: '/v/a.mp4' },
        { name: 'b', node: 'edge-1', source: '/v/b.mp4' },
      ],
      crossCamera: { matchThreshold: 0.35, maxGapSeconds: 60 },
      privacy: { preview: 'thumbnails' },
    });
    const key = 'default/crops-merge';
    const watcher = await h.browser('admin');
    expect(await ask(watcher.socket, 'live:subscribe', { jobKey: key })).toEqual({ ok: true });
    const agent = await h.rawAgent(key, job.metadata.uid);
    const X = person(1);
    const r = rng(101);
    const rx = rng(102);
    const tracks: ScriptedTrack[] = [
      { camera: 'a', localId: 1, fromMs: 0, toMs: 4000, appearance: () => noisy(X, 0.25, rx) },
      { camera: 'b', localId: 3, fromMs: 6000, toMs: 12_000, appearance: (_t, k) => (k === 0 ? atDistance(X, 0.45, 103) : noisy(X, 0.25, r)) },
    ];
    const batches = interleave(sceneBatches(tracks, { cameras: ['a', 'b'], jobKey: key }), 'time');
    const cropA = thumbnailMsg(key, 'a', 1, 21);
    const cropB = thumbnailMsg(key, 'b', 3, 22);
    let gidA: string | undefined;
    let gidB: string | undefined;
    for (const b of batches) {
      await send(agent, 'observations', b);
      const embedded = (b.embeddings ?? []).map((e) => e.id);
      if (!gidA && b.camera === 'a' && embedded.includes(1)) {
        gidA = await identityOf(key, 'a', 1);
        await send(agent, 'thumbnail', cropA);
      }
      if (!gidB && b.camera === 'b' && embedded.includes(3)) {
        gidB = await identityOf(key, 'b', 3);
        expect(gidB).not.toBe(gidA); // the scene: b's track starts as somebody new
        await send(agent, 'thumbnail', cropB);
      }
    }
    await expect.poll(() => h.hub.identityService(key)?.identityOf('b', 3)).toBe(gidA);
    await expect.poll(() => watcher.identities.some((m) => m.merged.some((x) => x.from === gidB && x.into === gidA))).toBe(true);
    // The watcher got b's (newer) crop under the identity that stayed.
    await expect.poll(() => watcher.thumbnails.filter((t) => t.identity === gidA).map((t) => t.localId)).toEqual([1, 3]);
    expect(bytesOf(watcher.thumbnails.at(-1)!).equals(cropB.jpeg)).toBe(true);

    const late = await h.browser('admin');
    expect(await ask(late.socket, 'live:subscribe', { jobKey: key })).toEqual({ ok: true });
    await expect.poll(() => late.thumbnails.length).toBe(1);
    await sleep(150);
    expect(late.thumbnails).toHaveLength(1);
    expect(late.thumbnails[0]).toMatchObject({ identity: gidA, camera: 'b', localId: 3 });
  });
});
