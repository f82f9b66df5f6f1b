// Secrets the server generates once and keeps in its state directory, readable only by its user.
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** Reads `file`, or creates it (mode 0600, never overwriting a concurrent creator) with `make()`. */
export function readOrCreatePrivateFile(file: string, make: () => string): { value: string; created: boolean } {
  try {
    const value = readFileSync(file, 'utf8').trim();
    // A secret another user can read is not a secret: tighten it instead of failing.
    if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600);
    if (value) return { value, created: false };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const value = make();
  try {
    writeFileSync(file, value + '\n', { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return { value: readFileSync(file, 'utf8').trim(), created: false };
    throw err;
  }
  return { value, created: true };
}
