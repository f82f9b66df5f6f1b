// Agent spool benchmark: what a busy camera produces in wire protocol 2 (the bytes the spool stores and the
// agent sends), which sizes the default spool, and how fast the spool writes and reopens (replay after a
// restart). The camera is PETS09-S2L1 (vtest.avi, 768x576, 10 fps, up to ~8 people) through the real edge
// pipeline (PipelineCameraRunner, history mode, YOLOX-nano + OSNet x0.25, embeddings at the agent's cadence).
//
//   npm run bench:spool -- [--json] [--max-frames N] [--spool-mb M]
//   --max-frames N   first N frames of vtest.avi (default: all 795)
//   --spool-mb M     how much to write for the spool timings (default 64)
// Needs MEI_DATA_DIR/vtest.avi and MEI_MODEL_DIR (YOLOX-nano, OSNet). Prints load average and CPU ms.
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { applyTaskDefaults, encodeObservations, type ObservationBatch } from '@mei/contracts';
import { DEFAULT_SPOOL_BYTES } from '../edge-agent/src/agent/agent.ts';
import { pipelineRunnerFactory } from '../edge-agent/src/agent/pipeline-runner.ts';
import { Spool } from '../edge-agent/src/transport/spool.ts';
import { FlagError, numberFlag } from './bench-args.ts';

const USAGE = 'usage: npm run bench:spool -- [--json] [--max-frames N] [--spool-mb M]';
const VIDEO_FPS = 10;

const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const round = (v: number, d = 1) => Math.round(v * 10 ** d) / 10 ** d;

/** Runs the real pipeline over the video and returns the batches it emits (as the agent would spool them). */
async function busyCamera(maxFrames: number): Promise<{ batches: Uint8Array[]; frames: number; wallMs: number; cpuMs: number }> {
  const dataDir = process.env.MEI_DATA_DIR ?? path.resolve('data');
  const task = applyTaskDefaults({
    jobKey: 'bench/spool',
    uid: 'bench',
    generation: 1,
    node: 'edge-1',
    mode: 'history',
    cameras: [{ name: 'pets', node: 'edge-1', source: path.join(dataDir, 'vtest.avi') }],
    models: { detector: { name: 'yolox-nano', decoder: 'yolox' }, reid: { kind: 'onnx', name: 'osnet-x0.25-msmt17' } },
  });
  const batches: Uint8Array[] = [];
  let seq = Date.now() * 1000;
  let frames = 0;
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  const t0 = performance.now();
  const c0 = cpuMs();
  const runner = pipelineRunnerFactory(process.env, { maxFrames })({
    task,
    camera: task.cameras[0],
    onChange: () => {
      const state = runner.report().state;
      if (state === 'Completed' || state === 'Failed') done();
    },
    emitObservations: (b) => {
      frames += b.frames.length;
      batches.push(encodeObservations({ ...b, jobKey: task.jobKey, session: 'bench', seq: seq++ } as ObservationBatch));
    },
    observationBacklog: () => 0,
    privacy: () => task.privacy,
    emitPreview: () => {},
    thumbnailSlots: () => 0,
    emitThumbnail: () => {},
    log: (m) => console.error(m),
  });
  await runner.start();
  await finished;
  await runner.stop();
  const report = runner.report();
  if (report.state === 'Failed') throw new Error(`pipeline failed: ${report.message}`);
  return { batches, frames, wallMs: performance.now() - t0, cpuMs: cpuMs() - c0 };
}

/** Appends `targetBytes` of the camera's batches to a fresh spool, reopens it (replay scan), commits all. */
function spoolTimings(batches: Uint8Array[], targetBytes: number) {
  const dir = mkdtempSync(path.join(tmpdir(), 'mei-bench-spool-'));
  try {
    const spool = new Spool(dir, { maxBytes: Math.max(DEFAULT_SPOOL_BYTES, targetBytes * 2) });
    let written = 0;
    let n = 0;
    const t0 = performance.now();
    const c0 = cpuMs();
    while (written < targetBytes) {
      const b = batches[n % batches.length];
      spool.append('bench', ++n, b);
      written += b.length;
    }
    const appendMs = performance.now() - t0;
    const appendCpu = cpuMs() - c0;
    spool.close();
    const t1 = performance.now();
    const c1 = cpuMs();
    const reopened = new Spool(dir, { maxBytes: Math.max(DEFAULT_SPOOL_BYTES, targetBytes * 2) });
    const reopenMs = performance.now() - t1;
    const reopenCpu = cpuMs() - c1;
    const held = reopened.stats().unsent;
    const t2 = performance.now();
    const c2 = cpuMs();
    for (let seq = 1; seq <= n; seq += 8) reopened.commit('bench', Math.min(n, seq + 7)); // acks of a window of 8
    const commitMs = performance.now() - t2;
    const commitCpu = cpuMs() - c2;
    reopened.close();
    const mb = written / 1e6;
    return {
      batches: n,
      megabytes: round(mb, 2),
      append: { wallMs: round(appendMs), cpuMs: round(appendCpu), mbPerSecond: round(mb / (appendMs / 1000)), cpuMsPerMb: round(appendCpu / mb, 2) },
      reopen: { wallMs: round(reopenMs), cpuMs: round(reopenCpu), batchesFound: held },
      commitAll: { wallMs: round(commitMs), cpuMs: round(commitCpu), acks: Math.ceil(n / 8) },
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { json: { type: 'boolean' }, 'max-frames': { type: 'string' }, 'spool-mb': { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) return void console.log(USAGE);
  const maxFrames = numberFlag(values['max-frames'], '--max-frames', 795, 10, 795, true);
  const spoolMb = numberFlag(values['spool-mb'], '--spool-mb', 64, 1, 4096);
  const loadStart = loadavg().map((v) => round(v, 2));
  const cam = await busyCamera(maxFrames);
  const bytes = cam.batches.reduce((n, b) => n + b.length, 0);
  const videoSeconds = cam.frames / VIDEO_FPS;
  const perSecond = bytes / videoSeconds;
  const result = {
    machine: { cpus: cpus().length, model: cpus()[0]?.model },
    loadStart,
    camera: {
      video: 'vtest.avi (PETS09-S2L1, 768x576, 10 fps)',
      frames: cam.frames,
      batches: cam.batches.length,
      bytes,
      bytesPerBatch: Math.round(bytes / cam.batches.length),
      bytesPerVideoSecond: Math.round(perSecond),
      megabytesPerHour: round((perSecond * 3600) / 1e6, 1),
      pipelineWallMs: Math.round(cam.wallMs),
      pipelineCpuMs: Math.round(cam.cpuMs),
    },
    defaultSpool: { bytes: DEFAULT_SPOOL_BYTES, hoursOfThisCamera: round(DEFAULT_SPOOL_BYTES / perSecond / 3600, 1) },
    spool: spoolTimings(cam.batches, spoolMb * 1e6),
    loadEnd: loadavg().map((v) => round(v, 2)),
  };
  if (values.json) console.log(JSON.stringify(result, null, 2));
  else {
    const c = result.camera;
    console.log(`busy camera: ${c.frames} frames, ${c.batches} batches, ${c.bytesPerVideoSecond} B/s of video (${c.megabytesPerHour} MB/h)`);
    console.log(`default spool ${DEFAULT_SPOOL_BYTES} B = ${result.defaultSpool.hoursOfThisCamera} h of this camera`);
    const s = result.spool;
    console.log(`spool: append ${s.megabytes} MB in ${s.append.wallMs} ms (${s.append.mbPerSecond} MB/s, ${s.append.cpuMsPerMb} CPU ms/MB); reopen ${s.reopen.wallMs} ms (${s.reopen.cpuMs} CPU ms)`);
    console.log(`load ${loadStart.join(' ')} -> ${result.loadEnd.join(' ')}`);
  }
}

main().catch((err) => {
  if (err instanceof FlagError) {
    console.error(`${err.message}\n${USAGE}`);
    process.exit(2);
  }
  console.error(err);
  process.exit(1);
});
