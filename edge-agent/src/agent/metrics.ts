// The agent's Prometheus metrics (served on --metrics-port, off unless asked): per camera frames processed and
// dropped, stage latency histograms, inference threads, and the process's own metrics. Labels: camera names
// and stage names only (bounded by the task), never track ids.
import { createServer, type Server } from 'node:http';
import client from 'prom-client';
import type { StageTimings } from '../pipeline/pipeline.ts';

export const agentRegistry = new client.Registry();
client.collectDefaultMetrics({ register: agentRegistry });

const STAGES = { decode: 'sourceMs', detect: 'detectMs', embed: 'embedMs', track: 'trackMs' } as const satisfies Record<string, keyof StageTimings>;

/** What a camera's runner tells the metrics at scrape time (counters kept by the runner itself). */
export interface CameraProbe {
  dropped(): number;
  threads(): { detector: number; embedder: number } | undefined;
}
const cameras = new Map<string, CameraProbe>();

const framesProcessed = new client.Counter({
  name: 'mei_agent_frames_processed_total',
  help: 'Frames the pipeline processed, per camera',
  labelNames: ['camera'] as const,
  registers: [agentRegistry],
});
new client.Counter({
  name: 'mei_agent_frames_dropped_total',
  help: 'Frames a live source dropped because the pipeline was slower than the camera, per camera',
  labelNames: ['camera'] as const,
  registers: [agentRegistry],
  collect() {
    this.reset();
    for (const [camera, p] of cameras) this.inc({ camera }, p.dropped());
  },
});
new client.Gauge({
  name: 'mei_agent_inference_threads',
  help: 'onnxruntime intra-op threads per camera and network',
  labelNames: ['camera', 'network'] as const,
  registers: [agentRegistry],
  collect() {
    this.reset();
    for (const [camera, p] of cameras) {
      const t = p.threads();
      if (!t) continue;
      this.set({ camera, network: 'detector' }, t.detector);
      this.set({ camera, network: 'embedder' }, t.embedder);
    }
  },
});
const stageSeconds = new client.Histogram({
  name: 'mei_agent_stage_duration_seconds',
  help: 'Time per frame in each pipeline stage (decode, detect, embed, track), per camera',
  labelNames: ['camera', 'stage'] as const,
  buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1],
  registers: [agentRegistry],
});

/** Counts one processed frame of `camera` and its stage times. */
export function observeFrame(camera: string, t: StageTimings): void {
  framesProcessed.inc({ camera });
  for (const [stage, key] of Object.entries(STAGES)) stageSeconds.observe({ camera, stage }, t[key] / 1000);
}

/** Makes a camera's counters visible until the returned function is called (its runner stopped). */
export function registerCamera(camera: string, probe: CameraProbe): () => void {
  cameras.set(camera, probe);
  return () => {
    if (cameras.get(camera) === probe) cameras.delete(camera);
  };
}

/** Serves GET /metrics on host:port; resolves with the server once listening. */
export async function serveMetrics(port: number, host: string): Promise<Server> {
  const server = createServer((req, res) => {
    if ((req.url ?? '').split('?')[0] !== '/metrics') return void res.writeHead(404).end();
    agentRegistry.metrics().then(
      (body) => res.writeHead(200, { 'content-type': agentRegistry.contentType }).end(body),
      (err) => res.writeHead(500).end(String((err as Error).message)),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return server;
}
