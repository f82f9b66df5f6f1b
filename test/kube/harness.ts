// Starts a real kube-apiserver backed by a real etcd on loopback for MEI's
// Kubernetes-mode tests. The binaries come from test/kube-harness/build.sh
// (built from the Kubernetes Go modules, cached per version, or taken from
// KUBEBUILDER_ASSETS). If they are missing they are built here; if that build
// fails, startKubeApiServer rejects with the reason, so a kube test can never
// pass without a real apiserver behind it.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile, open } from 'node:fs/promises';
import { createServer } from 'node:net';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);
const here = fileURLToPath(new URL('.', import.meta.url));
export const BUILD_SCRIPT = resolve(here, '../kube-harness/build.sh');

/** A user for the static token file; tests bind RBAC roles to `name` or `groups`. */
export interface KubeUserSpec {
  name: string;
  groups?: string[];
}

export interface KubeUser {
  name: string;
  groups: string[];
  token: string;
  /** A kubeconfig that authenticates as this user. */
  kubeconfigPath: string;
}

export interface StartOptions {
  /** Extra (restricted) users. The token file is read once at start, so declare them here. */
  users?: KubeUserSpec[];
  /** How long to wait for /readyz (default 90 s). */
  readyTimeoutMs?: number;
  /** Extra kube-apiserver flags, e.g. ['--feature-gates=...']. */
  extraApiServerArgs?: string[];
  /** Stream both processes' logs to this process's stderr as well as to the log files. */
  verbose?: boolean;
}

export interface KubeApiServer {
  /** Admin kubeconfig (user "admin", group system:masters). */
  kubeconfigPath: string;
  /** https://127.0.0.1:<port> */
  url: string;
  /** Admin bearer token. */
  token: string;
  /** PEM of the self-signed serving certificate (it is its own CA). */
  caPem: string;
  caPath: string;
  /** Restricted users by name, with their own kubeconfigs. */
  users: Record<string, KubeUser>;
  etcdUrl: string;
  /** Temp dir holding certs, data, kubeconfigs and logs (removed by stop()). */
  dir: string;
  /** Where the binaries came from (version-keyed cache or KUBEBUILDER_ASSETS). */
  assetsDir: string;
  /** Milliseconds from spawning etcd until /readyz answered ok. */
  startupMs: number;
  pids: { etcd: number; apiserver: number };
  stop(): Promise<void>;
}

/**
 * Returns the folder holding kube-apiserver and etcd (and kubectl when asked),
 * building what is missing. Rejects with build.sh's output when it fails.
 */
export async function ensureKubeAssets(opts: { kubectl?: boolean; verbose?: boolean; env?: NodeJS.ProcessEnv } = {}): Promise<string> {
  const args = [BUILD_SCRIPT, ...(opts.kubectl ? ['--with-kubectl'] : [])];
  return new Promise((resolvePromise, reject) => {
    const child = spawn('bash', args, { stdio: ['ignore', 'pipe', 'pipe'], env: opts.env ?? process.env });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d));
    child.stderr.on('data', (d: Buffer) => {
      err += d;
      // A first build takes many minutes; show progress, not just silence.
      if (opts.verbose !== false) process.stderr.write(`[kube-harness] ${d}`);
    });
    child.on('error', (e) => reject(new Error(`cannot run ${BUILD_SCRIPT}: ${e.message}`)));
    child.on('close', (code) => {
      const dir = out.trim().split('\n').pop() ?? '';
      if (code === 0 && dir) return resolvePromise(dir);
      reject(new Error(`${BUILD_SCRIPT} failed (exit ${code}); kube-apiserver is not available:\n${err.slice(-4000)}`));
    });
  });
}

async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => res(port));
    });
  });
}

/** Self-signed serving cert for 127.0.0.1/localhost; clients trust it directly as their CA. */
async function makeServingCert(dir: string): Promise<{ certPath: string; keyPath: string }> {
  const certPath = join(dir, 'serving.crt');
  const keyPath = join(dir, 'serving.key');
  await execFileP('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-sha256', '-days', '2',
    '-keyout', keyPath, '-out', certPath, '-subj', '/CN=kube-apiserver',
    '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
    '-addext', 'basicConstraints=critical,CA:TRUE',
    '-addext', 'keyUsage=critical,digitalSignature,keyEncipherment,keyCertSign',
    '-addext', 'extendedKeyUsage=serverAuth',
  ]);
  return { certPath, keyPath };
}

function kubeconfig(url: string, caPem: string, user: string, token: string): string {
  // JSON is valid YAML, so client-node and kubectl read it as a kubeconfig.
  return JSON.stringify(
    {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'mei-test', cluster: { server: url, 'certificate-authority-data': Buffer.from(caPem).toString('base64') } }],
      users: [{ name: user, user: { token } }],
      contexts: [{ name: `${user}@mei-test`, context: { cluster: 'mei-test', user, namespace: 'default' } }],
      'current-context': `${user}@mei-test`,
      preferences: {},
    },
    null,
    2,
  );
}

interface Proc {
  child: ChildProcess;
  name: string;
  logPath: string;
  exited: Promise<number | null>;
}

async function startProc(name: string, bin: string, args: string[], dir: string, verbose: boolean): Promise<Proc> {
  const logPath = join(dir, `${name}.log`);
  const log = await open(logPath, 'w');
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const write = (d: Buffer) => {
    void log.write(d).catch(() => {});
    if (verbose) process.stderr.write(`[${name}] ${d}`);
  };
  child.stdout!.on('data', write);
  child.stderr!.on('data', write);
  const exited = new Promise<number | null>((res) => {
    child.on('error', (e) => {
      write(Buffer.from(`spawn failed: ${e.message}\n`));
      res(-1);
    });
    child.on('exit', (code, signal) => {
      if (signal) write(Buffer.from(`exited on ${signal}\n`));
      // Let piped output drain before the handle closes.
      setTimeout(() => void log.close().catch(() => {}).then(() => res(code)), 50);
    });
  });
  return { child, name, logPath, exited };
}

async function tail(path: string, chars = 3000): Promise<string> {
  try {
    return (await readFile(path, 'utf8')).slice(-chars);
  } catch {
    return '(no log)';
  }
}

async function stopProc(p: Proc, timeoutMs = 10_000): Promise<void> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return;
  p.child.kill('SIGTERM');
  const timer = setTimeout(() => p.child.kill('SIGKILL'), timeoutMs);
  await p.exited;
  clearTimeout(timer);
}

export interface KubeResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/**
 * A raw HTTPS request to the apiserver, for what typed clients do not expose
 * (e.g. server-side Table output via the Accept header).
 */
export function kubeRequest(
  server: { url: string; caPem: string; token: string },
  path: string,
  opts: { method?: string; accept?: string; contentType?: string; body?: string; token?: string; timeoutMs?: number } = {},
): Promise<KubeResponse> {
  return new Promise((res, rej) => {
    const headers: Record<string, string> = { Authorization: `Bearer ${opts.token ?? server.token}` };
    if (opts.accept) headers.Accept = opts.accept;
    if (opts.body !== undefined) headers['Content-Type'] = opts.contentType ?? 'application/json';
    const req = request(
      new URL(path, server.url),
      { method: opts.method ?? 'GET', headers, ca: server.caPem, timeout: opts.timeoutMs ?? 10_000 },
      (r) => {
        let body = '';
        r.setEncoding('utf8');
        r.on('data', (d: string) => (body += d));
        r.on('end', () => res({ status: r.statusCode ?? 0, headers: r.headers, body }));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${opts.method ?? 'GET'} ${path}: timeout`)));
    req.on('error', rej);
    req.end(opts.body);
  });
}

async function waitReady(url: string, token: string, caPem: string, procs: Proc[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < deadline) {
    for (const p of procs) {
      if (p.child.exitCode !== null || p.child.signalCode !== null) {
        throw new Error(`${p.name} exited (code ${p.child.exitCode}) before the apiserver was ready:\n${await tail(p.logPath)}`);
      }
    }
    try {
      const r = await kubeRequest({ url, token, caPem }, '/readyz', { timeoutMs: 5000 });
      if (r.status === 200) return;
      last = `HTTP ${r.status}: ${r.body.slice(-500)}`;
    } catch (e) {
      last = (e as Error).message;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`kube-apiserver not ready at ${url}/readyz after ${timeoutMs} ms (last: ${last})`);
}

/** Starts etcd and kube-apiserver on free loopback ports; stop() kills both and removes all temp files. */
export async function startKubeApiServer(opts: StartOptions = {}): Promise<KubeApiServer> {
  const assetsDir = await ensureKubeAssets({ verbose: opts.verbose });
  const dir = await mkdtemp(join(tmpdir(), 'mei-kube-'));
  const procs: Proc[] = [];
  const killAll = () => procs.forEach((p) => p.child.exitCode === null && p.child.kill('SIGKILL'));
  // If the test process dies without calling stop(), do not leave daemons behind.
  process.once('exit', killAll);

  const stop = async () => {
    process.removeListener('exit', killAll);
    // apiserver first: it would otherwise spin retrying a dead etcd.
    for (const p of [...procs].reverse()) await stopProc(p);
    await rm(dir, { recursive: true, force: true });
  };

  try {
    const verbose = opts.verbose ?? false;
    const t0 = Date.now();
    const [clientPort, peerPort, securePort] = await Promise.all([freePort(), freePort(), freePort()]);
    const etcdUrl = `http://127.0.0.1:${clientPort}`;
    const peerUrl = `http://127.0.0.1:${peerPort}`;
    const etcd = await startProc(
      'etcd',
      join(assetsDir, 'etcd'),
      [
        `--name=default`,
        `--data-dir=${join(dir, 'etcd-data')}`,
        `--listen-client-urls=${etcdUrl}`,
        `--advertise-client-urls=${etcdUrl}`,
        `--listen-peer-urls=${peerUrl}`,
        `--initial-advertise-peer-urls=${peerUrl}`,
        `--initial-cluster=default=${peerUrl}`,
        // Test data is thrown away, so skip fsync (as envtest does).
        '--unsafe-no-fsync',
        '--log-level=warn',
      ],
      dir,
      verbose,
    );
    procs.push(etcd);

    const { certPath, keyPath } = await makeServingCert(dir);
    const caPem = await readFile(certPath, 'utf8');

    // Service-account tokens (TokenRequest) need a signing key pair.
    const sa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const saKey = join(dir, 'sa.key');
    const saPub = join(dir, 'sa.pub');
    await writeFile(saKey, sa.privateKey.export({ type: 'pkcs8', format: 'pem' }));
    await writeFile(saPub, sa.publicKey.export({ type: 'spki', format: 'pem' }));

    const token = randomBytes(24).toString('hex');
    const url = `https://127.0.0.1:${securePort}`;
    const users: Record<string, KubeUser> = {};
    const rows = [`${token},admin,admin,"system:masters"`];
    for (const u of opts.users ?? []) {
      if (!/^[a-z0-9][-a-z0-9.:@]*$/i.test(u.name) || u.name === 'admin' || users[u.name]) {
        throw new Error(`users[].name ${JSON.stringify(u.name)} must be a unique user name other than "admin"`);
      }
      const t = randomBytes(24).toString('hex');
      const groups = u.groups ?? [];
      rows.push(`${t},${u.name},${u.name}${groups.length ? `,"${groups.join(',')}"` : ''}`);
      const kubeconfigPath = join(dir, `kubeconfig-${u.name}`);
      await writeFile(kubeconfigPath, kubeconfig(url, caPem, u.name, t));
      users[u.name] = { name: u.name, groups, token: t, kubeconfigPath };
    }
    const tokenFile = join(dir, 'tokens.csv');
    await writeFile(tokenFile, rows.join('\n') + '\n');
    const kubeconfigPath = join(dir, 'kubeconfig');
    await writeFile(kubeconfigPath, kubeconfig(url, caPem, 'admin', token));

    const apiserver = await startProc(
      'kube-apiserver',
      join(assetsDir, 'kube-apiserver'),
      [
        `--etcd-servers=${etcdUrl}`,
        '--bind-address=127.0.0.1',
        '--advertise-address=127.0.0.1',
        `--secure-port=${securePort}`,
        `--tls-cert-file=${certPath}`,
        `--tls-private-key-file=${keyPath}`,
        `--cert-dir=${join(dir, 'certs')}`,
        `--token-auth-file=${tokenFile}`,
        '--authorization-mode=RBAC',
        // Only an address-allocation range for Service objects; nothing is routed.
        '--service-cluster-ip-range=10.0.0.0/24',
        '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
        `--service-account-key-file=${saPub}`,
        `--service-account-signing-key-file=${saKey}`,
        // No controller-manager runs, so no "default" ServiceAccount appears in new
        // namespaces; this plugin would then reject every Pod.
        '--disable-admission-plugins=ServiceAccount',
        '--allow-privileged=true',
        ...(opts.extraApiServerArgs ?? []),
      ],
      dir,
      verbose,
    );
    procs.push(apiserver);

    await waitReady(url, token, caPem, procs, opts.readyTimeoutMs ?? 90_000);
    return {
      kubeconfigPath,
      url,
      token,
      caPem,
      caPath: certPath,
      users,
      etcdUrl,
      dir,
      assetsDir,
      startupMs: Date.now() - t0,
      pids: { etcd: etcd.child.pid!, apiserver: apiserver.child.pid! },
      stop,
    };
  } catch (e) {
    await stop().catch(() => {});
    throw e;
  }
}
