// The cloud side of the live view: what the browsers watching a job see. Observation batches come from
// server/ingest (its ApplyQueue applies them in slices, exactly once per (job, camera, seq), with the history
// hand-off after their commit); each is applied here to the job's IdentityService, the camera's newest frame
// becomes a LiveFrame labelled with global identities, and it is offered to the job's browsers (LiveFanout:
// latest frame wins per browser and camera). Previews and person crops pass only as privacy.preview allows
// (privacy.ts); crops show beside their identity (ThumbnailBoard: a crop whose track has no identity yet waits
// for one). Per-job state and its lifetime: job-states.ts; identity lists and status counts: identity-status.ts.
import type { Namespace, Socket } from 'socket.io';
import { isVisible, parseJobKey, type LiveFrame, type LivePreview, type LiveThumbnail, type LiveTrack, type MultiEdgeInference, type ObservationBatch, type PreviewFrame, type TrackThumbnail, type WatchEvent } from '@mei/contracts';
import { IdentityInputError, JobIdentities } from '../identity/index.ts';
import { identityMatchSeconds } from '../observability/service-metrics.ts';
import type { Logger } from '../log.ts';
import { LiveFanout, type FanoutStats } from './fanout.ts';
import type { ThumbnailBoard } from './thumbnail-board.ts';
import type { HistoryObservations, HistorySink } from '../history/sink.ts';
import { ApplyQueue, toHistory, type IngestedBatch, type LiveTicket } from './apply-queue.ts';
import { IdentityStatus, type IdentityStatusOptions } from './identity-status.ts';
import { LiveJobs } from './job-states.ts';
import { LiveError, type AgentIdentity } from './live-error.ts';
import { admitPreview, admitSnapshotRequest, thumbnailRefusal, thumbnailsAllowed } from './privacy.ts';

export { LiveError, type AgentIdentity } from './live-error.ts';
export type { CommitResult, IngestedBatch, LiveTicket } from './apply-queue.ts';

export interface LiveHubOptions {
  jobs: LiveJobSource;
  /** Where the identity count goes (the upstream controller writes it into status.identities). */
  identityCounts?: IdentityStatusOptions['identityCounts'];
  /** Where applied batches (tracks with their global identities) and previews go to be stored (server/history). */
  history?: HistorySink;
  /** Each published frame's agent emit -> server publish time (ms; the job page's latency chart). */
  latency?: (jobKey: string, camera: string, ms: number) => void;
  log: Logger;
  now?: () => number;
  /** Longest a drain slice runs before yielding the event loop (agents' acks, other sockets). */
  sliceMs?: number;
  /** How often identity lists go to browsers (when changed) and counts to the status (when changed). */
  tickMs?: number;
  /** The identity list is re-sent this often even unchanged (ages, cameras that went quiet). */
  refreshMs?: number;
  /** status.identities is written at most this often per job. */
  statusEveryMs?: number;
  ackTimeoutMs?: number;
}

/** The jobs as the informer has them. */
export interface LiveJobSource {
  get(key: string): MultiEdgeInference | undefined;
  onChange(listener: (key: string, ev: WatchEvent) => void): () => void;
}

export interface LiveStats extends FanoutStats {
  batchesQueued: number;
  batchesApplied: number;
  /** Resent batches (same job, camera, seq) that were not applied again. */
  duplicates: number;
  /** Batches the identity service refused (bad content). */
  rejected: number;
  framesPublished: number;
  previewsPublished: number;
  /** Track thumbnails handed to the history store. */
  thumbnailsAccepted: number;
  /** Track thumbnails refused because the job's privacy.preview ('none', 'snapshot') allows no crops. */
  thumbnailsRefused: number;
  /** Crops offered to browsers under an identity (when it arrived, when its track got one, after a merge). */
  thumbnailsPublished: number;
  queueLength: number;
}


export class LiveHub {
  private readonly identities = new JobIdentities();
  private readonly jobSource: LiveJobSource;
  private readonly jobs: LiveJobs;
  private readonly queue: ApplyQueue;
  private readonly identityStatus: IdentityStatus;
  private readonly history?: HistorySink;
  private readonly latency?: LiveHubOptions['latency'];
  private readonly log: Logger;
  private readonly ackTimeoutMs: number;
  private fanout?: LiveFanout;
  private ui?: Namespace;
  private agents?: Namespace;
  private readonly timer: NodeJS.Timeout;
  private readonly stopWatch: () => void;
  private readonly now: () => number;
  private readonly counters = { batchesQueued: 0, batchesApplied: 0, duplicates: 0, rejected: 0, framesPublished: 0, previewsPublished: 0, thumbnailsAccepted: 0, thumbnailsRefused: 0, thumbnailsPublished: 0 };

  constructor({ jobs, identityCounts, history, latency, log, now = Date.now, sliceMs = 8, tickMs = 500, refreshMs = 2_000, statusEveryMs = 2_000, ackTimeoutMs = 5_000 }: LiveHubOptions) {
    this.jobSource = jobs;
    this.history = history;
    this.latency = latency;
    this.log = log;
    this.now = now;
    this.ackTimeoutMs = ackTimeoutMs;
    this.jobs = new LiveJobs(this.identities, log);
    this.queue = new ApplyQueue({ apply: (batch, receivedAt) => this.apply(batch, receivedAt), history, log, now, sliceMs });
    this.identityStatus = new IdentityStatus({ identityCounts, refreshMs, statusEveryMs });
    this.stopWatch = jobs.onChange((key, ev) => ev.type === 'DELETED' && this.jobs.deleted(key, ev.object.metadata.uid));
    this.timer = setInterval(() => this.identityStatus.tick(this.jobs.entries(), this.fanout, this.now()), tickMs);
    this.timer.unref();
  }

  /** Connects the hub to the Socket.IO namespaces: /ui (browsers) and /agent (snapshot requests). */
  attach(ui: Namespace, agents: Namespace): void {
    this.fanout = new LiveFanout(ui, { ackTimeoutMs: this.ackTimeoutMs });
    this.ui = ui;
    this.agents = agents;
  }

  close(): void {
    clearInterval(this.timer);
    this.stopWatch();
  }

  stats(): LiveStats {
    return {
      ...this.counters,
      ...(this.fanout?.stats ?? { sent: 0, superseded: 0, ackTimeouts: 0 }),
      queueLength: this.queue.length,
    };
  }

  /** Every job's identity service with its key (metrics). */
  identityServices() {
    return this.identities.services();
  }

  /** Browsers connected to the /ui namespace now. */
  get browsers(): number {
    return this.ui?.sockets.size ?? 0;
  }

  /** The identity service of a job (tests, tools); undefined before its first batch. */
  identityService(jobKey: string) {
    return this.identities.get(jobKey);
  }

  // ---- agents ----------------------------------------------------------------------------------------

  /** The job a batch of this agent belongs to; throws LiveError (naming the field) when it cannot be this agent's. */
  check(agent: AgentIdentity, batch: Pick<ObservationBatch, 'camera'>): MultiEdgeInference {
    return this.agentCamera(agent, batch.camera);
  }

  /**
   * Queues a batch to be applied (the ingest service calls this when the batch arrives, before its commit,
   * with `pendingCommit`, and at start for the log's unapplied rows); throws LiveError when it cannot
   * belong to this agent's job. Nothing is ever dropped here: what waits is bounded by the ingest service's
   * per-job byte budget.
   */
  ingest(agent: AgentIdentity, batch: ObservationBatch, o: IngestedBatch = {}): LiveTicket {
    const st = this.jobs.state(this.agentCamera(agent, batch.camera));
    this.counters.batchesQueued++;
    st.queuedSeq.set(batch.camera, Math.max(st.queuedSeq.get(batch.camera) ?? -1, batch.seq));
    return this.queue.push(batch, o);
  }

  /** Resolves once every queued batch has been applied and handed on (graceful shutdown, tests). */
  drained(): Promise<void> {
    return this.queue.drained();
  }

  /** A preview JPEG from an agent: published when privacy.preview allows it, refused otherwise. */
  preview(agent: AgentIdentity, msg: PreviewFrame): void {
    const job = this.agentCamera(agent, msg.camera);
    const st = this.jobs.state(job);
    admitPreview(job, msg.camera, st.snapshotAsked, this.now());
    const preview: LivePreview = { ...msg, jobKey: agent.jobKey };
    st.latestPreview.set(msg.camera, preview);
    this.counters.previewsPublished++;
    this.fanout?.publish(agent.jobKey, `preview:${msg.camera}`, 'live:preview', preview);
    // Not stored: the agents' crops (thumbnail()) are the history's one thumbnail source.
  }

  /**
   * A track thumbnail from an agent: stored (history) and shown beside its identity in the live view when
   * privacy.preview is 'thumbnails' or 'live'. The job's current spec decides, not the agent: otherwise it
   * is refused (and counted).
   */
  thumbnail(agent: AgentIdentity, msg: TrackThumbnail): void {
    const job = this.agentCamera(agent, msg.camera);
    if (!thumbnailsAllowed(job)) {
      this.counters.thumbnailsRefused++;
      throw thumbnailRefusal(job);
    }
    this.counters.thumbnailsAccepted++;
    const st = this.jobs.state(job);
    // A crop of another camera run than the one the service knows must not take that run's identity.
    const run = st.sessions.get(msg.camera);
    const sameRun = msg.session === undefined || run === undefined || run === msg.session;
    const identity = sameRun ? this.identities.get(agent.jobKey)?.identityOf(msg.camera, msg.localId) : undefined;
    this.publishThumbnail(st.thumbs.add(msg, identity, this.now()));
    toHistory(this.log, () => this.history?.thumbnail?.({ ...msg, jobUid: job.metadata.uid, jobKey: agent.jobKey }));
  }

  /** The job and camera of an agent's message, checked against the spec: the camera must be on its node. */
  private agentCamera(agent: AgentIdentity, camera: string): MultiEdgeInference {
    const job = this.jobSource.get(agent.jobKey);
    if (!job || job.metadata.uid !== agent.uid) throw new LiveError('jobKey', `job ${agent.jobKey} is not running (deleted or replaced)`);
    const cam = job.spec.cameras.find((c) => c.name === camera);
    if (!cam) throw new LiveError('camera', `job ${agent.jobKey} has no camera "${camera}"`);
    if (cam.node !== agent.node) throw new LiveError('camera', `camera "${camera}" belongs to node ${cam.node}, not ${agent.node}`);
    return job;
  }

  // ---- browsers --------------------------------------------------------------------------------------

  /** Joins the job's room and sends what there is to draw now. The caller checked the user's namespace. */
  async subscribe(socket: Socket, jobKey: string): Promise<void> {
    const job = this.jobSource.get(jobKey);
    if (!job) throw new LiveError('jobKey', `no job ${jobKey}`);
    if (!this.fanout) throw new Error('live view is not attached to the socket server');
    await this.fanout.join(socket, jobKey);
    const st = this.jobs.state(job);
    for (const [camera, frame] of st.latestFrame) this.fanout.sendTo(socket, jobKey, `frame:${camera}`, 'live:frame', frame);
    for (const [camera, p] of st.latestPreview) this.fanout.sendTo(socket, jobKey, `preview:${camera}`, 'live:preview', p);
    for (const t of st.thumbs.latest()) this.fanout.sendTo(socket, jobKey, `thumb:${t.identity}`, 'live:thumbnail', t);
    this.fanout.sendTo(socket, jobKey, 'identities', 'live:identities', { ...st.roster.list(jobKey, this.now()), merged: [] });
  }

  async unsubscribe(socket: Socket, jobKey: string): Promise<void> {
    await this.fanout?.leave(socket, jobKey);
  }

  disconnected(socketId: string): void {
    this.fanout?.forget(socketId);
  }

  /** privacy.preview 'snapshot' (or 'live'): asks the camera's agent for one preview frame. */
  snapshot(jobKey: string, camera: string): void {
    const job = this.jobSource.get(jobKey);
    if (!job) throw new LiveError('jobKey', `no job ${jobKey}`);
    const cam = job.spec.cameras.find((c) => c.name === camera);
    if (!cam) throw new LiveError('camera', `job ${jobKey} has no camera "${camera}"`);
    admitSnapshotRequest(job);
    const targets = [...(this.agents?.sockets.values() ?? [])].filter((s) => {
      const c = s.data?.claims as AgentIdentity | undefined;
      return c?.jobKey === jobKey && c.uid === job.metadata.uid && c.node === cam.node;
    });
    if (!targets.length) throw new LiveError('camera', `no agent of node ${cam.node} is connected`);
    this.jobs.state(job).snapshotAsked.set(camera, this.now());
    for (const s of targets) s.emit('preview:request', { jobKey, camera });
  }

  // ---- applying batches (called by the ApplyQueue) ----------------------------------------------------

  /** Identities, roster and live fan-out for one batch; returns what goes to the history store (undefined: nothing). */
  private apply(batch: ObservationBatch, receivedAt: number): HistoryObservations | undefined {
    const job = this.jobSource.get(batch.jobKey);
    if (!job) return undefined; // deleted while queued
    const st = this.jobs.state(job);
    const { jobKey, camera } = batch;
    this.jobs.cameraRun(st, jobKey, camera, batch.session);
    const service = this.identities.ensure(jobKey, job.metadata.uid, job.spec);
    let result;
    const endMatch = identityMatchSeconds.startTimer();
    try {
      result = this.identities.ingest(batch);
      endMatch();
    } catch (err) {
      if (!(err instanceof IdentityInputError)) throw err;
      this.counters.rejected++;
      this.log.debug(`live: ${jobKey} ${camera}#${batch.seq} refused: ${err.message}`);
      return undefined;
    }
    if (!result.applied) {
      this.counters.duplicates++;
      return undefined;
    }
    this.counters.batchesApplied++;
    for (const ev of result.events) {
      if (ev.type !== 'merged') continue;
      st.roster.merge(ev.from, ev.into);
      this.publishThumbnail(st.thumbs.merge(ev.from, ev.into));
    }

    // Every frame feeds the roster; only the newest frame of the newest queued batch is drawn.
    const frames = batch.frames.map((f) => ({ f, tracks: service.liveTracks(camera, f.tracks) }));
    for (const { tracks } of frames) {
      st.roster.frame(camera, tracks.filter((t) => isVisible(t.state)).map((t) => t.globalId), receivedAt);
      if (st.thumbs.pendingCount) for (const t of tracks) this.trackThumbnail(st.thumbs, camera, t);
    }
    const record: HistoryObservations = { jobKey, jobUid: job.metadata.uid, camera, session: batch.session, frames: frames.map(({ f, tracks }) => ({ ...f, tracks })), embeddings: batch.embeddings, events: result.events };
    if (batch.seq < (st.queuedSeq.get(camera) ?? -1)) return record;
    const { f, tracks } = frames[frames.length - 1];
    if (f.timestampMs <= (st.publishedTs.get(camera) ?? -Infinity)) return record;
    st.publishedTs.set(camera, f.timestampMs);
    const frame: LiveFrame = { jobKey, camera, frameIndex: f.frameIndex, timestampMs: f.timestampMs, emittedAt: f.emittedAt, width: f.width, height: f.height, tracks };
    st.latestFrame.set(camera, frame);
    this.counters.framesPublished++;
    this.latency?.(jobKey, camera, this.now() - f.emittedAt);
    this.fanout?.publish(jobKey, `frame:${camera}`, 'live:frame', frame);
    return record;
  }

  /** A crop waiting for its track's identity goes out once a frame shows the track with one. */
  private trackThumbnail(thumbs: ThumbnailBoard, camera: string, t: LiveTrack): void {
    if (t.state === 'removed') thumbs.dropTrack(camera, t.localId);
    else if (t.globalId) this.publishThumbnail(thumbs.resolve(camera, t.localId, t.globalId));
  }

  /** Latest wins per identity: a browser that is behind gets only the newest crop of each. */
  private publishThumbnail(t: LiveThumbnail | undefined): void {
    if (!t) return;
    this.counters.thumbnailsPublished++;
    this.fanout?.publish(t.jobKey, `thumb:${t.identity}`, 'live:thumbnail', t);
  }
}

/** The namespace part of a job key, for authorisation. */
export function namespaceOf(jobKey: string): string {
  return parseJobKey(jobKey).namespace;
}
