// The jobs as the controllers see them: a local copy kept current by JobBackend.watch, so reconciles read
// memory instead of the database and every change (ours included) wakes the controllers by key.
import { jobKey, type MultiEdgeInference, type WatchEvent } from '@mei/contracts';
import type { JobBackend } from '../backends/types.ts';

type Listener = (key: string, ev: WatchEvent) => void;

export class JobInformer {
  private readonly jobs = new Map<string, MultiEdgeInference>();
  private readonly listeners = new Set<Listener>();
  private stopWatch?: () => void;
  /** True once the watch delivered the initial list (and until stop): "no such job" is then believable. */
  synced = false;

  constructor(private readonly backend: JobBackend) {}

  async start(): Promise<void> {
    this.stopWatch ??= await this.backend.watch((ev) => this.apply(ev));
    this.synced = true;
  }

  stop(): void {
    this.synced = false;
    this.stopWatch?.();
    this.stopWatch = undefined;
  }

  /** Also used by tests to feed the cache directly. */
  apply(ev: WatchEvent): void {
    const key = jobKey(ev.object);
    if (ev.type === 'DELETED') this.jobs.delete(key);
    else this.jobs.set(key, ev.object);
    for (const l of this.listeners) l(key, ev);
  }

  get(key: string): MultiEdgeInference | undefined {
    return this.jobs.get(key);
  }

  list(): MultiEdgeInference[] {
    return [...this.jobs.values()];
  }

  onChange(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
