// The HTTP contract (contracts/src/http.ts) and its OpenAPI document (contracts/src/openapi.ts): the document
// passes a real OpenAPI validator (@seriousme/openapi-schema-validator), lists exactly the routes under
// app/api (walked on disk, each route file imported), and each route file binds the handler of its table row.
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Validator } from '@seriousme/openapi-schema-validator';
import { describe, expect, it } from 'vitest';
import { FindTrackRequestSchema, ImageSearchFormSchema, TrackListQuerySchema, apiPaths, describeIssue, httpRoutes, type HttpRoute } from '@mei/contracts';
import { loadJobSchema } from '@mei/contracts/crd';
import { openApiDocument } from '@mei/contracts/openapi';
import { handlers } from '../../server/http/api.ts';
import { searchHandlers } from '../../server/http/search-api.ts';

const REPO_ROOT = path.resolve(import.meta.dirname, '../..');
const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'] as const;
const doc = openApiDocument({ version: '0.1.0-test', jobSchema: loadJobSchema() }) as any;

/** Every app/api/**\/route.ts as its OpenAPI path (`[id]` -> `{id}`) and file. */
function routeFiles(): Array<{ path: string; file: string }> {
  const out: Array<{ path: string; file: string }> = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir)) {
      const p = path.join(dir, e);
      if (statSync(p).isDirectory()) walk(p);
      else if (e === 'route.ts') out.push({ path: '/' + path.relative(path.join(REPO_ROOT, 'app'), dir).split(path.sep).join('/').replace(/\[([^\]]+)\]/g, '{$1}'), file: p });
    }
  };
  walk(path.join(REPO_ROOT, 'app/api'));
  return out;
}

describe('OpenAPI document', () => {
  it('is a valid OpenAPI 3.0 document, every $ref resolving', async () => {
    const validator = new Validator();
    const result = await validator.validate(structuredClone(doc));
    expect(result.errors ?? [], JSON.stringify(result.errors, null, 1)?.slice(0, 2000)).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.0');
    const refs = JSON.stringify(doc).match(/"\$ref":"[^"]+"/g) ?? [];
    expect(refs.length).toBeGreaterThan(10);
    for (const ref of new Set(refs)) {
      const target = ref.slice(8, -1).replace(/^#\//, '').split('/').reduce((o: any, k) => o?.[k], doc);
      expect(target, ref).toBeTypeOf('object');
    }
    // The job is the CRD's own schema (what kube-apiserver validates), not a restatement.
    expect(doc.components.schemas.MultiEdgeInference).toEqual(loadJobSchema());
  });

  it('lists exactly the routes under app/api, and each route file binds the handler of its table row', async () => {
    const byName = { ...handlers, ...searchHandlers } as Record<string, unknown>;
    const onDisk: string[] = [];
    for (const { path: p, file } of routeFiles()) {
      const mod = await import(pathToFileURL(file).href);
      for (const m of METHODS) {
        if (typeof mod[m] !== 'function') continue;
        onDisk.push(`${m} ${p}`);
        const op = doc.paths[p]?.[m.toLowerCase()];
        expect(op, `${m} ${p} (${path.relative(REPO_ROOT, file)}) is missing from the document`).toBeDefined();
        expect(mod[m], `${m} ${p} binds another handler than ${op.operationId}`).toBe(byName[op.operationId]);
      }
    }
    const documented = Object.entries(doc.paths).flatMap(([p, ops]) => Object.keys(ops as object).map((m) => `${m.toUpperCase()} ${p}`));
    expect(documented.sort()).toEqual(onDisk.sort());
    expect(onDisk.length).toBe(Object.keys(httpRoutes).length);
  });

  it('documents auth, the same-origin rule, parameters and bodies from the table', () => {
    for (const [name, r] of Object.entries(httpRoutes) as Array<[string, HttpRoute]>) {
      const op = doc.paths[r.path][r.method.toLowerCase()];
      expect(op.operationId).toBe(name);
      expect(op.security, name).toEqual(r.auth === 'session' ? [{ session: [] }] : []);
      expect(op['x-mei-same-origin'] === true, name).toBe(r.sameOrigin);
      // Every write refuses cross-site requests.
      if (r.method !== 'GET') expect(r.sameOrigin, name).toBe(true);
      const pathParams = [...r.path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
      expect(op.parameters.filter((p: any) => p.in === 'path').map((p: any) => p.name), name).toEqual(pathParams);
    }
    const tracks = doc.paths['/api/search/tracks'].get.parameters;
    expect(tracks.map((p: any) => p.name)).toEqual(['job', 'cameras', 'fromMs', 'toMs', 'limit', 'before']);
    expect(tracks.find((p: any) => p.name === 'limit')).toMatchObject({ required: false, schema: { type: 'integer', minimum: 1, maximum: 500 } });
    expect(tracks.find((p: any) => p.name === 'job').required).toBe(true);
    const image = doc.paths['/api/search/image'].post.requestBody.content['multipart/form-data'].schema;
    expect(Object.keys(image.properties)).toEqual(['image', 'job', 'cameras', 'fromMs', 'toMs', 'limit', 'detect']);
    expect(image.required).toEqual(['image', 'job']);
    expect(doc.paths['/api/search/track'].post.requestBody.content['application/json'].schema).toMatchObject({ required: ['trackId'], additionalProperties: false });
    expect(doc.paths['/api/jobs'].post.requestBody.content['application/json'].schema).toEqual({ $ref: '#/components/schemas/MultiEdgeInference' });
  });
});

describe('apiPaths (the UI\'s URLs) come from the route table', () => {
  it('fills and encodes path parameters', () => {
    expect(apiPaths.job('team-a', 'cams')).toBe('/api/jobs/team-a/cams');
    expect(apiPaths.jobSeries('a b', 'x/y')).toBe('/api/jobs/a%20b/x%2Fy/series');
    expect(apiPaths.trackThumbnail('12')).toBe('/api/search/tracks/12/thumbnail');
    expect([apiPaths.jobs, apiPaths.tracks, apiPaths.openapi]).toEqual(['/api/jobs', '/api/search/tracks', '/api/openapi.json']);
  });
});

describe('HTTP schemas: one name per parameter, refusals name the field', () => {
  const refusal = (schema: Parameters<typeof describeIssue>[2] & {}, value: unknown, what = 'query') => {
    const r = schema.safeParse(value);
    expect(r.success, JSON.stringify(value)).toBe(false);
    return describeIssue(r.error!, what, schema);
  };

  it('query strings and forms: text parsed to numbers, lists and booleans', () => {
    expect(TrackListQuerySchema.parse({ job: 'team-a/cams', cameras: ['a,b', ' c '], fromMs: '5', toMs: '', limit: '20' })).toEqual({ job: 'team-a/cams', cameras: ['a', 'b', 'c'], fromMs: 5, toMs: undefined, limit: 20 });
    expect(ImageSearchFormSchema.parse({ job: 'a/b', detect: '1' })).toMatchObject({ detect: true });
    expect(ImageSearchFormSchema.parse({ job: 'a/b', detect: 'false' })).toMatchObject({ detect: false });
  });

  it('old names, unknown names, bad values and bad shapes: the field and why', () => {
    expect(refusal(TrackListQuerySchema, { job: 'a/b', from: '1' })).toEqual({ field: 'from', error: 'from: renamed: the parameter is called fromMs' });
    expect(refusal(TrackListQuerySchema, { job: 'a/b', camera: 'x' })).toMatchObject({ field: 'camera', error: expect.stringContaining('cameras') });
    expect(refusal(TrackListQuerySchema, { job: 'a/b', sort: 'x' })).toMatchObject({ field: 'sort', error: expect.stringContaining('not a parameter of this query (known: job, cameras') });
    expect(refusal(TrackListQuerySchema, { job: 'a/b', limit: '501' })).toEqual({ field: 'limit', error: 'limit: must be in 1..500' });
    expect(refusal(TrackListQuerySchema, { job: 'a/b', limit: '2.5' })).toEqual({ field: 'limit', error: 'limit: must be an integer' });
    expect(refusal(TrackListQuerySchema, { job: 'a/b', limit: ['1', '2'] })).toMatchObject({ field: 'limit' });
    expect(refusal(TrackListQuerySchema, { job: 'a/b', fromMs: '9', toMs: '3' })).toEqual({ field: 'fromMs', error: 'fromMs: is after toMs (9 > 3)' });
    expect(refusal(TrackListQuerySchema, { job: 'a/b', before: '0' })).toMatchObject({ field: 'before' });
    expect(refusal(TrackListQuerySchema, { job: 'Team/b' })).toMatchObject({ field: 'job', error: expect.stringContaining('namespace: Invalid value') });
    expect(refusal(TrackListQuerySchema, {})).toMatchObject({ field: 'job', error: 'job: required: <namespace>/<name> of a job' });
    expect(refusal(FindTrackRequestSchema, { trackId: '1', cameras: ['x'.repeat(64)] }, 'body')).toMatchObject({ field: 'cameras[0]' });
    expect(refusal(FindTrackRequestSchema, { trackId: 7 }, 'body')).toMatchObject({ field: 'trackId', error: 'trackId: must be a track id (a positive integer)' });
    expect(refusal(FindTrackRequestSchema, [1], 'body')).toEqual({ error: 'body: must be a JSON object {cameras, fromMs, toMs, limit, trackId, job}' });
    // A prototype key in a parsed JSON body is an own key like any other: refused by name, nothing polluted.
    expect(refusal(FindTrackRequestSchema, JSON.parse('{"trackId":"1","__proto__":{"admin":true}}'), 'body')).toMatchObject({ field: '__proto__' });
    expect(({} as any).admin).toBeUndefined();
  });
});
