// Starts a throw-away PostgreSQL server for tests: Debian's initdb + pg_ctl in a temp directory on a free
// loopback port (as the `postgres` user when running as root, which PostgreSQL refuses). With
// DATABASE_URL_TEST set, that server is used instead and each call gets a fresh database in it.
// Missing binaries are an error, never a skip: the PostgreSQL mode must be tested.
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { openDatabase, type Database } from '../../server/store/db.ts';

export interface TestPostgres {
  url: string;
  stop(): Promise<void>;
}

function findBinDir(): string {
  const candidates = process.env.PG_BIN
    ? [process.env.PG_BIN]
    : fs.existsSync('/usr/lib/postgresql')
      ? fs
          .readdirSync('/usr/lib/postgresql')
          .filter((v) => /^\d+$/.test(v))
          .sort((a, b) => Number(b) - Number(a))
          .map((v) => `/usr/lib/postgresql/${v}/bin`)
      : [];
  const dir = candidates.find((d) => fs.existsSync(path.join(d, 'initdb')) && fs.existsSync(path.join(d, 'pg_ctl')));
  if (!dir)
    throw new Error(
      'PostgreSQL server binaries (initdb, pg_ctl) not found in /usr/lib/postgresql/<version>/bin or $PG_BIN. ' +
        'Install them (apt-get install postgresql-15) or point DATABASE_URL_TEST at a server.',
    );
  return dir;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** A fresh database on an existing server (DATABASE_URL_TEST), dropped again by stop(). */
async function useExisting(baseUrl: string): Promise<TestPostgres> {
  const name = `mei_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: baseUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const u = new URL(baseUrl);
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    async stop() {
      const c = new pg.Client({ connectionString: baseUrl });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}

export async function startPostgres(): Promise<TestPostgres> {
  if (process.env.DATABASE_URL_TEST) return useExisting(process.env.DATABASE_URL_TEST);
  const bin = findBinDir();
  const asRoot = process.getuid?.() === 0;
  // PostgreSQL will not run as root: hand the directory to the postgres user and run the tools as it.
  const run = (cmd: string, args: string[]) => {
    const [file, argv] = asRoot ? ['runuser', ['-u', 'postgres', '--', path.join(bin, cmd), ...args]] : [path.join(bin, cmd), args];
    const r = spawnSync(file, argv, { encoding: 'utf8', timeout: 60_000 });
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (exit ${r.status}): ${r.error?.message ?? ''}${r.stderr}${r.stdout}`);
  };
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'mei-pg-'));
  const data = path.join(base, 'data');
  fs.mkdirSync(data, { mode: 0o700 });
  if (asRoot) {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    fs.chmodSync(base, 0o755);
    fs.chownSync(base, uid, gid);
    fs.chownSync(data, uid, gid);
  }
  run('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8', '--locale=C']);
  const port = await freePort();
  // Loopback only, socket in the temp dir, durability off (test data): starts in about a second.
  const opts = `-c listen_addresses=127.0.0.1 -c port=${port} -c unix_socket_directories=${base} -c fsync=off -c synchronous_commit=off -c full_page_writes=off`;
  const stopSync = () => spawnSync(asRoot ? 'runuser' : path.join(bin, 'pg_ctl'), asRoot ? ['-u', 'postgres', '--', path.join(bin, 'pg_ctl'), '-D', data, '-m', 'immediate', 'stop'] : ['-D', data, '-m', 'immediate', 'stop'], { timeout: 60_000 });
  process.once('exit', stopSync); // a crashed test run must not leave the server behind
  try {
    run('pg_ctl', ['-D', data, '-l', path.join(base, 'server.log'), '-o', opts, '-w', '-t', '60', 'start']);
  } catch (e) {
    const log = fs.existsSync(path.join(base, 'server.log')) ? fs.readFileSync(path.join(base, 'server.log'), 'utf8') : '';
    process.off('exit', stopSync);
    fs.rmSync(base, { recursive: true, force: true });
    throw new Error(`${(e as Error).message}\n${log}`);
  }
  return {
    url: `postgresql://postgres@127.0.0.1:${port}/postgres`,
    async stop() {
      process.off('exit', stopSync);
      stopSync();
      fs.rmSync(base, { recursive: true, force: true });
    },
  };
}

/**
 * The two stores the history and search tests run on: embedded PGlite (in `dir`) and a real PostgreSQL server
 * (started on first use, for `describe.each(modes)`). `stop()` drops the server's test database if one was made.
 */
export function databaseModes(dir: string): { modes: Array<[string, () => Promise<Database>]>; stop(): Promise<void> } {
  let server: TestPostgres | undefined;
  return {
    modes: [
      ['PGlite', () => openDatabase({ dataDir: path.join(dir, 'pglite') })],
      [
        'PostgreSQL',
        async () => {
          server = await startPostgres();
          return openDatabase({ url: server.url });
        },
      ],
    ],
    stop: async () => {
      await server?.stop();
    },
  };
}
