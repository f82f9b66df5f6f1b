// The last `state` message of each agent, per job and node, with the server time it arrived (heartbeat
// age is judged on the server's clock, so agent clock skew cannot hide a dead worker).
import type { AgentState } from '@mei/contracts';

export interface AgentReport {
  node: string;
  state: AgentState;
  receivedAt: number;
}

type Listener = (jobKey: string) => void;

export class ReportCache {
  private readonly byJob = new Map<string, Map<string, AgentReport>>();
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

  /** Forgets one node's report, or the whole job's. */
  delete(jobKey: string, node?: string): void {
    if (node === undefined) this.byJob.delete(jobKey);
    else this.byJob.get(jobKey)?.delete(node);
  }

  onChange(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
