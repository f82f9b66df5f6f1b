// Logged-out sessions in the database (table session_revocations), so a logout survives a restart and is
// seen by every replica. The server loads them at start and re-reads newer ones every few seconds.
import type { SqlClient } from '../store/db.ts';
import type { Sessions } from './sessions.ts';

/** How often other replicas' logouts are read. */
export const REVOCATION_SYNC_MS = 5_000;

export class RevocationStore {
  constructor(
    private readonly sql: SqlClient,
    private readonly now: () => number = Date.now,
  ) {}

  async add(sid: string, exp: number): Promise<void> {
    await this.sql.query(`INSERT INTO session_revocations (sid, expires_at) VALUES ($1, $2) ON CONFLICT (sid) DO NOTHING`, [sid, exp]);
  }

  /** Revocations still in force; expired ones are deleted (the cookie is refused for its expiry anyway). */
  async active(): Promise<Array<{ sid: string; exp: number }>> {
    const now = this.now();
    await this.sql.query(`DELETE FROM session_revocations WHERE expires_at <= $1`, [now]);
    const rows = await this.sql.query<{ sid: string; expires_at: string | number }>(`SELECT sid, expires_at FROM session_revocations WHERE expires_at > $1`, [now]);
    return rows.map((r) => ({ sid: r.sid, exp: Number(r.expires_at) }));
  }
}

/** Loads the stored revocations into `sessions` now and every `intervalMs`; returns the stop function. */
export async function syncRevocations(sessions: Sessions, store: RevocationStore, onError: (e: unknown) => void, intervalMs = REVOCATION_SYNC_MS): Promise<() => void> {
  sessions.load(await store.active());
  const timer = setInterval(() => {
    store.active().then((rows) => sessions.load(rows), onError);
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
