// PGlite runs PostgreSQL inside one process: two processes opening the same data directory would corrupt it.
// A lock file next to the data directory (`<dir>.lock`) holds the owner's pid and process start time; a lock
// whose process is gone is stale and taken over (a killed server must not need manual cleanup). The start
// time catches pid reuse: a container restart typically gives the new server the very pid in the old lock.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export class DataDirLockedError extends Error {
  readonly code = 'MEI_DATA_DIR_LOCKED';
  constructor(dataDir: string, lockFile: string, owner: string) {
    super(
      `the embedded database ${dataDir} is in use by ${owner} (lock ${lockFile}). PGlite is single-process: ` +
        `stop that process, or give this one its own MEI_DATA_HOME, or use a PostgreSQL server via DATABASE_URL.`,
    );
    this.name = 'DataDirLockedError';
  }
}

interface LockInfo {
  pid: number;
  host: string;
  startedAt: string;
  purpose: string;
  /** Field 22 of /proc/<pid>/stat (start time in clock ticks since boot); absent off Linux. */
  procStart?: string;
}

/** The holder touches its lock file this often; a lock from another host unchanged for FOREIGN_STALE_MS is
 *  stale (its liveness cannot be checked by pid: e.g. a replaced container or pod on a shared volume). */
const HEARTBEAT_MS = 10_000;
const FOREIGN_STALE_MS = 60_000;

/** Data dirs this process holds (resolved paths). */
const held = new Set<string>();

function procStart(pid: number): string | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces and parentheses: count fields after its last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
};

function readLock(file: string): LockInfo | undefined {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as LockInfo;
  } catch {
    return undefined; // vanished or half-written: treated as stale
  }
}

export interface DirLock {
  file: string;
  release(): void;
}

/** Takes the lock for `dataDir` or throws DataDirLockedError naming the holder. */
export function lockDataDir(dataDir: string, purpose = 'MEI server'): DirLock {
  const resolved = path.resolve(dataDir);
  const file = `${resolved}.lock`;
  if (held.has(resolved)) throw new DataDirLockedError(dataDir, file, 'this process (opened twice)');
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const info: LockInfo = { pid: process.pid, host: os.hostname(), startedAt: new Date().toISOString(), purpose, procStart: procStart(process.pid) };
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      fs.writeFileSync(file, JSON.stringify(info), { flag: 'wx' });
      held.add(resolved);
      const heartbeat = setInterval(() => {
        const now = new Date();
        fs.utimes(file, now, now, () => undefined);
      }, HEARTBEAT_MS);
      heartbeat.unref();
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        clearInterval(heartbeat);
        held.delete(resolved);
        process.off('exit', release);
        // Only remove our own lock (a stale-lock takeover by another process must not be undone).
        if (readLock(file)?.pid === process.pid) fs.rmSync(file, { force: true });
      };
      process.on('exit', release);
      return { file, release };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const holder = readLock(file);
    const sameProcess = (h: LockInfo) => alive(h.pid) && (!h.procStart || procStart(h.pid) === h.procStart);
    // Our own pid in the file without our own record of it: a previous process that had the same pid.
    if (holder && holder.host === os.hostname() && holder.pid !== process.pid && sameProcess(holder))
      throw new DataDirLockedError(dataDir, file, `${holder.purpose} pid ${holder.pid} since ${holder.startedAt}`);
    if (holder && holder.host !== os.hostname()) {
      const age = Date.now() - (fs.statSync(file, { throwIfNoEntry: false })?.mtimeMs ?? 0);
      if (age < FOREIGN_STALE_MS)
        throw new DataDirLockedError(dataDir, file, `${holder.purpose} pid ${holder.pid} on host ${holder.host} (alive ${Math.round(age / 1000)} s ago)`);
    }
    fs.rmSync(file, { force: true }); // stale: its process is gone
  }
  throw new DataDirLockedError(dataDir, file, 'another process (lock contended)');
}
