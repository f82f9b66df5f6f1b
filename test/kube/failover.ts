// The failover scenario of issue #14 (part 3), used by test/kube/failover.test.ts and scripts/bench-failover.ts,
// against a real kube-apiserver: real MEI server processes in Kubernetes mode (headless: MEI_DASHBOARD=off)
// sharing one real PostgreSQL and one MEI_SECRET, each reaching the apiserver through its own TCP proxy (so a
// replica can be partitioned), and real edge agent processes (`mei-agent run` with scripted cameras: mock, no
// video or models — test/integration/fixtures/scripted-agent.ts) holding the tokens the leader wrote into the
// worker Secrets. The agents reach "the Service": service-proxy.ts (a stand-in: endpoints = pods with the
// leader label AND a 200 from /readyz). While the cameras produce:
//   1. the leader is SIGKILLed (restarted afterwards, as a kubelet restarts a container);
//   2. the next leader is cut off from the apiserver by a partition that drops packets (requests hang);
//   3. a rolling update: a new replica, once ready, then an old one stopped with SIGTERM, twice.
// Then the cameras stop, the agents drain their spools, and the ingest log and history are read back. The
// result holds facts only (times, sets, what each party logged); the test asserts on them.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CoordinationV1Api, CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { decodeObservations, UI_NAMESPACE } from '@mei/contracts';
import pg from 'pg';
import { io } from 'socket.io-client';
import { Sessions } from '../../server/auth/sessions.ts';
import { KubernetesJobBackend } from '../../server/backends/kubernetes/job-backend.ts';
import { installCrd } from '../../server/backends/kubernetes/config.ts';
import { LEADER_LABEL } from '../../server/backends/kubernetes/leader.ts';
import { LABEL_NODE, WORKER_SELECTOR } from '../../server/backends/kubernetes/pod-template.ts';
import { openDatabase } from '../../server/store/db.ts';
import { REPO_ROOT, freePort, startServer, type ServerProcess } from '../integration/server-process.ts';
import { startPostgres } from '../support/postgres.ts';
import { startServiceProxy, type ServiceProxy } from './service-proxy.ts';
import { freshNamespace, startProxy, viaProxy, waitFor, type Proxy } from './support.ts';

const SCRIPTED_AGENT = path.join(REPO_ROOT, 'test/integration/fixtures/scripted-agent.ts');
const INSTANCE = 'mei-fo';
/** Frames per batch at 10 fps: one batch per camera per second. */
const BATCH_FRAMES = 10;
const FRAME_MS = 100;
/** Scripted people per camera (the fixture's default). */
export const PEOPLE = 10;
/** The history writer's default trajectory point interval (server/history/writer.ts). */
export const POINT_INTERVAL_MS = 500;

export interface FailoverOptions {
  /** Admin kubeconfig of the apiserver. */
  kubeconfigPath: string;
  /** Lease duration (s): renew deadline 2/3 of it, unready after 1/3 without renewal (server/backends/kubernetes/config.ts). */
  leaseSeconds?: number;
  nodes?: number;
  /** Cameras per node. */
  camerasPerNode?: number;
  log?: (msg: string) => void;
}

interface Life {
  startedAt: number;
  /** When the process logged "shutting down (<why>)" (its own log time): from then on ingest answers retry-later. */
  shutdownAt?: number;
  shutdownWhy?: string;
  exit?: { code: number | null; signal: string | null };
}

interface Replica {
  name: string;
  port: number;
  stateDir: string;
  apiProxy: Proxy;
  kubeconfig: string;
  process?: ServerProcess;
  lives: Life[];
}

export interface FailoverResult {
  cameras: number;
  /** Batches the cameras produced (per camera, by first frame). */
  produced: number;
  committed: number;
  lost: string[];
  /** Produced batches stored more than once (under different seqs). */
  duplicated: string[];
  unexpected: string[];
  seqGaps: number;
  unapplied: number;
  /** Agent log lines of batches the server refused. */
  refused: string[];
  /** Agent log lines of connections the server refused (token not accepted). */
  authRefusals: string[];
  /** Agents that exited before they were told to (a token refused for good). */
  deadAgents: string[];
  /** Stored tracks, and the number expected (people x cameras, one session each). */
  tracks: number;
  expectedTracks: number;
  /** Per track: not spanning the produced frames, a gap wider than the point interval, a doubled point. */
  historyProblems: string[];
  /** Whether the pre-failover session cookie opened /ui on each leader (first, after each phase). */
  sessions: boolean[];
  /** The labelled pods and the lease holder at the end. */
  labelledAtEnd: string[];
  leaderAtEnd: string;
  sigkill: { killed: string; newLeader: string; servingAfterMs: number; agentsBackAfterMs: number; restartedIsStandby: boolean };
  partition: {
    cutOff: string;
    newLeader: string;
    /**
     * Times from the cut: /readyz of the cut-off replica seen non-200 (test clock, polled), its shutdown line (its
     * own log time), the lease taken by another (the lease's acquireTime, written by the new holder).
     */
    unreadyAfterMs?: number;
    shutdownAfterMs?: number;
    shutdownWhy?: string;
    leaseTakenAfterMs: number;
    servingAfterMs: number;
    agentsBackAfterMs: number;
    /** Endpoint sets the Service listed after the replica was seen unready (+500 ms of probe lag). */
    listedAfterUnready: string[][];
    /** Connections the Service routed to the cut-off replica once another held the lease. */
    routedToItAfterTakeover: number;
    exit?: Life['exit'];
  };
  rolling: Array<{ stopped: string; wasLeader: boolean; leader: string; exit?: Life['exit']; servingAfterMs?: number }>;
  /** Connections the Service routed, and those reset for want of an endpoint. */
  routed: number;
  resetNoEndpoint: number;
  wallMs: number;
  /** The tail of each agent's output (for failure messages). */
  agentOutput: string;
}

const alive = (c: ChildProcess) => c.exitCode === null && c.signalCode === null;

export async function runFailover(o: FailoverOptions): Promise<FailoverResult> {
  const t0 = Date.now();
  const log = o.log ?? (() => {});
  const leaseSeconds = o.leaseSeconds ?? 6;
  const nodes = Array.from({ length: o.nodes ?? 3 }, (_, i) => `edge-${i}`);
  const cameras = nodes.flatMap((node, i) => Array.from({ length: o.camerasPerNode ?? 2 }, (_, k) => ({ name: `cam-${i}-${k}`, node })));
  const kc = new KubeConfig();
  kc.loadFromFile(o.kubeconfigPath);
  const apiserverPort = Number(new URL(kc.getCurrentCluster()!.server).port);
  const core = kc.makeApiClient(CoreV1Api);
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'mei-failover-'));
  const secret = randomBytes(24).toString('hex');
  const replicas = new Map<string, Replica>();
  const agents: Array<{ node: string; child: ChildProcess; out: string; connectedAt: number }> = [];
  const postgres = await startPostgres();
  let service: ServiceProxy | undefined;
  try {
    await installCrd(kc);
    const system = await freshNamespace(kc, 'mei-fo-sys');
    const jobs = await freshNamespace(kc, 'mei-fo');
    // Migrated once before the replicas start (as an install step would): they then start on a current schema.
    await (await openDatabase({ url: postgres.url })).close();
    const svc = (service = await startServiceProxy({ kc, namespace: system, selector: `app.kubernetes.io/instance=${INSTANCE},${LEADER_LABEL}=true` }));

    /** A replica as a Deployment makes one: its Pod object (no kubelet here: the process is its container). */
    const createReplica = async (name: string): Promise<Replica> => {
      await core.createNamespacedPod({
        namespace: system,
        body: {
          metadata: { name, namespace: system, labels: { 'app.kubernetes.io/name': 'mei-server', 'app.kubernetes.io/instance': INSTANCE } },
          spec: { nodeName: 'control-1', containers: [{ name: 'server', image: 'mei/server:test' }] },
        },
      });
      const apiProxy = await startProxy(apiserverPort);
      const kubeconfig = path.join(scratch, `${name}.kubeconfig`);
      fs.writeFileSync(kubeconfig, viaProxy(kc, apiProxy).exportConfig(), { mode: 0o600 });
      const r: Replica = { name, port: await freePort(), stateDir: fs.mkdtempSync(path.join(scratch, `${name}-`)), apiProxy, kubeconfig, lives: [] };
      replicas.set(name, r);
      return r;
    };
    /** Starts (or restarts, as a kubelet restarts a container) a replica's server; resolves once /api/health is 200. */
    const startReplica = async (r: Replica): Promise<void> => {
      const life: Life = { startedAt: Date.now() };
      r.lives.push(life);
      r.process = await startServer(
        {
          MEI_MODE: 'kubernetes',
          KUBECONFIG: r.kubeconfig,
          POD_NAME: r.name,
          POD_NAMESPACE: system,
          MEI_NAMESPACES: jobs,
          MEI_LEASE_NAME: INSTANCE,
          MEI_LEASE_DURATION_SECONDS: String(leaseSeconds),
          MEI_EDGE_NODES: 'false',
          MEI_PUBLIC_URL: `http://127.0.0.1:${svc.port}`,
          DATABASE_URL: postgres.url,
          MEI_SECRET: secret,
          MEI_ADMIN_PASSWORD: 'failover-admin-password',
          MEI_DASHBOARD: 'off',
          MEI_DEMO: '0',
          NODE_ENV: 'production',
        },
        240_000,
        { port: r.port, stateDir: r.stateDir },
      );
      // Kubernetes mode logs JSON lines with the process's own time: the moment it stopped serving, by its clock.
      const watch = (d: Buffer) => {
        for (const line of String(d).split('\n')) {
          const m = /shutting down \(([^)]*)\)/.exec(line);
          if (!m || life.shutdownAt !== undefined) continue;
          const time = Date.parse((/"time":"([^"]+)"/.exec(line) ?? [])[1] ?? '');
          [life.shutdownAt, life.shutdownWhy] = [Number.isFinite(time) ? time : Date.now(), m[1]];
        }
      };
      r.process.child.stdout!.on('data', watch);
      r.process.child.stderr!.on('data', watch);
      r.process.child.once('exit', (code, signal) => void (life.exit = { code, signal }));
      svc.add({ name: r.name, port: r.port });
      log(`${r.name} started (pid ${r.process.child.pid})`);
    };
    const exited = async (r: Replica) => {
      const c = r.process?.child;
      if (c && alive(c)) await new Promise((res) => c.once('exit', res));
    };

    const readLease = () => kc.makeApiClient(CoordinationV1Api).readNamespacedLease({ name: INSTANCE, namespace: system });
    /** The lease holder's pod ('' when free): identities are `<pod>_<random>`. */
    const holderPod = async () => (await readLease()).spec?.holderIdentity?.replace(/_[0-9a-f]+$/, '') ?? '';
    const labelled = async () => (await core.listNamespacedPod({ namespace: system, labelSelector: `${LEADER_LABEL}=true` })).items.map((p) => p.metadata!.name!).sort();
    const readyz = async (r: Replica) => {
      try {
        const res = await fetch(`http://127.0.0.1:${r.port}/readyz`, { signal: AbortSignal.timeout(2_000) });
        return { status: res.status, body: (await res.json()) as { checks: Array<{ name: string; ok: boolean }> } };
      } catch {
        return { status: 0, body: { checks: [] } };
      }
    };
    /** A leader serves: it holds the lease, is the only labelled pod (no stale label), is ready, and is the Service's only endpoint. */
    const leaderServes = (not: string | undefined, what: string) =>
      waitFor(
        what,
        async () => {
          const holder = await holderPod();
          if (!holder || holder === not) return undefined;
          const r = replicas.get(holder);
          if (!r || (await labelled()).join() !== holder || (await readyz(r)).status !== 200) return undefined;
          return svc.endpoints.join() === holder && holder;
        },
        180_000,
        50,
      );
    const agentsBack = async (since: number, what: string) => {
      await waitFor(what, () => agents.every((a) => a.connectedAt > since), 180_000, 50);
      return Math.max(...agents.map((a) => a.connectedAt)) - since;
    };
    /** A browser session cookie, signed as the login route signs it (the shared MEI_SECRET). */
    const cookie = new Sessions(Buffer.from(secret, 'utf8'), { get: (u: string) => ({ username: u, namespaces: ['*'] }) }).create('admin').split(';')[0];
    const sessionOpensUi = async (): Promise<boolean> => {
      const s = io(`http://127.0.0.1:${svc.port}${UI_NAMESPACE}`, { forceNew: true, transports: ['websocket'], reconnection: false, extraHeaders: { cookie } });
      try {
        await new Promise<void>((resolve, reject) => (s.once('connect', () => resolve()), s.once('connect_error', reject)));
        return ((await s.timeout(30_000).emitWithAck('jobs:subscribe', { namespace: jobs })) as { ok: boolean }).ok;
      } catch {
        return false;
      } finally {
        s.close();
      }
    };
    const sessions: boolean[] = [];

    const scriptDir = path.join(scratch, 'script');
    fs.mkdirSync(scriptDir);
    const a = await createReplica('mei-a');
    const b = await createReplica('mei-b');
    await startReplica(a);
    await startReplica(b);
    const first = await leaderServes(undefined, 'a first leader serves');
    log(`${first} leads`);

    // The job, as a user creates it; the leader adds its finalizer, worker pods and their token Secrets.
    const backend = new KubernetesJobBackend(kc, { resyncMs: 0 });
    const job = await backend.create({
      metadata: { name: 'fo', namespace: jobs },
      spec: { cameras: cameras.map((c) => ({ ...c, source: `rtsp://${c.name}.example/stream` })), models: { detector: { decoder: 'yolox' } } },
    });
    await backend.close();
    const secrets = await waitFor(
      'a token Secret per node',
      async () => {
        const items = (await core.listNamespacedSecret({ namespace: jobs, labelSelector: `${WORKER_SELECTOR},sedna.io/job-name=fo` })).items;
        return items.length === nodes.length && items;
      },
      120_000,
      100,
    );
    // The agents, started as their worker pods would be: the token from the pod's Secret, the Service's URL.
    for (const sec of secrets) {
      const node = sec.metadata!.labels![LABEL_NODE];
      const child = spawn(process.execPath, ['--import', 'tsx', SCRIPTED_AGENT, 'run', '--server', `http://127.0.0.1:${svc.port}`, '--node', node], {
        cwd: REPO_ROOT,
        env: {
          ...process.env,
          MEI_AGENT_TOKEN: Buffer.from(sec.data!.token, 'base64').toString(),
          MEI_SCRIPT_DIR: scriptDir,
          MEI_SCRIPT_BATCH_FRAMES: String(BATCH_FRAMES),
          MEI_AGENT_STATE_DIR: path.join(scratch, `agent-${node}`),
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const agent = { node, child, out: '', connectedAt: 0 };
      const onData = (d: Buffer) => {
        agent.out += d;
        if (String(d).split('\n').some((l) => /\bconnected to /.test(l) && !/disconnected/.test(l))) agent.connectedAt = Date.now();
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
      const c = new pg.Client({ connectionString: postgres.url });
      await c.connect();
      try {
        return Number((await c.query(`SELECT count(*) AS n FROM ingest_log WHERE job_uid = $1`, [job.metadata.uid])).rows[0].n);
      } finally {
        await c.end();
      }
    };
    /** Load goes on: the current leader commits at least two more batches per camera. */
    const moreCommitted = async (what: string) => {
      const before = await committedRows();
      await waitFor(what, async () => (await committedRows()) >= before + 2 * cameras.length, 180_000, 200);
    };
    await waitFor('every camera produced', () => cameras.every((c) => produced(c.name).length > 0), 120_000, 100);
    await moreCommitted('batches committed by the first leader');
    sessions.push(await sessionOpensUi());

    // 1. SIGKILL the leader under load.
    const victim = replicas.get(first)!;
    const killedAt = Date.now();
    victim.process!.child.kill('SIGKILL');
    await exited(victim);
    const second = await leaderServes(first, 'the standby serves after the SIGKILL');
    const sigkillServing = Date.now() - killedAt;
    log(`SIGKILL ${first}: ${second} serves after ${sigkillServing} ms`);
    const sigkillAgents = await agentsBack(killedAt, 'agents reconnected after the SIGKILL');
    sessions.push(await sessionOpensUi());
    await moreCommitted('batches committed by the second leader');
    await startReplica(victim);
    const restartedIsStandby = (await readyz(victim)).body.checks.some((c) => c.name === 'leader' && !c.ok);

    // 2. Partition the leader from the apiserver (packets dropped): it must turn unready and stop serving before
    //    another replica holds the lease; the new leader removes its stale label.
    const cutOff = replicas.get(second)!;
    const cutLife = cutOff.lives.at(-1)!;
    let unreadyAt: number | undefined;
    const cutAt = Date.now();
    cutOff.apiProxy.blackhole();
    // The readiness probe of the cut-off replica, polled on its own (an upper bound of when it turned unready).
    const probing = waitFor('the cut-off replica unready', async () => (await readyz(cutOff)).status !== 200 && (unreadyAt = Date.now()), 180_000, 25);
    const taken = await waitFor(
      'another replica holds the lease',
      async () => {
        const lease = await readLease();
        const h = lease.spec?.holderIdentity?.replace(/_[0-9a-f]+$/, '') ?? '';
        // acquireTime: written by the new holder, by its own clock (the same machine's).
        if (!h || h === second) return undefined;
        return { holder: h, at: new Date(lease.spec!.acquireTime as unknown as string | Date).getTime() };
      },
      180_000,
      25,
    );
    await probing;
    const newHolder = taken.holder;
    const newHolderAt = taken.at;
    const third = await leaderServes(second, 'the new leader serves after the partition');
    const partitionServing = Date.now() - cutAt;
    log(`partition of ${second}: ${third} serves after ${partitionServing} ms`);
    const partitionAgents = await agentsBack(newHolderAt, 'agents reconnected after the partition');
    await exited(cutOff);
    sessions.push(await sessionOpensUi());
    await moreCommitted('batches committed by the third leader');
    cutOff.apiProxy.restore(); // the partition heals; the kubelet restarts the exited container
    await startReplica(cutOff);
    const partition: FailoverResult['partition'] = {
      cutOff: second,
      newLeader: newHolder === third ? third : `${newHolder} then ${third}`,
      unreadyAfterMs: unreadyAt === undefined ? undefined : unreadyAt - cutAt,
      shutdownAfterMs: cutLife.shutdownAt === undefined ? undefined : cutLife.shutdownAt - cutAt,
      shutdownWhy: cutLife.shutdownWhy,
      leaseTakenAfterMs: newHolderAt - cutAt,
      servingAfterMs: partitionServing,
      agentsBackAfterMs: partitionAgents,
      listedAfterUnready: unreadyAt === undefined ? [] : svc.changes.filter((c) => c.at > unreadyAt! + 500).map((c) => c.endpoints),
      routedToItAfterTakeover: svc.routed.filter((x) => x.to === second && x.at >= newHolderAt).length,
      exit: cutLife.exit,
    };

    // 3. Rolling update (maxSurge 1, maxUnavailable 0): a new replica, once ready (a standby), then an old one
    //    stopped gracefully; the leader first, so that it hands the lease over.
    const olds = [third, ...['mei-a', 'mei-b'].filter((n) => n !== third)];
    const rolling: FailoverResult['rolling'] = [];
    for (const [i, old] of olds.entries()) {
      await startReplica(await createReplica(`mei-new-${i}`));
      const wasLeader = (await holderPod()) === old;
      const r = replicas.get(old)!;
      const stoppedAt = Date.now();
      await r.process!.stop();
      const leader = wasLeader ? await leaderServes(old, `a leader serves after ${old} stopped`) : await holderPod();
      const step: FailoverResult['rolling'][number] = { stopped: old, wasLeader, leader, exit: r.lives.at(-1)!.exit };
      if (wasLeader) {
        step.servingAfterMs = Date.now() - stoppedAt;
        await agentsBack(stoppedAt, 'agents reconnected after the rolling step');
      }
      rolling.push(step);
      log(`rolling: stopped ${old}${wasLeader ? `, ${leader} serves after ${step.servingAfterMs} ms` : ''}`);
      await core.deleteNamespacedPod({ name: old, namespace: system });
      svc.remove(old);
      await moreCommitted(`batches committed after ${old} stopped`);
    }
    sessions.push(await sessionOpensUi());

    // The cameras stop; the agents drain their spools; everything stops gracefully.
    fs.writeFileSync(path.join(scriptDir, 'stop'), '');
    await waitFor('agents drained', () => cameras.every((c) => produced(c.name).some((l) => l.startsWith('drained'))), 300_000, 250);
    const deadAgents = agents.filter((ag) => !alive(ag.child)).map((ag) => ag.node);
    for (const ag of agents) ag.child.kill('SIGTERM');
    await Promise.all(agents.map((ag) => (alive(ag.child) ? new Promise((res) => ag.child.once('exit', res)) : undefined)));
    const leaderAtEnd = await holderPod();
    const labelledAtEnd = await labelled();
    for (const r of replicas.values()) if (r.process && alive(r.process.child)) await r.process.stop();

    // Read back: the ingest log (each produced batch once, by its first frame) and the history of every track.
    const c = new pg.Client({ connectionString: postgres.url });
    await c.connect();
    let rows: Array<{ camera: string; session: string; seq: string; payload: Uint8Array; applied: boolean }>;
    let tracks: Array<{ camera: string; local_id: number; start_ms: string; end_ms: string; ts: number[] }>;
    try {
      rows = (await c.query(`SELECT camera, session, seq::text AS seq, payload, applied FROM ingest_log WHERE job_uid = $1 ORDER BY camera, session, seq`, [job.metadata.uid])).rows;
      tracks = (
        await c.query(
          `SELECT t.camera, t.local_id, t.start_ms::text AS start_ms, t.end_ms::text AS end_ms,
                  COALESCE((SELECT array_agg((p->>0)::float8 ORDER BY (p->>0)::float8) FROM track_segments s, jsonb_array_elements(s.points) p WHERE s.track_id = t.id), '{}') AS ts
           FROM tracks t WHERE t.job_uid = $1 ORDER BY t.camera, t.local_id`,
          [job.metadata.uid],
        )
      ).rows;
    } finally {
      await c.end();
    }
    const producedFirst = new Map(cameras.map((cam) => [cam.name, produced(cam.name).filter((l) => /^\d+$/.test(l)).map(Number)]));
    const seen = new Map<string, number>();
    const streams = new Map<string, number[]>();
    for (const r of rows) {
      const k = `${r.camera}#${decodeObservations(new Uint8Array(r.payload)).frames[0].frameIndex}`;
      seen.set(k, (seen.get(k) ?? 0) + 1);
      const s = `${r.camera}/${r.session}`;
      streams.set(s, [...(streams.get(s) ?? []), Number(r.seq)]);
    }
    const expected = new Set([...producedFirst].flatMap(([cam, firsts]) => firsts.map((f) => `${cam}#${f}`)));
    // History continuous: each person of each camera is one track spanning the produced frames, its trajectory
    // without a gap wider than the point interval and without a point stored twice.
    const span = new Map([...producedFirst].map(([cam, firsts]) => [cam, [Math.min(...firsts) * FRAME_MS, (Math.max(...firsts) + BATCH_FRAMES - 1) * FRAME_MS]]));
    const historyProblems: string[] = [];
    for (const t of tracks) {
      const id = `${t.camera}/${t.local_id}`;
      const [from, to] = span.get(t.camera)!;
      if (Number(t.start_ms) !== from || Number(t.end_ms) !== to) historyProblems.push(`${id}: track ${t.start_ms}-${t.end_ms} ms, produced ${from}-${to}`);
      const ts = t.ts.map(Number);
      if (ts[0] !== from || ts.at(-1) !== to) historyProblems.push(`${id}: points ${ts[0]}-${ts.at(-1)} ms, produced ${from}-${to}`);
      for (let i = 1; i < ts.length; i++) {
        if (ts[i] === ts[i - 1]) historyProblems.push(`${id}: point at ${ts[i]} ms stored twice`);
        else if (ts[i] - ts[i - 1] > POINT_INTERVAL_MS) historyProblems.push(`${id}: no point between ${ts[i - 1]} and ${ts[i]} ms`);
      }
    }
    const lines = (re: RegExp) => agents.flatMap((ag) => ag.out.split('\n').filter((l) => re.test(l)).map((l) => `[${ag.node}] ${l}`));
    return {
      cameras: cameras.length,
      produced: expected.size,
      committed: [...expected].filter((k) => seen.has(k)).length,
      lost: [...expected].filter((k) => !seen.has(k)),
      duplicated: [...seen].filter(([, n]) => n > 1).map(([k]) => k),
      unexpected: [...seen.keys()].filter((k) => !expected.has(k)),
      seqGaps: [...streams.values()].reduce((n, s) => n + (s[s.length - 1] - s[0] + 1 - s.length), 0),
      unapplied: rows.filter((r) => !r.applied).length,
      refused: lines(/observations \S+ refused \(/),
      authRefusals: lines(/server refused the connection/),
      deadAgents,
      tracks: tracks.length,
      expectedTracks: cameras.length * PEOPLE,
      historyProblems,
      sessions,
      labelledAtEnd,
      leaderAtEnd,
      sigkill: { killed: first, newLeader: second, servingAfterMs: sigkillServing, agentsBackAfterMs: sigkillAgents, restartedIsStandby },
      partition,
      rolling,
      routed: svc.routed.length,
      resetNoEndpoint: svc.routed.filter((x) => !x.to).length,
      wallMs: Date.now() - t0,
      agentOutput: agents.map((ag) => `--- ${ag.node}\n${ag.out.slice(-1500)}`).join('\n'),
    };
  } catch (err) {
    const outputs = [...replicas.values()].map((r) => `--- ${r.name}\n${(r.process?.output() ?? '').slice(-2500)}`).join('\n');
    throw new Error(`${(err as Error).message}\n${agents.map((ag) => `--- ${ag.node}\n${ag.out.slice(-1000)}`).join('\n')}\n${outputs}`, { cause: err });
  } finally {
    for (const ag of agents) if (alive(ag.child)) ag.child.kill('SIGKILL');
    for (const r of replicas.values()) {
      if (r.process && alive(r.process.child)) r.process.child.kill('SIGKILL');
      await r.apiProxy.close();
    }
    await service?.close();
    await postgres.stop();
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}
