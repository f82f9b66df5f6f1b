// Dashboard sessions: an HMAC-signed cookie {username, session id, expiry}. Stateless except for a small
// set of logged-out session ids kept until they would have expired anyway.
import { randomBytes } from 'node:crypto';
import { SESSION_COOKIE, type Me } from '@mei/contracts';
import { deriveKey, signClaims, verifyClaims } from './signing.ts';
import type { UserDirectory } from './users.ts';

export const SESSION_TTL_MS = 12 * 60 * 60 * 1000;

export interface SessionOptions {
  ttlMs?: number;
  /** Adds the Secure attribute (set MEI_COOKIE_SECURE=1 behind HTTPS). */
  secureCookie?: boolean;
  now?: () => number;
}

export class Sessions {
  private readonly key: Buffer;
  private readonly ttlMs: number;
  private readonly secure: boolean;
  private readonly now: () => number;
  private readonly revoked = new Map<string, number>();

  constructor(
    secret: Buffer,
    private readonly users: Pick<UserDirectory, 'get'>,
    opts: SessionOptions = {},
  ) {
    this.key = deriveKey(secret, 'session');
    this.ttlMs = opts.ttlMs ?? SESSION_TTL_MS;
    this.secure = opts.secureCookie ?? false;
    this.now = opts.now ?? Date.now;
  }

  /** A new session for `username`, as the Set-Cookie header value. */
  create(username: string): string {
    const exp = this.now() + this.ttlMs;
    const value = signClaims(this.key, { u: username, sid: randomBytes(12).toString('base64url'), exp });
    return this.cookie(value, Math.floor(this.ttlMs / 1000));
  }

  /** The user of a session cookie value: valid signature, not expired or logged out, user still configured. */
  verify(value: string | undefined): Me | undefined {
    const c = verifyClaims(this.key, value);
    if (!c || typeof c.u !== 'string' || typeof c.sid !== 'string' || typeof c.exp !== 'number') return undefined;
    if (c.exp <= this.now() || this.revoked.has(c.sid)) return undefined;
    return this.users.get(c.u);
  }

  /** Ends the session of `value` (if valid) and returns the Set-Cookie header that clears it. */
  revoke(value: string | undefined): string {
    const c = verifyClaims(this.key, value);
    if (c && typeof c.sid === 'string' && typeof c.exp === 'number') {
      this.revoked.set(c.sid, c.exp);
      const now = this.now();
      for (const [sid, exp] of this.revoked) if (exp <= now) this.revoked.delete(sid);
    }
    return this.cookie('', 0);
  }

  /** The session cookie's value from a Cookie header. */
  fromCookieHeader(header: string | null | undefined): string | undefined {
    return parseCookies(header)[SESSION_COOKIE];
  }

  private cookie(value: string, maxAgeSeconds: number): string {
    return `${SESSION_COOKIE}=${value}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${maxAgeSeconds}${this.secure ? '; Secure' : ''}`;
  }
}

export function parseCookies(header: string | null | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const name = part.slice(0, eq).trim();
    if (!(name in out)) out[name] = part.slice(eq + 1).trim();
  }
  return out;
}
