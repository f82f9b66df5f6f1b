// Slows password guessing, per client address and per username: after `maxFailures` failed logins within
// `windowMs` (per user: `maxUserFailures`), further attempts are refused until the oldest failure leaves the
// window. Attempts still being checked count as failures until they end, so a parallel burst cannot slip
// through while the password hashes run. Per user as well as per address: behind one proxy address a
// guesser is still stopped per account, and with a trusted proxy (MEI_TRUST_PROXY) addresses are the clients'.
export class LoginRateLimiter {
  private readonly failures = new Map<string, number[]>();
  private readonly inFlight = new Map<string, number>();
  constructor(
    private readonly maxFailures = 10,
    private readonly windowMs = 15 * 60 * 1000,
    private readonly now: () => number = Date.now,
    private readonly maxUserFailures = maxFailures,
  ) {}

  /** Seconds the client must wait, or 0 when it may try (for a username too once it is known). */
  retryAfterSeconds(ip: string, username?: string): number {
    const waits = [this.wait(`ip:${ip}`, this.maxFailures)];
    if (username !== undefined) waits.push(this.wait(`user:${username}`, this.maxUserFailures));
    return Math.max(...waits);
  }

  /**
   * Starts an attempt: 0 and the attempt counted as in flight, or the seconds to wait (nothing counted).
   * Every started attempt must end with fail() or succeed().
   */
  begin(ip: string, username: string): number {
    const wait = this.retryAfterSeconds(ip, username);
    if (wait > 0) return wait;
    for (const k of [`ip:${ip}`, `user:${username}`]) this.inFlight.set(k, (this.inFlight.get(k) ?? 0) + 1);
    return 0;
  }

  fail(ip: string, username?: string): void {
    for (const k of this.keys(ip, username)) {
      const recent = this.recent(k);
      recent.push(this.now());
      this.failures.set(k, recent);
    }
    this.end(ip, username);
    // Bound memory under a flood from many addresses or names: drop the stalest entries.
    while (this.failures.size > 10_000) this.failures.delete(this.failures.keys().next().value!);
  }

  succeed(ip: string, username?: string): void {
    for (const k of this.keys(ip, username)) this.failures.delete(k);
    this.end(ip, username);
  }

  private end(ip: string, username?: string): void {
    if (username === undefined) return;
    for (const k of this.keys(ip, username)) {
      const n = (this.inFlight.get(k) ?? 1) - 1;
      if (n > 0) this.inFlight.set(k, n);
      else this.inFlight.delete(k);
    }
  }

  private keys(ip: string, username?: string): string[] {
    return username === undefined ? [`ip:${ip}`] : [`ip:${ip}`, `user:${username}`];
  }

  private wait(key: string, max: number): number {
    const recent = this.recent(key);
    const pending = this.inFlight.get(key) ?? 0;
    if (recent.length + pending < max) return 0;
    // Only attempts in flight: they end within a hash; ask to retry in a second.
    if (recent.length < max) return 1;
    return Math.max(1, Math.ceil((recent[recent.length - max] + this.windowMs - this.now()) / 1000));
  }

  private recent(key: string): number[] {
    const since = this.now() - this.windowMs;
    return (this.failures.get(key) ?? []).filter((t) => t > since);
  }
}
