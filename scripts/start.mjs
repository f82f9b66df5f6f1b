// `npm start`: brings the Prisma client and the dashboard build up to date, then runs the MEI server
// (Next.js dashboard + Socket.IO + embedded control plane, or Kubernetes mode with MEI_MODE=kubernetes).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { preparePrisma, prepareNext } from './prepare.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const env = { ...process.env, NODE_ENV: 'production', NEXT_TELEMETRY_DISABLED: '1', CHECKPOINT_DISABLE: '1' };
// Sample data and models: MEI_DATA_DIR / MEI_MODEL_DIR, else ./data and ./models, else a sibling shared/ folder.
for (const [key, local, sibling] of [
  ['MEI_DATA_DIR', 'data', '../shared/data'],
  ['MEI_MODEL_DIR', 'models', '../shared/models'],
]) {
  if (env[key]) continue;
  const candidates = [path.join(root, local), path.resolve(root, sibling)];
  env[key] = candidates.find((c) => existsSync(c)) ?? candidates[0];
}

preparePrisma();
prepareNext();
const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'server/main.ts'), ...process.argv.slice(2)], { cwd: root, env, stdio: 'inherit' });
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
