// Chaos benchmark of issue #11: produced / committed / duplicated / lost batches per scenario, on PGlite and
// PostgreSQL, with real server and agent processes (scripted cameras: synthetic observations, no video) and a
// TCP proxy between them (test/support/chaos.ts; the same harness as test/integration/chaos.test.ts).
// The spool-overflow scenario expects losses: its spools are too small for its outage, and what counts there
// is that every lost batch was dropped by a spool, declared to the server and counted by it.
//   npm run bench:chaos -- [--json] [--database pglite|postgresql|both] [--cameras 8] [--nodes 2] [--seed 11] [--scenario <name>]
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { FlagError, numberFlag, runBench } from './bench-args.ts';
import { runChaos, type ChaosOptions, type ChaosPhase } from '../test/support/chaos.ts';

const USAGE = 'usage: npm run bench:chaos -- [--json] [--database pglite|postgresql|both] [--cameras 8] [--nodes 2] [--seed 11] [--scenario <name>]';

const SCENARIOS: Array<{ name: string; phases: ChaosPhase[]; o?: Partial<ChaosOptions> }> = [
  { name: 'server SIGKILL x3', phases: [{ kind: 'kill-server', count: 3 }] },
  { name: 'link cut 30 s', phases: [{ kind: 'cut', durationMs: 30_000 }] },
  { name: 'latency 200 ms', phases: [{ kind: 'latency', ms: 200, durationMs: 30_000 }] },
  { name: 'agent SIGKILL x2', phases: [{ kind: 'kill-agent', count: 2 }] },
  { name: 'outage 10 min (20x)', phases: [{ kind: 'cut', durationMs: 600_000, speedup: 20 }], o: { drainTimeoutMs: 900_000 } },
  { name: 'spool overflow', phases: [{ kind: 'cut', durationMs: 300_000, speedup: 30 }], o: { cameras: 2, nodes: 1, spoolBytes: 131_072, drainTimeoutMs: 600_000 } },
];

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { json: { type: 'boolean' }, database: { type: 'string' }, cameras: { type: 'string' }, nodes: { type: 'string' }, seed: { type: 'string' }, scenario: { type: 'string', multiple: true }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) return void console.log(USAGE);
  const db = values.database ?? 'both';
  if (!['pglite', 'postgresql', 'both'].includes(db)) throw new FlagError(`--database must be pglite, postgresql or both, got '${db}'`);
  const cameras = numberFlag(values.cameras, '--cameras', 8, 1, 64, true);
  const nodes = numberFlag(values.nodes, '--nodes', 2, 1, 16, true);
  const seed = numberFlag(values.seed, '--seed', 11, 0, 2 ** 31, true);
  const unknown = (values.scenario ?? []).filter((n) => !SCENARIOS.some((s) => s.name === n));
  if (unknown.length) throw new FlagError(`--scenario must be one of ${SCENARIOS.map((s) => `'${s.name}'`).join(', ')}, got '${unknown[0]}'`);
  const chosen = values.scenario?.length ? SCENARIOS.filter((s) => values.scenario!.includes(s.name)) : SCENARIOS;
  const results = [];
  for (const database of db === 'both' ? (['pglite', 'postgresql'] as const) : [db as 'pglite' | 'postgresql']) {
    for (const s of chosen) {
      const cpu0 = process.cpuUsage();
      const r = await runChaos({ database, cameras, nodes, seed, phases: s.phases, ...s.o });
      const cpu = process.cpuUsage(cpu0);
      const row = { scenario: s.name, ...r, harnessCpuMs: Math.round((cpu.user + cpu.system) / 1000), loadAvg1: loadavg()[0] };
      results.push(row);
      if (!values.json) console.log(`${database} / ${s.name}: produced ${r.produced}, committed ${r.committed}, duplicated ${r.duplicated}, lost ${r.lost}, seq gaps ${r.seqGaps}, unapplied ${r.unapplied}, spool drops ${r.agentDropped} (server counted ${r.serverCountedDrops}) (${Math.round(r.wallMs / 1000)} s, load ${row.loadAvg1})`);
    }
  }
  if (values.json) console.log(JSON.stringify({ cameras, nodes, seed, results }, null, 2));
}

runBench(main, USAGE);
