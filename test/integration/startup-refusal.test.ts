// Start-up refuses, with a message naming the problem, rather than run on a bad secret or policy: the real
// server process (`node --import tsx server/main.ts`) on a state directory holding an empty or truncated
// secret / admin-password file, without MEI_SECRET in Kubernetes mode, with a media policy it cannot use, a
// tenant whose namespace reads the whole data root, or asked to pass a server secret to agents. It must exit
// non-zero before serving anything.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, REPO_ROOT } from './server-process.ts';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** Runs the server until it exits; returns its exit code and output. */
async function start(files: Record<string, string>, env: Record<string, string> = {}): Promise<{ code: number | null; out: string }> {
  const stateDir = mkdtempSync(path.join(tmpdir(), 'mei-refuse-'));
  dirs.push(stateDir);
  for (const [name, content] of Object.entries(files)) writeFileSync(path.join(stateDir, name), content, { mode: 0o600 });
  const base = { ...process.env };
  for (const k of ['MEI_SECRET', 'MEI_ADMIN_PASSWORD', 'MEI_MODE', 'MEI_MEDIA_POLICY', 'MEI_AGENT_ENV', 'DATABASE_URL']) delete base[k];
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'server/main.ts')], {
    cwd: REPO_ROOT,
    env: { ...base, PORT: String(await freePort()), HOST: '127.0.0.1', MEI_DATA_HOME: stateDir, MEI_DEMO: '0', MEI_NEXT_DIST_DIR: '.mei/next-refusal', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { code, out };
}

describe('start-up refuses bad secrets and policies (real server process)', () => {
  it('an empty secret file', async () => {
    const r = await start({ secret: '' });
    expect(r.code, r.out).not.toBe(0);
    expect(r.out).toMatch(/secret holds nothing \(at least 32 are needed\): it is truncated/);
  });

  it('a truncated secret file', async () => {
    const r = await start({ secret: 'abc123' });
    expect(r.code, r.out).not.toBe(0);
    expect(r.out).toMatch(/secret holds only 6 characters/);
    expect(r.out).not.toContain('abc123');
  });

  it('an empty admin-password file (the password would be empty)', async () => {
    const r = await start({ 'admin-password': '\n' });
    expect(r.code, r.out).not.toBe(0);
    expect(r.out).toMatch(/admin-password holds nothing/);
  });

  it('Kubernetes mode without MEI_SECRET', async () => {
    const r = await start({}, { MEI_MODE: 'kubernetes' });
    expect(r.code, r.out).not.toBe(0);
    expect(r.out).toMatch(/MEI_SECRET is required in Kubernetes mode/);
  });

  it('a media policy naming an unknown scheme, and MEI_AGENT_ENV asking for a server secret', async () => {
    const bad = await start({}, { MEI_MEDIA_POLICY: '{"schemes":["file","gopher"]}' });
    expect(bad.code, bad.out).not.toBe(0);
    expect(bad.out).toMatch(/MEI_MEDIA_POLICY: schemes\.1/);
    const leak = await start({}, { MEI_AGENT_ENV: 'MEI_RECORD_DIR,MEI_SECRET' });
    expect(leak.code, leak.out).not.toBe(0);
    expect(leak.out).toMatch(/MEI_AGENT_ENV: MEI_SECRET is a server secret/);
  });

  it('a tenant in the `default` namespace, which reads the whole data root under the default media policy', async () => {
    const usersFile = path.join(mkdtempSync(path.join(tmpdir(), 'mei-refuse-users-')), 'users.json');
    dirs.push(path.dirname(usersFile));
    writeFileSync(usersFile, JSON.stringify([{ username: 'carol', password: 'carol-password', namespaces: ['default'] }]));
    const r = await start({}, { MEI_USERS_FILE: usersFile, MEI_ADMIN_PASSWORD: 'refusal-admin-password' });
    expect(r.code, r.out).not.toBe(0);
    expect(r.out).toMatch(/MEI_USERS_FILE: user "carol" has namespace "default", whose media folder is the whole data root/);
    expect(r.out).not.toContain('carol-password');
  });
});
