// Per-camera multi-person tracker: ByteTrack's two-stage association (confident detections first, then
// the weak ones to keep tracks alive through partial occlusion) with BoT-SORT-style appearance fusion.
//
// Stage 1: confirmed + lost tracks vs high-score detections, cost = (1-w) * IoU distance + w * cosine distance,
//          feasible only when the boxes overlap (IoU gate) or, for a lost track, when the detection is within
//          reach of its predicted box and looks like the track (re-identification after occlusion). A pair whose
//          appearances differ by more than appearanceGate is never matched.
// Stage 2: still unmatched confirmed and lost tracks vs low-score detections, IoU only.
// Stage 3: tentative tracks vs the remaining high-score detections.
// Leftover detections >= newTrackThreshold start tentative tracks; minHits consecutive matches confirm them;
// a track unseen for maxLostSeconds is removed.
// Exits: a track lost while its box touched the frame edge has most likely walked out of view. It may still be
// continued by box overlap for exitLostSeconds, but never re-found by appearance alone: otherwise the next
// person entering at that edge inherits its id (on the two-camera PETS split, 4 of 11 id switches).
import { iou } from '@mei/vision/geometry';
import type { Box, Detection, TrackOutput } from '@mei/vision/types';
import { assertTrackerOptions, DEFAULT_TRACKER_OPTIONS, type TrackerOptions } from './options.ts';
import { matchWithLimit } from './assignment.ts';
import { Track } from './track.ts';

/** Infeasible pair. */
const NO = Infinity;

/**
 * Whether a detection is close enough to a lost track's predicted box to be that person: the radius grows with
 * the frames missed (people may stop or turn while hidden), in units of the box height.
 */
function withinReach(t: Track, pred: Box, d: Box, speed: number): boolean {
  const dist = Math.hypot(pred.x + pred.w / 2 - (d.x + d.w / 2), pred.y + pred.h / 2 - (d.y + d.h / 2));
  const h = Math.max(pred.h, d.h);
  const sizeRatio = d.h / Math.max(pred.h, 1);
  return dist <= h * (0.5 + speed * t.missed) && sizeRatio > 0.5 && sizeRatio < 2;
}

/** Frame size in pixels, for telling a person who left the view from one who is hidden. */
export interface FrameSize {
  width: number;
  height: number;
}

/** Whether a box touches (or crosses) the frame border, within `margin` × the frame's size. */
function atFrameEdge(b: Box, f: FrameSize, margin: number): boolean {
  const mx = margin * f.width;
  const my = margin * f.height;
  return b.x <= mx || b.y <= my || b.x + b.w >= f.width - mx || b.y + b.h >= f.height - my;
}

export class ByteTracker {
  readonly opts: TrackerOptions;
  private tracks: Track[] = [];
  private nextId = 1;

  constructor(opts: Partial<TrackerOptions> = {}) {
    this.opts = { ...DEFAULT_TRACKER_OPTIONS, ...opts };
    assertTrackerOptions(this.opts);
  }

  /** Live tracks (tentative, confirmed and lost). */
  get activeTracks(): readonly Track[] {
    return this.tracks;
  }

  /**
   * Advances one frame. `embeddings[i]` belongs to `dets[i]` (omit for motion-only tracking).
   * Returns every live track: state 'confirmed' / 'tentative' = matched in this frame, 'lost' = predicted only.
   */
  update(
    dets: Detection[],
    embeddings: ReadonlyArray<Float32Array | undefined> | undefined,
    timestampMs: number,
    frame?: FrameSize,
  ): TrackOutput[] {
    const o = this.opts;
    if (embeddings && embeddings.length !== dets.length) {
      throw new Error(`tracker got ${dets.length} detections but ${embeddings.length} embeddings`);
    }
    const emb = (i: number) => embeddings?.[i];
    const high: number[] = [];
    const low: number[] = [];
    dets.forEach((d, i) => {
      if (d.score >= o.highThreshold) high.push(i);
      else if (d.score >= o.lowThreshold) low.push(i);
    });
    // A crop overlapping another person mixes two appearances: do not learn from it.
    const crowded = dets.map((d, i) => dets.some((e, j) => j !== i && iou(d, e) > o.crowdIou));

    for (const t of this.tracks) t.predict();
    const confirmed = this.tracks.filter((t) => t.state !== 'tentative');
    const tentative = this.tracks.filter((t) => t.state === 'tentative');
    const matched = new Set<Track>();

    const take = (t: Track, di: number) => {
      const d = dets[di];
      t.match(d, d.score >= o.highThreshold && !crowded[di] ? emb(di) : undefined, timestampMs);
      matched.add(t);
    };

    // Stage 1.
    const m1 = this.associate(confirmed, high, dets, emb, o.matchThreshold, true);
    for (const [ti, k] of m1.matches) take(confirmed[ti], high[k]);
    const leftHigh = m1.unmatchedCols.map((k) => high[k]);

    // Stage 2 (ByteTrack offers only tracks seen in the previous frame; lost ones may take a weak box too).
    const rest = m1.unmatchedRows.map((ti) => confirmed[ti]).filter((t) => o.lostInLowStage || t.state === 'confirmed');
    const m2 = this.associate(rest, low, dets, emb, o.lowMatchThreshold, false);
    for (const [ti, k] of m2.matches) take(rest[ti], low[k]);

    // Stage 3.
    const m3 = this.associate(tentative, leftHigh, dets, emb, o.tentativeMatchThreshold, true);
    for (const [ti, k] of m3.matches) take(tentative[ti], leftHigh[k]);
    const unmatchedHigh = m3.unmatchedCols.map((k) => leftHigh[k]);

    // Lifecycle.
    const survivors: Track[] = [];
    for (const t of this.tracks) {
      if (matched.has(t)) {
        if (t.state === 'lost' || (t.state === 'tentative' && t.hits >= o.minHits)) t.state = 'confirmed';
        survivors.push(t);
        continue;
      }
      if (t.missed === 0) t.exited = frame !== undefined && atFrameEdge(t.box, frame, o.edgeMargin);
      t.markMissed();
      if (t.state === 'tentative') {
        t.state = 'removed';
        continue;
      }
      t.state = 'lost';
      const keepSeconds = t.exited ? Math.min(o.exitLostSeconds, o.maxLostSeconds) : o.maxLostSeconds;
      if (timestampMs - t.lastSeenMs > keepSeconds * 1000) t.state = 'removed';
      else survivors.push(t);
    }
    for (const di of unmatchedHigh) {
      const d = dets[di];
      if (d.score < o.newTrackThreshold) continue;
      const t = new Track(this.nextId++, d, emb(di), timestampMs, o);
      if (o.minHits <= 1) t.state = 'confirmed';
      survivors.push(t);
    }
    this.tracks = survivors;
    return this.tracks.map((t) => t.toOutput());
  }

  /**
   * A frame without detections (detection cadence): every track moves to its Kalman prediction and keeps
   * its state and counters, so the next update() matches against boxes predicted over the skipped frames.
   */
  coast(): TrackOutput[] {
    for (const t of this.tracks) t.predict();
    return this.tracks.map((t) => t.toOutput());
  }

  /**
   * How far the fastest confirmed track moves per frame on its Kalman velocity, as a fraction of its box width:
   * the uncertainty a detection cadence accumulates per coasted frame (0 without confirmed tracks).
   */
  motionPerFrame(): number {
    let most = 0;
    for (const t of this.tracks) if (t.state === 'confirmed') most = Math.max(most, t.motionPerFrame());
    return most;
  }

  /**
   * Which detections need an embedding this frame (the rest are matched on motion alone): those that could
   * start a track or re-find a lost one, those near more than one track or near a track that overlaps another
   * detection (crossings), and those continuing a tentative track or one whose appearance is older than
   * refreshSeconds. ReID is the most expensive stage; this skips it for people
   * walking alone.
   */
  appearanceNeeded(dets: readonly Detection[], timestampMs: number): boolean[] {
    const o = this.opts;
    const live = this.tracks;
    const boxes = live.map((t) => t.nextBox());
    const near = (a: Box, b: Box) => iou(a, b) > o.minIou;
    // update()'s only uses of an embedding of a box near no track: a new track's first appearance, or a lost
    // track re-found by appearance within reach (associate). A box that can do neither (a weak false
    // positive: 40 % of these crops on PETS09-S2L1) is matched on motion alone.
    const reacquirable = (d: Box) => live.some((t, k) => t.missed > 0 && !t.exited && withinReach(t, boxes[k], d, o.reacquireSpeed));
    return dets.map((d, i) => {
      if (d.score < o.highThreshold) return false;
      const close = live.flatMap((t, k) => (near(boxes[k], d) ? [k] : []));
      if (close.length === 0) return d.score >= o.newTrackThreshold || reacquirable(d);
      if (close.length > 1) return true;
      const t = live[close[0]];
      const stale = t.appearanceAtMs === undefined || timestampMs - t.appearanceAtMs >= o.refreshSeconds * 1000;
      if (t.state !== 'confirmed' || stale) return true;
      return dets.some((e, j) => j !== i && e.score >= o.lowThreshold && near(boxes[close[0]], e));
    });
  }

  /** Builds the fused cost matrix for tracks x detections[cols] and solves it under `limit`. */
  private associate(
    tracks: Track[],
    cols: number[],
    dets: Detection[],
    emb: (i: number) => Float32Array | undefined,
    limit: number,
    useAppearance: boolean,
  ) {
    const o = this.opts;
    const w = useAppearance ? o.appearanceWeight : 0;
    const cost = new Float64Array(tracks.length * cols.length);
    tracks.forEach((t, r) => {
      const pred = t.box;
      cols.forEach((di, c) => {
        const d = dets[di];
        const iouD = 1 - iou(pred, d);
        const e = w > 0 ? emb(di) : undefined;
        const appD = e ? t.appearanceDistance(e) : undefined;
        let v: number;
        if (appD === undefined) {
          v = iouD <= 1 - o.minIou ? iouD : NO;
        } else if (appD > o.appearanceGate) {
          // Clearly someone else: never match, whatever the overlap.
          v = NO;
        } else if (iouD <= 1 - o.minIou) {
          v = (1 - w) * iouD + w * appD;
        } else if (t.missed > 0 && !t.exited && appD <= o.reacquireGate && withinReach(t, pred, d, o.reacquireSpeed)) {
          // A lost track re-found by appearance near where it was expected (people may turn while hidden).
          v = (1 - w) * Math.min(iouD, 1) + w * appD;
        } else {
          v = NO;
        }
        cost[r * cols.length + c] = v;
      });
    });
    return matchWithLimit(cost, tracks.length, cols.length, limit);
  }
}
