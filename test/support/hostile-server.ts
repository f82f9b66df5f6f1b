// The two-tenant server of the hostile-input suite, shared by test/integration/hostile-input.test.ts and
// scripts/fuzz-http.ts: the real server process (Next route handlers + Socket.IO + PGlite + local worker
// processes, recording agents), users alice (team-a) and bob (team-b), one job each, and one confirmed track
// in team-b's history reported over /agent with the token the controller minted.
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import { io, type Socket } from 'socket.io-client';
import { REPO_ROOT, fetchJson, startServer, type ServerProcess } from '../integration/server-process.ts';

const RECORDER = fileURLToPath(new URL('../integration/fixtures/recording-agent.mjs', import.meta.url));

export interface HostileServer {
  server: ServerProcess;
  recordDir: string;
  cookies: Record<'alice' | 'bob', string>;
  aJob: any;
  bJob: any;
  bTrackId: string;
  api(user: string, method: string, p: string, body?: unknown, init?: { raw?: BodyInit; type?: string; headers?: Record<string, string> }): Promise<{ status: number; json: any; type: string }>;
  connectSocket(nsp: '/ui' | '/agent', opts: { cookie?: string; token?: string }): Promise<Socket>;
  tokenOf(node: string): string;
  /** Why team-b's job or tracks differ from what they were at start, or undefined. */
  teamBChanged(): Promise<string | undefined>;
  stop(): Promise<number | null>;
}

/** Waits for a condition in set-up; the ceiling only bounds a hang. */
async function until(what: string, cond: () => boolean | Promise<boolean>, output: () => string, timeoutMs = 180_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}:\n${output().slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Starts the server. `production`: Next from the production build in .next (scripts/prepare.mjs
 * `prepareNext()` must have made it), otherwise Next's dev server in a side build directory.
 */
export async function startHostileServer(opts: { env?: Record<string, string>; production?: boolean } = {}): Promise<HostileServer> {
  const recordDir = mkdtempSync(path.join(tmpdir(), 'mei-hostile-'));
  const usersFile = path.join(recordDir, 'users.json');
  writeFileSync(usersFile, JSON.stringify([
    { username: 'alice', password: 'alice-password', namespaces: ['team-a'] },
    { username: 'bob', password: 'bob-password', namespaces: ['team-b'] },
  ]));
  const server = await startServer({
    MEI_DEMO: '0',
    MEI_ADMIN_PASSWORD: 'hostile-admin-password',
    MEI_USERS_FILE: usersFile,
    MEI_AGENT_COMMAND: JSON.stringify([process.execPath, RECORDER]),
    MEI_RECORD_DIR: recordDir,
    MEI_AGENT_ENV: 'MEI_RECORD_DIR',
    MEI_DATA_DIR: process.env.MEI_DATA_DIR ?? path.resolve(REPO_ROOT, '../shared/data'),
    MEI_MODEL_DIR: process.env.MEI_MODEL_DIR ?? path.resolve(REPO_ROOT, '../shared/models'),
    // The login fuzz comes "through a proxy" from many client addresses (X-Forwarded-For), so the per-address
    // throttle (10 failures, tested in api.test.ts) does not answer 429 before the body is even parsed.
    MEI_TRUST_PROXY: '1',
    // The fuzz sends thousands of messages a second on one socket: the rate cap has its own test.
    MEI_SOCKET_LIMITS: JSON.stringify({ ui: { rate: 1e6, burst: 1e6 }, agent: { rate: 1e6, burst: 1e6 } }),
    ...(opts.production ? { NODE_ENV: 'production', MEI_NEXT_DIST_DIR: '.next' } : {}),
    ...opts.env,
  });
  const sockets: Socket[] = [];
  const cookies = {} as HostileServer['cookies'];
  const api: HostileServer['api'] = (user, method, p, body, init = {}) => {
    const headers: Record<string, string> = { cookie: cookies[user as 'alice'] ?? '', ...init.headers };
    const payload = init.raw ?? (body === undefined ? undefined : JSON.stringify(body));
    if (payload !== undefined && init.type !== 'multipart') headers['content-type'] = init.type ?? 'application/json';
    return fetchJson(server.url + p, { method, headers, body: payload });
  };
  const connectSocket: HostileServer['connectSocket'] = (nsp, o) => {
    // forceNew: a shared Manager would reuse the first connection's headers (its cookie, or none).
    const s = io(`${server.url}${nsp}`, { forceNew: true, transports: ['websocket'], reconnection: false, extraHeaders: o.cookie ? { cookie: o.cookie } : undefined, auth: o.token ? { token: o.token } : undefined });
    sockets.push(s);
    return new Promise((resolve, reject) => (s.once('connect', () => resolve(s)), s.once('connect_error', (e) => reject(new Error(`${nsp}: ${e.message}`)))));
  };
  const tokenOf = (node: string) => readFileSync(path.join(recordDir, `${node}.token`), 'utf8');
  try {
    for (const [user, password] of [['alice', 'alice-password'], ['bob', 'bob-password']] as const) {
      const res = await fetch(`${server.url}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: user, password }) });
      if (res.status !== 200) throw new Error(`login of ${user}: ${res.status}\n${server.output().slice(-3000)}`);
      cookies[user] = res.headers.get('set-cookie')!.split(';')[0];
    }
    const spec = (node: string) => ({ cameras: [{ name: 'cam', node, source: 'x.avi' }], models: { detector: { decoder: 'yolox' } }, privacy: { preview: 'live' } });
    const a = await api('alice', 'POST', '/api/jobs', { metadata: { name: 'a-job', namespace: 'team-a' }, spec: spec('rec-a') });
    const b = await api('bob', 'POST', '/api/jobs', { metadata: { name: 'b-job', namespace: 'team-b' }, spec: spec('rec-b') });
    if (a.status !== 201 || b.status !== 201) throw new Error(`jobs not created: ${JSON.stringify([a.json, b.json])}`);
    // team-b's history: its agent (our socket, with the token the controller minted) reports one confirmed track.
    await until("the agents' tokens", () => existsSync(path.join(recordDir, 'rec-b.token')) && existsSync(path.join(recordDir, 'rec-a.token')), server.output);
    // The recording agent holds the same token and may reconnect meanwhile (newest connection wins): retry.
    const t0 = Date.now();
    for (let attempt = 1; ; attempt++) {
      try {
        const agentB = await connectSocket('/agent', { token: tokenOf('rec-b') });
        for (let seq = 0; seq < 3; seq++) {
          const frames = Array.from({ length: 10 }, (_, i) => ({ frameIndex: seq * 10 + i, timestampMs: t0 + (seq * 10 + i) * 100, emittedAt: t0, width: 640, height: 480, tracks: [{ id: 1, x: 100 + i, y: 100, w: 50, h: 120, score: 0.9, state: 'confirmed' }] }));
          const ack = await agentB.timeout(30_000).emitWithAck('observations', { jobKey: 'team-b/b-job', camera: 'cam', seq: t0 * 1000 + seq, session: 's1', frames, embeddings: [{ id: 1, vector: Array.from({ length: 16 }, (_, k) => (k === seq ? 1 : 0.1)) }] });
          if (ack.code !== 'committed') throw new Error(JSON.stringify(ack));
        }
        agentB.disconnect();
        break;
      } catch (err) {
        if (attempt >= 10) throw err;
        await new Promise((r) => setTimeout(r, 1_000));
      }
    }
    const bTracks = async () => (await api('bob', 'GET', '/api/search/tracks?job=team-b/b-job')).json?.items ?? [];
    await until("team-b's track in the history", async () => (await bTracks()).length > 0, server.output);
    const bTrackId: string = (await bTracks())[0].id;
    const bJob = b.json;
    return {
      server,
      recordDir,
      cookies,
      aJob: a.json,
      bJob,
      bTrackId,
      api,
      connectSocket,
      tokenOf,
      teamBChanged: async () => {
        const now = (await api('bob', 'GET', '/api/jobs/team-b/b-job')).json;
        const was = { uid: bJob.metadata.uid, generation: bJob.metadata.generation, spec: bJob.spec };
        const is = { uid: now?.metadata?.uid, generation: now?.metadata?.generation, spec: now?.spec };
        if (!isDeepStrictEqual(is, was)) return `team-b's job changed: ${JSON.stringify(is).slice(0, 300)}`;
        const ids = (await bTracks()).map((t: any) => t.id);
        if (!isDeepStrictEqual(ids, [bTrackId])) return `team-b's tracks changed: ${JSON.stringify(ids)}`;
        return undefined;
      },
      stop: async () => {
        sockets.forEach((s) => s.disconnect());
        return server.stop();
      },
    };
  } catch (err) {
    sockets.forEach((s) => s.disconnect());
    await server.stop();
    throw err;
  }
}
