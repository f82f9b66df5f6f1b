// Opens MEI's database: embedded PGlite (default; a data directory guarded by a lock file) or a PostgreSQL
// server (DATABASE_URL=postgres://...). Both are served by the same Prisma schema through a driver adapter,
// plus a small raw SQL client for what Prisma does not do (multi-statement migration scripts, LISTEN).
import { PGlite } from '@electric-sql/pglite';
import { PrismaPGlite } from 'pglite-prisma-adapter';
import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient } from '@prisma/client';
import pg from 'pg';
import type { SqlDriverAdapterFactory } from '@prisma/driver-adapter-utils';
import { defaultDataDir, isPostgresUrl } from './paths.ts';
import { lockDataDir, type DirLock } from './lock.ts';
import { runMigrations } from './migrate.ts';

export type DatabaseKind = 'pglite' | 'postgresql';

/** Raw SQL for the migration runner and notifications. Rows come back as plain objects. */
export interface SqlClient {
  query<T = Record<string, unknown>>(text: string, params?: unknown[]): Promise<T[]>;
  /** Runs a multi-statement script (no parameters). */
  exec(script: string): Promise<void>;
  transaction<T>(fn: (tx: SqlClient) => Promise<T>): Promise<T>;
  /**
   * PGlite only: `COPY table (columns) FROM` rows in PostgreSQL's binary COPY format (server/store/copy-binary.ts).
   * Values go in through the types' binary receive functions: a real[] in text costs embedded PGlite ~1 ms
   * per 512-d vector to parse, in binary ~0.2 ms. Absent: use SQL with parameters (PostgreSQL parses natively).
   */
  copyBinary?(table: string, columns: readonly string[], data: Uint8Array): Promise<void>;
}

export interface Database {
  kind: DatabaseKind;
  prisma: PrismaClient;
  sql: SqlClient;
  /** Where the data is, for logs (PGlite: the data directory; PostgreSQL: the URL without password). */
  location: string;
  /** Calls `onNotify` for every NOTIFY on `channel` (delivered after the notifying transaction commits). */
  listen(channel: string, onNotify: (payload: string) => void): Promise<() => Promise<void>>;
  /**
   * PostgreSQL (shared by replicas): takes the database-wide lock `name` if no other session holds it and
   * returns its release, else undefined. Held by a connection of its own, so it also ends when this process
   * dies. Absent for PGlite: its data directory admits one process anyway.
   */
  tryLock?(name: string, onLost?: (err: Error) => void): Promise<(() => Promise<void>) | undefined>;
  close(): Promise<void>;
}

export interface OpenDatabaseOptions {
  /** postgres:// or postgresql:// URL; default: env DATABASE_URL; empty means embedded PGlite. */
  url?: string;
  /** PGlite data directory; default `$MEI_DATA_HOME/db` or `<repo>/.mei/db`. */
  dataDir?: string;
  /** Apply pending migrations before returning (default true). */
  migrate?: boolean;
  migrationsDir?: string;
}

const quoteIdent = (s: string) => `"${s.replace(/"/g, '""')}"`;

export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'postgresql://(unparseable url)';
  }
}

/** Picks the database from options and env: a PostgreSQL URL, or the embedded data directory. */
export function resolveTarget(opts: Pick<OpenDatabaseOptions, 'url' | 'dataDir'> = {}, env = process.env) {
  const url = opts.url ?? env.DATABASE_URL ?? '';
  if (url) {
    if (!isPostgresUrl(url))
      throw new Error(`DATABASE_URL must start with postgres:// or postgresql:// (got "${String(url).split(':')[0]}:..."); leave it unset for the embedded PGlite database`);
    return { kind: 'postgresql' as const, url };
  }
  return { kind: 'pglite' as const, dataDir: opts.dataDir ?? defaultDataDir(env) };
}

export async function openDatabase(opts: OpenDatabaseOptions = {}): Promise<Database> {
  const target = resolveTarget(opts);
  const db = target.kind === 'postgresql' ? await openPostgres(target.url) : await openPGlite(target.dataDir);
  if (opts.migrate !== false) {
    try {
      await runMigrations(db.sql, { dir: opts.migrationsDir });
    } catch (e) {
      await db.close();
      throw e;
    }
  }
  return db;
}

type PGliteLike = Pick<PGlite, 'query' | 'exec'>;

function pgliteSql(conn: PGliteLike, root: PGlite): SqlClient {
  return {
    async query<T>(text: string, params?: unknown[]) {
      return (await conn.query(text, params)).rows as T[];
    },
    async exec(script) {
      await conn.exec(script);
    },
    async copyBinary(table, columns, data) {
      // PGlite reads a COPY's input from the query's blob as the virtual file /dev/blob.
      await conn.query(`COPY ${quoteIdent(table)} (${columns.map(quoteIdent).join(', ')}) FROM '/dev/blob' WITH (FORMAT binary)`, [], { blob: new Blob([data as Uint8Array<ArrayBuffer>]) });
    },
    // PGlite serialises transactions itself (one connection); nested calls reuse the open one.
    transaction: (fn) => (conn === root ? root.transaction((tx) => fn(pgliteSql(tx as unknown as PGliteLike, root))) : fn(pgliteSql(conn, root))),
  };
}

/** A SqlClient over a PGlite you opened yourself (e.g. an in-memory one in tests or tools). */
export const pgliteSqlClient = (pglite: PGlite): SqlClient => pgliteSql(pglite, pglite);

async function openPGlite(dataDir: string): Promise<Database> {
  const lock: DirLock = lockDataDir(dataDir);
  let pglite: PGlite | undefined;
  try {
    pglite = new PGlite(dataDir);
    await pglite.waitReady;
  } catch (e) {
    lock.release();
    throw new Error(`cannot open the embedded database at ${dataDir}: ${(e as Error).message}`, { cause: e });
  }
  const db = pglite;
  // The cast: pglite-prisma-adapter 0.6.1 is typed against driver-adapter-utils 6.10; runtime-compatible with 6.19.
  const prisma = new PrismaClient({ adapter: new PrismaPGlite(db) as unknown as SqlDriverAdapterFactory });
  let closed = false;
  return {
    kind: 'pglite',
    prisma,
    sql: pgliteSql(db, db),
    location: dataDir,
    listen: (channel, onNotify) => db.listen(channel, onNotify).then((unlisten) => () => unlisten()),
    async close() {
      if (closed) return;
      closed = true;
      try {
        await prisma.$disconnect();
        await db.close();
      } finally {
        lock.release();
      }
    },
  };
}

function pgSql(pool: pg.Pool | pg.PoolClient): SqlClient {
  return {
    async query<T>(text: string, params?: unknown[]) {
      return (await pool.query(text, params as unknown[])).rows as T[];
    },
    async exec(script) {
      await pool.query(script); // no parameters: simple query protocol, multi-statement allowed
    },
    async transaction(fn) {
      if (!(pool instanceof pg.Pool)) return fn(pgSql(pool));
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        const out = await fn(pgSql(client));
        await client.query('COMMIT');
        return out;
      } catch (e) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw e;
      } finally {
        client.release();
      }
    },
  };
}

async function openPostgres(url: string): Promise<Database> {
  const location = redactUrl(url);
  const pool = new pg.Pool({ connectionString: url, max: 10 });
  pool.on('error', () => undefined); // idle-client errors surface on the next query instead of crashing
  try {
    await pool.query('SELECT 1');
  } catch (e) {
    await pool.end().catch(() => undefined);
    throw new Error(`cannot connect to PostgreSQL at ${location}: ${(e as Error).message}`, { cause: e });
  }
  const prisma = new PrismaClient({ adapter: new PrismaPg(pool) });
  const listener = createPgListener(url);
  let closed = false;
  return {
    kind: 'postgresql',
    prisma,
    sql: pgSql(pool),
    location,
    listen: (channel, onNotify) => listener.listen(channel, onNotify),
    tryLock: (name, onLost) => tryAdvisoryLock(url, name, onLost),
    async close() {
      if (closed) return;
      closed = true;
      await listener.close();
      await prisma.$disconnect();
      await pool.end().catch(() => undefined);
    },
  };
}

/** A session advisory lock on a connection of its own: ending that session (release, or the process dying) frees it. */
async function tryAdvisoryLock(url: string, name: string, onLost?: (err: Error) => void): Promise<(() => Promise<void>) | undefined> {
  const c = new pg.Client({ connectionString: url, keepAlive: true });
  let held = false;
  c.on('error', (err) => void (held && onLost?.(err)));
  await c.connect();
  try {
    const { rows } = await c.query<{ locked: boolean }>('SELECT pg_try_advisory_lock(hashtext($1)) AS locked', [name]);
    held = rows[0].locked;
  } finally {
    if (!held) await c.end().catch(() => undefined);
  }
  if (!held) return undefined;
  return async () => {
    if (!held) return;
    held = false;
    await c.end().catch(() => undefined);
  };
}

/**
 * LISTEN needs a connection of its own that stays open. It is re-established after errors (with a pause);
 * notifications sent meanwhile are lost, so consumers must also poll (the job feed does).
 */
function createPgListener(url: string) {
  const handlers = new Map<string, Set<(payload: string) => void>>();
  let client: pg.Client | undefined;
  let listened = new Set<string>(); // channels LISTENed on the current client
  let connecting: Promise<pg.Client> | undefined;
  let closed = false;
  let retry: NodeJS.Timeout | undefined;

  const connect = (): Promise<pg.Client> =>
    (connecting ??= (async () => {
      const c = new pg.Client({ connectionString: url });
      c.on('notification', (n) => handlers.get(n.channel)?.forEach((h) => h(n.payload ?? '')));
      c.on('error', () => {
        if (client === c) client = undefined;
        connecting = undefined;
        c.end().catch(() => undefined);
        if (!closed && handlers.size) retry = setTimeout(() => connect().catch(() => undefined), 1000);
      });
      await c.connect();
      client = c;
      listened = new Set();
      for (const ch of [...handlers.keys()]) await ensureListening(c, ch);
      return c;
    })().catch((e) => {
      connecting = undefined;
      throw e;
    }));

  async function ensureListening(c: pg.Client, channel: string) {
    if (listened.has(channel) || c !== client) return;
    listened.add(channel);
    await c.query(`LISTEN ${quoteIdent(channel)}`);
  }

  return {
    async listen(channel: string, onNotify: (payload: string) => void) {
      let set = handlers.get(channel);
      if (!set) handlers.set(channel, (set = new Set()));
      set.add(onNotify);
      await ensureListening(await connect(), channel);
      return async () => {
        set!.delete(onNotify);
        if (set!.size === 0 && handlers.get(channel) === set) {
          handlers.delete(channel);
          listened.delete(channel);
          await client?.query(`UNLISTEN ${quoteIdent(channel)}`).catch(() => undefined);
        }
      };
    },
    async close() {
      closed = true;
      clearTimeout(retry);
      handlers.clear();
      const c = client ?? (await connecting?.catch(() => undefined));
      client = undefined;
      await c?.end().catch(() => undefined);
    },
  };
}
