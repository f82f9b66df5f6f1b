// Where MEI keeps its embedded database. Shared by the server (db.ts), the prisma CLI (prisma.config.ts) and
// scripts/db.ts so that every entry point opens the same data directory.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const MIGRATIONS_DIR = path.join(REPO_ROOT, 'prisma', 'migrations');

/** `$MEI_DATA_HOME/db` when set, else `<repo>/.mei/db`. */
export function defaultDataDir(env: NodeJS.ProcessEnv = process.env): string {
  const home = env.MEI_DATA_HOME ? path.resolve(env.MEI_DATA_HOME) : path.join(REPO_ROOT, '.mei');
  return path.join(home, 'db');
}

/** A DATABASE_URL selects a PostgreSQL server; anything else (unset) means embedded PGlite. */
export function isPostgresUrl(url: string | undefined): url is string {
  return !!url && /^postgres(ql)?:\/\//i.test(url);
}
