// The embedded control plane validates jobs with @mei/contracts' validator; in
// Kubernetes mode the real apiserver does. Both must accept, default and reject
// the same specs with the same field paths, or a job valid in one mode fails in
// the other. Each case goes to both; the apiserver side is a dry run.
import { describe, it, expect, beforeAll } from 'vitest';
import { randomBytes } from 'node:crypto';
import { CRD_GROUP, CRD_VERSION, CRD_PLURAL, CRD_KIND, API_VERSION, CRD_PATH, loadJobSchema } from '@mei/contracts/crd';
import { createValidator, type Validator } from '@mei/contracts/validation';
import { useKube, kubeConfigFor, installCrd } from './cluster.ts';
import { kubeRequest } from './harness.ts';

const kube = useKube();
let validator: Validator;

const base = () => ({
  cameras: [{ name: 'cam-a', node: 'edge-1', source: 'file:///data/vtest.avi' }] as Array<Record<string, unknown>>,
  models: { detector: { decoder: 'yolox' } } as Record<string, unknown>,
});

type Spec = Record<string, unknown>;
const cases: Array<{ name: string; spec: () => Spec }> = [
  { name: 'minimal', spec: base },
  {
    name: 'every section present',
    spec: () => ({
      ...base(),
      mode: 'history',
      workers: [{ node: 'edge-1', resources: { limits: { cpu: '1' } } }],
      models: { detector: { decoder: 'nanodet', inputWidth: 416, inputHeight: 416 }, reid: { kind: 'onnx', name: 'osnet-x0.25-msmt17' } },
      tracking: { type: 'single', target: { identity: 'g-1' } },
      crossCamera: {},
      privacy: { preview: 'live' },
      retention: {},
    }),
  },
  { name: 'fps 0', spec: () => ({ ...base(), cameras: [{ ...base().cameras[0], fps: 0 }] }) },
  { name: 'unknown mode', spec: () => ({ ...base(), mode: 'batch' }) },
  { name: 'no cameras', spec: () => ({ ...base(), cameras: [] }) },
  { name: 'missing models', spec: () => ({ cameras: base().cameras }) },
  { name: 'camera name not a DNS label', spec: () => ({ ...base(), cameras: [{ ...base().cameras[0], name: 'Cam_A' }] }) },
  { name: 'duplicate camera names', spec: () => ({ ...base(), cameras: [base().cameras[0], { ...base().cameras[0], node: 'edge-2' }] }) },
  { name: 'roi too small', spec: () => ({ ...base(), cameras: [{ ...base().cameras[0], roi: { x: 0, y: 0, width: 8, height: 100 } }] }) },
  { name: 'threshold above 1', spec: () => ({ ...base(), tracking: { highThreshold: 1.5 } }) },
  { name: 'fps of the wrong type', spec: () => ({ ...base(), cameras: [{ ...base().cameras[0], fps: 'fast' }] }) },
  { name: 'two errors at once', spec: () => ({ ...base(), mode: 'batch', models: { detector: { decoder: 'yolox', scoreThreshold: 2 } } }) },
];

beforeAll(async () => {
  validator = createValidator(loadJobSchema());
  await installCrd(kubeConfigFor(kube()), CRD_PATH);
});

/** What the apiserver does with a create (dry run): the stored spec or the invalid field paths. */
async function apiserverVerdict(spec: Spec): Promise<{ spec?: Spec; fields?: string[]; raw: string }> {
  const body = { apiVersion: API_VERSION, kind: CRD_KIND, metadata: { name: `c-${randomBytes(4).toString('hex')}` }, spec };
  const r = await kubeRequest(kube(), `/apis/${CRD_GROUP}/${CRD_VERSION}/namespaces/default/${CRD_PLURAL}?dryRun=All&fieldValidation=Strict`, {
    method: 'POST',
    body: JSON.stringify(body),
  });
  const out = JSON.parse(r.body);
  if (r.status === 201) return { spec: out.spec, raw: r.body };
  expect(r.status, r.body).toBe(422);
  return { fields: [...new Set<string>((out.details?.causes ?? []).map((c: { field: string }) => c.field))].sort(), raw: r.body };
}

function validatorVerdict(spec: Spec): { spec?: Spec; fields?: string[] } {
  const obj = { apiVersion: API_VERSION, kind: CRD_KIND, metadata: { name: 'x' }, spec: structuredClone(spec) };
  const errors = validator.validate(obj);
  if (errors.length === 0) return { spec: obj.spec };
  return { fields: [...new Set(errors.map((e) => e.field))].sort() };
}

describe('@mei/contracts validator agrees with a real kube-apiserver (dry-run creates)', () => {
  it.each(cases)('$name', async ({ spec }) => {
    const real = await apiserverVerdict(spec());
    const ours = validatorVerdict(spec());
    if (real.spec) {
      expect(ours.fields, `apiserver accepted, validator rejected: ${JSON.stringify(ours.fields)}`).toBeUndefined();
      expect(ours.spec).toEqual(real.spec);
    } else {
      expect(ours.spec, `apiserver rejected with ${real.raw}, validator accepted`).toBeUndefined();
      expect(ours.fields).toEqual(real.fields);
    }
  });

  it('rejects an unknown field under fieldValidation=Strict, naming it', async () => {
    const r = await kubeRequest(kube(), `/apis/${CRD_GROUP}/${CRD_VERSION}/namespaces/default/${CRD_PLURAL}?dryRun=All&fieldValidation=Strict`, {
      method: 'POST',
      body: JSON.stringify({ apiVersion: API_VERSION, kind: CRD_KIND, metadata: { name: 'unknown-field' }, spec: { ...base(), colour: 'red' } }),
    });
    expect(r.status).toBe(400);
    expect(JSON.parse(r.body).message).toContain('unknown field "spec.colour"');
    expect(validatorVerdict({ ...base(), colour: 'red' }).fields).toEqual(['spec.colour']);
  });
});
