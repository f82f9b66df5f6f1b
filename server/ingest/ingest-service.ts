// The path edge -> commit -> fanout, in one place (issue #11). For each `observations` message of an agent
// connection, in arrival order:
//   1. read it (protocol 1 JSON or protocol 2 bytes) and validate it: content that can never be stored is
//      refused, naming the field;
//   2. readiness: until the log's unapplied rows are replayed and the job cache is synced (a new leader in
//      Kubernetes mode), and while shutting down, answer retry-later; "job unknown" is retry-later while the
//      cache is not synced and refused only once it is;
//   3. flow control: the job's bytes in this process (waiting for commit or to be applied) are bounded; a job
//      at its limit gets retry-later, and no job can take another's room;
//   4. durable: the batch (as protocol-2 bytes) is appended to the ingest log by group commit; only then is
//      `committed` answered. A duplicate (already logged, also before a restart) is committed, not applied;
//   5. go-back-N per stream (go-back-n.ts) keeps `committed through=N` cumulative;
//   6. the live hub applies each batch as it arrives (identities, live fanout: not waiting for the commit)
//      and hands it to the history writer only once step 4 stored it fresh; the writer marks its log row
//      applied in the transaction that stores its history.
// At start the unapplied rows are replayed through step 6, so a SIGKILL loses nothing and duplicates nothing.
import { encodeObservations, parseObservationPayload, type IngestAck, type MultiEdgeInference, type ObservationBatch, type WireProtocol, decodeObservations } from '@mei/contracts';
import type { Logger } from '../log.ts';
import type { SqlClient } from '../store/db.ts';
import { LiveError, type AgentIdentity } from '../live/live-error.ts';
import type { LiveHub } from '../live/live-hub.ts';
import type { LiveTicket } from '../live/apply-queue.ts';
import { ByteBudget } from './byte-budget.ts';
import { ingestMetrics, registerIngestBytes } from '../observability/metrics.ts';
import { GoBackN } from './go-back-n.ts';
import { GroupCommitter, type GroupCommitOptions } from './group-commit.ts';
import { IngestLog } from './ingest-log.ts';
import { streamKey, type LogKey } from '../lib/stream-key.ts';

export interface IngestServiceOptions {
  sql: SqlClient;
  live: LiveHub;
  /** The controllers' job cache: `synced` once it holds every job (false on a replica that does not lead). */
  jobs: { get(key: string): MultiEdgeInference | undefined; readonly synced: boolean };
  /** Where log rows that leave no history are marked applied; absent: they stay for the next replay. */
  log: Logger;
  /**
   * Takes the right to replay and apply the log (true) or says another server still holds it (false): with
   * replicas on one PostgreSQL, a new leader must not replay rows that the old one is still applying (its last
   * history flush). The caller releases it after the history writer's last flush. Absent: one process only.
   */
  exclusive?: () => Promise<boolean>;
  /** Bytes of one job's batches held between arrival and being applied (default 32 MiB). */
  maxBytesPerJob?: number;
  /** Applied log rows are pruned after this long (default 1 h): the window in which a resend is found by key. */
  retentionMs?: number;
  pruneEveryMs?: number;
  /** The wait suggested with retry-later (ms). */
  retryAfterMs?: number;
  groupCommit?: GroupCommitOptions;
  now?: () => number;
}

export type IngestState = 'starting' | 'ready' | 'closing' | 'closed';

export interface IngestStats {
  state: IngestState;
  received: number;
  committed: number;
  duplicates: number;
  refused: number;
  retryLater: number;
  replayed: number;
  bytesHeld: number;
  commits: number;
  /** Batches agents declared their full spools dropped (ObservationBatch.dropped), since this process started. */
  droppedByAgents: number;
}

/** Messages of one agent connection: acks in arrival order, go-back-N per stream. */
export interface IngestConnection {
  receive(payload: unknown): Promise<IngestAck>;
}

export class IngestService {
  readonly log: IngestLog;
  private readonly committer: GroupCommitter;
  private readonly budget: ByteBudget;
  private readonly unregisterMetrics: () => void;
  private readonly options: Required<Pick<IngestServiceOptions, 'retentionMs' | 'pruneEveryMs' | 'retryAfterMs'>> & IngestServiceOptions;
  private _state: IngestState = 'starting';
  private pruneTimer?: NodeJS.Timeout;
  private starting?: Promise<void>;
  private readonly counters = { received: 0, committed: 0, duplicates: 0, refused: 0, retryLater: 0, replayed: 0, droppedByAgents: 0 };
  /** Per stream, the highest cumulative drop count an agent declared (a resend counts nothing twice). */
  private readonly declaredDrops = new Map<string, number>();

  constructor(o: IngestServiceOptions) {
    this.options = { retentionMs: 3_600_000, pruneEveryMs: 60_000, retryAfterMs: 1_000, ...o };
    this.log = new IngestLog(o.sql);
    this.committer = new GroupCommitter(this.log, o.groupCommit);
    this.budget = new ByteBudget(o.maxBytesPerJob ?? 32 * 1024 * 1024);
    this.unregisterMetrics = registerIngestBytes(() => this.budget.total);
  }

  get state(): IngestState {
    return this._state;
  }

  stats(): IngestStats {
    return { state: this._state, ...this.counters, bytesHeld: this.budget.total, commits: this.committer.stats.commits };
  }

  /** Replays the log's unapplied rows once the job cache is synced, then takes batches. Resolves when ready. */
  start(): Promise<void> {
    this.starting ??= (async () => {
      while (!this.options.jobs.synced && this._state === 'starting') await sleep(100);
      if (this._state !== 'starting') return;
      for (let waited = false; this.options.exclusive && this._state === 'starting'; waited = true) {
        let failed: unknown;
        const mine = await this.options.exclusive().catch((err) => ((failed = err), false));
        if (mine) break;
        if (!waited) this.options.log.info(failed ? `ingest: cannot take the ingest lock yet (${(failed as Error).message}); retrying` : 'ingest: another server is still applying the ingest log; waiting for it before replaying');
        await sleep(500);
      }
      if (this._state !== 'starting') return;
      for (;;) {
        try {
          await this.replay();
          break;
        } catch (err) {
          // The store is down: keep answering retry-later and try again.
          this.options.log.error('ingest: replaying the log failed; retrying:', err);
          await sleep(2_000);
        }
      }
      if (this._state !== 'starting') return;
      this._state = 'ready';
      this.pruneTimer = setInterval(() => void this.prune(), this.options.pruneEveryMs);
      this.pruneTimer.unref();
    })();
    return this.starting;
  }

  /** Graceful shutdown: new batches get retry-later; what was taken is committed, applied and handed to history. */
  async close(): Promise<void> {
    if (this._state === 'closed' || this._state === 'closing') return;
    this._state = 'closing';
    clearInterval(this.pruneTimer);
    await this.committer.idle();
    await this.options.live.drained();
    this.unregisterMetrics();
    this._state = 'closed';
  }

  async prune(): Promise<number> {
    try {
      return await this.log.prune(new Date((this.options.now ?? Date.now)() - this.options.retentionMs));
    } catch (err) {
      this.options.log.warn(`ingest: pruning the log failed (kept for the next round): ${(err as Error).message}`);
      return 0;
    }
  }

  connection(agent: AgentIdentity, protocol: WireProtocol): IngestConnection {
    const gbn = new GoBackN();
    let chain: Promise<unknown> = Promise.resolve();
    return {
      receive: (payload) => {
        const parsed = parseObservationPayload(payload, protocol);
        if (!parsed.ok) return Promise.resolve(this.count({ code: 'refused', field: parsed.field, error: parsed.error }, agent.jobKey));
        const batch = parsed.batch;
        const stream = streamKey(agent.uid, batch.camera, batch.session ?? '');
        const heldFrom = batch.dropped?.heldFrom;
        const early = gbn.arrive(stream, batch.seq, heldFrom);
        if (early) return Promise.resolve(this.count(early, agent.jobKey));
        let outcome: Promise<IngestAck>;
        try {
          outcome = this.take(agent, batch, protocol === 2 ? toBytes(payload) : undefined);
        } catch (err) {
          outcome = Promise.resolve(this.later(`the server failed to take the batch: ${(err as Error).message}`));
        }
        // Settled strictly in arrival order, so a later seq is never acked before an earlier one's fate is known.
        const acked = chain.then(() => outcome).then((ack) => this.count(gbn.settle(stream, batch.seq, ack, heldFrom), agent.jobKey));
        chain = acked.catch(() => undefined);
        return acked;
      },
    };
  }

  /** An agent's declaration that its spool dropped batches of the stream: counted once per batch dropped. */
  private countDrops(agent: AgentIdentity, batch: ObservationBatch): void {
    const stream = streamKey(agent.uid, batch.camera, batch.session ?? '');
    const total = batch.dropped!.count;
    const before = this.declaredDrops.get(stream) ?? 0;
    if (total <= before) return;
    this.declaredDrops.delete(stream); // re-inserted: the map keeps the most recent streams
    this.declaredDrops.set(stream, total);
    if (this.declaredDrops.size > MAX_DROP_STREAMS) this.declaredDrops.delete(this.declaredDrops.keys().next().value!);
    this.counters.droppedByAgents += total - before;
    ingestMetrics.droppedByAgents.inc({ job_namespace: namespaceOf(agent.jobKey) }, total - before);
    this.options.log.warn(`ingest: the agent of ${agent.jobKey} on ${agent.node} dropped ${total - before} batch(es) of camera ${batch.camera} (spool full; ${total} in this camera run); the stream goes on from seq ${batch.dropped!.heldFrom}`);
  }

  private count(ack: IngestAck, jobKey: string): IngestAck {
    if (ack.code === 'refused') this.counters.refused++;
    else if (ack.code === 'retry-later') this.counters.retryLater++;
    ingestMetrics.batches.inc({ job_namespace: namespaceOf(jobKey), outcome: ack.code === 'retry-later' ? 'retry_later' : ack.code });
    return ack;
  }

  private later(reason: string): IngestAck {
    return { code: 'retry-later', retryAfterMs: this.options.retryAfterMs, reason };
  }

  /** Steps 2-4 and 6 for one validated batch. Synchronous up to the commit, so arrival order is commit (and apply) order. */
  private take(agent: AgentIdentity, batch: ObservationBatch, wire: Uint8Array | undefined): Promise<IngestAck> {
    this.counters.received++;
    if (batch.jobKey !== agent.jobKey) return Promise.resolve({ code: 'refused', field: 'jobKey', error: `jobKey: this connection belongs to ${agent.jobKey}` });
    if (this._state !== 'ready') return Promise.resolve(this.later(this._state === 'starting' ? 'the server is starting (replaying its ingest log)' : 'the server is shutting down'));
    try {
      this.options.live.check(agent, batch);
    } catch (err) {
      if (!(err instanceof LiveError)) throw err;
      // An unknown job is believable only from a synced cache (a new leader's may not be yet).
      if (err.field === 'jobKey' && !this.options.jobs.synced) return Promise.resolve(this.later('the job cache is not synced yet'));
      return Promise.resolve({ code: 'refused', field: err.field, error: err.message });
    }
    const payload = wire ?? encodeObservations(batch);
    const bytes = payload.byteLength + 256;
    if (!this.budget.take(agent.jobKey, bytes)) return Promise.resolve(this.later(`job ${agent.jobKey} has ${this.budget.limitPerJob} bytes of batches waiting; send later`));
    const key: LogKey = { jobUid: agent.uid, camera: batch.camera, session: batch.session ?? '', seq: batch.seq };
    const observations = batch.frames.reduce((n, f) => n + f.tracks.length, 0);
    const release = () => this.budget.release(agent.jobKey, bytes);
    // Live first: identities and the live view do not wait for the commit (the ack does); the hub hands the
    // batch to the history writer only once committed() says its log row exists.
    let ticket: LiveTicket | undefined;
    try {
      ticket = this.options.live.ingest(agent, batch, { logKey: key, done: release, pendingCommit: true });
    } catch (err) {
      // The job changed since check(): logged all the same; the replay at next start settles the row.
      this.options.log.debug(`ingest: ${agent.jobKey} ${batch.camera}#${batch.seq} not applied: ${(err as Error).message}`);
    }
    const endCommit = ingestMetrics.commitSeconds.startTimer();
    return this.committer.submit({ ...key, payload, observations }).then((out) => {
      endCommit();
      if (ticket) ticket.committed(out.kind === 'stored' ? (out.fresh ? 'fresh' : 'duplicate') : out.kind);
      else release();
      if (out.kind === 'unavailable') return this.later(out.reason);
      if (out.kind === 'refused') return { code: 'refused', field: out.field, error: out.error };
      if (batch.dropped) this.countDrops(agent, batch);
      if (!out.fresh) {
        this.counters.duplicates++;
        ingestMetrics.duplicates.inc({ job_namespace: namespaceOf(agent.jobKey) });
      } else {
        this.counters.committed++;
        ingestMetrics.observations.inc({ job_namespace: namespaceOf(agent.jobKey) }, observations);
      }
      return { code: 'committed', through: batch.seq };
    });
  }

  /** Feeds the log's unapplied rows to the live hub (bounded: at most `window` batches wait at once). */
  private async replay(window = 256): Promise<void> {
    let waiting = 0;
    let wake: (() => void) | undefined;
    const done = () => {
      waiting--;
      wake?.();
    };
    let n = 0;
    for await (const row of this.log.unapplied()) {
      const key: LogKey = { jobUid: row.jobUid, camera: row.camera, session: row.session, seq: row.seq };
      let batch: ObservationBatch;
      try {
        batch = decodeObservations(row.payload);
      } catch (err) {
        this.options.log.error(`ingest: log row ${row.camera}#${row.seq} of job ${row.jobUid} cannot be decoded (${(err as Error).message}); skipped`);
        await IngestLog.markApplied(this.options.sql, [key]);
        continue;
      }
      const job = this.options.jobs.get(batch.jobKey);
      const node = job?.metadata.uid === row.jobUid ? job.spec.cameras.find((c) => c.name === row.camera)?.node : undefined;
      if (!node) {
        // The job (or this camera of it) is gone: its batches have nowhere to go.
        await IngestLog.markApplied(this.options.sql, [key]);
        continue;
      }
      while (waiting >= window) await new Promise<void>((r) => (wake = r));
      waiting++;
      this.options.live.ingest({ jobKey: batch.jobKey, uid: row.jobUid, node }, batch, { logKey: key, done });
      n++;
    }
    await this.options.live.drained();
    this.counters.replayed += n;
    if (n) this.options.log.info(`ingest: replayed ${n} logged batches that were not yet applied`);
  }
}

/** Streams whose declared drop count is remembered (the oldest are forgotten; a stale resend may then count again). */
const MAX_DROP_STREAMS = 10_000;

const namespaceOf = (jobKey: string) => jobKey.slice(0, Math.max(0, jobKey.indexOf('/')));

function toBytes(payload: unknown): Uint8Array {
  return payload instanceof ArrayBuffer ? new Uint8Array(payload) : (payload as Uint8Array);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
