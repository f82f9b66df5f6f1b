// Observation batches wait here until the server acknowledges them, so a disconnect loses nothing: they are
// resent in order on reconnect (the server ingests each (camera, session, seq) once). What happens to a batch
// is decided only by the IngestAck code (contract), never by error text: 'committed' (cumulative: every
// queued batch of that camera and session up to `through` is done), 'retry-later' (kept; sending pauses for
// retryAfterMs), 'refused' (dropped, logged and counted: resending cannot fix its content). A transport
// failure (disconnect, ack timeout) reaches us as retry-later from the connection. Bounded: when the server
// stays away, the oldest batches are dropped first (and counted).
import type { IngestAck, ObservationBatch } from '@mei/contracts';

export class ObservationOutbox {
  private readonly queue: ObservationBatch[] = [];
  private sending = false;
  private pausedUntil = 0;
  private resumeTimer?: NodeJS.Timeout;
  /** Batches dropped because the queue was full. */
  dropped = 0;
  /** Batches the server refused for their content. */
  refused = 0;

  constructor(
    private readonly send: (batch: ObservationBatch) => Promise<IngestAck>,
    private readonly max = 500,
    private readonly log: (msg: string) => void = () => {},
    private readonly now: () => number = Date.now,
  ) {}

  get size(): number {
    return this.queue.length;
  }

  push(batch: ObservationBatch): void {
    this.queue.push(batch);
    if (this.queue.length > this.max) {
      this.queue.shift();
      this.dropped++;
    }
    void this.flush();
  }

  /** Sends queued batches in order until one is to be retried later; call again after a reconnect. */
  async flush(): Promise<void> {
    if (this.sending || this.now() < this.pausedUntil) return;
    this.sending = true;
    try {
      while (this.queue.length) {
        const batch = this.queue[0];
        const ack = await this.send(batch);
        if (ack.code === 'retry-later') {
          this.pause(ack.retryAfterMs);
          return; // keep it (and everything after it) for the next flush
        }
        if (ack.code === 'refused') {
          this.refused++;
          this.log(`observations ${batch.camera}#${batch.seq} refused: ${ack.error}`);
          if (this.queue[0] === batch) this.queue.shift();
          continue;
        }
        this.committed(batch.camera, batch.session, ack.through);
      }
    } finally {
      this.sending = false;
    }
  }

  /** Cumulative ack: drops every queued batch of the stream with seq <= through. */
  private committed(camera: string, session: string | undefined, through: number): void {
    let w = 0;
    for (const b of this.queue) if (!(b.camera === camera && b.session === session && b.seq <= through)) this.queue[w++] = b;
    this.queue.length = w;
  }

  private pause(ms: number): void {
    const wait = Math.max(0, Math.min(ms, 60_000));
    if (!wait) return;
    this.pausedUntil = this.now() + wait;
    clearTimeout(this.resumeTimer);
    this.resumeTimer = setTimeout(() => void this.flush(), wait);
    this.resumeTimer.unref?.();
  }

  close(): void {
    clearTimeout(this.resumeTimer);
  }
}
