// A small in-memory ONNX graph, the clean-up passes the TF.js converter needs, and serialisation
// to a ModelProto (onnx-proto). Kept separate from the op mapping so the passes can be tested alone.
import onnxProto from 'onnx-proto';
import type { onnx as OnnxTypes } from 'onnx-proto';

const { onnx } = onnxProto;

export type OnnxAttr =
  | { kind: 'int'; value: number }
  | { kind: 'ints'; value: number[] }
  | { kind: 'float'; value: number }
  | { kind: 'string'; value: string };

export interface OnnxNode {
  op: string;
  name: string;
  inputs: string[];
  outputs: string[];
  attrs: Record<string, OnnxAttr>;
}

export interface OnnxInitializer {
  name: string;
  dims: number[];
  data: Float32Array | BigInt64Array;
}

export interface OnnxValueInfo {
  name: string;
  /** Numbers are fixed sizes, strings symbolic ones; absent = unknown shape. */
  dims?: Array<number | string>;
}

export interface OnnxGraph {
  name: string;
  nodes: OnnxNode[];
  initializers: Map<string, OnnxInitializer>;
  inputs: OnnxValueInfo[];
  outputs: OnnxValueInfo[];
}

export const attr = {
  int: (value: number): OnnxAttr => ({ kind: 'int', value }),
  ints: (value: number[]): OnnxAttr => ({ kind: 'ints', value }),
  float: (value: number): OnnxAttr => ({ kind: 'float', value }),
  string: (value: string): OnnxAttr => ({ kind: 'string', value }),
};

function permOf(node: OnnxNode): number[] {
  const a = node.attrs.perm;
  if (!a || a.kind !== 'ints') throw new Error(`Transpose node ${node.name} has no perm`);
  return a.value;
}

function isIdentityPerm(perm: number[]): boolean {
  return perm.every((p, i) => p === i);
}

function producers(graph: OnnxGraph): Map<string, OnnxNode> {
  const m = new Map<string, OnnxNode>();
  for (const n of graph.nodes) for (const o of n.outputs) m.set(o, n);
  return m;
}

function consumers(graph: OnnxGraph): Map<string, OnnxNode[]> {
  const m = new Map<string, OnnxNode[]>();
  for (const n of graph.nodes) {
    for (const i of n.inputs) {
      if (!i) continue;
      const list = m.get(i);
      if (list) list.push(n);
      else m.set(i, [n]);
    }
  }
  return m;
}

function renameInputs(graph: OnnxGraph, from: string, to: string): void {
  for (const n of graph.nodes) n.inputs = n.inputs.map((i) => (i === from ? to : i));
}

/**
 * Composes chains of Transposes and drops the ones that end up as identity. The TF graph
 * (itself converted from an NCHW model) wraps every NHWC op in transposes, and the converter
 * wraps them again for ONNX's NCHW ops, so nearly all of them cancel out.
 */
export function foldTransposes(graph: OnnxGraph): void {
  const graphOutputs = new Set(graph.outputs.map((o) => o.name));
  const prod = producers(graph);
  for (const node of graph.nodes) {
    if (node.op !== 'Transpose') continue;
    const src = prod.get(node.inputs[0]);
    if (src && src.op === 'Transpose') {
      const p1 = permOf(src);
      const p2 = permOf(node);
      node.inputs = [src.inputs[0]];
      node.attrs.perm = attr.ints(p2.map((i) => p1[i]));
    }
    if (isIdentityPerm(permOf(node))) {
      const out = node.outputs[0];
      if (graphOutputs.has(out)) {
        node.op = 'Identity';
        node.attrs = {};
      } else {
        renameInputs(graph, out, node.inputs[0]);
        node.outputs = [];
      }
    }
  }
  graph.nodes = graph.nodes.filter((n) => n.outputs.length > 0);
  removeDeadNodes(graph);
}

function initializerValues(graph: OnnxGraph, name: string | undefined): number[] | undefined {
  if (!name) return undefined;
  const init = graph.initializers.get(name);
  if (!init) return undefined;
  return Array.from(init.data as ArrayLike<number | bigint>, (v) => Number(v));
}

/**
 * Moves a constant Pad that only touches H and W (NCHW) into the following Conv (pad value 0)
 * or MaxPool (pad value -inf, which is what MaxPool's own padding means).
 */
export function fusePadsIntoConsumers(graph: OnnxGraph): void {
  const cons = consumers(graph);
  const graphOutputs = new Set(graph.outputs.map((o) => o.name));
  for (const pad of graph.nodes) {
    if (pad.op !== 'Pad') continue;
    const mode = pad.attrs.mode;
    if (mode && !(mode.kind === 'string' && mode.value === 'constant')) continue;
    const pads = initializerValues(graph, pad.inputs[1]);
    const value = pad.inputs[2] ? initializerValues(graph, pad.inputs[2])?.[0] : 0;
    const users = cons.get(pad.outputs[0]) ?? [];
    if (!pads || pads.length !== 8 || value === undefined || users.length !== 1 || graphOutputs.has(pad.outputs[0])) continue;
    const user = users[0];
    if (user.inputs[0] !== pad.outputs[0] || user.inputs.slice(1).includes(pad.outputs[0])) continue;
    const wantValue = user.op === 'Conv' ? 0 : user.op === 'MaxPool' ? -Infinity : NaN;
    if (!(value === wantValue || (wantValue === -Infinity && value <= -3.4e38))) continue;
    if (user.attrs.auto_pad && !(user.attrs.auto_pad.kind === 'string' && user.attrs.auto_pad.value === 'NOTSET')) continue;
    const [n0, c0, t, l, n1, c1, b, r] = pads;
    if (n0 || c0 || n1 || c1 || [t, l, b, r].some((p) => p < 0)) continue;
    const old = user.attrs.pads?.kind === 'ints' ? user.attrs.pads.value : [0, 0, 0, 0];
    user.attrs.pads = attr.ints([old[0] + t, old[1] + l, old[2] + b, old[3] + r]);
    user.inputs[0] = pad.inputs[0];
    pad.outputs = [];
  }
  graph.nodes = graph.nodes.filter((n) => n.outputs.length > 0);
  removeDeadNodes(graph);
}

/** Drops nodes and initializers that no graph output depends on. */
export function removeDeadNodes(graph: OnnxGraph): void {
  const prod = producers(graph);
  const live = new Set<OnnxNode>();
  const needed = new Set<string>();
  const stack = graph.outputs.map((o) => o.name);
  while (stack.length) {
    const name = stack.pop()!;
    if (needed.has(name)) continue;
    needed.add(name);
    const n = prod.get(name);
    if (n && !live.has(n)) {
      live.add(n);
      for (const i of n.inputs) if (i) stack.push(i);
    }
  }
  graph.nodes = graph.nodes.filter((n) => live.has(n));
  for (const name of [...graph.initializers.keys()]) if (!needed.has(name)) graph.initializers.delete(name);
}

const FLOAT = 1;
const INT64 = 7;

function tensorProto(init: OnnxInitializer): OnnxTypes.ITensorProto {
  const bytes = new Uint8Array(init.data.buffer, init.data.byteOffset, init.data.byteLength);
  return {
    name: init.name,
    dims: init.dims,
    dataType: init.data instanceof Float32Array ? FLOAT : INT64,
    // raw_data is little-endian by the ONNX spec; typed arrays are native-endian (LE on every target MEI runs on).
    rawData: bytes,
  };
}

function attrProto(name: string, a: OnnxAttr): OnnxTypes.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  switch (a.kind) {
    case 'int':
      return { name, type: T.INT, i: a.value };
    case 'ints':
      return { name, type: T.INTS, ints: a.value };
    case 'float':
      return { name, type: T.FLOAT, f: a.value };
    case 'string':
      return { name, type: T.STRING, s: new TextEncoder().encode(a.value) };
  }
}

function valueInfo(v: OnnxValueInfo): OnnxTypes.IValueInfoProto {
  return {
    name: v.name,
    type: {
      tensorType: {
        elemType: FLOAT,
        shape: v.dims ? { dim: v.dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } : undefined,
      },
    },
  };
}

export interface SerializeOptions {
  opset: number;
  producerName: string;
  producerVersion: string;
  docString?: string;
  metadata?: Record<string, string>;
}

export function serializeOnnx(graph: OnnxGraph, opts: SerializeOptions): Uint8Array {
  const model = onnx.ModelProto.create({
    irVersion: 7,
    opsetImport: [{ domain: '', version: opts.opset }],
    producerName: opts.producerName,
    producerVersion: opts.producerVersion,
    docString: opts.docString,
    metadataProps: Object.entries(opts.metadata ?? {}).map(([key, value]) => ({ key, value })),
    graph: {
      name: graph.name,
      node: graph.nodes.map((n) => ({
        opType: n.op,
        name: n.name,
        input: n.inputs,
        output: n.outputs,
        attribute: Object.entries(n.attrs).map(([k, v]) => attrProto(k, v)),
      })),
      initializer: [...graph.initializers.values()].map(tensorProto),
      input: graph.inputs.map(valueInfo),
      output: graph.outputs.map(valueInfo),
    },
  });
  return onnx.ModelProto.encode(model).finish();
}

/** Parses a serialised model back (tests and tools use it to inspect what was written). */
export function parseOnnx(bytes: Uint8Array): OnnxTypes.ModelProto {
  return onnx.ModelProto.decode(bytes);
}
