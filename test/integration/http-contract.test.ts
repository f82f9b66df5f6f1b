// The HTTP contract (contracts/src/http.ts) against the real server process over real HTTP (Next route
// handlers, PGlite): /api/openapi.json is served and valid, every route of the table that needs a session
// answers 401 without one, bad parameters are 400s naming the field (old parameter names included), and
// real answers parse with the response schemas.
import { Validator } from '@seriousme/openapi-schema-validator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HealthSchema, JobListSchema, MeSchema, ServerInfoSchema, TrackListSchema, TracksPerHourSchema, httpRoutes, type HttpRoute } from '@mei/contracts';
import { loadJobSchema } from '@mei/contracts/crd';
import { openApiDocument } from '@mei/contracts/openapi';
import { fetchJson, startServer, type ServerProcess } from './server-process.ts';

const PASSWORD = 'http-contract-password';
let server: ServerProcess;
let cookie: string;

async function call(method: string, p: string, o: { json?: unknown; form?: FormData; auth?: boolean } = {}) {
  const headers: Record<string, string> = o.auth === false ? {} : { cookie };
  let body: BodyInit | undefined;
  if (o.json !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(o.json);
  } else if (o.form) body = o.form;
  return fetchJson(server.url + p, { method, headers, body });
}

beforeAll(async () => {
  server = await startServer({ MEI_DEMO: '0', MEI_ADMIN_PASSWORD: PASSWORD });
  const login = await fetch(`${server.url}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password: PASSWORD }) });
  expect(login.status).toBe(200);
  cookie = login.headers.get('set-cookie')!.split(';')[0];
});

afterAll(async () => {
  const code = await server?.stop();
  expect(code === 0 || code === null, `exit code ${code}:\n${server?.output().slice(-3000)}`).toBe(true);
});

describe('HTTP contract on the real server', () => {
  it('GET /api/openapi.json: the document generated from the contract, valid, with the served CRD schema', async () => {
    expect((await call('GET', '/api/openapi.json', { auth: false })).status).toBe(401);
    const r = await call('GET', '/api/openapi.json');
    expect(r.status).toBe(200);
    expect(r.type).toMatch(/^application\/json/);
    const info = await call('GET', '/api/info');
    expect(r.json).toEqual(openApiDocument({ version: info.json.version, jobSchema: loadJobSchema() }));
    expect(r.json.components.schemas.MultiEdgeInference).toEqual((await call('GET', '/api/schema')).json);
    const validator = new Validator();
    const result = await validator.validate(r.json);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
  });

  it('every route that needs a session answers 401 without one', async () => {
    const fill = (p: string) => p.replace('{namespace}', 'default').replace('{name}', 'x').replace('{id}', '1');
    const guarded = Object.values(httpRoutes as Record<string, HttpRoute>).filter((r) => r.auth === 'session');
    expect(guarded.length).toBe(Object.keys(httpRoutes).length - 3); // all but health, login and logout
    for (const r of guarded) {
      const res = await call(r.method, fill(r.path), { auth: false, ...(r.body?.type === 'application/json' ? { json: {} } : {}) });
      expect(res.status, `${r.method} ${r.path}: ${JSON.stringify(res.json)}`).toBe(401);
    }
  });

  it('a bad parameter is a 400 naming it (query, path, JSON body, form; renamed parameters say the new name)', async () => {
    const form = (fields: Record<string, string>) => {
      const f = new FormData();
      for (const [k, v] of Object.entries(fields)) f.set(k, v);
      f.set('image', new Blob([new Uint8Array([0xff, 0xd8, 0xff, 0xd9])], { type: 'image/jpeg' }), 'q.jpg');
      return f;
    };
    const cases: Array<[string, string, Parameters<typeof call>[2], string, RegExp]> = [
      ['GET', '/api/search/tracks?job=default/x&from=5', {}, 'from', /renamed: the parameter is called fromMs/],
      ['GET', '/api/search/tracks?job=default/x&camera=a', {}, 'camera', /called cameras/],
      ['GET', '/api/search/tracks?job=default/x&limit=0', {}, 'limit', /must be in 1\.\.500/],
      ['GET', '/api/search/tracks?job=default/x&fromMs=soon', {}, 'fromMs', /Expected number/],
      ['GET', '/api/search/tracks?job=default/x&fromMs=9&toMs=3', {}, 'fromMs', /after toMs/],
      ['GET', '/api/search/hourly', {}, 'job', /required/],
      ['GET', '/api/jobs?namespace=Bad_NS', {}, 'namespace', /RFC 1123/],
      ['GET', '/api/jobs/default/Bad_Name', {}, 'name', /RFC 1123/],
      ['GET', '/api/search/tracks/abc', {}, 'id', /track id/],
      ['GET', '/api/health?verbose=1', { auth: false }, 'verbose', /not a parameter/],
      ['POST', '/api/search/track', { json: { trackId: '1', fromMs: '0' } }, 'fromMs', /Expected number, received string/],
      ['POST', '/api/search/track', { json: { trackId: '1', to: 5 } }, 'to', /called toMs/],
      ['POST', '/api/auth/login', { json: { username: 'admin', password: 5 }, auth: false }, 'password', /Expected string/],
      ['POST', '/api/search/image', { form: form({ job: 'default/x', from: '0' }) }, 'from', /called fromMs/],
      ['POST', '/api/search/image', { form: form({ job: 'default/x', limit: '101' }) }, 'limit', /must be in 1\.\.100/],
    ];
    for (const [method, p, o, field, message] of cases) {
      const r = await call(method, p, o);
      expect({ status: r.status, field: r.json?.field }, `${method} ${p}: ${JSON.stringify(r.json)}`).toEqual({ status: 400, field });
      expect(r.json.error).toMatch(message);
      expect(r.json.error.startsWith(`${field}: `)).toBe(true);
    }
    // The same routes with good parameters, under the names the UI sends (app/search/api.ts), are answered.
    expect((await call('GET', '/api/health?live')).status).toBe(200);
    expect((await call('GET', '/api/jobs?namespace=default')).status).toBe(200);
    const page = await call('GET', '/api/search/tracks?job=default/x&cameras=a,b&fromMs=1&toMs=2&limit=5&before=99');
    expect(page.status, JSON.stringify(page.json)).toBe(200);
    expect(TrackListSchema.strict().parse(page.json)).toMatchObject({ items: [] });
    const hourly = await call('GET', '/api/search/hourly?job=default/x');
    expect(TracksPerHourSchema.strict().parse(hourly.json)).toEqual({ jobKey: 'default/x', buckets: [] });
  });

  it('answers parse with the response schemas', async () => {
    expect(MeSchema.strict().parse((await call('GET', '/api/auth/me')).json)).toEqual({ username: 'admin', namespaces: ['*'] });
    ServerInfoSchema.strict().parse((await call('GET', '/api/info')).json);
    HealthSchema.parse((await call('GET', '/api/health')).json);
    JobListSchema.strict().parse((await call('GET', '/api/jobs')).json);
  });
});
