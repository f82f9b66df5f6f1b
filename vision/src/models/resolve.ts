// Turns spec.models.* into a file on disk plus its input contract, or a ModelError naming the spec field.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { DECODER_INPUT_DEFAULTS, findModel, MODEL_REGISTRY, type DetectorDecoder, type InputSpec, type ModelEntry } from './registry.ts';

/** A model problem the user can fix in the job spec; `field` is the spec path to look at. */
export class ModelError extends Error {
  readonly field: string;
  constructor(field: string, message: string) {
    super(`${field}: ${message}`);
    this.name = 'ModelError';
    this.field = field;
  }
}

export interface ResolvedModel {
  /** Absolute path of the ONNX file (may not exist yet for models converted at first use). */
  file: string;
  entry?: ModelEntry;
  input: InputSpec;
}

interface ModelRef {
  name?: string;
  path?: string;
  inputWidth?: number;
  inputHeight?: number;
}

function modelDir(env: Record<string, string | undefined>, field: string, what: string): string {
  const dir = env.MEI_MODEL_DIR;
  if (!dir) throw new ModelError(field, `${what} needs MEI_MODEL_DIR to be set (the folder holding the model files)`);
  return dir;
}

function resolveFile(ref: ModelRef, fieldBase: string, entry: ModelEntry | undefined, env: Record<string, string | undefined>): string {
  if (ref.path) {
    // A path is data: the control plane resolves ${MEI_MODEL_DIR}; nothing is expanded from this process's env.
    const p = ref.path;
    if (p.includes('${')) throw new ModelError(`${fieldBase}.path`, 'environment variables are not expanded in a model path (only ${MEI_MODEL_DIR}, resolved by the server)');
    if (p.split(/[\\/]/).includes('..')) throw new ModelError(`${fieldBase}.path`, "must not contain '..' segments");
    return path.isAbsolute(p) ? p : path.join(modelDir(env, `${fieldBase}.path`, `relative path '${ref.path}'`), p);
  }
  if (!entry) throw new ModelError(`${fieldBase}.name`, 'set a registry model name or a path to an ONNX file');
  // A model built at first use needs no model folder: '' lets its module convert into its own cache.
  if (entry.convertedFrom && !env.MEI_MODEL_DIR) return '';
  return path.join(modelDir(env, `${fieldBase}.name`, `model '${entry.name}'`), entry.file);
}

function lookupEntry(ref: ModelRef, fieldBase: string, kind: ModelEntry['kind']): ModelEntry | undefined {
  if (!ref.name) return undefined;
  const entry = findModel(ref.name);
  const known = Object.values(MODEL_REGISTRY).filter((m) => m.kind === kind).map((m) => m.name);
  if (!entry || entry.kind !== kind) {
    throw new ModelError(`${fieldBase}.name`, `unknown ${kind} model '${ref.name}' (known: ${known.join(', ')})`);
  }
  return entry;
}

const verified = new Map<string, string>();

/** sha256 of a file, cached by path, size and mtime (a registry file is hashed once per process). */
function fileSha256(file: string): string {
  const st = statSync(file);
  const key = `${file}:${st.size}:${st.mtimeMs}`;
  let sum = verified.get(key);
  if (!sum) {
    sum = createHash('sha256').update(readFileSync(file)).digest('hex');
    verified.set(key, sum);
  }
  return sum;
}

function requireFile(file: string, ref: ModelRef, fieldBase: string, entry: ModelEntry | undefined): void {
  const field = ref.path ? `${fieldBase}.path` : `${fieldBase}.name`;
  if (!existsSync(file) || !statSync(file).isFile()) {
    const hint = entry ? ` (get ${entry.file} from ${entry.source}${entry.sha256 ? `, sha256 ${entry.sha256}` : ''})` : '';
    throw new ModelError(field, `model file not found: ${file}${hint}`);
  }
  // A registry name promises that exact published file (its decoder and input contract depend on it).
  if (entry?.sha256 && !ref.path) {
    const sum = fileSha256(file);
    if (sum !== entry.sha256) {
      throw new ModelError(field, `${file} is not the registry's ${entry.name} (sha256 ${sum}, expected ${entry.sha256}); to run another file set path and decoder instead`);
    }
  }
}

export interface DetectorModelSpec extends ModelRef {
  decoder: string;
}

export const DETECTOR_DECODERS: readonly DetectorDecoder[] = ['yolox', 'yolov8', 'nanodet'];

/** Resolves spec.models.detector. Files converted at first use (nanodet-g) need not exist yet. */
export function resolveDetectorModel(
  spec: DetectorModelSpec,
  env: Record<string, string | undefined> = process.env,
  fieldBase = 'spec.models.detector',
): ResolvedModel & { decoder: DetectorDecoder } {
  if (!DETECTOR_DECODERS.includes(spec.decoder as DetectorDecoder)) {
    throw new ModelError(`${fieldBase}.decoder`, `unknown decoder '${spec.decoder}' (known: ${DETECTOR_DECODERS.join(', ')})`);
  }
  const decoder = spec.decoder as DetectorDecoder;
  const entry = lookupEntry(spec, fieldBase, 'detector');
  if (entry && entry.decoder !== decoder) {
    throw new ModelError(`${fieldBase}.decoder`, `model '${entry.name}' needs decoder '${entry.decoder}', not '${decoder}'`);
  }
  const file = resolveFile(spec, fieldBase, entry, env);
  if (!(entry?.convertedFrom && !spec.path)) requireFile(file, spec, fieldBase, entry);
  const base = entry?.input ?? { tensor: '', width: 416, height: 416, ...DECODER_INPUT_DEFAULTS[decoder] };
  const input: InputSpec = {
    ...base,
    width: spec.inputWidth ?? base.width,
    height: spec.inputHeight ?? base.height,
  };
  return { file, entry, input, decoder };
}

/** Resolves spec.models.reid when kind is onnx. */
export function resolveReidModel(
  spec: ModelRef,
  env: Record<string, string | undefined> = process.env,
  fieldBase = 'spec.models.reid',
): ResolvedModel {
  const entry = lookupEntry(spec, fieldBase, 'reid');
  const file = resolveFile(spec, fieldBase, entry, env);
  requireFile(file, spec, fieldBase, entry);
  // Without a registry entry assume the common torchreid export: 256x128 RGB, ImageNet normalisation.
  const base = entry?.input ?? MODEL_REGISTRY['osnet-x0.25-msmt17'].input;
  const input: InputSpec = { ...base, tensor: entry ? base.tensor : '', width: spec.inputWidth ?? base.width, height: spec.inputHeight ?? base.height };
  return { file, entry, input };
}

/**
 * Checks a session's declared input shape against what MEI will feed: fixed dims must match,
 * symbolic dims (strings / -1) accept anything.
 */
export function checkInputShape(declared: ReadonlyArray<number | string> | undefined, expected: number[], field: string, file: string): void {
  if (!declared) return;
  if (declared.length !== expected.length) {
    throw new ModelError(field, `${file} takes a rank-${declared.length} input [${declared.join(',')}], expected [${expected.join(',')}]`);
  }
  declared.forEach((d, i) => {
    if (typeof d === 'number' && d > 0 && expected[i] > 0 && d !== expected[i]) {
      throw new ModelError(field, `${file} takes input [${declared.join(',')}], but the decoder needs [${expected.join(',')}] (check inputWidth/inputHeight and the decoder)`);
    }
  });
}
