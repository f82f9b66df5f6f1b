// Generated malformed input for the hostile-input suite (test/integration/hostile-input.test.ts) and the full
// HTTP body fuzz (scripts/fuzz-http.ts): wrong types, bounds +-1, huge arrays, deep nesting, lone surrogates
// and invalid UTF-8 bytes, prototype keys. Seeded: a run repeats exactly.
import { BOUNDS, MAX_PREVIEW_SIDE, MAX_THUMBNAIL_SIDE, httpRoutes } from '@mei/contracts';

const BAD_STRINGS = ['', ' ', '\u0000', '\ud800', '\udfff\ud800', '💥'.repeat(300), 'x'.repeat(70_000), '../../etc/passwd', '${MEI_SECRET}', 'team-b/b-job', '__proto__', 'constructor', 'a/b/c', '\u202e', '%ff%fe'];
const PROTO_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty'];

/** One malformed value: wrong types, bounds +-1, huge arrays, deep nesting, lone surrogates, prototype keys. */
export function badValue(rand: () => number, near?: unknown): unknown {
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)];
  switch (Math.floor(rand() * 9)) {
    case 0: return pick([null, true, false, 0, -1, NaN, 1e308, -0, Number.MAX_SAFE_INTEGER + 2]);
    case 1: {
      const bound = pick([BOUNDS.localId, BOUNDS.frameIndex, BOUNDS.seq, BOUNDS.coordinate, 63, 64, 253, 16384, MAX_PREVIEW_SIDE, MAX_THUMBNAIL_SIDE, 1, 0]);
      const n = typeof near === 'number' ? near : bound;
      return pick([n + 1, n - 1, -n, n + 0.5, bound + 1, -1]);
    }
    case 2: return pick(BAD_STRINGS);
    case 3: return Array.from({ length: pick([0, 1, 501, 5_000]) }, () => pick([0, 'x', null, {}]));
    case 4: {
      let v: unknown = 'deep';
      for (let i = 0, n = pick([20, 100, 500]); i < n; i++) v = rand() < 0.5 ? [v] : { a: v };
      return v;
    }
    case 5: return JSON.parse(`{${PROTO_KEYS.map((k) => `"${k}":{"polluted":true,"admin":true}`).join(',')}}`);
    case 6: return new Uint8Array(Array.from({ length: pick([0, 3, 100]) }, () => 0xff));
    case 7: return { ...(typeof near === 'object' && near ? near : {}), [pick(PROTO_KEYS)]: { isAdmin: true }, unknownField: 1 };
    default: return (typeof near === 'string' ? near : '') + pick(BAD_STRINGS);
  }
}

/** `template` with 1..3 fields (at any depth) replaced by bad values, or removed, or the whole thing replaced. */
export function mutate(rand: () => number, template: any): unknown {
  if (rand() < 0.08) return badValue(rand, template);
  const copy = structuredClone(template);
  for (let n = 1 + Math.floor(rand() * 3); n > 0; n--) {
    let cur: any = copy;
    for (let depth = 0; depth < 6; depth++) {
      const keys = Object.keys(cur);
      if (!keys.length) break;
      const k = keys[Math.floor(rand() * keys.length)];
      const child = cur[k];
      if (child && typeof child === 'object' && !(child instanceof Uint8Array) && rand() < 0.6) {
        cur = child;
        continue;
      }
      if (rand() < 0.1) delete cur[k];
      else cur[k] = badValue(rand, child);
      break;
    }
  }
  return copy;
}

/**
 * Runs `n` async tasks, at most `width` at once. After a task throws no new one starts, and the first error is
 * thrown once the tasks in flight have ended (so nothing is still sending when the caller cleans up).
 */
export async function pool(n: number, width: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  let failed = false;
  const lanes = await Promise.allSettled(
    Array.from({ length: width }, async () => {
      while (!failed && next < n) {
        try {
          await task(next++);
        } catch (err) {
          failed = true;
          throw err;
        }
      }
    }),
  );
  const error = lanes.find((l): l is PromiseRejectedResult => l.status === 'rejected');
  if (error) throw error.reason;
}

/** Random bytes, half of them starting like a JPEG. */
export function randomImageBytes(rand: () => number): Uint8Array {
  const b = new Uint8Array(Math.floor(rand() * 2000));
  for (let i = 0; i < b.length; i++) b[i] = Math.floor(rand() * 256);
  if (rand() < 0.5 && b.length >= 3) b.set([0xff, 0xd8, 0xff], 0);
  return b;
}

/** The four JSON/multipart bodies the dashboard API takes (paths from the route table), each fuzzed POST by team-a's user. */
export const HTTP_FUZZ_ROUTES = ['jobs', 'login', 'track', 'image'] as const;
export type HttpFuzzRoute = (typeof HTTP_FUZZ_ROUTES)[number];
export interface HttpFuzzRequest {
  path: string;
  raw: BodyInit;
  /** 'multipart' when `raw` is FormData (fetch sets the boundary). */
  type?: 'multipart';
  headers?: Record<string, string>;
}

/** A generator of malformed bodies per route; `aJob` is team-a's job, `bTrackId` a track of team-b's. */
export function httpFuzzBodies(rand: () => number, ctx: { aJob: { spec: unknown }; bTrackId: string }): Record<HttpFuzzRoute, () => HttpFuzzRequest> {
  const enc = new TextEncoder();
  const json = (v: unknown) => {
    const text = JSON.stringify(v, (_k, x) => (x instanceof Uint8Array ? Array.from(x) : x)) ?? 'null';
    // Bad UTF-8 in a body: bytes no encoder produces (lone continuation / overlong / FF).
    if (rand() < 0.05) {
      const b = enc.encode(text);
      const at = Math.floor(rand() * b.length);
      return Buffer.concat([b.subarray(0, at), Buffer.from([0xff, 0xc0, 0x80, 0xed, 0xa0, 0x80]), b.subarray(at)]);
    }
    return text;
  };
  return {
    jobs: () => ({ path: httpRoutes.createJob.path, raw: json(mutate(rand, { apiVersion: 'sedna.io/v1alpha1', kind: 'MultiEdgeInference', metadata: { name: 'fuzz-job', namespace: 'team-a' }, spec: ctx.aJob.spec })) }),
    // Rarely a well-formed {username, password} (the template's password is a number): few count as guesses.
    // From a random client address behind a trusted proxy: the per-address throttle would otherwise answer
    // 429 before parsing once 10 of them failed (the per-user throttle still counts).
    login: () => ({
      path: httpRoutes.login.path,
      raw: json(mutate(rand, { username: badValue(rand, 'alice'), password: 12345 })),
      headers: { 'x-forwarded-for': `10.${Math.floor(rand() * 256)}.${Math.floor(rand() * 256)}.${1 + Math.floor(rand() * 254)}` },
    }),
    track: () => ({ path: httpRoutes.searchTrack.path, raw: json(mutate(rand, { trackId: ctx.bTrackId, job: 'team-a/a-job', cameras: ['cam'], fromMs: 0, toMs: 1, limit: 10 })) }),
    image: () => {
      const f = new FormData();
      const fields = mutate(rand, { job: 'team-a/a-job', cameras: 'cam', fromMs: '0', toMs: '1', limit: '5', detect: 'false' }) as any;
      if (fields && typeof fields === 'object') for (const [k, v] of Object.entries(fields)) f.set(k, typeof v === 'string' ? v : (JSON.stringify(v) ?? ''));
      f.set(rand() < 0.9 ? 'image' : 'img', new Blob([randomImageBytes(rand) as Uint8Array<ArrayBuffer>], { type: rand() < 0.8 ? 'image/jpeg' : 'image/gif' }), 'q.jpg');
      return { path: httpRoutes.searchImage.path, raw: f, type: 'multipart' };
    },
  };
}

/**
 * What is wrong with the answer to a fuzzed body, or undefined when it is right: a 4xx naming its field (or
 * the body), a login failing as a login fails, or - rarely - a valid job created in team-a's namespace.
 */
export function httpFuzzProblem(route: HttpFuzzRoute, r: { status: number; json: any }): string | undefined {
  const named = typeof r.json?.error === 'string' && (typeof r.json.field === 'string' || /body|Content-Type|JSON|multipart/i.test(r.json.error));
  if (r.status >= 400 && r.status < 500 && named) return undefined;
  // A well-formed login that fails names no field on purpose (which one is wrong is not told), or is throttled.
  if (route === 'login' && (r.status === 401 || r.status === 429) && typeof r.json?.error === 'string') return undefined;
  // A mutation that happens to be valid: a created job (removed after).
  if (route === 'jobs' && r.status === 201 && r.json?.metadata?.namespace === 'team-a') return undefined;
  return `${route} -> ${r.status} ${JSON.stringify(r.json)?.slice(0, 300)}`;
}
