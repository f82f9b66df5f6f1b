// The chaos harness of issue #11 (used by test/integration/chaos.test.ts and scripts/bench-chaos.ts): a real
// MEI server process (headless: MEI_DASHBOARD=off), real edge agent processes with scripted cameras
// (test/integration/fixtures/scripted-agent.ts), and a TCP proxy between them (test/support/tcp-proxy.ts)
// that the harness controls. While the cameras produce, the phases run one after another: added latency,
// a cut link (optionally while the cameras produce faster than real time: a long outage simulated in a short
// test), SIGKILLs of the server at random points (restarted on the same port and state), SIGKILLs of an agent
// (restarted with the same state directory: its on-disk spool). Then the cameras stop, the agents drain
// their spools, the server shuts down gracefully, and the ingest log is read back from the database and
// compared with what the cameras produced.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { decodeObservations } from '@mei/contracts';
import { REPO_ROOT } from '../integration/server-process.ts';
import { createHeadlessServer, type HeadlessServer } from './headless-server.ts';
import { seededRandom } from './random.ts';
import { startTcpProxy, type TcpProxy } from './tcp-proxy.ts';

export type ChaosPhase =
  /** Added latency on the link, each direction, for `durationMs`. */
  | { kind: 'latency'; ms: number; durationMs: number }
  /**
   * The link is cut (connections destroyed, new ones dropped) for `durationMs` of camera time; with
   * `speedup` the cameras produce that many times faster than real time meanwhile (10 minutes of outage in
   * 30 s at 20x), so the spools fill as in a real outage of that length.
   */
  | { kind: 'cut'; durationMs: number; speedup?: number }
  /**
   * `count` times: after a random 0.5-4 s, SIGKILL one agent process (chosen at random) and start it again
   * after a random 0.5-2 s with the same node and state directory; its cameras go on numbering their frames.
   */
  | { kind: 'kill-agent'; count: number }
  /**
   * `count` times: after a random 0.5-4 s of traffic, wait for the next observation batch on its way to the
   * server and SIGKILL the server 0-30 ms after it passed the proxy (mid-batch, mid-commit, or just after the
   * commit and before the ack); restart it after a random 0-1 s.
   */
  | { kind: 'kill-server'; count: number };

export interface ChaosOptions {
  database: 'pglite' | 'postgresql';
  cameras: number;
  /** Edge nodes (one agent process each); cameras are spread over them. */
  nodes: number;
  phases: ChaosPhase[];
  /** Traffic before the first and after the last phase (ms). */
  settleMs?: number;
  seed?: number;
  /** Frames per batch (10 fps): 20 = one batch per 2 s per camera. */
  batchFrames?: number;
  /** Longest wait for the agents to drain after the cameras stop. */
  drainTimeoutMs?: number;
  /** Each camera's spool bound on the agents (MEI_SPOOL_BYTES); default: the agent's. */
  spoolBytes?: number;
  log?: (msg: string) => void;
}

export interface ChaosResult {
  database: string;
  phases: string[];
  cameras: number;
  /** Batches the cameras produced (each with a distinct first frame index per camera). */
  produced: number;
  /** Distinct produced batches found in the ingest log. */
  committed: number;
  /** Produced batches missing from the log. */
  lost: number;
  /** Log rows beyond the first for the same produced batch (stored twice under different seqs). */
  duplicated: number;
  /** Log rows that no camera produced (must be 0). */
  unexpected: number;
  /** Missing seqs inside each stream's range (a gap the agent skipped). */
  seqGaps: number;
  /** Log rows not applied to identities/history after the graceful shutdown. */
  unapplied: number;
  observations: number;
  serverStarts: number;
  /** Whether every agent reported its outbox drained before the deadline. */
  drained: boolean;
  /** Most batches one camera held unacked at once (in its agent's on-disk spool). */
  maxBacklog: number;
  /** Batches the agents' spools dropped because they were full (their cursors' counts). */
  agentDropped: number;
  /** Drops the server was told of (ObservationBatch.dropped), from its log. */
  serverCountedDrops: number;
  agentStarts: number;
  /** Batches agents logged as refused by the server. */
  refusedByServer: number;
  wallMs: number;
}

const SCRIPTED_AGENT = path.join(REPO_ROOT, 'test/integration/fixtures/scripted-agent.ts');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runChaos(o: ChaosOptions): Promise<ChaosResult> {
  const t0 = Date.now();
  const log = o.log ?? (() => {});
  const rand = seededRandom(o.seed ?? 11);
  let proxy: TcpProxy | undefined;
  let server: HeadlessServer | undefined;
  const agents: ChildProcess[] = [];
  let agentStarts = 0;
  let outputs = '';
  try {
    server = await createHeadlessServer({
      database: o.database,
      cameras: o.cameras,
      nodes: o.nodes,
      publicUrl: async (port) => `http://127.0.0.1:${(proxy = await startTcpProxy(port)).port}`,
    });
    const srv = server;
    const scriptDir = path.join(srv.stateDir, 'script');
    fs.mkdirSync(scriptDir);
    const cameras = Array.from({ length: o.cameras }, (_, i) => `cam-${i}`);
    await srv.start();
    log(`server started (pid ${srv.process!.child.pid})`);
    const agentDir = (n: number) => path.join(srv.stateDir, `agent-${n}`);
    const startAgent = (n: number) => {
      const node = `edge-${n}`;
      const env: NodeJS.ProcessEnv = { ...process.env, MEI_AGENT_TOKEN: srv.tokenFor(node), MEI_AGENT_STATE_DIR: agentDir(n), MEI_SCRIPT_DIR: scriptDir, MEI_SCRIPT_BATCH_FRAMES: String(o.batchFrames ?? 20) };
      if (o.spoolBytes !== undefined) env.MEI_SPOOL_BYTES = String(o.spoolBytes);
      const child = spawn(process.execPath, ['--import', 'tsx', SCRIPTED_AGENT, 'run', '--server', `http://127.0.0.1:${proxy!.port}`, '--node', node], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
      child.stdout!.on('data', (d) => (outputs += `[${node}] ${d}`));
      child.stderr!.on('data', (d) => (outputs += `[${node}] ${d}`));
      agents[n] = child;
      agentStarts++;
    };
    for (let n = 0; n < o.nodes; n++) startAgent(n);
    const producedLines = (camera: string): string[] => {
      const f = path.join(scriptDir, `${camera}.produced`);
      return fs.existsSync(f) ? fs.readFileSync(f, 'utf8').split('\n').filter(Boolean) : [];
    };
    const producedBatches = (camera: string) => producedLines(camera).filter((l) => /^\d+$/.test(l)).length;
    // Traffic first: every camera has produced something.
    for (const deadline = Date.now() + 120_000; cameras.some((c) => !producedLines(c).length); ) {
      if (Date.now() > deadline) throw new Error('cameras produced nothing within 120 s');
      await sleep(200);
    }
    await sleep(o.settleMs ?? 2_000);

    for (const phase of o.phases) {
      log(`phase ${describePhase(phase)}`);
      if (phase.kind === 'latency') {
        proxy!.latencyMs = phase.ms;
        await sleep(phase.durationMs);
        proxy!.latencyMs = 0;
      } else if (phase.kind === 'cut') {
        const speedup = phase.speedup ?? 1;
        proxy!.cut();
        if (speedup === 1) await sleep(phase.durationMs);
        else {
          // Until every camera has produced durationMs of frames (timers slip on a loaded machine).
          const batches = Math.ceil(phase.durationMs / ((o.batchFrames ?? 20) * 100));
          const start = new Map(cameras.map((c) => [c, producedBatches(c)]));
          fs.writeFileSync(path.join(scriptDir, 'speed'), String(speedup));
          for (const deadline = Date.now() + (3 * phase.durationMs) / speedup + 60_000; cameras.some((c) => producedBatches(c) - start.get(c)! < batches); ) {
            if (Date.now() > deadline) throw new Error(`cameras did not produce ${phase.durationMs / 1000} s of frames in time`);
            await sleep(200);
          }
          fs.rmSync(path.join(scriptDir, 'speed'), { force: true });
        }
        proxy!.restore();
      } else if (phase.kind === 'kill-agent') {
        for (let k = 0; k < phase.count; k++) {
          await sleep(500 + rand() * 3_500);
          const n = Math.floor(rand() * o.nodes);
          const a = agents[n];
          const exited = a.exitCode !== null || a.signalCode !== null ? Promise.resolve() : new Promise((r) => a.once('exit', r));
          a.kill('SIGKILL');
          await exited;
          await sleep(500 + rand() * 1_500);
          // Its cameras run again only once it has its task from the server: wait for their next batch.
          const mine = cameras.filter((_, i) => i % o.nodes === n);
          const before = new Map(mine.map((c) => [c, producedBatches(c)]));
          startAgent(n);
          for (const deadline = Date.now() + 180_000; mine.some((c) => producedBatches(c) <= before.get(c)!); ) {
            if (Date.now() > deadline) throw new Error(`agent edge-${n} produced nothing within 180 s of its restart`);
            await sleep(200);
          }
          log(`agent edge-${n} SIGKILLed and restarted`);
        }
      } else {
        for (let k = 0; k < phase.count; k++) {
          await sleep(500 + rand() * 3_500);
          await Promise.race([proxy!.nextUpstream(1_000), sleep(10_000)]);
          await sleep(rand() * 30);
          await srv.kill();
          await sleep(rand() * 1_000);
          await srv.start();
          log(`server restarted (start #${srv.starts})`);
        }
      }
      await sleep(o.settleMs ?? 2_000);
    }

    // Stop producing; wait for every agent to drain its spools.
    fs.writeFileSync(path.join(scriptDir, 'stop'), '');
    let drained = false;
    for (const deadline = Date.now() + (o.drainTimeoutMs ?? 300_000); Date.now() < deadline; ) {
      if (cameras.every((c) => producedLines(c).some((l) => l.startsWith('drained')))) {
        drained = true;
        break;
      }
      await sleep(250);
    }
    log(drained ? 'agents drained' : 'agents did NOT drain before the deadline');
    for (const a of agents) a.kill('SIGTERM');
    await Promise.all(agents.map((a) => (a.exitCode !== null || a.signalCode !== null ? undefined : new Promise((r) => a.once('exit', r)))));
    // Graceful shutdown: what was taken is committed and applied, history flushed.
    await srv.stop();

    const produced = new Map<string, Set<number>>();
    for (const c of cameras) produced.set(c, new Set(producedLines(c).filter((l) => /^\d+$/.test(l)).map(Number)));
    const db = await srv.openStore();
    let rows: Array<{ camera: string; session: string; seq: string; payload: Uint8Array; applied: boolean; observations: number }>;
    try {
      rows = await db.sql.query(`SELECT camera, session, seq::text AS seq, payload, applied, observations FROM ingest_log WHERE job_uid = $1 ORDER BY camera, session, seq`, [srv.jobUid]);
    } finally {
      await db.close();
    }
    const seen = new Map<string, number>();
    let unexpected = 0;
    let observations = 0;
    const streams = new Map<string, number[]>();
    for (const r of rows) {
      const first = decodeObservations(new Uint8Array(r.payload)).frames[0].frameIndex;
      observations += r.observations;
      const key = `${r.camera}\u0000${first}`;
      seen.set(key, (seen.get(key) ?? 0) + 1);
      if (!produced.get(r.camera)?.has(first)) unexpected++;
      const s = `${r.camera}\u0000${r.session}`;
      streams.set(s, [...(streams.get(s) ?? []), Number(r.seq)]);
    }
    let total = 0;
    let committed = 0;
    for (const [camera, frames] of produced) {
      total += frames.size;
      for (const f of frames) if (seen.has(`${camera}\u0000${f}`)) committed++;
    }
    let duplicated = 0;
    for (const n of seen.values()) duplicated += n - 1;
    let seqGaps = 0;
    for (const seqs of streams.values()) seqGaps += seqs[seqs.length - 1] - seqs[0] + 1 - seqs.length;
    return {
      database: o.database,
      phases: o.phases.map(describePhase),
      cameras: o.cameras,
      produced: total,
      committed,
      lost: total - committed,
      duplicated,
      unexpected,
      seqGaps,
      unapplied: rows.filter((r) => !r.applied).length,
      observations,
      serverStarts: srv.starts,
      drained,
      maxBacklog: Math.max(0, ...cameras.flatMap((c) => producedLines(c).filter((l) => l.startsWith('drained')).map((l) => Number(l.split(' ')[1])))),
      agentDropped: Array.from({ length: o.nodes }, (_, n) => spoolDrops(agentDir(n))).reduce((a, b) => a + b, 0),
      serverCountedDrops: [...srv.output().matchAll(/dropped (\d+) batch\(es\) of camera/g)].reduce((n, m) => n + Number(m[1]), 0),
      agentStarts,
      refusedByServer: (outputs.match(/ refused: /g) ?? []).length,
      wallMs: Date.now() - t0,
    };
  } catch (err) {
    throw new Error(`${(err as Error).message}\n--- output ---\n${(outputs.slice(-3000) + (server?.output() ?? '').slice(-5000))}`, { cause: err });
  } finally {
    for (const a of agents) if (a.exitCode === null && a.signalCode === null) a.kill('SIGKILL');
    await proxy?.close();
    await server?.cleanup();
  }
}

export function describePhase(p: ChaosPhase): string {
  if (p.kind === 'latency') return `latency ${p.ms} ms each way for ${p.durationMs / 1000} s`;
  if (p.kind === 'cut') return `link cut for ${p.durationMs / 1000} s${p.speedup && p.speedup !== 1 ? ` of camera time (cameras at ${p.speedup}x real time)` : ''}`;
  if (p.kind === 'kill-agent') return `agent SIGKILL + restart x${p.count}`;
  return `server SIGKILL x${p.count} at random points`;
}

/** Batches an agent's spools dropped (the `dropped` count of every cursor.json under its state directory). */
function spoolDrops(dir: string): number {
  if (!fs.existsSync(dir)) return 0;
  let n = 0;
  for (const f of fs.readdirSync(dir, { recursive: true, encoding: 'utf8' })) {
    if (path.basename(f) !== 'cursor.json') continue;
    try {
      n += Number(JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')).dropped ?? 0);
    } catch {
      // a cursor being replaced right now: the next read of a finished run has it
    }
  }
  return n;
}
