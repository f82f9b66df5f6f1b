// The demo job created on the first embedded start: the PETS09 sample video cut into two overlapping
// virtual cameras (ROIs), so a fresh install shows cross-camera tracking without any setup (live preview
// on: the sample video is public, so its pixels may leave the "edge").
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { MultiEdgeInferenceInput, ModelsSpec } from '@mei/contracts';
import type { JobBackend } from './backends/types.ts';
import type { Logger } from './log.ts';
import { MODEL_REGISTRY } from '@mei/vision/models/registry';

export const DEMO_NODE = 'edge-local';
const DEMO_VIDEO = 'vtest.avi';

/** Best models present in MEI_MODEL_DIR: YOLOX-Nano else NanoDet (built at first use); OSNet else histograms. */
export function demoModels(modelDir: string | undefined): ModelsSpec {
  const has = (name: string) => !!modelDir && existsSync(path.join(modelDir, MODEL_REGISTRY[name].file));
  return {
    detector: has('yolox-nano') ? { name: 'yolox-nano', decoder: 'yolox' } : { name: 'nanodet-m', decoder: 'nanodet' },
    reid: has('osnet-x0.25-msmt17') ? { kind: 'onnx', name: 'osnet-x0.25-msmt17' } : { kind: 'histogram' },
  };
}

/**
 * Identity settings for the demo's two overlapping virtual cameras: co-location hands people over between
 * them at once, so a short hand-off window. The CRD default (10 s) lets people leaving and entering at one
 * edge seconds apart chain into one identity here: cross-camera IDF1 62 vs 82 (docs/benchmarks.md).
 * bench:mtmc measures exactly these settings.
 */
export const DEMO_CROSS_CAMERA = { matchThreshold: 0.2, maxGapSeconds: 2 } as const;

export function demoJob(modelDir: string | undefined): MultiEdgeInferenceInput {
  // vtest.avi is 768x576; the two halves overlap in x 336..432 so people crossing are seen by both.
  const source = `\${MEI_DATA_DIR}/${DEMO_VIDEO}`;
  return {
    apiVersion: 'sedna.io/v1alpha1',
    kind: 'MultiEdgeInference',
    metadata: { name: 'demo', namespace: 'default', labels: { 'mei.sedna.io/demo': 'true' } },
    spec: {
      mode: 'live',
      cameras: [
        { name: 'left', node: DEMO_NODE, source, loop: true, roi: { x: 0, y: 0, width: 432, height: 576 }, overlaps: ['right'] },
        { name: 'right', node: DEMO_NODE, source, loop: true, roi: { x: 336, y: 0, width: 432, height: 576 }, overlaps: ['left'] },
      ],
      models: demoModels(modelDir),
      crossCamera: { ...DEMO_CROSS_CAMERA },
      // A newcomer should see the people walking under the overlays: low-rate JPEGs of the sample video.
      privacy: { preview: 'live', previewFps: 2 },
    },
  };
}

/** Creates default/demo when the store has no job at all (MEI_DEMO=0 turns this off). */
export async function ensureDemoJob(backend: JobBackend, env: NodeJS.ProcessEnv, log: Logger): Promise<void> {
  if (env.MEI_DEMO === '0') return;
  if ((await backend.list()).length > 0) return;
  const dataDir = env.MEI_DATA_DIR;
  const video = dataDir ? path.join(dataDir, DEMO_VIDEO) : undefined;
  if (!video || !existsSync(video)) {
    log.warn(`demo job skipped: ${video ?? `MEI_DATA_DIR/${DEMO_VIDEO}`} not found (set MEI_DATA_DIR to the folder holding ${DEMO_VIDEO}, or MEI_DEMO=0 to silence this)`);
    return;
  }
  const job = await backend.create(demoJob(env.MEI_MODEL_DIR));
  log.info(`created demo job default/demo on ${video} (detector ${job.spec.models.detector.name}, reid ${job.spec.models.reid?.name ?? job.spec.models.reid?.kind})`);
}
