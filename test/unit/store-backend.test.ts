// The embedded JobBackend on a real PGlite database in a temp directory, and the data-directory lock.
import { afterAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openDatabase } from '../../server/store/db.ts';
import { DataDirLockedError, lockDataDir } from '../../server/store/lock.ts';
import { databaseTarget, historyTablesSuite, jobBackendSuite, waitFor } from '../support/job-backend-suite.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mei-store-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const pglite = databaseTarget(() => openDatabase({ dataDir: path.join(tmp, 'db') }));
jobBackendSuite('PGlite', pglite);
historyTablesSuite('PGlite', pglite);

describe('PGlite data directory lock', () => {
  it('refuses a second open of a locked directory in the same process, and frees it on release', async () => {
    // (Closing a real database releases its lock: the suite's reopen test above depends on it.)
    const dir = path.join(tmp, 'lock-same');
    const lock = lockDataDir(dir);
    expect(() => lockDataDir(dir)).toThrow(/in use by this process \(opened twice\)/);
    await expect(openDatabase({ dataDir: dir })).rejects.toBeInstanceOf(DataDirLockedError);
    lock.release();
    expect(fs.existsSync(`${dir}.lock`)).toBe(false);
    lockDataDir(dir).release(); // free for the next server
  });

  it('refuses a directory held by another live process and takes over a dead one', async () => {
    const dir = path.join(tmp, 'lock-other');
    const lockModule = path.resolve('server/store/lock.ts');
    // A real second process holds the lock until it is killed.
    const child = spawn(process.execPath, ['--import', 'tsx', '-e', `import(${JSON.stringify(lockModule)}).then(m => { m.lockDataDir(${JSON.stringify(dir)}, 'test holder'); console.log('locked'); setInterval(() => {}, 1000); })`], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    await waitFor('child to take the lock', () => out.includes('locked'), 120_000);
    let err: unknown;
    try {
      lockDataDir(dir);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DataDirLockedError);
    expect((err as Error).message).toContain(`test holder pid ${child.pid}`);
    // SIGKILL: no exit handler runs, the lock file stays behind and is stale.
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    expect(fs.existsSync(`${dir}.lock`)).toBe(true);
    const lock = lockDataDir(dir);
    expect(JSON.parse(fs.readFileSync(lock.file, 'utf8')).pid).toBe(process.pid);
    lock.release();
    expect(fs.existsSync(lock.file)).toBe(false);
  }, 600_000);

  it('treats reused pids and silent foreign hosts as stale, but not a fresh foreign lock', () => {
    const dir = path.join(tmp, 'lock-reuse');
    const file = `${dir}.lock`;
    const write = (info: object) => fs.writeFileSync(file, JSON.stringify({ host: os.hostname(), startedAt: '2020-01-01T00:00:00Z', purpose: 'old server', ...info }));
    // A restarted container: the old server had the pid this process has now.
    write({ pid: process.pid, procStart: '1' });
    lockDataDir(dir).release();
    // A live pid (the parent of this process) that started at another time than the recorded holder.
    write({ pid: process.ppid, procStart: '1' });
    lockDataDir(dir).release();
    // Another host's lock, touched just now: it may be alive, so refuse; silent for minutes: take over.
    write({ pid: 1, host: 'other-host' });
    expect(() => lockDataDir(dir)).toThrow(/old server pid 1 on host other-host/);
    const old = new Date(Date.now() - 5 * 60_000);
    fs.utimesSync(file, old, old);
    lockDataDir(dir).release();
  });

  it('rejects a DATABASE_URL that is not PostgreSQL, naming it', async () => {
    await expect(openDatabase({ url: 'mysql://root@localhost/mei' })).rejects.toThrow(/DATABASE_URL must start with postgres:\/\/ or postgresql:\/\/ \(got "mysql:/);
  });
});
