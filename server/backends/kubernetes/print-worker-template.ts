// Prints the Secret and Pod MEI creates for one edge worker (a sample job "lobby", node "edge-node-1") as
// YAML, with the settings of deploy/config.yaml. deploy/edge-worker.example.yaml is its output; a test keeps
// the two equal:
//   node --import tsx server/backends/kubernetes/print-worker-template.ts > deploy/edge-worker.example.yaml
import yaml from 'js-yaml';
import type { MultiEdgeInference } from '@mei/contracts';
import { DEFAULT_AGENT_IMAGE, DEFAULT_HOST_STATE_DIR, workerPod, workerSecret } from './pod-template.ts';

export const SAMPLE_JOB: MultiEdgeInference = {
  apiVersion: 'sedna.io/v1alpha1',
  kind: 'MultiEdgeInference',
  metadata: { name: 'lobby', namespace: 'default', uid: '00000000-0000-4000-8000-000000000001', resourceVersion: '1', generation: 1, creationTimestamp: '2026-01-01T00:00:00Z' },
  spec: {
    cameras: [{ name: 'entrance', node: 'edge-node-1', source: 'rtsp://10.0.0.21:554/stream1' }],
    models: { detector: { name: 'yolox-nano', decoder: 'yolox' } },
  },
};

export function sampleWorkerManifests(): string {
  const node = 'edge-node-1';
  const settings = { image: DEFAULT_AGENT_IMAGE, edgeNodes: true, hostModelDir: '/var/lib/mei/models', hostDataDir: '/var/lib/mei/data', hostStateDir: DEFAULT_HOST_STATE_DIR };
  const header = `# What MEI creates for one edge worker (job "lobby", node "edge-node-1"), with deploy/config.yaml's settings.
# Documentation only, not applied by kustomize. Regenerate: node --import tsx server/backends/kubernetes/print-worker-template.ts
`;
  const docs = [workerSecret(SAMPLE_JOB, node, '<agent token minted by the server>'), workerPod(SAMPLE_JOB, node, 'http://mei-server.mei-system.svc:3000', settings)];
  return header + docs.map((d) => yaml.dump(d, { lineWidth: 120, noRefs: true })).join('---\n');
}

if (import.meta.url === `file://${process.argv[1]}`) process.stdout.write(sampleWorkerManifests());
