// Applies prisma/migrations/*/migration.sql at server start-up without spawning the Prisma CLI (the CLI takes
// ~15 s on PGlite, mostly starting a second WASM PostgreSQL). It keeps Prisma's own bookkeeping table
// `_prisma_migrations` exactly as `prisma migrate deploy` does (same DDL, checksum = sha256 hex of the file,
// advisory lock 72707369), so `npx prisma migrate status/deploy` and this runner can be used interchangeably.
// Unlike Prisma, each migration runs in one transaction with its record: a failing script leaves no trace.
import { createHash, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { SqlClient } from './db.ts';
import { MIGRATIONS_DIR } from './paths.ts';

/** Prisma's migrate advisory lock key: holding it excludes a concurrent `prisma migrate deploy`. */
export const PRISMA_MIGRATE_LOCK = 72707369;

// Verbatim from Prisma's schema engine (postgres flavour).
const CREATE_MIGRATIONS_TABLE = `CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id"                    VARCHAR(36) PRIMARY KEY NOT NULL,
    "checksum"              VARCHAR(64) NOT NULL,
    "finished_at"           TIMESTAMPTZ,
    "migration_name"        VARCHAR(255) NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        TIMESTAMPTZ,
    "started_at"            TIMESTAMPTZ NOT NULL DEFAULT now(),
    "applied_steps_count"   INTEGER NOT NULL DEFAULT 0
);`;

export class MigrationError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'MigrationError';
  }
}

export interface MigrationFile {
  name: string;
  sql: string;
  checksum: string;
}

const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');

/** Prisma accepts a checksum of the script as written or with other line endings (git autocrlf). */
function checksumMatches(m: MigrationFile, recorded: string) {
  return recorded === m.checksum || recorded === sha256(m.sql.replace(/\r\n/g, '\n')) || recorded === sha256(m.sql.replace(/\r?\n/g, '\r\n'));
}

export function readMigrations(dir: string = MIGRATIONS_DIR): MigrationFile[] {
  if (!fs.existsSync(dir)) throw new MigrationError(`migrations directory ${dir} does not exist`);
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && fs.existsSync(path.join(dir, d.name, 'migration.sql')))
    .map((d) => d.name)
    .sort() // Prisma orders by directory name (timestamp prefix)
    .map((name) => {
      const sql = fs.readFileSync(path.join(dir, name, 'migration.sql'), 'utf8');
      return { name, sql, checksum: sha256(sql) };
    });
}

interface MigrationRow {
  id: string;
  checksum: string;
  migration_name: string;
  finished_at: Date | string | null;
  rolled_back_at: Date | string | null;
  started_at: Date | string;
  logs: string | null;
}

export interface MigrationStatus {
  /** Local migrations recorded as finished in the database. */
  applied: string[];
  /** Local migrations not yet applied, in the order they would run. */
  pending: string[];
  /** Finished in the database but absent here: the database was migrated by a newer MEI. */
  unknown: string[];
  /** Applied, but the local file changed since (checksum mismatch). */
  modified: string[];
  /** Started and never finished (a failed `prisma migrate deploy`), not marked rolled back. */
  failed: string[];
}

async function tableExists(sql: SqlClient): Promise<boolean> {
  const rows = await sql.query<{ t: string | null }>(`SELECT to_regclass('"_prisma_migrations"')::text AS t`);
  return rows[0]?.t != null;
}

async function readRows(sql: SqlClient): Promise<MigrationRow[]> {
  if (!(await tableExists(sql))) return [];
  return sql.query<MigrationRow>(
    `SELECT id, checksum, migration_name, finished_at, rolled_back_at, started_at, logs FROM "_prisma_migrations" ORDER BY started_at, migration_name`,
  );
}

function compare(local: MigrationFile[], rows: MigrationRow[]): MigrationStatus {
  const live = rows.filter((r) => r.rolled_back_at == null);
  const finished = new Map(live.filter((r) => r.finished_at != null).map((r) => [r.migration_name, r]));
  const localNames = new Set(local.map((m) => m.name));
  return {
    applied: local.filter((m) => finished.has(m.name)).map((m) => m.name),
    pending: local.filter((m) => !finished.has(m.name) && !live.some((r) => r.migration_name === m.name)).map((m) => m.name),
    unknown: [...finished.keys()].filter((n) => !localNames.has(n)),
    modified: local.filter((m) => finished.has(m.name) && !checksumMatches(m, finished.get(m.name)!.checksum)).map((m) => m.name),
    failed: live.filter((r) => r.finished_at == null).map((r) => r.migration_name),
  };
}

export async function migrationStatus(sql: SqlClient, dir?: string): Promise<MigrationStatus> {
  return compare(readMigrations(dir), await readRows(sql));
}

/** Throws a MigrationError saying what is wrong and what to do, or returns when the database can be migrated. */
function assertCompatible(s: MigrationStatus) {
  if (s.unknown.length)
    throw new MigrationError(
      `the database has migration(s) this MEI does not know: ${s.unknown.join(', ')}. It was migrated by a newer version; ` +
        `upgrade MEI, or use another database (MEI_DATA_HOME or DATABASE_URL).`,
    );
  if (s.modified.length)
    throw new MigrationError(
      `migration(s) ${s.modified.join(', ')} were changed after they were applied to this database (checksum mismatch). ` +
        `Restore the original prisma/migrations files; add changes as a new migration instead.`,
    );
  if (s.failed.length)
    throw new MigrationError(
      `migration(s) ${s.failed.join(', ')} failed earlier in this database (prisma migrate deploy left them unfinished). ` +
        `Fix the database, then run \`npx prisma migrate resolve --rolled-back <name>\` (or --applied).`,
    );
}

export interface MigrateResult {
  /** Migrations applied by this call, in order. */
  applied: string[];
  /** Migrations that were already there. */
  upToDate: number;
  ms: number;
}

export async function runMigrations(sql: SqlClient, opts: { dir?: string; log?: (line: string) => void } = {}): Promise<MigrateResult> {
  const t0 = performance.now();
  const local = readMigrations(opts.dir);
  const applied: string[] = [];
  let upToDate = 0;
  // One transaction per migration, each re-reading the table under the lock: two servers starting together
  // (PostgreSQL) apply every migration once.
  for (;;) {
    const next = await sql.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1)', [PRISMA_MIGRATE_LOCK]);
      await tx.exec(CREATE_MIGRATIONS_TABLE);
      const status = compare(local, await readRows(tx));
      assertCompatible(status);
      if (!applied.length) upToDate = status.applied.length;
      const m = local.find((l) => l.name === status.pending[0]);
      if (!m) return undefined;
      const startedAt = new Date();
      try {
        await tx.exec(m.sql);
      } catch (e) {
        throw new MigrationError(`migration ${m.name} failed: ${(e as Error).message}`, { cause: e });
      }
      await tx.query(
        `INSERT INTO "_prisma_migrations" (id, checksum, finished_at, migration_name, logs, rolled_back_at, started_at, applied_steps_count)
         VALUES ($1, $2, clock_timestamp(), $3, NULL, NULL, $4, 1)`,
        [randomUUID(), m.checksum, m.name, startedAt],
      );
      return m.name;
    });
    if (!next) break;
    applied.push(next);
    opts.log?.(`applied migration ${next}`);
  }
  return { applied, upToDate, ms: performance.now() - t0 };
}
