// Ingest throughput and live capacity of ONE server process with commit-before-ack (issue #11).
// A real headless MEI server process (test/support/headless-server.ts: MEI_DASHBOARD=off, PGlite or a local
// PostgreSQL) and, in this process, raw protocol-2 agent connections over Socket.IO/TCP with real tokens.
//  0. commit path alone, in this process: the ingest log's group commit (server/ingest/group-commit.ts) of
//     pre-encoded protocol-2 batches, --window x --cameras in flight, about --seconds of work at 50,000 obs/s:
//     observations/s durable
//     and CPU ms per 1,000 observations (no socket, no identity matching).
//  1. throughput of the whole server: --cameras streams, each sending batches of --frames frames x --people
//     people (a 512-d embedding per person every other batch, as agents send one per track every 2 s) with
//     --window batches in flight, for --seconds. Reports the observations/s acked `committed` (every ack is
//     after the batch's group commit; applying them to identities and history runs behind it, bounded per job
//     in bytes, so a server whose matching falls behind answers retry-later), and the SERVER's CPU ms (from
//     /proc/<pid>/stat) per 1,000 observations.
//  2. live capacity: for each count in --live-cameras, that many cameras at 10 fps x --people people, one
//     frame per batch as live agents send them, and a browser client (/ui, real session cookie) watching the
//     job: latency = browser receive time - emittedAt. The largest count whose p99 <= 100 ms, with every batch
//     committed, is reported as sustained.
//   npm run bench:ingest -- [--json] [--database pglite|postgresql|both] [--seconds 20] [--cameras 40]
//                           [--window 8] [--frames 10] [--people 10] [--live-cameras 4,8,16,32] [--live-seconds 15]
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { io, type Socket } from 'socket.io-client';
import { encodeObservations, type IngestAck, type LiveFrame, type ObservationBatch } from '@mei/contracts';
import { FlagError, numberFlag, runBench } from './bench-args.ts';
import { createHeadlessServer, type HeadlessServer } from '../test/support/headless-server.ts';
import { GroupCommitter } from '../server/ingest/group-commit.ts';
import { IngestLog } from '../server/ingest/ingest-log.ts';

const USAGE = 'usage: npm run bench:ingest -- [--json] [--database pglite|postgresql|both] [--seconds 20] [--cameras 40] [--window 8] [--frames 10] [--people 10] [--live-cameras 4,8,16,32] [--live-seconds 15]';
const NODES = 4;
const DIM = 512;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Progress on stderr (stdout stays JSON with --json). */
const progress = (msg: string) => console.error(`${new Date().toISOString()} ${msg}`);

/** utime + stime of a process in ms (Linux /proc; clock ticks of 10 ms). */
function cpuMsOf(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

const selfCpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

function look(person: number): number[] {
  const v = Array.from({ length: DIM }, (_, i) => Math.sin(person * 12.9898 + i * 78.233));
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
}

function makeBatch(camera: string, seq: number, firstFrame: number, frames: number, people: number, withEmbeddings: boolean): ObservationBatch {
  const now = Date.now();
  return {
    jobKey: 'default/bench',
    camera,
    seq,
    session: 'bench',
    frames: Array.from({ length: frames }, (_, k) => {
      const f = firstFrame + k;
      return { frameIndex: f, timestampMs: f * 100, emittedAt: now, width: 1280, height: 720, tracks: Array.from({ length: people }, (_, p) => ({ id: p + 1, x: (p * 97 + f * 3) % 1200, y: 100 + p * 40, w: 40, h: 100, score: 0.9, state: 'confirmed' as const })) };
    }),
    ...(withEmbeddings ? { embeddings: Array.from({ length: people }, (_, p) => ({ id: p + 1, vector: look(p + (Number(camera.slice(4)) % 3) * 100) })) } : {}),
  };
}

/** One agent connection per node; a node without cameras has no valid token, hence `nodes`. */
async function connectAgents(s: HeadlessServer, nodes = NODES): Promise<Socket[]> {
  return Promise.all(
    Array.from({ length: nodes }, async (_, n) => {
      const sock = io(`http://127.0.0.1:${s.port}/agent`, { auth: { token: s.tokenFor(`edge-${n}`), protocol: 2 }, transports: ['websocket'], reconnection: false, forceNew: true });
      await new Promise<void>((resolve, reject) => (sock.once('connect', () => resolve()), sock.once('connect_error', reject)));
      return sock;
    }),
  );
}

const send = (sock: Socket, b: ObservationBatch): Promise<IngestAck> => sock.timeout(60_000).emitWithAck('observations', encodeObservations(b));

async function waitReady(s: HeadlessServer, socks: Socket[]): Promise<void> {
  // The server answers retry-later until its log is replayed and its job cache synced.
  for (let seq = 0; ; seq++) {
    const ack = await send(socks[0], makeBatch('cam-0', seq, 0, 1, 1, false));
    if (ack.code === 'committed') return;
    if (ack.code === 'refused') throw new Error(`warm-up batch refused: ${ack.error}`);
    await sleep(200);
  }
}

interface Throughput {
  database: string;
  cameras: number;
  window: number;
  observationsPerBatch: number;
  seconds: number;
  committedBatches: number;
  committedObservations: number;
  observationsPerSecond: number;
  retryLater: number;
  refused: number;
  serverCpuMs: number;
  serverCpuMsPer1000Observations: number;
  clientCpuMs: number;
  loadAvg1Before: number;
  loadAvg1After: number;
}

async function throughput(database: 'pglite' | 'postgresql', o: { cameras: number; window: number; frames: number; people: number; seconds: number }): Promise<Throughput> {
  const s = await createHeadlessServer({ database, cameras: o.cameras, nodes: NODES });
  try {
    await s.start();
    const socks = await connectAgents(s);
    await waitReady(s, socks);
    const pid = s.process!.child.pid!;
    let committed = 0;
    let retry = 0;
    let refused = 0;
    let stop = false;
    const loadBefore = loadavg()[0];
    const cpu0 = cpuMsOf(pid);
    const self0 = selfCpuMs();
    const t0 = performance.now();
    const stream = async (cam: number, lane: number) => {
      const sock = socks[cam % NODES];
      // Lanes share the camera's seq space: lane k sends seqs k, k+window, ... (several batches in flight).
      for (let i = lane; !stop; i += o.window) {
        const seq = 1_000 + i;
        for (;;) {
          const ack = await send(sock, makeBatch(`cam-${cam}`, seq, i * o.frames, o.frames, o.people, i % 2 === 0));
          if (ack.code === 'committed') {
            committed++;
            break;
          }
          if (ack.code === 'refused') {
            refused++;
            break;
          }
          retry++;
          if (stop) return;
          await sleep(ack.retryAfterMs);
        }
      }
    };
    const lanes: Promise<void>[] = [];
    for (let c = 0; c < o.cameras; c++) for (let l = 0; l < o.window; l++) lanes.push(stream(c, l));
    await sleep(o.seconds * 1000);
    const elapsed = (performance.now() - t0) / 1000;
    const done = committed;
    const cpu = cpuMsOf(pid) - cpu0;
    const self = selfCpuMs() - self0;
    const loadAfter = loadavg()[0];
    stop = true;
    await Promise.all(lanes);
    socks.forEach((x) => x.close());
    const obs = done * o.frames * o.people;
    return {
      database,
      cameras: o.cameras,
      window: o.window,
      observationsPerBatch: o.frames * o.people,
      seconds: Math.round(elapsed * 10) / 10,
      committedBatches: done,
      committedObservations: obs,
      observationsPerSecond: Math.round(obs / elapsed),
      retryLater: retry,
      refused,
      serverCpuMs: cpu,
      serverCpuMsPer1000Observations: Math.round((cpu / obs) * 1000 * 100) / 100,
      clientCpuMs: Math.round(self),
      loadAvg1Before: loadBefore,
      loadAvg1After: loadAfter,
    };
  } finally {
    await s.cleanup();
  }
}

interface CommitPath {
  database: string;
  seconds: number;
  batches: number;
  observations: number;
  observationsPerSecond: number;
  commits: number;
  cpuMs: number;
  cpuMsPer1000Observations: number;
  loadAvg1: number;
}

/** The ingest log alone: group commit of pre-encoded batches, in this process, on a fresh store. */
async function commitPath(database: 'pglite' | 'postgresql', o: { cameras: number; window: number; frames: number; people: number; seconds: number }): Promise<CommitPath> {
  const s = await createHeadlessServer({ database, cameras: 1, nodes: 1 });
  progress(`commit path (${database}): store created`);
  const db = await s.openStore();
  progress(`commit path (${database}): store open`);
  try {
    const committer = new GroupCommitter(new IngestLog(db.sql));
    const templates = Array.from({ length: o.cameras }, (_, c) => [0, 1].map((k) => encodeObservations(makeBatch(`cam-${c}`, k, k * o.frames, o.frames, o.people, k === 0))));
    let batches = 0;
    // A fixed amount of work (about --seconds at 50,000 obs/s), not a timer: PGlite answers within
    // microtasks, so a timer could not end the run while lanes keep submitting.
    const rounds = Math.max(1, Math.ceil((o.seconds * 50_000) / (o.frames * o.people * o.cameras * o.window)));
    const cpu0 = selfCpuMs();
    const t0 = performance.now();
    const lane = async (c: number, l: number) => {
      for (let i = l; i < rounds * o.window; i += o.window) {
        const out = await committer.submit({ jobUid: s.jobUid, camera: `cam-${c}`, session: 'bench', seq: i, payload: templates[c][i % 2], observations: o.frames * o.people });
        if (out.kind !== 'stored') throw new Error(`commit failed: ${JSON.stringify(out)}`);
        batches++;
      }
    };
    const lanes: Promise<void>[] = [];
    for (let c = 0; c < o.cameras; c++) for (let l = 0; l < o.window; l++) lanes.push(lane(c, l));
    await Promise.all(lanes);
    const elapsed = (performance.now() - t0) / 1000;
    const done = batches;
    const cpu = selfCpuMs() - cpu0;
    const obs = done * o.frames * o.people;
    return { database, seconds: Math.round(elapsed * 10) / 10, batches: done, observations: obs, observationsPerSecond: Math.round(obs / elapsed), commits: committer.stats.commits, cpuMs: Math.round(cpu), cpuMsPer1000Observations: Math.round((cpu / obs) * 1000 * 100) / 100, loadAvg1: loadavg()[0] };
  } finally {
    await db.close();
    await s.cleanup();
  }
}

interface LivePoint {
  cameras: number;
  framesSent: number;
  framesCommitted: number;
  framesSeen: number;
  p50Ms: number;
  p99Ms: number;
  serverCpuMs: number;
  loadAvg1: number;
  sustained: boolean;
}

async function liveCapacity(database: 'pglite' | 'postgresql', counts: number[], people: number, seconds: number): Promise<LivePoint[]> {
  const max = Math.max(...counts);
  const nodes = Math.min(NODES, max);
  const s = await createHeadlessServer({ database, cameras: max, nodes });
  const out: LivePoint[] = [];
  try {
    await s.start();
    const socks = await connectAgents(s, nodes);
    await waitReady(s, socks);
    const pid = s.process!.child.pid!;
    const ui = io(`http://127.0.0.1:${s.port}/ui`, { transports: ['websocket'], reconnection: false, forceNew: true, extraHeaders: { cookie: s.adminCookie() } });
    await new Promise<void>((resolve, reject) => (ui.once('connect', () => resolve()), ui.once('connect_error', reject)));
    let latencies: number[] = [];
    ui.on('live:frame', (f: LiveFrame, ack?: () => void) => {
      latencies.push(Date.now() - f.emittedAt);
      ack?.();
    });
    const sub = (await ui.timeout(30_000).emitWithAck('live:subscribe', { jobKey: 'default/bench' })) as { ok: boolean; error?: string };
    if (!sub.ok) throw new Error(`live:subscribe refused: ${sub.error}`);
    let seqBase = 10_000;
    // Frame numbers go on across rounds: a camera's frame older than one it published is not drawn again.
    const frame = new Map<number, number>();
    for (const n of counts.sort((a, b) => a - b)) {
      latencies = [];
      let sent = 0;
      let committed = 0;
      const cpu0 = cpuMsOf(pid);
      const pending: Promise<void>[] = [];
      const tick = setInterval(() => {
        for (let c = 0; c < n; c++) {
          const f = (frame.get(c) ?? 0) + 1;
          frame.set(c, f);
          sent++;
          pending.push(send(socks[c % nodes], makeBatch(`cam-${c}`, seqBase + f, f, 1, people, f % 20 === 0)).then((a) => void (a.code === 'committed' && committed++)));
        }
      }, 100);
      await sleep(seconds * 1000);
      clearInterval(tick);
      await Promise.all(pending);
      await sleep(500);
      seqBase += 1_000_000;
      const cpu = cpuMsOf(pid) - cpu0;
      const sorted = [...latencies].sort((a, b) => a - b);
      const q = (p: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] : NaN);
      const point: LivePoint = { cameras: n, framesSent: sent, framesCommitted: committed, framesSeen: sorted.length, p50Ms: q(0.5), p99Ms: q(0.99), serverCpuMs: cpu, loadAvg1: loadavg()[0], sustained: q(0.99) <= 100 && committed === sent };
      out.push(point);
      if (!point.sustained) break; // more cameras will not do better
    }
    ui.close();
    socks.forEach((x) => x.close());
    return out;
  } finally {
    await s.cleanup();
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      json: { type: 'boolean' },
      database: { type: 'string' },
      seconds: { type: 'string' },
      cameras: { type: 'string' },
      window: { type: 'string' },
      frames: { type: 'string' },
      people: { type: 'string' },
      'live-cameras': { type: 'string' },
      'live-seconds': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return void console.log(USAGE);
  const db = values.database ?? 'both';
  if (!['pglite', 'postgresql', 'both'].includes(db)) throw new FlagError(`--database must be pglite, postgresql or both, got '${db}'`);
  const seconds = numberFlag(values.seconds, '--seconds', 20, 1, 3600);
  const cameras = numberFlag(values.cameras, '--cameras', 40, 1, 1000, true);
  const window = numberFlag(values.window, '--window', 8, 1, 256, true);
  const frames = numberFlag(values.frames, '--frames', 10, 1, 100, true);
  const people = numberFlag(values.people, '--people', 10, 1, 500, true);
  const liveSeconds = numberFlag(values['live-seconds'], '--live-seconds', 15, 1, 3600);
  const liveCounts = (values['live-cameras'] ?? '4,8,16,32').split(',').map((v) => numberFlag(v, '--live-cameras', 0, 1, 1000, true));
  const databases = db === 'both' ? (['pglite', 'postgresql'] as const) : [db as 'pglite' | 'postgresql'];
  const results = [];
  for (const d of databases) {
    const c = await commitPath(d, { cameras, window, frames, people, seconds });
    if (!values.json) console.log(`${d}: commit path ${c.observationsPerSecond} obs/s durable (${c.batches} batches, ${c.commits} commits in ${c.seconds} s), ${c.cpuMsPer1000Observations} CPU ms / 1,000 obs, load ${c.loadAvg1}`);
    const t = await throughput(d, { cameras, window, frames, people, seconds });
    if (!values.json) console.log(`${d}: ${t.observationsPerSecond} obs/s committed (${t.committedBatches} batches in ${t.seconds} s), server ${t.serverCpuMsPer1000Observations} CPU ms / 1,000 obs, load ${t.loadAvg1Before} -> ${t.loadAvg1After}`);
    const live = await liveCapacity(d, liveCounts, people, liveSeconds);
    const sustained = live.filter((p) => p.sustained).map((p) => p.cameras);
    if (!values.json) for (const p of live) console.log(`${d}: ${p.cameras} cameras live: p50 ${p.p50Ms} ms, p99 ${p.p99Ms} ms, ${p.framesCommitted}/${p.framesSent} committed, server CPU ${p.serverCpuMs} ms, load ${p.loadAvg1}${p.sustained ? '' : ' (not sustained)'}`);
    results.push({ database: d, commitPath: c, throughput: t, live, liveCamerasSustained: sustained.length ? Math.max(...sustained) : 0 });
  }
  const machine = { cpus: cpus().length, model: cpus()[0]?.model, node: process.version };
  if (values.json) console.log(JSON.stringify({ machine, results }, null, 2));
}

runBench(main, USAGE);
