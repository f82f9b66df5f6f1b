// Delivery of live messages to the browsers in a job's Socket.IO room (`live:<jobKey>` in /ui), one slot
// per client and stream (a camera's frames, its previews, the identity list): at most one message is
// unacknowledged per slot, and a newer message replaces the one waiting (latest frame wins). A slow
// browser therefore misses frames instead of growing a queue in Socket.IO's buffers, and it never delays
// ingest or the other browsers: publish() only fills slots and returns. An idle slot (nothing in flight or
// waiting) is dropped, so streams that come and go (a crop per identity) leave nothing behind.
import type { Namespace, Socket } from 'socket.io';

export const liveRoom = (jobKey: string) => `live:${jobKey}`;

export interface FanoutOptions {
  /** An unacknowledged message frees its slot after this long (a hung or vanished client). */
  ackTimeoutMs?: number;
}

export interface FanoutStats {
  /** Messages handed to Socket.IO. */
  sent: number;
  /** Waiting messages replaced by a newer one before they could be sent (frames a slow client missed). */
  superseded: number;
  /** Messages whose acknowledgement did not come in time. */
  ackTimeouts: number;
}

interface Slot {
  inFlight: boolean;
  waiting?: { event: string; payload: unknown };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- events are the contract's ServerToUiEvents
type AnySocket = Socket<any, any, any, any>;

export class LiveFanout {
  /** Slots per socket id, keyed by `<jobKey>\0<stream>`. */
  private readonly slots = new Map<string, Map<string, Slot>>();
  private readonly ackTimeoutMs: number;
  readonly stats: FanoutStats = { sent: 0, superseded: 0, ackTimeouts: 0 };

  constructor(
    private readonly nsp: Namespace,
    o: FanoutOptions = {},
  ) {
    this.ackTimeoutMs = o.ackTimeoutMs ?? 5_000;
  }

  async join(socket: AnySocket, jobKey: string): Promise<void> {
    await socket.join(liveRoom(jobKey));
  }

  async leave(socket: AnySocket, jobKey: string): Promise<void> {
    await socket.leave(liveRoom(jobKey));
    const mine = this.slots.get(socket.id);
    if (!mine) return;
    for (const [k, slot] of mine) {
      if (!k.startsWith(`${jobKey}\0`)) continue;
      slot.waiting = undefined; // its in-flight message, if any, still completes; nothing follows it
      mine.delete(k);
    }
  }

  /** Forgets a disconnected socket (Socket.IO removes it from its rooms by itself). */
  forget(socketId: string): void {
    for (const slot of this.slots.get(socketId)?.values() ?? []) slot.waiting = undefined;
    this.slots.delete(socketId);
  }

  /** Number of browsers watching the job. */
  watchers(jobKey: string): number {
    return this.nsp.adapter.rooms.get(liveRoom(jobKey))?.size ?? 0;
  }

  /** Offers `payload` to every browser in the job's room, in the slot `stream`. */
  publish(jobKey: string, stream: string, event: string, payload: unknown): void {
    const ids = this.nsp.adapter.rooms.get(liveRoom(jobKey));
    if (!ids) return;
    for (const id of ids) {
      const socket = this.nsp.sockets.get(id);
      if (socket) this.offer(socket, `${jobKey}\0${stream}`, event, payload);
    }
  }

  /** Sends `payload` to one socket through its slot (e.g. the current state right after it subscribed). */
  sendTo(socket: AnySocket, jobKey: string, stream: string, event: string, payload: unknown): void {
    this.offer(socket, `${jobKey}\0${stream}`, event, payload);
  }

  private offer(socket: AnySocket, key: string, event: string, payload: unknown): void {
    let mine = this.slots.get(socket.id);
    if (!mine) this.slots.set(socket.id, (mine = new Map()));
    let slot = mine.get(key);
    if (!slot) mine.set(key, (slot = { inFlight: false }));
    if (slot.inFlight) {
      if (slot.waiting) this.stats.superseded++;
      slot.waiting = { event, payload };
      return;
    }
    this.send(socket, mine, key, slot, event, payload);
  }

  private send(socket: AnySocket, mine: Map<string, Slot>, key: string, slot: Slot, event: string, payload: unknown): void {
    slot.inFlight = true;
    this.stats.sent++;
    socket.timeout(this.ackTimeoutMs).emit(event, payload, (err: Error | null) => {
      if (err) this.stats.ackTimeouts++;
      slot.inFlight = false;
      const next = slot.waiting;
      slot.waiting = undefined;
      if (next && socket.connected) this.send(socket, mine, key, slot, next.event, next.payload);
      else if (mine.get(key) === slot) mine.delete(key);
    });
  }
}
