// MEI database tool, an alternative to the Prisma CLI using the server's own migration runner:
//   node --import tsx scripts/db.ts migrate   apply pending migrations (what the server does at start-up)
//   node --import tsx scripts/db.ts status    list applied/pending migrations; exit 1 unless up to date
//   node --import tsx scripts/db.ts bench     time a fresh embedded database and job CRUD (--json, --n N,
//                                             --url postgres://... to measure a throw-away server instead)
// The database is DATABASE_URL (postgres://...) or the embedded PGlite at $MEI_DATA_HOME/db (.mei/db).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openDatabase, type Database } from '../server/store/db.ts';
import { createEmbeddedBackend } from '../server/backends/embedded/job-backend.ts';
import { migrationStatus, runMigrations } from '../server/store/migrate.ts';

const [command = 'status', ...rest] = process.argv.slice(2);
const json = rest.includes('--json');
const arg = (name: string, dflt: number) => {
  const i = rest.indexOf(`--${name}`);
  const v = i >= 0 ? Number(rest[i + 1]) : dflt;
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} must be a positive number`);
  return v;
};

async function migrate() {
  const db = await openDatabase({ migrate: false });
  try {
    const r = await runMigrations(db.sql, { log: (l) => !json && console.log(l) });
    if (json) console.log(JSON.stringify({ database: db.location, ...r }));
    else console.log(`${db.location}: ${r.applied.length ? `applied ${r.applied.length}` : 'nothing to apply'}, ${r.upToDate} already applied (${r.ms.toFixed(0)} ms)`);
  } finally {
    await db.close();
  }
}

async function status() {
  const db = await openDatabase({ migrate: false });
  try {
    const s = await migrationStatus(db.sql);
    const problems = s.pending.length + s.unknown.length + s.modified.length + s.failed.length;
    if (json) console.log(JSON.stringify({ database: db.location, upToDate: problems === 0, ...s }));
    else {
      console.log(`${db.location} (${db.kind})`);
      for (const n of s.applied) console.log(`  applied   ${n}${s.modified.includes(n) ? '  (file changed since!)' : ''}`);
      for (const n of s.pending) console.log(`  pending   ${n}`);
      for (const n of s.failed) console.log(`  FAILED    ${n}`);
      for (const n of s.unknown) console.log(`  unknown   ${n}  (from a newer MEI)`);
      console.log(problems === 0 ? 'Database schema is up to date.' : 'Database is not up to date: run `node --import tsx scripts/db.ts migrate`.');
    }
    process.exitCode = problems === 0 ? 0 : 1;
  } finally {
    await db.close();
  }
}

/** Numbers for docs/decisions.md: fresh PGlite open + migrate, then sequential job operations. */
async function bench() {
  const n = arg('n', 200);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mei-db-bench-'));
  const spec = { cameras: [{ name: 'cam-a', node: 'edge-1', source: 'file:///data/vtest.avi' }], models: { detector: { decoder: 'yolox' } } };
  const results: Record<string, number> = {};
  let db: Database | undefined;
  let url = '';
  try {
    let t = performance.now();
    const c0 = process.cpuUsage();
    // Never DATABASE_URL: the bench writes jobs, so a server must be named explicitly with --url.
    const i = rest.indexOf('--url');
    url = i >= 0 ? rest[i + 1] : '';
    db = await openDatabase({ url, dataDir: path.join(dir, 'db'), migrate: false });
    results.openMs = performance.now() - t;
    const oc = process.cpuUsage(c0);
    results.openCpuMs = (oc.user + oc.system) / 1000;
    t = performance.now();
    const mig = await runMigrations(db.sql);
    results.migrateMs = performance.now() - t;
    results.migrationsApplied = mig.applied.length;
    const backend = createEmbeddedBackend(db);
    const time = async (label: string, fn: (i: number) => Promise<unknown>) => {
      await fn(-1); // warm-up (query plans, JIT)
      const t0 = performance.now();
      const c0 = process.cpuUsage();
      for (let i = 0; i < n; i++) await fn(i);
      const ms = performance.now() - t0;
      const cpu = process.cpuUsage(c0);
      results[`${label}PerSec`] = (n * 1000) / ms;
      results[`${label}MsEach`] = ms / n;
      // CPU of this process per op (PGlite: includes the database; PostgreSQL: client side only). Less
      // sensitive to other load on the machine than wall time.
      results[`${label}CpuMsEach`] = (cpu.user + cpu.system) / 1000 / n;
    };
    const names = (i: number) => (i < 0 ? 'warm-up' : `bench-${i}`);
    await time('create', (i) => backend.create({ metadata: { name: names(i) }, spec } as any));
    await time('get', (i) => backend.get('default', names(i)));
    await time('updateStatus', async (i) => {
      const cur = (await backend.get('default', names(i)))!;
      return backend.updateStatus({ ...cur, status: { phase: 'Running', identities: i } });
    });
    await time('delete', (i) => backend.delete('default', names(i)));
    t = performance.now();
    await backend.list();
    results.listMs = performance.now() - t;
    // Watch latency: commit of a create -> its event in a watcher of the same process (NOTIFY path).
    let lastEvent = 0;
    const stop = await backend.watch(() => (lastEvent = performance.now()));
    const lat: number[] = [];
    for (let i = 0; i < Math.min(n, 50); i++) {
      const before = lastEvent;
      await backend.create({ metadata: { name: `watch-${i}` }, spec } as any);
      const committed = performance.now();
      while (lastEvent === before) await new Promise((r) => setImmediate(r));
      lat.push(Math.max(0, lastEvent - committed));
    }
    stop();
    lat.sort((a, b) => a - b);
    results.watchLatencyMsMedian = lat[Math.floor(lat.length / 2)];
    results.watchLatencyMsP90 = lat[Math.floor(lat.length * 0.9)];
    await backend.close();
    results.load1 = os.loadavg()[0];
  } finally {
    await db?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const rounded = Object.fromEntries(Object.entries(results).map(([k, v]) => [k, Math.round(v * 100) / 100]));
  const database = url ? 'postgresql' : 'pglite (fresh temp dir)';
  if (json) console.log(JSON.stringify({ database, n, ...rounded }));
  else {
    console.log(`database               ${database}`);
    for (const [k, v] of Object.entries(rounded)) console.log(`${k.padEnd(22)} ${v}`);
  }
}

const commands: Record<string, () => Promise<void>> = { migrate, status, bench };
if (!commands[command]) {
  console.error(`usage: node --import tsx scripts/db.ts migrate|status|bench [--json] [--n N]`);
  process.exit(2);
}
commands[command]().catch((e) => {
  console.error(`db ${command}: ${(e as Error).message}`);
  process.exit(1);
});
