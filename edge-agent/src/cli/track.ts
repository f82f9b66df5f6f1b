// `mei-agent track`: run one camera's pipeline over a recording and write MOTChallenge results
// (frame,id,x,y,w,h,score,-1,-1,-1 with 1-based frames) for evaluation with mei-eval or py-motmetrics.
import { createWriteStream } from 'node:fs';
import { parseArgs } from 'node:util';
import { withDefaults } from '@mei/contracts/defaults';
import type { DetectorSpec, ReidSpec, TrackingSpec } from '@mei/contracts/job';
import { createCameraPipeline, type FrameResult } from '../pipeline/pipeline.ts';
import { UsageError } from './usage.ts';

export const TRACK_USAGE = `usage: mei-agent track --video <file|dir|url> --out <res.txt> [options]
  --detector yolox|nanodet|yolov8   detector decoder (default yolox = registry model yolox-nano)
  --detector-model <file.onnx>       detector file instead of the registry model (needed for yolov8)
  --input-size <W>x<H>               detector input size (models with a dynamic input only)
  --reid <file.onnx>|<registry name>|hist|none   appearance: an ONNX ReID model (e.g. osnet-x0.25-msmt17),
                                     colour histograms (default), or none (motion only)
  --max-frames <N>                   stop after N frames
  --threads <N>                      onnxruntime intra-op threads per network (default 2)
  --score <0-1>                      detector score threshold (default: the tracker's low threshold)
  --high <0-1> --low <0-1>           tracker first / second stage thresholds (default 0.5 / 0.1)
  --min-hits <N> --max-lost <s> --appearance-weight <0-1>   tracker settings (defaults 3 / 3 / 0.5)
  --json                             print the summary as JSON
Model files are looked up in MEI_MODEL_DIR.`;

const DETECTORS: Record<string, DetectorSpec> = {
  yolox: { name: 'yolox-nano', decoder: 'yolox' },
  nanodet: { name: 'nanodet-m', decoder: 'nanodet' },
  yolov8: { decoder: 'yolov8' },
};

function num(v: string | undefined, flag: string, min: number, max: number, integer = false): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n))) {
    throw new UsageError(`${flag} must be ${integer ? 'an integer' : 'a number'} in [${min}, ${max}], got '${v}'`);
  }
  return n;
}

export function reidSpecFromFlag(v: string | undefined): ReidSpec | undefined | null {
  if (v === undefined || v === 'hist' || v === 'histogram') return undefined;
  if (v === 'none') return null;
  return v.endsWith('.onnx') ? { kind: 'onnx', path: v } : { kind: 'onnx', name: v };
}

/** One MOTChallenge line per confirmed track seen in this frame. */
export function motLines(r: Pick<FrameResult, 'frameIndex' | 'tracks'>): string {
  let s = '';
  for (const t of r.tracks) {
    if (t.state !== 'confirmed') continue;
    s += `${r.frameIndex + 1},${t.id},${t.x.toFixed(2)},${t.y.toFixed(2)},${t.w.toFixed(2)},${t.h.toFixed(2)},${t.score.toFixed(4)},-1,-1,-1\n`;
  }
  return s;
}

export async function runTrackCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      video: { type: 'string' },
      out: { type: 'string' },
      detector: { type: 'string', default: 'yolox' },
      'detector-model': { type: 'string' },
      'input-size': { type: 'string' },
      reid: { type: 'string' },
      'max-frames': { type: 'string' },
      threads: { type: 'string' },
      score: { type: 'string' },
      high: { type: 'string' },
      low: { type: 'string' },
      'min-hits': { type: 'string' },
      'max-lost': { type: 'string' },
      'appearance-weight': { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(TRACK_USAGE);
    return 0;
  }
  if (!values.video) throw new UsageError('--video is required');
  if (!values.out) throw new UsageError('--out is required');
  const base = DETECTORS[values.detector!];
  if (!base) throw new UsageError(`--detector must be one of ${Object.keys(DETECTORS).join(', ')}, got '${values.detector}'`);
  const detector: DetectorSpec = values['detector-model'] ? { decoder: base.decoder, path: values['detector-model'] } : { ...base };
  if (!detector.name && !detector.path) throw new UsageError(`--detector ${values.detector} needs --detector-model <file.onnx>`);
  if (values['input-size']) {
    const m = /^(\d+)x(\d+)$/.exec(values['input-size']);
    if (!m) throw new UsageError(`--input-size must look like 640x480, got '${values['input-size']}'`);
    detector.inputWidth = Number(m[1]);
    detector.inputHeight = Number(m[2]);
  }
  const tracking: TrackingSpec = {
    highThreshold: num(values.high, '--high', 0, 1),
    lowThreshold: num(values.low, '--low', 0, 1),
    minHits: num(values['min-hits'], '--min-hits', 1, 100, true),
    maxLostSeconds: num(values['max-lost'], '--max-lost', 0, 600),
    appearanceWeight: num(values['appearance-weight'], '--appearance-weight', 0, 1),
  };
  // The tracker's second stage needs the weak detections: by default keep everything above lowThreshold.
  detector.scoreThreshold = num(values.score, '--score', 0, 1) ?? withDefaults('tracking', tracking).lowThreshold;
  const reid = reidSpecFromFlag(values.reid);
  const pipeline = await createCameraPipeline({
    camera: { source: values.video },
    models: { detector, reid: reid ?? undefined },
    tracking,
    mode: 'history',
    allFrames: true,
    threads: num(values.threads, '--threads', 1, 64, true),
    maxFrames: num(values['max-frames'], '--max-frames', 1, 1e9, true),
    histogramFallback: reid !== null,
  });
  const out = createWriteStream(values.out);
  let lines = 0;
  try {
    const summary = await pipeline.run((r) => {
      const s = motLines(r);
      if (s) {
        lines += s.split('\n').length - 1;
        if (!out.write(s)) return new Promise<void>((resolve) => out.once('drain', () => resolve()));
      }
    });
    await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
    const report = {
      video: values.video,
      out: values.out,
      frames: summary.frames,
      rows: lines,
      fps: Number(summary.fps.toFixed(2)),
      cpuMsPerFrame: Number(summary.cpuMsPerFrame.toFixed(1)),
      msPerFrame: Object.fromEntries(Object.entries(summary.meanMs).map(([k, v]) => [k.replace(/Ms$/, ''), Number(v.toFixed(2))])),
    };
    if (values.json) console.log(JSON.stringify(report));
    else {
      console.log(`${report.frames} frames, ${lines} result rows -> ${values.out}`);
      console.log(`${report.fps} fps end-to-end; ms/frame: ${Object.entries(report.msPerFrame).map(([k, v]) => `${k} ${v}`).join(', ')}; CPU ${report.cpuMsPerFrame} ms/frame`);
    }
    return 0;
  } finally {
    out.destroy();
    await pipeline.dispose();
  }
}
