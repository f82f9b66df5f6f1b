// Applies each (job, camera) batch once. Agents number batches per camera (ObservationBatch.seq) and resend
// the unacknowledged ones after a reconnect, so the same seq may arrive twice; a late batch that fills a
// hole (seq below the newest but never seen) is still accepted. Memory: a window of `window` seqs per camera.

export interface DedupDecision {
  accept: boolean;
  /** Why a batch was refused: seen before, or older than the remembered window. */
  reason?: 'duplicate' | 'too-old';
}

interface CameraSeqs {
  /** Highest seq accepted. */
  high: number;
  /** Seqs accepted in (high - window, high]. */
  seen: Set<number>;
}

export class IngestDedup {
  private readonly cameras = new Map<string, CameraSeqs>();

  constructor(private readonly window = 1024) {
    if (!Number.isInteger(window) || window < 1) throw new RangeError(`window must be an integer >= 1, got ${window}`);
  }

  /** Records the batch when it is new; call before applying it, apply only when accept is true. */
  check(jobKey: string, camera: string, seq: number): DedupDecision {
    if (!Number.isInteger(seq) || seq < 0) throw new RangeError(`seq must be an integer >= 0, got ${seq}`);
    const k = `${jobKey}\u0000${camera}`;
    let c = this.cameras.get(k);
    if (!c) {
      c = { high: -1, seen: new Set() };
      this.cameras.set(k, c);
    }
    if (seq > c.high) {
      c.high = seq;
      c.seen.add(seq);
      // Forget seqs that fell out of the window; sweeping only at twice the window keeps it O(1) amortised.
      if (c.seen.size > 2 * this.window) for (const s of c.seen) if (s <= seq - this.window) c.seen.delete(s);
      return { accept: true };
    }
    if (seq <= c.high - this.window) return { accept: false, reason: 'too-old' };
    if (c.seen.has(seq)) return { accept: false, reason: 'duplicate' };
    c.seen.add(seq);
    return { accept: true };
  }

  /** A new agent session numbers batches from scratch (task re-assigned, agent restarted). */
  reset(jobKey: string, camera?: string): void {
    const prefix = `${jobKey}\u0000`;
    for (const k of this.cameras.keys()) if (k === `${prefix}${camera}` || (camera === undefined && k.startsWith(prefix))) this.cameras.delete(k);
  }

  /** Drops all state of a job (deleted). */
  forgetJob(jobKey: string): void {
    this.reset(jobKey);
  }
}
