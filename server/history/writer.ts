// The history writer: buffers what the live ingest hands over (HistorySink) and writes it to the database in
// batches, one transaction per flush (every flushMs, or sooner once flushRows trajectory points wait).
// The live path only ever appends to memory, and memory stays bounded without dropping anything that
// matters: a track is kept at <= 1 point per pointIntervalMs (its latest position waits as a "tail" that is
// written when the track goes quiet), only each track's newest embedding waits, and when the database falls
// behind (maxPendingPoints) waiting trajectories are thinned and the interval doubles, so trajectories get
// coarser instead of anything being lost or the queue growing without bound.
//
// Per track it stores: the track row (camera, session, local id, global identity, first/last time, frame
// size), trajectory segments (one append-only chunk per flush) and up to maxEmbeddingsPerTrack
// representative embeddings: a new embedding is added when it differs from every kept one by at least
// repMinDistance, otherwise it replaces the nearest (an agent's embedding is the track's running mean, so
// the newer one is the better estimate). Thumbnails (privacy.preview 'thumbnails' or 'live') are the agents'
// track crops, or cut from preview frames; both are checked (decoded) at flush time, off the ingest path.
// A track keeps one thumbnail, replaced only by a crop with thumbnailUpgrade times its pixels.
import { previewAllows, withDefaults, type DefaultedPrivacySpec, type MultiEdgeInference } from '@mei/contracts';
import type { SqlClient } from '../store/db.ts';
import type { Logger } from '../log.ts';
import type { HistoryObservations, HistoryPreview, HistorySink, HistoryThumbnail } from './sink.ts';
import { reidModelKey } from './model-key.ts';
import { cropFrame, decodeJpeg, encodeJpeg } from './person-search/image.ts';
import { IngestLog } from '../ingest/ingest-log.ts';
import type { LogKey } from '../lib/stream-key.ts';

/** CRD defaults of spec.retention. */

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
  /** A thumbnail is replaced when a later crop of the track is this many times larger. */
  thumbnailUpgrade?: number;
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

type Point = [number, number, number, number, number, number];

interface Rep {
  id: number;
  vector: Float32Array;
  /** Track time (ms) of the embedding it holds. */
  tMs: number;
}

interface TrackState {
  jobUid: string;
  jobKey: string;
  camera: string;
  session: string;
  localId: number;
  id?: number;
  globalId: string | null;
  startMs: number;
  endMs: number;
  frameWidth: number;
  frameHeight: number;
  /** Row needs writing (times, identity or size changed). */
  dirty: boolean;
  points: Point[];
  tail?: Point;
  lastKeptMs?: number;
  pendingVector?: { tMs: number; vector: Float32Array };
  /** The pending vector waits: it would rewrite a representative written less than repRefreshMs (track time) before it. */
  vectorWaits?: boolean;
  reps?: Rep[];
  lastObservedAt: number;
  thumbnail?: { id?: number; area: number };
}

interface JobInfo {
  model: string;
  tracksDays: number;
  thumbnailsDays: number;
  privacy: DefaultedPrivacySpec;
}

interface PendingPreview extends HistoryPreview {
  receivedAt: number;
}

interface PendingThumbnail extends HistoryThumbnail {
  receivedAt: number;
}

/** One track's share of a flush. */
interface WorkItem {
  st: TrackState;
  points: Point[];
  vector?: TrackState['pendingVector'];
  row: boolean;
}

interface ThumbWrite {
  st: TrackState;
  tMs: number;
  width: number;
  height: number;
  jpeg: Uint8Array;
  area: number;
  keepDays: number;
}

const trackKey = (uid: string, camera: string, session: string, localId: number) => `${uid}\u0000${camera}\u0000${session}\u0000${localId}`;
const r1 = (v: number) => Math.round(v * 10) / 10;
const r3 = (v: number) => Math.round(v * 1000) / 1000;
/** Thumbnails: a person crop at most this size (pixels). */
const THUMB_W = 64;
const THUMB_H = 128;
/** Preview crops smaller than this (preview pixels, height) are not worth a thumbnail. */
const THUMB_MIN_H = 24;
/** Recent frames kept per camera to match previews (which may arrive before their observations). */
const RECENT_FRAMES = 64;
const PREVIEW_MAX_WAIT_MS = 10_000;
/** Agents' thumbnails waiting for their track's observations (at most one per track). */
const MAX_PENDING_THUMBNAILS = 512;
const MAX_INTERVAL_FACTOR = 16;

function unit(v: ArrayLike<number>): Float32Array | undefined {
  let s = 0;
  for (let i = 0; i < v.length; i++) {
    const x = v[i];
    if (typeof x !== 'number' || !Number.isFinite(x)) return undefined;
    s += x * x;
  }
  if (s === 0) return undefined;
  const inv = 1 / Math.sqrt(s);
  const out = new Float32Array(v.length);
  for (let i = 0; i < v.length; i++) out[i] = v[i] * inv;
  return out;
}

/** One thumbnail write per track and flush: the largest crop. */
function largestPerTrack(thumbs: ThumbWrite[]): ThumbWrite[] {
  const best = new Map<TrackState, ThumbWrite>();
  for (const t of thumbs) if ((best.get(t.st)?.area ?? -1) < t.area) best.set(t.st, t);
  return [...best.values()];
}

const cosineDistance = (a: Float32Array, b: Float32Array) => {
  let d = 0;
  for (let i = 0; i < a.length; i++) d += a[i] * b[i];
  return 1 - d;
};

export class HistoryWriter implements HistorySink {
  private readonly o: Required<Omit<HistoryWriterOptions, 'sql' | 'jobs' | 'log' | 'now'>>;
  private readonly now: () => number;
  private readonly tracks = new Map<string, TrackState>();
  private readonly jobInfos = new Map<string, JobInfo>();
  private merges: Array<{ uid: string; from: string; into: string }> = [];
  /** Ingest log rows whose effect is buffered here: marked applied in the transaction that writes it. */
  private applied: LogKey[] = [];
  private readonly previews = new Map<string, PendingPreview[]>();
  /** Agents' thumbnails by track key: they may arrive before the observations that create the track. */
  private readonly agentThumbs = new Map<string, PendingThumbnail>();
  /** Per camera (uid + camera): recent frames' confirmed boxes by frame index, for thumbnails. */
  private readonly recentFrames = new Map<string, Map<number, { width: number; height: number; boxes: Array<{ localId: number; session: string; x: number; y: number; w: number; h: number }> }>>();
  private readonly listeners = new Set<(rows: StoredEmbedding[]) => void>();
  private pendingPoints = 0;
  private interval: number;
  private flushing?: Promise<void>;
  private again = false;
  private closed = false;
  private readonly timer: NodeJS.Timeout;
  private readonly counters = {
    batches: 0,
    observations: 0,
    pointsWritten: 0,
    pointsCoalesced: 0,
    tracksWritten: 0,
    embeddingsInserted: 0,
    embeddingsUpdated: 0,
    thumbnailsWritten: 0,
    thumbnailsRefused: 0,
    thumbnailsDropped: 0,
    flushes: 0,
    flushErrors: 0,
    lastFlushMs: 0,
  };
  private errorLoggedAt = 0;

  constructor(private readonly opts: HistoryWriterOptions) {
    this.o = {
      flushMs: 1000,
      flushRows: 5_000,
      pointIntervalMs: 500,
      maxPendingPoints: 20_000,
      maxEmbeddingsPerTrack: 4,
      repMinDistance: 0.05,
      repRefreshMs: 0,
      idleMs: 30_000,
      thumbnailUpgrade: 2,
      ...Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)),
    } as HistoryWriter['o'];
    this.now = opts.now ?? Date.now;
    this.interval = this.o.pointIntervalMs;
    this.timer = setInterval(() => {
      if (this.hasWork()) void this.flush();
    }, this.o.flushMs);
    this.timer.unref();
  }

  /** Called with the embedding rows of every committed flush (the search index follows the table). */
  onEmbeddings(listener: (rows: StoredEmbedding[]) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The tuning in force (defaults filled in). */
  get options(): Readonly<{ maxEmbeddingsPerTrack: number; repMinDistance: number; pointIntervalMs: number }> {
    return { maxEmbeddingsPerTrack: this.o.maxEmbeddingsPerTrack, repMinDistance: this.o.repMinDistance, pointIntervalMs: this.o.pointIntervalMs };
  }

  stats(): HistoryWriterStats {
    return { ...this.counters, pendingPoints: this.pendingPoints, pointIntervalMs: this.interval, tracksInMemory: this.tracks.size };
  }

  // ---- sink (live path: memory only) ---------------------------------------------------------------

  observations(b: HistoryObservations): void {
    if (this.closed) return;
    if (b.logKey) this.applied.push(b.logKey);
    const info = this.jobInfo(b.jobKey);
    const session = b.session ?? '';
    const now = this.now();
    this.counters.batches++;
    const lastSeen = new Map<number, number>();
    const camKey = `${b.jobUid}\u0000${b.camera}`;
    let recent = this.recentFrames.get(camKey);
    for (const f of b.frames) {
      if (!Number.isFinite(f.timestampMs)) continue;
      const boxes = [];
      for (const t of f.tracks) {
        if (t.state !== 'confirmed' || !Number.isInteger(t.localId)) continue; // seen in this frame
        this.counters.observations++;
        const st = this.track(b.jobUid, b.jobKey, b.camera, session, t.localId, f.timestampMs, now);
        st.lastObservedAt = now;
        lastSeen.set(t.localId, f.timestampMs);
        if (f.timestampMs < st.startMs || f.timestampMs > st.endMs) {
          st.startMs = Math.min(st.startMs, f.timestampMs);
          st.endMs = Math.max(st.endMs, f.timestampMs);
          st.dirty = true;
        }
        if (t.globalId && t.globalId !== st.globalId) {
          st.globalId = t.globalId;
          st.dirty = true;
        }
        if (f.width !== st.frameWidth || f.height !== st.frameHeight) {
          st.frameWidth = f.width;
          st.frameHeight = f.height;
          st.dirty = true;
        }
        const p: Point = [f.timestampMs, r1(t.x), r1(t.y), r1(t.w), r1(t.h), r3(t.score)];
        if (st.lastKeptMs === undefined || f.timestampMs - st.lastKeptMs >= this.interval) {
          if (st.tail) this.counters.pointsCoalesced++;
          st.points.push(p);
          st.tail = undefined;
          st.lastKeptMs = f.timestampMs;
          this.pendingPoints++;
        } else {
          if (st.tail) this.counters.pointsCoalesced++;
          st.tail = p;
        }
        boxes.push({ localId: t.localId, session, x: t.x, y: t.y, w: t.w, h: t.h });
      }
      if (previewAllows(info, 'crops')) {
        if (!recent) this.recentFrames.set(camKey, (recent = new Map()));
        recent.set(f.frameIndex, { width: f.width, height: f.height, boxes });
        if (recent.size > RECENT_FRAMES) recent.delete(recent.keys().next().value!);
      }
    }
    const batchEnd = b.frames.length ? b.frames[b.frames.length - 1].timestampMs : 0;
    for (const e of b.embeddings ?? []) {
      const v = e.vector && e.vector.length >= 8 ? unit(e.vector) : undefined;
      if (!v) continue;
      const tMs = lastSeen.get(e.id) ?? batchEnd;
      const st = this.track(b.jobUid, b.jobKey, b.camera, session, e.id, tMs, now);
      st.pendingVector = { tMs, vector: v };
      st.vectorWaits = false; // a newer one: due again, maybe
    }
    for (const ev of b.events ?? []) {
      if (ev.type !== 'merged') continue;
      this.merges.push({ uid: b.jobUid, from: ev.from, into: ev.into });
      for (const st of this.tracks.values()) if (st.jobUid === b.jobUid && st.globalId === ev.from) st.globalId = ev.into;
    }
    if (this.pendingPoints > this.o.maxPendingPoints) this.coalesce();
    if (this.pendingPoints >= this.o.flushRows && !this.flushing) void this.flush();
  }

  /** A logged batch that leaves no history (duplicate, refused by the identity service, job gone): applied with the next flush. */
  settle(key: LogKey): void {
    if (this.closed) return;
    this.applied.push(key);
  }

  preview(p: HistoryPreview): void {
    if (this.closed) return;
    const info = this.jobInfo(p.jobKey);
    if (!previewAllows(info, 'crops')) return; // privacy: no pixels kept
    const camKey = `${p.jobUid}\u0000${p.camera}`;
    const list = this.previews.get(camKey) ?? [];
    list.push({ ...p, receivedAt: this.now() });
    // Bounded: the two newest previews per camera wait for their frame's observations.
    if (list.length > 2) list.shift();
    this.previews.set(camKey, list);
  }

  thumbnail(t: HistoryThumbnail): void {
    if (this.closed) return;
    const info = this.jobInfo(t.jobKey);
    if (!previewAllows(info, 'crops')) {
      this.counters.thumbnailsRefused++; // privacy: no pixels kept, whatever the agent thought
      return;
    }
    const key = trackKey(t.jobUid, t.camera, t.session ?? '', t.localId);
    const waiting = this.agentThumbs.get(key);
    if (waiting && waiting.width * waiting.height >= t.width * t.height) {
      this.counters.thumbnailsDropped++;
      return;
    }
    if (waiting) this.counters.thumbnailsDropped++;
    this.agentThumbs.delete(key);
    this.agentThumbs.set(key, { ...t, receivedAt: this.now() });
    if (this.agentThumbs.size > MAX_PENDING_THUMBNAILS) {
      this.agentThumbs.delete(this.agentThumbs.keys().next().value!);
      this.counters.thumbnailsDropped++;
    }
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
    if (this.pendingPoints > 0 || this.applied.length > 0 || this.merges.length > 0 || this.previews.size > 0 || this.agentThumbs.size > 0) return true;
    const idleBefore = this.now() - this.o.idleMs;
    for (const st of this.tracks.values()) if (st.dirty || (st.pendingVector && !st.vectorWaits) || (st.tail && st.lastObservedAt <= idleBefore) || st.lastObservedAt <= idleBefore) return true;
    return false;
  }

  private jobInfo(jobKey: string): JobInfo {
    const job = this.opts.jobs.get(jobKey);
    if (!job) {
      // Deleted while its batches were queued: keep what was known, else the CRD defaults.
      return this.jobInfos.get(jobKey) ?? { model: reidModelKey(undefined), ...withDefaults('retention'), privacy: withDefaults('privacy') };
    }
    const info: JobInfo = {
      model: reidModelKey(job.spec.models?.reid),
      ...withDefaults('retention', job.spec.retention),
      privacy: withDefaults('privacy', job.spec.privacy),
    };
    this.jobInfos.set(jobKey, info);
    return info;
  }

  private track(jobUid: string, jobKey: string, camera: string, session: string, localId: number, tMs: number, now: number): TrackState {
    const key = trackKey(jobUid, camera, session, localId);
    let st = this.tracks.get(key);
    if (!st) {
      st = { jobUid, jobKey, camera, session, localId, globalId: null, startMs: tMs, endMs: tMs, frameWidth: 0, frameHeight: 0, dirty: true, points: [], lastObservedAt: now };
      this.tracks.set(key, st);
    }
    return st;
  }

  /** Backpressure: halve every waiting trajectory (keeping each one's first and last point) and slow down. */
  private coalesce(): void {
    let removed = 0;
    for (const st of this.tracks.values()) {
      const n = st.points.length;
      if (n <= 2) continue;
      const kept = st.points.filter((_, i) => i === 0 || i === n - 1 || i % 2 === 0);
      removed += n - kept.length;
      st.points = kept;
    }
    this.pendingPoints -= removed;
    this.counters.pointsCoalesced += removed;
    const next = Math.min(this.interval * 2, this.o.pointIntervalMs * MAX_INTERVAL_FACTOR);
    if (next !== this.interval) this.opts.log.warn(`history: the database is behind (${this.pendingPoints} points waiting); trajectories now keep one point per ${next} ms`);
    this.interval = next;
  }

  private async flushOnce(final: boolean): Promise<void> {
    const t0 = performance.now();
    const now = this.now();
    const idleBefore = now - this.o.idleMs;
    // Take what is pending now; observations arriving during the transaction wait for the next flush.
    const work: WorkItem[] = [];
    for (const st of this.tracks.values()) {
      const idle = final || st.lastObservedAt <= idleBefore;
      const points = st.points;
      if (idle && st.tail) points.push(st.tail);
      // A vector that would rewrite a representative written less than repRefreshMs ago waits (newest wins).
      let vector = st.pendingVector;
      if (vector && !idle && !this.vectorDue(st, vector)) {
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
    const taken = work.reduce((n, w) => n + w.points.length, 0);
    this.pendingPoints = Math.max(0, this.pendingPoints - taken);
    const merges = this.merges;
    this.merges = [];
    const applied = this.applied;
    this.applied = [];
    const thumbs = largestPerTrack([...this.cutThumbnails(now), ...this.takeAgentThumbnails(now)]);
    let stored: StoredEmbedding[] = [];
    try {
      stored = await this.opts.sql.transaction(async (tx) => {
        const rows = await this.write(tx, work, merges, thumbs, now);
        await IngestLog.markApplied(tx, applied);
        return rows;
      });
    } catch (err) {
      // Keep everything for the next attempt (ahead of what arrived meanwhile).
      for (const w of work) {
        w.st.points = w.points.concat(w.st.points);
        w.st.pendingVector ??= w.vector;
        if (w.row) w.st.dirty = true;
      }
      this.pendingPoints += taken;
      this.merges = merges.concat(this.merges);
      this.applied = applied.concat(this.applied);
      this.counters.flushErrors++;
      if (this.now() - this.errorLoggedAt > 10_000) {
        this.errorLoggedAt = this.now();
        this.opts.log.error(`history: writing ${work.length} tracks failed (kept for retry):`, err);
      }
      if (this.pendingPoints > this.o.maxPendingPoints) this.coalesce();
      return;
    }
    this.counters.flushes++;
    this.counters.pointsWritten += taken;
    this.counters.lastFlushMs = performance.now() - t0;
    if (this.pendingPoints < this.o.maxPendingPoints / 4) this.interval = this.o.pointIntervalMs;
    // Tracks quiet for idleMs with nothing left to write leave memory.
    for (const [key, st] of this.tracks) {
      if (st.lastObservedAt <= idleBefore && !st.points.length && !st.tail && !st.pendingVector && !st.dirty) this.tracks.delete(key);
    }
    if (stored.length) for (const l of this.listeners) l(stored);
  }

  /** Thumbnails from waiting previews whose frame's boxes are known (decoding happens here, not on ingest). */
  private cutThumbnails(now: number): ThumbWrite[] {
    const out: ThumbWrite[] = [];
    for (const [camKey, list] of this.previews) {
      const recent = this.recentFrames.get(camKey);
      const keep: PendingPreview[] = [];
      for (const p of list) {
        const frame = recent?.get(p.frameIndex);
        if (!frame) {
          if (now - p.receivedAt < PREVIEW_MAX_WAIT_MS) keep.push(p);
          continue;
        }
        const info = this.jobInfo(p.jobKey);
        const sx = p.width / frame.width;
        const sy = p.height / frame.height;
        const wanted = frame.boxes
          .map((b) => ({ b, st: this.tracks.get(trackKey(p.jobUid, p.camera, b.session, b.localId)), area: b.w * sx * b.h * sy }))
          .filter((c) => c.st && c.b.h * sy >= THUMB_MIN_H && (!c.st.thumbnail || c.area >= c.st.thumbnail.area * this.o.thumbnailUpgrade));
        if (!wanted.length) continue;
        let img;
        try {
          img = decodeJpeg(p.jpeg, p);
        } catch (err) {
          this.opts.log.debug(`history: preview of ${p.jobKey}/${p.camera} not decodable: ${(err as Error).message}`);
          continue;
        }
        for (const { b, st, area } of wanted) {
          // A little context around the box, as a person crop is usually shown.
          const pad = 0.08;
          const crop = cropFrame(img, { x: (b.x - b.w * pad) * sx, y: (b.y - b.h * pad) * sy, w: b.w * (1 + 2 * pad) * sx, h: b.h * (1 + 2 * pad) * sy });
          const enc = encodeJpeg(crop, THUMB_W, THUMB_H, 80);
          out.push({ st: st!, tMs: p.timestampMs, ...enc, area, keepDays: info.thumbnailsDays });
        }
      }
      if (keep.length) this.previews.set(camKey, keep);
      else this.previews.delete(camKey);
    }
    return out;
  }

  /** Agents' thumbnails whose track is known, if larger than the track's (decoded here, not on ingest). */
  private takeAgentThumbnails(now: number): ThumbWrite[] {
    const out: ThumbWrite[] = [];
    for (const [key, t] of this.agentThumbs) {
      const st = this.tracks.get(key);
      if (!st) {
        // Its observations may still be queued in the live hub; a track never observed is not stored.
        if (now - t.receivedAt >= PREVIEW_MAX_WAIT_MS) {
          this.agentThumbs.delete(key);
          this.counters.thumbnailsDropped++;
        }
        continue;
      }
      this.agentThumbs.delete(key);
      const area = t.width * t.height;
      if (st.thumbnail && area < st.thumbnail.area * this.o.thumbnailUpgrade) {
        this.counters.thumbnailsDropped++;
        continue;
      }
      try {
        decodeJpeg(t.jpeg, t); // refuses a header that disagrees with the stated size before decoding
      } catch (err) {
        this.counters.thumbnailsDropped++;
        this.opts.log.debug(`history: thumbnail of ${t.jobKey}/${t.camera} track ${t.localId} not kept: ${(err as Error).message}`);
        continue;
      }
      out.push({ st, tMs: t.timestampMs, width: t.width, height: t.height, jpeg: t.jpeg, area, keepDays: this.jobInfo(t.jobKey).thumbnailsDays });
    }
    return out;
  }

  /** Where a new embedding goes: a new representative, or the nearest one it replaces (none: other dimension). */
  private repTarget(reps: readonly Rep[], v: Float32Array): Rep | 'new' | undefined {
    let nearest: Rep | undefined;
    let best = Infinity;
    for (const r of reps) {
      if (r.vector.length !== v.length) continue;
      const d = cosineDistance(r.vector, v);
      if (d < best) [best, nearest] = [d, r];
    }
    return reps.length < this.o.maxEmbeddingsPerTrack && best >= this.o.repMinDistance ? 'new' : nearest;
  }

  /** Whether a pending vector is written now: a new representative, or repRefreshMs of track time after the one it replaces. */
  private vectorDue(st: TrackState, p: NonNullable<TrackState['pendingVector']>): boolean {
    if (!st.reps) return true; // not loaded yet (write() loads them)
    const target = this.repTarget(st.reps, p.vector);
    return typeof target !== 'object' || p.tMs - target.tMs >= this.o.repRefreshMs;
  }

  private async write(
    tx: SqlClient,
    work: WorkItem[],
    merges: Array<{ uid: string; from: string; into: string }>,
    thumbs: ThumbWrite[],
    now: number,
  ): Promise<StoredEmbedding[]> {
    const seenAt = new Date(now).toISOString();
    // 1. Track rows: insert or extend, in one statement. Every track with work gets its id and seen_at.
    const rows = work.filter((w) => w.row || w.points.length || w.vector || w.st.id === undefined);
    const byKey = new Map(work.map((w) => [trackKey(w.st.jobUid, w.st.camera, w.st.session, w.st.localId), w]));
    const preExisting: TrackState[] = [];
    if (rows.length) {
      const payload = rows.map(({ st }) => ({
        u: st.jobUid,
        k: st.jobKey,
        c: st.camera,
        s: st.session,
        l: st.localId,
        g: st.globalId,
        a: st.startMs,
        b: st.endMs,
        fw: st.frameWidth,
        fh: st.frameHeight,
        d: this.jobInfo(st.jobKey).tracksDays,
      }));
      const ids = await tx.query<{ id: string; job_uid: string; camera: string; session: string; local_id: number; inserted: boolean }>(
        `INSERT INTO tracks (job_uid, job_key, camera, session, local_id, global_id, start_ms, end_ms, frame_width, frame_height, seen_at, keep_days)
         SELECT (r->>'u')::uuid, r->>'k', r->>'c', r->>'s', (r->>'l')::int, r->>'g', (r->>'a')::float8::bigint, (r->>'b')::float8::bigint,
                (r->>'fw')::int, (r->>'fh')::int, $2::timestamptz, (r->>'d')::int
         FROM jsonb_array_elements($1::jsonb) r
         ON CONFLICT (job_uid, camera, session, local_id) DO UPDATE SET
           global_id = COALESCE(EXCLUDED.global_id, tracks.global_id),
           start_ms = LEAST(tracks.start_ms, EXCLUDED.start_ms),
           end_ms = GREATEST(tracks.end_ms, EXCLUDED.end_ms),
           frame_width = GREATEST(EXCLUDED.frame_width, tracks.frame_width),
           frame_height = GREATEST(EXCLUDED.frame_height, tracks.frame_height),
           seen_at = EXCLUDED.seen_at,
           keep_days = EXCLUDED.keep_days
         RETURNING id, job_uid::text AS job_uid, camera, session, local_id, (xmax = 0) AS inserted`,
        [JSON.stringify(payload), seenAt],
      );
      for (const r of ids) {
        const w = byKey.get(trackKey(r.job_uid, r.camera, r.session, r.local_id));
        if (!w) continue;
        if (w.st.id === undefined && !r.inserted) preExisting.push(w.st);
        w.st.id = Number(r.id);
      }
      this.counters.tracksWritten += ids.length;
    }
    // A track this process has not seen before but the table has (server restart): load its representatives.
    const needReps = work.filter((w) => w.vector && !w.st.reps).map((w) => w.st);
    if (needReps.length) {
      const known = new Map(needReps.map((st) => [st.id!, st]));
      for (const st of needReps) st.reps = [];
      const existing = preExisting.filter((st) => known.has(st.id!));
      if (existing.length) {
        const reps = await tx.query<{ id: string; track_id: string; t_ms: string; vector: number[] }>(
          `SELECT id, track_id, t_ms::text AS t_ms, vector FROM embeddings WHERE track_id IN (SELECT jsonb_array_elements_text($1::jsonb)::bigint) AND model = ANY($2::text[]) ORDER BY id`,
          [JSON.stringify(existing.map((s) => s.id)), [...new Set(existing.map((s) => this.jobInfo(s.jobKey).model))]],
        );
        for (const r of reps) known.get(Number(r.track_id))?.reps!.push({ id: Number(r.id), vector: Float32Array.from(r.vector), tMs: Number(r.t_ms) });
      }
    }
    // 2. Trajectory chunks.
    const segs = work.filter((w) => w.points.length && w.st.id !== undefined);
    if (segs.length) {
      const payload = segs.map((w) => {
        const pts = [...w.points].sort((a, b) => a[0] - b[0]);
        return { t: w.st.id, a: pts[0][0], b: pts[pts.length - 1][0], p: pts };
      });
      await tx.query(
        `INSERT INTO track_segments (track_id, start_ms, end_ms, points)
         SELECT (r->>'t')::bigint, (r->>'a')::float8::bigint, (r->>'b')::float8::bigint, r->'p' FROM jsonb_array_elements($1::jsonb) r`,
        [JSON.stringify(payload)],
      );
    }
    // 3. Representative embeddings.
    const inserts: Array<{ st: TrackState; model: string; tMs: number; vector: Float32Array }> = [];
    const updates: Array<{ st: TrackState; rep: Rep; model: string; tMs: number; vector: Float32Array }> = [];
    for (const w of work) {
      if (!w.vector || w.st.id === undefined) continue;
      const model = this.jobInfo(w.st.jobKey).model;
      const target = this.repTarget((w.st.reps ??= []), w.vector.vector);
      if (target === 'new') inserts.push({ st: w.st, model, ...w.vector });
      else if (target) updates.push({ st: w.st, rep: target, model, ...w.vector });
    }
    const stored: StoredEmbedding[] = [];
    const meta = (st: TrackState) => ({ jobUid: st.jobUid, camera: st.camera, startMs: st.startMs, endMs: st.endMs, trackId: st.id! });
    if (inserts.length) {
      const ids = await tx.query<{ id: string; track_id: string }>(
        `INSERT INTO embeddings (track_id, t_ms, model, dim, vector)
         SELECT (r->>'t')::bigint, (r->>'ms')::float8::bigint, r->>'m', (r->>'d')::int, (r->>'v')::real[]
         FROM jsonb_array_elements($1::jsonb) r RETURNING id, track_id`,
        [JSON.stringify(inserts.map((e) => ({ t: e.st.id, ms: e.tMs, m: e.model, d: e.vector.length, v: realArrayLiteral(e.vector) })))],
      );
      // One new embedding per track per flush, so the track id identifies the row.
      const byTrack = new Map(inserts.map((e) => [e.st.id!, e]));
      for (const r of ids) {
        const e = byTrack.get(Number(r.track_id));
        if (!e) continue;
        e.st.reps!.push({ id: Number(r.id), vector: e.vector, tMs: e.tMs });
        stored.push({ id: Number(r.id), model: e.model, vector: e.vector, ...meta(e.st) });
      }
      this.counters.embeddingsInserted += ids.length;
    }
    if (updates.length) {
      await tx.query(
        `UPDATE embeddings e SET t_ms = (r->>'ms')::float8::bigint, vector = (r->>'v')::real[]
         FROM jsonb_array_elements($1::jsonb) r WHERE e.id = (r->>'id')::bigint`,
        [JSON.stringify(updates.map((u) => ({ id: u.rep.id, ms: u.tMs, v: realArrayLiteral(u.vector) })))],
      );
      for (const u of updates) {
        u.rep.vector = u.vector;
        u.rep.tMs = u.tMs;
        stored.push({ id: u.rep.id, model: u.model, vector: u.vector, ...meta(u.st) });
      }
      this.counters.embeddingsUpdated += updates.length;
    }
    // 4. Identity merges relabel every stored track of the merged identity (not only those in memory).
    for (const m of merges) await tx.query(`UPDATE tracks SET global_id = $3 WHERE job_uid = $1::uuid AND global_id = $2`, [m.uid, m.from, m.into]);
    // 5. Thumbnails: one per track, replaced by a clearly larger crop.
    const thumbRows = thumbs.filter((t) => t.st.id !== undefined);
    for (const t of thumbRows) {
      if (t.st.thumbnail?.id !== undefined) {
        await tx.query(`UPDATE thumbnails SET t_ms = $2, width = $3, height = $4, jpeg = $5, created_at = $6::timestamptz, keep_days = $7 WHERE id = $1`, [
          t.st.thumbnail.id,
          Math.round(t.tMs),
          t.width,
          t.height,
          Buffer.from(t.jpeg),
          seenAt,
          t.keepDays,
        ]);
        t.st.thumbnail.area = t.area;
      } else {
        const [r] = await tx.query<{ id: string }>(
          `INSERT INTO thumbnails (track_id, t_ms, width, height, jpeg, created_at, keep_days) VALUES ($1, $2, $3, $4, $5, $6::timestamptz, $7) RETURNING id`,
          [t.st.id, Math.round(t.tMs), t.width, t.height, Buffer.from(t.jpeg), seenAt, t.keepDays],
        );
        t.st.thumbnail = { id: Number(r.id), area: t.area };
      }
    }
    this.counters.thumbnailsWritten += thumbRows.length;
    return stored;
  }
}

/**
 * A vector as a PostgreSQL array literal ("{0.1,...}"), carried as one JSON string and cast with ::real[]:
 * the same numbers as a JSON array (the same decimal strings, rounded to real alike), but parsed by one
 * array input call instead of a set-returning function and a cast per element (the larger part of a flush).
 */
function realArrayLiteral(v: ArrayLike<number>): string {
  return `{${Array.prototype.join.call(v, ',')}}`;
}
