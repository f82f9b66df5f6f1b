// The spine end to end: the real server process (Next route handlers + Socket.IO + embedded Prisma/PGlite
// store + local worker processes), driven over HTTP and real sockets.
//
// Test hook: the server starts workers with MEI_AGENT_COMMAND = fixtures/recording-agent.mjs, which writes
// the token the controller minted and every message it receives to MEI_RECORD_DIR, then acts as a minimal
// agent (node "rec-*") or runs the real mei-agent (node "real-*"). See that file.
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { io, type Socket } from 'socket.io-client';
import { AgentStateSchema, MAX_MESSAGE_BYTES, TaskAckSchema, describeZodError, type MultiEdgeInference, type TaskAssignment } from '@mei/contracts';
import { REPO_ROOT, fetchJson, startServer, type ServerProcess } from './server-process.ts';
import { seededRandom as mulberry32 } from '../support/random.ts'; // replayable fuzz cases

const RECORDER = fileURLToPath(new URL('./fixtures/recording-agent.mjs', import.meta.url));
const DATA_DIR = process.env.MEI_DATA_DIR ?? path.resolve(REPO_ROOT, '../shared/data');
const MODEL_DIR = process.env.MEI_MODEL_DIR ?? path.resolve(REPO_ROOT, '../shared/models');
const PASSWORD = 'spine-test-password';

let server: ServerProcess;
let cookie: string;
const recordDir = mkdtempSync(path.join(tmpdir(), 'mei-rec-'));
const sockets: Socket[] = [];

type Recorded = { event: string; payload: any; pid: number };
const events = (node: string): Recorded[] => {
  const f = path.join(recordDir, `${node}.events.jsonl`);
  return existsSync(f) ? readFileSync(f, 'utf8').trim().split('\n').map((l) => JSON.parse(l)) : [];
};
const tokenOf = (node: string) => readFileSync(path.join(recordDir, `${node}.token`), 'utf8');
const alive = (pid: number) => existsSync(`/proc/${pid}`) && !readFileSync(`/proc/${pid}/stat`, 'utf8').split(' ')[2].startsWith('Z');

async function api(method: string, p: string, body?: unknown, init: { raw?: string; type?: string } = {}) {
  const headers: Record<string, string> = { cookie };
  const payload = init.raw ?? (body === undefined ? undefined : JSON.stringify(body));
  if (payload !== undefined) headers['content-type'] = init.type ?? 'application/json';
  return fetchJson(server.url + p, { method, headers, body: payload });
}
const getJob = async (name: string): Promise<MultiEdgeInference | undefined> => {
  const r = await api('GET', `/api/jobs/default/${name}`);
  return r.status === 200 ? r.json : undefined;
};

function agentSocket(token: unknown): Socket {
  const s = io(`${server.url}/agent`, { auth: { token }, transports: ['websocket'], reconnection: false });
  sockets.push(s);
  return s;
}
const connectError = (s: Socket) => new Promise<string>((resolve) => s.once('connect_error', (e) => resolve(e.message)));

beforeAll(async () => {
  server = await startServer({
    MEI_DEMO: '0',
    MEI_ADMIN_PASSWORD: PASSWORD,
    MEI_AGENT_COMMAND: JSON.stringify([process.execPath, RECORDER]),
    MEI_RECORD_DIR: recordDir,
    // Agents get a minimal environment; the recorder's folder is passed by name.
    MEI_AGENT_ENV: 'MEI_RECORD_DIR',
    MEI_DATA_DIR: DATA_DIR,
    MEI_MODEL_DIR: MODEL_DIR,
  });
  const login = await fetch(`${server.url}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password: PASSWORD }) });
  expect(login.status).toBe(200);
  cookie = login.headers.get('set-cookie')!.split(';')[0];
});

afterAll(async () => {
  sockets.forEach((s) => s.disconnect());
  const code = await server?.stop();
  // Kept for post-mortems: what the server and its agents printed.
  writeFileSync(path.join(recordDir, 'server.log'), server?.output() ?? '');
  if (code !== 0) console.log(`server exited with ${code}; log: ${path.join(recordDir, 'server.log')}`);
  // The server kills its workers on shutdown: no agent may outlive it.
  for (const f of ['rec-1', 'real-1']) for (const e of events(f)) expect(alive(e.pid), `agent ${f} pid ${e.pid} still alive`).toBe(false);
});

describe('spine (real server, embedded store, worker processes)', () => {
  it('job lifecycle: create -> agent gets its task -> Running -> delete -> task:stop -> process gone -> job gone', async () => {
    const created = await api('POST', '/api/jobs', {
      metadata: { name: 'spine' },
      spec: {
        cameras: [
          { name: 'cam-a', node: 'rec-1', source: '/recorded/a.mp4' },
          { name: 'cam-b', node: 'rec-1', source: '/recorded/b.mp4', fps: 5 },
        ],
        models: { detector: { name: 'yolox-nano', decoder: 'yolox' } },
      },
    });
    expect(created.status, JSON.stringify(created.json)).toBe(201);
    const uid = created.json.metadata.uid;

    await expect.poll(() => events('rec-1').find((e) => e.event === 'task'), { timeout: 60_000, interval: 250 }).toBeDefined();
    const task: TaskAssignment = events('rec-1').find((e) => e.event === 'task')!.payload;
    expect(task).toMatchObject({ jobKey: 'default/spine', uid, generation: 1, node: 'rec-1', mode: 'live' });
    expect(task.cameras.map((c) => c.name)).toEqual(['cam-a', 'cam-b']);
    const start = events('rec-1').find((e) => e.event === 'start')!;
    expect(start.payload.argv).toEqual(['run', '--server', server.url, '--node', 'rec-1']);
    // The token travels in the environment, not on the command line.
    expect(readFileSync(`/proc/${start.pid}/cmdline`, 'utf8')).not.toContain(tokenOf('rec-1'));

    await expect
      .poll(async () => {
        const s = (await getJob('spine'))?.status;
        return [s?.phase, s?.conditions?.find((c) => c.type === 'Ready')?.status, s?.cameras?.map((c) => c.state).join()];
      }, { timeout: 60_000, interval: 500 })
      .toEqual(['Running', 'True', 'Streaming,Streaming']);
    const running = (await getJob('spine'))!;
    expect(running.metadata.finalizers).toContain('sedna.io/multiedgeinference');
    expect(running.status!.workers![0]).toMatchObject({ node: 'rec-1', phase: 'Running', restarts: 0 });
    expect(running.status!.workers![0].lastHeartbeat).toBeDefined();

    expect((await api('DELETE', '/api/jobs/default/spine')).status).toBe(202);
    await expect.poll(() => events('rec-1').find((e) => e.event === 'task:stop')?.payload, { timeout: 60_000 }).toEqual({ jobKey: 'default/spine', uid, reason: 'job is being deleted' });
    await expect.poll(() => events('rec-1').find((e) => e.event === 'exit')?.payload, { timeout: 60_000 }).toEqual({ code: 0 });
    await expect.poll(() => alive(start.pid), { timeout: 60_000 }).toBe(false);
    await expect.poll(async () => (await api('GET', '/api/jobs/default/spine')).status, { timeout: 60_000 }).toBe(404);
  });

  it('refuses agent connections with a missing, forged or stale token', async () => {
    expect(await connectError(agentSocket(undefined))).toBe('unauthorized');
    expect(await connectError(agentSocket('not.a-token'))).toBe('unauthorized');
    // The token minted for the deleted job above: valid signature, but its job is gone.
    expect(await connectError(agentSocket(tokenOf('rec-1')))).toBe('unauthorized');
    const [body, mac] = tokenOf('rec-1').split('.');
    const claims = JSON.parse(Buffer.from(body, 'base64url').toString());
    const forged = `${Buffer.from(JSON.stringify({ ...claims, node: 'other' })).toString('base64url')}.${mac}`;
    expect(await connectError(agentSocket(forged))).toBe('unauthorized');
  });

  it('runs the real edge agent on the sample video: its camera reaches Streaming and reports frames', async () => {
    expect(existsSync(path.join(DATA_DIR, 'vtest.avi')), `needs ${DATA_DIR}/vtest.avi (set MEI_DATA_DIR)`).toBe(true);
    const created = await api('POST', '/api/jobs', {
      metadata: { name: 'real' },
      spec: {
        cameras: [{ name: 'left', node: 'real-1', source: '${MEI_DATA_DIR}/vtest.avi', fps: 2, loop: true, roi: { x: 0, y: 0, width: 432, height: 576 } }],
        models: { detector: { name: 'yolox-nano', decoder: 'yolox' }, reid: { kind: 'histogram' } },
        workers: [{ node: 'real-1', threads: 1 }],
      },
    });
    expect(created.status, JSON.stringify(created.json)).toBe(201);
    await expect
      .poll(async () => {
        const cam = (await getJob('real'))?.status?.cameras?.[0];
        if (cam?.state === 'Failed') throw new Error(`camera failed: ${cam.message}`);
        return cam?.state === 'Streaming' && (cam.framesProcessed ?? 0) > 0;
      }, { timeout: 120_000, interval: 1000 })
      .toBe(true);
    const pid = events('real-1').find((e) => e.event === 'start')!.pid;
    expect((await api('DELETE', '/api/jobs/default/real')).status).toBe(202);
    await expect.poll(async () => (await api('GET', '/api/jobs/default/real')).status, { timeout: 60_000 }).toBe(404);
    await expect.poll(() => alive(pid), { timeout: 60_000 }).toBe(false);
    expect(events('real-1').find((e) => e.event === 'exit')?.payload).toEqual({ code: 0 });
  });

  it('survives a few hundred malformed, random and oversized socket messages and API bodies (seeded fuzz)', async () => {
    const rand = mulberry32(20251126);
    const pick = <T>(xs: T[]) => xs[Math.floor(rand() * xs.length)];
    const randomValue = (depth = 0): unknown => {
      const kinds = depth > 3 ? 5 : 8;
      switch (Math.floor(rand() * kinds)) {
        case 0: return Math.floor(rand() * 2 ** 31) * (rand() < 0.5 ? -1 : 1);
        case 1: return rand() * 1e308 * (rand() < 0.5 ? -1 : 1);
        case 2: return 'x'.repeat(Math.floor(rand() * 2000));
        case 3: return pick([null, true, false, '', '💥\u0000\ud800', '__proto__', 'constructor']);
        case 4: return pick(['default/spine', 'default/x', '../etc', 'Running', '2025-01-01T00:00:00Z']);
        case 5: return Array.from({ length: Math.floor(rand() * 5) }, () => randomValue(depth + 1));
        default: return Object.fromEntries(Array.from({ length: Math.floor(rand() * 6) }, () => [pick(['jobKey', 'uid', 'phase', 'sentAt', 'cameras', 'generation', 'frames', 'seq', 'camera', 'namespace', '__proto__', 'x']), randomValue(depth + 1)]));
      }
    };
    // A live, authenticated agent connection to attack: a job whose worker is the recording agent.
    const created = await api('POST', '/api/jobs', { metadata: { name: 'fuzz-target' }, spec: { cameras: [{ name: 'cam', node: 'rec-2', source: '/x.mp4' }], models: { detector: { decoder: 'yolox' } } } });
    expect(created.status).toBe(201);
    // Once the recording agent has its task, connect with its token: ours replaces its connection (newest wins).
    await expect.poll(() => events('rec-2').some((e) => e.event === 'task'), { timeout: 60_000 }).toBe(true);
    let s = agentSocket(tokenOf('rec-2'));
    await new Promise<void>((resolve, reject) => (s.once('connect', () => resolve()), s.once('connect_error', reject)));

    let acked = 0;
    for (let i = 0; i < 300; i++) {
      const event = pick(['state', 'task:ack', 'observations', 'state', 'bogus']);
      const payload = rand() < 0.3 ? { jobKey: 'default/fuzz-target', uid: created.json.metadata.uid, phase: 'Running', sentAt: new Date().toISOString(), cameras: randomValue() } : randomValue();
      const ack = await s.timeout(5000).emitWithAck(event, payload);
      // observations answer with an IngestAck (a code), every other event with an Ack.
      if (event === 'observations') {
        expect(['committed', 'retry-later', 'refused']).toContain(ack.code);
        if (ack.code === 'refused') expect(typeof ack.error).toBe('string');
      } else if (event === 'bogus') {
        expect(ack).toEqual({ ok: false, error: 'unknown event "bogus"' });
      } else {
        // The exact answer the contract predicts: the schema's first problem (field and message), else a
        // message of another job is refused naming jobKey, else the state report is taken.
        const parsed = (event === 'state' ? AgentStateSchema : TaskAckSchema).safeParse(payload);
        const expected = !parsed.success
          ? { ok: false, ...describeZodError(parsed.error) }
          : (parsed.data as { jobKey: string }).jobKey !== 'default/fuzz-target'
            ? { ok: false, field: 'jobKey', error: 'jobKey: this connection belongs to default/fuzz-target' }
            : { ok: true };
        expect(ack, `${event} ${JSON.stringify(payload).slice(0, 200)}`).toEqual(expected);
      }
      acked++;
    }
    expect(acked).toBe(300);
    // The seed happens to draw no valid report; a valid one after all that fuzz is still taken.
    const report = { jobKey: 'default/fuzz-target', uid: created.json.metadata.uid, phase: 'Running', sentAt: new Date().toISOString(), cameras: [] };
    expect(AgentStateSchema.safeParse(report).success).toBe(true);
    expect(await s.timeout(5000).emitWithAck('state', report)).toEqual({ ok: true });
    // Over the transport limit: the server drops the connection instead of parsing it.
    const disconnected = new Promise<string>((resolve) => s.once('disconnect', (reason) => resolve(reason)));
    s.emit('state', { blob: 'y'.repeat(MAX_MESSAGE_BYTES + 10) });
    // The server closes the WebSocket (1009, message too big): the client did not leave and was not kicked out.
    expect(await disconnected).toBe('transport close');

    const statuses = new Map<number, number>();
    for (let i = 0; i < 200; i++) {
      const kind = i % 5;
      let res;
      if (kind === 0) res = await api('POST', '/api/jobs', undefined, { raw: JSON.stringify(randomValue()) });
      else if (kind === 1) res = await api('POST', '/api/jobs', undefined, { raw: JSON.stringify(randomValue()).slice(0, Math.floor(rand() * 40)) + '{' });
      else if (kind === 2) res = await api('POST', '/api/jobs', { metadata: { name: 'fuzz' }, spec: mutate(rand, created.json.spec, randomValue) });
      else if (kind === 3) res = await api('POST', '/api/jobs', undefined, { raw: 'z'.repeat(300_000 + Math.floor(rand() * 1000)) });
      else res = await api('POST', '/api/auth/login', undefined, { raw: JSON.stringify(randomValue()), type: pick(['application/json', 'text/plain', 'application/x-www-form-urlencoded']) });
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      expect([400, 401, 409, 413, 422, 429, 201], `status ${res.status}: ${JSON.stringify(res.json).slice(0, 300)}`).toContain(res.status);
      if (res.status >= 400) expect(typeof res.json.error).toBe('string');
    }
    expect(statuses.get(413)).toBe(40);
    expect((await fetch(`${server.url}/api/health`)).status).toBe(200);

    // Still fully working: a fresh connection with the same token is accepted and served.
    s = agentSocket(tokenOf('rec-2'));
    await new Promise<void>((resolve, reject) => (s.once('connect', () => resolve()), s.once('connect_error', reject)));
    s.disconnect();
    for (const name of ['fuzz-target', 'fuzz']) await api('DELETE', `/api/jobs/default/${name}`);
    await expect.poll(async () => (await api('GET', '/api/jobs')).json.items.length, { timeout: 60_000 }).toBe(0);
  });
});


/** A copy of `obj` with one random leaf replaced by a random value. */
function mutate(rand: () => number, obj: unknown, randomValue: () => unknown): unknown {
  const copy = structuredClone(obj) as any;
  let cur = copy;
  for (let depth = 0; depth < 4 && cur && typeof cur === 'object'; depth++) {
    const keys = Object.keys(cur);
    if (!keys.length) break;
    const k = keys[Math.floor(rand() * keys.length)];
    if (depth === 3 || typeof cur[k] !== 'object' || cur[k] === null || rand() < 0.3) {
      cur[k] = randomValue();
      break;
    }
    cur = cur[k];
  }
  return copy;
}
