// Observation batches wait here until the server acknowledges them, so a short disconnect loses nothing:
// they are resent in order on reconnect (the server ingests each (camera, seq) once). Bounded: when the
// server stays away, the oldest batches are dropped first.
import type { Ack, ObservationBatch } from '@mei/contracts';

const TRANSIENT = /not connected|timed out/i;

export class ObservationOutbox {
  private readonly queue: ObservationBatch[] = [];
  private sending = false;
  dropped = 0;

  constructor(
    private readonly send: (batch: ObservationBatch) => Promise<Ack>,
    private readonly max = 500,
    private readonly log: (msg: string) => void = () => {},
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

  /** Sends queued batches in order until one fails to get through; call again after a reconnect. */
  async flush(): Promise<void> {
    if (this.sending) return;
    this.sending = true;
    try {
      while (this.queue.length) {
        const batch = this.queue[0];
        const ack = await this.send(batch);
        if (!ack.ok && TRANSIENT.test(ack.error)) return; // keep it for the next flush
        // Delivered, or refused for its content (which a resend cannot fix).
        if (!ack.ok) this.log(`observations ${batch.camera}#${batch.seq} refused: ${ack.error}`);
        if (this.queue[0] === batch) this.queue.shift();
      }
    } finally {
      this.sending = false;
    }
  }
}
