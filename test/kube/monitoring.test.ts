// The operator assets in deploy/monitoring against Prometheus's own promtool (built from its Go module by
// test/prom-harness/build.sh): the alert rules parse and fire on synthetic series (rules.test.yaml), every
// metric the rules and the Grafana dashboard query is one MEI exports, and the expositions of the server and
// agent registries pass `promtool check metrics` (Prometheus naming practice).
import { execFile, execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import yaml from 'js-yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { registry } from '../../server/observability/metrics.ts';
import '../../server/observability/job-metrics.ts';
import '../../server/observability/service-metrics.ts';
import { agentRegistry, observeFrame, registerCamera } from '../../edge-agent/src/agent/metrics.ts';
import { WorkQueue } from '../../server/controller-runtime/workqueue.ts';

const run = promisify(execFile);
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const dir = path.join(root, 'deploy/monitoring');
let promtool: string;

beforeAll(async () => {
  const { stdout } = await run('bash', [path.join(root, 'test/prom-harness/build.sh')], { maxBuffer: 1 << 24 });
  promtool = stdout.trim().split('\n').at(-1)!;
}, 3_600_000);

function promtoolRun(args: string[], cwd: string, input?: string): { code: number; out: string } {
  try {
    const out = execFileSync(promtool, args, { cwd, input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
    return { code: 0, out };
  } catch (err) {
    const e = err as { status: number; stdout: string; stderr: string };
    return { code: e.status, out: `${e.stdout}${e.stderr}` };
  }
}

/** Every metric name an expression mentions (identifiers followed by `{`, `[`, `)` or a space and known prefixes). */
function metricNames(expr: string): string[] {
  return [...expr.matchAll(/\b((?:mei|controller_runtime|workqueue|nodejs|process)_[a-z0-9_]+)/g)].map((m) => m[1]);
}

/** The metric names the server and agent export (a histogram's series: _bucket, _sum, _count). */
async function exported(): Promise<Set<string>> {
  const names = new Set<string>();
  for (const reg of [registry, agentRegistry]) {
    for (const m of await reg.getMetricsAsJSON()) {
      names.add(m.name);
      if (String(m.type) === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(`${m.name}${s}`);
    }
  }
  return names;
}

describe('deploy/monitoring with promtool', () => {
  it('the PrometheusRule parses, and promtool test rules passes (each alert fires on its synthetic series and not on the others)', () => {
    const work = mkdtempSync(path.join(tmpdir(), 'mei-rules-'));
    const rule = yaml.load(readFileSync(path.join(dir, 'prometheus-rules.yaml'), 'utf8')) as { kind: string; spec: { groups: unknown[] } };
    expect(rule.kind).toBe('PrometheusRule');
    writeFileSync(path.join(work, 'rules.yaml'), yaml.dump({ groups: rule.spec.groups }));
    copyFileSync(path.join(dir, 'rules.test.yaml'), path.join(work, 'rules.test.yaml'));
    const check = promtoolRun(['check', 'rules', 'rules.yaml'], work);
    expect(check.out).toMatch(/SUCCESS: 5 rules found/);
    expect(check.code).toBe(0);
    const test = promtoolRun(['test', 'rules', 'rules.test.yaml'], work);
    expect(test.out).toMatch(/SUCCESS/);
    expect(test.code).toBe(0);
  });

  it('every metric the alerts and the Grafana dashboard query is exported by the server or the agent', async () => {
    const names = await exported();
    const rule = yaml.load(readFileSync(path.join(dir, 'prometheus-rules.yaml'), 'utf8')) as { spec: { groups: Array<{ rules: Array<{ alert: string; expr: string }> }> } };
    const dashboard = JSON.parse(readFileSync(path.join(dir, 'grafana-dashboard.json'), 'utf8')) as { panels: Array<{ title: string; targets: Array<{ expr: string }> }> };
    const queries = [
      ...rule.spec.groups.flatMap((g) => g.rules.map((r) => ({ where: `alert ${r.alert}`, expr: r.expr }))),
      ...dashboard.panels.flatMap((p) => p.targets.map((t) => ({ where: `panel "${p.title}"`, expr: t.expr }))),
    ];
    expect(queries.length).toBeGreaterThan(10);
    const missing = queries.flatMap((q) => metricNames(q.expr).filter((n) => !names.has(n)).map((n) => `${q.where}: ${n}`));
    expect(missing).toEqual([]);
  });

  it('the server and agent expositions pass promtool check metrics', async () => {
    // Some activity first, so histograms and labelled series are present.
    const q = new WorkQueue(undefined, 'promtool-check');
    q.add('a/b');
    q.done((await q.get())!);
    q.shutDown();
    const stop = registerCamera('door', { dropped: () => 3, threads: () => ({ detector: 2, embedder: 1 }) });
    observeFrame('door', { sourceMs: 2, detectMs: 20, detectWaitMs: 20, embedMs: 5, trackMs: 1, totalMs: 28 });
    // prom-client's own default gauges nodejs_active_{handles,requests,resources}_total break the "_total is for
    // counters" rule; they are the library's names (kept: dashboards for Node.js use them). Nothing else may.
    const libraryDefaults = /^nodejs_active_(handles|requests|resources)_total non-counter metrics should not have "_total" suffix$/;
    for (const reg of [registry, agentRegistry]) {
      const r = promtoolRun(['check', 'metrics'], root, await reg.metrics());
      const problems = r.out.split('\n').filter((l) => l && !libraryDefaults.test(l));
      expect(problems).toEqual([]);
    }
    stop();
  });
});
