// The job watch: a snapshot of all jobs (ADDED each), then every change from the job_events changelog in rv
// order. Writers NOTIFY after each change (delivered at commit; on PostgreSQL to every process listening)
// and the feed also polls, so a lost notification only delays an event. Writers are serialised (PGlite: one
// connection; PostgreSQL: an advisory lock), so rv order is commit order and "rv > cursor" misses nothing.
import type { MultiEdgeInference, WatchEvent, WatchEventType } from '@mei/contracts';
import { jobKey } from '@mei/contracts';
import type { Database } from '../../store/db.ts';

export const JOB_EVENTS_CHANNEL = 'mei_job_events';
/** Advisory lock key serialising job writes on PostgreSQL (so rv order = commit order). */
export const JOB_WRITE_LOCK = 0x6d65_6a6f; // "mejo"

export interface Snapshot {
  jobs: MultiEdgeInference[];
  /** The highest rv the snapshot includes. */
  rv: bigint;
}

interface Subscriber {
  cursor: bigint;
  /** What this subscriber has been told exists (for re-list diffs after it fell behind pruned events). */
  known: Map<string, MultiEdgeInference>;
  onEvent: (ev: WatchEvent) => void;
  stopped: boolean;
}

export interface JobFeedOptions {
  /** Safety-net polling interval (ms) for notifications lost across reconnects. */
  pollMs: number;
  snapshot: () => Promise<Snapshot>;
  onError: (err: unknown) => void;
}

const BATCH = 500;

export class JobFeed {
  private subs = new Set<Subscriber>();
  private chain: Promise<unknown> = Promise.resolve();
  private wakeQueued = false;
  private started?: Promise<void>;
  private unlisten?: () => Promise<void>;
  private timer?: NodeJS.Timeout;
  private closed = false;

  constructor(
    private readonly db: Database,
    private readonly opts: JobFeedOptions,
  ) {}

  /** Every fetch and subscription runs in this one queue, so each subscriber sees one ordered stream. */
  private enqueue<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.chain.then(fn);
    this.chain = p.catch(() => undefined);
    return p;
  }

  wake(): void {
    if (this.wakeQueued || this.closed || !this.subs.size) return;
    this.wakeQueued = true;
    this.enqueue(async () => {
      this.wakeQueued = false;
      await this.fetch();
    }).catch(this.opts.onError);
  }

  /** The lowest cursor of live subscribers: events at or below it can be pruned. */
  lowestCursor(): bigint | undefined {
    let min: bigint | undefined;
    for (const s of this.subs) if (min === undefined || s.cursor < min) min = s.cursor;
    return min;
  }

  async subscribe(onEvent: (ev: WatchEvent) => void): Promise<() => void> {
    if (this.closed) throw new Error('the job store is closed');
    await (this.started ??= this.start());
    const sub: Subscriber = { cursor: 0n, known: new Map(), onEvent, stopped: false };
    await this.enqueue(async () => {
      const snap = await this.opts.snapshot();
      sub.cursor = snap.rv;
      this.subs.add(sub);
      for (const job of snap.jobs) this.deliver(sub, 'ADDED', job);
    });
    this.wake(); // catch up with anything committed after the snapshot
    return () => {
      sub.stopped = true;
      this.subs.delete(sub);
    };
  }

  private async start() {
    this.unlisten = await this.db.listen(JOB_EVENTS_CHANNEL, () => this.wake());
    this.timer = setInterval(() => this.wake(), this.opts.pollMs);
    this.timer.unref();
  }

  private deliver(sub: Subscriber, type: WatchEventType, object: MultiEdgeInference) {
    if (sub.stopped) return;
    const key = jobKey(object);
    if (type === 'DELETED') sub.known.delete(key);
    else sub.known.set(key, object);
    try {
      sub.onEvent({ type, object: structuredClone(object) });
    } catch (e) {
      this.opts.onError(e); // a failing watcher must not stop the others
    }
  }

  private async fetch() {
    const prisma = this.db.prisma;
    for (;;) {
      const from = this.lowestCursor();
      if (from === undefined) return;
      const rows = await prisma.jobEvent.findMany({ where: { rv: { gt: from } }, orderBy: { rv: 'asc' }, take: BATCH });
      if (!rows.length || rows[0].rv > from + 1n) {
        // Possibly a gap: events this cursor needs were pruned. Re-list those subscribers (a false alarm,
        // e.g. an rv burnt by a rolled-back write, only costs one re-list).
        const min = (await prisma.jobEvent.aggregate({ _min: { rv: true } }))._min.rv;
        const behind = [...this.subs].filter((s) => min !== null && s.cursor < min - 1n);
        if (behind.length) await this.resync(behind);
      }
      for (const row of rows) {
        const object = row.object as unknown as MultiEdgeInference;
        object.metadata.resourceVersion = String(row.rv);
        for (const sub of this.subs) {
          if (row.rv <= sub.cursor) continue;
          this.deliver(sub, row.type as WatchEventType, object);
          sub.cursor = row.rv;
        }
      }
      if (rows.length < BATCH) return;
    }
  }

  /** Brings subscribers that missed pruned events up to date by diffing a fresh list against what they know. */
  private async resync(subs: Subscriber[]) {
    const snap = await this.opts.snapshot();
    const byKey = new Map(snap.jobs.map((j) => [jobKey(j), j]));
    for (const sub of subs) {
      for (const [key, old] of [...sub.known]) {
        const cur = byKey.get(key);
        if (!cur || cur.metadata.uid !== old.metadata.uid) this.deliver(sub, 'DELETED', old);
      }
      for (const [key, cur] of byKey) {
        const old = sub.known.get(key);
        if (!old) this.deliver(sub, 'ADDED', cur);
        else if (old.metadata.resourceVersion !== cur.metadata.resourceVersion) this.deliver(sub, 'MODIFIED', cur);
      }
      sub.cursor = snap.rv;
    }
  }

  async close() {
    this.closed = true;
    clearInterval(this.timer);
    for (const s of this.subs) s.stopped = true;
    this.subs.clear();
    await this.chain;
    await this.unlisten?.().catch(() => undefined);
  }
}
