// Session ends and caps on the realtime endpoint (server/realtime/socket-limits.ts, socket-server.ts) over
// real Socket.IO on TCP: logout and expiry close the session's /ui sockets, per-user and message-rate caps
// answer with an error naming the field, and upgrade requests for other paths are refused, not left open.
import { connect as tcpConnect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { io as connect } from 'socket.io-client';
import { ask, startLiveServer, type LiveHarness } from './live-harness.ts';

let h: LiveHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const disconnected = (s: { connected: boolean }) => () => s.connected;

describe('realtime session ends and caps (real Socket.IO)', () => {
  it('logout closes the sockets of that session only; another session of the same user stays', async () => {
    h = await startLiveServer();
    const a = await h.browser('alice');
    const b = await h.browser('alice');
    h.sessions.revoke(a.cookie.slice(a.cookie.indexOf('=') + 1));
    await expect.poll(disconnected(a.socket)).toBe(false);
    expect(b.socket.connected).toBe(true);
    expect((await ask(b.socket, 'jobs:subscribe', {})).ok).toBe(true);
  });

  it('an expiring session is disconnected when it expires, without any request of its own', async () => {
    h = await startLiveServer({ sessionTtlMs: 1_500 });
    const a = await h.browser('alice');
    expect(a.socket.connected).toBe(true);
    await expect.poll(disconnected(a.socket), { timeout: 60_000 }).toBe(false);
  });

  it('over the per-socket message rate: an error ack naming the field, the socket keeps working within the rate', async () => {
    h = await startLiveServer({ limits: { ui: { rate: 5, burst: 10 } } });
    const a = await h.browser('alice');
    const acks = await Promise.all(Array.from({ length: 40 }, () => ask(a.socket, 'jobs:subscribe', {})));
    const limited = acks.filter((x) => !x.ok);
    expect(limited.length).toBeGreaterThanOrEqual(40 - 10 - 5);
    expect(limited[0]).toMatchObject({ ok: false, field: 'event' });
    expect(limited[0].error).toMatch(/messages per second/);
    await expect.poll(async () => (await ask(a.socket, 'jobs:subscribe', {})).ok).toBe(true);
  });

  it('per-user connection cap', async () => {
    h = await startLiveServer({ limits: { maxPerUser: 2 } });
    await h.browser('alice');
    await h.browser('alice');
    await expect(h.browser('alice')).rejects.toThrow(/too many connections for user "alice"/);
    await h.browser('bob');
  });

  it('an Upgrade to another path is refused at once (it used to stay open forever)', async () => {
    h = await startLiveServer();
    const { port, hostname } = new URL(h.url);
    const reply = await new Promise<string>((resolve) => {
      const s = tcpConnect(Number(port), hostname, () =>
        s.write(`GET /anything HTTP/1.1\r\nHost: ${hostname}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`),
      );
      let out = '';
      s.on('data', (d) => (out += d));
      s.on('close', () => resolve(out));
    });
    expect(reply).toMatch(/^HTTP\/1.1 400/);
  });

  it('an engine.io client that never joins a namespace is closed after the handshake timeout', async () => {
    h = await startLiveServer({ limits: { handshakeTimeoutMs: 500 } });
    // A Manager without any namespace socket: open the transport only.
    const s = connect(`${h.url}/ui`, { transports: ['websocket'], reconnection: false, autoConnect: false });
    const engine = s.io.engine ?? (s.io.open(), s.io.engine);
    await expect.poll(() => (engine as unknown as { readyState: string }).readyState).toBe('open');
    await expect.poll(() => (engine as unknown as { readyState: string }).readyState, { timeout: 60_000 }).toBe('closed');
    s.close();
  });
});
