// The history writer: buffers what the live ingest hands over (HistorySink) and writes it to the database in
// batches, one transaction per flush (every flushMs, or sooner once flushRows trajectory points wait). The
// live path only ever appends to memory; memory stays bounded without dropping anything that matters
// (track-buffer.ts). Only each track's newest embedding waits, and representatives are chosen in memory
// (representatives.ts). Thumbnails are the agents' crops (thumbnails.ts). The flush's SQL is history-sql.ts.
//
// Per track it stores: the track row (camera, session, local id, global identity, first/last time, frame
// size), trajectory segments (one append-only chunk per flush), up to maxEmbeddingsPerTrack representative
// embeddings and one thumbnail. The ingest log rows whose history a flush writes are marked applied in the
// same transaction (server/ingest).
import type { MultiEdgeInference } from '@mei/contracts';
import type { SqlClient } from '../store/db.ts';
import type { Logger } from '../log.ts';
import type { LogKey } from '../lib/stream-key.ts';
import type { HistoryObservations, HistorySink, HistoryThumbnail } from './sink.ts';
import { cropsAllowed, JobInfos } from './job-info.ts';
import { RepresentativeChoice, unitVector, type PendingVector, type Representative } from './representatives.ts';
import { TrackBuffer, type Point, type TrackState } from './track-buffer.ts';
import { PendingThumbnails, type ThumbnailWrite } from './thumbnails.ts';
import { insertSegments, loadRepresentatives, relabelIdentity, upsertTracks, writeRepresentatives, writeThumbnail, type RepresentativeWrite } from './history-sql.ts';

export interface HistoryWriterOptions {
  sql: SqlClient;
  /** The job of a key (the controllers' cache): retention, privacy and ReID model come from its spec. */
  jobs: { get(key: string): MultiEdgeInference | undefined };
  log: Logger;
  /** Wall clock (seen_at, thumbnail ages, idle tracks); injected by tests. */
  now?: () => number;
  flushMs?: number;
  /** A flush starts early once this many trajectory points wait (high ingest rates: one statement per table per flush, whatever its size). */
  flushRows?: number;
  /** Trajectory resolution: at most one stored point per this many ms of a track (500 = 2 points/s). */
  pointIntervalMs?: number;
  /** Trajectory points waiting beyond this are thinned (and the interval doubled, up to 16x). */
  maxPendingPoints?: number;
  maxEmbeddingsPerTrack?: number;
  repMinDistance?: number;
  /**
   * A representative is rewritten with a newer embedding at most once per this much track time (the
   * embeddings' own timestamps, so a replay at any pace stores the same); the newest waits in memory
   * meanwhile and is written when the track goes quiet. Default 0 (every embedding): 10 s saved database
   * work at high ingest rates but cost person search (bench:person-search replay: rank-1 78.95 -> 68.42,
   * mAP 73.68 -> 72.15), so it is a trade-off to choose, not a default.
   */
  repRefreshMs?: number;
  /** A track not observed for this long (wall clock) gets its last point written and leaves memory. */
  idleMs?: number;
  /**
   * Marks batches' ingest log rows applied inside the transaction that stores their history (the ingest log's
   * own statement, handed in so history does not depend on ingest). Absent: there is no ingest log (tests,
   * benches) and keys are ignored.
   */
  markApplied?: (tx: SqlClient, keys: readonly LogKey[]) => Promise<void>;
}

/** An embedding row that a flush inserted or changed, for the search index. */
export interface StoredEmbedding {
  id: number;
  trackId: number;
  model: string;
  vector: Float32Array;
  jobUid: string;
  camera: string;
  startMs: number;
  endMs: number;
}

export interface HistoryWriterStats {
  batches: number;
  /** Confirmed track observations received. */
  observations: number;
  pointsWritten: number;
  /** Trajectory points merged away by the downsampling (interval) or thinned under backpressure. */
  pointsCoalesced: number;
  tracksWritten: number;
  embeddingsInserted: number;
  embeddingsUpdated: number;
  thumbnailsWritten: number;
  /** Agents' thumbnails refused because the job's privacy.preview allows no crops. */
  thumbnailsRefused: number;
  /** Agents' thumbnails not kept: no larger than the track's, track never observed, or not a JPEG of the stated size. */
  thumbnailsDropped: number;
  flushes: number;
  flushErrors: number;
  lastFlushMs: number;
  pendingPoints: number;
  /** Current trajectory interval (grows under backpressure). */
  pointIntervalMs: number;
  tracksInMemory: number;
}

/** One track's share of a flush. */
interface WorkItem {
  st: TrackState;
  points: Point[];
  vector?: PendingVector;
  row: boolean;
}

interface Merge {
  uid: string;
  from: string;
  into: string;
}

export class HistoryWriter implements HistorySink {
  private readonly sql: SqlClient;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly flushRows: number;
  private readonly idleMs: number;
  private readonly markApplied?: HistoryWriterOptions['markApplied'];
  private readonly reps: RepresentativeChoice;
  private readonly buffer: TrackBuffer;
  private readonly thumbnails: PendingThumbnails;
  private readonly jobInfos: JobInfos;
  private merges: Merge[] = [];
  /** Ingest log rows whose effect is buffered here: marked applied in the transaction that writes it. */
  private applied: LogKey[] = [];
  private readonly listeners = new Set<(rows: StoredEmbedding[]) => void>();
  private flushing?: Promise<void>;
  private again = false;
  private closed = false;
  private readonly timer: NodeJS.Timeout;
  private readonly counters = {
    batches: 0,
    observations: 0,
    pointsWritten: 0,
    tracksWritten: 0,
    embeddingsInserted: 0,
    embeddingsUpdated: 0,
    thumbnailsWritten: 0,
    thumbnailsRefused: 0,
    flushes: 0,
    flushErrors: 0,
    lastFlushMs: 0,
  };
  private errorLoggedAt = 0;

  constructor(o: HistoryWriterOptions) {
    this.sql = o.sql;
    this.log = o.log;
    this.now = o.now ?? Date.now;
    this.flushRows = o.flushRows ?? 5_000;
    this.idleMs = o.idleMs ?? 30_000;
    this.markApplied = o.markApplied;
    this.reps = new RepresentativeChoice(o.maxEmbeddingsPerTrack ?? 4, o.repMinDistance ?? 0.05, o.repRefreshMs ?? 0);
    this.buffer = new TrackBuffer({
      pointIntervalMs: o.pointIntervalMs ?? 500,
      maxPendingPoints: o.maxPendingPoints ?? 20_000,
      onSlower: (pending, interval) => this.log.warn(`history: the database is behind (${pending} points waiting); trajectories now keep one point per ${interval} ms`),
    });
    this.thumbnails = new PendingThumbnails((msg) => this.log.debug(msg));
    this.jobInfos = new JobInfos(o.jobs);
    this.timer = setInterval(() => {
      if (this.hasWork()) void this.flush();
    }, o.flushMs ?? 1000);
    this.timer.unref();
  }

  /** Called with the embedding rows of every committed flush (the search index follows the table). */
  onEmbeddings(listener: (rows: StoredEmbedding[]) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The tuning in force (defaults filled in). */
  get options(): Readonly<{ maxEmbeddingsPerTrack: number; repMinDistance: number; pointIntervalMs: number }> {
    return { maxEmbeddingsPerTrack: this.reps.maxPerTrack, repMinDistance: this.reps.minDistance, pointIntervalMs: this.buffer.baseIntervalMs };
  }

  stats(): HistoryWriterStats {
    return {
      ...this.counters,
      pointsCoalesced: this.buffer.coalesced,
      thumbnailsDropped: this.thumbnails.counters.dropped,
      pendingPoints: this.buffer.pendingPoints,
      pointIntervalMs: this.buffer.interval,
      tracksInMemory: this.buffer.tracks.size,
    };
  }

  // ---- sink (live path: memory only) ---------------------------------------------------------------

  observations(b: HistoryObservations): void {
    if (this.closed) return;
    if (b.logKey) this.applied.push(b.logKey);
    const session = b.session ?? '';
    const now = this.now();
    this.counters.batches++;
    const lastSeen = new Map<number, number>();
    for (const f of b.frames) {
      if (!Number.isFinite(f.timestampMs)) continue;
      for (const t of f.tracks) {
        if (t.state !== 'confirmed' || !Number.isInteger(t.localId)) continue; // seen in this frame
        this.counters.observations++;
        const st = this.buffer.track(b.jobUid, b.jobKey, b.camera, session, t.localId, f.timestampMs, now);
        st.lastObservedAt = now;
        lastSeen.set(t.localId, f.timestampMs);
        this.buffer.observe(st, f, t);
      }
    }
    const batchEnd = b.frames.length ? b.frames[b.frames.length - 1].timestampMs : 0;
    for (const e of b.embeddings ?? []) {
      const v = e.vector && e.vector.length >= 8 ? unitVector(e.vector) : undefined;
      if (!v) continue;
      const tMs = lastSeen.get(e.id) ?? batchEnd;
      const st = this.buffer.track(b.jobUid, b.jobKey, b.camera, session, e.id, tMs, now);
      st.pendingVector = { tMs, vector: v };
      st.vectorWaits = false; // a newer one: due again, maybe
    }
    for (const ev of b.events ?? []) {
      if (ev.type !== 'merged') continue;
      this.merges.push({ uid: b.jobUid, from: ev.from, into: ev.into });
      this.buffer.relabel(b.jobUid, ev.from, ev.into);
    }
    this.buffer.thinIfBehind();
    if (this.buffer.pendingPoints >= this.flushRows && !this.flushing) void this.flush();
  }

  /** A logged batch that leaves no history (duplicate, refused by the identity service, job gone): applied with the next flush. */
  settle(key: LogKey): void {
    if (this.closed) return;
    this.applied.push(key);
  }

  thumbnail(t: HistoryThumbnail): void {
    if (this.closed) return;
    if (!cropsAllowed(this.jobInfos.get(t.jobKey))) {
      this.counters.thumbnailsRefused++; // privacy: no pixels kept, whatever the agent thought
      return;
    }
    this.thumbnails.add(t, this.now());
  }

  // ---- flushing --------------------------------------------------------------------------------------

  /** Writes everything buffered so far; resolves when it is committed (or failed and was kept for retry). */
  flush(): Promise<void> {
    if (this.flushing) {
      this.again = true;
      return this.flushing;
    }
    this.flushing = (async () => {
      try {
        do {
          this.again = false;
          await this.flushOnce(this.closed);
        } while (this.again && this.hasWork());
      } finally {
        this.flushing = undefined;
      }
    })();
    return this.flushing;
  }

  /** Flushes everything (including each track's last position) and stops the timer. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    this.closed = true;
    await this.flushing;
    await this.flush();
  }

  private hasWork(): boolean {
    if (this.buffer.pendingPoints > 0 || this.applied.length > 0 || this.merges.length > 0 || this.thumbnails.size > 0) return true;
    const idleBefore = this.now() - this.idleMs;
    for (const st of this.buffer.tracks.values()) if (st.dirty || (st.pendingVector && !st.vectorWaits) || st.lastObservedAt <= idleBefore) return true;
    return false;
  }

  /** Takes what is pending now; observations arriving during the transaction wait for the next flush. */
  private takeWork(final: boolean, idleBefore: number): WorkItem[] {
    const work: WorkItem[] = [];
    for (const st of this.buffer.tracks.values()) {
      const idle = final || st.lastObservedAt <= idleBefore;
      const points = st.points;
      if (idle && st.tail) points.push(st.tail);
      // A vector that would rewrite a representative written less than repRefreshMs ago waits (newest wins).
      let vector = st.pendingVector;
      if (vector && !idle && !this.reps.due(st.reps, vector)) {
        st.vectorWaits = true;
        vector = undefined;
      }
      if (!st.dirty && !points.length && !vector && st.id !== undefined) continue;
      work.push({ st, points, vector, row: st.dirty || st.id === undefined });
      st.points = [];
      if (idle) st.tail = undefined;
      if (vector) st.pendingVector = undefined;
      st.dirty = false;
    }
    return work;
  }

  private async flushOnce(final: boolean): Promise<void> {
    const t0 = performance.now();
    const now = this.now();
    const idleBefore = now - this.idleMs;
    const work = this.takeWork(final, idleBefore);
    const taken = work.reduce((n, w) => n + w.points.length, 0);
    this.buffer.pendingPoints = Math.max(0, this.buffer.pendingPoints - taken);
    const merges = this.merges;
    this.merges = [];
    const applied = this.applied;
    this.applied = [];
    const thumbs = this.thumbnails.take(this.buffer.tracks, now, (jobKey) => this.jobInfos.get(jobKey).thumbnailsDays);
    let stored: StoredEmbedding[] = [];
    try {
      const written = await this.sql.transaction(async (tx) => {
        const w = await this.write(tx, work, merges, thumbs, now);
        if (applied.length) await this.markApplied?.(tx, applied);
        return w;
      });
      written.committed();
      stored = written.stored;
    } catch (err) {
      // Keep everything for the next attempt (ahead of what arrived meanwhile).
      for (const w of work) {
        w.st.points = w.points.concat(w.st.points);
        w.st.pendingVector ??= w.vector;
        if (w.row) w.st.dirty = true;
      }
      this.buffer.pendingPoints += taken;
      this.merges = merges.concat(this.merges);
      this.applied = applied.concat(this.applied);
      this.thumbnails.restore(thumbs, now);
      this.counters.flushErrors++;
      if (this.now() - this.errorLoggedAt > 10_000) {
        this.errorLoggedAt = this.now();
        this.log.error(`history: writing ${work.length} tracks failed (kept for retry):`, err);
      }
      this.buffer.thinIfBehind();
      return;
    }
    this.counters.flushes++;
    this.counters.pointsWritten += taken;
    this.counters.lastFlushMs = performance.now() - t0;
    this.buffer.caughtUp();
    this.buffer.forgetIdle(idleBefore);
    if (stored.length) for (const l of this.listeners) l(stored);
  }

  /**
   * Writes a flush in `tx`. What memory learns from it (representatives, thumbnail rows) is applied by
   * `committed()` only once the transaction committed, so a failed flush leaves memory as the table is.
   */
  private async write(tx: SqlClient, work: WorkItem[], merges: Merge[], thumbs: ThumbnailWrite[], now: number): Promise<{ stored: StoredEmbedding[]; committed: () => void }> {
    const effects: Array<() => void> = [];
    const seenAt = new Date(now).toISOString();
    const trackKeyOf = (o: { job_uid: string; camera: string; session: string; local_id: number }) => `${o.job_uid}\u0000${o.camera}\u0000${o.session}\u0000${o.local_id}`;
    // 1. Track rows: insert or extend, in one statement. Every track with work gets its id and seen_at.
    const rows = work.filter((w) => w.row || w.points.length || w.vector || w.st.id === undefined);
    const preExisting: TrackState[] = [];
    if (rows.length) {
      const byKey = new Map(rows.map((w) => [trackKeyOf({ job_uid: w.st.jobUid, camera: w.st.camera, session: w.st.session, local_id: w.st.localId }), w]));
      const ids = await upsertTracks(
        tx,
        rows.map(({ st }) => ({
          job_uid: st.jobUid,
          job_key: st.jobKey,
          camera: st.camera,
          session: st.session,
          local_id: st.localId,
          global_id: st.globalId,
          start_ms: st.startMs,
          end_ms: st.endMs,
          frame_width: st.frameWidth,
          frame_height: st.frameHeight,
          keep_days: this.jobInfos.get(st.jobKey).tracksDays,
        })),
        seenAt,
      );
      for (const r of ids) {
        const w = byKey.get(trackKeyOf(r));
        if (!w) continue;
        if (w.st.id === undefined && !r.inserted) preExisting.push(w.st);
        w.st.id = r.id;
      }
      this.counters.tracksWritten += ids.length;
    }
    // A track this process has not seen before but the table has (server restart): load its representatives.
    const needReps = work.filter((w) => w.vector && !w.st.reps).map((w) => w.st);
    if (needReps.length) {
      for (const st of needReps) st.reps = [];
      const wanted = new Set(needReps);
      const existing = preExisting.filter((st) => wanted.has(st));
      if (existing.length) {
        const byId = new Map(existing.map((st) => [st.id!, st]));
        const models = [...new Set(existing.map((st) => this.jobInfos.get(st.jobKey).model))];
        for (const r of await loadRepresentatives(tx, [...byId.keys()], models)) byId.get(r.trackId)?.reps!.push({ id: r.id, vector: r.vector, tMs: r.tMs });
      }
    }
    // 2. Trajectory chunks.
    const segs = work.filter((w) => w.points.length && w.st.id !== undefined);
    if (segs.length) {
      await insertSegments(
        tx,
        segs.map((w) => {
          const points = [...w.points].sort((a, b) => a[0] - b[0]);
          return { track_id: w.st.id!, start_ms: points[0][0], end_ms: points[points.length - 1][0], points };
        }),
      );
    }
    // 3. Representative embeddings: new ones and the nearest one a newer embedding replaces.
    const changes: Array<{ st: TrackState; write: RepresentativeWrite; replaces?: Representative }> = [];
    for (const w of work) {
      if (!w.vector || w.st.id === undefined) continue;
      const model = this.jobInfos.get(w.st.jobKey).model;
      const target = this.reps.target((w.st.reps ??= []), w.vector.vector);
      if (!target) continue;
      const write: RepresentativeWrite = { trackId: w.st.id, model, tMs: w.vector.tMs, vector: w.vector.vector };
      if (target === 'new') changes.push({ st: w.st, write });
      else changes.push({ st: w.st, write: { ...write, id: target.id }, replaces: target });
    }
    const stored: StoredEmbedding[] = [];
    if (changes.length) {
      const ids = await writeRepresentatives(tx, changes.map((c) => c.write));
      changes.forEach((c, i) => {
        const { st, write } = c;
        stored.push({ id: ids[i], model: write.model, vector: write.vector, jobUid: st.jobUid, camera: st.camera, startMs: st.startMs, endMs: st.endMs, trackId: st.id! });
        effects.push(() => {
          if (c.replaces) {
            c.replaces.vector = write.vector;
            c.replaces.tMs = write.tMs;
            this.counters.embeddingsUpdated++;
          } else {
            st.reps!.push({ id: ids[i], vector: write.vector, tMs: write.tMs });
            this.counters.embeddingsInserted++;
          }
        });
      });
    }
    // 4. Identity merges relabel every stored track of the merged identity (not only those in memory).
    for (const m of merges) await relabelIdentity(tx, m.uid, m.from, m.into);
    // 5. Thumbnails: one per track, replaced by a clearly larger crop.
    const thumbRows = thumbs.filter((t) => t.st.id !== undefined);
    for (const t of thumbRows) {
      const id = await writeThumbnail(tx, { id: t.st.thumbnail?.id, trackId: t.st.id!, tMs: t.tMs, width: t.width, height: t.height, jpeg: t.jpeg, keepDays: t.keepDays }, seenAt);
      effects.push(() => (t.st.thumbnail = { id, area: t.area }));
    }
    effects.push(() => (this.counters.thumbnailsWritten += thumbRows.length));
    return { stored, committed: () => effects.forEach((e) => e()) };
  }
}
