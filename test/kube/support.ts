// Helpers shared by the Kubernetes-mode tests (not a test file).
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { ValidationError } from '@mei/contracts';
import type { Logger } from '../../server/log.ts';

export async function waitFor<T>(what: string, fn: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 120_000, everyMs = 25): Promise<T> {
  const end = Date.now() + timeoutMs;
  let lastErr: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      lastErr = e;
    }
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastErr ? ` (last error: ${(lastErr as Error).message})` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** The field paths of the ValidationError `p` rejects with (fails the test when it resolves or throws something else). */
export async function fieldsOf(p: Promise<unknown>): Promise<string[]> {
  const err = await p.then(
    () => undefined,
    (e) => e,
  );
  if (!(err instanceof ValidationError)) throw new Error(`expected a ValidationError, got ${err === undefined ? 'success' : String(err)}`);
  return err.errors.map((e) => e.field);
}

/** A fresh namespace (the harness has no namespace controller, so tests never delete them). */
export async function freshNamespace(kc: KubeConfig, prefix: string): Promise<string> {
  const ns = `${prefix}-${randomBytes(3).toString('hex')}`;
  await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: ns } } });
  return ns;
}

/** Collects log lines (asserting on warnings where it matters, silent otherwise). */
export function memoryLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const add = (level: string) => (m: string, ...r: unknown[]) => void lines.push(`${level} ${m}${r.length ? ' ' + r.map(String).join(' ') : ''}`);
  return { lines, info: add('info'), warn: add('warn'), error: add('error'), debug: add('debug') };
}

/** A TCP pass-through that can drop every connection and refuse new ones for a while, or black-hole them. */
export interface Proxy {
  port: number;
  cut(): void;
  /**
   * A partition that drops packets: open connections stop forwarding and new ones are accepted but never
   * answered, so requests hang (no reset tells the client). restore() resets the held connections.
   */
  blackhole(): void;
  restore(): void;
  close(): Promise<void>;
}

export async function startProxy(targetPort: number): Promise<Proxy> {
  const sockets = new Set<Socket>();
  let refusing = false;
  let holding = false;
  const srv: Server = createServer((client) => {
    if (refusing) return void client.destroy();
    if (holding) {
      sockets.add(client);
      client.on('close', () => sockets.delete(client));
      client.on('error', () => {});
      return void client.pause();
    }
    const up = connect(targetPort, '127.0.0.1');
    for (const s of [client, up]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {});
    }
    client.pipe(up).pipe(client);
    client.on('close', () => up.destroy());
    up.on('close', () => client.destroy());
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return {
    port: (srv.address() as { port: number }).port,
    cut() {
      refusing = true;
      for (const s of sockets) s.destroy();
    },
    blackhole() {
      holding = true;
      for (const s of sockets) {
        s.unpipe();
        s.pause();
      }
    },
    restore() {
      if (holding) for (const s of sockets) s.destroy();
      refusing = false;
      holding = false;
    },
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        srv.close(() => r());
      }),
  };
}

/** `kc`, but through `proxy` (the harness's serving cert is valid for any 127.0.0.1 port). */
export function viaProxy(kc: KubeConfig, proxy: Proxy): KubeConfig {
  const out = new KubeConfig();
  out.loadFromString(kc.exportConfig());
  (out.getCurrentCluster() as { server: string }).server = `https://127.0.0.1:${proxy.port}`;
  return out;
}

/** Runs the harness-built kubectl against `kubeconfig` (stdin from `input`); errors carry kubectl's stderr. */
export async function runKubectl(kubectlBin: string, kubeconfig: string, args: string[], input?: string): Promise<string> {
  const run = promisify(execFile)(kubectlBin, ['--kubeconfig', kubeconfig, ...args], { timeout: 60_000, maxBuffer: 16 << 20 });
  if (input !== undefined) run.child.stdin!.end(input);
  try {
    return (await run).stdout;
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`kubectl ${args.join(' ')} failed: ${err.stderr || err.message}`);
  }
}

/** A client config authenticating with a TokenRequest token of a ServiceAccount, as a pod's would. */
export async function serviceAccountKubeConfig(admin: KubeConfig, server: { url: string; caPem: string }, namespace: string, name: string): Promise<KubeConfig> {
  const tr = await admin.makeApiClient(CoreV1Api).createNamespacedServiceAccountToken({ name, namespace, body: { spec: { audiences: [], expirationSeconds: 3600 } } });
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: server.url, caData: Buffer.from(server.caPem).toString('base64') }],
    users: [{ name: `${namespace}:${name}`, token: tr.status!.token }],
    contexts: [{ name: 'ctx', cluster: 'c', user: `${namespace}:${name}` }],
    currentContext: 'ctx',
  });
  return kc;
}
