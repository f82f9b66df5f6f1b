// What an operator watches, on a real server process running the demo job (real agent process, real models on
// the real video): /healthz and /readyz, /metrics of the server and of the agent parsed by Prometheus's own
// Python parser (prometheus_client, in .venv-ref), and JSON log lines that carry the job's fields.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, startServer, type ServerProcess } from './server-process.ts';

const PYTHON = path.join(REPO_ROOT, '.venv-ref/bin/python');
const PARSE = `
import json, sys
from prometheus_client.parser import text_string_to_metric_families
fams = list(text_string_to_metric_families(open(sys.argv[1]).read()))
print(json.dumps([{"name": f.name, "type": f.type, "samples": [[s.name, s.labels, s.value] for s in f.samples]} for f in fams]))
`;
interface Family {
  name: string;
  type: string;
  samples: Array<[string, Record<string, string>, number]>;
}

/** Parses an exposition with prometheus_client (it raises on anything malformed). */
function parseExposition(text: string): Family[] {
  if (!existsSync(PYTHON)) throw new Error(`${PYTHON} missing: run bash scripts/setup-reference.sh (npm test does)`);
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'mei-metrics-')), 'metrics.txt');
  writeFileSync(file, text);
  return JSON.parse(execFileSync(PYTHON, ['-c', PARSE, file], { encoding: 'utf8' }));
}

/** The value of the sample `name` whose labels include `labels` (undefined when absent). */
function sample(fams: Family[], name: string, labels: Record<string, string> = {}): number | undefined {
  for (const f of fams) for (const [n, l, v] of f.samples) if (n === name && Object.entries(labels).every(([k, x]) => l[k] === x)) return v;
  return undefined;
}

async function scrape(url: string): Promise<Family[]> {
  const res = await fetch(url);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return parseExposition(await res.text());
}

/** The JSON lines the server printed (its own and its agents', forwarded with their fields). */
function jsonLines(out: string): Array<Record<string, unknown>> {
  return out
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l));
}

describe('observability of a running server and its demo agent', () => {
  let server: ServerProcess;
  beforeAll(async () => {
    // The demo job (default/demo: cameras left and right, one local agent); the agent serves metrics on a free port.
    server = await startServer({ MEI_LOG_FORMAT: 'json', MEI_AGENT_METRICS_PORT: '0', MEI_ADMIN_PASSWORD: 'observability-test-pw' });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('/healthz answers, /readyz says ready with every check named', async () => {
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    await expect.poll(async () => (await fetch(`${server.url}/readyz`)).status, { timeout: 120_000 }).toBe(200);
    const ready = await (await fetch(`${server.url}/readyz`)).json();
    expect(ready).toEqual({ ready: true, checks: [{ name: 'database', ok: true }, { name: 'leader', ok: true }, { name: 'controllers', ok: true }, { name: 'ingest', ok: true }] });
  });

  it('server /metrics: valid exposition with controller-runtime, process and per-camera series after frames flow', async () => {
    let fams: Family[] = [];
    await expect
      .poll(
        async () => {
          fams = await scrape(`${server.url}/metrics`);
          return (sample(fams, 'mei_camera_up', { job_namespace: 'default', job_name: 'demo', camera: 'left' }) ?? 0) + (sample(fams, 'mei_camera_up', { job_name: 'demo', camera: 'right' }) ?? 0);
        },
        { timeout: 300_000, interval: 1_000 },
      )
      .toBe(2);
    await expect.poll(async () => sample((fams = await scrape(`${server.url}/metrics`)), 'mei_camera_fps', { job_name: 'demo', camera: 'left' }) ?? 0, { timeout: 120_000, interval: 1_000 }).toBeGreaterThan(0);
    expect(sample(fams, 'mei_camera_target_fps', { job_name: 'demo', camera: 'left' })).toBeGreaterThan(0);
    expect(sample(fams, 'controller_runtime_reconcile_total', { controller: 'main', result: 'success' })).toBeGreaterThan(0);
    expect(sample(fams, 'controller_runtime_reconcile_time_seconds_count', { controller: 'upstream' })).toBeGreaterThan(0);
    expect(sample(fams, 'workqueue_adds_total', { name: 'downstream' })).toBeGreaterThan(0);
    expect(sample(fams, 'workqueue_depth', { name: 'main' })).toBeGreaterThanOrEqual(0);
    expect(sample(fams, 'mei_jobs', { phase: 'Running' })).toBe(1);
    // Identity and live view, read from their own stats.
    await expect.poll(async () => sample((fams = await scrape(`${server.url}/metrics`)), 'mei_identities_active', { job_namespace: 'default', job_name: 'demo' }) ?? 0, { timeout: 120_000, interval: 1_000 }).toBeGreaterThan(0);
    expect(sample(fams, 'mei_identity_assignments_total', { job_name: 'demo' })).toBeGreaterThan(0);
    expect(sample(fams, 'mei_identity_match_duration_seconds_count')).toBeGreaterThan(0);
    expect(sample(fams, 'mei_live_frames_published_total')).toBeGreaterThan(0);
    expect(sample(fams, 'mei_live_browsers')).toBe(0);
    expect(sample(fams, 'mei_ingest_batches_total', { job_namespace: 'default', outcome: 'committed' })).toBeGreaterThan(0);
    expect(sample(fams, 'mei_ingest_commit_duration_seconds_count')).toBeGreaterThan(0);
    expect(sample(fams, 'process_cpu_user_seconds_total')).toBeGreaterThan(0);
    expect(sample(fams, 'nodejs_eventloop_lag_seconds')).toBeGreaterThanOrEqual(0);
    // Bounded labels: no series is labelled by a track or a global identity.
    for (const f of fams) for (const [, labels] of f.samples) expect(Object.keys(labels)).not.toContain('track');
  });

  it('agent /metrics (its own port): frames and stage latencies per camera', async () => {
    const isAnnouncement = (e: Record<string, unknown>) => e.component === 'agent' && String(e.msg).startsWith('metrics on http');
    let announced: Record<string, unknown> | undefined;
    await expect.poll(() => (announced = jsonLines(server.output()).find(isAnnouncement)), { timeout: 120_000 }).toBeDefined();
    const url = String(announced!.msg).slice('metrics on '.length);
    let fams: Family[] = [];
    await expect.poll(async () => sample((fams = await scrape(url)), 'mei_agent_frames_processed_total', { camera: 'left' }) ?? 0, { timeout: 300_000, interval: 1_000 }).toBeGreaterThan(0);
    for (const stage of ['decode', 'detect', 'embed', 'track']) expect(sample(fams, 'mei_agent_stage_duration_seconds_count', { camera: 'right', stage })).toBeGreaterThan(0);
    expect(sample(fams, 'mei_agent_inference_threads', { camera: 'left', network: 'detector' })).toBeGreaterThan(0);
    expect(sample(fams, 'mei_agent_frames_dropped_total', { camera: 'left' })).toBeGreaterThanOrEqual(0);
    expect(sample(fams, 'process_resident_memory_bytes')).toBeGreaterThan(0);
  });

  it('log lines are JSON with level and time; agent lines carry namespace, job and node', () => {
    const lines = jsonLines(server.output());
    expect(lines.length).toBeGreaterThan(0);
    for (const e of lines) {
      expect(typeof e.msg).toBe('string');
      expect(['debug', 'info', 'warn', 'error']).toContain(e.level);
      expect(Number.isNaN(Date.parse(String(e.time)))).toBe(false);
    }
    const agent = lines.filter((e) => e.component === 'agent');
    expect(agent.length).toBeGreaterThan(0);
    for (const e of agent) expect(e).toMatchObject({ namespace: 'default', job: 'demo', node: expect.any(String) });
  });
});
