// The person crops of a job's live view: the newest crop per global identity (what browsers show beside
// each identity), bounded, oldest evicted first. An agent sends a track's first crop as soon as the track
// is confirmed, usually before its first embedding has given it an identity; such a crop waits here under
// its camera and local id (bounded too) until a frame shows the track with an identity, and is published
// then. Merges move the newer crop of the two ids to the id that stays, so nothing is kept (or sent to a
// late subscriber) under a merged-away id.
import { mergeNewer, type LiveThumbnail, type TrackThumbnail } from '@mei/contracts';

export interface ThumbnailBoardOptions {
  /** Identities whose newest crop is kept (oldest crop evicted first). */
  maxIdentities?: number;
  /** Crops kept while their track has no identity yet (oldest evicted first). */
  maxPending?: number;
}

type Crop = Pick<TrackThumbnail, 'camera' | 'session' | 'localId' | 'width' | 'height' | 'jpeg'>;

interface Pending {
  crop: Crop;
  receivedAt: number;
}

const trackKey = (camera: string, localId: number) => `${camera}\0${localId}`;

export class ThumbnailBoard {
  /** Insertion order is age: a new crop for an identity moves it to the end. */
  private readonly byIdentity = new Map<string, LiveThumbnail>();
  private readonly pending = new Map<string, Pending>();
  private readonly maxIdentities: number;
  private readonly maxPending: number;

  constructor(
    private readonly jobKey: string,
    o: ThumbnailBoardOptions = {},
  ) {
    this.maxIdentities = o.maxIdentities ?? 200;
    this.maxPending = o.maxPending ?? 200;
  }

  get size(): number {
    return this.byIdentity.size;
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  /**
   * A crop that arrived at `receivedAt` for a track whose identity is `identity` (undefined: none yet).
   * Returns the thumbnail to publish, or undefined when the crop waits for its identity.
   */
  add(received: Crop, identity: string | undefined, receivedAt: number): LiveThumbnail | undefined {
    // Own copy of the bytes: a received Buffer may be a view into a larger socket chunk it would keep alive.
    const crop = { ...received, jpeg: new Uint8Array(received.jpeg) };
    const k = trackKey(crop.camera, crop.localId);
    if (identity) {
      this.pending.delete(k);
      return this.set(crop, identity, receivedAt);
    }
    this.pending.delete(k);
    this.pending.set(k, { crop, receivedAt });
    if (this.pending.size > this.maxPending) this.pending.delete(this.pending.keys().next().value!);
    return undefined;
  }

  /** A frame shows `camera`'s track `localId` as `identity`: a crop waiting for it is published now. */
  resolve(camera: string, localId: number, identity: string): LiveThumbnail | undefined {
    if (!this.pending.size) return undefined;
    const k = trackKey(camera, localId);
    const p = this.pending.get(k);
    if (!p) return undefined;
    this.pending.delete(k);
    const current = this.byIdentity.get(identity);
    // A crop that waited may be older than one another track of the identity brought meanwhile.
    if (current && current.receivedAt > p.receivedAt) return undefined;
    return this.set(p.crop, identity, p.receivedAt);
  }

  /** The track ended without an identity: its waiting crop will never be shown. */
  dropTrack(camera: string, localId: number): void {
    if (this.pending.size) this.pending.delete(trackKey(camera, localId));
  }

  /** A new camera run numbers tracks afresh: waiting crops of other runs of the camera are dropped. */
  resetCamera(camera: string, session: string | undefined): void {
    for (const [k, p] of this.pending) if (p.crop.camera === camera && p.crop.session !== session) this.pending.delete(k);
  }

  /**
   * `from` became `into`: the newer of their crops stays, under `into`. Returns the thumbnail now under
   * `into` when that changed (to publish), else undefined.
   */
  merge(from: string, into: string): LiveThumbnail | undefined {
    const r = mergeNewer(this.byIdentity, from, into, (t) => t.receivedAt, (t) => ({ ...t, identity: into }));
    return r?.moved ? r.kept : undefined;
  }

  /** Every identity's newest crop, oldest first (what a browser gets when it subscribes). */
  latest(): IterableIterator<LiveThumbnail> {
    return this.byIdentity.values();
  }

  get(identity: string): LiveThumbnail | undefined {
    return this.byIdentity.get(identity);
  }

  private set(crop: Crop, identity: string, receivedAt: number): LiveThumbnail {
    const t: LiveThumbnail = { jobKey: this.jobKey, identity, camera: crop.camera, localId: crop.localId, receivedAt, width: crop.width, height: crop.height, jpeg: crop.jpeg };
    this.byIdentity.delete(identity);
    this.byIdentity.set(identity, t);
    if (this.byIdentity.size > this.maxIdentities) this.byIdentity.delete(this.byIdentity.keys().next().value!);
    return t;
  }
}
