// Live view latency and drops, end to end: N synthetic cameras (default 4 x 10 fps, ~10 people each) ->
// real edge agents (EdgeAgent + transport + outbox, started by the server itself with tokens it minted for
// a real job) -> the real MEI server (identity service, fan-out) -> headless Chromium drawing the live page.
// Latency = draw time in the page (performance.timeOrigin + now) - the agent's emittedAt (same machine, same
// clock). Dropped = frames the agents emitted minus frames the page drew, in the measuring window.
//   npm run bench:live -- [--json] [--seconds 20] [--warmup 5] [--cameras 4] [--fps 10] [--people 10]
// The same file is the synthetic agent (`--as-agent run --server <url> --node <node>`), which the server
// starts through MEI_AGENT_COMMAND; it emits tracks and embeddings of people walking, no video.
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import type { CameraReport, ObservationBatch } from '@mei/contracts';
import type { CameraRunner, CameraRunnerContext } from '../edge-agent/src/agent/camera-runner.ts';
import { seededRandom as mulberry32 } from '../test/support/random.ts';
import { EMBEDDING_EVERY_MS } from '../edge-agent/src/agent/embedding-cadence.ts';

const EMBEDDING_DIM = 512;

// ---- the synthetic agent --------------------------------------------------------------------------------


function unitVector(r: () => number, dim: number): number[] {
  const v = Array.from({ length: dim }, () => r() * 2 - 1);
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
}

/** A camera with people walking back and forth: tracks every frame, an embedding per track every 2 s. */
class SyntheticCamera implements CameraRunner {
  readonly camera: string;
  private timer?: NodeJS.Timeout;
  private frames = 0;
  private readonly startedAt = Date.now();
  private pending: ObservationBatch['frames'] = [];
  private readonly embeddedAt = new Map<number, number>();
  private readonly people: Array<{ id: number; x: number; y: number; vx: number; vy: number; look: number[] }>;
  private readonly width = 640;
  private readonly height = 480;

  constructor(
    private readonly ctx: CameraRunnerContext,
    private readonly fps: number,
    peopleCount: number,
  ) {
    this.camera = ctx.camera.name;
    const seed = [...this.camera].reduce((h, c) => (h * 31 + c.charCodeAt(0)) >>> 0, 7);
    const r = mulberry32(seed);
    // Everyone looks like someone of a shared population, so the identity service has real matching to do.
    const population = mulberry32(42);
    const looks = Array.from({ length: peopleCount * 2 }, () => unitVector(population, EMBEDDING_DIM));
    this.people = Array.from({ length: peopleCount }, (_, i) => ({
      id: i + 1,
      x: r() * (this.width - 40),
      y: r() * (this.height - 100),
      vx: (r() - 0.5) * 8,
      vy: (r() - 0.5) * 3,
      look: looks[(i + Math.floor(r() * peopleCount)) % looks.length],
    }));
  }

  async start(): Promise<void> {
    this.timer = setInterval(() => this.tick(), 1000 / this.fps);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
  }

  report(): CameraReport {
    const secs = (Date.now() - this.startedAt) / 1000;
    return { name: this.camera, state: 'Streaming', fps: secs > 0 ? Math.round((this.frames / secs) * 10) / 10 : 0, activeTracks: this.people.length, framesProcessed: this.frames };
  }

  private tick(): void {
    const now = Date.now();
    for (const p of this.people) {
      p.x += p.vx;
      p.y += p.vy;
      if (p.x < 0 || p.x > this.width - 40) p.vx = -p.vx;
      if (p.y < 0 || p.y > this.height - 100) p.vy = -p.vy;
    }
    const tracks = this.people.map((p) => ({ id: p.id, x: p.x, y: p.y, w: 40, h: 100, score: 0.9, state: 'confirmed' as const }));
    this.pending.push({ frameIndex: this.frames++, timestampMs: now, emittedAt: now, width: this.width, height: this.height, tracks });
    const embeddings = this.people
      .filter((p) => now - (this.embeddedAt.get(p.id) ?? 0) >= EMBEDDING_EVERY_MS)
      .map((p) => (this.embeddedAt.set(p.id, now), { id: p.id, vector: p.look }));
    // Live policy of the real runner: send at once unless earlier batches still wait for their ack.
    if (this.ctx.observationBacklog() === 0 || this.pending.length >= 25) {
      this.ctx.emitObservations({ camera: this.camera, frames: this.pending.splice(0), ...(embeddings.length ? { embeddings } : {}) });
    }
  }
}

async function runAsAgent(argv: string[]): Promise<void> {
  const { runAgentCommand } = await import('../edge-agent/src/cli/run.ts');
  const fps = Number(process.env.MEI_BENCH_FPS ?? 10);
  const people = Number(process.env.MEI_BENCH_PEOPLE ?? 10);
  process.exitCode = await runAgentCommand(argv, { runners: (ctx) => new SyntheticCamera(ctx, fps, people), log: () => {} });
}

// ---- the benchmark --------------------------------------------------------------------------------------

interface PageStats {
  received: number;
  drawn: number;
  skippedInBrowser: number;
  perCamera: Record<string, { received: number; drawn: number; lastFrameIndex: number }>;
  latencies: number[];
  receiveLatencies: number[];
}

const quantile = (sorted: number[], q: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] : NaN);
const round = (x: number) => Math.round(x * 10) / 10;

async function bench(): Promise<void> {
  const { values } = parseArgs({
    options: {
      json: { type: 'boolean', default: false },
      seconds: { type: 'string', default: '20' },
      warmup: { type: 'string', default: '5' },
      cameras: { type: 'string', default: '4' },
      fps: { type: 'string', default: '10' },
      people: { type: 'string', default: '10' },
    },
  });
  const num = (name: keyof typeof values, min: number, max: number) => {
    const v = Number(values[name]);
    if (!Number.isFinite(v) || v < min || v > max) throw new Error(`--${name} must be a number in [${min}, ${max}], got ${values[name]}`);
    return v;
  };
  const seconds = num('seconds', 1, 300);
  const warmup = num('warmup', 0, 60);
  const cameras = Math.round(num('cameras', 1, 16));
  const fps = num('fps', 1, 30);
  const people = Math.round(num('people', 0, 100));
  const say = (msg: string) => console.error(`[bench-live] ${msg}`);

  // The real server, as the browser tests start it; its agents are this file in agent mode.
  const self = new URL(import.meta.url).pathname;
  process.env.MEI_AGENT_COMMAND = JSON.stringify([process.execPath, '--import', 'tsx', self, '--as-agent']);
  process.env.MEI_BENCH_FPS = String(fps);
  process.env.MEI_BENCH_PEOPLE = String(people);
  process.env.MEI_AGENT_ENV = 'MEI_BENCH_FPS,MEI_BENCH_PEOPLE'; // agents get a minimal environment
  if (!process.env.MEI_NEXT_DIST_DIR && !process.env.MEI_E2E_URL) {
    const { prepareNext } = await import('./prepare.mjs');
    prepareNext();
  }
  const { default: startServer } = await import('../e2e/global-setup.ts');
  const log = console.log;
  console.log = (...a: unknown[]) => console.error(...a); // keep stdout for the result
  const teardown = await startServer();
  console.log = log;
  const url = process.env.MEI_E2E_URL!;
  const { chromium } = await import('@playwright/test');
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const name = `bench-live-${Date.now().toString(36)}`;
  let cookie = '';
  const api = async (path: string, init: RequestInit = {}) => {
    const res = await fetch(`${url}${path}`, { ...init, headers: { 'content-type': 'application/json', cookie, origin: url, ...(init.headers ?? {}) } });
    if (!res.ok) throw new Error(`${init.method ?? 'GET'} ${path}: HTTP ${res.status} ${await res.text()}`);
    return res;
  };
  try {
    const login = await api('/api/auth/login', { method: 'POST', body: JSON.stringify({ username: process.env.MEI_E2E_USER, password: process.env.MEI_E2E_PASSWORD }) });
    cookie = (login.headers.get('set-cookie') ?? '').split(';')[0];
    const cams = Array.from({ length: cameras }, (_, i) => ({ name: `cam-${i + 1}`, node: `bench-${i + 1}`, source: '/dev/null', fps }));
    await api('/api/jobs', { method: 'POST', body: JSON.stringify({ metadata: { name, namespace: 'default' }, spec: { mode: 'live', cameras: cams, models: { detector: { decoder: 'yolox' } } } }) });
    say(`job default/${name}: ${cameras} synthetic cameras x ${fps} fps x ${people} people on ${url}`);

    const context = await browser.newContext({ baseURL: url, viewport: { width: 1400, height: 1000 } });
    const [cname, cvalue] = cookie.split('=');
    await context.addCookies([{ name: cname, value: cvalue, url }]);
    const page = await context.newPage();
    await page.goto(`/jobs/default/${name}/live`);
    const readStats = () =>
      page.evaluate((): PageStats | null => {
        const s = window.__meiLive?.stats();
        return s ? { received: s.received, drawn: s.drawn, skippedInBrowser: s.skippedInBrowser, perCamera: s.perCamera, latencies: s.latencies(), receiveLatencies: s.receiveLatencies() } : null;
      });
    // Wait until every camera draws (agents start, connect, get their task).
    const deadline = Date.now() + 120_000;
    for (;;) {
      const s = await readStats();
      if (s && Object.values(s.perCamera).filter((c) => c.drawn > 0).length === cameras) break;
      if (Date.now() > deadline) throw new Error(`not every camera drew within 120 s: ${JSON.stringify(s?.perCamera)}`);
      await page.waitForTimeout(500);
    }
    say(`all cameras drawing; warming up ${warmup} s, measuring ${seconds} s`);
    await page.waitForTimeout(warmup * 1000);
    const a = (await readStats())!;
    await page.waitForTimeout(seconds * 1000);
    const b = (await readStats())!;

    let emitted = 0;
    let receivedFrames = 0;
    let drawnFrames = 0;
    for (const cam of Object.keys(b.perCamera)) {
      const pa = a.perCamera[cam] ?? { received: 0, drawn: 0, lastFrameIndex: -1 };
      const pb = b.perCamera[cam];
      emitted += pb.lastFrameIndex - pa.lastFrameIndex; // frame indices count every frame an agent emitted
      receivedFrames += pb.received - pa.received;
      drawnFrames += pb.drawn - pa.drawn;
    }
    const newSamples = b.drawn - a.drawn;
    const lat = b.latencies.slice(-Math.min(newSamples, b.latencies.length)).sort((x, y) => x - y);
    const recv = b.receiveLatencies.slice(-Math.min(b.received - a.received, b.receiveLatencies.length)).sort((x, y) => x - y);
    const job = (await (await api(`/api/jobs/default/${name}`)).json()) as { status?: { identities?: number } };
    const shot = process.env.MEI_BENCH_SCREENSHOT;
    if (shot) await page.screenshot({ path: shot });
    const result = {
      cameras,
      fps,
      peoplePerCamera: people,
      seconds,
      framesEmitted: emitted,
      framesReceived: receivedFrames,
      framesDrawn: drawnFrames,
      dropped: emitted - drawnFrames,
      droppedBeforeBrowser: emitted - receivedFrames,
      droppedInBrowser: receivedFrames - drawnFrames,
      droppedPct: round((100 * (emitted - drawnFrames)) / Math.max(1, emitted)),
      samples: lat.length,
      p50Ms: round(quantile(lat, 0.5)),
      p90Ms: round(quantile(lat, 0.9)),
      p99Ms: round(quantile(lat, 0.99)),
      maxMs: round(lat.at(-1) ?? NaN),
      // The part before the browser's draw: agent -> server -> socket -> page.
      receiveP50Ms: round(quantile(recv, 0.5)),
      receiveP99Ms: round(quantile(recv, 0.99)),
      loadAverage: Math.round(loadavg()[0] * 10) / 10,
      identities: job.status?.identities ?? null,
    };
    if (values.json) console.log(JSON.stringify(result));
    else {
      console.log(`live view: ${cameras} cameras x ${fps} fps x ${people} people, ${seconds} s`);
      console.log(`  latency emit->draw  p50 ${result.p50Ms} ms  p90 ${result.p90Ms} ms  p99 ${result.p99Ms} ms  max ${result.maxMs} ms  (${lat.length} draws)`);
      console.log(`  emit->arrival in page  p50 ${result.receiveP50Ms} ms  p99 ${result.receiveP99Ms} ms  (machine load average ${result.loadAverage})`);
      console.log(`  frames emitted ${emitted}, received ${receivedFrames}, drawn ${drawnFrames}: dropped ${result.dropped} (${result.droppedPct} %)`);
      console.log(`  status.identities ${result.identities}`);
    }
    await api(`/api/jobs/default/${name}`, { method: 'DELETE' }).catch(() => {});
  } finally {
    await browser.close();
    console.log = (...a: unknown[]) => console.error(...a);
    await teardown?.();
    console.log = log;
  }
}

const asAgent = process.argv.indexOf('--as-agent');
// The runtime appends `run --server <url> --node <node>`; runAgentCommand takes what follows `run`.
if (asAgent >= 0) await runAsAgent(process.argv.slice(asAgent + 1).filter((a, i) => !(i === 0 && a === 'run')));
else
  await bench().catch((err) => {
    console.error(`[bench-live] ${(err as Error).stack ?? err}`);
    process.exit(1);
  });
