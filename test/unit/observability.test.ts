// The operator endpoints' guards and the job page's camera series, on a real HTTP server where it matters.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { MultiEdgeInference } from '@mei/contracts';
import { metricsAuth, opsHandler, runChecks } from '../../server/observability/http.ts';
import { CameraSeries } from '../../server/observability/camera-series.ts';
import { forwardAgentLine, textLine, type Logger } from '../../server/log.ts';

let server: Server | undefined;
afterEach(() => new Promise<void>((r) => (server ? server.close(() => r()) : r())));

async function serve(env: Record<string, string | undefined>): Promise<string> {
  const ops = opsHandler({ env, readiness: () => runChecks([{ name: 'database', run: () => undefined }, { name: 'leader', run: () => 'standby: another replica holds the leader lease' }]) });
  server = createServer((req, res) => {
    if (!ops(req, res)) res.writeHead(404).end();
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('operator endpoints', () => {
  it('/metrics with MEI_METRICS_TOKEN: 401 without or with a wrong bearer token, 200 with it', async () => {
    const url = await serve({ MEI_METRICS_TOKEN: 'a-metrics-token-of-some-length' });
    expect((await fetch(`${url}/metrics`)).status).toBe(401);
    expect((await fetch(`${url}/metrics`, { headers: { authorization: 'Bearer a-metrics-token-of-some-lengtH' } })).status).toBe(401);
    const ok = await fetch(`${url}/metrics`, { headers: { authorization: 'Bearer a-metrics-token-of-some-length' } });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toMatch(/^# HELP process_cpu_user_seconds_total/m);
  });

  it('a short or empty token, or an unknown auth mode, is refused at start-up naming the variable', () => {
    expect(() => metricsAuth({ MEI_METRICS_TOKEN: 'short' })).toThrow(/MEI_METRICS_TOKEN must be at least 16 characters/);
    expect(() => metricsAuth({ MEI_METRICS_AUTH: 'token' })).toThrow(/MEI_METRICS_TOKEN/);
    expect(() => metricsAuth({ MEI_METRICS_AUTH: 'open' })).toThrow(/MEI_METRICS_AUTH must be/);
    expect(metricsAuth({})).toEqual({ kind: 'loopback' });
    expect(metricsAuth({ MEI_METRICS_AUTH: 'none' })).toEqual({ kind: 'none' });
  });

  it('/readyz is 503 with the failing check and its reason; /healthz is 200', async () => {
    const url = await serve({});
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    const r = await fetch(`${url}/readyz`);
    expect(r.status).toBe(503);
    expect(await r.json()).toEqual({ ready: false, checks: [{ name: 'database', ok: true }, { name: 'leader', ok: false, reason: 'standby: another replica holds the leader lease' }] });
    expect((await fetch(`${url}/other`)).status).toBe(404);
  });

  it('a check that hangs is reported as not answering, not a hung probe', async () => {
    const r = await runChecks([{ name: 'database', run: () => new Promise<string | undefined>(() => {}) }], 50);
    expect(r).toEqual({ ready: false, checks: [{ name: 'database', ok: false, reason: 'no answer within 50 ms' }] });
  });
});

describe('logs', () => {
  it('text lines show time, level, component, message and fields', () => {
    const line = textLine(JSON.stringify({ level: 'warn', time: '2026-12-07T10:11:12.345Z', component: 'agent', namespace: 'team-a', job: 'lobby', msg: 'camera retrying' }));
    expect(line).toBe('10:11:12.345 WARN  [agent] camera retrying  namespace=team-a job=lobby\n');
  });

  it("an agent's JSON line keeps its level and fields; job and node come from the runtime, not the agent", () => {
    const got: Array<{ level: string; msg: string; fields: Record<string, unknown> }> = [];
    const make = (fields: Record<string, unknown>): Logger => ({
      info: (msg) => got.push({ level: 'info', msg, fields }),
      warn: (msg) => got.push({ level: 'warn', msg, fields }),
      error: (msg) => got.push({ level: 'error', msg, fields }),
      debug: (msg) => got.push({ level: 'debug', msg, fields }),
      child: (f) => make({ ...fields, ...f }),
    });
    const log = make({ component: 'agent', namespace: 'team-a', job: 'lobby', node: 'edge-1' });
    forwardAgentLine(log, JSON.stringify({ level: 'warn', msg: 'source lost', camera: 'door', job: 'forged', node: 'forged' }));
    forwardAgentLine(log, 'plain text line');
    expect(got).toEqual([
      { level: 'warn', msg: 'source lost', fields: { component: 'agent', namespace: 'team-a', job: 'lobby', node: 'edge-1', camera: 'door' } },
      { level: 'info', msg: 'plain text line', fields: { component: 'agent', namespace: 'team-a', job: 'lobby', node: 'edge-1' } },
    ]);
  });
});

describe('camera series (job page charts)', () => {
  const job = (name: string, fps?: number, people?: number): MultiEdgeInference =>
    ({
      apiVersion: 'sedna.io/v1alpha1',
      kind: 'MultiEdgeInference',
      metadata: { namespace: 'team-a', name, uid: name },
      spec: { cameras: [{ name: 'door', node: 'edge-1', source: 'file:///x.mp4' }, { name: 'hall', node: 'edge-1', source: 'file:///y.mp4' }] },
      status: { cameras: fps === undefined ? [] : [{ name: 'door', state: 'Streaming', fps, activeTracks: people }] },
    }) as unknown as MultiEdgeInference;

  it('samples each camera every step, keeps only the window, takes the median latency, and forgets deleted jobs', () => {
    let t = 0;
    let jobs = [job('lobby', 10, 3)];
    const s = new CameraSeries({ jobs: { list: () => jobs }, stepMs: 1_000, windowMs: 3_000, now: () => t });
    for (const ms of [40, 10, 1000]) s.observeLatency('team-a/lobby', 'door', ms);
    s.sample();
    t = 1_000;
    jobs = [job('lobby', 9.5, 4)];
    s.sample();
    t = 3_500;
    s.sample();
    const got = s.get(jobs[0]);
    expect(got.cameras.map((c) => c.name)).toEqual(['door', 'hall']);
    // t=0 fell out of the 3 s window; latency was only observed before the first sample.
    expect(got.cameras[0].samples).toEqual([
      { t: 1_000, fps: 9.5, people: 4 },
      { t: 3_500, fps: 9.5, people: 4 },
    ]);
    expect(got.cameras[1].samples).toEqual([{ t: 1_000 }, { t: 3_500 }]);
    t = 0;
    const fresh = new CameraSeries({ jobs: { list: () => jobs }, stepMs: 1_000, windowMs: 3_000, now: () => t });
    for (const ms of [40, 10, 1000]) fresh.observeLatency('team-a/lobby', 'door', ms);
    fresh.sample();
    expect(fresh.get(jobs[0]).cameras[0].samples[0].latencyMs).toBe(40);
    jobs = [];
    fresh.sample();
    expect(fresh.get(job('lobby')).cameras[0].samples).toEqual([]);
  });
});
