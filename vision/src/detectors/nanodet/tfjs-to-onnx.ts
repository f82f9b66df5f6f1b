// TensorFlow.js graph model -> ONNX, for the ops NanoDet's TF.js export uses.
//
// Layout: every TF tensor keeps its TF layout in the ONNX graph, so element-wise ops, Concat,
// Reshape and Split mean exactly what they meant in TF. Only ops that are NHWC in TF and NCHW in
// ONNX (Conv2D, MaxPool, ResizeBilinear) are wrapped in Transposes; foldTransposes() then cancels
// them against the transposes the TF export already has around those ops.
import { attr, foldTransposes, fusePadsIntoConsumers, removeDeadNodes, serializeOnnx, type OnnxAttr, type OnnxGraph } from './onnx-graph.ts';
import { loadTfjsGraphModel, TfjsModelError, type TfjsAttrValue, type TfjsConst, type TfjsGraphModel, type TfjsNode } from './tfjs-model.ts';

/** Bump when the converter's output changes, so cached .onnx files are rebuilt. */
export const CONVERTER_VERSION = '1';
export const ONNX_OPSET = 13;

export interface ConvertOptions {
  /**
   * Per dimension of the graph input: a name makes that dimension symbolic in the ONNX model
   * (e.g. [null, null, 'height', 'width'] lets NanoDet run at any multiple of 32).
   * Resizes then use scale factors instead of the fixed output sizes of the TF graph.
   */
  symbolicInputDims?: Array<string | null>;
}

const NHWC_TO_NCHW = [0, 3, 1, 2];
const NCHW_TO_NHWC = [0, 2, 3, 1];

interface Ref {
  node: string;
  index: number;
}

function parseRef(input: string): Ref {
  const m = /^(.*?)(?::(\d+))?$/.exec(input)!;
  return { node: m[1], index: m[2] ? Number(m[2]) : 0 };
}

function canonical(input: string): string {
  const r = parseRef(input);
  return r.index === 0 ? r.node : `${r.node}:${r.index}`;
}

function dataInputs(node: TfjsNode): string[] {
  return (node.input ?? []).filter((i) => !i.startsWith('^')).map(canonical);
}

function count(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function decodeAttrString(v: TfjsAttrValue | undefined): string | undefined {
  return v?.s === undefined ? undefined : Buffer.from(v.s, 'base64').toString('utf8');
}

function attrInts(v: TfjsAttrValue | undefined): number[] | undefined {
  return v?.list?.i?.map(Number);
}

function topoSort(nodes: TfjsNode[], file: string): TfjsNode[] {
  const byName = new Map(nodes.map((n) => [n.name, n]));
  const done = new Set<string>();
  const visiting = new Set<string>();
  const out: TfjsNode[] = [];
  const visit = (root: TfjsNode) => {
    // Iterative DFS: the graph is a few hundred nodes deep and recursion depth is not guaranteed.
    const stack: Array<{ node: TfjsNode; next: number }> = [{ node: root, next: 0 }];
    visiting.add(root.name);
    while (stack.length) {
      const top = stack[stack.length - 1];
      const deps = (top.node.input ?? []).map((i) => parseRef(i.replace(/^\^/, '')).node);
      if (top.next < deps.length) {
        const dep = deps[top.next++];
        if (done.has(dep)) continue;
        if (visiting.has(dep)) throw new TfjsModelError(`${file}: graph has a cycle through node '${dep}'`);
        const depNode = byName.get(dep);
        if (!depNode) throw new TfjsModelError(`${file}: node '${top.node.name}' reads '${dep}', which is not in modelTopology.node`);
        visiting.add(dep);
        stack.push({ node: depNode, next: 0 });
      } else {
        stack.pop();
        visiting.delete(top.node.name);
        done.add(top.node.name);
        out.push(top.node);
      }
    }
  };
  for (const n of nodes) if (!done.has(n.name)) visit(n);
  return out;
}

function broadcastShapes(a: number[], b: number[], where: string): number[] {
  const rank = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    const x = a[a.length - rank + i] ?? 1;
    const y = b[b.length - rank + i] ?? 1;
    if (x !== y && x !== 1 && y !== 1) throw new TfjsModelError(`${where}: cannot broadcast [${a}] with [${b}]`);
    out.push(Math.max(x, y));
  }
  return out;
}

/** Element-wise on constants (shape-equal or scalar operand), used to fold shape arithmetic. */
function foldBinary(a: TfjsConst, b: TfjsConst, f: (x: number, y: number) => number, where: string): TfjsConst {
  const shape = broadcastShapes(a.shape, b.shape, where);
  const n = count(shape);
  if ((count(a.shape) !== n && count(a.shape) !== 1) || (count(b.shape) !== n && count(b.shape) !== 1)) {
    throw new TfjsModelError(`${where}: constant folding supports equal shapes or scalars, got [${a.shape}] and [${b.shape}]`);
  }
  const dtype = a.dtype === 'float32' || b.dtype === 'float32' ? 'float32' : 'int32';
  const data = dtype === 'float32' ? new Float32Array(n) : new Int32Array(n);
  for (let i = 0; i < n; i++) data[i] = f(a.data[a.data.length === 1 ? 0 : i], b.data[b.data.length === 1 ? 0 : i]);
  return { dtype, shape, data };
}

type Folder = (node: TfjsNode, ins: TfjsConst[]) => TfjsConst;

const FOLDERS: Record<string, Folder> = {
  Identity: (_n, [x]) => x,
  Add: (n, [a, b]) => foldBinary(a, b, (x, y) => x + y, n.name),
  AddV2: (n, [a, b]) => foldBinary(a, b, (x, y) => x + y, n.name),
  Sub: (n, [a, b]) => foldBinary(a, b, (x, y) => x - y, n.name),
  Mul: (n, [a, b]) => foldBinary(a, b, (x, y) => x * y, n.name),
  Cast: (n, [x]) => {
    const to = n.attr?.DstT?.type ?? '';
    if (/FLOAT|HALF|DOUBLE/.test(to)) return { dtype: 'float32', shape: x.shape, data: Float32Array.from(x.data) };
    if (/INT/.test(to)) return { dtype: 'int32', shape: x.shape, data: Int32Array.from(x.data, Math.trunc) };
    throw new TfjsModelError(`${n.name}: cannot fold Cast to ${to}`);
  },
  // TF's SparseToDense(indices, output_shape, values, default): onnx-tf emits it with constant
  // (often empty) indices to build Reshape targets.
  SparseToDense: (n, [indices, outShape, values, dflt]) => {
    const shape = Array.from(outShape.data);
    const size = count(shape);
    const dtype = values.dtype;
    const data = dtype === 'float32' ? new Float32Array(size).fill(dflt.data[0]) : new Int32Array(size).fill(dflt.data[0]);
    const rank = shape.length;
    const nIdx = indices.shape.length === 0 ? 1 : indices.shape[0];
    for (let k = 0; k < nIdx; k++) {
      let flat = 0;
      for (let d = 0; d < rank; d++) flat = flat * shape[d] + indices.data[k * rank + d];
      if (flat < 0 || flat >= size) throw new TfjsModelError(`${n.name}: sparse index out of range`);
      data[flat] = values.data[values.data.length === 1 ? 0 : k];
    }
    return { dtype, shape, data };
  },
};

class Converter {
  readonly shapes = new Map<string, number[]>();
  readonly consts = new Map<string, TfjsConst>();
  readonly graph: OnnxGraph = { name: 'tfjs_graph', nodes: [], initializers: new Map(), inputs: [], outputs: [] };
  /** TF Add nodes folded into the Conv before them as its bias: Add name -> Conv name. */
  readonly fusedBias = new Map<string, string>();
  private readonly consumers = new Map<string, TfjsNode[]>();
  private uid = 0;

  constructor(
    private readonly model: TfjsGraphModel,
    private readonly file: string,
    private readonly opts: ConvertOptions,
  ) {
    for (const n of model.json.modelTopology.node) {
      for (const i of dataInputs(n)) {
        const list = this.consumers.get(i);
        if (list) list.push(n);
        else this.consumers.set(i, [n]);
      }
    }
  }

  get dynamic(): boolean {
    return (this.opts.symbolicInputDims ?? []).some((d) => d);
  }

  fail(node: TfjsNode, msg: string): never {
    throw new TfjsModelError(`${this.file}: node '${node.name}' (${node.op}): ${msg}`);
  }

  shape(node: TfjsNode, name: string): number[] {
    const s = this.shapes.get(name);
    if (!s) this.fail(node, `no known shape for input '${name}'`);
    return s;
  }

  constOf(node: TfjsNode, name: string, what: string): TfjsConst {
    const c = this.consts.get(name);
    if (!c) this.fail(node, `${what} ('${name}') must be a constant`);
    return c;
  }

  tmp(base: string): string {
    return `${base}__${this.uid++}`;
  }

  emit(op: string, name: string, inputs: string[], outputs: string[], attrs: Record<string, OnnxAttr> = {}): void {
    this.graph.nodes.push({ op, name, inputs, outputs, attrs });
  }

  int64Init(base: string, values: number[]): string {
    const name = this.tmp(base);
    this.graph.initializers.set(name, { name, dims: [values.length], data: BigInt64Array.from(values, (v) => BigInt(v)) });
    return name;
  }

  floatInit(base: string, values: number[] | Float32Array, dims: number[]): string {
    const name = this.tmp(base);
    this.graph.initializers.set(name, { name, dims, data: values instanceof Float32Array ? values : Float32Array.from(values) });
    return name;
  }

  /** A value usable as a runtime ONNX input: constants become float initializers. */
  runtime(node: TfjsNode, name: string): string {
    const c = this.consts.get(name);
    if (!c) {
      if (!this.shapes.has(name)) this.fail(node, `input '${name}' is not produced by any converted node`);
      return name;
    }
    if (c.dtype !== 'float32') this.fail(node, `integer tensor '${name}' is used at run time; only float tensors are supported there`);
    if (!this.graph.initializers.has(name)) this.graph.initializers.set(name, { name, dims: c.shape, data: c.data as Float32Array });
    return name;
  }

  /** The Add after a Conv2D, when it only adds a per-channel constant (the conv's bias). */
  biasAddAfter(conv: TfjsNode, cout: number): { add: TfjsNode; bias: TfjsConst } | undefined {
    const users = this.consumers.get(conv.name) ?? [];
    if (users.length !== 1 || !['Add', 'AddV2', 'BiasAdd'].includes(users[0].op)) return undefined;
    const add = users[0];
    const ins = dataInputs(add);
    const other = ins[0] === conv.name ? ins[1] : ins[0];
    const c = this.consts.get(other);
    const fmt = decodeAttrString(add.attr?.data_format);
    if (!c || c.dtype !== 'float32' || count(c.shape) !== cout || (fmt && fmt !== 'NHWC')) return undefined;
    if (c.shape.length > 1 && c.shape.slice(0, -1).some((d) => d !== 1)) return undefined;
    return { add, bias: c };
  }

  /** Emits x(NHWC) -> Transpose -> op (NCHW) -> Transpose -> out(NHWC). */
  nchwOp(op: string, name: string, x: string, extraInputs: string[], out: string, attrs: Record<string, OnnxAttr>): void {
    const xT = this.tmp(`${name}/nchw_in`);
    const yT = this.tmp(`${name}/nchw_out`);
    this.emit('Transpose', this.tmp(`${name}/to_nchw`), [x], [xT], { perm: attr.ints(NHWC_TO_NCHW) });
    this.emit(op, name, [xT, ...extraInputs], [yT], attrs);
    this.emit('Transpose', this.tmp(`${name}/to_nhwc`), [yT], [out], { perm: attr.ints(NCHW_TO_NHWC) });
  }

  /** Output size and ONNX pad attributes of a TF window op (conv/pool), per spatial dim. */
  window(node: TfjsNode, inHW: number[], k: number[], s: number[], d: number[]): { outHW: number[]; attrs: Record<string, OnnxAttr> } {
    const padding = decodeAttrString(node.attr?.padding) ?? 'VALID';
    const eff = k.map((kk, i) => (kk - 1) * d[i] + 1);
    if (padding === 'VALID') {
      return { outHW: inHW.map((n, i) => Math.floor((n - eff[i]) / s[i]) + 1), attrs: { pads: attr.ints([0, 0, 0, 0]) } };
    }
    if (padding === 'SAME') {
      // TF's SAME puts the odd pixel after, which is ONNX's SAME_UPPER.
      return { outHW: inHW.map((n, i) => Math.ceil(n / s[i])), attrs: { auto_pad: attr.string('SAME_UPPER') } };
    }
    if (padding === 'EXPLICIT') {
      const e = attrInts(node.attr?.explicit_paddings) ?? [];
      if (e.length !== 8) this.fail(node, 'explicit_paddings must hold 8 values');
      const [t, b, l, r] = [e[2], e[3], e[4], e[5]];
      return {
        outHW: [Math.floor((inHW[0] + t + b - eff[0]) / s[0]) + 1, Math.floor((inHW[1] + l + r - eff[1]) / s[1]) + 1],
        attrs: { pads: attr.ints([t, l, b, r]) },
      };
    }
    this.fail(node, `unsupported padding '${padding}'`);
  }

  requireNHWC(node: TfjsNode): void {
    const fmt = decodeAttrString(node.attr?.data_format) ?? 'NHWC';
    if (fmt !== 'NHWC') this.fail(node, `data_format ${fmt} is not supported (TF.js graphs use NHWC)`);
  }

  readonly handlers: Record<string, (node: TfjsNode, ins: string[]) => void> = {
    Placeholder: (node) => {
      const dims = node.attr?.shape?.shape?.dim?.map((d) => Number(d.size ?? -1));
      if (!dims) this.fail(node, 'attr shape is missing (inputs need a known rank)');
      const names = this.opts.symbolicInputDims ?? [];
      const staticDims = dims.map((d, i) => {
        if (d > 0) return d;
        if (i === 0) return 1;
        this.fail(node, `dimension ${i} is unknown; the converter needs static sizes to infer shapes`);
      });
      this.shapes.set(node.name, staticDims);
      this.graph.inputs.push({ name: node.name, dims: staticDims.map((d, i) => names[i] ?? (dims[i] > 0 ? d : 'batch')) });
    },
    Identity: (node, [x]) => {
      this.emit('Identity', node.name, [this.runtime(node, x)], [node.name]);
      this.shapes.set(node.name, this.shape(node, x));
    },
    Conv2D: (node, [x, f]) => {
      this.requireNHWC(node);
      const filt = this.constOf(node, f, 'filter');
      if (filt.shape.length !== 4) this.fail(node, `filter must be 4-D HWIO, got [${filt.shape}]`);
      const [kh, kw, cinPerGroup, cout] = filt.shape;
      const xs = this.shape(node, x);
      const group = xs[3] / cinPerGroup;
      if (!Number.isInteger(group)) this.fail(node, `input has ${xs[3]} channels, filter expects a multiple of ${cinPerGroup}`);
      const strides = attrInts(node.attr?.strides) ?? [1, 1, 1, 1];
      const dil = attrInts(node.attr?.dilations) ?? [1, 1, 1, 1];
      const { outHW, attrs } = this.window(node, [xs[1], xs[2]], [kh, kw], [strides[1], strides[2]], [dil[1], dil[2]]);
      // HWIO -> OIHW
      const w = new Float32Array(filt.data.length);
      const src = filt.data;
      for (let y = 0; y < kh; y++)
        for (let xx = 0; xx < kw; xx++)
          for (let i = 0; i < cinPerGroup; i++)
            for (let o = 0; o < cout; o++) w[((o * cinPerGroup + i) * kh + y) * kw + xx] = src[((y * kw + xx) * cinPerGroup + i) * cout + o];
      const inputs = [this.floatInit(`${node.name}/weight`, w, [cout, cinPerGroup, kh, kw])];
      let out = node.name;
      const bias = this.biasAddAfter(node, cout);
      if (bias) {
        inputs.push(this.floatInit(`${node.name}/bias`, Array.from(bias.bias.data), [cout]));
        this.fusedBias.set(bias.add.name, node.name);
        out = bias.add.name;
      }
      this.nchwOp('Conv', node.name, x, inputs, out, {
        ...attrs,
        kernel_shape: attr.ints([kh, kw]),
        strides: attr.ints([strides[1], strides[2]]),
        dilations: attr.ints([dil[1], dil[2]]),
        group: attr.int(group),
      });
      this.shapes.set(out, [xs[0], outHW[0], outHW[1], cout]);
    },
    MaxPool: (node, [x]) => {
      this.requireNHWC(node);
      const xs = this.shape(node, x);
      const k = attrInts(node.attr?.ksize) ?? [];
      const s = attrInts(node.attr?.strides) ?? [];
      if (k.length !== 4 || s.length !== 4 || k[0] !== 1 || k[3] !== 1) this.fail(node, 'ksize/strides must be [1,h,w,1]');
      const { outHW, attrs } = this.window(node, [xs[1], xs[2]], [k[1], k[2]], [s[1], s[2]], [1, 1]);
      this.nchwOp('MaxPool', node.name, x, [], node.name, { ...attrs, kernel_shape: attr.ints([k[1], k[2]]), strides: attr.ints([s[1], s[2]]) });
      this.shapes.set(node.name, [xs[0], outHW[0], outHW[1], xs[3]]);
    },
    ResizeBilinear: (node, [x, size]) => {
      const xs = this.shape(node, x);
      const [h, w] = Array.from(this.constOf(node, size, 'size').data);
      const alignCorners = node.attr?.align_corners?.b === true;
      const halfPixel = node.attr?.half_pixel_centers?.b === true;
      const ctm = alignCorners ? 'align_corners' : halfPixel ? 'half_pixel' : 'asymmetric';
      let extra: string[];
      if (this.dynamic) {
        // Sizes would pin the graph to the TF input size; factors follow the actual input.
        const scales = [1, 1, h / xs[1], w / xs[2]];
        if (Math.floor(xs[1] * Math.fround(scales[2])) !== h || Math.floor(xs[2] * Math.fround(scales[3])) !== w) {
          this.fail(node, `resize ${xs[1]}x${xs[2]} -> ${h}x${w} is not an exact scale factor; convert without symbolicInputDims`);
        }
        extra = ['', this.floatInit(`${node.name}/scales`, scales, [4])];
      } else {
        extra = ['', '', this.int64Init(`${node.name}/sizes`, [xs[0], xs[3], h, w])];
      }
      this.nchwOp('Resize', node.name, x, extra, node.name, {
        mode: attr.string('linear'),
        coordinate_transformation_mode: attr.string(ctm),
      });
      this.shapes.set(node.name, [xs[0], h, w, xs[3]]);
    },
    Pad: (node, ins) => this.pad(node, ins),
    PadV2: (node, ins) => this.pad(node, ins),
    Add: (node, ins) => this.binary(node, ins, 'Add'),
    AddV2: (node, ins) => this.binary(node, ins, 'Add'),
    Sub: (node, ins) => this.binary(node, ins, 'Sub'),
    Mul: (node, ins) => this.binary(node, ins, 'Mul'),
    LeakyRelu: (node, [x]) => {
      this.emit('LeakyRelu', node.name, [this.runtime(node, x)], [node.name], { alpha: attr.float(node.attr?.alpha?.f ?? 0.2) });
      this.shapes.set(node.name, this.shape(node, x));
    },
    Relu: (node, [x]) => this.unary(node, x, 'Relu'),
    Sigmoid: (node, [x]) => this.unary(node, x, 'Sigmoid'),
    Transpose: (node, [x, p]) => {
      const perm = Array.from(this.constOf(node, p, 'perm').data);
      const xs = this.shape(node, x);
      this.emit('Transpose', node.name, [this.runtime(node, x)], [node.name], { perm: attr.ints(perm) });
      this.shapes.set(node.name, perm.map((i) => xs[i]));
    },
    ConcatV2: (node, ins) => {
      const values = ins.slice(0, -1);
      const rank = this.shape(node, values[0]).length;
      let axis = this.constOf(node, ins[ins.length - 1], 'axis').data[0];
      if (axis < 0) axis += rank;
      const out = [...this.shape(node, values[0])];
      out[axis] = values.reduce((s, v) => s + this.shape(node, v)[axis], 0);
      this.emit('Concat', node.name, values.map((v) => this.runtime(node, v)), [node.name], { axis: attr.int(axis) });
      this.shapes.set(node.name, out);
    },
    Reshape: (node, [x, s]) => {
      const target = Array.from(this.constOf(node, s, 'shape').data);
      if (target.includes(0)) this.fail(node, `shape [${target}] has a 0, which TF and ONNX read differently`);
      const total = count(this.shape(node, x));
      const known = target.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
      const out = target.map((d) => (d === -1 ? total / known : d));
      if (count(out) !== total) this.fail(node, `cannot reshape [${this.shape(node, x)}] to [${target}]`);
      this.emit('Reshape', node.name, [this.runtime(node, x), this.int64Init(`${node.name}/shape`, target)], [node.name]);
      this.shapes.set(node.name, out);
    },
    SplitV: (node, [x, sizes, dim]) => {
      const xs = this.shape(node, x);
      let axis = this.constOf(node, dim, 'split_dim').data[0];
      if (axis < 0) axis += xs.length;
      const parts = Array.from(this.constOf(node, sizes, 'size_splits').data);
      const rest = xs[axis] - parts.filter((p) => p !== -1).reduce((a, b) => a + b, 0);
      const resolved = parts.map((p) => (p === -1 ? rest : p));
      if (resolved.reduce((a, b) => a + b, 0) !== xs[axis]) this.fail(node, `size_splits [${parts}] do not add up to ${xs[axis]}`);
      const outs = resolved.map((_, i) => (i === 0 ? node.name : `${node.name}:${i}`));
      this.emit('Split', node.name, [this.runtime(node, x), this.int64Init(`${node.name}/split`, resolved)], outs, { axis: attr.int(axis) });
      outs.forEach((o, i) => this.shapes.set(o, xs.map((d, k) => (k === axis ? resolved[i] : d))));
    },
  };

  unary(node: TfjsNode, x: string, op: string): void {
    this.emit(op, node.name, [this.runtime(node, x)], [node.name]);
    this.shapes.set(node.name, this.shape(node, x));
  }

  binary(node: TfjsNode, [a, b]: string[], op: string): void {
    const shapeOf = (n: string) => this.consts.get(n)?.shape ?? this.shape(node, n);
    this.emit(op, node.name, [this.runtime(node, a), this.runtime(node, b)], [node.name]);
    this.shapes.set(node.name, broadcastShapes(shapeOf(a), shapeOf(b), node.name));
  }

  pad(node: TfjsNode, [x, p, v]: string[]): void {
    const xs = this.shape(node, x);
    const pads = this.constOf(node, p, 'paddings');
    if (pads.shape[0] !== xs.length || pads.shape[1] !== 2) this.fail(node, `paddings must be [${xs.length},2], got [${pads.shape}]`);
    const before = xs.map((_, i) => pads.data[2 * i]);
    const after = xs.map((_, i) => pads.data[2 * i + 1]);
    const inputs = [this.runtime(node, x), this.int64Init(`${node.name}/pads`, [...before, ...after])];
    if (v) {
      const value = this.constOf(node, v, 'constant_values');
      inputs.push(this.floatInit(`${node.name}/value`, [value.data[0]], []));
    }
    this.emit('Pad', node.name, inputs, [node.name], { mode: attr.string('constant') });
    this.shapes.set(node.name, xs.map((d, i) => d + before[i] + after[i]));
  }

  convertNode(node: TfjsNode): void {
    if (node.op === 'NoOp') return;
    if (node.op === 'Const') {
      const w = this.model.weights.get(node.name);
      if (!w) this.fail(node, 'constant has no entry in weightsManifest');
      this.consts.set(node.name, w);
      return;
    }
    if (this.fusedBias.has(node.name)) return;
    const ins = dataInputs(node);
    const folder = FOLDERS[node.op];
    if (folder && ins.length > 0 && ins.every((i) => this.consts.has(i))) {
      this.consts.set(node.name, folder(node, ins.map((i) => this.consts.get(i)!)));
      return;
    }
    const handler = this.handlers[node.op];
    if (!handler) this.fail(node, 'op is not supported by this converter');
    handler(node, ins);
  }
}

const SUPPORTED = (c: Converter) => new Set(['Const', 'NoOp', ...Object.keys(c.handlers), ...Object.keys(FOLDERS)]);

/** Converts an already-loaded TF.js graph model; see convertTfjsGraphToOnnx. */
export function convertLoadedTfjsGraph(model: TfjsGraphModel, file: string, opts: ConvertOptions = {}): Uint8Array {
  const conv = new Converter(model, file, opts);
  const supported = SUPPORTED(conv);
  const unsupported = [...new Set(model.json.modelTopology.node.map((n) => n.op).filter((op) => !supported.has(op)))];
  if (unsupported.length) throw new TfjsModelError(`${file}: unsupported ops: ${unsupported.join(', ')}`);
  for (const node of topoSort(model.json.modelTopology.node, file)) conv.convertNode(node);

  const sigOutputs = Object.values(model.json.signature?.outputs ?? {}).map((o) => canonical(o.name));
  if (sigOutputs.length === 0) throw new TfjsModelError(`${file}: field signature.outputs is missing or empty`);
  // Stable order: by name, so Identity, Identity_1, ... come out as the TF.js signature lists them.
  sigOutputs.sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  for (const name of sigOutputs) {
    if (!conv.shapes.has(name)) throw new TfjsModelError(`${file}: signature output '${name}' is not computed by the graph`);
    const dims = conv.dynamic ? undefined : conv.shapes.get(name);
    conv.graph.outputs.push({ name, dims });
  }
  removeDeadNodes(conv.graph);
  foldTransposes(conv.graph);
  fusePadsIntoConsumers(conv.graph);
  return serializeOnnx(conv.graph, {
    opset: ONNX_OPSET,
    producerName: 'mei-tfjs-to-onnx',
    producerVersion: CONVERTER_VERSION,
    docString: `Converted from TF.js graph model ${file}`,
  });
}

/** Reads a TF.js graph model (model.json + shards) and returns the bytes of an equivalent ONNX model. */
export async function convertTfjsGraphToOnnx(modelJsonPath: string, opts: ConvertOptions = {}): Promise<Uint8Array> {
  const model = await loadTfjsGraphModel(modelJsonPath);
  return convertLoadedTfjsGraph(model, modelJsonPath, opts);
}
