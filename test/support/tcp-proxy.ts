// A TCP proxy between agents and the server that a test controls: added latency (each direction, order kept),
// and cutting the link (open connections destroyed, new ones dropped on accept) until restored. Loopback only.
import net from 'node:net';

export interface TcpProxy {
  port: number;
  /** Delay added to every chunk, each direction (ms). */
  latencyMs: number;
  cut(): void;
  restore(): void;
  readonly isCut: boolean;
  /** Resolves at the next client-to-server chunk of at least `minBytes` (e.g. an observation batch on its way). */
  nextUpstream(minBytes: number): Promise<void>;
  /** Connections accepted so far (and dropped while cut). */
  readonly stats: { accepted: number; dropped: number };
  close(): Promise<void>;
}

export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  const open = new Set<net.Socket>();
  const stats = { accepted: 0, dropped: 0 };
  let cut = false;
  const waiters: Array<{ minBytes: number; resolve: () => void }> = [];
  const proxy: TcpProxy = {
    port: 0,
    latencyMs: 0,
    stats,
    get isCut() {
      return cut;
    },
    cut() {
      cut = true;
      for (const s of open) s.destroy();
      open.clear();
    },
    restore() {
      cut = false;
    },
    nextUpstream: (minBytes) => new Promise<void>((resolve) => waiters.push({ minBytes, resolve })),
    close: () => new Promise<void>((resolve) => (proxy.cut(), server.close(() => resolve()))),
  };
  /** Forwards a→b, each chunk after the current latency; a chunk never overtakes an earlier one. */
  const pipe = (a: net.Socket, b: net.Socket, upstream: boolean) => {
    let last = 0;
    a.on('data', (chunk) => {
      if (upstream && waiters.length) {
        for (let i = waiters.length - 1; i >= 0; i--) if (chunk.length >= waiters[i].minBytes) waiters.splice(i, 1)[0].resolve();
      }
      const due = Math.max(Date.now() + proxy.latencyMs, last);
      last = due;
      const send = () => !b.destroyed && b.write(chunk);
      if (due <= Date.now()) send();
      else setTimeout(send, due - Date.now());
    });
    a.on('end', () => setTimeout(() => b.end(), Math.max(0, last - Date.now())));
  };
  const server = net.createServer((client) => {
    stats.accepted++;
    if (cut) {
      stats.dropped++;
      client.destroy();
      return;
    }
    const upstream = net.connect(targetPort, '127.0.0.1');
    for (const s of [client, upstream]) {
      open.add(s);
      s.on('error', () => undefined);
      s.on('close', () => {
        open.delete(s);
        client.destroy();
        upstream.destroy();
      });
    }
    pipe(client, upstream, true);
    pipe(upstream, client, false);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  proxy.port = (server.address() as net.AddressInfo).port;
  return proxy;
}
