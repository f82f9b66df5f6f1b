// Secrets the server generates once and keeps in its state directory, readable only by its user.
import { chmodSync, closeSync, fsyncSync, linkSync, mkdirSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs';
import path from 'node:path';

/**
 * Reads `file`, or creates it (mode 0600) with `make()`. Written atomically: a temporary file is written and
 * fsynced, then linked into place (link, unlike rename, never replaces a concurrent creator's file), so a crash
 * leaves no file or a whole one. A file that exists but is shorter than `minLength` (empty, truncated) is
 * refused with an error naming it: it may be a known key or an empty password, and it is never silently used.
 */
export function readOrCreatePrivateFile(file: string, make: () => string, minLength = 1): { value: string; created: boolean } {
  const read = () => {
    const value = readFileSync(file, 'utf8').trim();
    // A secret another user can read is not a secret: tighten it instead of failing.
    if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600);
    if (value.length < minLength)
      throw new Error(`${file} holds ${value.length ? `only ${value.length} characters` : 'nothing'} (at least ${minLength} are needed): it is truncated or was written incompletely; delete it to have a new one generated, or fix it`);
    return value;
  };
  try {
    return { value: read(), created: false };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const dir = path.dirname(file);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const value = make();
  const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    writeSync(fd, value + '\n');
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    linkSync(tmp, file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return { value: read(), created: false };
    throw err;
  } finally {
    unlinkSync(tmp);
  }
  // The new directory entry is durable only once the directory is synced.
  try {
    const dfd = openSync(dir, 'r');
    try {
      fsyncSync(dfd);
    } finally {
      closeSync(dfd);
    }
  } catch {
    // some filesystems refuse fsync on directories; the file itself is synced
  }
  return { value, created: true };
}
