// Reads a TensorFlow.js graph model (model.json + weight shards) from disk into plain typed arrays,
// without TensorFlow.js itself: the converter only needs the node list and the constant values.
import { readFile } from 'node:fs/promises';
import path from 'node:path';

export class TfjsModelError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TfjsModelError';
  }
}

export interface TfjsAttrValue {
  s?: string;
  i?: string | number;
  f?: number;
  b?: boolean;
  type?: string;
  shape?: { dim?: Array<{ size?: string | number }>; unknownRank?: boolean };
  list?: { i?: Array<string | number>; f?: number[]; s?: string[] };
  tensor?: unknown;
}

export interface TfjsNode {
  name: string;
  op: string;
  input?: string[];
  attr?: Record<string, TfjsAttrValue>;
}

export interface TfjsWeightSpec {
  name: string;
  shape: number[];
  dtype: string;
  quantization?: { dtype: string; original_dtype?: string; scale?: number; min?: number };
}

export interface TfjsModelJson {
  format?: string;
  modelTopology: { node: TfjsNode[] };
  weightsManifest: Array<{ paths: string[]; weights: TfjsWeightSpec[] }>;
  signature?: {
    inputs?: Record<string, { name: string; dtype?: string }>;
    outputs?: Record<string, { name: string; dtype?: string }>;
  };
}

/** A constant of the graph, decoded: floats as float32, integer types as int32 (as TF.js does). */
export interface TfjsConst {
  dtype: 'float32' | 'int32';
  shape: number[];
  data: Float32Array | Int32Array;
}

export interface TfjsGraphModel {
  json: TfjsModelJson;
  weights: Map<string, TfjsConst>;
  /** Bytes of model.json followed by every shard, for cache keys. */
  sourceBytes: Buffer[];
}

const F16_EXP_SHIFT = 10;

/** IEEE 754 half -> single precision, exact (subnormals, inf and NaN included). */
export function float16ToFloat32(src: Uint16Array): Float32Array {
  const out = new Float32Array(src.length);
  for (let i = 0; i < src.length; i++) {
    const h = src[i];
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> F16_EXP_SHIFT) & 0x1f;
    const frac = h & 0x3ff;
    if (exp === 0) out[i] = sign * frac * 2 ** -24;
    else if (exp === 0x1f) out[i] = frac ? NaN : sign * Infinity;
    else out[i] = sign * (1 + frac / 1024) * 2 ** (exp - 15);
  }
  return out;
}

function elementCount(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function parseModelJson(text: string, file: string): TfjsModelJson {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new TfjsModelError(`${file}: not valid JSON (${(e as Error).message})`);
  }
  const m = json as Partial<TfjsModelJson>;
  if (!m || typeof m !== 'object') throw new TfjsModelError(`${file}: expected a JSON object`);
  if (!m.modelTopology || !Array.isArray(m.modelTopology.node)) {
    throw new TfjsModelError(`${file}: field modelTopology.node is missing; not a TF.js graph model (format ${String(m.format)})`);
  }
  if (!Array.isArray(m.weightsManifest)) throw new TfjsModelError(`${file}: field weightsManifest is missing`);
  return m as TfjsModelJson;
}

/** Decodes one weight from its shard bytes; returns the number of bytes it used. */
function decodeWeight(spec: TfjsWeightSpec, bytes: Buffer, offset: number, file: string): { value: TfjsConst; used: number } {
  const n = elementCount(spec.shape);
  const q = spec.quantization;
  const need = (width: number) => {
    if (offset + n * width > bytes.length) {
      throw new TfjsModelError(`${file}: weight '${spec.name}' needs ${n * width} bytes at offset ${offset}, the shards hold ${bytes.length} (truncated .bin?)`);
    }
  };
  // Copy: the Buffer may not be aligned for typed-array views.
  const slice = (width: number) => bytes.buffer.slice(bytes.byteOffset + offset, bytes.byteOffset + offset + n * width);
  if (q) {
    if (q.dtype === 'float16') {
      need(2);
      return { value: { dtype: 'float32', shape: spec.shape, data: float16ToFloat32(new Uint16Array(slice(2))) }, used: n * 2 };
    }
    if ((q.dtype === 'uint8' || q.dtype === 'uint16') && q.scale !== undefined && q.min !== undefined) {
      const width = q.dtype === 'uint8' ? 1 : 2;
      need(width);
      const raw = width === 1 ? new Uint8Array(slice(1)) : new Uint16Array(slice(2));
      const data = new Float32Array(n);
      for (let i = 0; i < n; i++) data[i] = raw[i] * q.scale + q.min;
      const dtype = spec.dtype === 'int32' ? 'int32' : 'float32';
      return { value: { dtype, shape: spec.shape, data: dtype === 'int32' ? Int32Array.from(data, Math.round) : data }, used: n * width };
    }
    throw new TfjsModelError(`${file}: weight '${spec.name}' uses unsupported quantization ${JSON.stringify(q)}`);
  }
  if (spec.dtype === 'float32') {
    need(4);
    return { value: { dtype: 'float32', shape: spec.shape, data: new Float32Array(slice(4)) }, used: n * 4 };
  }
  if (spec.dtype === 'int32') {
    need(4);
    return { value: { dtype: 'int32', shape: spec.shape, data: new Int32Array(slice(4)) }, used: n * 4 };
  }
  throw new TfjsModelError(`${file}: weight '${spec.name}' has unsupported dtype '${spec.dtype}'`);
}

export interface TfjsModelFiles {
  file: string;
  json: TfjsModelJson;
  /** Bytes of model.json followed by every shard, in manifest order (for cache keys). */
  sourceBytes: Buffer[];
  /** Concatenated shards per manifest group. */
  groups: Buffer[];
}

/** Reads model.json and its shards without decoding weights; errors name the file and field. */
export async function readTfjsModelFiles(modelJsonPath: string): Promise<TfjsModelFiles> {
  let text: Buffer;
  try {
    text = await readFile(modelJsonPath);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new TfjsModelError(`${modelJsonPath}: cannot read TF.js model json (${code ?? (e as Error).message})`);
  }
  const json = parseModelJson(text.toString('utf8'), modelJsonPath);
  const dir = path.dirname(modelJsonPath);
  const sourceBytes: Buffer[] = [text];
  const groups: Buffer[] = [];
  for (const [g, group] of json.weightsManifest.entries()) {
    if (!Array.isArray(group?.paths) || !Array.isArray(group?.weights)) {
      throw new TfjsModelError(`${modelJsonPath}: weightsManifest[${g}] needs 'paths' and 'weights' arrays`);
    }
    const shards: Buffer[] = [];
    for (const p of group.paths) {
      const shardPath = path.join(dir, p);
      try {
        shards.push(await readFile(shardPath));
      } catch (e) {
        throw new TfjsModelError(`${modelJsonPath}: weightsManifest[${g}].paths: cannot read shard ${shardPath} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
      }
    }
    sourceBytes.push(...shards);
    groups.push(Buffer.concat(shards));
  }
  return { file: modelJsonPath, json, sourceBytes, groups };
}

/** Decodes every weight of the manifest (float16 -> float32). */
export function decodeTfjsModel(files: TfjsModelFiles): TfjsGraphModel {
  const weights = new Map<string, TfjsConst>();
  for (const [g, group] of files.json.weightsManifest.entries()) {
    const bytes = files.groups[g];
    let offset = 0;
    for (const spec of group.weights) {
      const { value, used } = decodeWeight(spec, bytes, offset, files.file);
      weights.set(spec.name, value);
      offset += used;
    }
    if (offset !== bytes.length) {
      throw new TfjsModelError(`${files.file}: weightsManifest[${g}] describes ${offset} bytes but its shards hold ${bytes.length}`);
    }
  }
  return { json: files.json, weights, sourceBytes: files.sourceBytes };
}

/** Loads model.json and its shards; every problem is a TfjsModelError naming the file and field. */
export async function loadTfjsGraphModel(modelJsonPath: string): Promise<TfjsGraphModel> {
  return decodeTfjsModel(await readTfjsModelFiles(modelJsonPath));
}
