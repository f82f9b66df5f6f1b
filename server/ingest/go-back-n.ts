// Go-back-N per stream on one agent connection. Outcomes of a connection's batches are settled in arrival
// order; once a batch of a stream is answered retry-later (seq M), every later seq of that stream is answered
// retry-later too (even one that was stored: a resend is a harmless duplicate) until a seq <= M is settled
// again. That keeps `committed through=N` cumulative: nothing at or below N of the stream is missing.
// Unless the agent declares (ObservationBatch.dropped.heldFrom) that it no longer holds seq M: its spool was
// full and dropped it, so waiting for it would answer retry-later forever; the stream flows from there.
import type { IngestAck } from '@mei/contracts';

export class GoBackN {
  /** Per stream: the lowest seq answered retry-later, and the wait it was given. */
  private readonly floors = new Map<string, { seq: number; retryAfterMs: number }>();
  /** Per stream: batches received and not yet settled. */
  private readonly open = new Map<string, number>();

  /** At arrival: a retry-later to answer at once (the stream is waiting for an earlier seq and nothing of it is open), else undefined. */
  arrive(stream: string, seq: number, heldFrom?: number): IngestAck | undefined {
    const f = this.floors.get(stream);
    if (f && seq > f.seq && !this.open.get(stream) && !(heldFrom !== undefined && heldFrom > f.seq)) return this.blocked(f);
    this.open.set(stream, (this.open.get(stream) ?? 0) + 1);
    return undefined;
  }

  /** At settling (in arrival order): the ack to send for this seq given what the stream answered before. */
  settle(stream: string, seq: number, ack: IngestAck, heldFrom?: number): IngestAck {
    const n = (this.open.get(stream) ?? 1) - 1;
    if (n > 0) this.open.set(stream, n);
    else this.open.delete(stream);
    let f = this.floors.get(stream);
    if (f && heldFrom !== undefined && heldFrom > f.seq) {
      // The seq it waited for was dropped by the agent (settled in arrival order, after what came before).
      this.floors.delete(stream);
      f = undefined;
    }
    if (ack.code === 'retry-later') {
      if (!f || seq < f.seq) this.floors.set(stream, { seq, retryAfterMs: ack.retryAfterMs });
      return ack;
    }
    if (!f) return ack;
    if (seq > f.seq) return ack.code === 'refused' ? ack : this.blocked(f);
    this.floors.delete(stream); // the resend from the floor has arrived: the stream flows again
    return ack;
  }

  private blocked(f: { seq: number; retryAfterMs: number }): IngestAck {
    return { code: 'retry-later', retryAfterMs: f.retryAfterMs, reason: `go-back-N: seq ${f.seq} of this stream is to be resent first` };
  }
}
