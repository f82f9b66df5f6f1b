// Failover benchmark of issue #14 (part 3): takeover times and loss counts of the failover scenario
// (test/kube/failover.ts; the same harness as test/kube/failover.test.ts) on its own real kube-apiserver + etcd
// (test/kube/harness.ts) and PostgreSQL: leader SIGKILL, leader partitioned from the apiserver, rolling update.
//   npm run bench:failover -- [--json] [--runs 1] [--lease 6]
import { loadavg } from 'node:os';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { FlagError, numberFlag, runBench } from './bench-args.ts';
import { startKubeApiServer } from '../test/kube/harness.ts';
import { runFailover } from '../test/kube/failover.ts';

const USAGE = 'usage: npm run bench:failover -- [--json] [--runs 1] [--lease 6]';

/**
 * CPU ms of this process and of its exited children (MEI servers, agents; not the PostgreSQL server, which
 * pg_ctl detaches, nor the apiserver and etcd, which run until the end), from /proc.
 */
function cpuMs(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 14-17 (utime, stime, cutime, cstime) are the 12th to 15th after the command; clock ticks of 10 ms.
  return f.slice(11, 15).reduce((n, v) => n + Number(v), 0) * 10;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { json: { type: 'boolean' }, runs: { type: 'string' }, lease: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) return void console.log(USAGE);
  const runs = numberFlag(values.runs, '--runs', 1, 1, 20, true);
  const leaseSeconds = numberFlag(values.lease, '--lease', 6, 3, 60, true);
  const kube = await startKubeApiServer();
  const results = [];
  try {
    for (let i = 0; i < runs; i++) {
      const load0 = loadavg()[0];
      const cpu0 = cpuMs();
      const r = await runFailover({ kubeconfigPath: kube.kubeconfigPath, leaseSeconds, log: values.json ? undefined : (m) => console.log(`  ${m}`) });
      const row = {
        run: i + 1,
        produced: r.produced,
        committed: r.committed,
        lost: r.lost.length,
        duplicated: r.duplicated.length,
        seqGaps: r.seqGaps,
        unapplied: r.unapplied,
        refused: r.refused.length,
        historyProblems: r.historyProblems.length,
        sigkill: r.sigkill,
        partition: { ...r.partition, listedAfterUnready: r.partition.listedAfterUnready.length },
        rolling: r.rolling,
        wallMs: r.wallMs,
        cpuMs: cpuMs() - cpu0,
        loadAvg1: [load0, loadavg()[0]],
      };
      results.push(row);
      if (!values.json)
        console.log(
          `run ${i + 1}: ${r.committed}/${r.produced} batches committed, ${row.lost} lost, ${row.duplicated} duplicated; SIGKILL -> serving ${r.sigkill.servingAfterMs} ms; ` +
            `partition -> unready ${r.partition.unreadyAfterMs} ms, stopped ${r.partition.shutdownAfterMs} ms, lease taken ${r.partition.leaseTakenAfterMs} ms, serving ${r.partition.servingAfterMs} ms; ` +
            `rolling -> serving ${r.rolling.find((s) => s.wasLeader)?.servingAfterMs} ms (${Math.round(r.wallMs / 1000)} s, ${row.cpuMs} CPU ms, load ${row.loadAvg1.map((l) => l.toFixed(2)).join('->')})`,
        );
    }
  } finally {
    await kube.stop();
  }
  if (values.json) console.log(JSON.stringify({ leaseSeconds, results }, null, 2));
}

runBench(main, USAGE);
