// Metrics of the identity service, the live view and person search, read from their own stats at scrape time
// (no bookkeeping on their hot paths) plus two latency histograms observed where the work happens. Labels:
// the job's namespace and name, the ReID model name, the search kind; bounded by configuration.
import client from 'prom-client';
import type { IdentityStats } from '../identity/types.ts';
import { registry } from './metrics.ts';

export interface ServiceSources {
  identities(): Iterable<[string, { stats(): IdentityStats }]>;
  live(): { browsers: number; framesPublished: number; sent: number; superseded: number; ackTimeouts: number };
  searchIndexes?(): Array<{ model: string; size: number; loadSeconds?: number }>;
}

let sources: ServiceSources | undefined;

/** The control plane's live hub and search indexes feed these (one control plane per process). */
export function setServiceSources(s: ServiceSources | undefined): void {
  sources = s;
}

const jobLabels = ['job_namespace', 'job_name'] as const;
const splitKey = (k: string) => ({ job_namespace: k.slice(0, k.indexOf('/')), job_name: k.slice(k.indexOf('/') + 1) });

/** What a counter and a gauge share that a scrape-time reader needs. */
interface Settable {
  reset(): void;
  inc(labels: Record<string, string>, value: number): void;
}

/** A counter or gauge whose value is read from `read` at scrape time (counters: the source's running total). */
function readAtScrape(counter: boolean, config: { name: string; help: string; labelNames?: readonly string[] }, read: () => Iterable<[Record<string, string>, number]>): void {
  const collect = function (this: unknown) {
    const m = this as Settable;
    m.reset();
    for (const [labels, v] of read()) m.inc(labels, v);
  };
  if (counter) new client.Counter({ ...config, registers: [registry], collect });
  else new client.Gauge({ ...config, registers: [registry], collect });
}

function perJob(name: string, help: string, pick: (s: IdentityStats) => number, counter = false): void {
  readAtScrape(counter, { name, help, labelNames: jobLabels }, function* () {
    for (const [key, svc] of sources?.identities() ?? []) yield [splitKey(key), pick(svc.stats())];
  });
}
perJob('mei_identities_active', 'Global identities alive in the job (not merged away, not forgotten)', (s) => s.identities);
perJob('mei_identities_in_view', 'Identities seen within the hand-off window (the active index)', (s) => s.activeIdentities);
perJob('mei_identity_assignments_total', 'Tracklets assigned to a global identity', (s) => s.assignments, true);
perJob('mei_identity_merges_total', 'Global identities merged into another', (s) => s.merges, true);
perJob('mei_identity_splits_total', 'Global identities split', (s) => s.splits, true);

function liveMetric(name: string, help: string, pick: (l: ReturnType<ServiceSources['live']>) => number, counter: boolean): void {
  readAtScrape(counter, { name, help }, function* () {
    const l = sources?.live();
    if (l) yield [{}, pick(l)];
  });
}
liveMetric('mei_live_browsers', 'Browsers connected to the live socket', (l) => l.browsers, false);
liveMetric('mei_live_frames_published_total', 'Live frames labelled with global identities and offered to browsers', (l) => l.framesPublished, true);
liveMetric('mei_live_messages_sent_total', 'Live messages (frames, previews, crops, identity lists) handed to browsers', (l) => l.sent, true);
liveMetric('mei_live_messages_superseded_total', 'Live messages a slow browser missed: replaced by a newer one before they could be sent', (l) => l.superseded, true);
liveMetric('mei_live_ack_timeouts_total', "Live messages whose browser's acknowledgement did not come in time", (l) => l.ackTimeouts, true);

export const liveLatency = new client.Histogram({
  name: 'mei_live_emit_to_publish_seconds',
  help: "From the agent emitting a frame to the server publishing it to browsers (agent and server clocks)",
  buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  registers: [registry],
});
export const identityMatchSeconds = new client.Histogram({
  name: 'mei_identity_match_duration_seconds',
  help: "Matching one observation batch against the job's global identities (assignments, merges, co-location)",
  buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25],
  registers: [registry],
});
export const searchSeconds = new client.Histogram({
  name: 'mei_search_duration_seconds',
  help: 'Person search queries, from request to ranked answer',
  labelNames: ['kind'] as const,
  buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  registers: [registry],
});
readAtScrape(false, { name: 'mei_search_index_entries', help: 'Embeddings in the person-search vector index, per ReID model', labelNames: ['model'] }, function* () {
  for (const i of sources?.searchIndexes?.() ?? []) yield [{ model: i.model }, i.size];
});
readAtScrape(false, { name: 'mei_search_index_load_seconds', help: 'How long loading the vector index took (from its saved cache or the database), per ReID model', labelNames: ['model'] }, function* () {
  for (const i of sources?.searchIndexes?.() ?? []) if (i.loadSeconds !== undefined) yield [{ model: i.model }, i.loadSeconds];
});
