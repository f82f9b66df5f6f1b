// The tracks the history writer holds in memory between flushes, and their trajectories: a track is kept at
// <= 1 point per `interval` ms (its latest position waits as a "tail" that is written when the track goes
// quiet), and when the database falls behind (more than maxPendingPoints waiting) waiting trajectories are
// thinned and the interval doubles (up to 16x), so trajectories get coarser instead of anything being lost
// or memory growing without bound. No database here.
import type { PendingVector, Representative } from './representatives.ts';

/** A stored trajectory point: [tMs, x, y, w, h, score] in source pixels (TrajectoryPoint). */
export type Point = [number, number, number, number, number, number];

export interface TrackState {
  jobUid: string;
  jobKey: string;
  camera: string;
  session: string;
  localId: number;
  /** Row id in `tracks`, once written. */
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
  pendingVector?: PendingVector;
  /** The pending vector waits: it would rewrite a representative written less than refreshMs (track time) before it. */
  vectorWaits?: boolean;
  /** Loaded (or created) with the first flush that writes an embedding of the track. */
  reps?: Representative[];
  lastObservedAt: number;
  thumbnail?: { id?: number; area: number };
}

export const trackKey = (uid: string, camera: string, session: string, localId: number) => `${uid}\u0000${camera}\u0000${session}\u0000${localId}`;

const r1 = (v: number) => Math.round(v * 10) / 10;
const r3 = (v: number) => Math.round(v * 1000) / 1000;
const MAX_INTERVAL_FACTOR = 16;

export interface TrackBufferOptions {
  /** Trajectory resolution: at most one stored point per this many ms of a track. */
  pointIntervalMs: number;
  /** Trajectory points waiting beyond this are thinned (and the interval doubled). */
  maxPendingPoints: number;
  /** Told when the interval grows (the database is behind). */
  onSlower: (pendingPoints: number, intervalMs: number) => void;
}

export class TrackBuffer {
  readonly tracks = new Map<string, TrackState>();
  pendingPoints = 0;
  /** Current trajectory interval (grows under backpressure). */
  interval: number;
  /** Points merged away by the downsampling (interval) or thinned under backpressure. */
  coalesced = 0;

  constructor(private readonly options: TrackBufferOptions) {
    this.interval = options.pointIntervalMs;
  }

  /** The configured interval (without backpressure). */
  get baseIntervalMs(): number {
    return this.options.pointIntervalMs;
  }

  track(jobUid: string, jobKey: string, camera: string, session: string, localId: number, tMs: number, now: number): TrackState {
    const key = trackKey(jobUid, camera, session, localId);
    let st = this.tracks.get(key);
    if (!st) {
      st = { jobUid, jobKey, camera, session, localId, globalId: null, startMs: tMs, endMs: tMs, frameWidth: 0, frameHeight: 0, dirty: true, points: [], lastObservedAt: now };
      this.tracks.set(key, st);
    }
    return st;
  }

  /** One confirmed observation of a track: extends its row and its trajectory (one point per interval, else the tail). */
  observe(st: TrackState, f: { timestampMs: number; width: number; height: number }, t: { globalId?: string; x: number; y: number; w: number; h: number; score: number }): void {
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
    if (st.tail) this.coalesced++;
    if (st.lastKeptMs === undefined || f.timestampMs - st.lastKeptMs >= this.interval) {
      st.points.push(p);
      st.tail = undefined;
      st.lastKeptMs = f.timestampMs;
      this.pendingPoints++;
    } else {
      st.tail = p;
    }
  }

  /** An identity merge: tracks in memory follow it at once (stored ones are relabelled by the flush). */
  relabel(jobUid: string, from: string, into: string): void {
    for (const st of this.tracks.values()) if (st.jobUid === jobUid && st.globalId === from) st.globalId = into;
  }

  /** Backpressure, if due: halve every waiting trajectory (keeping each one's first and last point) and slow down. */
  thinIfBehind(): void {
    if (this.pendingPoints <= this.options.maxPendingPoints) return;
    let removed = 0;
    for (const st of this.tracks.values()) {
      const n = st.points.length;
      if (n <= 2) continue;
      const kept = st.points.filter((_, i) => i === 0 || i === n - 1 || i % 2 === 0);
      removed += n - kept.length;
      st.points = kept;
    }
    this.pendingPoints -= removed;
    this.coalesced += removed;
    const next = Math.min(this.interval * 2, this.options.pointIntervalMs * MAX_INTERVAL_FACTOR);
    if (next !== this.interval) this.options.onSlower(this.pendingPoints, next);
    this.interval = next;
  }

  /** After a flush: back to full resolution once the backlog is small again. */
  caughtUp(): void {
    if (this.pendingPoints < this.options.maxPendingPoints / 4) this.interval = this.options.pointIntervalMs;
  }

  /** Tracks quiet since `idleBefore` with nothing left to write leave memory. */
  forgetIdle(idleBefore: number): void {
    for (const [key, st] of this.tracks) {
      if (st.lastObservedAt <= idleBefore && !st.points.length && !st.tail && !st.pendingVector && !st.dirty) this.tracks.delete(key);
    }
  }
}
