// What leaves the edge, per camera, against the camera's own video bitrate (issue #17). PETS09-S2L1
// (vtest.avi, 10 fps) as one camera and as the two-camera demo split, privacy.preview none and thumbnails,
// wire protocol 1 (JSON) and 2 (binary), through the real edge agent (a child process started by the real
// control plane, YOLOX-nano + OSNet) and the real server's Socket.IO (embedded mode, PGlite; no Next) over TCP.
//
//   npm run bench:bandwidth -- [--json] [--max-frames N (300)] [--layout one,two] [--privacy none,thumbnails]
//                              [--protocol 1,2] [--deflate on|off (the agents' permessage-deflate; default on, as the agent)]
//                              [--compare-deflate yes|no (default yes: protocol 2 without previews replayed, transport only, without and with deflate)]
//                              [--embed-every-ms MS (a fixed embedding cadence instead of the agent's rule)]
//
// Measured:
//  - TCP bytes agent -> server: a byte-counting TCP relay on loopback between them (HTTP upgrade, WebSocket,
//    Engine.IO and Socket.IO framing included; IP/TCP headers not).
//  - Wire bytes per camera by field (scripts/bandwidth/wire-model.ts): the agent logs each message as the
//    WebSocket messages it became; the bench compresses that sequence as the agent's permessage-deflate did:
//    boxes (the observation batches compressed without their embeddings), embeddings (what they add),
//    state/heartbeats, thumbnails; framing = WebSocket headers plus whatever TCP carried beyond the model
//    (HTTP upgrade, Engine.IO pongs). Payload bytes at the sender (upstream-meter.ts) are reported too.
//  - The recording is processed in history mode (every frame, as fast as the machine allows) but sent as a
//    live camera sends it (each frame at once while the link keeps up): boxes, embeddings, thumbnails and
//    their framing are per second of VIDEO; state and heartbeats go out on the wall clock, so they are per
//    second of the agent's run (what a live camera pays per second).
//  - H.264 of the same frames (each camera's own region), encoded here: libx264, CRF 23, preset medium.
//  - The agent process's CPU ms (every thread; ffmpeg's decoding is another process) per frame.
import { execFileSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CameraReport, CameraSpec, MultiEdgeInferenceInput, ObservationBatch, WireProtocol } from '@mei/contracts';
import type { CameraRunner, CameraRunnerContext, CameraRunnerFactory } from '../edge-agent/src/agent/camera-runner.ts';
import { FlagError, benchFlags, numberFlag } from './bench-args.ts';
import { startCountingProxy } from './bandwidth/counting-proxy.ts';
import { loadSplit, regionOverlaps } from './mtmc/split-gt.ts';
import type { UpstreamTotals } from '../edge-agent/src/transport/upstream-meter.ts';
import { modelWire, recordMessage, type LoggedMessage } from './bandwidth/wire-model.ts';

const USAGE = `usage: npm run bench:bandwidth -- [--json] [--max-frames N (300)] [--layout one,two] [--privacy none,thumbnails]
       [--protocol 1,2] [--deflate on|off] [--compare-deflate yes|no] [--embed-every-ms MS]`;
const FRAME = { width: 768, height: 576 };
const FPS = 10;
const VIDEO_FRAMES = 795;
const TARGET_RATIO = 0.02;
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SELF = fileURLToPath(import.meta.url);

type Layout = 'one' | 'two';
type Privacy = 'none' | 'thumbnails';
interface RunConfig {
  layout: Layout;
  privacy: Privacy;
  protocol: WireProtocol;
  deflate: boolean;
  /** Transport only: the agent replays a vision run's recorded batches (its CPU is then the transport's). */
  replay?: string;
}
type PerKind = UpstreamTotals['bytes'];
/** What the agent process reports when it exits (written by --as-agent). */
interface AgentReport {
  totals: Record<string, UpstreamTotals>;
  cpuMs: number;
  wallMs: number;
}

// ---- the agent (started by the control plane's local runtime) ---------------------------------------------

type Emitted = Pick<ObservationBatch, 'camera' | 'frames' | 'embeddings'>;
/** CPU of the replay's sending (first emit to last ack), for the transport-only runs. */
let replayWindow: { cpu0?: NodeJS.CpuUsage; cpuMs?: number; frames: number } = { frames: 0 };

/**
 * Transport only (mock camera: no video): emits a vision run's recorded batches of one camera at once and
 * reports Completed when the last is acknowledged, so the agent's CPU is the transport's (deflate or not).
 */
class ReplayCamera implements CameraRunner {
  readonly camera: string;
  private state: CameraReport['state'] = 'Pending';
  constructor(
    private readonly ctx: CameraRunnerContext,
    private readonly batches: Emitted[],
  ) {
    this.camera = ctx.camera.name;
  }
  async start(): Promise<void> {
    this.state = 'Streaming';
    this.ctx.onChange();
    replayWindow.cpu0 ??= process.cpuUsage();
    for (const b of this.batches) {
      replayWindow.frames += b.frames.length;
      this.ctx.emitObservations({ ...b, frames: b.frames.map((f) => ({ ...f, emittedAt: Date.now() })) });
    }
    void (async () => {
      while (this.ctx.observationBacklog() > 0) await new Promise((r) => setTimeout(r, 20));
      const cpu = process.cpuUsage(replayWindow.cpu0);
      replayWindow.cpuMs = (cpu.user + cpu.system) / 1000;
      this.state = 'Completed';
      this.ctx.onChange();
    })();
  }
  async stop(): Promise<void> {}
  report(): CameraReport {
    return { name: this.camera, state: this.state };
  }
}

/**
 * A vision camera that reports Completed only once the agent has no observation batch waiting: an agent
 * ending a history task does not wait for its outbox (issue #11's part), and the bench measures every frame.
 */
class DrainedCamera implements CameraRunner {
  readonly camera: string;
  private polling = false;
  constructor(
    private readonly ctx: CameraRunnerContext,
    private readonly inner: CameraRunner,
  ) {
    this.camera = inner.camera;
  }
  start(): Promise<void> {
    return this.inner.start();
  }
  stop(): Promise<void> {
    return this.inner.stop();
  }
  report(): CameraReport {
    const r = this.inner.report();
    if (r.state !== 'Completed' || this.ctx.observationBacklog() === 0) return r;
    if (!this.polling) {
      this.polling = true;
      const poll = () => (this.ctx.observationBacklog() === 0 ? this.ctx.onChange() : setTimeout(poll, 50));
      setTimeout(poll, 50);
    }
    return { ...r, state: 'Streaming' };
  }
}

async function runAsAgent(argv: string[]): Promise<void> {
  const { runAgentCommand } = await import('../edge-agent/src/cli/run.ts');
  const { pipelineRunnerFactory } = await import('../edge-agent/src/agent/pipeline-runner.ts');
  const { UpstreamMeter } = await import('../edge-agent/src/transport/upstream-meter.ts');
  const env = process.env;
  // Every message as the WebSocket messages it became (the wire model, below); acks are numbered per socket.
  const protocol = Number(env.MEI_BENCH_PROTOCOL) as WireProtocol;
  const wireLog: LoggedMessage[] = [];
  let ackId = 0;
  const meter = new (class extends UpstreamMeter {
    override sent(event: string, payload: unknown, wire: unknown = payload): void {
      super.sent(event, payload, wire);
      wireLog.push(recordMessage(event, payload, wire, protocol, ackId++));
    }
  })({ detail: true });
  const wall0 = performance.now();
  const recorded: Emitted[] = [];
  const replay = env.MEI_BENCH_REPLAY ? (JSON.parse(readFileSync(env.MEI_BENCH_REPLAY, 'utf8')) as Emitted[]) : undefined;
  const vision = pipelineRunnerFactory(env, { maxFrames: Number(env.MEI_BENCH_MAX_FRAMES), sendLikeLive: true, embeddingCadence: env.MEI_BENCH_EMBED_EVERY_MS ? Number(env.MEI_BENCH_EMBED_EVERY_MS) : undefined });
  const runners: CameraRunnerFactory = replay
    ? (ctx) => new ReplayCamera(ctx, replay.filter((b) => b.camera === ctx.camera.name))
    : (ctx) => new DrainedCamera(ctx, vision({ ...ctx, emitObservations: (b) => (recorded.push(b), ctx.emitObservations(b)) }));
  const code = await runAgentCommand(argv, {
    runners,
    connection: { protocol, perMessageDeflate: env.MEI_BENCH_DEFLATE === '1', meter },
    forceExit: false,
    log: env.MEI_BENCH_AGENT_LOG ? (m: string) => appendFileSync(env.MEI_BENCH_AGENT_LOG!, `${new Date().toISOString()} ${m}\n`) : () => {},
  });
  const cpu = process.cpuUsage();
  const report: AgentReport = {
    totals: meter.totals(),
    cpuMs: replay ? (replayWindow.cpuMs ?? NaN) : (cpu.user + cpu.system) / 1000,
    wallMs: performance.now() - wall0,
  };
  writeFileSync(env.MEI_BENCH_WIRE_LOG!, wireLog.map((m) => JSON.stringify(m)).join('\n'));
  writeFileSync(env.MEI_BENCH_REPORT!, JSON.stringify(report));
  if (!replay) writeFileSync(env.MEI_BENCH_RECORD!, JSON.stringify(recorded));
  process.exit(code);
}

// ---- the benchmark -------------------------------------------------------------------------------------------

const round = (v: number, d = 1) => Math.round(v * 10 ** d) / 10 ** d;

function cameras(layout: Layout, video: string): CameraSpec[] {
  if (layout === 'one') return [{ name: 'pets', node: 'edge-bench', source: video }];
  const regions = loadSplit(undefined, FRAME);
  const overlaps = regionOverlaps(regions);
  return regions.map((r) => ({ name: r.name, node: 'edge-bench', source: video, roi: { x: r.x, y: r.y, width: r.w, height: r.h }, overlaps: overlaps.get(r.name) }));
}

/** kbit/s of the camera's frames as H.264 (libx264, CRF 23, preset medium), encoded once per region. */
function h264KbitPerSecond(video: string, cam: CameraSpec, frames: number, dir: string): number {
  const out = path.join(dir, `${cam.name}.h264`);
  const crop = cam.roi ? ['-vf', `crop=${cam.roi.width}:${cam.roi.height}:${cam.roi.x}:${cam.roi.y}`] : [];
  execFileSync('ffmpeg', ['-v', 'error', '-y', '-i', video, '-frames:v', String(frames), ...crop, '-an', '-c:v', 'libx264', '-preset', 'medium', '-crf', '23', '-f', 'h264', out]);
  return (statSync(out).size * 8) / 1000 / (frames / FPS);
}

/** One configuration; a vision run saves what its cameras emitted to `record` (for the transport-only runs). */
async function runOnce(cfg: RunConfig, video: string, maxFrames: number, h264: Map<string, number>, record: string, say: (m: string) => void) {
  const { startControlPlane } = await import('../server/control-plane.ts');
  const { attachRealtime } = await import('../server/realtime/socket-server.ts');
  const { silentLogger } = await import('../server/log.ts');
  const stateDir = mkdtempSync(path.join(tmpdir(), 'mei-bench-bandwidth-'));
  const reportFile = path.join(stateDir, 'agent-report.json');
  const wireLogFile = path.join(stateDir, 'agent-wire.jsonl');
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    MEI_MODE: 'embedded',
    MEI_DEMO: '0',
    MEI_ADMIN_PASSWORD: 'bench-bandwidth-not-a-secret',
    MEI_AGENT_COMMAND: JSON.stringify([process.execPath, '--import', 'tsx', SELF, '--as-agent']),
    MEI_BENCH_REPORT: reportFile,
    MEI_BENCH_WIRE_LOG: wireLogFile,
    MEI_BENCH_MAX_FRAMES: String(maxFrames),
    MEI_BENCH_PROTOCOL: String(cfg.protocol),
    MEI_BENCH_DEFLATE: cfg.deflate ? '1' : '0',
    MEI_BENCH_RECORD: record,
    MEI_BENCH_REPLAY: cfg.replay ?? '',
  };
  // The control plane passes agents only the environment an admin lists (server/backends/embedded/worker-runtime.ts).
  env.MEI_AGENT_ENV = Object.keys(env).filter((k) => k.startsWith('MEI_BENCH_')).join(',');
  const http = createServer();
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', () => r()));
  const proxy = await startCountingProxy({ host: '127.0.0.1', port: (http.address() as { port: number }).port });
  // Agents are told the relay's address: everything they send crosses it.
  const cp = await startControlPlane({ env, stateDir, serverUrl: () => proxy.url, log: silentLogger });
  // ingest: batches are committed (and acked) as in production; without it every batch is answered retry-later.
  const rt = attachRealtime(http, { backend: cp.backend, controllers: cp.controllers, tokens: cp.tokens, sessions: cp.sessions, live: cp.live, ingest: cp.ingest, log: silentLogger });
  const cams = cameras(cfg.layout, video);
  const name = `bw-${cfg.layout}-${cfg.privacy}-p${cfg.protocol}${cfg.deflate ? '-deflate' : ''}${cfg.replay ? '-replay' : ''}`;
  const jobKey = `default/${name}`;
  try {
    const job: MultiEdgeInferenceInput = {
      metadata: { name, namespace: 'default' },
      spec: { mode: 'history', cameras: cams, models: { detector: { name: 'yolox-nano', decoder: 'yolox' }, reid: { kind: 'onnx', name: 'osnet-x0.25-msmt17' } }, privacy: { preview: cfg.privacy } },
    };
    await cp.backend.create(job);
    say(`${job.metadata.name}: ${cfg.replay ? 'replaying' : 'running'} ${maxFrames} frames x ${cams.length} camera(s)`);
    // The agent writes its report when its task is done and it exits; then its connection closes.
    const deadline = Date.now() + 60 * 60_000;
    while (!existsSync(reportFile) || proxy.connections().open > 0) {
      if (Date.now() > deadline) throw new Error(`${job.metadata.name}: the agent did not finish within 60 min`);
      await new Promise((r) => setTimeout(r, 500));
    }
  } finally {
    await rt.close();
    await cp.close();
    http.close();
    await proxy.close();
  }
  const agent = JSON.parse(readFileSync(reportFile, 'utf8')) as AgentReport;
  const wireLog = readFileSync(wireLogFile, 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as LoggedMessage);
  rmSync(stateDir, { recursive: true, force: true });

  // Per camera, by field: the wire model (scripts/bandwidth/wire-model.ts: each message compressed as the
  // agent's deflate did, plus its WebSocket header); what the TCP count has beyond the model (HTTP upgrade,
  // Engine.IO pongs, any mismatch) is framing on the wall clock, shared among the cameras.
  const all = Object.values(agent.totals);
  const total = (f: (t: UpstreamTotals) => PerKind) => all.reduce((s, t) => s + Object.values(f(t)).reduce((a, b) => a + b, 0), 0);
  const payload = total((t) => t.bytes);
  const messages = all.reduce((s, t) => s + t.messages.boxes + t.messages.state + t.messages.thumbnails + t.messages.previews + t.messages.other, 0);
  const tcp = proxy.upstream();
  const model = await modelWire(wireLog, cams.map((c) => c.name), cfg.deflate);
  const rest = tcp - model.total;
  const wallS = agent.wallMs / 1000;
  const perCamera = cams.map((c) => {
    const t = agent.totals[`${jobKey} ${c.name}`];
    if (!t?.frames) throw new Error(`${jobKey}: the agent sent no frames for camera ${c.name}`);
    // Video time actually sent (an agent that ends a history task may leave batches unsent: see framesSent).
    const videoS = t.frames / FPS;
    const w = model.cameras.get(c.name)!;
    // Observations and thumbnails follow the frames (per video second); state and heartbeats the wall clock.
    const bytes = {
      boxes: w.boxes / videoS,
      embeddings: w.embeddings / videoS,
      thumbnails: w.thumbnails / videoS,
      stateAndHeartbeats: (w.state + w.other) / wallS,
      framing: w.headersOfFrames / videoS + (w.headersOfClock + rest / cams.length) / wallS,
    };
    const sum = Object.values(bytes).reduce((a, b) => a + b, 0);
    const kbit = (sum * 8) / 1000;
    return {
      camera: c.name,
      bytesPerSecond: Object.fromEntries(Object.entries(bytes).map(([n, v]) => [n, round(v)])) as Record<keyof typeof bytes, number>,
      totalBytesPerSecond: round(sum),
      kbitPerSecond: round(kbit, 2),
      h264KbitPerSecond: round(h264.get(c.name)!, 1),
      ratio: round(kbit / h264.get(c.name)!, 4),
      observationMessagesPerVideoSecond: round(t.messages.boxes / videoS, 2),
      framesSent: t.frames,
      embeddingsPerVideoSecond: round(t.messages.embeddings / videoS, 2),
    };
  });
  return {
    ...cfg,
    replay: cfg.replay !== undefined,
    cameras: perCamera,
    meanRatio: round(perCamera.reduce((s, c) => s + c.ratio, 0) / perCamera.length, 4),
    tcp: {
      upstreamBytes: tcp,
      downstreamBytes: proxy.downstream(),
      connections: proxy.connections().accepted,
      payloadBytes: Math.round(payload),
      messages: Math.round(messages),
      // The wire model's total against the TCP count (the rest: HTTP upgrade, Engine.IO pongs, mismatch).
      modelledBytes: Math.round(model.total),
      unmodelledBytes: Math.round(rest),
      compressedToPayload: round(model.total / Math.max(1, payload), 3),
      // Everything over video seconds, heartbeats included (too high when the run is slower than real time).
      rawUpstreamBytesPerCameraVideoSecond: round((tcp * FPS) / all.reduce((n, t) => n + t.frames, 0)),
    },
    // Vision runs: the whole agent process; transport-only runs: from the first batch emitted to the last ack.
    agent: { cpu: cfg.replay ? 'transport only' : 'whole agent', cpuMs: Math.round(agent.cpuMs), cpuMsPerFrame: round(agent.cpuMs / (maxFrames * cams.length), 3), wallSeconds: round(wallS), framesPerSecond: round((maxFrames * cams.length) / wallS, 2) },
    loadAverage: round(loadavg()[0]),
  };
}

async function main(): Promise<void> {
  const values = benchFlags({
    'max-frames': { type: 'string' },
    layout: { type: 'string', default: 'one,two' },
    privacy: { type: 'string', default: 'none,thumbnails' },
    protocol: { type: 'string', default: '1,2' },
    deflate: { type: 'string', default: 'on' },
    'compare-deflate': { type: 'string', default: 'yes' },
    'embed-every-ms': { type: 'string' },
    help: { type: 'boolean', default: false },
  });
  if (values.help) return void console.log(USAGE);
  const maxFrames = numberFlag(values['max-frames'], '--max-frames', 300, 20, VIDEO_FRAMES, true);
  const list = <T extends string>(v: string, flag: string, allowed: readonly T[]): T[] => {
    const xs = v.split(',').map((s) => s.trim());
    for (const x of xs) if (!allowed.includes(x as T)) throw new FlagError(`${flag} must be a list of ${allowed.join(', ')}, got '${x}'`);
    return xs as T[];
  };
  const layouts = list(values.layout!, '--layout', ['one', 'two'] as const);
  const privacies = list(values.privacy!, '--privacy', ['none', 'thumbnails'] as const);
  const protocols = list(values.protocol!, '--protocol', ['1', '2'] as const).map(Number) as WireProtocol[];
  const deflate = list(values.deflate!, '--deflate', ['on', 'off'] as const)[0] === 'on';
  const compareDeflate = list(values['compare-deflate']!, '--compare-deflate', ['yes', 'no'] as const)[0] === 'yes';
  const embedEveryMs = numberFlag(values['embed-every-ms'], '--embed-every-ms', undefined, 100, 60_000, true);
  // Read by the agent processes (children of the control plane, which passes this environment on).
  if (embedEveryMs !== undefined) process.env.MEI_BENCH_EMBED_EVERY_MS = String(embedEveryMs);
  process.env.MEI_DATA_DIR ??= path.resolve(ROOT, '../shared/data');
  process.env.MEI_MODEL_DIR ??= path.resolve(ROOT, '../shared/models');
  const video = path.join(process.env.MEI_DATA_DIR, 'vtest.avi');
  const say = (m: string) => console.error(`[bench-bandwidth] ${m}`);

  // Vision runs; then, for protocol 2 without previews, the same batches replayed without and with deflate.
  const configs: RunConfig[] = [];
  for (const layout of layouts) for (const privacy of privacies) for (const protocol of protocols) configs.push({ layout, privacy, protocol, deflate });
  const tmp = mkdtempSync(path.join(tmpdir(), 'mei-bench-h264-'));
  const h264 = new Map<string, number>();
  for (const layout of layouts) for (const c of cameras(layout, video)) if (!h264.has(c.name)) h264.set(c.name, h264KbitPerSecond(video, c, maxFrames, tmp));
  rmSync(tmp, { recursive: true, force: true });
  say(`H.264 (libx264 CRF 23 medium) kbit/s: ${[...h264].map(([n, v]) => `${n} ${round(v)}`).join(', ')}`);

  const records = mkdtempSync(path.join(tmpdir(), 'mei-bench-bandwidth-records-'));
  const runs: Array<Awaited<ReturnType<typeof runOnce>>> = [];
  const run = async (cfg: RunConfig, record: string) => {
    const r = await runOnce(cfg, video, maxFrames, h264, record, say);
    say(`${cfg.layout} ${cfg.privacy} p${cfg.protocol}${cfg.deflate ? ' deflate' : ''}${cfg.replay ? ' (transport only)' : ''}: ${r.cameras.map((c) => `${c.camera} ${c.kbitPerSecond} kbit/s (${round(c.ratio * 100, 2)} %)`).join(', ')}; agent ${r.agent.cpuMsPerFrame} CPU ms/frame`);
    runs.push(r);
  };
  try {
    for (const cfg of configs) {
      const record = path.join(records, `${cfg.layout}-${cfg.privacy}-p${cfg.protocol}.json`);
      await run(cfg, record);
      if (compareDeflate && cfg.protocol === 2 && cfg.privacy === 'none') {
        for (const on of [false, true]) await run({ ...cfg, deflate: on, replay: record }, path.join(records, 'unused.json'));
      }
    }
  } finally {
    rmSync(records, { recursive: true, force: true });
  }
  // permessage-deflate: the same replayed batches without and with it (TCP bytes, transport CPU).
  const deflateEffect = runs
    .filter((r) => r.replay && r.deflate)
    .map((on) => {
      const off = runs.find((r) => r.replay && !r.deflate && r.layout === on.layout && r.privacy === on.privacy && r.protocol === on.protocol)!;
      return {
        layout: on.layout,
        tcpBytesOff: off.tcp.upstreamBytes,
        tcpBytesOn: on.tcp.upstreamBytes,
        bytesSavedPct: round((100 * (off.tcp.upstreamBytes - on.tcp.upstreamBytes)) / off.tcp.upstreamBytes),
        transportCpuMsPerFrameOff: off.agent.cpuMsPerFrame,
        transportCpuMsPerFrameOn: on.agent.cpuMsPerFrame,
        extraCpuMsPerKbSaved: round((on.agent.cpuMs - off.agent.cpuMs) / Math.max(1e-9, (off.tcp.upstreamBytes - on.tcp.upstreamBytes) / 1000), 3),
      };
    });
  const result = { benchmark: 'bandwidth-pets09-s2l1', deflate: deflateEffect, video: 'vtest.avi', fps: FPS, frames: maxFrames, embeddingCadence: embedEveryMs === undefined ? 'agent' : `fixed ${embedEveryMs} ms`, targetRatio: TARGET_RATIO, h264KbitPerSecond: Object.fromEntries([...h264].map(([n, v]) => [n, round(v)])), runs };
  if (values.json) return void console.log(JSON.stringify(result));
  for (const d of deflateEffect) console.log(`deflate, ${d.layout}: TCP ${d.tcpBytesOff} -> ${d.tcpBytesOn} bytes (-${d.bytesSavedPct} %), transport CPU ${d.transportCpuMsPerFrameOff} -> ${d.transportCpuMsPerFrameOn} ms/frame`);
  for (const r of runs) {
    console.log(`${r.layout.padEnd(3)} ${r.privacy.padEnd(10)} protocol ${r.protocol}${r.deflate ? ' +deflate' : '         '}${r.replay ? ' (transport only)' : ''}  load ${r.loadAverage}  agent ${r.agent.cpuMsPerFrame} CPU ms/frame`);
    for (const c of r.cameras) {
      const b = c.bytesPerSecond;
      console.log(`    ${c.camera.padEnd(6)} ${String(c.kbitPerSecond).padStart(7)} kbit/s = ${round(c.ratio * 100, 2)} % of H.264 ${c.h264KbitPerSecond} kbit/s  [B/s boxes ${b.boxes} embeddings ${b.embeddings} thumbnails ${b.thumbnails} state ${b.stateAndHeartbeats} framing ${b.framing}]`);
    }
  }
}

const asAgent = process.argv.indexOf('--as-agent');
// The runtime appends `run --server <url> --node <node>`; runAgentCommand takes what follows `run`.
if (asAgent >= 0) await runAsAgent(process.argv.slice(asAgent + 1).filter((a, i) => !(i === 0 && a === 'run')));
else
  await main().catch((err) => {
    if (err instanceof FlagError) {
      console.error(`${err.message}\n${USAGE}`);
      process.exit(2);
    }
    console.error(`[bench-bandwidth] ${(err as Error).stack ?? err}`);
    process.exit(1);
  });
