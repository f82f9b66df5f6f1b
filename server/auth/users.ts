// Dashboard users: one admin (MEI_ADMIN_USER / MEI_ADMIN_PASSWORD, or a password generated once into the
// state directory) plus optional users from the JSON file MEI_USERS_FILE, each limited to namespaces.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { describeZodError, type Me } from '@mei/contracts';
import type { Logger } from '../log.ts';
import { hashPassword, isPasswordHash, verifyPassword } from './passwords.ts';
import { readOrCreatePrivateFile } from './private-file.ts';

export interface UserRecord extends Me {
  passwordHash: string;
}

const namespaceOrAll = z.union([z.literal('*'), z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'must be a namespace name or "*"').max(63)]);
const UsersFileSchema = z.array(
  z
    .object({
      username: z.string().min(1).max(64).regex(/^[A-Za-z0-9._@-]+$/, 'may contain letters, digits and . _ @ -'),
      /** Plain text, or a hash made by hashPassword() (`scrypt$...`). */
      password: z.string().min(1).max(1024),
      namespaces: z.array(namespaceOrAll).min(1).max(256),
    })
    .strict(),
);

export const canAccessNamespace = (me: Me, namespace: string) => me.namespaces.includes('*') || me.namespaces.includes(namespace);

export class UserDirectory {
  private readonly users: Map<string, UserRecord>;
  /** Compared against for unknown usernames so a login takes as long whether or not the user exists. */
  private readonly decoyHash: string;

  constructor(users: UserRecord[], decoyHash: string) {
    this.users = new Map(users.map((u) => [u.username, u]));
    this.decoyHash = decoyHash;
  }

  static async load(opts: { env?: NodeJS.ProcessEnv; stateDir: string; log: Logger }): Promise<UserDirectory> {
    const env = opts.env ?? process.env;
    const adminName = env.MEI_ADMIN_USER || 'admin';
    let adminPassword = env.MEI_ADMIN_PASSWORD;
    if (!adminPassword) {
      const file = path.join(opts.stateDir, 'admin-password');
      const { value, created } = readOrCreatePrivateFile(file, () => randomBytes(12).toString('base64url'), 8);
      adminPassword = value;
      // Never the password itself: logs are collected and kept far more widely than a 0600 file.
      if (created) opts.log.info(`generated a password for dashboard user "${adminName}" into ${file} (mode 0600; set MEI_ADMIN_PASSWORD to choose one)`);
      else opts.log.info(`dashboard user "${adminName}": password in ${file}`);
    }
    const records: UserRecord[] = [{ username: adminName, namespaces: ['*'], passwordHash: await toHash(adminPassword) }];
    if (env.MEI_USERS_FILE) {
      for (const u of loadUsersFile(env.MEI_USERS_FILE)) {
        if (records.some((r) => r.username === u.username)) throw new Error(`${env.MEI_USERS_FILE}: user "${u.username}" is defined twice (or is the admin)`);
        records.push({ username: u.username, namespaces: u.namespaces, passwordHash: await toHash(u.password) });
      }
    }
    return new UserDirectory(records, await hashPassword(randomBytes(16).toString('hex')));
  }

  /** Every user (the admin first). */
  all(): Me[] {
    return [...this.users.keys()].map((u) => this.get(u)!);
  }

  get(username: string): Me | undefined {
    const u = this.users.get(username);
    return u && { username: u.username, namespaces: [...u.namespaces] };
  }

  async authenticate(username: string, password: string): Promise<Me | undefined> {
    const u = this.users.get(username);
    const ok = await verifyPassword(password, u?.passwordHash ?? this.decoyHash);
    return ok && u ? this.get(username) : undefined;
  }
}

// Plain passwords are hashed at load, so every check is the same scrypt + timingSafeEqual path.
const toHash = async (password: string) => (isPasswordHash(password) ? password : hashPassword(password));

function loadUsersFile(file: string): z.infer<typeof UsersFileSchema> {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`MEI_USERS_FILE ${file}: ${(err as Error).message}`);
  }
  const parsed = UsersFileSchema.safeParse(raw);
  if (!parsed.success) throw new Error(`MEI_USERS_FILE ${file}: ${describeZodError(parsed.error).error}`);
  return parsed.data;
}
