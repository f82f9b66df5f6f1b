// A work queue with controller-runtime semantics: a key is queued at most once however often it is added
// (events coalesce), a key being processed is never handed out twice (re-adds wait until done()), and
// failed keys come back with per-key exponential backoff. A named queue reports client-go's workqueue metrics.
import { backoffDelay } from '../lib/backoff.ts';
import { registerQueueProbe, workqueueMetrics as m } from '../observability/metrics.ts';


export class ExponentialBackoff {
  private readonly failures = new Map<string, number>();
  constructor(
    readonly baseMs = 50,
    readonly maxMs = 30_000,
  ) {}
  /** Next delay for `key`; each call counts one more failure. */
  when(key: string): number {
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    return backoffDelay(n, this.baseMs, this.maxMs);
  }
  retries(key: string): number {
    return this.failures.get(key) ?? 0;
  }
  forget(key: string): void {
    this.failures.delete(key);
  }
}

export class WorkQueue {
  private readonly queue: string[] = [];
  /** Keys waiting to be processed (queued, or re-added while processing). */
  private readonly dirty = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private waiters: Array<(key: string | undefined) => void> = [];
  private shuttingDown = false;
  /** performance.now() when a waiting key was first added, and when a processing key was handed out. */
  private readonly addedAt = new Map<string, number>();
  private readonly startedAt = new Map<string, number>();
  private readonly unregister?: () => void;

  constructor(
    readonly limiter = new ExponentialBackoff(),
    /** The metrics' `name` label (the controller's name); unnamed queues report nothing. */
    readonly name?: string,
  ) {
    if (name) {
      this.unregister = registerQueueProbe(name, {
        depth: () => this.queue.length,
        inFlightSeconds: (now) => {
          let longest = 0;
          let total = 0;
          for (const t of this.startedAt.values()) {
            const s = (now - t) / 1000;
            longest = Math.max(longest, s);
            total += s;
          }
          return { longest, total };
        },
      });
    }
  }

  add(key: string): void {
    if (this.shuttingDown || this.dirty.has(key)) return;
    if (this.name) m.adds.inc({ name: this.name });
    this.dirty.add(key);
    if (!this.addedAt.has(key)) this.addedAt.set(key, performance.now());
    if (this.processing.has(key)) return; // done() queues it again
    this.push(key);
  }

  /** Adds after `ms`; an earlier pending addAfter for the same key wins (the sooner retry is kept). */
  addAfter(key: string, ms: number): void {
    if (this.shuttingDown) return;
    if (ms <= 0) return this.add(key);
    if (this.timers.has(key)) return;
    const t = setTimeout(() => {
      this.timers.delete(key);
      this.add(key);
    }, ms);
    t.unref?.();
    this.timers.set(key, t);
  }

  addRateLimited(key: string): void {
    if (this.name) m.retries.inc({ name: this.name });
    this.addAfter(key, this.limiter.when(key));
  }

  /** Clears the key's failure count (after a successful reconcile). */
  forget(key: string): void {
    this.limiter.forget(key);
  }

  /** Waits for the next key; undefined once the queue is shut down. */
  get(): Promise<string | undefined> {
    const key = this.queue.shift();
    if (key !== undefined) return Promise.resolve(this.take(key));
    if (this.shuttingDown) return Promise.resolve(undefined);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  done(key: string): void {
    const started = this.startedAt.get(key);
    if (started !== undefined && this.name) m.workDuration.observe({ name: this.name }, (performance.now() - started) / 1000);
    this.startedAt.delete(key);
    this.processing.delete(key);
    if (this.dirty.has(key)) this.push(key);
  }

  get length(): number {
    return this.queue.length;
  }

  /** True when nothing is queued, processing or waiting on a timer. */
  get idle(): boolean {
    return this.queue.length === 0 && this.processing.size === 0 && this.timers.size === 0;
  }

  shutDown(): void {
    this.shuttingDown = true;
    this.unregister?.();
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w(undefined);
  }

  private push(key: string): void {
    const waiter = this.waiters.shift();
    if (waiter) waiter(this.take(key));
    else this.queue.push(key);
  }

  private take(key: string): string {
    const now = performance.now();
    const added = this.addedAt.get(key);
    if (added !== undefined && this.name) m.queueDuration.observe({ name: this.name }, (now - added) / 1000);
    this.addedAt.delete(key);
    this.startedAt.set(key, now);
    this.dirty.delete(key);
    this.processing.add(key);
    return key;
  }
}
