// The identity list of a job's live view: which global identities each camera shows now, when each was
// first and last seen, and how many were seen so far (status.identities). Fed with the identities of every
// ingested frame; merges from the identity service relabel what was recorded under the merged-away id.
import type { LiveIdentities, LiveIdentity } from '@mei/contracts';

export interface RosterOptions {
  /** A camera whose latest frame is older than this shows nobody "now" (its agent stopped or stalls). */
  inViewMs?: number;
  /** Identities not seen for this long leave the list (they still count in `total`). */
  recentMs?: number;
  /** Longest list sent to browsers. */
  maxListed?: number;
}

interface Seen {
  firstSeen: number;
  lastSeen: number;
}

export class IdentityRoster {
  /** Every identity seen so far, minus those merged into another. */
  private readonly everSeen = new Set<string>();
  private readonly recent = new Map<string, Seen>();
  /** Per camera: the identities in its latest frame and when that frame arrived. */
  private readonly inView = new Map<string, { at: number; ids: Set<string> }>();
  private merged: Array<{ from: string; into: string }> = [];
  private readonly options: Required<RosterOptions>;
  /** Something a browser would see changed since the last list() (besides ages). */
  dirty = false;

  constructor(o: RosterOptions = {}) {
    this.options = { inViewMs: 3_000, recentMs: 5 * 60_000, maxListed: 200, ...o };
  }

  get total(): number {
    return this.everSeen.size;
  }

  /** The global ids of one frame of `camera` ('' = not assigned yet, ignored), arriving at `now`. */
  frame(camera: string, ids: Iterable<string>, now: number): void {
    const next = new Set<string>();
    for (const id of ids) {
      if (!id) continue;
      next.add(id);
      const s = this.recent.get(id);
      if (s) s.lastSeen = now;
      else this.recent.set(id, { firstSeen: now, lastSeen: now });
      if (!this.everSeen.has(id)) {
        this.everSeen.add(id);
        this.dirty = true;
      }
    }
    const prev = this.inView.get(camera);
    if (!prev || prev.ids.size !== next.size || [...next].some((id) => !prev.ids.has(id))) this.dirty = true;
    this.inView.set(camera, { at: now, ids: next });
  }

  /** `from` is now `into` (the identity service merged them). */
  merge(from: string, into: string): void {
    if (from === into) return;
    this.merged.push({ from, into });
    // Unread merges only matter to browsers watching now; keep the newest when nobody reads them.
    if (this.merged.length > 256) this.merged.splice(0, this.merged.length - 256);
    this.dirty = true;
    if (this.everSeen.delete(from)) this.everSeen.add(into);
    const a = this.recent.get(from);
    if (a) {
      this.recent.delete(from);
      const b = this.recent.get(into);
      this.recent.set(into, b ? { firstSeen: Math.min(a.firstSeen, b.firstSeen), lastSeen: Math.max(a.lastSeen, b.lastSeen) } : a);
    }
    for (const v of this.inView.values()) {
      if (v.ids.delete(from)) v.ids.add(into);
    }
  }

  /** The list for browsers; clears `dirty` and the merges reported since the last call. */
  list(jobKey: string, now: number): LiveIdentities {
    const cameras = new Map<string, string[]>();
    for (const [camera, v] of this.inView) {
      if (now - v.at > this.options.inViewMs) continue;
      for (const id of v.ids) (cameras.get(id) ?? cameras.set(id, []).get(id)!).push(camera);
    }
    const items: LiveIdentity[] = [];
    for (const [id, s] of this.recent) {
      if (now - s.lastSeen > this.options.recentMs) {
        this.recent.delete(id);
        continue;
      }
      items.push({ id, cameras: (cameras.get(id) ?? []).sort(), lastSeen: s.lastSeen, firstSeen: s.firstSeen });
    }
    items.sort((a, b) => Number(b.cameras.length > 0) - Number(a.cameras.length > 0) || b.lastSeen - a.lastSeen || naturalCompare(a.id, b.id));
    const merged = this.merged;
    this.merged = [];
    this.dirty = false;
    return { jobKey, identities: items.slice(0, this.options.maxListed), total: this.total, merged };
  }
}

/** "P2" before "P10". */
function naturalCompare(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
}
