// Delivery of observation batches from the spools (spool.ts) to the server. A batch is encoded (protocol 2),
// split at frame boundaries if it would exceed a Socket.IO message, and written to its camera's spool before
// anything is sent; it leaves the spool only when the server has committed it. Per stream (job, camera,
// session) up to `window` batches are in flight, in seq order. What happens next is decided only by the
// IngestAck code (contract), never by error text:
// - committed{through}: cumulative, every batch of the stream up to `through` is durable: forgotten.
// - retry-later{retryAfterMs}: go-back-N. The server answers retry-later for every later seq of the stream
//   too, so the stream pauses and then resends from its oldest unacknowledged batch. A transport failure
//   (disconnect, ack timeout) arrives here as retry-later from the connection.
// - refused{field}: the content can never be stored: forgotten, counted and logged; the stream goes on.
// A full spool may drop the very batch a go-back-N waits for; the server would then answer retry-later
// forever. So once a spool has dropped batches of a stream, its sends carry ObservationBatch.dropped (the
// drops in all, the lowest seq still held) until one of them is committed: the server stops waiting for
// what is gone and counts the drops.
import { MAX_MESSAGE_BYTES, encodeObservations, withDropped, type IngestAck, type ObservationBatch } from '@mei/contracts';
import type { Spool, SpoolEntry } from './spool.ts';

/** Batches per stream sent and not yet answered. */
export const DEFAULT_WINDOW = 8;
/** Room left in a Socket.IO message for its framing around the batch bytes. */
const MESSAGE_OVERHEAD = 1_024;
/** A retry-later without a delay (e.g. not connected) still waits this long before the stream resends. */
const MIN_RETRY_MS = 100;
const MAX_RETRY_MS = 60_000;

export interface OutboxOptions {
  /** Sends one stored batch (protocol-2 bytes); transport failures resolve as retry-later. */
  send(payload: Uint8Array, seq: number): Promise<IngestAck>;
  connected(): boolean;
  /** Starts a new connection (unused since ObservationBatch.dropped tells the server what is gone; kept for callers). */
  reconnect?(): void;
  window?: number;
  /** Largest encoded batch (default: a Socket.IO message minus framing). */
  maxBatchBytes?: number;
  /** Called after every answer (progress: spool stats, drained streams). */
  onProgress?(): void;
  log?(msg: string): void;
  now?(): number;
}

interface Stream {
  /** Next seq to send; -1: from the oldest unacknowledged one. */
  next: number;
  inFlight: number;
  /** Bumped by a go-back-N reset: answers to sends of an earlier epoch do not count against the window. */
  epoch: number;
  pausedUntil: number;
  timer?: NodeJS.Timeout;
  /** The seq the server answered retry-later: it wants this one (or an earlier one) next. */
  goBack?: number;
}

export class ObservationOutbox {
  private readonly spools = new Map<string, Spool>();
  private readonly streams = new Map<string, Stream>();
  /** Per spool key: batches the server refused for their content (or that became unreadable on disk). */
  private readonly refusedBy = new Map<string, number>();
  private readonly window: number;
  private readonly maxBatchBytes: number;
  private readonly now: () => number;
  private closed = false;

  constructor(private readonly options: OutboxOptions) {
    this.window = Math.max(1, options.window ?? DEFAULT_WINDOW);
    this.maxBatchBytes = options.maxBatchBytes ?? MAX_MESSAGE_BYTES - MESSAGE_OVERHEAD;
    this.now = options.now ?? Date.now;
  }

  /** Delivers what `spool` holds (also batches of earlier runs found on disk) and what is pushed to `key`. */
  attach(key: string, spool: Spool): void {
    this.spools.set(key, spool);
    this.pump();
  }

  /** Stops delivering a spool (its data stays on disk for a later run); returns it for closing. */
  detach(key: string): Spool | undefined {
    const spool = this.spools.get(key);
    this.spools.delete(key);
    for (const [k, st] of this.streams) {
      if (!k.startsWith(`${key}\n`)) continue;
      clearTimeout(st.timer);
      this.streams.delete(k);
    }
    return spool;
  }

  spool(key: string): Spool | undefined {
    return this.spools.get(key);
  }

  /**
   * Spools a batch (split to fit a message if needed, each part with the next seq from `nextSeq`) and sends
   * it when the window allows. Returns the parts' seqs.
   */
  push(key: string, batch: Omit<ObservationBatch, 'seq'>, nextSeq: () => number): number[] {
    const spool = this.spools.get(key);
    if (!spool) throw new Error(`no spool attached for ${key}`);
    const seqs: number[] = [];
    for (const part of splitToFit(batch, this.maxBatchBytes, (msg) => this.options.log?.(`[${batch.camera}] ${msg}`))) {
      const seq = nextSeq();
      spool.append(batch.session ?? '', seq, part.encode(seq));
      seqs.push(seq);
    }
    this.pump();
    return seqs;
  }

  /** Batches of `key` not yet committed. */
  unsent(key: string): number {
    return this.spools.get(key)?.stats().unsent ?? 0;
  }

  refused(key: string): number {
    return this.refusedBy.get(key) ?? 0;
  }

  /** Sends what every stream's window and pause allow; call again after a reconnect. */
  pump(): void {
    if (this.closed || !this.options.connected()) return;
    const now = this.now();
    for (const [key, spool] of this.spools) {
      for (const session of spool.activeSessions()) {
        const st = this.stream(key, session);
        if (now < st.pausedUntil) continue;
        // What the server waits for was dropped (spool full): the declaration below tells it so.
        if (st.goBack !== undefined && (spool.unsent(session).next().value?.seq ?? -1) > st.goBack) st.goBack = undefined;
        const declaration = spool.dropDeclaration(session);
        for (const e of spool.unsent(session, st.next)) {
          if (st.inFlight >= this.window || !this.options.connected()) break;
          let payload: Uint8Array | undefined;
          try {
            payload = spool.read(e);
          } catch (err) {
            // Unreadable on disk (removed or damaged from outside): it can never be sent; counted as lost.
            this.options.log?.(`observations ${key}#${e.seq} unreadable in the spool, dropped: ${(err as Error).message}`);
            this.count(key);
            spool.forget(e);
            continue;
          }
          if (!payload) continue;
          if (declaration) payload = withDropped(payload, declaration);
          st.inFlight++;
          st.next = e.seq + 1;
          if (st.goBack !== undefined && e.seq <= st.goBack) st.goBack = undefined;
          const epoch = st.epoch;
          this.options.send(payload, e.seq).then(
            (ack) => this.answered(key, spool, st, e, epoch, ack, declaration?.count),
            (err: Error) => this.answered(key, spool, st, e, epoch, { code: 'retry-later', retryAfterMs: MIN_RETRY_MS, reason: `send failed: ${err.message}` }),
          );
        }
      }
    }
  }

  close(): void {
    this.closed = true;
    for (const st of this.streams.values()) clearTimeout(st.timer);
  }

  private count(key: string): void {
    this.refusedBy.set(key, (this.refusedBy.get(key) ?? 0) + 1);
  }

  /** Cursor writes can fail (disk full): the batch then stays unacknowledged on disk and is resent later. */
  private onDisk(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.options.log?.(`spool cursor not written: ${(err as Error).message}`);
    }
  }

  private stream(key: string, session: string): Stream {
    const id = `${key}\n${session}`;
    let st = this.streams.get(id);
    if (!st) this.streams.set(id, (st = { next: -1, inFlight: 0, epoch: 0, pausedUntil: 0 }));
    return st;
  }

  private answered(key: string, spool: Spool, st: Stream, e: SpoolEntry, epoch: number, ack: IngestAck, declared?: number): void {
    if (this.spools.get(key) !== spool) return; // detached meanwhile: the next run resends from disk
    if (epoch === st.epoch) st.inFlight--;
    if (ack.code === 'committed') {
      // Committed through the seq a go-back-N waits for (an answer sent before the retry-later): nothing to wait for.
      if (st.goBack !== undefined && ack.through >= st.goBack) st.goBack = undefined;
      this.onDisk(() => spool.commit(e.session, ack.through));
      if (declared !== undefined) this.onDisk(() => spool.declared(e.session, declared));
    }
    else if (ack.code === 'refused') {
      this.count(key);
      this.options.log?.(`observations ${key}#${e.seq} refused (${ack.field}): ${ack.error}`);
      this.onDisk(() => spool.forget(e));
    } else if (epoch === st.epoch) {
      // Go-back-N: later sends of this epoch are answered retry-later too and are ignored here.
      st.epoch++;
      st.inFlight = 0;
      st.next = -1;
      st.goBack = e.seq;
      const wait = Math.min(MAX_RETRY_MS, Math.max(MIN_RETRY_MS, ack.retryAfterMs));
      st.pausedUntil = this.now() + wait;
      clearTimeout(st.timer);
      st.timer = setTimeout(() => this.pump(), wait);
      st.timer.unref?.();
    }
    this.pump();
    this.options.onProgress?.();
  }
}

/** One part of a batch ready to be spooled: its bytes once it has a seq. */
interface Part {
  encode(seq: number): Uint8Array;
}

/**
 * Splits a batch at frame boundaries until every part's protocol-2 bytes fit `maxBytes`; embeddings are
 * divided between the halves (they are per track, not per frame). A single frame that still does not fit
 * keeps as many embeddings as fit; the rest are dropped and logged (a frame's tracks alone are far below
 * the limit: 500 tracks are a few KB).
 */
export function splitToFit(batch: Omit<ObservationBatch, 'seq'>, maxBytes: number, log: (msg: string) => void = () => {}): Part[] {
  const bytesOf = (b: Omit<ObservationBatch, 'seq'>, seq: number) => encodeObservations({ ...b, seq } as ObservationBatch);
  // Sized with the largest seq a batch can have, so the real (smaller) seq never makes it grow.
  const fits = (b: Omit<ObservationBatch, 'seq'>) => bytesOf(b, Number.MAX_SAFE_INTEGER).length <= maxBytes;
  const part = (b: Omit<ObservationBatch, 'seq'>): Part => ({ encode: (seq) => bytesOf(b, seq) });
  if (fits(batch)) return [part(batch)];
  const emb = batch.embeddings ?? [];
  if (batch.frames.length > 1) {
    const mid = Math.ceil(batch.frames.length / 2);
    const eMid = Math.ceil(emb.length / 2);
    const half = (frames: ObservationBatch['frames'], embeddings: typeof emb) => ({ ...batch, frames, ...(embeddings.length ? { embeddings } : { embeddings: undefined }) });
    return [...splitToFit(half(batch.frames.slice(0, mid), emb.slice(0, eMid)), maxBytes, log), ...splitToFit(half(batch.frames.slice(mid), emb.slice(eMid)), maxBytes, log)];
  }
  let keep = emb.length;
  while (keep > 0 && !fits({ ...batch, embeddings: emb.slice(0, keep) })) keep = Math.floor(keep / 2);
  const kept = { ...batch, embeddings: keep ? emb.slice(0, keep) : undefined };
  if (!fits(kept)) throw new Error(`frame ${batch.frames[0].frameIndex}: its tracks alone exceed ${maxBytes} bytes`);
  log(`frame ${batch.frames[0].frameIndex}: ${emb.length - keep} embedding(s) dropped to fit a message of ${maxBytes} bytes`);
  return [part(kept)];
}
