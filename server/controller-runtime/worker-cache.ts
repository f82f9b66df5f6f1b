// The workers as the runtime observes them, per job. WorkerRuntime.watch only says which job changed, so
// the cache re-lists that job's workers and then tells the controllers.
import type { ObservedWorker, WorkerRuntime } from '../backends/types.ts';
import type { Logger } from '../log.ts';

type Listener = (jobKey: string) => void;

export class WorkerCache {
  private readonly byJob = new Map<string, ObservedWorker[]>();
  private readonly listeners = new Set<Listener>();
  /** Latest refresh per job: an older list that resolves late must not overwrite a newer one. */
  private readonly refreshes = new Map<string, number>();
  private refreshCount = 0;
  private stopWatch?: () => void;

  constructor(
    private readonly runtime: WorkerRuntime,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    if (this.stopWatch) return;
    this.stopWatch = this.runtime.watch((key) => void this.refresh(key));
    for (const w of await this.runtime.list()) {
      const list = this.byJob.get(w.jobKey) ?? [];
      list.push(w);
      this.byJob.set(w.jobKey, list);
    }
    for (const key of this.byJob.keys()) this.notify(key);
  }

  stop(): void {
    this.stopWatch?.();
    this.stopWatch = undefined;
  }

  async refresh(jobKey: string): Promise<void> {
    const id = ++this.refreshCount;
    this.refreshes.set(jobKey, id);
    try {
      const workers = await this.runtime.list(jobKey);
      if (this.refreshes.get(jobKey) !== id) return;
      this.refreshes.delete(jobKey);
      if (workers.length) this.byJob.set(jobKey, workers);
      else this.byJob.delete(jobKey);
    } catch (err) {
      this.log.warn(`listing workers of ${jobKey} failed: ${(err as Error).message}`);
    }
    this.notify(jobKey);
  }

  get(jobKey: string): ObservedWorker[] {
    return this.byJob.get(jobKey) ?? [];
  }

  /** Jobs that have workers (including orphans whose job is gone). */
  jobKeys(): string[] {
    return [...this.byJob.keys()];
  }

  onChange(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private notify(jobKey: string): void {
    for (const l of this.listeners) l(jobKey);
  }
}
