// A shared informer on client-node's ListWatch: list, then watch from the list's resourceVersion; a watch that
// ends resumes from the last version seen, "410 Gone" (history compacted) relists and reports what changed in
// between (deletes included). ListWatch stops for good on any other error, so this restarts it with backoff,
// and it can re-deliver the whole cache every `resyncMs` (as client-go's resync does) for level-triggered
// consumers that must not depend on never missing an event.
import { ListWatch, Watch, type KubeConfig, type KubernetesListObject, type KubernetesObject } from '@kubernetes/client-node';

export type InformerEventType = 'ADDED' | 'MODIFIED' | 'DELETED';
export type InformerHandler<T> = (type: InformerEventType, obj: T) => void;

export interface InformerOptions {
  labelSelector?: string;
  /** Re-deliver every cached object as MODIFIED this often (0: never). */
  resyncMs?: number;
  /** First and largest delay before restarting after an error. */
  restartBaseMs?: number;
  restartMaxMs?: number;
  /** Watch errors the informer recovers from (logged by the caller). */
  onError?: (err: unknown) => void;
}

const key = (o: KubernetesObject) => `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;

export class Informer<T extends KubernetesObject> {
  private lw?: ListWatch<T>;
  private readonly handlers = new Set<InformerHandler<T>>();
  private starting?: Promise<void>;
  private restartTimer?: NodeJS.Timeout;
  private resyncTimer?: NodeJS.Timeout;
  private failures = 0;
  private stopped = true;
  private lastError: unknown;
  /** Relists seen (the first list included): tests and diagnostics. */
  lists = 0;

  constructor(
    private readonly kc: KubeConfig,
    private readonly path: string,
    private readonly listFn: () => Promise<KubernetesListObject<T>>,
    private readonly options: InformerOptions = {},
  ) {}

  get running(): boolean {
    return !this.stopped;
  }

  /** Lists and starts watching; rejects when the first list fails (e.g. 403), so callers learn of it. */
  start(): Promise<void> {
    if (!this.stopped && this.starting) return this.starting;
    this.stopped = false;
    this.starting = this.firstStart().catch((err) => {
      this.stop();
      this.starting = undefined;
      throw err;
    });
    return this.starting;
  }

  private async firstStart(): Promise<void> {
    const lw = new ListWatch<T>(this.path, new Watch(this.kc), this.countedList, false, this.options.labelSelector);
    this.lw = lw;
    const emit = (type: InformerEventType) => (obj: T) => {
      if (this.lw !== lw || this.stopped) return;
      this.failures = 0; // the watch works again: the next failure starts the backoff afresh
      for (const h of [...this.handlers]) {
        try {
          h(type, obj);
        } catch (err) {
          this.options.onError?.(err);
        }
      }
    };
    lw.on('add', emit('ADDED'));
    lw.on('update', emit('MODIFIED'));
    lw.on('delete', emit('DELETED'));
    lw.on('error', (err) => this.onWatchError(lw, err));
    this.lastError = undefined;
    await lw.start();
    // ListWatch reports a failed list through 'error' and resolves: no resourceVersion means no list.
    if (!lw.latestResourceVersion()) {
      clearTimeout(this.restartTimer);
      throw this.lastError ?? new Error(`listing ${this.path} failed`);
    }
    if (this.options.resyncMs) this.resyncTimer = setInterval(() => this.resync(), this.options.resyncMs).unref();
  }

  private readonly countedList = async () => {
    this.lists++;
    return this.listFn();
  };

  private onWatchError(lw: ListWatch<T>, err: unknown): void {
    this.lastError = err;
    if (this.lw !== lw || this.stopped) return;
    this.options.onError?.(err);
    if (this.restartTimer) return;
    const base = this.options.restartBaseMs ?? 500;
    const delay = Math.min(base * 2 ** this.failures++, this.options.restartMaxMs ?? 30_000);
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      // Resumes from the last resourceVersion; a compacted one answers 410 and ListWatch relists.
      if (this.lw === lw && !this.stopped) void lw.start().catch((e) => this.onWatchError(lw, e));
    }, delay);
    this.restartTimer.unref();
  }

  private resync(): void {
    if (this.stopped) return;
    for (const obj of this.list()) for (const h of [...this.handlers]) h('MODIFIED', obj);
  }

  /** Calls `handler` for every later change. */
  subscribe(handler: InformerHandler<T>): () => void {
    this.handlers.add(handler);
    return () => this.handlers.delete(handler);
  }

  get subscribers(): number {
    return this.handlers.size;
  }

  list(namespace?: string): T[] {
    return [...(this.lw?.list(namespace) ?? [])].sort((a, b) => key(a).localeCompare(key(b)));
  }

  get(name: string, namespace?: string): T | undefined {
    return this.lw?.get(name, namespace);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    clearInterval(this.resyncTimer);
    this.resyncTimer = undefined;
    const lw = this.lw;
    this.lw = undefined;
    this.starting = undefined;
    void lw?.stop();
  }
}

/** What job-backend.ts and worker-runtime.ts use of an informer: one cluster-wide, or one per managed namespace. */
export interface SharedInformer<T extends KubernetesObject> {
  readonly running: boolean;
  readonly subscribers: number;
  /** Relists seen, all namespaces together. */
  readonly lists: number;
  start(): Promise<void>;
  subscribe(handler: InformerHandler<T>): () => void;
  list(namespace?: string): T[];
  get(name: string, namespace?: string): T | undefined;
  stop(): void;
}

/**
 * One informer per namespace behind the interface of one: the server's RBAC may grant it only the namespaces it
 * manages (MEI_NAMESPACES), where a cluster-wide list or watch is forbidden. Starts when every namespace listed.
 */
export class NamespacedInformers<T extends KubernetesObject> implements SharedInformer<T> {
  private readonly byNamespace: Map<string, Informer<T>>;

  constructor(namespaces: readonly string[], make: (namespace: string) => Informer<T>) {
    this.byNamespace = new Map(namespaces.map((ns) => [ns, make(ns)]));
  }

  get running(): boolean {
    return [...this.byNamespace.values()].every((i) => i.running);
  }

  get subscribers(): number {
    return Math.max(0, ...[...this.byNamespace.values()].map((i) => i.subscribers));
  }

  get lists(): number {
    return [...this.byNamespace.values()].reduce((n, i) => n + i.lists, 0);
  }

  async start(): Promise<void> {
    await Promise.all([...this.byNamespace.values()].map((i) => i.start()));
  }

  subscribe(handler: InformerHandler<T>): () => void {
    const offs = [...this.byNamespace.values()].map((i) => i.subscribe(handler));
    return () => offs.forEach((off) => off());
  }

  list(namespace?: string): T[] {
    if (namespace !== undefined) return this.byNamespace.get(namespace)?.list() ?? [];
    return [...this.byNamespace.values()].flatMap((i) => i.list()).sort((a, b) => key(a).localeCompare(key(b)));
  }

  get(name: string, namespace?: string): T | undefined {
    if (namespace !== undefined) return this.byNamespace.get(namespace)?.get(name, namespace);
    for (const i of this.byNamespace.values()) {
      const found = i.get(name);
      if (found) return found;
    }
    return undefined;
  }

  stop(): void {
    for (const i of this.byNamespace.values()) i.stop();
  }
}
