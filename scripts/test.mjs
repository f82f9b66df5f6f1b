// `npm test`: every suite of the project, in order, with one summary line at the end.
//   unit + agent + integration (vitest) -> Kubernetes against a real kube-apiserver (vitest) -> browser e2e
//   (Playwright + Debian Chromium). `npm test -- --only unit,kube` runs a subset.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { preparePrisma, prepareNext } from './prepare.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
process.chdir(root);
const args = process.argv.slice(2);
const onlyArg = args.indexOf('--only');
const only = onlyArg >= 0 ? new Set(args[onlyArg + 1].split(',')) : undefined;
const want = (s) => !only || only.has(s);

const env = { ...process.env, NEXT_TELEMETRY_DISABLED: '1', CHECKPOINT_DISABLE: '1' };
env.MEI_MODEL_DIR ??= path.resolve(root, '../shared/models');
env.MEI_DATA_DIR ??= path.resolve(root, '../shared/data');
const reports = mkdtempSync(path.join(tmpdir(), 'mei-test-'));
const bin = (p) => path.join(root, 'node_modules', p);

const results = [];
function suite(name, cmd, cmdArgs, count) {
  if (!want(name)) return;
  const t0 = Date.now();
  console.log(`\n=== ${name}: ${[cmd, ...cmdArgs].join(' ')}`);
  const r = spawnSync(cmd, cmdArgs, { stdio: 'inherit', env });
  const counts = count();
  results.push({ name, exit: r.status, seconds: Math.round((Date.now() - t0) / 1000), ...counts });
}

function vitestCounts(file) {
  if (!existsSync(file)) return { passed: 0, failed: 1, note: 'no report (runner crashed?)' };
  const j = JSON.parse(readFileSync(file, 'utf8'));
  return { passed: j.numPassedTests, failed: j.numFailedTests + (j.numTotalTestSuites && !j.success && j.numFailedTests === 0 ? 1 : 0), skipped: j.numPendingTests + j.numTodoTests };
}
function playwrightCounts(file) {
  if (!existsSync(file)) return { passed: 0, failed: 1, note: 'no report (runner crashed?)' };
  const s = JSON.parse(readFileSync(file, 'utf8')).stats;
  return { passed: s.expected, failed: s.unexpected + s.flaky * 0, skipped: s.skipped, flaky: s.flaky };
}

preparePrisma();
// The metric-parity test compares mei-eval with py-motmetrics/TrackEval from PyPI, and the observability test
// parses /metrics with prometheus_client: both live in .venv-ref, brought up to test/reference/requirements.txt
// (pip does nothing when it is satisfied).
if (want('unit')) {
  console.log('\n=== reference venv (py-motmetrics, TrackEval from PyPI): bash scripts/setup-reference.sh');
  const r = spawnSync('bash', ['scripts/setup-reference.sh'], { stdio: 'inherit', env });
  if (r.status !== 0) console.error('reference venv could not be made; the metric parity test will say why');
}
// The dashboard's production build serves the hostile-input fuzz (unit suite) and the browser tests (e2e).
if (want('unit') || want('e2e')) prepareNext();
suite('types', process.execPath, [bin('typescript/bin/tsc'), '--noEmit', '-p', 'tsconfig.json'], () => ({ passed: 0, failed: 0 }));
const last = results.at(-1);
if (last?.name === 'types') Object.assign(last, last.exit === 0 ? { passed: 1 } : { failed: 1, note: 'type errors above' });
const vitestJson = path.join(reports, 'vitest.json');
suite('unit', process.execPath, [bin('vitest/vitest.mjs'), 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${vitestJson}`], () => vitestCounts(vitestJson));
const kubeJson = path.join(reports, 'kube.json');
suite('kube', process.execPath, [bin('vitest/vitest.mjs'), 'run', '--config', 'test/kube/vitest.config.ts', '--reporter=default', '--reporter=json', `--outputFile.json=${kubeJson}`], () => vitestCounts(kubeJson));
const pwJson = path.join(reports, 'playwright.json');
env.PLAYWRIGHT_JSON_OUTPUT_NAME = pwJson;
suite('e2e', process.execPath, [bin('@playwright/test/cli.js'), 'test', '--config', 'e2e/playwright.config.ts', '--reporter=list,json'], () => playwrightCounts(pwJson));

console.log('\n=== summary');
let passed = 0;
let failed = 0;
for (const r of results) {
  const bad = r.exit !== 0 && r.failed === 0 ? 1 : 0; // a runner that failed without failing tests still fails
  passed += r.passed;
  failed += r.failed + bad;
  console.log(`${r.name.padEnd(6)} ${String(r.passed).padStart(4)} passed ${String(r.failed + bad).padStart(3)} failed ${String(r.skipped ?? 0).padStart(3)} skipped  ${r.seconds}s${r.note ? `  (${r.note})` : ''}`);
}
if (results.length === 0) failed = 1;
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
