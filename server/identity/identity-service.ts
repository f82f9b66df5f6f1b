// Cross-camera identity service: joins each camera's local tracks into global identities ("P12").
//
// Model. A tracklet is one local track (camera, localId). It is cut into segments where its appearance
// changes to another person (the edge tracker switched targets); a segment is the unit that belongs to
// an identity. An identity has a gallery: an EMA of all its embeddings plus the mean embedding of up to
// `gallerySamples` recent segments (different cameras and poses). Distance = 1 - best cosine similarity.
//
// Rules.
//  - A segment gets an identity with its first embedding: the identity of a co-located partner (below),
//    else the nearest identity within matchThreshold that is compatible, else a new one. Compatible =
//    within maxGapSeconds of the segment, and no segment of the identity is present at the same time in
//    the same camera or in a camera that does not overlap.
//  - Cameras sharing pixels (same source, intersecting roi): tracks whose boxes coincide there for a few
//    frames are one person (co-location outranks appearance); a person in both at once must coincide,
//    so simultaneous presence without co-location is a conflict there.
//  - Presence that starts overlapping later (or was hidden by clock skew) is re-checked on every
//    observation: the segment that fits the identity worse leaves it (split).
//  - Every later embedding re-decides the segment (first embeddings are the noisiest): alone in its
//    identity and fitting another compatible one (matchThreshold * (1 - mergeMargin)) -> the two merge,
//    the older id kept; no longer fitting the rest of its identity, or fitting another clearly better
//    (switchMargin) -> it moves there or alone (split).
//  - driftPatience consecutive embeddings beyond matchThreshold from a segment's own mean cut the
//    tracklet (the edge tracker switched people): the new segment is matched afresh (split if it lands
//    elsewhere).
//
// Cost. Candidates come from an index of identities bucketed by last-seen time, so an assignment scores
// only identities seen within the hand-off window: O(A x (S + 1) x D) for A active identities, S samples
// per gallery, D the embedding size; conflict checks add O(A x recent segments per identity). An
// observation costs O(1) plus O(recent segments of its identity). Nothing scans all history.
import { isVisible, type LiveTrack, type ObservationBatch, type TrackObservation } from '@mei/contracts';
import { ActiveIndex } from './active-index.ts';
import { Colocation } from './colocation.ts';
import { CameraTopology } from './topology.ts';
import {
  CROSS_CAMERA_DEFAULTS,
  IdentityInputError,
  type IdentityEvent,
  type IdentityServiceOptions,
  type IdentityStats,
} from './types.ts';
import { addInPlace, blendInPlace, dot, normalizeInPlace } from '@mei/vision/vector';

interface Tracklet {
  camera: string;
  cam: number;
  localId: number;
  /** Time-ordered; the last one is current. */
  segments: Segment[];
  lastMs: number;
  removed: boolean;
}

interface Segment {
  uid: number;
  tracklet: Tracklet;
  identity: Identity | null;
  /** When it joined its identity (the later joiner leaves on an unresolvable conflict). */
  joinSeq: number;
  firstMs: number;
  lastMs: number;
  /** Sum of its embeddings and the normalised mean (shared with identity galleries by reference). */
  sum: Float32Array | null;
  mean: Float32Array | null;
  count: number;
  /** Embeddings far from the mean, held back until they are noise (merged) or a switch (cut). */
  pending: Array<{ v: Float32Array; t: number }>;
  /** Segments of other cameras seen at the same place at the same time (shared pixels): the same person. */
  partners: Segment[];
}

interface Identity {
  n: number;
  id: string;
  segments: Segment[];
  /** Segments that can still overlap new ones in time (pruned behind the window). */
  recent: Segment[];
  /** Segments last seen before this were pruned from `recent`. */
  recentFromMs: number;
  ema: Float32Array | null;
  samples: Map<Segment, Float32Array>;
  firstMs: number;
  lastMs: number;
  bucket: number;
  mergedInto: Identity | null;
}

interface Resolved {
  opts: Required<Omit<IdentityServiceOptions, 'cameras' | 'crossCamera' | 'views' | 'colocation'>>;
  enabled: boolean;
  threshold: number;
  maxGapMs: number;
}

function resolveOptions(o: IdentityServiceOptions): Resolved {
  const cc = o.crossCamera ?? {};
  const num = (field: string, v: unknown, def: number, min: number, max: number): number => {
    if (v === undefined) return def;
    if (typeof v !== 'number' || Number.isNaN(v) || v < min || v > max) {
      throw new IdentityInputError(field, `must be a number in [${min}, ${max}], got ${String(v)}`);
    }
    return v;
  };
  if (cc.enabled !== undefined && typeof cc.enabled !== 'boolean') throw new IdentityInputError('crossCamera.enabled', 'must be a boolean');
  return {
    enabled: cc.enabled ?? CROSS_CAMERA_DEFAULTS.enabled,
    threshold: num('crossCamera.matchThreshold', cc.matchThreshold, CROSS_CAMERA_DEFAULTS.matchThreshold, 0, 2),
    maxGapMs: 1000 * num('crossCamera.maxGapSeconds', cc.maxGapSeconds, CROSS_CAMERA_DEFAULTS.maxGapSeconds, 0, 86400),
    opts: {
      skewToleranceMs: num('skewToleranceMs', o.skewToleranceMs, 500, 0, 60_000),
      gallerySamples: Math.round(num('gallerySamples', o.gallerySamples, 16, 1, 1024)),
      emaAlpha: num('emaAlpha', o.emaAlpha, 0.1, 0, 1),
      minEvidence: Math.round(num('minEvidence', o.minEvidence, 3, 1, 1000)),
      driftPatience: Math.round(num('driftPatience', o.driftPatience, 3, 1, 1000)),
      mergeMargin: num('mergeMargin', o.mergeMargin, 0.1, 0, 1),
      splitMargin: num('splitMargin', o.splitMargin, 0.1, 0, 10),
      switchMargin: num('switchMargin', o.switchMargin, 0.05, 0, 2),
      maxLagMs: num('maxLagMs', o.maxLagMs, 30_000, 0, 86_400_000),
      retainMs: num('retainMs', o.retainMs, 15 * 60_000, 0, Infinity),
      idPrefix: o.idPrefix ?? 'P',
    },
  };
}


export class IdentityService {
  private readonly topo: CameraTopology;
  private readonly cfg: Resolved;
  private readonly tracklets = new Map<string, Tracklet>();
  private readonly identities = new Map<string, Identity>();
  private readonly index: ActiveIndex<Identity>;
  private readonly coloc: Colocation<Segment>;
  /** [i * cameras + j] = 1 when cameras i and j share pixels (co-location decides simultaneous presence). */
  private readonly sharesPixels: Uint8Array;
  private dim = 0;
  private nextN = 1;
  private nextSeg = 1;
  private joinCounter = 0;
  private newestMs = -Infinity;
  private lastPruneMs = -Infinity;
  private events: IdentityEvent[] = [];
  /** Identity a segment is leaving, until assign() reports where it went (split vs assigned). */
  private readonly splitFrom = new Map<Segment, Identity | null>();
  private readonly counters = { assignments: 0, merges: 0, splits: 0, colocatedPairs: 0, candidatesScored: 0, maxCandidatesPerQuery: 0 };

  constructor(options: IdentityServiceOptions) {
    this.topo = new CameraTopology(options.cameras);
    this.cfg = resolveOptions(options);
    this.index = new ActiveIndex<Identity>(Math.max(1000, this.cfg.maxGapMs / 16));
    const views = options.views ?? {};
    for (const [name, v] of Object.entries(views)) this.topo.indexOf(name, `views.${name}`);
    this.coloc = new Colocation<Segment>(views, (s) => s.uid, options.colocation);
    const n = this.topo.names.length;
    this.sharesPixels = new Uint8Array(n * n);
    this.topo.names.forEach((a, i) => this.topo.names.forEach((b, j) => (this.sharesPixels[i * n + j] = this.coloc.shares(a, b) ? 1 : 0)));
  }

  // ---- input ---------------------------------------------------------------------------------------

  /** Applies one batch of a camera (frames first, then embeddings) and returns the identity changes. */
  ingest(batch: ObservationBatch): IdentityEvent[] {
    const cam = this.topo.indexOf(batch?.camera, 'camera');
    if (!Array.isArray(batch.frames) || batch.frames.length === 0) throw new IdentityInputError('frames', 'must be a non-empty array');
    const lastSeen = new Map<number, number>();
    batch.frames.forEach((f, i) => {
      if (!Number.isFinite(f?.timestampMs)) throw new IdentityInputError(`frames[${i}].timestampMs`, 'must be a finite number');
      if (!Array.isArray(f.tracks)) throw new IdentityInputError(`frames[${i}].tracks`, 'must be an array');
    });
    const outer = this.events;
    this.events = [];
    try {
      batch.frames.forEach((f) => {
        const present: Array<{ item: Segment; box: TrackObservation }> = [];
        for (const t of f.tracks) {
          const seg = this.observeIdx(cam, t.id, f.timestampMs, t.state);
          lastSeen.set(t.id, f.timestampMs);
          if (seg && isVisible(t.state)) present.push({ item: seg, box: t });
        }
        if (this.coloc.enabled && this.cfg.enabled) {
          for (const [a, b] of this.coloc.frame(batch.camera, f.timestampMs, present)) this.link(a, b, f.timestampMs);
        }
      });
      const batchEnd = batch.frames[batch.frames.length - 1].timestampMs;
      (batch.embeddings ?? []).forEach((e, i) => {
        this.embedIdx(cam, e.id, lastSeen.get(e.id) ?? batchEnd, e.vector, `embeddings[${i}].vector`);
      });
      return this.events;
    } finally {
      this.events = outer;
    }
  }

  /** One observation of a local track. Only tentative/confirmed count as presence. */
  observe(camera: string, localId: number, timestampMs: number, state: TrackObservation['state'] = 'confirmed'): IdentityEvent[] {
    const cam = this.topo.indexOf(camera);
    if (!Number.isFinite(timestampMs)) throw new IdentityInputError('timestampMs', 'must be a finite number');
    return this.collect(() => void this.observeIdx(cam, localId, timestampMs, state));
  }

  /** One embedding (L2-normalised, renormalised here anyway) of a local track seen at timestampMs. */
  addEmbedding(camera: string, localId: number, timestampMs: number, vector: ArrayLike<number>): IdentityEvent[] {
    const cam = this.topo.indexOf(camera);
    if (!Number.isFinite(timestampMs)) throw new IdentityInputError('timestampMs', 'must be a finite number');
    return this.collect(() => this.embedIdx(cam, localId, timestampMs, vector, 'vector'));
  }

  /** Forgets the camera's local ids (its agent restarted and numbers tracks from scratch); history stays. */
  resetCamera(camera: string): void {
    this.topo.indexOf(camera);
    for (const [key, t] of this.tracklets) {
      if (t.camera === camera) {
        t.removed = true;
        this.tracklets.delete(key);
      }
    }
  }

  // ---- output --------------------------------------------------------------------------------------

  /** Current global identity of a local track (undefined before it has embedding evidence). */
  identityOf(camera: string, localId: number): string | undefined {
    const t = this.tracklets.get(key(camera, localId));
    const seg = t?.segments[t.segments.length - 1];
    return seg?.identity ? this.root(seg.identity).id : undefined;
  }

  /** Identity of a local track at a past time, after every later merge and split (offline evaluation). */
  identityAt(camera: string, localId: number, timestampMs: number): string | undefined {
    const t = this.tracklets.get(key(camera, localId));
    if (!t) return undefined;
    let seg = t.segments[0];
    for (const s of t.segments) if (s.firstMs <= timestampMs) seg = s;
    // A segment cut before its first embedding has no identity: the tracklet's nearest one stands in.
    const withId = seg.identity ? seg : t.segments.find((s) => s.identity);
    return withId?.identity ? this.root(withId.identity).id : undefined;
  }

  /** The frame's tracks joined to their global identities ('' while a track has none yet). */
  liveTracks(camera: string, tracks: readonly TrackObservation[]): LiveTrack[] {
    return tracks.map((t) => ({ localId: t.id, globalId: this.identityOf(camera, t.id) ?? '', x: t.x, y: t.y, w: t.w, h: t.h, score: t.score, state: t.state }));
  }

  hasCamera(camera: string): boolean {
    return this.topo.has(camera);
  }

  identityCount(): number {
    return this.identities.size;
  }

  stats(): IdentityStats {
    return { identities: this.identities.size, activeIdentities: this.index.size, tracklets: this.tracklets.size, dim: this.dim, ...this.counters };
  }

  // ---- internals: observations ---------------------------------------------------------------------

  private collect(fn: () => void): IdentityEvent[] {
    const outer = this.events;
    this.events = [];
    try {
      fn();
      return this.events;
    } finally {
      this.events = outer;
    }
  }

  private tracklet(cam: number, localId: number, t: number): Tracklet {
    const camera = this.topo.names[cam];
    const k = key(camera, localId);
    let tr = this.tracklets.get(k);
    if (!tr) {
      if (!Number.isInteger(localId) || localId < 0) throw new IdentityInputError('localId', `must be an integer >= 0, got ${localId}`);
      tr = { camera, cam, localId, segments: [], lastMs: t, removed: false };
      tr.segments.push(this.newSegment(tr, t));
      this.tracklets.set(k, tr);
    }
    return tr;
  }

  private newSegment(tr: Tracklet, t: number): Segment {
    return { uid: this.nextSeg++, tracklet: tr, identity: null, joinSeq: 0, firstMs: t, lastMs: t, sum: null, mean: null, count: 0, pending: [], partners: [] };
  }

  /** Returns the tracklet's current segment. */
  private observeIdx(cam: number, localId: number, t: number, state: TrackObservation['state']): Segment | undefined {
    const tr = this.tracklet(cam, localId, t);
    if (state === 'removed') tr.removed = true;
    this.advanceClock(t);
    if (!isVisible(state)) return undefined;
    tr.lastMs = Math.max(tr.lastMs, t);
    const seg = tr.segments[tr.segments.length - 1];
    if (t < seg.firstMs) seg.firstMs = t; // late (resent) batch
    if (!this.cfg.enabled && !seg.identity) this.assign(seg, null, t); // each track is its own identity
    if (t <= seg.lastMs) return seg;
    seg.lastMs = t;
    const id = seg.identity;
    if (!this.cfg.enabled) {
      if (id) this.touchIdentity(id, seg);
      return seg;
    }
    if (!id) return seg;
    this.touchIdentity(id, seg);
    // Presence may now overlap another segment of the same identity (it grew, or skew hid it before).
    for (const other of id.recent) {
      if (other !== seg && this.conflicts(seg, other)) {
        this.resolveConflict(id, seg, other, t);
        break;
      }
    }
    return seg;
  }

  /** Two tracks coincide in pixels two cameras share: one person. Brings their identities together. */
  private link(a: Segment, b: Segment, t: number): void {
    this.counters.colocatedPairs++;
    a.partners.push(b);
    b.partners.push(a);
    const ia = a.identity;
    const ib = b.identity;
    // An unassigned one joins its partner's identity with its first embedding (see embedIdx).
    if (!ia || !ib || ia === ib) return;
    if ((ia.segments.length === 1 || ib.segments.length === 1) && this.identitiesCompatible(ia, ib)) {
      this.merge(ia, ib, t);
      return;
    }
    // Both identities hold other tracks: move the one with less appearance evidence to its partner.
    const [mover, stay] = a.count <= b.count ? [a, b] : [b, a];
    const target = stay.identity!;
    if (!this.compatible(mover, target)) return;
    this.splitFrom.set(mover, mover.identity);
    this.leave(mover);
    this.assign(mover, target, t);
  }

  /** The identity of a co-located partner that seg may join. */
  private partnerIdentity(seg: Segment): Identity | null {
    for (const p of seg.partners) if (p.identity && !p.identity.mergedInto && this.compatible(seg, p.identity)) return p.identity;
    return null;
  }

  private advanceClock(t: number): void {
    if (t <= this.newestMs) return;
    this.newestMs = t;
    if (t - this.lastPruneMs >= this.index.bucketMs) {
      this.lastPruneMs = t;
      this.prune(t);
    }
  }

  // ---- internals: embeddings -----------------------------------------------------------------------

  private embedIdx(cam: number, localId: number, t: number, vector: ArrayLike<number>, field: string): void {
    if (!this.cfg.enabled) {
      // Tracks are their own identities: the embedding only makes sure the track has one.
      const seg = this.tracklet(cam, localId, t).segments.at(-1)!;
      if (!seg.identity) this.assign(seg, null, t);
      return;
    }
    const v = this.toVector(vector, field);
    const tr = this.tracklet(cam, localId, t);
    this.advanceClock(t);
    let seg = tr.segments[tr.segments.length - 1];
    const { threshold } = this.cfg;
    const { minEvidence, driftPatience } = this.cfg.opts;

    if (seg.count >= minEvidence && 1 - dot(v, seg.mean!) > threshold) {
      seg.pending.push({ v, t });
      if (seg.pending.length < driftPatience) return;
      const avg = meanOf(seg.pending.map((p) => p.v));
      if (1 - dot(avg, seg.mean!) <= threshold) {
        this.absorbPending(seg);
        return;
      }
      seg = this.cutTracklet(tr, seg);
    } else if (seg.pending.length) {
      this.absorbPending(seg); // the far embeddings were noise: they belong to the segment after all
    }
    this.addToSegment(seg, v);

    const id = seg.identity;
    if (!id) {
      this.assign(seg, this.partnerIdentity(seg) ?? this.bestMatch(seg, null)?.id ?? null, t);
      return;
    }
    if (id.ema) blendInPlace(id.ema, v, this.cfg.opts.emaAlpha);
    if (seg.count >= minEvidence) this.reassess(seg, t);
  }

  private toVector(vector: ArrayLike<number>, field: string): Float32Array {
    if (!vector || typeof vector.length !== 'number') throw new IdentityInputError(field, 'must be an array of numbers');
    if (this.dim === 0) {
      if (vector.length < 2) throw new IdentityInputError(field, `must have at least 2 entries, got ${vector.length}`);
      this.dim = vector.length;
    } else if (vector.length !== this.dim) {
      throw new IdentityInputError(field, `has ${vector.length} entries but this job's embeddings have ${this.dim}`);
    }
    const v = Float32Array.from(vector);
    if (!normalizeInPlace(v)) throw new IdentityInputError(field, 'must be a non-zero vector of finite numbers');
    return v;
  }

  private addToSegment(seg: Segment, v: Float32Array): void {
    if (!seg.sum) {
      seg.sum = new Float32Array(this.dim);
      seg.mean = new Float32Array(this.dim);
    }
    addInPlace(seg.sum, v);
    seg.mean!.set(seg.sum);
    normalizeInPlace(seg.mean!);
    seg.count++;
  }

  private absorbPending(seg: Segment): void {
    const held = seg.pending;
    seg.pending = [];
    for (const p of held) this.addToSegment(seg, p.v);
  }

  /** The local track switched person: close the current segment and start a new one from the far embeddings. */
  private cutTracklet(tr: Tracklet, seg: Segment): Segment {
    const held = seg.pending;
    seg.pending = [];
    const cutMs = held[0].t;
    const next = this.newSegment(tr, cutMs);
    next.lastMs = Math.max(seg.lastMs, held[held.length - 1].t);
    seg.lastMs = Math.max(seg.firstMs, Math.min(seg.lastMs, cutMs - 1));
    tr.segments.push(next);
    for (const p of held.slice(0, -1)) this.addToSegment(next, p.v);
    // The caller adds the last held embedding and matches the new segment; remember where it came from.
    this.splitFrom.set(next, seg.identity);
    return next;
  }

  // ---- internals: matching -------------------------------------------------------------------------

  /** 1 - best cosine similarity of v to the identity's gallery (EMA and samples). */
  private distance(v: Float32Array, id: Identity): number {
    let best = id.ema ? dot(v, id.ema) : -Infinity;
    for (const sample of id.samples.values()) best = Math.max(best, dot(v, sample));
    this.counters.candidatesScored++;
    return 1 - best;
  }

  /** Distance of a segment to the rest of its identity (its own sample and the EMA it fed excluded). */
  private distanceToRest(seg: Segment, id: Identity, alsoSkip: Segment | null = null): number | undefined {
    let best = -Infinity;
    for (const [s, sample] of id.samples) if (s !== seg && s !== alsoSkip) best = Math.max(best, dot(seg.mean!, sample));
    return best === -Infinity ? undefined : 1 - best;
  }

  /** Nearest compatible identity within the threshold, excluding `exclude`, with its distance. */
  private bestMatch(seg: Segment, exclude: Identity | null): { id: Identity; d: number } | null {
    let best: Identity | null = null;
    let bestD = this.cfg.threshold;
    let scored = 0;
    for (const id of this.index.since(seg.firstMs - this.cfg.maxGapMs - this.cfg.opts.skewToleranceMs)) {
      if (id === exclude || id === seg.identity || id.mergedInto) continue;
      // Compatibility first: it reads a few segment times, the distance D x gallery multiplications, and
      // the outcome is the same (the nearest compatible one; both checks are pure).
      if (!this.compatible(seg, id)) continue;
      scored++;
      const d = this.distance(seg.mean!, id);
      if (d <= bestD) {
        best = id;
        bestD = d;
      }
    }
    if (scored > this.counters.maxCandidatesPerQuery) this.counters.maxCandidatesPerQuery = scored;
    return best ? { id: best, d: bestD } : null;
  }

  /** Whether seg may join id: within the hand-off gap and never in two places (or twice in one camera) at once. */
  private compatible(seg: Segment, id: Identity): boolean {
    const gap = this.cfg.maxGapMs + this.cfg.opts.skewToleranceMs;
    if (seg.firstMs > id.lastMs + gap || id.firstMs > seg.lastMs + gap) return false;
    const pool = seg.firstMs >= id.recentFromMs ? id.recent : id.segments;
    for (const other of pool) if (other !== seg && this.conflicts(seg, other)) return false;
    return true;
  }

  private conflicts(a: Segment, b: Segment): boolean {
    if (a.tracklet === b.tracklet) return false; // a tracklet's segments follow one another
    const ta = a.tracklet;
    const tb = b.tracklet;
    const overlap = Math.min(a.lastMs, b.lastMs) - Math.max(a.firstMs, b.firstMs);
    if (ta.cam === tb.cam) return overlap >= 0; // one camera, one clock: two tracks in the same frame
    // Cameras sharing pixels: one person seen in both at once is seen at the same place (co-located).
    if (this.sharesPixels[ta.cam * this.topo.names.length + tb.cam]) return overlap > this.cfg.opts.skewToleranceMs && !a.partners.includes(b);
    if (this.topo.overlapsIdx(ta.cam, tb.cam)) return false;
    return overlap > this.cfg.opts.skewToleranceMs;
  }

  // ---- internals: identity changes ----------------------------------------------------------------

  private assign(seg: Segment, target: Identity | null, t: number): void {
    const from = this.splitFrom.get(seg) ?? seg.identity;
    this.splitFrom.delete(seg);
    const id = target ?? this.createIdentity();
    this.join(seg, id);
    this.counters.assignments++;
    const tr = seg.tracklet;
    if (from && from !== id && !from.mergedInto) {
      this.counters.splits++;
      this.events.push({ type: 'split', camera: tr.camera, localId: tr.localId, from: from.id, to: id.id, timestampMs: t });
    } else if (!from) {
      this.events.push({ type: 'assigned', camera: tr.camera, localId: tr.localId, identity: id.id, timestampMs: t });
    }
  }

  private createIdentity(): Identity {
    const n = this.nextN++;
    const id: Identity = {
      n,
      id: `${this.cfg.opts.idPrefix}${n}`,
      segments: [],
      recent: [],
      recentFromMs: -Infinity,
      ema: null,
      samples: new Map(),
      firstMs: Infinity,
      lastMs: -Infinity,
      bucket: NaN,
      mergedInto: null,
    };
    this.identities.set(id.id, id);
    return id;
  }

  private join(seg: Segment, id: Identity): void {
    seg.identity = id;
    seg.joinSeq = ++this.joinCounter;
    id.segments.push(seg);
    id.recent.push(seg);
    if (seg.mean) {
      if (!id.ema) id.ema = Float32Array.from(seg.mean);
      else blendInPlace(id.ema, seg.mean, this.cfg.opts.emaAlpha);
      this.addSample(id, seg);
    }
    id.firstMs = Math.min(id.firstMs, seg.firstMs);
    this.touchIdentity(id, seg);
  }

  private addSample(id: Identity, seg: Segment): void {
    id.samples.set(seg, seg.mean!);
    if (id.samples.size <= this.cfg.opts.gallerySamples) return;
    // Bounded gallery: drop the sample of the segment seen longest ago (its appearance lives on in the EMA).
    let oldest: Segment | null = null;
    for (const s of id.samples.keys()) if (s !== seg && (!oldest || s.lastMs < oldest.lastMs)) oldest = s;
    if (oldest) id.samples.delete(oldest);
  }

  private touchIdentity(id: Identity, seg: Segment): void {
    if (seg.lastMs > id.lastMs) {
      id.lastMs = seg.lastMs;
      this.index.touch(id);
    } else if (Number.isNaN(id.bucket)) {
      this.index.touch(id);
    }
  }

  private leave(seg: Segment): void {
    const id = seg.identity!;
    id.segments.splice(id.segments.indexOf(seg), 1);
    const r = id.recent.indexOf(seg);
    if (r >= 0) id.recent.splice(r, 1);
    if (id.samples.delete(seg)) {
      // The EMA was fed by the leaving segment: rebuild it from what remains.
      id.ema = id.samples.size ? meanOf([...id.samples.values()]) : id.ema;
    }
    seg.identity = null;
    if (id.segments.length === 0) this.dropIdentity(id);
  }

  private dropIdentity(id: Identity): void {
    this.index.remove(id);
    this.identities.delete(id.id);
  }

  /**
   * Re-decides a segment's identity on its grown evidence (the first embeddings of a track are the
   * noisiest); returns true when it moved.
   *  - alone in its identity: when it fits another compatible identity within the merge limit, the two
   *    are one person: merge (the older id is kept);
   *  - no longer fits the rest of its identity: moves to the identity it fits best, or alone (split);
   *  - fits another identity clearly (switchMargin) better than the rest of its own: moves there (split).
   */
  private reassess(seg: Segment, t: number): boolean {
    const id = seg.identity!;
    // Seen at the same place as a track of its identity in a camera sharing pixels: that outranks appearance.
    if (seg.partners.some((p) => p.identity === id)) return false;
    const thr = this.cfg.threshold;
    const { splitMargin, mergeMargin, switchMargin } = this.cfg.opts;
    const rest = this.distanceToRest(seg, id);
    const alt = this.bestMatch(seg, id);
    if (rest === undefined) {
      if (!alt || alt.d > thr * (1 - mergeMargin) || !this.identitiesCompatible(id, alt.id)) return false;
      this.merge(id, alt.id, t);
      return true;
    }
    if (rest <= thr * (1 + splitMargin) && !(alt && alt.d < rest - switchMargin)) return false;
    this.splitFrom.set(seg, id);
    this.leave(seg);
    this.assign(seg, alt?.id ?? null, t);
    return true;
  }

  /** Two segments of one identity present at once where that is impossible: the worse fit leaves. */
  private resolveConflict(id: Identity, a: Segment, b: Segment, t: number): void {
    const da = a.mean ? this.distanceToRest(a, id, b) : undefined;
    const db = b.mean ? this.distanceToRest(b, id, a) : undefined;
    let loser: Segment;
    if (da !== undefined && db !== undefined && da !== db) loser = da > db ? a : b;
    else loser = a.joinSeq > b.joinSeq ? a : b;
    this.splitFrom.set(loser, id);
    this.leave(loser);
    this.assign(loser, this.bestMatch(loser, id)?.id ?? null, t);
  }

  /** a and b are one person: the newer identity's segments join the older one. */
  private merge(a: Identity, b: Identity, t: number): void {
    const [keep, gone] = a.n < b.n ? [a, b] : [b, a];
    for (const s of gone.segments) {
      s.identity = keep;
      keep.segments.push(s);
      keep.recent.push(s);
      if (s.mean) this.addSample(keep, s);
    }
    if (gone.ema && keep.ema) {
      const wk = keep.segments.length - gone.segments.length;
      addInPlace(keep.ema, gone.ema, gone.segments.length / Math.max(1, wk));
      normalizeInPlace(keep.ema);
    } else if (gone.ema) keep.ema = gone.ema;
    keep.firstMs = Math.min(keep.firstMs, gone.firstMs);
    keep.recentFromMs = Math.max(keep.recentFromMs, gone.recentFromMs);
    if (gone.lastMs > keep.lastMs) keep.lastMs = gone.lastMs;
    this.index.touch(keep);
    gone.segments = [];
    gone.recent = [];
    gone.samples.clear();
    gone.mergedInto = keep;
    this.dropIdentity(gone);
    this.counters.merges++;
    this.events.push({ type: 'merged', from: gone.id, into: keep.id, timestampMs: t });
  }

  /** Every pair of segments of a and b is compatible, and the two are within the hand-off gap. */
  private identitiesCompatible(a: Identity, b: Identity): boolean {
    const gap = this.cfg.maxGapMs + this.cfg.opts.skewToleranceMs;
    if (a.firstMs > b.lastMs + gap || b.firstMs > a.lastMs + gap) return false;
    // Sweep both segment lists in start order; only segments open at the same time can conflict.
    const all = [...a.segments.map((s) => ({ s, side: 0 })), ...b.segments.map((s) => ({ s, side: 1 }))].sort((x, y) => x.s.firstMs - y.s.firstMs);
    const open: Array<{ s: Segment; side: number }> = [];
    const tol = this.cfg.opts.skewToleranceMs;
    for (const cur of all) {
      for (let i = open.length - 1; i >= 0; i--) if (open[i].s.lastMs + tol < cur.s.firstMs) open.splice(i, 1);
      for (const o of open) if (o.side !== cur.side && this.conflicts(o.s, cur.s)) return false;
      open.push(cur);
    }
    return true;
  }

  private root(id: Identity): Identity {
    let r = id;
    while (r.mergedInto) r = r.mergedInto;
    // Path compression: later lookups of merged-away ids are O(1).
    let c = id;
    while (c.mergedInto && c.mergedInto !== r) {
      const next: Identity = c.mergedInto;
      c.mergedInto = r;
      c = next;
    }
    return r;
  }

  // ---- internals: forgetting -----------------------------------------------------------------------

  private prune(now: number): void {
    const { maxLagMs, skewToleranceMs, retainMs } = this.cfg.opts;
    const horizon = now - this.cfg.maxGapMs - maxLagMs - skewToleranceMs;
    // Identities last seen before the hand-off window can no longer take new segments.
    this.coloc.prune(horizon);
    const retired = this.index.evictBefore(horizon);
    for (const id of retired) this.pruneRecent(id, horizon);
    for (const id of this.index.since(-Infinity)) if (id.recentFromMs < horizon - this.index.bucketMs * 4) this.pruneRecent(id, horizon);
    if (retainMs === Infinity) return;
    const forget = now - retainMs;
    for (const [k, tr] of this.tracklets) {
      if (tr.lastMs < forget && tr.segments.every((s) => !s.identity || Number.isNaN(s.identity.bucket))) this.tracklets.delete(k);
    }
    for (const [k, id] of this.identities) if (Number.isNaN(id.bucket) && id.lastMs < forget) this.identities.delete(k);
  }

  private pruneRecent(id: Identity, horizon: number): void {
    id.recent = id.recent.filter((s) => s.lastMs >= horizon);
    id.recentFromMs = horizon;
  }
}

function key(camera: string, localId: number): string {
  return `${camera}\u0000${localId}`;
}

function meanOf(vs: Float32Array[]): Float32Array {
  const m = new Float32Array(vs[0].length);
  for (const v of vs) addInPlace(m, v);
  normalizeInPlace(m);
  return m;
}
