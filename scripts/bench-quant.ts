// Detector session cost, float vs int8 (issue #16, int8 detector): CPU ms per run of each detector file at
// each input size, through the same session settings the pipeline uses (openOnnxModel), 1 intra-op thread by
// default. Files run in interleaved rounds (a, b, a, b, ...) so a neighbour's load spike hits all of them
// alike; the median round is reported. The output's anchor count is checked at every size (a fitted input
// other than the calibration size must still run).
//
//   npm run bench:quant -- [--json] [--files F1,F2] [--sizes 416x320,352x256] [--reps 40] [--rounds 5] [--threads 1]
// Default files: $MEI_MODEL_DIR/yolox_nano.onnx and $MEI_MODEL_DIR/yolox_nano.int8.onnx
// (scripts/quantize-models.sh writes the int8 file and links the float one into its --out).
import { existsSync } from 'node:fs';
import { loadavg } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { openOnnxModel, type OnnxModel } from '@mei/vision/detectors/onnxSession';
import { yoloxAnchorCount } from '@mei/vision/detectors/decoders';
import { withInputSize } from '@mei/vision/models/inputSize';
import { benchFlags, FlagError, numberFlag, runBench } from './bench-args.ts';

const USAGE = 'usage: npm run bench:quant -- [--json] [--files F1,F2] [--sizes 416x320,352x256] [--reps 40] [--rounds 5] [--threads 1]';

function parseSize(s: string): [number, number] {
  const m = /^(\d+)x(\d+)$/.exec(s.trim());
  if (!m || Number(m[1]) % 32 || Number(m[2]) % 32 || Number(m[1]) < 64 || Number(m[2]) < 64) throw new FlagError(`--sizes: each size must be WxH, multiples of 32 from 64, got '${s}'`);
  return [Number(m[1]), Number(m[2])];
}

const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
const r2 = (v: number) => Math.round(v * 100) / 100;

async function main(): Promise<void> {
  const values = benchFlags({ files: { type: 'string' }, sizes: { type: 'string', default: '416x320,352x256' }, reps: { type: 'string' }, rounds: { type: 'string' }, threads: { type: 'string' }, help: { type: 'boolean', short: 'h' } });
  if (values.help) return void console.log(USAGE);
  const reps = numberFlag(values.reps, '--reps', 40, 1, 10_000, true);
  const rounds = numberFlag(values.rounds, '--rounds', 5, 1, 100, true);
  const threads = numberFlag(values.threads, '--threads', 1, 1, 64, true);
  const sizes = values.sizes.split(',').map(parseSize);
  const dir = process.env.MEI_MODEL_DIR;
  if (!values.files && !dir) throw new FlagError('--files: give the detector files, or set MEI_MODEL_DIR (float + int8 detector)');
  const files = values.files ? values.files.split(',').map((f) => f.trim()) : ['yolox_nano.onnx', 'yolox_nano.int8.onnx'].map((f) => path.join(dir!, f));
  for (const f of files) if (!existsSync(f)) throw new FlagError(`--files: ${f} not found${values.files ? '' : ' (MEI_MODEL_DIR must hold the float and the int8 detector: scripts/quantize-models.sh --out)'}`);
  const loadStart = loadavg();
  const rows = [];
  for (const [w, h] of sizes) {
    const models: OnnxModel[] = [];
    for (const f of files) models.push(await openOnnxModel(`${path.basename(f)}@${w}x${h}`, { threads, field: '--files' }, withInputSize(f, undefined, w, h)));
    // A real-looking input (smooth gradients + texture) rather than zeros: int8 kernels skip no work on
    // zeros, but the float session's denormal handling could.
    const input = new Float32Array(3 * w * h).map((_, i) => (((i % w) * 3 + Math.floor(i / w) * 5 + ((i * 7919) % 61)) % 256));
    const anchors = yoloxAnchorCount(w, h);
    for (const m of models) {
      const out = await m.run(input, [1, 3, h, w]);
      if (out.dims[1] !== anchors) throw new Error(`${m.file}: output [${out.dims.join(', ')}], expected ${anchors} anchors at ${w}x${h}`);
      for (let i = 0; i < 3; i++) await m.run(input, [1, 3, h, w]); // warm-up
    }
    const cpu: number[][] = models.map(() => []);
    const wall: number[][] = models.map(() => []);
    const per = Math.max(1, Math.round(reps / rounds));
    for (let r = 0; r < rounds; r++) {
      for (let k = 0; k < models.length; k++) {
        const c0 = process.cpuUsage();
        const t0 = performance.now();
        for (let i = 0; i < per; i++) await models[k].run(input, [1, 3, h, w]);
        const c = process.cpuUsage(c0);
        cpu[k].push((c.user + c.system) / 1000 / per);
        wall[k].push((performance.now() - t0) / per);
      }
    }
    for (let k = 0; k < models.length; k++) {
      rows.push({ file: files[k], size: `${w}x${h}`, cpuMsPerRun: r2(median(cpu[k])), wallMsPerRun: r2(median(wall[k])), vsFirst: r2(median(cpu[0]) / median(cpu[k])) });
      await models[k].dispose();
    }
  }
  const report = { benchmark: 'detector session CPU per run, float vs int8', date: new Date().toISOString(), threads, runsPerFile: rounds * Math.max(1, Math.round(reps / rounds)), loadAverage: { start: loadStart, end: loadavg() }, rows };
  if (values.json) console.log(JSON.stringify(report));
  else {
    console.table(rows.map((r) => ({ ...r, file: r.file.split(path.sep).slice(-2).join(path.sep) })));
    console.log(`load average ${loadStart.map((v) => v.toFixed(2)).join(' ')} -> ${loadavg().map((v) => v.toFixed(2)).join(' ')}`);
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) runBench(main, USAGE);
