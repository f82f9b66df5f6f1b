// The full HTTP body fuzz of issue #12: 10 000 generated malformed bodies per route (jobs, login, search by
// track, search by image; generators in test/support/fuzz.ts, the same as the sample in npm test) POSTed by
// team-a's user to the real server process over real HTTP (keep-alive), served from the production build of
// the dashboard (scripts/prepare.mjs builds it when stale; --dev uses Next's dev server instead). Asserts what
// test/integration/hostile-input.test.ts asserts of its sample: no 5xx, every refusal a 4xx naming its field
// (or the body), the server up, team-b's job and tracks unchanged. Exit 1 when any of that fails.
//   npm run fuzz:http -- [--json] [--per-route 10000] [--concurrency 16] [--routes jobs,login,track,image] [--dev] [--seed 4242]
import { loadavg } from 'node:os';
import { seededRandom } from '../test/support/random.ts';
import { HTTP_FUZZ_ROUTES, httpFuzzBodies, httpFuzzProblem, pool, type HttpFuzzRoute } from '../test/support/fuzz.ts';
import { startHostileServer } from '../test/support/hostile-server.ts';
import { cpuMsOf } from '../test/support/proc.ts';
import { FlagError, benchFlags, numberFlag, runBench } from './bench-args.ts';

const USAGE = 'usage: npm run fuzz:http -- [--json] [--per-route N] [--concurrency N] [--routes jobs,login,track,image] [--dev] [--seed N]';

const ownCpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const load = () => loadavg().map((l) => Math.round(l * 100) / 100);

async function main(): Promise<void> {
  const values = benchFlags({
    dev: { type: 'boolean', default: false },
    'per-route': { type: 'string' },
    concurrency: { type: 'string' },
    routes: { type: 'string' },
    seed: { type: 'string' },
  });
  const perRoute = numberFlag(values['per-route'], '--per-route', 10_000, 1, 1e7, true);
  const concurrency = numberFlag(values.concurrency, '--concurrency', 16, 1, 1024, true);
  const seed = numberFlag(values.seed, '--seed', 4242, 0, 2 ** 32 - 1, true);
  const routes = (values.routes?.split(',').map((r) => r.trim()) ?? [...HTTP_FUZZ_ROUTES]) as HttpFuzzRoute[];
  for (const r of routes) if (!(HTTP_FUZZ_ROUTES as readonly string[]).includes(r)) throw new FlagError(`--routes: unknown route '${r}' (routes: ${HTTP_FUZZ_ROUTES.join(', ')})`);
  const say = (m: string) => console.error(`[fuzz:http] ${m}`);

  if (!values.dev) {
    const { prepareNext } = await import('./prepare.mjs');
    prepareNext();
  }
  say(`starting the server (${values.dev ? 'Next dev server' : 'production build'}) ...`);
  const h = await startHostileServer({ production: !values.dev });
  const pid = h.server.child.pid!;
  const problems: string[] = [];
  const results: Record<string, { requests: number; wallMs: number; requestsPerSecond: number; serverCpuMs: number; statuses: Record<number, number>; problems: number; load: number[] }> = {};
  const cpu0 = ownCpuMs();
  const serverCpu0 = cpuMsOf(pid);
  const t0 = performance.now();
  try {
    await h.api('alice', 'POST', '/api/jobs', { metadata: { name: 'fuzz-job', namespace: 'team-a' }, spec: h.aJob.spec });
    const bodies = httpFuzzBodies(seededRandom(seed), { aJob: h.aJob, bTrackId: h.bTrackId });
    for (const route of routes) {
      const statuses: Record<number, number> = {};
      let bad = 0;
      const s0 = cpuMsOf(pid);
      const w0 = performance.now();
      await pool(perRoute, concurrency, async () => {
        const b = bodies[route]();
        const r = await h.api('alice', 'POST', b.path, undefined, { raw: b.raw, type: b.type, headers: b.headers });
        statuses[r.status] = (statuses[r.status] ?? 0) + 1;
        const problem = httpFuzzProblem(route, r);
        if (problem) {
          bad++;
          if (problems.length < 20) problems.push(problem);
        }
      });
      const wallMs = performance.now() - w0;
      results[route] = { requests: perRoute, wallMs: Math.round(wallMs), requestsPerSecond: Math.round((perRoute / wallMs) * 1000 * 10) / 10, serverCpuMs: cpuMsOf(pid) - s0, statuses, problems: bad, load: load() };
      say(`${route}: ${perRoute} bodies in ${(wallMs / 1000).toFixed(1)} s (${results[route].requestsPerSecond} rq/s), statuses ${JSON.stringify(statuses)}, problems ${bad}, load ${load().join(' ')}`);
    }
    // Jobs a valid mutation created are team-a's own; removed so a rerun starts alike.
    for (const j of (await h.api('alice', 'GET', '/api/jobs?namespace=team-a')).json.items) if (j.metadata.name !== 'a-job') await h.api('alice', 'DELETE', `/api/jobs/team-a/${j.metadata.name}`);
  } finally {
    const up = h.server.child.exitCode === null && (await fetch(`${h.server.url}/api/health`).then((r) => r.status === 200, () => false));
    const teamB = up ? await h.teamBChanged() : 'server down';
    const serverCpuMs = cpuMsOf(pid) - serverCpu0;
    const code = await h.stop();
    const fivexx = Object.values(results).reduce((n, r) => n + Object.entries(r.statuses).filter(([s]) => Number(s) >= 500).reduce((m, [, c]) => m + c, 0), 0);
    const total = Object.values(results).reduce((n, r) => n + r.requests, 0);
    const wallMs = Math.round(performance.now() - t0);
    const report = {
      benchmark: 'fuzz-http',
      server: values.dev ? 'next-dev' : 'next-production',
      seed,
      perRoute,
      concurrency,
      requests: total,
      wallMs,
      requestsPerSecond: Math.round((total / wallMs) * 1000 * 10) / 10,
      cpuMs: { server: serverCpuMs, client: Math.round(ownCpuMs() - cpu0) },
      routes: results,
      fivexx,
      problemCount: Object.values(results).reduce((n, r) => n + r.problems, 0),
      problems,
      serverUpAfter: up,
      serverExitCode: code,
      teamBUnchanged: teamB === undefined,
      ...(teamB ? { teamB } : {}),
      loadAverage: load(),
    };
    if (values.json) console.log(JSON.stringify(report));
    else console.log(`fuzz:http ${total} bodies (${routes.join(', ')}) in ${(wallMs / 1000).toFixed(1)} s = ${report.requestsPerSecond} rq/s at ${concurrency} in flight; 5xx ${fivexx}, problems ${report.problemCount}, server up ${up}, team-b unchanged ${teamB === undefined}; CPU server ${serverCpuMs} ms, client ${report.cpuMs.client} ms; load ${report.loadAverage.join(' ')}`);
    if (fivexx || problems.length || !up || teamB || total !== routes.length * perRoute) process.exitCode = 1;
  }
}

runBench(main, USAGE);
