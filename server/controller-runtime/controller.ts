// Runs one reconciler over a work queue with a single worker, so a key is never reconciled concurrently
// with itself and every reconcile sees the latest cached state rather than the event that queued it.
import { ExponentialBackoff, WorkQueue } from './workqueue.ts';
import type { Logger } from '../log.ts';
import { jobFields, withFields } from '../log.ts';
import { controllerMetrics as m } from '../observability/metrics.ts';

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
    this.queue = new WorkQueue(backoff, name);
    m.maxConcurrentReconciles.set({ controller: name }, 1);
    m.activeWorkers.set({ controller: name }, 0);
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
      const controller = this.name;
      const end = m.reconcileTime.startTimer({ controller });
      m.activeWorkers.inc({ controller });
      try {
        const result = await this.reconciler.reconcile(key);
        this.queue.forget(key);
        if (result?.requeueAfterMs !== undefined) this.queue.addAfter(key, result.requeueAfterMs);
        m.reconcileTotal.inc({ controller, result: result?.requeueAfterMs !== undefined ? 'requeue_after' : 'success' });
      } catch (err) {
        m.reconcileTotal.inc({ controller, result: 'error' });
        m.reconcileErrors.inc({ controller });
        const retries = this.queue.limiter.retries(key);
        // The first failures are usually races (a conflict, a cache a moment behind); say more once it persists.
        const log = withFields(this.log, { controller: this.name, ...jobFields(key) });
        (retries >= 3 ? log.warn : log.debug).call(log, `${this.name}: reconcile ${key} failed (retry ${retries + 1}): ${(err as Error).message}`);
        this.queue.addRateLimited(key);
      } finally {
        end();
        m.activeWorkers.dec({ controller });
        this.queue.done(key);
      }
    }
  }
}
