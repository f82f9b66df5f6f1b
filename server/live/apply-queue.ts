// The hand-off from ingest to identities and the live view. Observation batches wait here from their arrival,
// while their group commit runs (the ingest service bounds what waits, in bytes per job); a drain loop applies
// them in small slices (the `apply` step: identities, roster, live frames) and yields between slices so agents'
// acks and other sockets keep flowing. The live view does not wait for the commit; the history store does: a
// batch's history goes to it only once its ingest log row is committed (the writer marks that row applied, so
// it must exist), and never for a batch whose commit failed (kept aside until its resend commits, as
// identities will not apply the resend again).
import type { ObservationBatch } from '@mei/contracts';
import type { Logger } from '../log.ts';
import type { HistoryObservations, HistorySink } from '../history/sink.ts';
import { logKeyString, type LogKey } from '../lib/stream-key.ts';

/** What became of a batch's ingest log append (server/ingest/group-commit.ts). */
export type CommitResult = 'fresh' | 'duplicate' | 'unavailable' | 'refused';

export interface IngestedBatch {
  logKey?: LogKey;
  done?: () => void;
  /** The batch's commit is still running: its history waits for LiveTicket.committed. */
  pendingCommit?: boolean;
}

/** A queued batch; the ingest service reports its commit's outcome here. */
export interface LiveTicket {
  committed(result: CommitResult): void;
}

/**
 * Histories of batches applied to identities whose commit failed, by log key, until the resend commits
 * (identities take a seq once, so the resend brings no history of its own). Agents resend from the oldest
 * unacknowledged seq (go-back-N), so this holds about one window per stream during a store outage.
 */
const MAX_UNCOMMITTED = 4_096;

interface QueuedBatch {
  batch: ObservationBatch;
  receivedAt: number;
  /** Its ingest log row: the history store marks it applied. */
  logKey?: LogKey;
  /** Called once the batch is applied and its history handed over or dropped (the ingest service releases its bytes). */
  done?: () => void;
  /** 'pending' while its group commit runs; undefined when it was durable before it came here (replay). */
  commit?: CommitResult | 'pending';
  applied: boolean;
  /** After applying: what goes to the history store (undefined: nothing; the log row is only settled). */
  record?: HistoryObservations;
}

export interface ApplyQueueOptions {
  /** Applies one batch; returns what goes to the history store (undefined: nothing). A throw is logged. */
  apply: (batch: ObservationBatch, receivedAt: number) => HistoryObservations | undefined;
  /** Where applied batches' histories go (server/history). */
  history?: HistorySink;
  log: Logger;
  now: () => number;
  /** Longest a drain slice runs before yielding the event loop. */
  sliceMs: number;
}

/** The history store only buffers; should it fail anyway, the live path goes on. */
export function toHistory(log: Logger, fn: () => void): void {
  try {
    fn();
  } catch (err) {
    log.error('live: history sink failed:', err);
  }
}

export class ApplyQueue {
  private readonly applyBatch: ApplyQueueOptions['apply'];
  private readonly history?: HistorySink;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly sliceMs: number;
  private readonly queue: QueuedBatch[] = [];
  private queueHead = 0;
  private drainScheduled = false;
  private drainWaiters: Array<() => void> = [];
  /** Batches queued and not yet finished (applied and their history handed over or dropped). */
  private unfinished = 0;
  private readonly uncommitted = new Map<string, HistoryObservations>();

  constructor({ apply, history, log, now, sliceMs }: ApplyQueueOptions) {
    this.applyBatch = apply;
    this.history = history;
    this.log = log;
    this.now = now;
    this.sliceMs = sliceMs;
  }

  /** Batches waiting to be applied. */
  get length(): number {
    return this.queue.length - this.queueHead;
  }

  /** Queues a batch; nothing is ever dropped here (the ingest service's byte budget bounds what waits). */
  push(batch: ObservationBatch, o: IngestedBatch = {}): LiveTicket {
    const item: QueuedBatch = { batch, receivedAt: this.now(), logKey: o.logKey, done: o.done, commit: o.pendingCommit ? 'pending' : undefined, applied: false };
    this.queue.push(item);
    this.unfinished++;
    this.scheduleDrain();
    return {
      committed: (result) => {
        if (item.commit !== 'pending') return;
        item.commit = result;
        if (item.applied) this.finish(item);
      },
    };
  }

  /** Resolves once every queued batch has been applied and handed on (graceful shutdown, tests). */
  drained(): Promise<void> {
    if (this.unfinished === 0) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  private scheduleDrain(): void {
    if (this.drainScheduled) return;
    this.drainScheduled = true;
    setImmediate(() => this.drain());
  }

  /** Applies queued batches for at most sliceMs (at least four), then yields so sockets keep flowing. */
  private drain(): void {
    this.drainScheduled = false;
    const end = performance.now() + this.sliceMs;
    let n = 0;
    while (this.queueHead < this.queue.length && (n < 4 || performance.now() < end)) {
      const item = this.queue[this.queueHead++];
      n++;
      try {
        item.record = this.applyBatch(item.batch, item.receivedAt);
      } catch (err) {
        this.log.error(`live: applying ${item.batch.jobKey} ${item.batch.camera}#${item.batch.seq} failed:`, err);
      }
      item.applied = true;
      if (item.commit !== 'pending') this.finish(item);
    }
    // Compact now and then instead of shifting per item.
    if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
      this.queue.splice(0, this.queueHead);
      this.queueHead = 0;
    }
    if (this.queueHead < this.queue.length) this.scheduleDrain();
    else {
      this.queue.length = 0;
      this.queueHead = 0;
    }
  }

  /**
   * Applied, and its commit's outcome known (or durable before it came): its history goes to the store only
   * if its log row exists now and was not applied before.
   */
  private finish(item: QueuedBatch): void {
    const key = item.logKey && item.commit !== undefined ? logKeyString(item.logKey) : undefined;
    const kept = key !== undefined ? this.uncommitted.get(key) : undefined;
    if (kept) this.uncommitted.delete(key!);
    switch (item.commit) {
      case undefined:
      case 'fresh': {
        const record = item.record ?? kept;
        if (record) toHistory(this.log, () => this.history?.observations({ ...record, logKey: item.logKey }));
        else if (item.logKey) toHistory(this.log, () => this.history?.settle?.(item.logKey!)); // leaves no history: not to be replayed
        break;
      }
      case 'duplicate':
        // Stored before. Its history went with that commit, unless that commit was reported failed (the row
        // got in all the same): then the history kept aside goes now. A fresh record here is a batch that
        // identities had not seen (e.g. after a restart) whose row was applied before: nothing to store.
        if (kept) toHistory(this.log, () => this.history?.observations({ ...kept, logKey: item.logKey }));
        break;
      case 'unavailable':
        // Not durable: the agent resends it, and identities will not apply the resend again.
        if (key !== undefined && item.record) this.keepUncommitted(key, item.record);
        break;
      case 'refused':
      case 'pending':
        break;
    }
    item.done?.();
    if (--this.unfinished === 0) for (const w of this.drainWaiters.splice(0)) w();
  }

  private keepUncommitted(key: string, record: HistoryObservations): void {
    this.uncommitted.set(key, record);
    if (this.uncommitted.size <= MAX_UNCOMMITTED) return;
    const [oldest] = this.uncommitted.keys();
    this.uncommitted.delete(oldest);
    this.log.warn(`live: more than ${MAX_UNCOMMITTED} applied batches wait for a successful commit; the history of the oldest is not kept`);
  }
}
