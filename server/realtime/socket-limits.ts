// Caps on the realtime endpoint: how many sockets at all and per dashboard user, how long an upgrade may sit
// without joining a namespace, and how many messages one socket may send per second (a token bucket; over
// it a message gets an error ack and is dropped, and a socket that keeps flooding is disconnected).
import type { Server as HttpServer, IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Socket } from 'socket.io';

export interface SocketLimits {
  /** Sockets on all namespaces together. */
  maxConnections: number;
  /** /ui sockets of one user. */
  maxPerUser: number;
  /** An engine.io connection that has not joined a namespace by then is closed (socket.io connectTimeout). */
  handshakeTimeoutMs: number;
  /** Messages per second and burst, per socket. */
  ui: { rate: number; burst: number };
  agent: { rate: number; burst: number };
  /** Messages dropped in a row (over the rate) before the socket is disconnected. */
  maxDropped: number;
}

export const DEFAULT_SOCKET_LIMITS: SocketLimits = {
  maxConnections: 2_000,
  maxPerUser: 32,
  handshakeTimeoutMs: 10_000,
  ui: { rate: 50, burst: 200 },
  // An agent sends a batch per frame per camera at most, plus previews, thumbnails and state.
  agent: { rate: 500, burst: 2_000 },
  maxDropped: 5_000,
};

/**
 * MEI_SOCKET_LIMITS: JSON overriding some of DEFAULT_SOCKET_LIMITS, e.g. {"ui":{"rate":100,"burst":400}};
 * a value that is not a positive number is a start-up error naming it.
 */
export function socketLimitsFromEnv(env: Record<string, string | undefined>): Partial<SocketLimits> {
  const raw = env.MEI_SOCKET_LIMITS?.trim();
  if (!raw) return {};
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch (e) {
    throw new Error(`MEI_SOCKET_LIMITS: not valid JSON: ${(e as Error).message}`);
  }
  const check = (x: unknown, ref: unknown, at: string): void => {
    if (typeof ref === 'number') {
      if (typeof x !== 'number' || !(x > 0)) throw new Error(`MEI_SOCKET_LIMITS: ${at} must be a positive number`);
      return;
    }
    if (!x || typeof x !== 'object' || Array.isArray(x)) throw new Error(`MEI_SOCKET_LIMITS: ${at || '(root)'} must be an object`);
    for (const [k, val] of Object.entries(x)) {
      if (!Object.hasOwn(ref as object, k)) throw new Error(`MEI_SOCKET_LIMITS: ${at ? `${at}.` : ''}${k} is not a limit`);
      check(val, (ref as Record<string, unknown>)[k], at ? `${at}.${k}` : k);
    }
  };
  check(v, DEFAULT_SOCKET_LIMITS, '');
  return v as Partial<SocketLimits>;
}

/** Drops (with an error ack) messages over `rate`/s after `burst`; disconnects after `maxDropped` in a row. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- any namespace's socket
export function limitMessageRate(socket: Socket<any, any, any, any>, o: { rate: number; burst: number }, maxDropped: number, now: () => number = Date.now): void {
  let tokens = o.burst;
  let last = now();
  let dropped = 0;
  socket.use((packet, next) => {
    const t = now();
    tokens = Math.min(o.burst, tokens + ((t - last) / 1000) * o.rate);
    last = t;
    if (tokens >= 1) {
      tokens -= 1;
      dropped = 0;
      return next();
    }
    const ack = packet[packet.length - 1];
    if (typeof ack === 'function') ack({ ok: false, error: `event: more than ${o.rate} messages per second; slow down`, field: 'event' });
    if (++dropped >= maxDropped) socket.disconnect(true);
  });
}

/**
 * Upgrade requests that are not for Socket.IO (or Next's dev reloader) are refused at once instead of being
 * left open: nothing else on this server speaks WebSocket.
 */
export function refuseStrayUpgrades(http: HttpServer, socketPath = '/socket.io/'): () => void {
  const onUpgrade = (req: IncomingMessage, socket: Duplex) => {
    const url = req.url ?? '';
    if (url.startsWith(socketPath) || url.startsWith('/_next/')) return;
    socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    socket.destroy();
  };
  http.on('upgrade', onUpgrade);
  return () => http.off('upgrade', onUpgrade);
}

/** Counts sockets per key (user) so a new one over `max` is refused in the namespace middleware. */
export class SocketCounter {
  private readonly counts = new Map<string, number>();
  constructor(private readonly max: number) {}
  /** Takes a slot for `key`, or false when it has `max` already. */
  take(key: string): boolean {
    const n = this.counts.get(key) ?? 0;
    if (n >= this.max) return false;
    this.counts.set(key, n + 1);
    return true;
  }
  release(key: string): void {
    const n = (this.counts.get(key) ?? 1) - 1;
    if (n > 0) this.counts.set(key, n);
    else this.counts.delete(key);
  }
}
