// When a track's embedding goes out again. The identity service needs a track's appearance rarely (each
// embedding is the tracker's smoothed one, and decisions are re-made on every one: more of them means
// more chances to act on a noisy look). Measured on the two-camera PETS09-S2L1 split (bench:mtmc):
// every 0.5 s -> cross-camera IDF1 0.789, every 1 s or 2 s -> 0.823. Cadence runs on video time, so a
// history job processed faster than real time sends the same evidence as a live one.

/** A track's embedding is sent again after this much video time. */
export const EMBEDDING_EVERY_MS = 2_000;

export class EmbeddingCadence {
  private readonly sentAt = new Map<number, number>();

  constructor(private readonly everyMs = EMBEDDING_EVERY_MS) {}

  /** Whether track `id` seen at `timestampMs` should send its embedding now (records it if so). */
  due(id: number, timestampMs: number): boolean {
    const last = this.sentAt.get(id);
    // Time going backwards (a looped file restarts its clock) counts as due.
    if (last !== undefined && timestampMs >= last && timestampMs - last < this.everyMs) return false;
    this.sentAt.set(id, timestampMs);
    if (this.sentAt.size > 1000) for (const [k, at] of this.sentAt) if (Math.abs(timestampMs - at) > 60_000) this.sentAt.delete(k);
    return true;
  }
}
