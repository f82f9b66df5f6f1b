// Kubernetes Events about jobs (core/v1, involvedObject = the MultiEdgeInference), shown by
// `kubectl describe mei <job>` and `kubectl get events`. Like client-go's recorder, a repeat of the same
// event within ten minutes bumps its count instead of creating another object. Recording never throws and
// never blocks the caller: an apiserver that refuses an event costs a log line, not a reconcile.
import { hostname } from 'node:os';
import { CoreV1Api, type CoreV1Event, type KubeConfig } from '@kubernetes/client-node';
import type { MultiEdgeInference } from '@mei/contracts';
import { API_VERSION, CRD_KIND } from '@mei/contracts/crd';
import type { Logger } from '../../log.ts';
import { statusOf } from './errors.ts';

export type EventType = 'Normal' | 'Warning';

/** What controllers and runtimes call; a no-op implementation is fine where there is no cluster. */
export interface EventRecorder {
  record(job: Pick<MultiEdgeInference, 'metadata'>, type: EventType, reason: string, message: string): void;
}

export const noopRecorder: EventRecorder = { record() {} };

export interface KubeEventRecorderOptions {
  component?: string;
  /** This server instance (pod name); default the host name. */
  instance?: string;
  log: Logger;
  /** Repeats within this window update one Event (default 10 min, as client-go). */
  aggregateMs?: number;
}

interface Recorded {
  name: string;
  count: number;
  at: number;
}

const MAX_MESSAGE = 1024;
const MAX_REMEMBERED = 4096;

export class KubeEventRecorder implements EventRecorder {
  private readonly api: CoreV1Api;
  private readonly recent = new Map<string, Recorded>();
  private readonly pending = new Set<Promise<void>>();
  private seq = 0;
  private readonly component: string;
  private readonly instance: string;

  constructor(
    kc: KubeConfig,
    private readonly options: KubeEventRecorderOptions,
  ) {
    this.api = kc.makeApiClient(CoreV1Api);
    this.component = options.component ?? 'mei-server';
    this.instance = options.instance ?? hostname();
  }

  record(job: Pick<MultiEdgeInference, 'metadata'>, type: EventType, reason: string, message: string): void {
    const p = this.write(job, type, reason, message.slice(0, MAX_MESSAGE)).catch((err) => {
      const s = statusOf(err);
      this.options.log.warn(`event ${reason} for ${job.metadata.namespace}/${job.metadata.name} not recorded: ${s ? `${s.code} ${s.message}` : (err as Error).message}`);
    });
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p));
  }

  /** Resolves when every event recorded so far is written (tests, shutdown). */
  async flush(): Promise<void> {
    while (this.pending.size) await Promise.all([...this.pending]);
  }

  private async write(job: Pick<MultiEdgeInference, 'metadata'>, type: EventType, reason: string, message: string): Promise<void> {
    const { name, namespace, uid } = job.metadata;
    const key = `${namespace}/${uid}/${type}/${reason}/${message}`;
    const now = new Date();
    const prev = this.recent.get(key);
    if (prev && now.getTime() - prev.at < (this.options.aggregateMs ?? 10 * 60_000)) {
      prev.count++;
      prev.at = now.getTime();
      try {
        await this.api.patchNamespacedEvent({
          name: prev.name,
          namespace,
          body: [
            { op: 'replace', path: '/count', value: prev.count },
            { op: 'replace', path: '/lastTimestamp', value: now.toISOString() },
          ],
        });
        return;
      } catch (err) {
        if (statusOf(err)?.code !== 404) throw err;
        // Expired (events live an hour by default): record it afresh.
      }
    }
    const event: CoreV1Event = {
      metadata: { name: `${name}.${(now.getTime() * 1000 + (this.seq++ % 1000)).toString(16)}`, namespace },
      involvedObject: { apiVersion: API_VERSION, kind: CRD_KIND, name, namespace, uid },
      type,
      reason,
      message,
      count: 1,
      firstTimestamp: now,
      lastTimestamp: now,
      source: { component: this.component },
      reportingComponent: this.component,
      reportingInstance: this.instance,
    };
    const created = await this.api.createNamespacedEvent({ namespace, body: event });
    this.recent.set(key, { name: created.metadata!.name!, count: 1, at: now.getTime() });
    if (this.recent.size > MAX_REMEMBERED) this.recent.delete(this.recent.keys().next().value!);
  }
}
