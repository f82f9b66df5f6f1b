// The worker-thread side of WorkerDetector: builds the detector from the spec and answers detect requests
// one at a time (a detector reuses its input buffer, so calls must not interleave).
import { parentPort, workerData } from 'node:worker_threads';
import type { DetectorSpec } from '@mei/contracts/job';
import { createDetector } from '@mei/vision/detectors';
import type { Detector } from '@mei/vision/types';
import { serializeError, type WorkerReply, type WorkerRequest } from './workerDetector.ts';

interface DetectorWorkerData {
  spec: DetectorSpec;
  env: Record<string, string | undefined>;
  threads?: number;
  field?: string;
}

const port = parentPort!;
const { spec, env, threads, field } = workerData as DetectorWorkerData;
const post = (m: WorkerReply) => port.postMessage(m);

let detector: Detector | undefined;
try {
  detector = await createDetector(spec, { env, threads, field });
  post({ type: 'ready', name: detector.name });
} catch (e) {
  post({ type: 'failed', error: serializeError(e) });
  port.close();
}

let queue: Promise<void> = Promise.resolve();
port.on('message', (m: WorkerRequest) => {
  queue = queue.then(async () => {
    if (!detector) return;
    if (m.type === 'dispose') {
      await detector.dispose();
      detector = undefined;
      port.close();
      return;
    }
    const t0 = performance.now();
    try {
      const detections = await detector.detect(m.frame, m.pass);
      post({ type: 'result', id: m.id, detections, ms: performance.now() - t0 });
    } catch (e) {
      post({ type: 'result', id: m.id, error: serializeError(e), ms: performance.now() - t0 });
    }
  });
});
