// Bounded hand-off between the decoder (producer) and the inference loop (consumer).
// 'drop-oldest' (live): a full queue discards its oldest frame so the consumer always gets fresh video.
// 'block' (history): a full queue tells the producer to pause (back-pressure); nothing is dropped.

export type QueuePolicy = 'drop-oldest' | 'block';

export class FrameQueue<T> {
  private items: T[] = [];
  private waiter: ((v: void) => void) | undefined;
  private ended = false;
  private error: Error | undefined;
  dropped = 0;
  /** Called when a blocked producer may go on. */
  onSpace: (() => void) | undefined;

  constructor(
    readonly capacity: number,
    readonly policy: QueuePolicy,
  ) {
    if (!(capacity >= 1)) throw new Error(`queue capacity must be >= 1, got ${capacity}`);
  }

  get size(): number {
    return this.items.length;
  }

  get full(): boolean {
    return this.items.length >= this.capacity;
  }

  /** Adds an item. Returns false when a 'block' queue is now full: the producer should pause until onSpace. */
  push(item: T): boolean {
    if (this.ended) return true;
    if (this.policy === 'drop-oldest' && this.full) {
      this.items.shift();
      this.dropped++;
    }
    this.items.push(item);
    this.wake();
    return !(this.policy === 'block' && this.full);
  }

  /** No more items; pending and later shift() calls drain what is left, then return undefined or throw `error`. */
  end(error?: Error): void {
    if (this.ended) return;
    this.ended = true;
    this.error = error;
    this.wake();
  }

  /** Drops queued items (on close). */
  clear(): void {
    this.items = [];
  }

  async shift(): Promise<T | undefined> {
    for (;;) {
      if (this.items.length > 0) {
        const wasFull = this.full;
        const item = this.items.shift() as T;
        if (wasFull && this.policy === 'block') this.onSpace?.();
        return item;
      }
      if (this.ended) {
        if (this.error) throw this.error;
        return undefined;
      }
      await new Promise<void>((resolve) => (this.waiter = resolve));
    }
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }
}
