// Query-image uploads through the search API handler (server/http/search-api.ts): every refusal is a clear
// error naming the field — wrong type (415), bytes that are not what they claim (415), too big (413), bad
// dimensions (422), no person in the image (422, the job's real YOLOX detector) — and nothing reaches the
// database (mock: the history store here has no database; a query that got that far would fail loudly).
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { loadJobSchema } from '@mei/contracts/crd';
import { LoginRateLimiter } from '../../server/auth/login-limiter.ts';
import { Sessions } from '../../server/auth/sessions.ts';
import { UserDirectory } from '../../server/auth/users.ts';
import { hashPassword } from '../../server/auth/passwords.ts';
import { silentLogger } from '../../server/log.ts';
import { handlers } from '../../server/http/api.ts';
import { searchHandlers } from '../../server/http/search-api.ts';
import { CLIENT_IP_HEADER, publishContext, type ApiContext } from '../../server/http/context.ts';
import { HistoryService } from '../../server/history/service.ts';
import { publishHistory } from '../../server/history/context.ts';
import { checkImage, imageDimensions, sniffImageType } from '../../server/history/person-search/image-check.ts';
import type { SqlClient } from '../../server/store/db.ts';
import { MemoryBackend } from '../support/memory-backend.ts';

const BASE = 'http://127.0.0.1:3000';
const MODEL_DIR = process.env.MEI_MODEL_DIR ?? path.resolve(fileURLToPath(new URL('../../../shared/models', import.meta.url)));
let cookie: string;
let history: HistoryService;

const noDatabase: SqlClient = {
  query: async () => {
    throw new Error('mock: no database in this test');
  },
  exec: async () => {
    throw new Error('mock: no database in this test');
  },
  transaction: async () => {
    throw new Error('mock: no database in this test');
  },
};

function jpegOf(width: number, height: number, rgb: (x: number, y: number) => [number, number, number] = () => [128, 128, 128]): Uint8Array {
  const data = Buffer.alloc(width * height * 4);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const [r, g, b] = rgb(x, y);
      data.set([r, g, b, 255], (y * width + x) * 4);
    }
  return new Uint8Array(jpeg.encode({ data, width, height }, 90).data);
}
function pngOf(width: number, height: number): Uint8Array {
  const png = new PNG({ width, height });
  png.data.fill(90);
  return new Uint8Array(PNG.sync.write(png));
}

function upload(fields: Record<string, string | { bytes: Uint8Array; type: string; name?: string }>, o: { cookie?: string | null; headers?: Record<string, string> } = {}) {
  const form = new FormData();
  for (const [k, v] of Object.entries(fields)) {
    if (typeof v === 'string') form.set(k, v);
    else form.set(k, new Blob([v.bytes as Uint8Array<ArrayBuffer>], { type: v.type }), v.name ?? 'query');
  }
  const headers: Record<string, string> = { host: '127.0.0.1:3000', [CLIENT_IP_HEADER]: '10.0.0.2', ...o.headers };
  if (o.cookie !== null) headers.cookie = o.cookie ?? cookie;
  return searchHandlers.searchImage(new Request(`${BASE}/api/search/image`, { method: 'POST', headers, body: form }));
}

async function expectError(res: Response, status: number, field: string, text: RegExp) {
  const body = await res.json();
  expect({ status: res.status, field: body.field }).toEqual({ status, field });
  expect(body.error).toMatch(text);
}

beforeAll(async () => {
  const users = new UserDirectory([{ username: 'admin', namespaces: ['*'], passwordHash: await hashPassword('pw') }], await hashPassword('decoy'));
  const backend = new MemoryBackend();
  const ctx: ApiContext = {
    info: { mode: 'embedded', version: '0.1.0', database: 'pglite' },
    backend,
    users,
    sessions: new Sessions(Buffer.alloc(32, 7), users),
    loginLimiter: new LoginRateLimiter(3, 60_000),
    jobSchema: loadJobSchema(),
    log: silentLogger,
  };
  publishContext(ctx);
  await backend.create({
    metadata: { name: 'cams', namespace: 'default' },
    spec: { cameras: [{ name: 'left', node: 'n', source: '/v.avi' }], models: { detector: { name: 'yolox-nano', decoder: 'yolox' }, reid: { kind: 'onnx', name: 'osnet-x0.25-msmt17' } } },
  });
  history = new HistoryService({ sql: noDatabase, jobs: { get: () => undefined, list: () => [] }, log: silentLogger, env: { MEI_MODEL_DIR: MODEL_DIR } });
  publishHistory(history);
  const res = await handlers.login(new Request(`${BASE}/api/auth/login`, { method: 'POST', headers: { host: '127.0.0.1:3000', 'content-type': 'application/json', [CLIENT_IP_HEADER]: '10.0.0.2' }, body: JSON.stringify({ username: 'admin', password: 'pw' }) }));
  cookie = res.headers.get('set-cookie')!.split(';')[0];
});
afterAll(async () => {
  publishHistory(undefined);
  publishContext(undefined);
  await history?.models.close();
});

describe('image checks', () => {
  it('reads type and size from the header, for baseline and progressive JPEG and PNG', () => {
    const j = jpegOf(40, 90);
    expect(sniffImageType(j)).toBe('image/jpeg');
    expect(imageDimensions(j, 'image/jpeg')).toEqual({ width: 40, height: 90 });
    const p = pngOf(33, 77);
    expect(sniffImageType(p)).toBe('image/png');
    expect(imageDimensions(p, 'image/png')).toEqual({ width: 33, height: 77 });
    // A progressive JPEG (SOF2) after an APP0 segment: FF D8, APP0 (len 16), SOF2 with height 300, width 200,
    // then the scan (SOS) with enough bytes for its blocks: the header walk reads every segment up to it.
    const prog = new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0, 16, ...new Array(14).fill(0), 0xff, 0xc2, 0, 11, 8, 0x01, 0x2c, 0x00, 0xc8, 1, 1, 0x11, 0, 0xff, 0xda, 0, 8, 1, 1, 0, 0, 0x3f, 0, ...new Array(120).fill(0)]);
    expect(imageDimensions(prog, 'image/jpeg')).toEqual({ width: 200, height: 300 });
    expect(sniffImageType(new TextEncoder().encode('GIF89a....'))).toBeUndefined();
  });

  it('accepts a declared type only when the bytes agree', () => {
    expect(checkImage(jpegOf(20, 40), 'image/jpeg; charset=binary')).toMatchObject({ type: 'image/jpeg', width: 20, height: 40 });
    expect(() => checkImage(pngOf(20, 40), 'image/jpeg')).toThrow(/image: is declared image\/jpeg but its bytes are a PNG/);
  });
});

describe('POST /api/search/image refusals', () => {
  it('needs a session and multipart/form-data', async () => {
    expect((await upload({ job: 'default/cams', image: { bytes: jpegOf(64, 128), type: 'image/jpeg' } }, { cookie: null })).status).toBe(401);
    const res = await searchHandlers.searchImage(
      new Request(`${BASE}/api/search/image`, { method: 'POST', headers: { host: '127.0.0.1:3000', cookie, 'content-type': 'image/jpeg' }, body: jpegOf(64, 128) as Uint8Array<ArrayBuffer> }),
    );
    await expectError(res, 415, 'image', /multipart\/form-data/);
  });

  it('wrong type: 415 naming image', async () => {
    await expectError(await upload({ job: 'default/cams', image: { bytes: new TextEncoder().encode('hello'), type: 'text/plain' } }), 415, 'image', /unsupported content type "text\/plain"; send image\/jpeg or image\/png/);
    const gif = new Uint8Array([...new TextEncoder().encode('GIF89a'), ...new Array(100).fill(0)]);
    await expectError(await upload({ job: 'default/cams', image: { bytes: gif, type: 'image/png' } }), 415, 'image', /declared image\/png but its bytes are neither a JPEG nor a PNG/);
  });

  it('too big: 413 naming image, before anything is decoded', async () => {
    const big = new Uint8Array(5 * 1024 * 1024 + 1);
    big.set(jpegOf(64, 128));
    await expectError(await upload({ job: 'default/cams', image: { bytes: big, type: 'image/jpeg' } }), 413, 'image', /larger than 5242880 bytes|at most 5242880/);
  });

  it('bad dimensions or an undecodable body: 422 naming image', async () => {
    await expectError(await upload({ job: 'default/cams', image: { bytes: jpegOf(10, 10), type: 'image/jpeg' } }), 422, 'image', /10x10 pixels; each side must be 16\.\.4096/);
    const truncated = jpegOf(64, 128).slice(0, 400);
    await expectError(await upload({ job: 'default/cams', image: { bytes: truncated, type: 'image/jpeg' } }), 422, 'image', /cannot be decoded as JPEG|not a readable JPEG|not a valid JPEG/);
  });

  it('missing image, bad or unknown job, bad filters: 4xx naming the field', async () => {
    await expectError(await upload({ job: 'default/cams' }), 422, 'image', /required/);
    await expectError(await upload({ image: { bytes: jpegOf(64, 128), type: 'image/jpeg' } }), 400, 'job', /required/);
    await expectError(await upload({ job: 'default/none', image: { bytes: jpegOf(64, 128), type: 'image/jpeg' } }), 404, 'job', /job default\/none not found/);
    await expectError(await upload({ job: 'default/cams', limit: '0', image: { bytes: jpegOf(64, 128), type: 'image/jpeg' } }), 400, 'limit', /1\.\.100/);
    await expectError(await upload({ job: 'default/cams', fromMs: '9', toMs: '3', image: { bytes: jpegOf(64, 128), type: 'image/jpeg' } }), 400, 'fromMs', /after toMs/);
    // One name per parameter: the old names are refused with the new one, not silently ignored.
    await expectError(await upload({ job: 'default/cams', from: '9', image: { bytes: jpegOf(64, 128), type: 'image/jpeg' } }), 400, 'from', /renamed.*fromMs/);
    await expectError(await upload({ job: 'default/cams', fromMs: 'soon', image: { bytes: jpegOf(64, 128), type: 'image/jpeg' } }), 400, 'fromMs', /Expected number, received string/);
    await expectError(await upload({ job: 'default/cams', detect: 'maybe', image: { bytes: jpegOf(64, 128), type: 'image/jpeg' } }), 400, 'detect', /true or false/);
  });

  it('no person in the image (the job\'s detector, YOLOX-Nano): 422 naming image', async () => {
    const sky = jpegOf(160, 240, (x, y) => [120 + (y % 7), 160, 210 - (x % 5)]);
    await expectError(await upload({ job: 'default/cams', detect: 'true', image: { bytes: sky, type: 'image/jpeg' } }), 422, 'image', /no person found in the image/);
  });
});
