// Applies Socket.IO `job` watch events to the cached job list and job details, and guards against the one
// race a watch + GET pair has: a GET that started before an event but answers after it would otherwise
// overwrite the newer object with the older one.
import { jobKey, type MultiEdgeInference, type WatchEvent } from '@mei/contracts';

export const queryKeys = {
  me: ['me'] as const,
  info: ['info'] as const,
  schema: ['schema'] as const,
  jobs: ['jobs', 'list'] as const,
  job: (namespace: string, name: string) => ['jobs', 'detail', namespace, name] as const,
};

/** Job list sorted the way the table shows it: namespace, then name. */
export function sortJobs(items: MultiEdgeInference[]): MultiEdgeInference[] {
  return [...items].sort((a, b) => a.metadata.namespace.localeCompare(b.metadata.namespace) || a.metadata.name.localeCompare(b.metadata.name));
}

/** The list after one watch event (a new array; the input is not changed). */
export function applyEventToList(list: MultiEdgeInference[], ev: WatchEvent): MultiEdgeInference[] {
  const key = jobKey(ev.object);
  const rest = list.filter((j) => jobKey(j) !== key);
  return ev.type === 'DELETED' ? rest : sortJobs([...rest, ev.object]);
}

/** The detail after one watch event for that job: null once it is deleted. */
export function applyEventToJob(ev: WatchEvent): MultiEdgeInference | null {
  return ev.type === 'DELETED' ? null : ev.object;
}

/** Remembers the latest event per job with a sequence number, so GET results can be reconciled. */
export class JobEventLog {
  private seq = 0;
  private latest = new Map<string, { seq: number; ev: WatchEvent }>();

  /** Call before a GET starts; pass the result to merge*() with the GET's answer. */
  mark(): number {
    return this.seq;
  }

  record(ev: WatchEvent): void {
    this.seq += 1;
    this.latest.set(jobKey(ev.object), { seq: this.seq, ev });
  }

  /** The GET's list with every event that arrived after `since` applied on top. */
  mergeList(since: number, fetched: MultiEdgeInference[]): MultiEdgeInference[] {
    let list = sortJobs(fetched);
    for (const { seq, ev } of this.latest.values()) if (seq > since) list = applyEventToList(list, ev);
    return list;
  }

  /** The GET's job (null = 404), replaced by a newer event for it if one arrived after `since`. */
  mergeJob(since: number, namespace: string, name: string, fetched: MultiEdgeInference | null): MultiEdgeInference | null {
    const newer = this.latest.get(`${namespace}/${name}`);
    return newer && newer.seq > since ? applyEventToJob(newer.ev) : fetched;
  }

  clear(): void {
    this.latest.clear();
  }
}

export const jobEventLog = new JobEventLog();
