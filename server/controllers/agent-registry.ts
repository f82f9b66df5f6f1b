// Connected edge agents, by job and node. The realtime layer adds and removes links; the downstream
// controller reads them and records what it sent, so a reconcile never resends a task already in flight.
import type { TaskAssignment, TaskStop } from '@mei/contracts';

export interface AgentLink {
  /** Connection id (the Socket.IO socket id). */
  readonly id: string;
  /** Identity from the verified token, never from message contents. */
  readonly jobKey: string;
  readonly uid: string;
  readonly node: string;
  readonly connectedAt: number;
  /** Highest spec generation the agent acknowledged (-1: none yet). */
  ackedGeneration: number;
  /** The last task sent on this link: generation and when. */
  sentTask?: { generation: number; at: number };
  /** When task:stop was sent on this link (the agent then gets a grace period to exit on its own). */
  stopSentAt?: number;
  sendTask(task: TaskAssignment): void;
  sendStop(stop: TaskStop): void;
  disconnect(reason: string): void;
}

type Listener = (jobKey: string) => void;

export class AgentRegistry {
  private readonly links = new Map<string, AgentLink>();
  private readonly listeners = new Set<Listener>();
  /** When task:stop went to each (job, node): kept after the agent disconnects, while its process exits. */
  private readonly stops = new Map<string, number>();

  /** One agent per (job, node): a newer connection (a restarted or reconnected agent) replaces the older. */
  add(link: AgentLink): void {
    for (const old of this.forJob(link.jobKey)) {
      if (old.node === link.node && old.id !== link.id) {
        this.links.delete(old.id);
        old.disconnect('replaced by a newer connection of the same worker');
      }
    }
    this.links.set(link.id, link);
    this.stops.delete(`${link.jobKey}@${link.node}`);
    this.notify(link.jobKey);
  }

  markStopSent(link: AgentLink, at: number): void {
    link.stopSentAt = at;
    this.stops.set(`${link.jobKey}@${link.node}`, at);
  }

  stopSentAt(jobKey: string, node: string): number | undefined {
    return this.stops.get(`${jobKey}@${node}`);
  }

  /** Forgets stop records once the worker is gone (all of the job's when node is omitted). */
  forgetStops(jobKey: string, node?: string): void {
    for (const k of this.stops.keys()) if (k === `${jobKey}@${node}` || (node === undefined && k.startsWith(`${jobKey}@`))) this.stops.delete(k);
  }

  remove(id: string): void {
    const link = this.links.get(id);
    if (!link) return;
    this.links.delete(id);
    this.notify(link.jobKey);
  }

  acknowledge(id: string, generation: number): void {
    const link = this.links.get(id);
    if (!link || generation <= link.ackedGeneration) return;
    link.ackedGeneration = generation;
    this.notify(link.jobKey);
  }

  get(id: string): AgentLink | undefined {
    return this.links.get(id);
  }

  forJob(jobKey: string): AgentLink[] {
    return [...this.links.values()].filter((l) => l.jobKey === jobKey);
  }

  forNode(jobKey: string, node: string): AgentLink | undefined {
    return this.forJob(jobKey).find((l) => l.node === node);
  }

  onChange(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private notify(jobKey: string): void {
    for (const l of this.listeners) l(jobKey);
  }
}
