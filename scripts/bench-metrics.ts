// What the agent's Prometheus metrics cost per frame: the per-frame instrumentation (observeFrame: one
// counter and four histogram observations per camera-frame) and a scrape of the registry, in CPU time.
// Compared with the pipeline's own CPU per frame (--frame-cpu-ms, default 30.2: YOLOX-nano + OSNet on
// PETS09-S2L1, `npm run bench:edge`, docs/benchmarks.md), with a scrape every 30 s at 10 fps per camera.
//   npm run bench:metrics -- [--json] [--frames 200000] [--cameras 4] [--frame-cpu-ms 30.2]
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { agentRegistry, observeFrame, registerCamera } from '../edge-agent/src/agent/metrics.ts';
import { numberFlag, runBench } from './bench-args.ts';

const USAGE = 'usage: npm run bench:metrics -- [--json] [--frames N] [--cameras N] [--frame-cpu-ms MS]';

const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    strict: true,
    options: { json: { type: 'boolean', default: false }, frames: { type: 'string' }, cameras: { type: 'string' }, 'frame-cpu-ms': { type: 'string' } },
  });
  const frames = numberFlag(values.frames, '--frames', 200_000, 1_000, 1e8, true);
  const cameras = numberFlag(values.cameras, '--cameras', 4, 1, 64, true);
  const frameCpuMs = numberFlag(values['frame-cpu-ms'], '--frame-cpu-ms', 30.2, 0.001, 1e5);
  const names = Array.from({ length: cameras }, (_, i) => `cam-${i}`);
  const stops = names.map((c) => registerCamera(c, { dropped: () => 0, threads: () => ({ detector: 2, embedder: 1 }) }));
  const t = { sourceMs: 3.1, detectMs: 21.7, detectWaitMs: 21.7, embedMs: 4.2, trackMs: 0.6, totalMs: 29.6 };
  for (let i = 0; i < 10_000; i++) observeFrame(names[i % cameras], t); // warm-up (JIT)
  const c0 = cpuMs();
  const w0 = performance.now();
  for (let i = 0; i < frames; i++) observeFrame(names[i % cameras], t);
  const observeCpu = cpuMs() - c0;
  const observeWall = performance.now() - w0;
  const scrapes = 200;
  const s0 = cpuMs();
  let bytes = 0;
  for (let i = 0; i < scrapes; i++) bytes = (await agentRegistry.metrics()).length;
  const scrapeCpuMs = (cpuMs() - s0) / scrapes;
  stops.forEach((s) => s());
  const perFrameUs = (observeCpu / frames) * 1000;
  // One scrape per 30 s covers 300 frames of each camera.
  const scrapePerFrameUs = (scrapeCpuMs * 1000) / (300 * cameras);
  const report = {
    frames,
    cameras,
    observeFrameCpuUsPerFrame: Math.round(perFrameUs * 1000) / 1000,
    observeFrameWallUsPerFrame: Math.round(((observeWall / frames) * 1000) * 1000) / 1000,
    scrapeCpuMs: Math.round(scrapeCpuMs * 1000) / 1000,
    scrapeBytes: bytes,
    scrapePerFrameCpuUs: Math.round(scrapePerFrameUs * 1000) / 1000,
    frameCpuMs,
    overheadPercent: Math.round(((perFrameUs + scrapePerFrameUs) / (frameCpuMs * 1000)) * 100 * 10_000) / 10_000,
    loadAverage: Math.round(loadavg()[0] * 100) / 100,
  };
  if (values.json) console.log(JSON.stringify(report));
  else console.log(`metrics cost ${report.observeFrameCpuUsPerFrame} µs CPU per frame + ${report.scrapePerFrameCpuUs} µs of scraping = ${report.overheadPercent} % of ${frameCpuMs} CPU ms/frame (load ${report.loadAverage})`);
}

runBench(main, USAGE);
