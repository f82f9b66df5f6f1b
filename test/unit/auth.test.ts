import { mkdtempSync, readdirSync, statSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { MultiEdgeInference } from '@mei/contracts';
import { AgentTokens } from '../../server/auth/agent-tokens.ts';
import { LoginRateLimiter } from '../../server/auth/login-limiter.ts';
import { hashPassword, verifyPassword } from '../../server/auth/passwords.ts';
import { Sessions, parseCookies } from '../../server/auth/sessions.ts';
import { loadServerSecret } from '../../server/auth/signing.ts';
import { UserDirectory } from '../../server/auth/users.ts';
import { silentLogger, type Logger } from '../../server/log.ts';

/** Next's types make NODE_ENV mandatory in ProcessEnv; these tests pass partial environments. */
const env = (vars: Record<string, string>) => vars as NodeJS.ProcessEnv;

const secret = Buffer.alloc(32, 3);
const tmp = () => mkdtempSync(path.join(tmpdir(), 'mei-auth-'));

const job = (uid: string, nodes: string[]): MultiEdgeInference => ({
  apiVersion: 'sedna.io/v1alpha1',
  kind: 'MultiEdgeInference',
  metadata: { name: 'j', namespace: 'ns', uid, resourceVersion: '1', generation: 1, creationTimestamp: '2025-01-01T00:00:00Z' },
  spec: { cameras: nodes.map((n, i) => ({ name: `c${i}`, node: n, source: '/v.mp4' })), models: { detector: { decoder: 'yolox' } } },
});

describe('agent tokens', () => {
  const tokens = new AgentTokens(secret);
  const getJob = (j: MultiEdgeInference | undefined) => async () => j;

  it('accepts a token for an existing job and a node in its spec', async () => {
    const t = tokens.mint({ jobKey: 'ns/j', uid: 'u1', node: 'edge-1' });
    await expect(tokens.authenticate(t, getJob(job('u1', ['edge-1'])))).resolves.toMatchObject({ jobKey: 'ns/j', uid: 'u1', node: 'edge-1' });
  });

  it('rejects a tampered token', async () => {
    const t = tokens.mint({ jobKey: 'ns/j', uid: 'u1', node: 'edge-1' });
    const [body, mac] = t.split('.');
    const claims = JSON.parse(Buffer.from(body, 'base64url').toString());
    const forged = `${Buffer.from(JSON.stringify({ ...claims, node: 'edge-2' })).toString('base64url')}.${mac}`;
    await expect(tokens.authenticate(forged, getJob(job('u1', ['edge-1', 'edge-2'])))).rejects.toThrow('invalid token');
    const flipped = t.slice(0, -2) + (t.at(-2) === 'A' ? 'B' : 'A') + t.at(-1);
    await expect(tokens.authenticate(flipped, getJob(job('u1', ['edge-1'])))).rejects.toThrow('invalid token');
    for (const junk of [undefined, '', 'abc', 'a.b.c', 42, {}]) await expect(tokens.authenticate(junk, getJob(job('u1', ['edge-1'])))).rejects.toThrow();
  });

  it('rejects a token signed with another secret', async () => {
    const other = new AgentTokens(Buffer.alloc(32, 4)).mint({ jobKey: 'ns/j', uid: 'u1', node: 'edge-1' });
    await expect(tokens.authenticate(other, getJob(job('u1', ['edge-1'])))).rejects.toThrow('invalid token');
  });

  it('rejects a node that is not (or no longer) in the spec', async () => {
    const t = tokens.mint({ jobKey: 'ns/j', uid: 'u1', node: 'edge-9' });
    await expect(tokens.authenticate(t, getJob(job('u1', ['edge-1'])))).rejects.toThrow('node edge-9 is not part of job ns/j');
  });

  it('rejects a deleted job, and a new job with the same name (different uid)', async () => {
    const t = tokens.mint({ jobKey: 'ns/j', uid: 'u1', node: 'edge-1' });
    await expect(tokens.authenticate(t, getJob(undefined))).rejects.toThrow('no longer exists');
    await expect(tokens.authenticate(t, getJob(job('u2', ['edge-1'])))).rejects.toThrow('no longer exists');
  });

  it('is not accepted as a session cookie, and vice versa', () => {
    const users = { get: (u: string) => ({ username: u, namespaces: ['*'] }) };
    const sessions = new Sessions(secret, users);
    const agentToken = tokens.mint({ jobKey: 'ns/j', uid: 'u1', node: 'edge-1' });
    expect(sessions.verify(agentToken)).toBeUndefined();
    const cookieValue = parseCookies(sessions.create('admin').split(';')[0]).mei_session;
    expect(() => tokens.verify(cookieValue)).toThrow();
  });
});

describe('sessions', () => {
  const users = { get: (u: string) => (u === 'gone' ? undefined : { username: u, namespaces: ['team-a'] }) };

  it('issues an HttpOnly SameSite=Lax cookie that verifies until it expires', () => {
    let now = 1_000_000;
    const s = new Sessions(secret, users, { ttlMs: 60_000, now: () => now });
    const header = s.create('alice');
    expect(header).toMatch(/^mei_session=[^;]+; Path=\/; HttpOnly; SameSite=Lax; Max-Age=60$/);
    const value = s.fromCookieHeader(`other=1; ${header.split(';')[0]}`);
    expect(s.verify(value)).toEqual({ username: 'alice', namespaces: ['team-a'] });
    now += 60_000;
    expect(s.verify(value)).toBeUndefined();
  });

  it('rejects tampered cookies, logged-out sessions and removed users', () => {
    const s = new Sessions(secret, users, { secureCookie: true });
    const header = s.create('alice');
    expect(header).toContain('; Secure');
    const value = s.fromCookieHeader(header.split(';')[0])!;
    expect(s.verify(value.replace(/^./, (c) => (c === 'e' ? 'f' : 'e')))).toBeUndefined();
    expect(s.revoke(value)).toContain('Max-Age=0');
    expect(s.verify(value)).toBeUndefined();
    const goneValue = s.fromCookieHeader(s.create('gone').split(';')[0]);
    expect(s.verify(goneValue)).toBeUndefined();
  });
});

describe('passwords and users', () => {
  it('scrypt hashes verify the right password only', async () => {
    const h = await hashPassword('correct horse');
    expect(h).toMatch(/^scrypt\$16384\$8\$1\$/);
    expect(await verifyPassword('correct horse', h)).toBe(true);
    expect(await verifyPassword('correct horsE', h)).toBe(false);
    expect(await verifyPassword('correct horse', 'plain')).toBe(false);
    expect(await verifyPassword('x', 'scrypt$1099511627776$8$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA')).toBe(false);
  });

  it('generates the admin password once (mode 0600), logs only its file, and reuses it', async () => {
    const dir = tmp();
    const lines: string[] = [];
    const log: Logger = { ...silentLogger, info: (m) => lines.push(m) };
    const first = await UserDirectory.load({ env: env({}), stateDir: dir, log });
    const file = path.join(dir, 'admin-password');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const password = readFileSync(file, 'utf8').trim();
    expect(lines.join('\n')).toContain(file);
    expect(lines.join('\n')).not.toContain(password);
    expect(await first.authenticate('admin', password)).toEqual({ username: 'admin', namespaces: ['*'] });
    lines.length = 0;
    const second = await UserDirectory.load({ env: env({}), stateDir: dir, log });
    expect(lines.join('\n')).not.toContain(password);
    expect(await second.authenticate('admin', password)).toBeDefined();
    expect(await second.authenticate('admin', 'wrong')).toBeUndefined();
    expect(await second.authenticate('nobody', password)).toBeUndefined();
  });

  it('loads extra users from MEI_USERS_FILE (plain or hashed passwords) and names bad entries', async () => {
    const dir = tmp();
    const file = path.join(dir, 'users.json');
    writeFileSync(file, JSON.stringify([
      { username: 'alice', password: 'alice-pw', namespaces: ['team-a'] },
      { username: 'bob', password: await hashPassword('bob-pw'), namespaces: ['*'] },
    ]));
    const users = await UserDirectory.load({ env: env({ MEI_ADMIN_PASSWORD: 'admin-pw', MEI_ADMIN_USER: 'root', MEI_USERS_FILE: file }), stateDir: dir, log: silentLogger });
    expect(await users.authenticate('root', 'admin-pw')).toEqual({ username: 'root', namespaces: ['*'] });
    expect(await users.authenticate('alice', 'alice-pw')).toEqual({ username: 'alice', namespaces: ['team-a'] });
    expect(await users.authenticate('bob', 'bob-pw')).toEqual({ username: 'bob', namespaces: ['*'] });

    writeFileSync(file, JSON.stringify([{ username: 'carol', password: 'x', namespaces: ['Team A'] }]));
    await expect(UserDirectory.load({ env: env({ MEI_ADMIN_PASSWORD: 'a', MEI_USERS_FILE: file }), stateDir: dir, log: silentLogger })).rejects.toThrow(/\[0\]\.namespaces\[0\]/);
    writeFileSync(file, '{not json');
    await expect(UserDirectory.load({ env: env({ MEI_ADMIN_PASSWORD: 'a', MEI_USERS_FILE: file }), stateDir: dir, log: silentLogger })).rejects.toThrow(/MEI_USERS_FILE/);
  });

  it('keeps the server secret in the state dir with mode 0600, or takes MEI_SECRET', () => {
    const dir = tmp();
    const a = loadServerSecret(dir, env({}));
    expect(statSync(path.join(dir, 'secret')).mode & 0o777).toBe(0o600);
    expect(loadServerSecret(dir, env({})).equals(a)).toBe(true);
    expect(loadServerSecret(dir, env({ MEI_SECRET: 'x'.repeat(32) })).toString()).toBe('x'.repeat(32));
    expect(() => loadServerSecret(dir, env({ MEI_SECRET: 'short' }))).toThrow('at least 32');
  });

  it('refuses empty or truncated secret and password files, and requires MEI_SECRET in Kubernetes mode', async () => {
    const dir = tmp();
    for (const content of ['', '\n', 'abc123']) {
      writeFileSync(path.join(dir, 'secret'), content, { mode: 0o600 });
      expect(() => loadServerSecret(dir, env({}))).toThrow(/secret holds .*at least 32.*truncated/);
      writeFileSync(path.join(dir, 'admin-password'), content.slice(0, 3), { mode: 0o600 });
      await expect(UserDirectory.load({ env: env({}), stateDir: dir, log: silentLogger })).rejects.toThrow(/admin-password holds .*at least 8/);
    }
    expect(() => loadServerSecret(tmp(), env({ MEI_MODE: 'kubernetes' }))).toThrow('MEI_SECRET is required in Kubernetes mode');
    // No temporary files are left beside a generated secret.
    const fresh = tmp();
    loadServerSecret(fresh, env({}));
    expect(readdirSync(fresh)).toEqual(['secret']);
  });
});

describe('login rate limiter', () => {
  it('blocks an address after too many failures within the window, not others', () => {
    let now = 0;
    const l = new LoginRateLimiter(3, 60_000, () => now);
    for (let i = 0; i < 3; i++) l.fail('1.2.3.4');
    expect(l.retryAfterSeconds('1.2.3.4')).toBe(60);
    expect(l.retryAfterSeconds('5.6.7.8')).toBe(0);
    now += 60_001;
    expect(l.retryAfterSeconds('1.2.3.4')).toBe(0);
    l.fail('1.2.3.4');
    l.succeed('1.2.3.4');
    expect(l.retryAfterSeconds('1.2.3.4')).toBe(0);
  });
});
