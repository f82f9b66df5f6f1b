// The edge side of the multi-camera benchmarks: one history-mode pipeline per virtual camera, turned into
// the ObservationBatch messages an agent sends (same embedding cadence rule as the agent, on video time).
// Each batch goes through the wire as production sends it (protocol 2: integer-pixel boxes, int8
// embeddings) and is read back by the server's parser, so the benches score what the server receives.
import { encodeObservations, parseObservationPayload, type CameraSpec, type ModelsSpec, type ObservationBatch, type TrackObservation } from '@mei/contracts';
import { createCameraPipeline } from '@mei/edge-agent/src/pipeline/pipeline.ts';
import { EmbeddingCadence } from '@mei/edge-agent/src/agent/embedding-cadence.ts';

export interface CameraBatchOptions {
  cameras: CameraSpec[];
  models: ModelsSpec;
  maxFrames: number;
  threads?: number;
  jobKey: string;
  /** Fixed embedding cadence: per confirmed track on its first frame, then every this many ms of video (default: the agent's rule). */
  embedEveryMs?: number;
  /** Frames per batch. */
  batchFrames: number;
}

export interface CameraBatchRun {
  /** Frames per second per camera. */
  fps: Map<string, number>;
  /** Process CPU (every thread, not ffmpeg's decoding) per camera-frame, without the time spent in `deliver`. */
  edgeCpuMsPerFrame: number;
  /** Protocol-2 payload bytes sent, and embeddings among them. */
  wireBytes: number;
  embeddings: number;
}

/**
 * Runs the cameras concurrently but delivers their batches merged in video-time order, as synchronised live
 * cameras would, so a run's result does not depend on thread scheduling.
 */
export async function runCamerasInVideoTimeOrder(o: CameraBatchOptions, deliver: (b: ObservationBatch) => void): Promise<CameraBatchRun> {
  // Each camera's encoded batches, with the video time of their first frame (the merge order).
  const queues: Array<Array<{ bytes: Uint8Array; startMs: number }>> = o.cameras.map(() => []);
  const finished = o.cameras.map(() => false);
  const fps = new Map<string, number>();
  let deliverMs = 0;
  let frames = 0;
  let wireBytes = 0;
  let embeddings = 0;
  const cpu0 = process.cpuUsage();
  const drain = () => {
    for (;;) {
      if (queues.some((q, k) => q.length === 0 && !finished[k])) return; // that camera may still be earlier
      let next = -1;
      queues.forEach((q, k) => {
        if (q.length && (next < 0 || q[0].startMs < queues[next][0].startMs)) next = k;
      });
      if (next < 0) return;
      const t0 = performance.now();
      const parsed = parseObservationPayload(queues[next].shift()!.bytes, 2);
      if (!parsed.ok) throw new Error(`protocol 2 round trip refused ${parsed.field}: ${parsed.error}`);
      deliver(parsed.batch);
      deliverMs += performance.now() - t0;
    }
  };
  await Promise.all(
    o.cameras.map(async (camera, k) => {
      const pipeline = await createCameraPipeline({ camera, models: o.models, mode: 'history', allFrames: true, maxFrames: o.maxFrames, threads: o.threads, field: `split[${k}]` });
      const cadence = new EmbeddingCadence(o.embedEveryMs ?? {});
      let pending: ObservationBatch['frames'] = [];
      let pendingEmb: NonNullable<ObservationBatch['embeddings']> = [];
      let seq = 0;
      const flush = () => {
        if (pending.length) {
          const bytes = encodeObservations({ jobKey: o.jobKey, camera: camera.name, seq: seq++, frames: pending, ...(pendingEmb.length ? { embeddings: pendingEmb } : {}) });
          wireBytes += bytes.length;
          embeddings += pendingEmb.length;
          frames += pending.length;
          queues[k].push({ bytes, startMs: pending[0].timestampMs });
        }
        pending = [];
        pendingEmb = [];
        drain();
      };
      try {
        const summary = await pipeline.run((r) => {
          const tracks: TrackObservation[] = r.tracks
            .filter((t) => t.state !== 'removed')
            .map((t) => ({ id: t.id, x: t.x, y: t.y, w: Math.max(0, t.w), h: Math.max(0, t.h), score: Math.min(1, Math.max(0, t.score)), state: t.state }));
          pending.push({ frameIndex: r.frameIndex, timestampMs: Math.max(0, r.timestampMs), emittedAt: Date.now(), width: r.width, height: r.height, tracks });
          for (const t of r.tracks) {
            if (t.state !== 'confirmed' || !t.embedding) continue;
            if (!cadence.due(t.id, r.timestampMs, t.embedding)) continue;
            pendingEmb.push({ id: t.id, vector: Array.from(t.embedding) });
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
  const cpu = process.cpuUsage(cpu0);
  const edgeCpuMs = (cpu.user + cpu.system) / 1000 - deliverMs;
  return { fps, edgeCpuMsPerFrame: frames ? edgeCpuMs / frames : 0, wireBytes, embeddings };
}
