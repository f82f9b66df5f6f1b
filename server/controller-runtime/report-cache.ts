// The last `state` message of each agent, per job and node, with the server time it arrived (heartbeat
// age is judged on the server's clock, so agent clock skew cannot hide a dead worker); and the number of
// global identities the live hub counted per job run (status.identities).
import type { AgentState } from '@mei/contracts';

export interface AgentReport {
  node: string;
  state: AgentState;
  receivedAt: number;
}

type Listener = (jobKey: string) => void;

export class ReportCache {
  private readonly byJob = new Map<string, Map<string, AgentReport>>();
  private readonly identityCounts = new Map<string, { uid: string; count: number }>();
  private readonly listeners = new Set<Listener>();

  put(jobKey: string, report: AgentReport): void {
    let nodes = this.byJob.get(jobKey);
    if (!nodes) this.byJob.set(jobKey, (nodes = new Map()));
    nodes.set(report.node, report);
    for (const l of this.listeners) l(jobKey);
  }

  get(jobKey: string): ReadonlyMap<string, AgentReport> {
    return this.byJob.get(jobKey) ?? new Map();
  }

  /** Global identities seen so far by the job run `uid` (from the live hub). */
  setIdentities(jobKey: string, uid: string, count: number): void {
    const cur = this.identityCounts.get(jobKey);
    if (cur?.uid === uid && cur.count === count) return;
    this.identityCounts.set(jobKey, { uid, count });
    for (const l of this.listeners) l(jobKey);
  }

  /** The identity count of the job run `uid`; undefined when none was reported for that run. */
  identities(jobKey: string, uid: string): number | undefined {
    const cur = this.identityCounts.get(jobKey);
    return cur?.uid === uid ? cur.count : undefined;
  }

  /** Forgets one node's report, or the whole job's (its identity count too). */
  delete(jobKey: string, node?: string): void {
    if (node === undefined) {
      this.byJob.delete(jobKey);
      this.identityCounts.delete(jobKey);
    } else this.byJob.get(jobKey)?.delete(node);
  }

  onChange(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
