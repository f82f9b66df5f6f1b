// A TCP relay on loopback that counts the bytes each direction carries (TCP payload: HTTP upgrade,
// WebSocket frames, Engine.IO and Socket.IO packets, everything an agent's link to the server carries,
// without IP/TCP headers). bench:bandwidth puts it between the edge agent and the server.
import { createConnection, createServer, type Server, type Socket } from 'node:net';

export interface CountingProxy {
  /** http://127.0.0.1:<port> of the relay. */
  url: string;
  /** Bytes client -> server and server -> client so far, over every connection. */
  upstream(): number;
  downstream(): number;
  /** Connections accepted so far and those still open. */
  connections(): { accepted: number; open: number };
  close(): Promise<void>;
}

export async function startCountingProxy(target: { host: string; port: number }): Promise<CountingProxy> {
  let up = 0;
  let down = 0;
  let accepted = 0;
  const open = new Set<Socket>();
  const server: Server = createServer((client) => {
    accepted++;
    const upstream = createConnection(target);
    open.add(client);
    client.on('data', (d) => (up += d.length));
    upstream.on('data', (d) => (down += d.length));
    client.pipe(upstream);
    upstream.pipe(client);
    const end = () => {
      open.delete(client);
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end);
    upstream.on('close', end);
    client.on('error', end);
    upstream.on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    upstream: () => up,
    downstream: () => down,
    connections: () => ({ accepted, open: open.size }),
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of open) s.destroy();
        server.close(() => resolve());
      }),
  };
}
