// The edge side of the multi-camera benchmarks: one history-mode pipeline per virtual camera, turned into
// the ObservationBatch messages an agent sends (same embedding cadence rule as the agent, on video time).
import type { CameraSpec, ModelsSpec, ObservationBatch, TrackObservation } from '@mei/contracts';
import { createCameraPipeline } from '@mei/edge-agent/src/pipeline/pipeline.ts';
import { EmbeddingCadence } from '@mei/edge-agent/src/agent/embedding-cadence.ts';

export interface CameraBatchOptions {
  cameras: CameraSpec[];
  models: ModelsSpec;
  maxFrames: number;
  threads?: number;
  jobKey: string;
  /** An embedding per confirmed track on its first frame, then at most every this many ms of video (default: the agent's). */
  embedEveryMs?: number;
  /** Frames per batch. */
  batchFrames: number;
}

/**
 * Runs the cameras concurrently but delivers their batches merged in video-time order, as synchronised live
 * cameras would, so a run's result does not depend on thread scheduling. Returns fps per camera.
 */
export async function runCamerasInVideoTimeOrder(o: CameraBatchOptions, deliver: (b: ObservationBatch) => void): Promise<Map<string, number>> {
  const queues: ObservationBatch[][] = o.cameras.map(() => []);
  const finished = o.cameras.map(() => false);
  const fps = new Map<string, number>();
  const drain = () => {
    for (;;) {
      if (queues.some((q, k) => q.length === 0 && !finished[k])) return; // that camera may still be earlier
      let next = -1;
      queues.forEach((q, k) => {
        if (q.length && (next < 0 || q[0].frames[0].timestampMs < queues[next][0].frames[0].timestampMs)) next = k;
      });
      if (next < 0) return;
      deliver(queues[next].shift()!);
    }
  };
  await Promise.all(
    o.cameras.map(async (camera, k) => {
      const pipeline = await createCameraPipeline({ camera, models: o.models, mode: 'history', allFrames: true, maxFrames: o.maxFrames, threads: o.threads, field: `split[${k}]` });
      const cadence = new EmbeddingCadence(o.embedEveryMs);
      let pending: ObservationBatch['frames'] = [];
      let pendingEmb: NonNullable<ObservationBatch['embeddings']> = [];
      let seq = 0;
      const flush = () => {
        if (pending.length) queues[k].push({ jobKey: o.jobKey, camera: camera.name, seq: seq++, frames: pending, ...(pendingEmb.length ? { embeddings: pendingEmb } : {}) });
        pending = [];
        pendingEmb = [];
        drain();
      };
      try {
        const summary = await pipeline.run((r) => {
          const tracks: TrackObservation[] = r.tracks
            .filter((t) => t.state !== 'removed')
            .map((t) => ({ id: t.id, x: t.x, y: t.y, w: Math.max(0, t.w), h: Math.max(0, t.h), score: Math.min(1, Math.max(0, t.score)), state: t.state }));
          pending.push({ frameIndex: r.frameIndex, timestampMs: r.timestampMs, emittedAt: Date.now(), width: r.width, height: r.height, tracks });
          for (const t of r.tracks) {
            if (t.state !== 'confirmed' || !t.embedding) continue;
            if (!cadence.due(t.id, r.timestampMs)) continue;
            pendingEmb.push({ id: t.id, vector: Array.from(t.embedding, (v) => Math.round(v * 1e6) / 1e6) });
          }
          if (pending.length >= o.batchFrames) flush();
        });
        flush();
        fps.set(camera.name, summary.fps);
      } finally {
        finished[k] = true;
        drain();
        await pipeline.dispose();
      }
    }),
  );
  return fps;
}
