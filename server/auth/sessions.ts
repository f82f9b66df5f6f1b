// Dashboard sessions: an HMAC-signed cookie {username, session id, expiry}. Stateless except for the set of
// logged-out session ids kept until they would have expired anyway: stored in the database (revocations.ts)
// so a restart or another replica does not bring a logged-out cookie back, and announced to listeners so
// the sockets opened with that session are closed at once.
import { randomBytes } from 'node:crypto';
import { SESSION_COOKIE, type Me } from '@mei/contracts';
import { deriveKey, signClaims, verifyClaims } from './signing.ts';
import type { UserDirectory } from './users.ts';

export const SESSION_TTL_MS = 12 * 60 * 60 * 1000;

export interface SessionOptions {
  ttlMs?: number;
  /**
   * The Secure attribute: true/false always, 'auto' (default) when the request came over HTTPS (create and
   * revoke are told so by the caller, from the connection or a trusted proxy's X-Forwarded-Proto).
   */
  secureCookie?: boolean | 'auto';
  /** Where logouts are kept (the database); without it they live in memory only. */
  store?: { add(sid: string, exp: number): Promise<void> };
  now?: () => number;
}

/** A session as the socket server needs it: to close its sockets when it ends. */
export interface SessionRef {
  sid: string;
  exp: number;
}

export class Sessions {
  private readonly key: Buffer;
  private readonly ttlMs: number;
  private readonly secure: boolean | 'auto';
  private readonly now: () => number;
  private readonly revoked = new Map<string, number>();
  private readonly ended = new Set<(sid: string) => void>();
  private readonly store?: SessionOptions['store'];
  private writes: Promise<void> = Promise.resolve();

  constructor(
    secret: Buffer,
    private readonly users: Pick<UserDirectory, 'get'>,
    opts: SessionOptions = {},
  ) {
    this.key = deriveKey(secret, 'session');
    this.ttlMs = opts.ttlMs ?? SESSION_TTL_MS;
    this.secure = opts.secureCookie ?? 'auto';
    this.store = opts.store;
    this.now = opts.now ?? Date.now;
  }

  /** A new session for `username`, as the Set-Cookie header value (`https`: the request came over HTTPS). */
  create(username: string, https = false): string {
    const exp = this.now() + this.ttlMs;
    const value = signClaims(this.key, { u: username, sid: randomBytes(12).toString('base64url'), exp });
    return this.cookie(value, Math.floor(this.ttlMs / 1000), https);
  }

  /** Session id and expiry of a valid cookie value. */
  ref(value: string | undefined): SessionRef | undefined {
    const c = verifyClaims(this.key, value);
    return c && typeof c.sid === 'string' && typeof c.exp === 'number' ? { sid: c.sid, exp: c.exp } : undefined;
  }

  /** Calls `cb(sid)` whenever a session is logged out (here or, via load(), on another replica). */
  onEnded(cb: (sid: string) => void): () => void {
    this.ended.add(cb);
    return () => this.ended.delete(cb);
  }

  /** Revocations read from the store (start-up, and periodically for other replicas' logouts). */
  load(entries: Iterable<SessionRef>): void {
    for (const { sid, exp } of entries) {
      if (this.revoked.has(sid)) continue;
      this.revoked.set(sid, exp);
      for (const cb of this.ended) cb(sid);
    }
  }

  /** Resolves when every revocation so far is in the store (logout answers only after that). */
  flushed(): Promise<void> {
    return this.writes;
  }

  /** The user of a session cookie value: valid signature, not expired or logged out, user still configured. */
  verify(value: string | undefined): Me | undefined {
    const c = verifyClaims(this.key, value);
    if (!c || typeof c.u !== 'string' || typeof c.sid !== 'string' || typeof c.exp !== 'number') return undefined;
    if (c.exp <= this.now() || this.revoked.has(c.sid)) return undefined;
    return this.users.get(c.u);
  }

  /** Ends the session of `value` (if valid) and returns the Set-Cookie header that clears it. */
  revoke(value: string | undefined, https = false): string {
    const c = this.ref(value);
    if (c) {
      this.revoked.set(c.sid, c.exp);
      const now = this.now();
      for (const [sid, exp] of this.revoked) if (exp <= now) this.revoked.delete(sid);
      if (this.store) {
        const write = this.store.add(c.sid, c.exp);
        this.writes = Promise.all([this.writes, write]).then(() => undefined);
      }
      for (const cb of this.ended) cb(c.sid);
    }
    return this.cookie('', 0, https);
  }

  /** The session cookie's value from a Cookie header. */
  fromCookieHeader(header: string | null | undefined): string | undefined {
    return parseCookies(header)[SESSION_COOKIE];
  }

  private cookie(value: string, maxAgeSeconds: number, https: boolean): string {
    const secure = this.secure === 'auto' ? https : this.secure;
    return `${SESSION_COOKIE}=${value}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${maxAgeSeconds}${secure ? '; Secure' : ''}`;
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
