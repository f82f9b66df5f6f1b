// Prisma CLI configuration. `npx prisma migrate deploy` (and status/diff) is the one command for either
// database: DATABASE_URL=postgres://... uses a PostgreSQL server through @prisma/adapter-pg, otherwise the
// embedded PGlite data directory ($MEI_DATA_HOME/db or .mei/db) is opened, under the same lock the server takes.
// engine 'js' runs the schema engine on a driver adapter, so nothing is downloaded (works offline).
import { defineConfig } from 'prisma/config';
import { PGlite } from '@electric-sql/pglite';
import { PrismaPGlite } from 'pglite-prisma-adapter';
import { PrismaPg } from '@prisma/adapter-pg';
import type { SqlMigrationAwareDriverAdapterFactory } from '@prisma/driver-adapter-utils';
import { defaultDataDir, isPostgresUrl } from './server/store/paths.ts';
import { lockDataDir } from './server/store/lock.ts';

// The CLI asks for the adapter several times per run, and some commands (migrate diff --from-empty) never
// connect: open the data directory (and take its lock) only on the first connect, once per process.
let embedded: PrismaPGlite | undefined;
const openEmbedded = () => {
  if (!embedded) {
    const dir = defaultDataDir();
    lockDataDir(dir, 'prisma CLI'); // released when the CLI process exits
    embedded = new PrismaPGlite(new PGlite(dir));
  }
  return embedded;
};
// Casts: pglite-prisma-adapter 0.6.1 is typed against driver-adapter-utils 6.10; runtime-compatible with 6.19.
const asFactory = (f: unknown) => f as SqlMigrationAwareDriverAdapterFactory;
const lazyPGlite = asFactory({
  provider: 'postgres' as const,
  adapterName: 'pglite-prisma-adapter',
  connect: () => openEmbedded().connect(),
  // An in-memory PGlite, as the adapter itself does; never touches the data directory.
  connectToShadowDb: () => new PrismaPGlite(new PGlite('memory://')).connect(),
});

// `prisma migrate diff` between schema files and/or migrations needs no real database, but the CLI still
// connects: give it a throw-away in-memory PGlite so a new migration can be written while a server runs.
const diffOnly = process.argv.includes('diff') && !process.argv.some((a) => /datasource|url/i.test(a));

export default defineConfig({
  experimental: { adapter: true },
  engine: 'js',
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
  async adapter() {
    const url = process.env.DATABASE_URL;
    if (url && !isPostgresUrl(url)) throw new Error('DATABASE_URL must start with postgres:// or postgresql://; leave it unset for the embedded PGlite database');
    if (url) return new PrismaPg({ connectionString: url });
    return diffOnly ? asFactory(new PrismaPGlite(new PGlite('memory://'))) : lazyPGlite;
  },
});
