// MEI server: one HTTP port serving the Next.js dashboard and its API routes, Socket.IO for agents and
// browsers, and the control plane (database -> backend -> runtime -> controllers).
//   node --import tsx server/main.ts      (npm start builds the dashboard first and runs this)
// Env: PORT (3000), HOST (127.0.0.1), MEI_DATA_HOME (state dir, default <repo>/.mei), MEI_MODE, MEI_SECRET,
// MEI_ADMIN_USER/MEI_ADMIN_PASSWORD, MEI_USERS_FILE, MEI_COOKIE_SECURE (1/0; default: when over HTTPS),
// MEI_TRUST_PROXY=1 (X-Forwarded-For/-Proto are a proxy's), MEI_MEDIA_POLICY, MEI_AGENT_IMAGE_PREFIXES, MEI_DEMO=0,
// MEI_PUBLIC_URL (the URL agents connect to), MEI_AGENT_COMMAND (JSON argv replacing mei-agent; tests),
// MEI_NEXT_DIST_DIR (a side Next build dir; tests), MEI_DATA_DIR / MEI_MODEL_DIR (passed on to agents),
// MEI_DASHBOARD=off (no Next: Socket.IO, the control plane and GET /api/health only; chaos tests and benches
// that restart the server many times).
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startControlPlane, type ControlPlane } from './control-plane.ts';
import { createLogger } from './log.ts';
import { CLIENT_IP_HEADER, CLIENT_PROTO_HEADER, clientOf, publishContext } from './http/context.ts';
import { attachRealtime } from './realtime/socket-server.ts';
import { socketLimitsFromEnv } from './realtime/socket-limits.ts';
import { defaultDataDir } from './store/paths.ts';
import { opsHandler } from './observability/http.ts';

process.env.NEXT_TELEMETRY_DISABLED = '1';
const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
const log = createLogger('mei');

async function main(): Promise<void> {
  const env = process.env;
  const dev = env.NODE_ENV !== 'production';
  const port = Number(env.PORT ?? 3000);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`PORT must be a port number, got "${env.PORT}"`);
  const host = env.HOST || '127.0.0.1';
  const stateDir = path.dirname(defaultDataDir(env));
  const trustProxy = env.MEI_TRUST_PROXY === '1';

  let handleNext: ((req: IncomingMessage, res: ServerResponse) => Promise<void>) | undefined;
  let controlPlane: ControlPlane | undefined;
  // /healthz, /readyz and /metrics answer from the first moment (not ready until Next is up too).
  const ops = opsHandler({ env, readiness: () => (handleNext ? controlPlane?.readiness() : undefined) });
  const server = createServer((req, res) => {
    if (ops(req, res)) return;
    // The route handlers rate-limit logins by these and set Secure cookies; a client-sent value must not count.
    const client = clientOf(req.headers, req.socket as { remoteAddress?: string; encrypted?: boolean }, trustProxy);
    req.headers[CLIENT_IP_HEADER] = client.ip;
    req.headers[CLIENT_PROTO_HEADER] = client.proto;
    if (!handleNext) {
      res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '1' }).end(JSON.stringify({ error: 'server is starting' }));
      return;
    }
    handleNext(req, res).catch((err) => {
      log.error(`${req.method} ${req.url} failed:`, err);
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: 'internal server error' }));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const bound = (server.address() as AddressInfo).port;
  const localHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  const url = `http://${localHost}:${bound}`;

  let closeRealtime: (() => Promise<void>) | undefined;
  let closeNext: (() => Promise<void>) | undefined;
  let shuttingDown = false;
  const shutdown = async (why: string, code: number) => {
    if (shuttingDown) return;
    shuttingDown = true;
    log.info(`shutting down (${why})`);
    setTimeout(() => process.exit(code || 1), 15_000).unref();
    publishContext(undefined);
    // Workers first (the runtime kills them), then the sockets, the web app and the database.
    await controlPlane?.close().catch((err) => log.error('control plane close failed:', err));
    await closeRealtime?.().catch(() => {});
    await closeNext?.().catch(() => {});
    server.close();
    process.exit(code);
  };
  process.on('SIGINT', () => void shutdown('SIGINT', 0));
  process.on('SIGTERM', () => void shutdown('SIGTERM', 0));

  try {
    controlPlane = await startControlPlane({
      env,
      stateDir,
      serverUrl: () => env.MEI_PUBLIC_URL || url,
      log,
      onLostLeadership: () => void shutdown('lost the leader lease', 1),
    });
    publishContext(controlPlane);
    closeRealtime = attachRealtime(server, {
      backend: controlPlane.backend,
      controllers: controlPlane.controllers,
      tokens: controlPlane.tokens,
      sessions: controlPlane.sessions,
      live: controlPlane.live,
      ingest: controlPlane.ingest,
      limits: socketLimitsFromEnv(env),
      log: createLogger('realtime'),
    }).close;

    if (env.MEI_DASHBOARD === 'off') {
      const cp = controlPlane;
      handleNext = async (req, res) => {
        const [path, query = ''] = (req.url ?? '').split('?');
        if (req.method !== 'GET' || path !== '/api/health') {
          res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'no dashboard on this server (MEI_DASHBOARD=off)' }));
          return;
        }
        // As the dashboard's /api/health (server/http/api.ts): readiness and role; `?live` only asks whether it serves.
        const h = cp.health?.() ?? { ready: true, role: 'single' };
        const live = new URLSearchParams(query).has('live');
        res.writeHead(h.ready || live ? 200 : 503, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ status: h.ready ? 'ok' : 'unavailable', role: h.role, ...(h.message ? { message: h.message } : {}), ingest: cp.ingest?.state ?? 'none' }));
      };
    } else {
      const { default: next } = await import('next');
      const app = next({ dev, dir: REPO_ROOT, hostname: host, port: bound, httpServer: server });
      await app.prepare();
      closeNext = () => app.close();
      handleNext = app.getRequestHandler();
    }
  } catch (err) {
    log.error('startup failed:', err);
    await shutdown('startup failure', 1);
    return;
  }
  log.info(`MEI ${controlPlane.info.version} listening on ${url} (${controlPlane.mode} mode, ${controlPlane.info.database}, ${dev ? 'development' : 'production'})`);
}

await main();
