// Hostile input against the real server process (Next route handlers + Socket.IO + PGlite + local worker
// processes), one server for three suites:
//  1. the tenant table: for every HTTP route under app/api and every /ui and /agent event, a user of team-a
//     (and team-a's agent) is refused team-b's jobs, tracks, thumbnails, images, live rooms and searches;
//  2. the fuzz suite: FUZZ_N generated malformed messages per socket event and HTTP_FUZZ_N per HTTP body
//     (wrong types, bounds +-1, huge arrays, deep nesting, bad UTF-8, prototype keys): no crash, every
//     refusal names its field, team-b's job and tracks unchanged;
//  3. the image-bomb corpus (generated here): each refused with 4xx, the server's peak RSS (VmHWM) bounded.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { deflateSync } from 'node:zlib';
import { loadavg } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Socket } from 'socket.io-client';
import { REPO_ROOT } from './server-process.ts';
import { seededRandom } from '../support/random.ts';
import { HTTP_FUZZ_ROUTES, httpFuzzBodies, httpFuzzProblem, mutate, pool, type HttpFuzzRoute } from '../support/fuzz.ts';
import { startHostileServer, type HostileServer } from '../support/hostile-server.ts';
import { cpuMsOf, rssOf } from '../support/proc.ts';

const FUZZ_N = 10_000;
/**
 * HTTP bodies per route, as many as per socket event: the server runs from the production build of the
 * dashboard (built here when stale, scripts/prepare.mjs; a no-op after `npm test` built it), which answers
 * ~200 requests/s with 16 in flight on this 2-core machine under load 11 (Next's dev server: 40-60).
 * `npm run fuzz:http` runs the same generators and checks on their own (docs/security.md).
 */
const HTTP_FUZZ_N = 10_000;
const HTTP_IN_FLIGHT = 16;
/** Peak RSS the server may reach over the whole bomb corpus (measured: see docs/security.md). */
const PEAK_RSS_BOUND_MB = 1_536;
/** The bombs may add at most this much to the server's peak RSS. */
const BOMB_RSS_GROWTH_MB = 128;

let h: HostileServer;
let server: HostileServer['server'];
let cookies: HostileServer['cookies'];
let bTrackId: string;
let aJob: any;
let bJob: any;

const api: HostileServer['api'] = (...args) => h.api(...args);
const connectSocket: HostileServer['connectSocket'] = (...args) => h.connectSocket(...args);
const tokenOf = (node: string) => h.tokenOf(node);
const ask = (s: Socket, event: string, payload: unknown) => s.timeout(30_000).emitWithAck(event, payload);

beforeAll(async () => {
  const { prepareNext } = await import('../../scripts/prepare.mjs');
  prepareNext();
  h = await startHostileServer({ production: true });
  ({ server, cookies, aJob, bJob, bTrackId } = h);
}, 1_200_000); // may build the dashboard first

afterAll(async () => {
  const code = await h?.stop();
  expect(code === 0 || code === null, `exit code ${code}:\n${server?.output().slice(-3000)}`).toBe(true);
});

/** Every route file under app/api and the methods it exports: the table below must cover all of them. */
function apiRoutes(): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir)) {
      const p = path.join(dir, e);
      if (statSync(p).isDirectory()) walk(p);
      else if (e === 'route.ts') {
        const route = '/' + path.relative(path.join(REPO_ROOT, 'app'), dir).split(path.sep).join('/');
        for (const m of readFileSync(p, 'utf8').matchAll(/export const (GET|POST|PUT|PATCH|DELETE)\b/g)) out.push(`${m[1]} ${route}`);
      }
    }
  };
  walk(path.join(REPO_ROOT, 'app/api'));
  return out.sort();
}

describe('tenant isolation: team-a is refused team-b on every route and event', () => {
  it('HTTP: every route under app/api', async () => {
    const imageForm = (job: string) => {
      const f = new FormData();
      f.set('job', job);
      f.set('image', new Blob([jpegBomb.tiny() as Uint8Array<ArrayBuffer>], { type: 'image/jpeg' }), 'q.jpg');
      return f;
    };
    // [route as in app/api, what team-a tries, the statuses that count as refused]
    const table: Array<[string, () => Promise<{ status: number; json: any }>, number[]]> = [
      ['GET /api/jobs', async () => {
        const r = await api('alice', 'GET', '/api/jobs');
        return { status: r.json.items.some((j: any) => j.metadata.namespace === 'team-b') ? 200 : 403, json: r.json };
      }, [403]],
      ['GET /api/jobs', () => api('alice', 'GET', '/api/jobs?namespace=team-b'), [403]],
      ['POST /api/jobs', () => api('alice', 'POST', '/api/jobs', { metadata: { name: 'intruder', namespace: 'team-b' }, spec: bJob.spec }), [403]],
      ['GET /api/jobs/[namespace]/[name]', () => api('alice', 'GET', '/api/jobs/team-b/b-job'), [403]],
      ['DELETE /api/jobs/[namespace]/[name]', () => api('alice', 'DELETE', '/api/jobs/team-b/b-job'), [403]],
      ['GET /api/search/tracks', () => api('alice', 'GET', '/api/search/tracks?job=team-b/b-job'), [403, 404]],
      ['GET /api/search/tracks/[id]', () => api('alice', 'GET', `/api/search/tracks/${bTrackId}`), [403, 404]],
      ['GET /api/search/tracks/[id]/thumbnail', () => api('alice', 'GET', `/api/search/tracks/${bTrackId}/thumbnail`), [403, 404]],
      ['POST /api/search/track', () => api('alice', 'POST', '/api/search/track', { trackId: bTrackId }), [403, 404]],
      ['POST /api/search/track', () => api('alice', 'POST', '/api/search/track', { trackId: bTrackId, job: 'team-a/a-job' }), [403, 404]],
      ['POST /api/search/image', () => api('alice', 'POST', '/api/search/image', undefined, { raw: imageForm('team-b/b-job'), type: 'multipart' }), [403]],
      // Routes that other branches add (listed so the table stays complete once they are merged).
      ['GET /api/jobs/[namespace]/[name]/series', () => api('alice', 'GET', '/api/jobs/team-b/b-job/series'), [403, 404]],
      ['GET /api/search/hourly', () => api('alice', 'GET', '/api/search/hourly?job=team-b/b-job'), [403, 404]],
      // Not tenant data: answered the same for everyone (listed so the table covers every route).
      ['GET /api/health', async () => ({ status: 403, json: {} }), [403]],
      ['GET /api/info', async () => ({ status: 403, json: {} }), [403]],
      ['GET /api/schema', async () => ({ status: 403, json: {} }), [403]],
      ['GET /api/openapi.json', async () => ({ status: 403, json: {} }), [403]],
      ['GET /api/auth/me', async () => {
        const r = await api('alice', 'GET', '/api/auth/me');
        return { status: r.json.namespaces.includes('team-b') ? 200 : 403, json: r.json };
      }, [403]],
      ['POST /api/auth/login', async () => ({ status: 403, json: {} }), [403]],
      ['POST /api/auth/logout', async () => ({ status: 403, json: {} }), [403]],
    ];
    // Every route file must be in the table; a table row whose route does not exist here is skipped.
    const routes = apiRoutes();
    const covered = new Set(table.map(([r]) => r));
    expect(routes.filter((r) => !covered.has(r)), 'routes missing from the tenant table').toEqual([]);
    for (const [routeName, run, refused] of table) {
      if (!routes.includes(routeName)) continue;
      const r = await run();
      expect(refused, `${routeName}: ${r.status} ${JSON.stringify(r.json).slice(0, 200)}`).toContain(r.status);
    }
    // Bob still sees his own: the refusals are about alice, not broken routes.
    expect((await api('bob', 'GET', `/api/search/tracks/${bTrackId}`)).status).toBe(200);
    expect((await api('bob', 'GET', '/api/jobs/team-b/b-job')).status).toBe(200);
  });

  it('file sources: under the default media policy team-a reads only its own folder (422 naming the field)', async () => {
    const job = (name: string, source: string) => ({ metadata: { name, namespace: 'team-a' }, spec: { ...aJob.spec, cameras: [{ name: 'cam', node: 'rec-a', source }] } });
    for (const source of ['${MEI_DATA_DIR}/vtest.avi', '${MEI_DATA_DIR}/team-b/cam.avi', 'file://${MEI_DATA_DIR}/team-ab/x.avi']) {
      const r = await api('alice', 'POST', '/api/jobs', job('outside', source));
      expect(r.status, `${source}: ${JSON.stringify(r.json)}`).toBe(422);
      expect(r.json).toMatchObject({ field: 'spec.cameras[0].source', error: expect.stringContaining("outside this namespace's media folder") });
    }
    expect((await api('alice', 'GET', '/api/jobs/team-a/outside')).status).toBe(404);
  });

  it('sockets: every /ui event, and team-a\'s agent naming team-b', async () => {
    const ui = await connectSocket('/ui', { cookie: cookies.alice });
    const jobEvents: any[] = [];
    ui.on('job', (ev) => jobEvents.push(ev));
    const frames: any[] = [];
    for (const e of ['live:frame', 'live:preview', 'live:thumbnail', 'live:identities']) ui.on(e, (m: any, done?: () => void) => (frames.push(m), done?.()));
    expect(await ask(ui, 'jobs:subscribe', { namespace: 'team-b' })).toMatchObject({ ok: false, field: 'namespace' });
    expect(await ask(ui, 'jobs:unsubscribe', { namespace: 'team-b' })).toMatchObject({ ok: false, field: 'namespace' });
    expect(await ask(ui, 'live:subscribe', { jobKey: 'team-b/b-job' })).toMatchObject({ ok: false, field: 'jobKey' });
    expect(await ask(ui, 'live:snapshot', { jobKey: 'team-b/b-job', camera: 'cam' })).toMatchObject({ ok: false, field: 'jobKey' });
    // Leaving a room one never joined changes nothing; it is answered, and opens nothing.
    expect((await ask(ui, 'live:unsubscribe', { jobKey: 'team-b/b-job' })).ok).toBeTypeOf('boolean');
    expect((await ask(ui, 'jobs:subscribe', {})).ok).toBe(true);
    // team-b activity: its job changes and its agent reports; none of it reaches alice.
    const agentA = await connectSocket('/agent', { token: tokenOf('rec-a') });
    for (const [event, payload] of [
      ['state', { jobKey: 'team-b/b-job', uid: bJob.metadata.uid, phase: 'Running', sentAt: new Date().toISOString(), cameras: [] }],
      ['task:ack', { jobKey: 'team-b/b-job', uid: bJob.metadata.uid, generation: 1 }],
      ['preview', { jobKey: 'team-b/b-job', camera: 'cam', frameIndex: 1, timestampMs: 1, emittedAt: 1, width: 8, height: 8, jpeg: jpegBomb.tiny() }],
      ['thumbnail', { jobKey: 'team-b/b-job', camera: 'cam', localId: 1, frameIndex: 1, timestampMs: 1, width: 8, height: 8, jpeg: jpegBomb.tiny() }],
    ] as const) {
      const ack = await ask(agentA, event, payload);
      expect(ack, event).toMatchObject({ ok: false });
      expect(ack.field, `${event}: ${JSON.stringify(ack)}`).toMatch(/jobKey|uid/);
    }
    const obs = await ask(agentA, 'observations', { jobKey: 'team-b/b-job', camera: 'cam', seq: 1, frames: [{ frameIndex: 1, timestampMs: 1, emittedAt: 1, width: 8, height: 8, tracks: [] }] });
    expect(obs).toMatchObject({ code: 'refused' });
    expect(obs.field).toMatch(/jobKey/);
    await api('bob', 'DELETE', '/api/jobs/team-b/nothing');
    expect(jobEvents.filter((e) => e.object?.metadata?.namespace === 'team-b')).toEqual([]);
    expect(frames).toEqual([]);
  });
});

// ---- image bombs ----------------------------------------------------------------------------------------

function crc32(buf: Uint8Array): number {
  let c = ~0;
  for (const b of buf) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return ~c >>> 0;
}
function chunk(type: string, data: Uint8Array): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}
function ihdr(w: number, h: number, depth = 8, colour = 6, interlace = 0): Buffer {
  const d = Buffer.alloc(13);
  d.writeUInt32BE(w, 0);
  d.writeUInt32BE(h, 4);
  d.set([depth, colour, 0, 0, interlace], 8);
  return chunk('IHDR', d);
}
const PNG_SIG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const png = (...chunks: Buffer[]) => Buffer.concat([PNG_SIG, ...chunks]);
/** Zero rows of a w x h image: the deflated IDAT of a real bomb (1000:1). */
const zeroRows = (w: number, h: number, bytesPerPixel: number) => deflateSync(Buffer.alloc(h * (1 + w * bytesPerPixel)), { level: 9 });

function seg(marker: number, data: Uint8Array): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt16BE(0xff00 | marker, 0);
  b.writeUInt16BE(data.length + 2, 2);
  return Buffer.concat([b, data]);
}
function sof(marker: number, w: number, h: number): Buffer {
  const d = Buffer.alloc(15);
  d[0] = 8;
  d.writeUInt16BE(h, 1);
  d.writeUInt16BE(w, 3);
  d.set([3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1], 5);
  return seg(marker, d);
}
const SOI = Buffer.from([0xff, 0xd8]);
const sos = (scanBytes: number) => Buffer.concat([seg(0xda, Buffer.from([3, 1, 0, 2, 0x11, 3, 0x11, 0, 0x3f, 0])), Buffer.alloc(scanBytes, 0x55), Buffer.from([0xff, 0xd9])]);

const jpegBomb = {
  /** A real 8x8 JPEG (from jpeg-js) for places that need a valid one. */
  tiny(): Uint8Array {
    return tinyJpeg;
  },
};
let tinyJpeg: Uint8Array = new Uint8Array([0xff, 0xd8, 0xff, 0xd9]);
beforeAll(async () => {
  const { default: jpeg } = await import('jpeg-js');
  tinyJpeg = new Uint8Array(jpeg.encode({ data: Buffer.alloc(8 * 8 * 4, 128), width: 8, height: 8 }, 80).data);
});

describe('image-bomb corpus: each refused with 4xx, the server\'s peak RSS bounded', () => {
  it('uploads to /api/search/image', async () => {
    const small = zeroRows(16, 16, 4);
    const corpus: Array<[string, Buffer, string]> = [
      ['repeated IHDR (16x16, then 20000x20000: pngjs obeys the second)', png(ihdr(16, 16), ihdr(20000, 20000), chunk('IDAT', zeroRows(16, 16, 4)), chunk('IEND', Buffer.alloc(0))), 'image/png'],
      ['64k x 64k PNG claim', png(ihdr(65535, 65535), chunk('IDAT', small), chunk('IEND', Buffer.alloc(0))), 'image/png'],
      ['64k x 64k JPEG claim', Buffer.concat([SOI, sof(0xc0, 65535, 65535), sos(64)]), 'image/jpeg'],
      ['interlaced 16-bit RGBA bomb (3000x3000, 72 MB of rows from ~70 kB)', png(ihdr(3000, 3000, 16, 6, 1), chunk('IDAT', zeroRows(3000, 3000, 8)), chunk('IEND', Buffer.alloc(0))), 'image/png'],
      ['interlaced 20000x20000 claim with a tiny IDAT', png(ihdr(20000, 20000, 8, 6, 1), chunk('IDAT', small), chunk('IEND', Buffer.alloc(0))), 'image/png'],
      ['4000x4000 PNG claim carrying 60 bytes (claimed vs real size)', png(ihdr(4000, 4000, 8, 0), chunk('IDAT', small), chunk('IEND', Buffer.alloc(0))), 'image/png'],
      ['4000x4000 progressive JPEG claim carrying 64 bytes', Buffer.concat([SOI, sof(0xc2, 4000, 4000), sos(64)]), 'image/jpeg'],
      ['two SOF markers (small, then huge)', Buffer.concat([SOI, sof(0xc0, 16, 16), sof(0xc0, 30000, 30000), sos(64)]), 'image/jpeg'],
      ['truncated PNG (IDAT cut, no IEND)', png(ihdr(64, 64), chunk('IDAT', zeroRows(64, 64, 4))).subarray(0, 60), 'image/png'],
      ['truncated JPEG (cut inside the frame header)', Buffer.concat([SOI, sof(0xc0, 64, 64)]).subarray(0, 12), 'image/jpeg'],
      ['huge EXIF (60 APP1 segments of 64 kB)', Buffer.concat([SOI, ...Array.from({ length: 60 }, () => seg(0xe1, Buffer.alloc(65_000, 0x45))), sof(0xc0, 64, 64), sos(64)]), 'image/jpeg'],
      ['PNG chunk flood (20000 tEXt chunks)', png(ihdr(16, 16), ...Array.from({ length: 20_000 }, () => chunk('tEXt', Buffer.from('k\0v'))), chunk('IDAT', small), chunk('IEND', Buffer.alloc(0))), 'image/png'],
      ['PNG without IHDR first', png(chunk('IDAT', small), ihdr(16, 16), chunk('IEND', Buffer.alloc(0))), 'image/png'],
    ];
    const before = rssOf(server.child.pid!);
    const results: string[] = [];
    for (const [name, bytes, type] of corpus) {
      const f = new FormData();
      f.set('job', 'team-a/a-job');
      f.set('image', new Blob([bytes as Uint8Array<ArrayBuffer>], { type }), 'bomb');
      const r = await api('alice', 'POST', '/api/search/image', undefined, { raw: f, type: 'multipart' });
      results.push(`${r.status} ${name} (${bytes.length} B): ${r.json?.error}`);
      expect(r.status, `${name}: ${JSON.stringify(r.json)}`).toBeGreaterThanOrEqual(400);
      expect(r.status, name).toBeLessThan(500);
      expect(r.json.field, name).toBe('image');
    }
    const after = rssOf(server.child.pid!);
    console.log(`[bombs] ${corpus.length} refused:\n  ${results.join('\n  ')}\n[bombs] server RSS ${before.nowMb.toFixed(0)} -> ${after.nowMb.toFixed(0)} MB; peak (VmHWM) ${before.peakMb.toFixed(0)} -> ${after.peakMb.toFixed(0)} MB`);
    expect(after.peakMb - before.peakMb).toBeLessThan(BOMB_RSS_GROWTH_MB);
    expect(after.peakMb).toBeLessThan(PEAK_RSS_BOUND_MB);
    expect(server.child.exitCode).toBeNull();
  });
});

// ---- fuzz ---------------------------------------------------------------------------------------------

const fuzzCounts = { socket: 0, http: 0 };

describe('fuzz: generated malformed messages against the running server', () => {
  let started = 0;
  let cpu0: NodeJS.CpuUsage;
  let serverCpu0 = 0;
  beforeAll(() => {
    started = Date.now();
    cpu0 = process.cpuUsage();
    serverCpu0 = cpuMsOf(server.child.pid!);
  });

  it(`${FUZZ_N} per socket event: an ack naming the field, never a crash, never team-b`, async () => {
    const rand = seededRandom(2026);
    const now = new Date().toISOString();
    const uiTemplates: Record<string, unknown> = {
      'jobs:subscribe': { namespace: 'team-a' },
      'jobs:unsubscribe': { namespace: 'team-a' },
      'live:subscribe': { jobKey: 'team-a/a-job' },
      'live:unsubscribe': { jobKey: 'team-a/a-job' },
      'live:snapshot': { jobKey: 'team-a/a-job', camera: 'cam' },
    };
    const frame = { frameIndex: 1, timestampMs: 1, emittedAt: 1, width: 640, height: 480, tracks: [{ id: 1, x: 1, y: 1, w: 10, h: 20, score: 0.5, state: 'confirmed' }] };
    const agentTemplates: Record<string, unknown> = {
      'task:ack': { jobKey: 'team-a/a-job', uid: aJob.metadata.uid, generation: 1 },
      state: { jobKey: 'team-a/a-job', uid: aJob.metadata.uid, phase: 'Running', sentAt: now, cameras: [{ name: 'cam', state: 'Streaming', fps: 10 }] },
      observations: { jobKey: 'team-a/a-job', camera: 'cam', seq: 5, frames: [frame] },
      preview: { jobKey: 'team-a/a-job', camera: 'cam', frameIndex: 1, timestampMs: 1, emittedAt: 1, width: 8, height: 8, jpeg: jpegBomb.tiny() },
      thumbnail: { jobKey: 'team-a/a-job', camera: 'cam', localId: 1, frameIndex: 1, timestampMs: 1, width: 8, height: 8, jpeg: jpegBomb.tiny() },
    };
    const ui = await connectSocket('/ui', { cookie: cookies.alice });
    const agent = await connectSocket('/agent', { token: tokenOf('rec-a') });
    const bad: string[] = [];
    let sent = 0;
    for (const [socket, templates] of [[ui, uiTemplates], [agent, agentTemplates]] as const) {
      for (const [event, template] of Object.entries(templates)) {
        await pool(FUZZ_N, 64, async () => {
          const payload = mutate(rand, template);
          const ack = await ask(socket, event, payload);
          sent++;
          // Aimed at team-b: the job or namespace it names (team-b text elsewhere, e.g. in a camera name, is just data).
          const target = payload && typeof payload === 'object' ? ((payload as any).jobKey ?? (payload as any).namespace) : undefined;
          const namesB = typeof target === 'string' && target.startsWith('team-b') && event !== 'live:unsubscribe';
          if (event === 'observations') {
            if (ack.code === 'refused' && typeof ack.field === 'string') return;
            if (ack.code !== 'refused' && !namesB) return;
          } else {
            if (ack.ok === false && typeof ack.error === 'string' && typeof ack.field === 'string') return;
            if (ack.ok === true && !namesB) return;
          }
          if (bad.length < 20) bad.push(`${event} ${JSON.stringify(payload)?.slice(0, 200)} -> ${JSON.stringify(ack).slice(0, 200)}`);
        });
        expect(socket.connected, `${event}: disconnected`).toBe(true);
      }
    }
    fuzzCounts.socket = sent;
    expect(bad).toEqual([]);
    expect(sent).toBe(10 * FUZZ_N);
  });

  it(`${HTTP_FUZZ_N} per HTTP body (jobs, login, search by track, search by image): 4xx naming the field`, async () => {
    await api('alice', 'POST', '/api/jobs', { metadata: { name: 'fuzz-job', namespace: 'team-a' }, spec: aJob.spec });
    const bodies = httpFuzzBodies(seededRandom(4242), { aJob, bTrackId });
    const bad: string[] = [];
    let sent = 0;
    const statuses = {} as Record<HttpFuzzRoute, Record<number, number>>;
    for (const route of HTTP_FUZZ_ROUTES) {
      statuses[route] = {};
      await pool(HTTP_FUZZ_N, HTTP_IN_FLIGHT, async () => {
        const b = bodies[route]();
        const r = await api('alice', 'POST', b.path, undefined, { raw: b.raw, type: b.type, headers: b.headers });
        sent++;
        statuses[route][r.status] = (statuses[route][r.status] ?? 0) + 1;
        const problem = httpFuzzProblem(route, r);
        if (problem && bad.length < 20) bad.push(problem);
      });
    }
    fuzzCounts.http = sent;
    console.log(`[fuzz] HTTP statuses per body: ${JSON.stringify(statuses)}`);
    expect(bad, JSON.stringify(statuses)).toEqual([]);
    expect(sent).toBe(HTTP_FUZZ_ROUTES.length * HTTP_FUZZ_N);
    for (const j of (await api('alice', 'GET', '/api/jobs?namespace=team-a')).json.items) if (j.metadata.name !== 'a-job') await api('alice', 'DELETE', `/api/jobs/team-a/${j.metadata.name}`);
  }, 1_800_000); // a ceiling for a hang only: 40 000 requests

  it('after the fuzz: the server is up, team-b\'s job and tracks are unchanged', async () => {
    expect(server.child.exitCode).toBeNull();
    expect((await fetch(`${server.url}/api/health`)).status).toBe(200);
    expect(await h.teamBChanged()).toBeUndefined();
    const cpu = process.cpuUsage(cpu0);
    const rss = rssOf(server.child.pid!);
    console.log(`[fuzz] ${fuzzCounts.socket} socket + ${fuzzCounts.http} HTTP messages in ${((Date.now() - started) / 1000).toFixed(1)} s wall; CPU: server ${(cpuMsOf(server.child.pid!) - serverCpu0).toFixed(0)} ms, test process ${((cpu.user + cpu.system) / 1000).toFixed(0)} ms; load ${loadavg().map((l) => l.toFixed(1)).join(' ')}; server RSS ${rss.nowMb.toFixed(0)} MB (peak ${rss.peakMb.toFixed(0)} MB)`);
  });
});
