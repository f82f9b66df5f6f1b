// What an operator sees with kubectl (built by test/kube-harness/build.sh
// --with-kubectl from the same Kubernetes version as the apiserver).
import { describe, it, expect, beforeAll } from 'vitest';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { CRD_PATH, API_VERSION, CRD_KIND } from '@mei/contracts/crd';
import { useKube, kubeConfigFor, installCrd } from './cluster.ts';
import { ensureKubeAssets } from './harness.ts';
import { runKubectl } from './support.ts';

const kube = useKube();
const ns = `mei-kubectl-${randomBytes(3).toString('hex')}`;
let kubectlBin: string;

const kubectl = (args: string[], input?: string) => runKubectl(kubectlBin, kube().kubeconfigPath, args, input);

beforeAll(async () => {
  // A first kubectl build takes about two minutes when the apiserver is already built.
  kubectlBin = join(await ensureKubeAssets({ kubectl: true }), 'kubectl');
  await installCrd(kubeConfigFor(kube()), CRD_PATH);
  await kubectl(['create', 'namespace', ns]);
}, 15 * 60 * 1000);

describe('kubectl against the MultiEdgeInference CRD', () => {
  it('applies a job from YAML and lists it with `kubectl get mei` and its printer columns', async () => {
    const manifest = JSON.stringify({
      apiVersion: API_VERSION,
      kind: CRD_KIND,
      metadata: { name: 'lobby', namespace: ns },
      spec: { cameras: [{ name: 'cam-a', node: 'edge-1', source: 'file:///data/vtest.avi' }], models: { detector: { decoder: 'yolox' } } },
    });
    expect(await kubectl(['apply', '-f', '-'], manifest)).toContain('multiedgeinference.sedna.io/lobby created');
    const out = await kubectl(['get', 'mei', '-n', ns]);
    const [header, row] = out.trim().split('\n');
    expect(header.split(/\s+/)).toEqual(['NAME', 'PHASE', 'CAMERAS', 'IDENTITIES', 'AGE']);
    expect(row).toMatch(/^lobby\s+\d+s$/);
    // The category makes jobs show up in `kubectl get sedna`.
    expect(await kubectl(['get', 'sedna', '-n', ns, '-o', 'name'])).toContain('multiedgeinference.sedna.io/lobby');
  });

  it('explains the CRD fields from the published OpenAPI schema', async () => {
    const out = await kubectl(['explain', 'mei.spec.cameras.fps']);
    expect(out).toContain('KIND:       MultiEdgeInference');
    expect(out).toMatch(/FIELD:\s+fps <number>/);
    expect(out).toContain('Frames per second to process');
    const required = await kubectl(['explain', 'mei.spec.cameras']);
    expect(required).toMatch(/source\s+<string> -required-/);
  });
});
