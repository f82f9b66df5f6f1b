// Embedded PGlite durability beyond a clean close: a server process killed with SIGKILL right after its
// writes committed loses none of them, and the next start takes over its stale lock.
import { afterAll, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openDatabase } from '../../server/store/db.ts';
import { createEmbeddedBackend } from '../../server/backends/embedded/job-backend.ts';
import { waitFor } from '../support/job-backend-suite.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mei-crash-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

it('keeps every committed job when the server process is killed (SIGKILL)', async () => {
  const dir = path.join(tmp, 'db');
  const store = path.resolve('server/store');
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      '-e',
      `const { openDatabase } = await import(${JSON.stringify(`${store}/db.ts`)});
       const { createEmbeddedBackend } = await import(${JSON.stringify(path.resolve('server/backends/embedded/job-backend.ts'))});
       const { baseJob } = await import(${JSON.stringify(path.resolve('test/fixtures/invalid-specs.ts'))});
       const backend = createEmbeddedBackend(await openDatabase({ dataDir: ${JSON.stringify(dir)} }));
       let last;
       for (let i = 0; i < 10; i++) last = await backend.create(baseJob('crash-' + i));
       last = await backend.updateStatus({ ...last, status: { phase: 'Running' } });
       console.log('committed ' + last.metadata.resourceVersion);
       setInterval(() => {}, 1000);`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  await waitFor('the child to commit', () => /committed \d+/.test(out), 120_000);
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  expect(fs.existsSync(`${dir}.lock`)).toBe(true); // no clean shutdown happened

  const db = await openDatabase({ dataDir: dir });
  const backend = createEmbeddedBackend(db);
  try {
    const jobs = await backend.list('default');
    expect(jobs.map((j) => j.metadata.name).sort()).toEqual(Array.from({ length: 10 }, (_, i) => `crash-${i}`).sort());
    const last = jobs.find((j) => j.metadata.name === 'crash-9')!;
    expect(last.status).toEqual({ phase: 'Running' });
    expect(last.metadata.resourceVersion).toBe(/committed (\d+)/.exec(out)![1]);
  } finally {
    await backend.close();
    await db.close();
  }
});
