// The newest person crop per identity in the live view (privacy.preview 'thumbnails' or 'live'), as object
// URLs for <img>. Every URL is revoked when its crop is replaced, merged away, evicted or the view closes,
// so a long session does not pile up blobs. Outside React like LiveStore; the identity list reads
// `snapshot` (a new map on every change, a few times a second at most).
import { mergeNewer, type LiveThumbnail } from '@mei/contracts';

export interface IdentityThumb {
  url: string;
  width: number;
  height: number;
  camera: string;
  /** Server time the crop arrived: of two merged identities' crops the newer one stays. */
  receivedAt: number;
}

/** Crops kept (the server keeps 200 per job); beyond it the oldest go. */
const MAX_THUMBS = 256;
/** Change notifications are coalesced: a subscribe brings up to a few hundred crops at once. */
const NOTIFY_MS = 100;

type Listener = () => void;

export class ThumbnailStore {
  /** Insertion order is age. */
  private readonly thumbs = new Map<string, IdentityThumb>();
  private readonly listeners = new Set<Listener>();
  private timer: ReturnType<typeof setTimeout> | undefined;
  snapshot: ReadonlyMap<string, IdentityThumb> = new Map();

  constructor(private readonly max = MAX_THUMBS) {}

  /** The newest crop of `t.identity` (an older one arriving late is ignored). */
  put(t: LiveThumbnail): void {
    const prev = this.thumbs.get(t.identity);
    if (prev && prev.receivedAt > t.receivedAt) return;
    const url = URL.createObjectURL(new Blob([t.jpeg as ArrayBuffer], { type: 'image/jpeg' }));
    this.drop(t.identity);
    this.thumbs.set(t.identity, { url, width: t.width, height: t.height, camera: t.camera, receivedAt: t.receivedAt });
    while (this.thumbs.size > this.max) this.drop(this.thumbs.keys().next().value!);
    this.changed();
  }

  /** `from` became `into` (LiveIdentities.merged): the newer crop of the two stays, under `into`. */
  merge(from: string, into: string): void {
    const r = mergeNewer(this.thumbs, from, into, (t) => t.receivedAt);
    if (!r) return;
    if (r.dropped) URL.revokeObjectURL(r.dropped.url);
    this.changed();
  }

  get(identity: string): IdentityThumb | undefined {
    return this.thumbs.get(identity);
  }

  get size(): number {
    return this.thumbs.size;
  }

  subscribe(l: Listener): () => void {
    this.listeners.add(l);
    return () => void this.listeners.delete(l);
  }

  /** Revokes every URL (the view closed; a remount starts empty and fills again on subscribe). */
  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    for (const t of this.thumbs.values()) URL.revokeObjectURL(t.url);
    this.thumbs.clear();
    this.snapshot = new Map();
    this.listeners.forEach((l) => l());
  }

  private drop(identity: string): void {
    const t = this.thumbs.get(identity);
    if (!t) return;
    URL.revokeObjectURL(t.url);
    this.thumbs.delete(identity);
  }

  private changed(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.snapshot = new Map(this.thumbs);
      this.listeners.forEach((l) => l());
    }, NOTIFY_MS);
  }
}
