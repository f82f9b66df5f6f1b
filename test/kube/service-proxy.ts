// A stand-in for a Kubernetes Service in front of MEI's server replicas (mock: there is no kube-proxy here).
// It behaves as a Service with readiness does: its endpoints are the replicas whose Pod carries the
// selector's labels (read from the real apiserver, as the endpoints controller would) AND whose readiness
// probe answers 200; a new TCP connection goes to one of them, or is reset when there is none. Open
// connections are never moved (kube-proxy does not move them either): a replica that turns unready keeps
// them until it closes them. Every change of the endpoint set and every routed connection is recorded with
// its time, so a test can assert on what the proxy did.
import net from 'node:net';
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';

export interface Replica {
  /** The Pod's name. */
  name: string;
  port: number;
}

export interface ServiceProxyOptions {
  kc: KubeConfig;
  namespace: string;
  /** The Service's label selector, e.g. `app.kubernetes.io/instance=x,mei.sedna.io/leader=true`. */
  selector: string;
  /** Readiness probe path (default /readyz). */
  probePath?: string;
  /** How often endpoints are recomputed (default 100 ms). */
  periodMs?: number;
}

export interface ServiceProxy {
  port: number;
  /** Registers a replica (a Pod's container port); it becomes an endpoint when selected and ready. */
  add(r: Replica): void;
  remove(name: string): void;
  /** The current endpoints (Pod names). */
  readonly endpoints: readonly string[];
  /** Each change of the endpoint set. */
  readonly changes: Array<{ at: number; endpoints: string[] }>;
  /** Each accepted connection: where it went (undefined: reset, no endpoint). */
  readonly routed: Array<{ at: number; to?: string }>;
  close(): Promise<void>;
}

export async function startServiceProxy(o: ServiceProxyOptions): Promise<ServiceProxy> {
  const core = o.kc.makeApiClient(CoreV1Api);
  const replicas = new Map<string, Replica>();
  const open = new Set<net.Socket>();
  let endpoints: string[] = [];
  const changes: ServiceProxy['changes'] = [];
  const routed: ServiceProxy['routed'] = [];
  let closed = false;

  const probe = async (r: Replica) => {
    try {
      const res = await fetch(`http://127.0.0.1:${r.port}${o.probePath ?? '/readyz'}`, { signal: AbortSignal.timeout(1_000) });
      await res.arrayBuffer();
      return res.status === 200;
    } catch {
      return false;
    }
  };
  const refresh = async () => {
    let selected: Set<string>;
    try {
      const pods = await core.listNamespacedPod({ namespace: o.namespace, labelSelector: o.selector });
      selected = new Set(pods.items.map((p) => p.metadata!.name!));
    } catch {
      return; // apiserver trouble: keep the last endpoints, as kube-proxy does
    }
    const candidates = [...replicas.values()].filter((r) => selected.has(r.name));
    const ready = await Promise.all(candidates.map(probe));
    const next = candidates.filter((_, i) => ready[i]).map((r) => r.name).sort();
    if (next.join() !== endpoints.join()) {
      endpoints = next;
      changes.push({ at: Date.now(), endpoints: next });
    }
  };
  const loop = (async () => {
    while (!closed) {
      await refresh();
      await new Promise((r) => setTimeout(r, o.periodMs ?? 100));
    }
  })();

  const server = net.createServer((client) => {
    const name = endpoints[Math.floor(Math.random() * endpoints.length)];
    const target = name ? replicas.get(name) : undefined;
    routed.push({ at: Date.now(), to: target?.name });
    if (!target) return void client.resetAndDestroy();
    const up = net.connect(target.port, '127.0.0.1');
    for (const s of [client, up]) {
      open.add(s);
      s.on('error', () => undefined);
      s.on('close', () => {
        open.delete(s);
        client.destroy();
        up.destroy();
      });
    }
    client.pipe(up).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    port: (server.address() as net.AddressInfo).port,
    add: (r) => void replicas.set(r.name, r),
    remove: (name) => void replicas.delete(name),
    get endpoints() {
      return endpoints;
    },
    changes,
    routed,
    close: async () => {
      closed = true;
      await loop;
      for (const s of open) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
