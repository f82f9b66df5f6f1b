// The same database layer on a real PostgreSQL server (Debian's postgresql-15, started in a temp dir by
// test/support/postgres.ts, or DATABASE_URL_TEST): migrations (and `prisma migrate status` agreeing), the
// whole JobBackend suite, and what only a server allows: several processes (here: independent connection
// pools) sharing the jobs, with watches that see each other's writes through LISTEN/NOTIFY.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { WatchEvent } from '@mei/contracts';
import { openDatabase } from '../../server/store/db.ts';
import { createEmbeddedBackend } from '../../server/backends/embedded/job-backend.ts';
import { migrationStatus, readMigrations, runMigrations } from '../../server/store/migrate.ts';
import { baseJob } from '../fixtures/invalid-specs.ts';
import { databaseTarget, historyTablesSuite, jobBackendSuite, waitFor } from '../support/job-backend-suite.ts';
import { startPostgres, type TestPostgres } from '../support/postgres.ts';
import { runPrisma } from '../support/prisma-cli.ts';

let server: TestPostgres;
const extraDbs: string[] = [];
// Started once at load. Without PostgreSQL binaries (or DATABASE_URL_TEST) this rejects: the test below then
// FAILS with the reason (never a skip), and the hooks of the other tests fail too.
const serverReady = startPostgres().then((s) => (server = s));
serverReady.catch(() => undefined); // reported by the tests, not as an unhandled rejection

afterAll(async () => {
  if (!server) return;
  const admin = new pg.Client({ connectionString: server.url });
  await admin.connect();
  for (const name of extraDbs) await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin.end();
  await server.stop();
}, 600_000);

describe('PostgreSQL test server', () => {
  it('is available (Debian postgresql binaries, or DATABASE_URL_TEST)', async () => {
    await expect(serverReady.then(() => 'started')).resolves.toBe('started');
  }, 600_000);
});

/** Another empty database on the same server. */
async function freshDatabase(): Promise<string> {
  const name = `mei_${randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ connectionString: server.url });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  extraDbs.push(name);
  const u = new URL(server.url);
  u.pathname = `/${name}`;
  return u.toString();
}

const postgres = databaseTarget(() => serverReady.then(() => openDatabase({ url: server.url })));
jobBackendSuite('PostgreSQL', postgres);
historyTablesSuite('PostgreSQL', postgres);

describe('PostgreSQL migrations', () => {
  beforeAll(() => serverReady, 120_000);
  it('applies once, is idempotent, and `prisma migrate status` agrees', async () => {
    const url = await freshDatabase();
    const names = readMigrations().map((m) => m.name);
    const db = await openDatabase({ url, migrate: false });
    try {
      expect(db.kind).toBe('postgresql');
      expect((await runMigrations(db.sql)).applied).toEqual(names);
      expect((await runMigrations(db.sql)).applied).toEqual([]);
      expect(await migrationStatus(db.sql)).toEqual({ applied: names, pending: [], unknown: [], modified: [], failed: [] });
    } finally {
      await db.close();
    }
    const status = await runPrisma(['migrate', 'status'], { url });
    expect(status.output).toContain('Database schema is up to date!');
    expect(status.code).toBe(0);
  });

  it('two servers starting together apply each migration once', async () => {
    const url = await freshDatabase();
    const [a, b] = await Promise.all([openDatabase({ url }), openDatabase({ url })]);
    try {
      const rows = await a.sql.query<{ migration_name: string }>('SELECT migration_name FROM "_prisma_migrations"');
      expect(rows.map((r) => r.migration_name)).toEqual(readMigrations().map((m) => m.name));
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('names the server when it cannot connect', async () => {
    const u = new URL(server.url);
    u.port = '1';
    u.password = 'secret';
    const err = await openDatabase({ url: u.toString() }).catch((e) => e);
    expect(err.message).toMatch(/cannot connect to PostgreSQL at postgresql:\/\/postgres:\*\*\*@127\.0\.0\.1:1\//);
    expect(err.message).not.toContain('secret');
  });
});

describe('PostgreSQL shared by several MEI servers', () => {
  beforeAll(() => serverReady, 120_000);
  it('a watch in one server sees the writes of another, in order, via LISTEN/NOTIFY', async () => {
    const url = await freshDatabase();
    const dbA = await openDatabase({ url });
    const dbB = await openDatabase({ url });
    // Polling far slower than the test: only NOTIFY can deliver in time.
    const a = createEmbeddedBackend(dbA, { pollMs: 60_000 });
    const b = createEmbeddedBackend(dbB, { pollMs: 60_000 });
    try {
      const seen: WatchEvent[] = [];
      const stop = await b.watch((ev) => seen.push(ev));
      const t0 = performance.now();
      const created = await a.create(baseJob('shared') as any);
      await waitFor('ADDED in the other server', () => seen.length >= 1, 120_000);
      const latencyMs = performance.now() - t0;
      const updated = await a.updateStatus({ ...created, status: { phase: 'Running' } });
      await a.delete('default', 'shared');
      await waitFor('3 events', () => seen.length >= 3, 120_000);
      expect(seen.map((e) => e.type)).toEqual(['ADDED', 'MODIFIED', 'DELETED']);
      expect(seen[0].object).toEqual(created);
      expect(seen[1].object).toEqual(updated);
      expect(latencyMs, 'delivered by NOTIFY, not by the 60 s poll').toBeLessThan(60_000);
      // Optimistic concurrency holds across servers too.
      const x = await b.create(baseJob('contended') as any);
      await a.update({ ...x, metadata: { ...x.metadata, labels: { by: 'a' } } });
      await expect(b.update({ ...x, metadata: { ...x.metadata, labels: { by: 'b' } } })).rejects.toThrow(/has been modified/);
      stop();
    } finally {
      await a.close();
      await b.close();
      await dbA.close();
      await dbB.close();
    }
  });

  it('a watcher that missed pruned changelog rows re-lists and converges (notifications dropped: mock listener)', async () => {
    const url = await freshDatabase();
    const dbA = await openDatabase({ url });
    const dbB = await openDatabase({ url });
    // B hears no NOTIFY (as across a dropped connection) and polls rarely: it only catches up when woken.
    dbB.listen = async () => async () => undefined;
    const a = createEmbeddedBackend(dbA);
    const b = createEmbeddedBackend(dbB, { pollMs: 60_000 });
    try {
      for (const n of ['p-1', 'p-2', 'p-3']) await a.create(baseJob(n) as any);
      const state = new Map<string, string>();
      const stop = await b.watch((ev) => (ev.type === 'DELETED' ? state.delete(ev.object.metadata.name) : state.set(ev.object.metadata.name, ev.object.metadata.resourceVersion)));
      expect([...state.keys()].sort()).toEqual(['p-1', 'p-2', 'p-3']);
      for (let i = 0; i < 3; i++) {
        const cur = (await a.get('default', 'p-1'))!;
        await a.updateStatus({ ...cur, status: { identities: i } });
      }
      await a.delete('default', 'p-2');
      await dbA.sql.query('DELETE FROM job_events'); // pruned while B was away
      await a.create(baseJob('p-4') as any);
      const p1 = (await a.get('default', 'p-1'))!;
      const stopWaker = await b.watch(() => undefined); // any new watch makes the feed fetch
      await waitFor('B to converge', () => state.size === 3 && state.has('p-4') && !state.has('p-2') && state.get('p-1') === p1.metadata.resourceVersion, 120_000);
      stop();
      stopWaker();
    } finally {
      await a.close();
      await b.close();
      await dbA.close();
      await dbB.close();
    }
  });
});
