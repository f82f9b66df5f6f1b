// Failover without loss (issue #14, part 3), against the real kube-apiserver of the harness: real MEI server
// processes in Kubernetes mode (headless: MEI_DASHBOARD=off) sharing one real PostgreSQL and one MEI_SECRET,
// each reaching the apiserver through its own TCP proxy (so the test can partition it), and real edge agent
// processes (`mei-agent run`, scripted cameras: mock, no video or models — test/integration/fixtures/
// scripted-agent.ts) with the tokens the leader wrote into the worker Secrets. Agents reach "the Service":
// service-proxy.ts (mock of a Service: endpoints = pods with the leader label AND a 200 from /readyz).
// Under load: the leader is SIGKILLed; then the next leader is cut off from the apiserver by a partition that
// drops packets; then a rolling update (a new replica, the old ones stopped with SIGTERM one by one). Asserted
// on what was recorded: the set of batches in the ingest log equals what the cameras produced (no loss, no
// duplicate, no seq gap, none refused), every row applied, history continuous per track, never a stale
// leader label once a new leader serves, the cut-off leader unready and no longer serving before the standby
// took the lease, agent tokens and browser sessions valid on every new leader.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CoordinationV1Api, CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { decodeObservations, UI_NAMESPACE } from '@mei/contracts';
import { CRD_PATH } from '@mei/contracts/crd';
import pg from 'pg';
import { io } from 'socket.io-client';
import { Sessions } from '../../server/auth/sessions.ts';
import { KubernetesJobBackend } from '../../server/kubernetes/backend.ts';
import { LEADER_LABEL } from '../../server/kubernetes/leader.ts';
import { LABEL_NODE, WORKER_SELECTOR } from '../../server/kubernetes/pod-template.ts';
import { openDatabase } from '../../server/store/db.ts';
import { REPO_ROOT, freePort, startServer, type ServerProcess } from '../integration/server-process.ts';
import { startPostgres, type TestPostgres } from '../support/postgres.ts';
import { installCrd, kubeConfigFor, useKube } from './cluster.ts';
import { startServiceProxy, type ServiceProxy } from './service-proxy.ts';
import { freshNamespace, startProxy, viaProxy, waitFor, type Proxy } from './support.ts';

const kube = useKube();
const SCRIPTED_AGENT = path.join(REPO_ROOT, 'test/integration/fixtures/scripted-agent.ts');
/** Lease 6 s: renew deadline 4 s, retry 0.8 s, unready after 2 s without renewal (server/kubernetes/config.ts). */
const LEASE_S = 6;
const INSTANCE = 'mei-fo';
const NODES = ['edge-0', 'edge-1', 'edge-2'];
const CAMERAS = NODES.flatMap((n, i) => [`cam-${2 * i}`, `cam-${2 * i + 1}`].map((c) => ({ name: c, node: n })));
/** Frames per batch at 10 fps: a batch per camera per second. */
const BATCH_FRAMES = 10;
const FRAME_MS = 100;
/** The history writer's default trajectory point interval (server/history/writer.ts). */
const POINT_INTERVAL_MS = 500;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Replica {
  name: string;
  port: number;
  stateDir: string;
  apiProxy: Proxy;
  kubeconfig: string;
  process?: ServerProcess;
  /** Each start: when the test saw "shutting down (...)" and the exit. */
  lives: Array<{ startedAt: number; shutdownSeenAt?: number; shutdownWhy?: string; exitedAt?: number; exit?: { code: number | null; signal: string | null } }>;
  output: string;
}

let kc: KubeConfig;
let core: CoreV1Api;
let system: string;
let jobs: string;
let postgres: TestPostgres | undefined;
let service: ServiceProxy | undefined;
let scratch: string;
const secret = randomBytes(24).toString('hex');
const replicas = new Map<string, Replica>();
const agents: Array<{ node: string; child: ChildProcess; out: string }> = [];

beforeAll(async () => {
  kc = kubeConfigFor(kube());
  core = kc.makeApiClient(CoreV1Api);
  await installCrd(kc, CRD_PATH);
  system = await freshNamespace(kc, 'mei-fo-sys');
  jobs = await freshNamespace(kc, 'mei-fo');
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'mei-failover-'));
  postgres = await startPostgres();
  // Migrate once before the replicas start (as a chart's pre-install step would): they then start on a current schema.
  await (await openDatabase({ url: postgres.url })).close();
  service = await startServiceProxy({ kc, namespace: system, selector: `app.kubernetes.io/instance=${INSTANCE},${LEADER_LABEL}=true` });
});

afterAll(async () => {
  for (const a of agents) if (a.child.exitCode === null && a.child.signalCode === null) a.child.kill('SIGKILL');
  for (const r of replicas.values()) {
    if (r.process && r.process.child.exitCode === null && r.process.child.signalCode === null) r.process.child.kill('SIGKILL');
    await r.apiProxy.close();
  }
  await service?.close();
  await postgres?.stop();
  if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
});

const alive = (c: ChildProcess) => c.exitCode === null && c.signalCode === null;

/** A replica as a Deployment makes one: its Pod object (no kubelet here: the process below is its container). */
async function createReplica(name: string): Promise<Replica> {
  await core.createNamespacedPod({
    namespace: system,
    body: {
      metadata: { name, namespace: system, labels: { 'app.kubernetes.io/name': 'mei-server', 'app.kubernetes.io/instance': INSTANCE } },
      spec: { nodeName: 'control-1', containers: [{ name: 'server', image: 'mei/server:test' }] },
    },
  });
  const apiProxy = await startProxy(Number(new URL(kube().url).port));
  const kubeconfig = path.join(scratch, `${name}.kubeconfig`);
  fs.writeFileSync(kubeconfig, viaProxy(kc, apiProxy).exportConfig(), { mode: 0o600 });
  const r: Replica = { name, port: await freePort(), stateDir: fs.mkdtempSync(path.join(scratch, `${name}-`)), apiProxy, kubeconfig, lives: [], output: '' };
  replicas.set(name, r);
  return r;
}

/** Starts (or restarts, as a kubelet restarts a container) the server process of a replica. */
async function startReplica(r: Replica): Promise<void> {
  const env: Record<string, string> = {
    MEI_MODE: 'kubernetes',
    KUBECONFIG: r.kubeconfig,
    POD_NAME: r.name,
    POD_NAMESPACE: system,
    MEI_NAMESPACES: jobs,
    MEI_LEASE_NAME: INSTANCE,
    MEI_LEASE_DURATION_SECONDS: String(LEASE_S),
    MEI_EDGE_NODES: 'false',
    MEI_PUBLIC_URL: `http://127.0.0.1:${service!.port}`,
    DATABASE_URL: postgres!.url,
    MEI_SECRET: secret,
    MEI_ADMIN_PASSWORD: 'failover-admin-password',
    MEI_DASHBOARD: 'off',
    MEI_DEMO: '0',
    NODE_ENV: 'production',
  };
  const life: Replica['lives'][number] = { startedAt: Date.now() };
  r.lives.push(life);
  const p = await startServer(env, 240_000, { port: r.port, stateDir: r.stateDir });
  r.process = p;
  const watch = (d: Buffer) => {
    const m = /shutting down \(([^)]*)\)/.exec(String(d));
    if (m && life.shutdownSeenAt === undefined) [life.shutdownSeenAt, life.shutdownWhy] = [Date.now(), m[1]];
  };
  p.child.stdout!.on('data', watch);
  p.child.stderr!.on('data', watch);
  p.child.once('exit', (code, signal) => {
    life.exitedAt = Date.now();
    life.exit = { code, signal };
    r.output += p.output();
  });
  service!.add({ name: r.name, port: r.port });
}

async function exited(r: Replica): Promise<void> {
  const c = r.process?.child;
  if (c && alive(c)) await new Promise((res) => c.once('exit', res));
}

const readLease = () => kc.makeApiClient(CoordinationV1Api).readNamespacedLease({ name: INSTANCE, namespace: system });
/** The pod name of the lease holder ('' when free); identities are `<pod>_<random>`. */
const holderPod = async () => (await readLease()).spec?.holderIdentity?.replace(/_[0-9a-f]+$/, '') ?? '';
const labelled = async () => (await core.listNamespacedPod({ namespace: system, labelSelector: `${LEADER_LABEL}=true` })).items.map((p) => p.metadata!.name!).sort();
const readyz = async (r: Replica) => {
  try {
    const res = await fetch(`http://127.0.0.1:${r.port}/readyz`, { signal: AbortSignal.timeout(2_000) });
    return { status: res.status, body: (await res.json()) as { ready: boolean; checks: Array<{ name: string; ok: boolean; reason?: string }> } };
  } catch (err) {
    return { status: 0, body: { ready: false, checks: [{ name: 'connect', ok: false, reason: (err as Error).message }] } };
  }
};

/**
 * A new leader serves: it holds the lease, is the only labelled pod (no stale label), its /readyz is 200, and
 * the Service routes to it alone. Returns its name.
 */
async function leaderServes(not: string | undefined, what: string): Promise<string> {
  return waitFor(
    what,
    async () => {
      const holder = await holderPod();
      if (!holder || holder === not) return undefined;
      const r = replicas.get(holder);
      if (!r || (await labelled()).join() !== holder || (await readyz(r)).status !== 200) return undefined;
      return service!.endpoints.join() === holder && holder;
    },
    180_000,
    50,
  );
}

/** Every agent is connected (its last connect line is newer than its last disconnect line). */
function agentsConnectedSince(t: number, marks: Map<string, number>): boolean {
  return agents.every((a) => (marks.get(a.node) ?? 0) > t);
}

/** A browser session cookie, signed as the login route signs it (shared MEI_SECRET): it must open /ui on any leader. */
const cookie = new Sessions(Buffer.from(secret, 'utf8'), { get: (u: string) => ({ username: u, namespaces: ['*'] }) }).create('admin').split(';')[0];
async function sessionOpensUi(): Promise<boolean> {
  const s = io(`http://127.0.0.1:${service!.port}${UI_NAMESPACE}`, { forceNew: true, transports: ['websocket'], reconnection: false, extraHeaders: { cookie } });
  try {
    await new Promise<void>((resolve, reject) => {
      s.once('connect', () => resolve());
      s.once('connect_error', reject);
    });
    const ack = (await s.timeout(30_000).emitWithAck('jobs:subscribe', { namespace: jobs })) as { ok: boolean };
    return ack.ok;
  } finally {
    s.close();
  }
}

describe('failover without loss (real apiserver, PostgreSQL, server and agent processes)', () => {
  it('SIGKILL of the leader, a leader cut off from the apiserver, a rolling update: nothing refused, lost or doubled', async () => {
    const scriptDir = path.join(scratch, 'script');
    fs.mkdirSync(scriptDir);
    const a = await createReplica('mei-a');
    const b = await createReplica('mei-b');
    await startReplica(a);
    await startReplica(b);
    const first = await leaderServes(undefined, 'a first leader serves');

    // The job, as a user creates it; the leader adds its finalizer, worker pods and their token Secrets.
    const backend = new KubernetesJobBackend(kc, { resyncMs: 0 });
    const job = await backend.create({
      metadata: { name: 'fo', namespace: jobs },
      spec: { cameras: CAMERAS.map((c) => ({ ...c, source: `rtsp://${c.name}.example/stream` })), models: { detector: { decoder: 'yolox' } } },
    });
    await backend.close();
    const secrets = await waitFor(
      'a token Secret per node',
      async () => {
        const items = (await core.listNamespacedSecret({ namespace: jobs, labelSelector: `${WORKER_SELECTOR},sedna.io/job-name=fo` })).items;
        return items.length === NODES.length && items;
      },
      120_000,
      100,
    );
    // The agents, started as the worker pods would be: the token from the pod's Secret, the Service's URL.
    const connectedAt = new Map<string, number>();
    for (const sec of secrets) {
      const node = sec.metadata!.labels![LABEL_NODE];
      const token = Buffer.from(sec.data!.token, 'base64').toString();
      const child = spawn(process.execPath, ['--import', 'tsx', SCRIPTED_AGENT, 'run', '--server', `http://127.0.0.1:${service!.port}`, '--node', node], {
        cwd: REPO_ROOT,
        env: { ...process.env, MEI_AGENT_TOKEN: token, MEI_SCRIPT_DIR: scriptDir, MEI_SCRIPT_BATCH_FRAMES: String(BATCH_FRAMES), MEI_AGENT_STATE_DIR: path.join(scratch, `agent-${node}`) },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const agent = { node, child, out: '' };
      const onData = (d: Buffer) => {
        agent.out += d;
        if (String(d).split('\n').some((l) => /\bconnected to /.test(l) && !/disconnected/.test(l))) connectedAt.set(node, Date.now());
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      agents.push(agent);
    }
    const produced = (camera: string) => {
      const f = path.join(scriptDir, `${camera}.produced`);
      return fs.existsSync(f) ? fs.readFileSync(f, 'utf8').split('\n').filter(Boolean) : [];
    };
    const committedRows = async () => {
      const c = new pg.Client({ connectionString: postgres!.url });
      await c.connect();
      try {
        return Number((await c.query(`SELECT count(*) AS n FROM ingest_log WHERE job_uid = $1`, [job.metadata.uid])).rows[0].n);
      } finally {
        await c.end();
      }
    };
    /** Load: the cameras keep producing and the current leader keeps committing (more rows than at `since`). */
    const moreCommitted = async (what: string, n = 2 * CAMERAS.length) => {
      const before = await committedRows();
      await waitFor(what, async () => (await committedRows()) >= before + n, 180_000, 200);
    };
    await waitFor('every camera produced', () => CAMERAS.every((c) => produced(c.name).length > 0), 120_000, 100);
    await moreCommitted('batches committed by the first leader');
    expect(await sessionOpensUi()).toBe(true);
    const facts: Record<string, unknown> = {};

    // 1. SIGKILL the leader under load. The standby takes the lease once it expired, then labels itself and
    //    removes the dead leader's label; the agents reconnect to it with the tokens the dead leader minted.
    const victim = replicas.get(first)!;
    const killedAt = Date.now();
    victim.process!.child.kill('SIGKILL');
    await exited(victim);
    const second = await leaderServes(first, 'the standby serves after the SIGKILL');
    facts.sigkill = { killed: first, newLeader: second, servingAfterMs: Date.now() - killedAt };
    await waitFor('agents reconnected to the new leader', () => agentsConnectedSince(killedAt, connectedAt), 180_000, 100);
    expect(await sessionOpensUi()).toBe(true);
    await moreCommitted('batches committed by the second leader');
    await startReplica(victim); // the kubelet restarts the container: a standby now
    expect((await readyz(victim)).body.checks.find((c) => c.name === 'leader')).toMatchObject({ ok: false });

    // 2. Cut the leader off from the apiserver (packets dropped: requests hang). It must turn unready, stop
    //    serving (shut down) before the standby holds the lease, and its stale label must go.
    const cutOff = replicas.get(second)!;
    const oldLife = cutOff.lives.at(-1)!;
    let unreadyAt: number | undefined;
    let newHolderAt: number | undefined;
    let newHolder = '';
    let endpointsWhileOldServed: string[][] = [];
    const cutAt = Date.now();
    cutOff.apiProxy.blackhole();
    await waitFor(
      'the standby holds the lease',
      async () => {
        const h = await holderPod().catch(() => second);
        if (unreadyAt === undefined && (await readyz(cutOff)).status !== 200) unreadyAt = Date.now();
        if (h && h !== second) [newHolderAt, newHolder] = [Date.now(), h];
        return newHolderAt;
      },
      180_000,
      25,
    );
    endpointsWhileOldServed = service!.changes.filter((c) => c.at >= cutAt).map((c) => c.endpoints);
    const third = await leaderServes(second, 'the standby serves after the partition');
    expect(third).toBe(newHolder);
    await exited(cutOff);
    facts.partition = {
      cutOff: second,
      newLeader: third,
      unreadyAfterMs: unreadyAt! - cutAt,
      shutdownAfterMs: oldLife.shutdownSeenAt! - cutAt,
      shutdownWhy: oldLife.shutdownWhy,
      leaseTakenAfterMs: newHolderAt! - cutAt,
      exit: oldLife.exit,
    };
    // Recorded order: unready, then no longer serving (ingest closed, agents told retry-later), then the new holder.
    expect(unreadyAt).toBeLessThan(newHolderAt!);
    expect(oldLife.shutdownWhy).toBe('lost the leader lease');
    expect(oldLife.shutdownSeenAt).toBeLessThan(newHolderAt!);
    // The Service never again listed the cut-off replica once it was unready.
    expect(service!.changes.filter((c) => c.at > unreadyAt! + 500).some((c) => c.endpoints.includes(second)), JSON.stringify(endpointsWhileOldServed)).toBe(false);
    await waitFor('agents reconnected to the third leader', () => agentsConnectedSince(newHolderAt!, connectedAt), 180_000, 100);
    expect(await sessionOpensUi()).toBe(true);
    await moreCommitted('batches committed by the third leader');
    cutOff.apiProxy.restore(); // the partition heals; the kubelet restarts the exited container
    await startReplica(cutOff);

    // 3. Rolling update (maxSurge 1, maxUnavailable 0): a new replica, once ready, then an old one stopped
    //    gracefully (the leader first: it releases the lease), and again for the second old replica.
    const olds = [third, third === 'mei-a' ? 'mei-b' : 'mei-a'];
    const rolled: Array<{ stopped: string; leader: string; exit: unknown }> = [];
    for (const [i, old] of olds.entries()) {
      const fresh = await createReplica(`mei-new-${i}`);
      await startReplica(fresh); // startServer waits for /api/health 200: a ready standby
      const leaderBefore = await holderPod();
      const r = replicas.get(old)!;
      const stoppedAt = Date.now();
      await r.process!.stop();
      const leader = leaderBefore === old ? await leaderServes(old, `a leader serves after ${old} stopped`) : leaderBefore;
      rolled.push({ stopped: old, leader, exit: r.lives.at(-1)!.exit });
      if (leaderBefore === old) {
        expect(r.lives.at(-1)!.exit).toEqual({ code: 0, signal: null }); // released, not lost
        await waitFor('agents reconnected after the rolling step', () => agentsConnectedSince(stoppedAt, connectedAt), 180_000, 100);
      }
      await core.deleteNamespacedPod({ name: old, namespace: system });
      service!.remove(old);
      await moreCommitted(`batches committed after rolling ${old}`);
    }
    facts.rolling = rolled;
    expect(await sessionOpensUi()).toBe(true);

    // The cameras stop; the agents drain their spools; the servers stop gracefully.
    fs.writeFileSync(path.join(scriptDir, 'stop'), '');
    await waitFor('agents drained', () => CAMERAS.every((c) => produced(c.name).some((l) => l.startsWith('drained'))), 300_000, 250);
    for (const ag of agents) expect(alive(ag.child), `agent ${ag.node} still running (its token kept working)\n${ag.out.slice(-2000)}`).toBe(true);
    for (const ag of agents) ag.child.kill('SIGTERM');
    await Promise.all(agents.map((ag) => (alive(ag.child) ? new Promise((res) => ag.child.once('exit', res)) : undefined)));
    const finalLeader = await holderPod();
    expect(await labelled()).toEqual([finalLeader]);
    for (const r of replicas.values()) if (r.process && alive(r.process.child)) await r.process.stop();

    // What was committed equals what was produced: per camera, each batch (its first frame) exactly once.
    const db = await openDatabase({ url: postgres!.url, migrate: false });
    let rows: Array<{ camera: string; session: string; seq: string; payload: Uint8Array; applied: boolean }>;
    let points: Array<{ camera: string; session: string; local_id: number; start_ms: string; end_ms: string; ts: number[] }>;
    try {
      rows = await db.sql.query(`SELECT camera, session, seq::text AS seq, payload, applied FROM ingest_log WHERE job_uid = $1 ORDER BY camera, session, seq`, [job.metadata.uid]);
      points = await db.sql.query(
        `SELECT t.camera, t.session, t.local_id, t.start_ms::text AS start_ms, t.end_ms::text AS end_ms,
                COALESCE((SELECT array_agg((p->>0)::float8 ORDER BY (p->>0)::float8) FROM track_segments s, jsonb_array_elements(s.points) p WHERE s.track_id = t.id), '{}') AS ts
         FROM tracks t WHERE t.job_uid = $1 ORDER BY t.camera, t.session, t.local_id`,
        [job.metadata.uid],
      );
    } finally {
      await db.close();
    }
    const producedFirst = new Map(CAMERAS.map((c) => [c.name, produced(c.name).filter((l) => /^\d+$/.test(l)).map(Number)]));
    const seen = new Map<string, number>();
    const streams = new Map<string, number[]>();
    for (const r of rows) {
      const firstFrame = decodeObservations(new Uint8Array(r.payload)).frames[0].frameIndex;
      const k = `${r.camera}#${firstFrame}`;
      seen.set(k, (seen.get(k) ?? 0) + 1);
      streams.set(`${r.camera}/${r.session}`, [...(streams.get(`${r.camera}/${r.session}`) ?? []), Number(r.seq)]);
    }
    const expected = [...producedFirst].flatMap(([c, fs]) => fs.map((f) => `${c}#${f}`)).sort();
    const lost = expected.filter((k) => !seen.has(k));
    const unexpected = [...seen.keys()].filter((k) => !expected.includes(k));
    const duplicated = [...seen].filter(([, n]) => n > 1).map(([k]) => k);
    const seqGaps = [...streams.values()].reduce((n, s) => n + (s[s.length - 1] - s[0] + 1 - s.length), 0);
    const refused = agents.flatMap((ag) => ag.out.split('\n').filter((l) => /observations \S+ refused \(/.test(l)));
    const authRefusals = agents.flatMap((ag) => ag.out.split('\n').filter((l) => /server refused the connection/.test(l)));

    // History continuous: each person of each camera is one track from the first produced frame to the last,
    // its trajectory without a gap wider than the point interval and without a doubled point.
    const lastFrame = new Map([...producedFirst].map(([c, fs]) => [c, Math.max(...fs) + BATCH_FRAMES - 1]));
    const firstFrame = new Map([...producedFirst].map(([c, fs]) => [c, Math.min(...fs)]));
    const historyProblems: string[] = [];
    for (const t of points) {
      const id = `${t.camera}/${t.local_id}`;
      if (Number(t.start_ms) !== firstFrame.get(t.camera)! * FRAME_MS || Number(t.end_ms) !== lastFrame.get(t.camera)! * FRAME_MS)
        historyProblems.push(`${id}: track ${t.start_ms}-${t.end_ms} ms, produced ${firstFrame.get(t.camera)! * FRAME_MS}-${lastFrame.get(t.camera)! * FRAME_MS}`);
      const ts = t.ts.map(Number);
      for (let i = 1; i < ts.length; i++) {
        if (ts[i] === ts[i - 1]) historyProblems.push(`${id}: point at ${ts[i]} ms stored twice`);
        else if (ts[i] - ts[i - 1] > POINT_INTERVAL_MS) historyProblems.push(`${id}: gap ${ts[i - 1]}-${ts[i]} ms`);
      }
      if (ts[0] !== Number(t.start_ms) || ts[ts.length - 1] !== Number(t.end_ms)) historyProblems.push(`${id}: points ${ts[0]}-${ts.at(-1)} ms, track ${t.start_ms}-${t.end_ms}`);
    }
    const summary = {
      produced: expected.length,
      committed: expected.length - lost.length,
      lost: lost.length,
      duplicated: duplicated.length,
      unexpected: unexpected.length,
      seqGaps,
      unapplied: rows.filter((r) => !r.applied).length,
      refused: refused.length,
      authRefusals: authRefusals.length,
      tracks: points.length,
      historyProblems: historyProblems.length,
      routed: service!.routed.length,
      resetNoEndpoint: service!.routed.filter((x) => !x.to).length,
      ...facts,
    };
    console.log(`[failover] ${JSON.stringify(summary)}`);
    const context = `${JSON.stringify(summary)}\n${historyProblems.slice(0, 20).join('\n')}\n${agents.map((ag) => `--- ${ag.node}\n${ag.out.slice(-1500)}`).join('\n')}`;
    expect(lost, context).toEqual([]);
    expect(duplicated, context).toEqual([]);
    expect(unexpected, context).toEqual([]);
    expect(seqGaps, context).toBe(0);
    expect(summary.unapplied, context).toBe(0);
    expect(refused, context).toEqual([]);
    expect(points.length, context).toBe(CAMERAS.length * 10); // 10 scripted people per camera, one session each
    expect(historyProblems, context).toEqual([]);
  }, 1_500_000);
});
