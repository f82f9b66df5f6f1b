// Runs one reconciler over a work queue with a single worker, so a key is never reconciled concurrently
// with itself and every reconcile sees the latest cached state rather than the event that queued it.
import { ExponentialBackoff, WorkQueue } from './workqueue.ts';
import type { Logger } from './log.ts';

export interface ReconcileResult {
  /** Reconcile again after this long even without a new event (e.g. to notice a missed heartbeat). */
  requeueAfterMs?: number;
}

export interface Reconciler {
  /** Idempotent and level-triggered: drives the world for `key` ("namespace/name") toward the desired state. */
  reconcile(key: string): Promise<ReconcileResult | void>;
}

export class Controller {
  readonly queue: WorkQueue;
  private running?: Promise<void>;

  constructor(
    readonly name: string,
    private readonly reconciler: Reconciler,
    private readonly log: Logger,
    backoff = new ExponentialBackoff(100, 30_000),
  ) {
    this.queue = new WorkQueue(backoff);
  }

  enqueue(key: string): void {
    this.queue.add(key);
  }

  start(): void {
    this.running ??= this.loop();
  }

  async stop(): Promise<void> {
    this.queue.shutDown();
    await this.running;
  }

  private async loop(): Promise<void> {
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined) return;
      try {
        const result = await this.reconciler.reconcile(key);
        this.queue.forget(key);
        if (result?.requeueAfterMs !== undefined) this.queue.addAfter(key, result.requeueAfterMs);
      } catch (err) {
        const retries = this.queue.limiter.retries(key);
        // The first failures are usually races (a conflict, a cache a moment behind); say more once it persists.
        const log = retries >= 3 ? this.log.warn : this.log.debug;
        log.call(this.log, `${this.name}: reconcile ${key} failed (retry ${retries + 1}): ${(err as Error).message}`);
        this.queue.addRateLimited(key);
      } finally {
        this.queue.done(key);
      }
    }
  }
}
