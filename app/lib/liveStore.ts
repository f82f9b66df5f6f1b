// The live view's data outside React: the newest frame and preview of each camera, short trails per
// identity, the identity list, the followed identity, and draw statistics. Socket handlers write here and
// canvases read here on requestAnimationFrame, so a frame never goes through React state; React only
// hears about the identity list and follow alerts (a few times a second at most).
import { isVisible, mergeNewer, type LiveFrame, type LiveIdentities, type LiveIdentity, type LiveTrack } from '@mei/contracts';

/** Positions kept per trail (box bottom centres, in camera pixels). */
export const TRAIL_LENGTH = 20;
/** A trail not extended for this long is dropped. */
const TRAIL_TTL_MS = 3_000;
/** The followed identity "appears" in a camera after at least this long out of it. */
const REAPPEAR_MS = 1_000;
const LATENCY_SAMPLES = 4096;

export interface CameraView {
  frame?: LiveFrame;
  /** Bumped on every change that needs a redraw (frame, preview, follow). */
  version: number;
  /** Version last drawn (set by the canvas). */
  drawnVersion: number;
  preview?: { bitmap: ImageBitmap; frameIndex: number; emittedAt: number };
  /** Trails keyed by identity (or "#<localId>" before the track has one). */
  trails: Map<string, { points: Array<{ x: number; y: number }>; at: number }>;
  /** When the followed identity was last in this camera. */
  followSeenAt?: number;
}

export interface FollowAlert {
  id: string;
  camera: string;
  from?: string;
  at: number;
}

export interface LiveDrawStats {
  received: number;
  drawn: number;
  /** Frames replaced by a newer one before the next animation frame drew them. */
  skippedInBrowser: number;
  /** Latency samples (ms) from the agent's emittedAt to the draw, oldest first. */
  latencies(): number[];
  /** Latency samples (ms) from the agent's emittedAt to the frame's arrival in the page, oldest first. */
  receiveLatencies(): number[];
  perCamera: Record<string, { received: number; drawn: number; lastFrameIndex: number }>;
}

type Listener = () => void;

export const trackKey = (t: Pick<LiveTrack, 'globalId' | 'localId'>) => t.globalId || `#${t.localId}`;

export class LiveStore {
  readonly cameras = new Map<string, CameraView>();
  identities: LiveIdentity[] = [];
  totalIdentities = 0;
  following: string | null = null;
  /** Camera the followed identity was last seen in. */
  private followLastCamera: string | undefined;
  private readonly identityListeners = new Set<Listener>();
  private readonly alertListeners = new Set<(a: FollowAlert) => void>();
  private readonly followListeners = new Set<Listener>();
  private readonly drawRing = new LatencyRing(LATENCY_SAMPLES);
  private readonly receiveRing = new LatencyRing(LATENCY_SAMPLES);
  readonly counters = { received: 0, drawn: 0, skippedInBrowser: 0 };
  private readonly perCamera: LiveDrawStats['perCamera'] = {};

  constructor(private readonly now: () => number = () => Date.now()) {}

  view(camera: string): CameraView {
    let v = this.cameras.get(camera);
    if (!v) this.cameras.set(camera, (v = { version: 0, drawnVersion: 0, trails: new Map() }));
    return v;
  }

  frame(f: LiveFrame): void {
    const v = this.view(f.camera);
    const now = this.now();
    this.receiveRing.add(now - f.emittedAt);
    this.counters.received++;
    const pc = (this.perCamera[f.camera] ??= { received: 0, drawn: 0, lastFrameIndex: -1 });
    pc.received++;
    if (v.frame && v.drawnVersion !== v.version) this.counters.skippedInBrowser++;
    v.frame = f;
    v.version++;
    for (const t of f.tracks) {
      if (!isVisible(t.state)) continue;
      const k = trackKey(t);
      let trail = v.trails.get(k);
      if (!trail) v.trails.set(k, (trail = { points: [], at: now }));
      trail.points.push({ x: t.x + t.w / 2, y: t.y + t.h });
      if (trail.points.length > TRAIL_LENGTH) trail.points.shift();
      trail.at = now;
    }
    for (const [k, trail] of v.trails) if (now - trail.at > TRAIL_TTL_MS) v.trails.delete(k);
    if (this.following) this.checkFollowed(f, v, now);
  }

  preview(camera: string, bitmap: ImageBitmap, frameIndex: number, emittedAt: number): void {
    const v = this.view(camera);
    v.preview?.bitmap.close();
    v.preview = { bitmap, frameIndex, emittedAt };
    v.version++;
  }

  setIdentities(msg: LiveIdentities): void {
    for (const { from, into } of msg.merged) this.merge(from, into);
    this.identities = msg.identities;
    this.totalIdentities = msg.total;
    this.identityListeners.forEach((l) => l());
  }

  follow(id: string | null): void {
    this.following = id;
    this.followLastCamera = undefined;
    for (const v of this.cameras.values()) {
      v.followSeenAt = undefined;
      v.version++;
    }
    if (id) {
      // Where it is now, so the first alert is about a real move.
      const here = this.identities.find((i) => i.id === id)?.cameras ?? [];
      this.followLastCamera = here[0];
      for (const c of here) this.view(c).followSeenAt = this.now();
    }
    this.followListeners.forEach((l) => l());
  }

  /** The canvas drew the camera's current version; `emittedAt` of the frame it showed. */
  markDrawn(camera: string, v: CameraView, drewNewFrame: boolean, nowEpochMs: number): void {
    v.drawnVersion = v.version;
    if (!drewNewFrame || !v.frame) return;
    this.counters.drawn++;
    const pc = (this.perCamera[camera] ??= { received: 0, drawn: 0, lastFrameIndex: -1 });
    pc.drawn++;
    pc.lastFrameIndex = v.frame.frameIndex;
    this.drawRing.add(nowEpochMs - v.frame.emittedAt);
  }

  stats(): LiveDrawStats {
    return {
      ...this.counters,
      perCamera: structuredClone(this.perCamera),
      latencies: () => this.drawRing.values(),
      receiveLatencies: () => this.receiveRing.values(),
    };
  }

  onIdentities(l: Listener): () => void {
    this.identityListeners.add(l);
    return () => this.identityListeners.delete(l);
  }

  onFollowChange(l: Listener): () => void {
    this.followListeners.add(l);
    return () => this.followListeners.delete(l);
  }

  onAlert(l: (a: FollowAlert) => void): () => void {
    this.alertListeners.add(l);
    return () => this.alertListeners.delete(l);
  }

  /** Releases preview bitmaps. */
  dispose(): void {
    for (const v of this.cameras.values()) v.preview?.bitmap.close();
    this.cameras.clear();
  }

  private checkFollowed(f: LiveFrame, v: CameraView, now: number): void {
    const present = f.tracks.some((t) => t.globalId === this.following && isVisible(t.state));
    if (!present) return;
    const away = v.followSeenAt === undefined || now - v.followSeenAt > REAPPEAR_MS;
    v.followSeenAt = now;
    const from = this.followLastCamera;
    this.followLastCamera = f.camera;
    if (away && from !== undefined && from !== f.camera) {
      const alert: FollowAlert = { id: this.following!, camera: f.camera, from, at: now };
      this.alertListeners.forEach((l) => l(alert));
    }
  }

  /** `from` became `into`: trails and the follow target move with it. */
  private merge(from: string, into: string): void {
    for (const v of this.cameras.values()) {
      if (mergeNewer(v.trails, from, into, (t) => t.at)) v.version++;
    }
    if (this.following === from) {
      this.following = into;
      this.followListeners.forEach((l) => l());
    }
  }
}

class LatencyRing {
  private readonly ring: Float64Array;
  private count = 0;
  constructor(size: number) {
    this.ring = new Float64Array(size);
  }
  add(ms: number): void {
    this.ring[this.count++ % this.ring.length] = ms;
  }
  values(): number[] {
    const n = Math.min(this.count, this.ring.length);
    return Array.from({ length: n }, (_, i) => this.ring[(this.count - n + i) % this.ring.length]);
  }
}

/** A stable, well-spread colour per identity (golden-angle hues). */
export function identityColor(id: string): string {
  const n = /\d+/.exec(id);
  let h: number;
  if (n) h = (Number(n[0]) * 137.508) % 360;
  else {
    let x = 0;
    for (let i = 0; i < id.length; i++) x = (x * 31 + id.charCodeAt(i)) >>> 0;
    h = x % 360;
  }
  return `hsl(${h.toFixed(0)} 80% 55%)`;
}
