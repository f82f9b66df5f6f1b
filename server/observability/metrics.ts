// The server's Prometheus metrics, in one registry: the library's process and event-loop metrics, and the
// controllers' and work queues' metrics under controller-runtime's names and labels (so dashboards and
// alerts written for Kubernetes controllers read MEI's too). Label values are bounded: controller and queue
// names, results, camera counts — never job keys or track ids.
import client from 'prom-client';

export const registry = new client.Registry();
client.collectDefaultMetrics({ register: registry });

const seconds = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

export const controllerMetrics = {
  reconcileTotal: new client.Counter({
    name: 'controller_runtime_reconcile_total',
    help: 'Total number of reconciliations per controller',
    labelNames: ['controller', 'result'] as const,
    registers: [registry],
  }),
  reconcileErrors: new client.Counter({
    name: 'controller_runtime_reconcile_errors_total',
    help: 'Total number of reconciliation errors per controller',
    labelNames: ['controller'] as const,
    registers: [registry],
  }),
  reconcileTime: new client.Histogram({
    name: 'controller_runtime_reconcile_time_seconds',
    help: 'Length of time per reconciliation per controller',
    labelNames: ['controller'] as const,
    buckets: seconds,
    registers: [registry],
  }),
  activeWorkers: new client.Gauge({
    name: 'controller_runtime_active_workers',
    help: 'Number of currently used workers per controller',
    labelNames: ['controller'] as const,
    registers: [registry],
  }),
  maxConcurrentReconciles: new client.Gauge({
    name: 'controller_runtime_max_concurrent_reconciles',
    help: 'Maximum number of concurrent reconciles per controller',
    labelNames: ['controller'] as const,
    registers: [registry],
  }),
};

/** What a work queue reports about itself when scraped (depth and in-flight times). */
export interface QueueProbe {
  depth(): number;
  /** Seconds the oldest in-flight item has been processing, and the sum over all in-flight items. */
  inFlightSeconds(now: number): { longest: number; total: number };
}
const probes = new Map<string, Set<QueueProbe>>();

/** client-go's workqueue metrics (name label = the queue's controller). */
export const workqueueMetrics = {
  adds: new client.Counter({ name: 'workqueue_adds_total', help: 'Total number of adds handled by workqueue', labelNames: ['name'] as const, registers: [registry] }),
  retries: new client.Counter({ name: 'workqueue_retries_total', help: 'Total number of retries handled by workqueue', labelNames: ['name'] as const, registers: [registry] }),
  queueDuration: new client.Histogram({
    name: 'workqueue_queue_duration_seconds',
    help: 'How long in seconds an item stays in workqueue before being requested',
    labelNames: ['name'] as const,
    buckets: seconds,
    registers: [registry],
  }),
  workDuration: new client.Histogram({
    name: 'workqueue_work_duration_seconds',
    help: 'How long in seconds processing an item from workqueue takes',
    labelNames: ['name'] as const,
    buckets: seconds,
    registers: [registry],
  }),
  depth: new client.Gauge({
    name: 'workqueue_depth',
    help: 'Current depth of workqueue',
    labelNames: ['name'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const [name, set] of probes) this.set({ name }, [...set].reduce((n, p) => n + p.depth(), 0));
    },
  }),
  unfinished: new client.Gauge({
    name: 'workqueue_unfinished_work_seconds',
    help: 'How many seconds of work has been done that is in progress and has not been observed by work_duration',
    labelNames: ['name'] as const,
    registers: [registry],
    collect() {
      this.reset();
      const now = performance.now();
      for (const [name, set] of probes) this.set({ name }, [...set].reduce((n, p) => n + p.inFlightSeconds(now).total, 0));
    },
  }),
  longest: new client.Gauge({
    name: 'workqueue_longest_running_processor_seconds',
    help: 'How many seconds has the longest running processor for workqueue been running',
    labelNames: ['name'] as const,
    registers: [registry],
    collect() {
      this.reset();
      const now = performance.now();
      for (const [name, set] of probes) this.set({ name }, Math.max(0, ...[...set].map((p) => p.inFlightSeconds(now).longest)));
    },
  }),
};

/** Makes a queue visible to the depth/in-flight gauges until the returned function is called. */
export function registerQueueProbe(name: string, probe: QueueProbe): () => void {
  let set = probes.get(name);
  if (!set) probes.set(name, (set = new Set()));
  set.add(probe);
  return () => {
    set.delete(probe);
    if (!set.size) probes.delete(name);
  };
}

/** The text exposition of every metric (Prometheus format 0.0.4). */
export async function scrape(): Promise<{ contentType: string; body: string }> {
  return { contentType: registry.contentType, body: await registry.metrics() };
}

/** The ingest path (server/ingest): outcomes per namespace, commit latency, bytes held, dedup hits. */
const ingestBytesSources = new Set<() => number>();
export const ingestMetrics = {
  batches: new client.Counter({
    name: 'mei_ingest_batches_total',
    help: 'Observation batches answered, by the IngestAck outcome (committed, refused, retry_later)',
    labelNames: ['job_namespace', 'outcome'] as const,
    registers: [registry],
  }),
  observations: new client.Counter({
    name: 'mei_ingest_observations_total',
    help: 'Track observations committed to the ingest log (duplicates not counted)',
    labelNames: ['job_namespace'] as const,
    registers: [registry],
  }),
  duplicates: new client.Counter({
    name: 'mei_ingest_duplicates_total',
    help: 'Resent batches that were already committed (answered committed, not applied again)',
    labelNames: ['job_namespace'] as const,
    registers: [registry],
  }),
  droppedByAgents: new client.Counter({
    name: 'mei_ingest_agent_dropped_batches_total',
    help: 'Observation batches agents declared lost because their spool was full (ObservationBatch.dropped)',
    labelNames: ['job_namespace'] as const,
    registers: [registry],
  }),
  commitSeconds: new client.Histogram({
    name: 'mei_ingest_commit_duration_seconds',
    help: 'From taking a batch to its group commit finishing',
    buckets: seconds,
    registers: [registry],
  }),
  heldBytes: new client.Gauge({
    name: 'mei_ingest_held_bytes',
    help: 'Bytes of observation batches held in memory between arrival and the history writer (all jobs)',
    registers: [registry],
    collect() {
      this.set([...ingestBytesSources].reduce((n, f) => n + f(), 0));
    },
  }),
};

/** Makes an ingest service's held bytes visible to mei_ingest_held_bytes until the returned function is called. */
export function registerIngestBytes(source: () => number): () => void {
  ingestBytesSources.add(source);
  return () => void ingestBytesSources.delete(source);
}
