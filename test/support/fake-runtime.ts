// Test fake: a WorkerRuntime that only records what the controllers ask for and lets a test set each
// worker's phase (as a process or Pod would change). Unit tests only.
import { jobKey as keyOf } from '@mei/contracts';
import type { ObservedWorker, WorkerLaunch, WorkerPhase, WorkerRuntime } from '../../server/backends/types.ts';

export class FakeRuntime implements WorkerRuntime {
  readonly workers = new Map<string, ObservedWorker & { token: string }>();
  readonly ensureCalls: WorkerLaunch[] = [];
  readonly removeCalls: Array<{ jobKey: string; node?: string }> = [];
  /** Phase of newly created workers. */
  initialPhase: WorkerPhase = 'Pending';
  private readonly listeners = new Set<(jobKey: string) => void>();

  async ensure(launch: WorkerLaunch): Promise<void> {
    this.ensureCalls.push(launch);
    const jobKey = keyOf(launch.job);
    const id = `${jobKey}@${launch.node}`;
    const existing = this.workers.get(id);
    if (existing && existing.jobUid === launch.job.metadata.uid) return;
    this.workers.set(id, {
      jobKey,
      jobUid: launch.job.metadata.uid,
      node: launch.node,
      name: `fake-${launch.job.metadata.name}-${launch.node}`,
      phase: this.initialPhase,
      restarts: 0,
      token: launch.token,
      startedAt: new Date().toISOString(),
    });
    this.notify(jobKey);
  }

  async remove(jobKey: string, node?: string): Promise<void> {
    this.removeCalls.push({ jobKey, node });
    for (const [id, w] of this.workers) if (w.jobKey === jobKey && (node === undefined || w.node === node)) this.workers.delete(id);
    this.notify(jobKey);
  }

  async list(jobKey?: string): Promise<ObservedWorker[]> {
    return [...this.workers.values()].filter((w) => !jobKey || w.jobKey === jobKey).map(({ token: _t, ...w }) => ({ ...w }));
  }

  watch(onChange: (jobKey: string) => void): () => void {
    this.listeners.add(onChange);
    return () => this.listeners.delete(onChange);
  }

  async close(): Promise<void> {}

  set(jobKey: string, node: string, patch: Partial<Pick<ObservedWorker, 'phase' | 'restarts' | 'message' | 'startedAt'>>): void {
    const w = this.workers.get(`${jobKey}@${node}`);
    if (!w) throw new Error(`no worker ${jobKey}@${node}`);
    Object.assign(w, patch);
    this.notify(jobKey);
  }

  private notify(jobKey: string): void {
    for (const l of this.listeners) l(jobKey);
  }
}
