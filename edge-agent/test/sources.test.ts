import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Frame } from '@mei/vision/types';
import { findFfmpeg, openVideoSource, parseFfmpegBanner, SourceError, type SourceStateEvent } from '../src/sources/index.ts';

let dir: string;
let clip: string; // 30 frames, 160x120, 10 fps
let fastClip: string; // 20 frames at 50 fps
let tsClip: string; // MPEG-TS, streamable over HTTP
let images: string;

function ffmpeg(args: string[]) {
  const r = spawnSync(findFfmpeg(), ['-hide_banner', '-loglevel', 'error', '-y', ...args]);
  if (r.status !== 0) throw new Error(`ffmpeg ${args.join(' ')}: ${r.stderr}`);
}

async function collect(src: AsyncIterable<Frame>, delayMs = 0): Promise<Frame[]> {
  const frames: Frame[] = [];
  for await (const f of src) {
    frames.push(f);
    if (delayMs) await new Promise((r) => setTimeout(r, delayMs));
  }
  return frames;
}

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'mei-src-'));
  clip = path.join(dir, 'clip.avi');
  fastClip = path.join(dir, 'fast.avi');
  tsClip = path.join(dir, 'clip.ts');
  images = path.join(dir, 'seq');
  ffmpeg(['-f', 'lavfi', '-i', 'testsrc2=size=160x120:rate=10', '-frames:v', '30', '-c:v', 'mjpeg', '-q:v', '3', clip]);
  ffmpeg(['-f', 'lavfi', '-i', 'testsrc2=size=64x48:rate=50', '-frames:v', '20', '-c:v', 'mjpeg', fastClip]);
  ffmpeg(['-f', 'lavfi', '-i', 'testsrc2=size=96x64:rate=25', '-frames:v', '25', '-c:v', 'mpeg2video', '-f', 'mpegts', tsClip]);
  mkdirSync(path.join(images, 'img1'), { recursive: true });
  ffmpeg(['-f', 'lavfi', '-i', 'testsrc2=size=80x60:rate=10', '-frames:v', '5', path.join(images, 'img1', '%06d.png')]);
  writeFileSync(path.join(images, 'seqinfo.ini'), '[Sequence]\nname=test\nframeRate=7\nseqLength=5\n');
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('history sources', () => {
  it('delivers every frame of a clip in order, with size, count and timestamps from the probe', async () => {
    const src = await openVideoSource({ source: clip, mode: 'history' });
    expect(src.info).toMatchObject({ live: false, width: 160, height: 120, nativeFps: 10, totalFrames: 30 });
    const frames = await collect(src);
    expect(frames.map((f) => f.index)).toEqual([...Array(30).keys()]);
    expect(frames[29].timestampMs).toBeCloseTo(2900);
    expect(frames[0].data.length).toBe(160 * 120 * 3);
    expect(src.dropped).toBe(0);
  });

  it('hands out each frame in a shared buffer of its own, never rewritten (the detector worker reads it in place)', async () => {
    const src = await openVideoSource({ source: clip, mode: 'history' });
    const frames: Frame[] = [];
    const copies: Uint8Array[] = [];
    for await (const f of src) {
      frames.push(f);
      copies.push(f.data.slice());
    }
    expect(frames).toHaveLength(30);
    for (const f of frames) expect(f.data.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(new Set(frames.map((f) => f.data.buffer)).size).toBe(30);
    // testsrc2 moves: frames differ, and each still holds what it held when it was emitted.
    expect(Buffer.compare(copies[0], copies[29])).not.toBe(0);
    frames.forEach((f, i) => expect(Buffer.compare(f.data, copies[i])).toBe(0));
  });

  it('back-pressures a slow consumer instead of dropping frames', async () => {
    const src = await openVideoSource({ source: clip, mode: 'history', queueSize: 2 });
    const frames = await collect(src, 15);
    expect(frames).toHaveLength(30);
    expect(src.dropped).toBe(0);
  });

  it('crops the region of interest exactly (same pixels as the full frame)', async () => {
    const roi = { x: 33, y: 17, width: 64, height: 50 };
    const [full] = await collect(await openVideoSource({ source: clip, mode: 'history', maxFrames: 1 }));
    const src = await openVideoSource({ source: `file://${clip}`, mode: 'history', roi, maxFrames: 1 });
    expect(src.info.width).toBe(64);
    const [crop] = await collect(src);
    expect([crop.width, crop.height, crop.data.length]).toEqual([64, 50, 64 * 50 * 3]);
    for (const [x, y] of [[0, 0], [63, 49], [20, 30]]) {
      const a = ((y + roi.y) * 160 + x + roi.x) * 3;
      const b = (y * 64 + x) * 3;
      expect(Array.from(crop.data.subarray(b, b + 3))).toEqual(Array.from(full.data.subarray(a, a + 3)));
    }
  });

  it('samples every n-th frame with exact source frame numbers when fps is below the native rate', async () => {
    const src = await openVideoSource({ source: clip, mode: 'history', fps: 5 });
    expect(src.info.totalFrames).toBe(15);
    const frames = await collect(src);
    expect(frames.map((f) => f.index)).toEqual(Array.from({ length: 15 }, (_, i) => i * 2));
  });

  it('reads a MOTChallenge image folder with the frame rate from seqinfo.ini', async () => {
    const src = await openVideoSource({ source: `dir://${images}`, mode: 'history' });
    expect(src.info).toMatchObject({ width: 80, height: 60, totalFrames: 5, nativeFps: 7 });
    const frames = await collect(src);
    expect(frames.map((f) => f.index)).toEqual([0, 1, 2, 3, 4]);
    expect(frames[1].timestampMs).toBeCloseTo(1000 / 7);
  });

  it('rejects a missing file with an error naming the path and the spec field', async () => {
    const missing = path.join(dir, 'nope.avi');
    const err = await openVideoSource({ source: missing, mode: 'history', field: 'spec.cameras[0]' }).catch((e) => e);
    expect(err).toBeInstanceOf(SourceError);
    expect(err.field).toBe('spec.cameras[0].source');
    expect(err.message).toContain(missing);
  });

  it('rejects a region outside the frame, and any ${VAR} in the source (never expanded, set or not)', async () => {
    const err = await openVideoSource({ source: clip, roi: { x: 150, y: 0, width: 32, height: 32 } }).catch((e) => e);
    expect(err).toBeInstanceOf(SourceError);
    expect(err.field).toBe('roi');
    expect(err.message).toMatch(/outside the 160x120 frame/);
    const err2 = await openVideoSource({ source: '${MEI_SECRET_X}/a.avi', env: { PATH: process.env.PATH, MEI_SECRET_X: 'hunter2-secret' } }).catch((e) => e);
    expect(err2).toBeInstanceOf(SourceError);
    expect(err2.message).toMatch(/not expanded/);
    expect(err2.message).not.toContain('hunter2-secret');
  });

  it('fails clearly when the file is not a video', async () => {
    const junk = path.join(dir, 'junk.avi');
    writeFileSync(junk, 'not a video at all');
    const err = await openVideoSource({ source: junk, mode: 'history' }).catch((e) => e);
    expect(err).toBeInstanceOf(SourceError);
    expect(err.message).toContain(junk);
  });
});

describe('live sources', () => {
  it('replays a file at its native rate and drops stale frames for a slow consumer', async () => {
    const t0 = Date.now();
    const src = await openVideoSource({ source: fastClip, mode: 'live', queueSize: 2 });
    const it = src[Symbol.asyncIterator]();
    const first = await it.next();
    expect(first.done).toBe(false);
    // The consumer stalls (whatever the machine's speed) until the decoder has produced the other 19 frames:
    // a live queue of 2 keeps the newest two and drops the 17 before them.
    await expect.poll(() => src.dropped).toBe(17);
    const rest: Frame[] = [];
    for (let r = await it.next(); !r.done; r = await it.next()) rest.push(r.value);
    // 20 frames at 50 fps cannot arrive in less than ~0.38 s of wall time (a lower bound load cannot break).
    expect(Date.now() - t0).toBeGreaterThan(300);
    expect(rest.map((f) => f.index)).toEqual([18, 19]);
    expect(src.dropped).toBe(17);
  });

  it('loops a file forever as a camera (until maxFrames)', async () => {
    const src = await openVideoSource({ source: fastClip, mode: 'live', loop: true, maxFrames: 45, queueSize: 64 });
    const frames = await collect(src);
    expect(frames).toHaveLength(45);
    // Consecutive indexes from wherever the wall clock put the start (see sources-loop-sync.test.ts).
    expect(frames[44].index - frames[0].index).toBe(44);
    expect(frames[0].index).toBeLessThan(src.info.loopFrames!);
  });

  it('retries an unreachable stream with exponential backoff, then reports failure', async () => {
    // A port nobody listens on: bind and close.
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    await new Promise<void>((r) => server.close(() => r()));
    const src = await openVideoSource({ source: `rtsp://127.0.0.1:${port}/cam`, retry: { initialDelayMs: 50, maxAttempts: 3 } });
    const events: SourceStateEvent[] = [];
    src.on('state', (e: SourceStateEvent) => events.push(e));
    const err = await collect(src).catch((e) => e);
    expect(err).toBeInstanceOf(SourceError);
    expect(err.message).toMatch(/gave up after 3 retries/);
    const retries = events.filter((e) => e.state === 'retrying');
    expect(retries.map((e) => e.retryInMs)).toEqual([50, 100, 200]);
    expect(retries[0].reason).toMatch(/Connection refused/i);
    expect(events[events.length - 1].state).toBe('failed');
  });

  describe('over HTTP', () => {
    let server: Server;
    let requests = 0;
    let mode: 'fail-once' | 'stall' = 'fail-once';
    let base = '';
    beforeAll(async () => {
      server = createServer((req, res) => {
        requests++;
        if (mode === 'stall') {
          // Headers, then silence: a camera that hangs.
          res.writeHead(200, { 'content-type': 'video/mp2t' });
          res.flushHeaders();
          return;
        }
        if (requests === 1) {
          res.writeHead(503).end('warming up');
          return;
        }
        res.writeHead(200, { 'content-type': 'video/mp2t' }).end(readFileSync(tsClip));
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    afterAll(() => {
      server.closeAllConnections();
      server.close();
    });

    it('recovers after a failed first attempt and streams', async () => {
      mode = 'fail-once';
      requests = 0;
      const src = await openVideoSource({ source: `${base}/cam.ts`, retry: { initialDelayMs: 50 }, queueSize: 64, maxFrames: 10 });
      const events: SourceStateEvent[] = [];
      src.on('state', (e: SourceStateEvent) => events.push(e));
      const frames = await collect(src);
      expect(frames).toHaveLength(10);
      expect(frames[0].width).toBe(96);
      expect(events.map((e) => e.state)).toEqual(['connecting', 'retrying', 'connecting', 'streaming', 'completed']);
      expect(events[1].reason).toMatch(/503/);
    });

    it('reports a stalled stream with the reason and restarts it', async () => {
      mode = 'stall';
      const src = await openVideoSource({ source: `${base}/stall.ts`, stallTimeoutMs: 500, retry: { initialDelayMs: 20, maxAttempts: 1 } });
      const events: SourceStateEvent[] = [];
      src.on('state', (e: SourceStateEvent) => events.push(e));
      const err = await collect(src).catch((e) => e);
      expect(err).toBeInstanceOf(SourceError);
      const retry = events.find((e) => e.state === 'retrying');
      expect(retry?.reason).toMatch(/stalled: no video for 0.5 s/);
      expect(events.filter((e) => e.state === 'connecting')).toHaveLength(2);
    });
  });
});

describe('ffmpeg banner parsing', () => {
  it('reads size, rate and duration without ffprobe', () => {
    const banner = `Input #0, avi, from 'vtest.avi':\n  Duration: 00:01:19.50, start: 0.000000, bitrate: 818 kb/s\n  Stream #0:0: Video: msmpeg4v3 (div3 / 0x33766964), yuv420p, 768x576, 816 kb/s, 10 fps, 10 tbr, 10 tbn`;
    expect(parseFfmpegBanner(banner)).toEqual({ durationSec: 79.5, width: 768, height: 576, fps: 10 });
    const withSar = `  Stream #0:0[0x1e0]: Video: h264 (High), yuv420p(tv, bt709, progressive), 1920x1080 [SAR 1:1 DAR 16:9], 29.97 fps, 29.97 tbr`;
    expect(parseFfmpegBanner(withSar)).toMatchObject({ width: 1920, height: 1080, fps: 29.97 });
  });
});
