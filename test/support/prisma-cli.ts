// Runs the real Prisma CLI (as a user would: `npx prisma ...`) against a chosen database, offline.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { REPO_ROOT } from '../../server/store/paths.ts';

export interface CliResult {
  code: number | null;
  stdout: string;
  /** stdout and stderr interleaved. */
  output: string;
}

/** `target`: a PGlite home (MEI_DATA_HOME, the data dir is <home>/db) or a PostgreSQL URL. */
export function runPrisma(args: string[], target: { dataHome: string } | { url: string }, timeoutMs = 240_000): Promise<CliResult> {
  const env: NodeJS.ProcessEnv = { ...process.env, CHECKPOINT_DISABLE: '1', PRISMA_HIDE_UPDATE_MESSAGE: '1', NO_COLOR: '1' };
  delete env.DATABASE_URL;
  if ('url' in target) env.DATABASE_URL = target.url;
  else env.MEI_DATA_HOME = target.dataHome;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(REPO_ROOT, 'node_modules/prisma/build/index.js'), ...args], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    let stdout = '';
    child.stdout.on('data', (d) => {
      output += d;
      stdout += d;
    });
    child.stderr.on('data', (d) => (output += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, output });
    });
  });
}
