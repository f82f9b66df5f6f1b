// Brings generated artefacts up to date before `npm start` and `npm test`: the Prisma client and the
// production Next.js build. Each is keyed by a hash of its inputs, so a second run does nothing.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const env = { ...process.env, NEXT_TELEMETRY_DISABLED: '1', CHECKPOINT_DISABLE: '1', PRISMA_HIDE_UPDATE_MESSAGE: '1' };

function hashInputs(inputs) {
  const h = createHash('sha256');
  const visit = (p) => {
    const abs = path.join(root, p);
    if (!existsSync(abs)) return;
    const st = statSync(abs);
    if (st.isDirectory()) {
      for (const e of readdirSync(abs).sort()) if (e !== 'node_modules' && !e.startsWith('.')) visit(path.join(p, e));
    } else {
      h.update(p).update(readFileSync(abs));
    }
  };
  inputs.forEach(visit);
  return h.digest('hex');
}

function run(label, cmd, args) {
  console.log(`[prepare] ${label}: ${cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, { cwd: root, env, stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`[prepare] ${label} failed (exit ${r.status})`);
    process.exit(r.status ?? 1);
  }
}

function upToDate(stampFile, hash) {
  return existsSync(stampFile) && readFileSync(stampFile, 'utf8') === hash;
}
function stamp(stampFile, hash) {
  mkdirSync(path.dirname(stampFile), { recursive: true });
  writeFileSync(stampFile, hash);
}

export function preparePrisma() {
  const hash = hashInputs(['prisma/schema.prisma', 'package-lock.json']);
  const stampFile = path.join(root, 'node_modules/.prisma/client/.mei-schema-hash');
  if (upToDate(stampFile, hash)) return;
  run('prisma client', process.execPath, [path.join(root, 'node_modules/prisma/build/index.js'), 'generate']);
  stamp(stampFile, hash);
}

export function prepareNext() {
  // The route handlers bundle server/ (server/http/api.ts and what it imports, e.g. the media policy in
  // contracts/src, @mei/vision): a change there must rebuild too, or `npm start` serves the old handlers.
  const hash = hashInputs(['app', 'server', 'vision/src', 'contracts/src', 'next.config.js', 'package-lock.json', 'tsconfig.json', 'public']);
  const stampFile = path.join(root, '.next/.mei-build-hash');
  if (upToDate(stampFile, hash)) return;
  run('dashboard build', process.execPath, [path.join(root, 'node_modules/next/dist/bin/next'), 'build']);
  stamp(stampFile, hash);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const what = process.argv.slice(2);
  if (what.length === 0 || what.includes('prisma')) preparePrisma();
  if (what.length === 0 || what.includes('next')) prepareNext();
}
