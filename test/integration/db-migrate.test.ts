// The start-up migration runner (server/store/migrate.ts) on real PGlite, checked against the real Prisma
// CLI both ways: what the runner records, `prisma migrate status` accepts; what `prisma migrate deploy`
// records, the runner accepts. Also: it refuses databases it must not touch, and the committed migrations
// build exactly the schema that prisma/schema.prisma describes.
import { afterAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { PGlite } from '@electric-sql/pglite';
import { openDatabase, pgliteSqlClient, type SqlClient } from '../../server/store/db.ts';
import { MigrationError, migrationStatus, readMigrations, runMigrations } from '../../server/store/migrate.ts';
import { MIGRATIONS_DIR } from '../../server/store/paths.ts';
import { runPrisma } from '../support/prisma-cli.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mei-migrate-'));
// One in-memory PGlite (starting one costs seconds), emptied before each use.
let memory: PGlite | undefined;
afterAll(async () => {
  await memory?.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** A copy of prisma/migrations to tamper with. */
function migrationsCopy(name: string): string {
  const dir = path.join(tmp, name);
  fs.cpSync(MIGRATIONS_DIR, dir, { recursive: true });
  return dir;
}

async function withMemoryDb<T>(fn: (sql: SqlClient) => Promise<T>): Promise<T> {
  memory ??= new PGlite();
  await memory.exec('DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public;');
  return fn(pgliteSqlClient(memory));
}

describe('migration runner', () => {
  it('reads the committed migrations with Prisma checksums (sha256 of the file)', () => {
    const ms = readMigrations();
    expect(ms.length).toBeGreaterThanOrEqual(1);
    for (const m of ms) {
      const file = fs.readFileSync(path.join(MIGRATIONS_DIR, m.name, 'migration.sql'));
      expect(m.checksum).toBe(createHash('sha256').update(file).digest('hex'));
      expect(m.name).toMatch(/^\d{14}_[a-z0-9_]+$/);
    }
    expect(fs.readFileSync(path.join(MIGRATIONS_DIR, 'migration_lock.toml'), 'utf8')).toContain('provider = "postgresql"');
  });

  it('applies once, is idempotent, and `prisma migrate status` agrees', async () => {
    const home = path.join(tmp, 'runner-first');
    const db = await openDatabase({ dataDir: path.join(home, 'db'), migrate: false });
    const names = readMigrations().map((m) => m.name);
    try {
      const first = await runMigrations(db.sql);
      expect(first.applied).toEqual(names);
      const second = await runMigrations(db.sql);
      expect(second).toMatchObject({ applied: [], upToDate: names.length });
      expect(await migrationStatus(db.sql)).toEqual({ applied: names, pending: [], unknown: [], modified: [], failed: [] });
      const rows = await db.sql.query<{ migration_name: string; applied_steps_count: number; logs: string | null; finished_at: Date | null }>(
        'SELECT * FROM "_prisma_migrations"',
      );
      expect(rows.map((r) => r.migration_name)).toEqual(names);
      expect(rows.every((r) => r.applied_steps_count === 1 && r.logs === null && r.finished_at !== null)).toBe(true);
      // The schema is really there: Prisma can use it.
      expect(await db.prisma.job.count()).toBe(0);
    } finally {
      await db.close();
    }
    const status = await runPrisma(['migrate', 'status'], { dataHome: home });
    expect(status.output).toContain('Database schema is up to date!');
    expect(status.code).toBe(0);
  });

  it('accepts a database migrated by `prisma migrate deploy`', async () => {
    const home = path.join(tmp, 'cli-first');
    const deploy = await runPrisma(['migrate', 'deploy'], { dataHome: home });
    expect(deploy.output).toContain('All migrations have been successfully applied.');
    expect(deploy.code).toBe(0);
    const db = await openDatabase({ dataDir: path.join(home, 'db'), migrate: false });
    try {
      expect(await runMigrations(db.sql)).toMatchObject({ applied: [], upToDate: readMigrations().length });
    } finally {
      await db.close();
    }
  });

  it('refuses a database migrated by a newer MEI (unknown migration)', async () => {
    const newer = migrationsCopy('newer');
    fs.mkdirSync(path.join(newer, '29991231000000_future'));
    fs.writeFileSync(path.join(newer, '29991231000000_future', 'migration.sql'), 'CREATE TABLE "future_things" ("id" INTEGER PRIMARY KEY);\n');
    await withMemoryDb(async (sql) => {
      expect((await runMigrations(sql, { dir: newer })).applied).toContain('29991231000000_future');
      const err = await runMigrations(sql).catch((e) => e);
      expect(err).toBeInstanceOf(MigrationError);
      expect(err.message).toMatch(/does not know: 29991231000000_future.*newer version/);
      expect((await migrationStatus(sql)).unknown).toEqual(['29991231000000_future']);
    });
  });

  it('refuses a migration whose file changed after it was applied (checksum mismatch)', async () => {
    const changed = migrationsCopy('changed');
    const first = readMigrations()[0].name;
    await withMemoryDb(async (sql) => {
      await runMigrations(sql);
      fs.appendFileSync(path.join(changed, first, 'migration.sql'), '\n-- edited later\n');
      const err = await runMigrations(sql, { dir: changed }).catch((e) => e);
      expect(err).toBeInstanceOf(MigrationError);
      expect(err.message).toContain(`${first} were changed after they were applied`);
      // Line-ending changes alone (git autocrlf) are accepted, as Prisma does.
      const crlf = migrationsCopy('crlf');
      const file = path.join(crlf, first, 'migration.sql');
      fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace(/\n/g, '\r\n'));
      expect((await runMigrations(sql, { dir: crlf })).applied).toEqual([]);
    });
  });

  it('refuses a database with a failed (unfinished) migration', async () => {
    await withMemoryDb(async (sql) => {
      await runMigrations(sql);
      await sql.query(`INSERT INTO "_prisma_migrations" (id, checksum, migration_name, started_at, applied_steps_count) VALUES ('x', 'y', '20000101000000_broken', now(), 0)`);
      await expect(runMigrations(sql)).rejects.toThrow(/20000101000000_broken failed earlier.*prisma migrate resolve --rolled-back/);
    });
  });

  it('rolls a failing migration back completely and names it', async () => {
    const broken = migrationsCopy('broken');
    fs.mkdirSync(path.join(broken, '29990101000000_half'));
    fs.writeFileSync(path.join(broken, '29990101000000_half', 'migration.sql'), 'CREATE TABLE "half_done" ("id" INTEGER);\nSELECT no_such_function();\n');
    await withMemoryDb(async (sql) => {
      const err = await runMigrations(sql, { dir: broken }).catch((e) => e);
      expect(err).toBeInstanceOf(MigrationError);
      expect(err.message).toMatch(/migration 29990101000000_half failed: .*no_such_function/);
      // The earlier migrations stay applied; nothing of the failed one remains, not even a record.
      const st = await migrationStatus(sql, broken);
      expect(st.pending).toEqual(['29990101000000_half']);
      expect(st.failed).toEqual([]);
      expect((await sql.query<{ t: string | null }>(`SELECT to_regclass('half_done')::text AS t`))[0].t).toBeNull();
    });
  });

  it('builds exactly the schema of prisma/schema.prisma (no drift between schema and migrations)', async () => {
    const diff = await runPrisma(['migrate', 'diff', '--from-empty', '--to-schema-datamodel', 'prisma/schema.prisma', '--script'], { dataHome: path.join(tmp, 'unused') });
    expect(diff.code).toBe(0);
    const fromSchema = diff.stdout;
    expect(fromSchema).toContain('CREATE TABLE "jobs"');
    const catalog = async (sql: SqlClient) => ({
      columns: await sql.query(
        `SELECT table_name, column_name, data_type, udt_name, is_nullable, column_default, character_maximum_length, datetime_precision
           FROM information_schema.columns WHERE table_schema = 'public' AND table_name <> '_prisma_migrations' ORDER BY 1, 2`,
      ),
      indexes: await sql.query(`SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename <> '_prisma_migrations' ORDER BY 1`),
      constraints: await sql.query(
        `SELECT c.conname, pg_get_constraintdef(c.oid) AS def FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
          WHERE n.nspname = 'public' AND c.conrelid::regclass::text <> '_prisma_migrations' ORDER BY 1`,
      ),
    });
    const viaMigrations = await withMemoryDb(async (sql) => {
      await runMigrations(sql);
      return catalog(sql);
    });
    const viaSchema = await withMemoryDb(async (sql) => {
      await sql.exec(fromSchema);
      return catalog(sql);
    });
    expect(viaMigrations.columns.length).toBeGreaterThan(20);
    expect(viaMigrations).toEqual(viaSchema);
    // The PGlite directory of this command was never created: diffs use a throw-away database.
    expect(fs.existsSync(path.join(tmp, 'unused', 'db'))).toBe(false);
  });
});
