// Running a fixed-size detector export at another input size. Many exports (the YOLOX release among them)
// declare a fixed input although their graph has no size-dependent constants (slices to INT_MAX, resize by
// scale, reshape to [1, C, -1]). Rewriting the declared input shape (and dropping the stale inferred shapes)
// in memory lets onnxruntime run them at any multiple of the network stride. A graph that does depend on the
// size fails at session creation or on the first run, which the caller reports as a ModelError.
import { readFileSync } from 'node:fs';
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

/** The model file with input `inputName` re-declared as [N, C, height, width]. */
export function withInputSize(file: string, inputName: string | undefined, width: number, height: number): Uint8Array {
  return redeclare(file, inputName, (dims) => {
    dims[2] = onnx.TensorShapeProto.Dimension.create({ dimValue: height });
    dims[3] = onnx.TensorShapeProto.Dimension.create({ dimValue: width });
  });
}

/**
 * The model file with a batch dimension for an export that fixed it at 1 (the YOLOX release): the input's
 * first dimension becomes symbolic and every constant Reshape target of the form [1, ...] becomes [0, ...]
 * ("copy the input's batch"). Right for graphs whose only batch-bound constants are such reshapes; another
 * graph fails at session creation or gives wrong shapes, which the caller checks on a probe run.
 */
export function withDynamicBatch(file: string, inputName: string | undefined): Uint8Array {
  return redeclare(file, inputName, (dims, graph) => {
    dims[0] = onnx.TensorShapeProto.Dimension.create({ dimParam: 'batch' });
    const targets = new Set((graph.node ?? []).filter((n) => n.opType === 'Reshape').map((n) => n.input?.[1]));
    for (const t of graph.initializer ?? []) {
      if (!targets.has(t.name ?? '') || t.dataType !== onnx.TensorProto.DataType.INT64) continue;
      const raw = t.rawData && t.rawData.length >= 8 ? Buffer.from(t.rawData) : undefined;
      if (raw && raw.readBigInt64LE(0) === 1n) {
        raw.writeBigInt64LE(0n, 0);
        t.rawData = raw;
      }
    }
  });
}

function redeclare(
  file: string,
  inputName: string | undefined,
  edit: (dims: InstanceType<typeof onnx.TensorShapeProto.Dimension>[], graph: InstanceType<typeof onnx.GraphProto>) => void,
): Uint8Array {
  const model = onnx.ModelProto.decode(readFileSync(file));
  const graph = model.graph;
  if (!graph) throw new Error('no graph in the model');
  const inputs = graph.input ?? [];
  const input = inputs.find((i) => !inputName || i.name === inputName) ?? inputs[0];
  const dims = input?.type?.tensorType?.shape?.dim;
  if (!dims || dims.length !== 4) throw new Error(`input ${input?.name ?? '?'} is not an NCHW tensor`);
  edit(dims as InstanceType<typeof onnx.TensorShapeProto.Dimension>[], graph as InstanceType<typeof onnx.GraphProto>);
  // Intermediate and output shapes were inferred for the old size: let onnxruntime infer them again.
  graph.valueInfo = [];
  for (const out of graph.output ?? []) {
    const od = out.type?.tensorType?.shape?.dim;
    if (od) od.forEach((_, i) => (od[i] = onnx.TensorShapeProto.Dimension.create({ dimParam: `${out.name}_d${i}` })));
  }
  return onnx.ModelProto.encode(model).finish();
}
