// The TF.js graph -> ONNX converter on the real NanoDet model: outputs match TF.js itself on a real
// PETS09 frame, the layout transposes cancel out, and broken inputs fail clearly.
// TF.js runs on its WASM backend (XNNPACK, shipped inside the npm package): same graph executor as
// the CPU backend, ~1 s per run instead of 15-40 s for the pure-JS kernels on this machine.
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import { loadGraphModel } from '@tensorflow/tfjs-converter';
import { createRequire } from 'node:module';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { letterboxInto } from '@mei/vision/detectors/letterbox';
import { NANODET_CONVERT_OPTIONS, nanodetSource } from '@mei/vision/detectors/nanodet/cache';
import { NANODET_INPUT } from '@mei/vision/detectors/nanodet/detector';
import { attr, foldTransposes, type OnnxGraph, parseOnnx, serializeOnnx } from '@mei/vision/detectors/nanodet/onnx-graph';
import { convertTfjsGraphToOnnx } from '@mei/vision/detectors/nanodet/tfjs-to-onnx';
import { float16ToFloat32, TfjsModelError, type TfjsModelJson } from '@mei/vision/detectors/nanodet/tfjs-model';
import { normalizationFor } from '@mei/vision/detectors/resize';
import { PETS_VIDEO, readVideoFrames } from './nanodet-fixtures.ts';

const source = nanodetSource();
const SIZE = 416;
let tmp: string;

beforeAll(async () => {
  tmp = await mkdtemp(path.join(tmpdir(), 'mei-nanodet-conv-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

/** The real frame 100 of vtest.avi as NanoDet's input tensor. */
async function frameTensor(): Promise<Float32Array> {
  const [frame] = await readVideoFrames(PETS_VIDEO, [100]);
  const t = new Float32Array(3 * SIZE * SIZE);
  letterboxInto(frame, t, SIZE, SIZE, normalizationFor(NANODET_INPUT));
  return t;
}

/** TF.js' own execution of the packaged graph, loaded from disk through a custom IOHandler. */
async function runTfjs(input: Float32Array): Promise<Record<string, { shape: number[]; data: Float32Array }>> {
  const json = JSON.parse(await readFile(source.modelJson, 'utf8')) as TfjsModelJson & { format: string };
  const shards = await Promise.all(json.weightsManifest.flatMap((g) => g.paths).map((p) => readFile(path.join(path.dirname(source.modelJson), p))));
  const bin = Buffer.concat(shards);
  const wasm = createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm');
  setWasmPaths(`${path.dirname(wasm)}/`);
  expect(await tf.setBackend('wasm')).toBe(true);
  const model = await loadGraphModel({
    load: async () => ({
      modelTopology: json.modelTopology,
      weightSpecs: json.weightsManifest.flatMap((g) => g.weights) as never,
      weightData: bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.length),
      format: json.format,
      signature: json.signature,
    }),
  });
  const names = Object.keys(json.signature!.outputs!);
  const x = tf.tensor(input, [1, 3, SIZE, SIZE]);
  const outs = model.execute({ input_1: x }, names) as tf.Tensor[];
  const result: Record<string, { shape: number[]; data: Float32Array }> = {};
  names.forEach((n, i) => (result[n.replace(/:0$/, '')] = { shape: outs[i].shape, data: outs[i].dataSync() as Float32Array }));
  tf.dispose([x, ...outs]);
  model.dispose();
  return result;
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

async function runOnnx(bytes: Uint8Array, input: Float32Array, w = SIZE, h = SIZE): Promise<ort.InferenceSession.OnnxValueMapType> {
  const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 2 });
  try {
    return await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', input, [1, 3, h, w]) });
  } finally {
    await session.release();
  }
}

describe('convertTfjsGraphToOnnx on the packaged NanoDet model', () => {
  let staticBytes: Uint8Array;
  let convertMs: number;
  beforeAll(async () => {
    const t0 = performance.now();
    staticBytes = await convertTfjsGraphToOnnx(source.modelJson);
    convertMs = performance.now() - t0;
  });

  it('cancels the NHWC/NCHW transposes', () => {
    console.log(`[nanodet] converted in ${convertMs.toFixed(0)} ms`);
    const model = parseOnnx(staticBytes);
    const ops = new Map<string, number>();
    for (const n of model.graph!.node!) ops.set(n.opType!, (ops.get(n.opType!) ?? 0) + 1);
    // 34 convs with fused bias; the TF graph had 83 Transposes, only the 6 head ones are real.
    expect(ops.get('Conv')).toBe(34);
    expect(ops.get('Transpose')).toBe(6);
    expect(ops.get('Add')).toBe(4);
    // Every explicit Pad was folded into its Conv / MaxPool.
    expect(ops.has('Pad')).toBe(false);
    expect(model.graph!.input!.map((i) => i.type!.tensorType!.shape!.dim!.map((d) => Number(d.dimValue)))).toEqual([[1, 3, 416, 416]]);
    // Weights are float32 (decoded from the float16 shards).
    expect(model.graph!.initializer!.every((t) => t.dataType === 1 || t.dataType === 7)).toBe(true);
  });

  it('matches TF.js within 1e-4 on a real frame', async () => {
    const input = await frameTensor();
    const [expected, actual] = await Promise.all([runTfjs(input), runOnnx(staticBytes, input)]);
    expect(Object.keys(actual).sort()).toEqual(Object.keys(expected).sort());
    for (const [name, e] of Object.entries(expected)) {
      const a = actual[name];
      expect(a.dims).toEqual(e.shape);
      expect(maxAbsDiff(a.data as Float32Array, e.data), name).toBeLessThan(1e-4);
    }
    // Not a vacuous match: a person-sized score exists on this frame.
    const personScores = expected.Identity.data.filter((_, i) => i % 80 === 0);
    expect(Math.max(...personScores)).toBeGreaterThan(0.5);
  }, 600_000);

  it('with symbolic H/W gives the same outputs at 416x416 and also runs at 416x320', async () => {
    const dynBytes = await convertTfjsGraphToOnnx(source.modelJson, NANODET_CONVERT_OPTIONS);
    const input = await frameTensor();
    const [a, b] = [await runOnnx(staticBytes, input), await runOnnx(dynBytes, input)];
    // Not bit-identical: ORT picks other kernels for symbolic shapes.
    for (const name of Object.keys(a)) expect(maxAbsDiff(b[name].data as Float32Array, a[name].data as Float32Array), name).toBeLessThan(1e-5);
    const out = await runOnnx(dynBytes, new Float32Array(3 * 416 * 320), 416, 320);
    const cells = Object.values(out).map((t) => t.dims[1]).sort((x, y) => x - y);
    expect(cells).toEqual([13 * 10, 13 * 10, 26 * 20, 26 * 20, 52 * 40, 52 * 40]);
  });
});

describe('foldTransposes', () => {
  it('composes a chain of transposes into one with the same result', async () => {
    const chain = (): OnnxGraph => ({
      name: 't',
      nodes: [
        { op: 'Transpose', name: 'a', inputs: ['x'], outputs: ['y1'], attrs: { perm: attr.ints([0, 2, 3, 1]) } },
        { op: 'Transpose', name: 'b', inputs: ['y1'], outputs: ['y2'], attrs: { perm: attr.ints([2, 0, 3, 1]) } },
        { op: 'Transpose', name: 'c', inputs: ['y2'], outputs: ['y'], attrs: { perm: attr.ints([1, 3, 0, 2]) } },
      ],
      initializers: new Map(),
      inputs: [{ name: 'x', dims: [2, 3, 4, 5] }],
      outputs: [{ name: 'y' }],
    });
    const folded = chain();
    foldTransposes(folded);
    expect(folded.nodes.map((n) => n.op)).toEqual(['Transpose']);
    const x = Float32Array.from({ length: 120 }, (_, i) => i);
    const run = async (g: OnnxGraph) => {
      const session = await ort.InferenceSession.create(serializeOnnx(g, { opset: 13, producerName: 'test', producerVersion: '0' }));
      const out = (await session.run({ x: new ort.Tensor('float32', x, [2, 3, 4, 5]) })).y;
      await session.release();
      return { dims: out.dims, data: Array.from(out.data as Float32Array) };
    };
    expect(await run(folded)).toEqual(await run(chain()));
  });
});

describe('float16 weights', () => {
  it('decodes normal, subnormal, zero, inf and NaN exactly', () => {
    const h = new Uint16Array([0x3c00, 0xc000, 0x7bff, 0x0001, 0x0400, 0x8000, 0x7c00, 0xfc00, 0x7e00, 0x3555]);
    const f = float16ToFloat32(h);
    expect(Array.from(f.slice(0, 8))).toEqual([1, -2, 65504, 2 ** -24, 2 ** -14, -0, Infinity, -Infinity]);
    expect(Number.isNaN(f[8])).toBe(true);
    expect(f[9]).toBeCloseTo(0.33325195, 8);
  });
});

describe('bad model files fail with a clear error', () => {
  async function copyModel(dir: string, edit?: (json: TfjsModelJson) => void, binBytes?: number): Promise<string> {
    const json = JSON.parse(await readFile(source.modelJson, 'utf8')) as TfjsModelJson;
    edit?.(json);
    const out = path.join(tmp, dir);
    await rm(out, { recursive: true, force: true });
    await mkdir(out, { recursive: true });
    await writeFile(path.join(out, 'nanodet.json'), JSON.stringify(json));
    const bin = path.join(out, 'nanodet.bin');
    if (binBytes === undefined) await copyFile(path.join(path.dirname(source.modelJson), 'nanodet.bin'), bin);
    else await writeFile(bin, (await readFile(path.join(path.dirname(source.modelJson), 'nanodet.bin'))).subarray(0, binBytes));
    return path.join(out, 'nanodet.json');
  }

  it('missing model json', async () => {
    const p = path.join(tmp, 'nope', 'model.json');
    await expect(convertTfjsGraphToOnnx(p)).rejects.toThrow(TfjsModelError);
    await expect(convertTfjsGraphToOnnx(p)).rejects.toThrow(`${p}: cannot read TF.js model json (ENOENT)`);
  });

  it('model json that is not JSON', async () => {
    const p = path.join(tmp, 'garbage.json');
    await writeFile(p, '{"modelTopology": [1, 2');
    await expect(convertTfjsGraphToOnnx(p)).rejects.toThrow(/garbage\.json: not valid JSON/);
  });

  it('json without a graph', async () => {
    const p = await copyModel('no-topology', (j) => delete (j as Partial<TfjsModelJson>).modelTopology);
    await expect(convertTfjsGraphToOnnx(p)).rejects.toThrow(/field modelTopology\.node is missing/);
  });

  it('truncated weights', async () => {
    const p = await copyModel('truncated', undefined, 1_000_000);
    await expect(convertTfjsGraphToOnnx(p)).rejects.toThrow(/needs \d+ bytes at offset \d+, the shards hold 1000000 \(truncated \.bin\?\)/);
  });

  it('missing weight shard', async () => {
    const p = await copyModel('no-shard', (j) => (j.weightsManifest[0].paths = ['missing.bin']));
    await expect(convertTfjsGraphToOnnx(p)).rejects.toThrow(/weightsManifest\[0\]\.paths: cannot read shard .*missing\.bin \(ENOENT\)/);
  });

  it('an op the converter does not know', async () => {
    const p = await copyModel('unknown-op', (j) => {
      const n = j.modelTopology.node.find((x) => x.op === 'LeakyRelu')!;
      n.op = 'Elu';
    });
    await expect(convertTfjsGraphToOnnx(p)).rejects.toThrow(/unsupported ops: Elu/);
  });

  it('a node that reads a tensor that does not exist', async () => {
    const p = await copyModel('dangling', (j) => {
      j.modelTopology.node.find((x) => x.op === 'Sigmoid')!.input = ['PartitionedCall/does_not_exist'];
    });
    await expect(convertTfjsGraphToOnnx(p)).rejects.toThrow(/reads 'PartitionedCall\/does_not_exist', which is not in modelTopology\.node/);
  });
});
