// The cloud side of the live view. Observation batches come from server/ingest as they arrive, while their
// group commit runs (the ingest service bounds what waits here, in bytes per job); a drain loop applies them
// in small slices to the job's IdentityService (exactly once per (job, camera, seq)), turns each camera's
// newest frame into a LiveFrame labelled with global identities, and offers it to the browsers watching the
// job (LiveFanout: latest frame wins per browser and camera). The live view does not wait for the commit;
// the history store does: a batch's history goes to it only once its ingest log row is committed (the
// writer marks that row applied, so it must exist), and never for a batch whose commit failed (kept aside
// until its resend commits, as identities will not apply the resend again).
// Previews (JPEG) pass through only when the job's privacy.preview allows pixels to leave the edge; agents'
// track thumbnails go to the history store only when it is 'thumbnails' or 'live', and the newest per global
// identity to the browsers (ThumbnailBoard: a crop whose track has no identity yet waits for one).
// The identity count goes to status.identities through the upstream controller's report cache.
import { createHash } from 'node:crypto';
import type { Namespace, Socket } from 'socket.io';
import {
  parseJobKey,
  type LiveFrame,
  type LivePreview,
  type LiveThumbnail,
  type LiveTrack,
  type MultiEdgeInference,
  type ObservationBatch,
  type PreviewFrame,
  type TrackThumbnail,
  type WatchEvent,
} from '@mei/contracts';
import { IdentityInputError, JobIdentities } from '../identity/index.ts';
import { identityMatchSeconds } from '../observability/service-metrics.ts';
import type { Logger } from '../controllers/log.ts';
import { LiveFanout, type FanoutStats } from './fanout.ts';
import { IdentityRoster } from './identity-roster.ts';
import { ThumbnailBoard } from './thumbnail-board.ts';
import type { HistorySink } from '../history/sink.ts';
import { logKeyString, type LogKey } from '../ingest/stream.ts';
import type { HistoryObservations } from '../history/sink.ts';

/** Who sent a message, from the agent's verified token (never from the message). */
export interface AgentIdentity {
  jobKey: string;
  uid: string;
  node: string;
}

/** A refused request, naming the payload field at fault. */
export class LiveError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
    this.name = 'LiveError';
  }
}

export interface LiveHubOptions {
  jobs: {
    get(key: string): MultiEdgeInference | undefined;
    onChange(listener: (key: string, ev: WatchEvent) => void): () => void;
  };
  /** Where the identity count goes (the upstream controller writes it into status.identities). */
  identityCounts?: { setIdentities(jobKey: string, uid: string, count: number): void };
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

/** What became of a batch's ingest log append (server/ingest/group-commit.ts). */
export type CommitResult = 'fresh' | 'duplicate' | 'unavailable' | 'refused';

interface QueuedBatch {
  batch: ObservationBatch;
  receivedAt: number;
  /** Its ingest log row: the history store marks it applied. */
  logKey?: LogKey;
  /** Called once the batch is applied and its history handed over or dropped (the ingest service releases its bytes). */
  done?: () => void;
  /** 'pending' while its group commit runs; undefined when it was durable before it came here (replay). */
  commit?: CommitResult | 'pending';
  applied: boolean;
  /** After applying: what goes to the history store (undefined: nothing; the log row is only settled). */
  record?: HistoryObservations;
}

export interface IngestedBatch {
  logKey?: LogKey;
  done?: () => void;
  /** The batch's commit is still running: its history waits for LiveTicket.committed. */
  pendingCommit?: boolean;
}

/** A queued batch; the ingest service reports its commit's outcome here. */
export interface LiveTicket {
  committed(result: CommitResult): void;
}

/**
 * Histories of batches applied to identities whose commit failed, by log key, until the resend commits
 * (identities take a seq once, so the resend brings no history of its own). Agents resend from the oldest
 * unacknowledged seq (go-back-N), so this holds about one window per stream during a store outage.
 */
const MAX_UNCOMMITTED = 4_096;

type Preview = 'none' | 'snapshot' | 'thumbnails' | 'live';

interface JobState {
  uid: string;
  /** Cameras, overlaps and crossCamera settings the identity service was built from. */
  fingerprint: string;
  roster: IdentityRoster;
  latestFrame: Map<string, LiveFrame>;
  latestPreview: Map<string, LivePreview>;
  /** Newest person crop per identity (and crops waiting for their track's identity). */
  thumbs: ThumbnailBoard;
  /** Per camera: timestamp of the newest frame published (resent or late frames are not drawn again). */
  publishedTs: Map<string, number>;
  /** Per camera: highest seq queued, so a backlog (agent reconnect) publishes only its newest frame. */
  queuedSeq: Map<string, number>;
  sessions: Map<string, string>;
  snapshotAsked: Map<string, number>;
  listSentAt: number;
  statusCount: number;
  statusSentAt: number;
}

const VISIBLE = new Set(['tentative', 'confirmed']);
/** A snapshot preview is accepted this long after a browser asked for it. */
const SNAPSHOT_WINDOW_MS = 15_000;

export class LiveHub {
  private readonly identities = new JobIdentities();
  private readonly jobs = new Map<string, JobState>();
  private readonly queue: QueuedBatch[] = [];
  private queueHead = 0;
  private drainScheduled = false;
  private fanout?: LiveFanout;
  private ui?: Namespace;
  private agents?: Namespace;
  private readonly timer: NodeJS.Timeout;
  private readonly stopWatch: () => void;
  private readonly now: () => number;
  private readonly o: Required<Omit<LiveHubOptions, 'identityCounts' | 'history' | 'latency' | 'now'>> & Pick<LiveHubOptions, 'identityCounts' | 'history' | 'latency'>;
  private drainWaiters: Array<() => void> = [];
  /** Batches queued and not yet finished (applied and their history handed over or dropped). */
  private unfinished = 0;
  private readonly uncommitted = new Map<string, HistoryObservations>();
  private readonly counters = { batchesQueued: 0, batchesApplied: 0, duplicates: 0, rejected: 0, framesPublished: 0, previewsPublished: 0, thumbnailsAccepted: 0, thumbnailsRefused: 0, thumbnailsPublished: 0 };

  constructor(o: LiveHubOptions) {
    this.o = { sliceMs: 8, tickMs: 500, refreshMs: 2_000, statusEveryMs: 2_000, ackTimeoutMs: 5_000, ...o };
    this.now = o.now ?? Date.now;
    this.stopWatch = o.jobs.onChange((key, ev) => this.onJob(key, ev));
    this.timer = setInterval(() => this.tick(), this.o.tickMs);
    this.timer.unref();
  }

  /** Connects the hub to the Socket.IO namespaces: /ui (browsers) and /agent (snapshot requests). */
  attach(ui: Namespace, agents: Namespace): void {
    this.fanout = new LiveFanout(ui, { ackTimeoutMs: this.o.ackTimeoutMs });
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
      queueLength: this.queue.length - this.queueHead,
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
    const st = this.state(this.agentCamera(agent, batch.camera));
    this.counters.batchesQueued++;
    st.queuedSeq.set(batch.camera, Math.max(st.queuedSeq.get(batch.camera) ?? -1, batch.seq));
    const item: QueuedBatch = { batch, receivedAt: this.now(), logKey: o.logKey, done: o.done, commit: o.pendingCommit ? 'pending' : undefined, applied: false };
    this.queue.push(item);
    this.unfinished++;
    this.scheduleDrain();
    return {
      committed: (result) => {
        if (item.commit !== 'pending') return;
        item.commit = result;
        if (item.applied) this.finish(item);
      },
    };
  }

  /** Resolves once every queued batch has been applied and handed on (graceful shutdown, tests). */
  drained(): Promise<void> {
    if (this.unfinished === 0) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  /** A preview JPEG from an agent: published when privacy.preview allows it, refused otherwise. */
  preview(agent: AgentIdentity, msg: PreviewFrame): void {
    const job = this.agentCamera(agent, msg.camera);
    const st = this.state(job);
    const mode = previewMode(job);
    if (mode === 'snapshot') {
      const asked = st.snapshotAsked.get(msg.camera);
      if (asked === undefined || this.now() - asked > SNAPSHOT_WINDOW_MS) {
        throw new LiveError('jpeg', `privacy.preview of ${agent.jobKey} is "snapshot": a still frame is accepted only when a browser asked for one`);
      }
      st.snapshotAsked.delete(msg.camera);
    } else if (mode !== 'live') {
      throw new LiveError('jpeg', `privacy.preview of ${agent.jobKey} is "${mode}": no pixels may leave the edge`);
    }
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
    const mode = previewMode(job);
    if (mode !== 'thumbnails' && mode !== 'live') {
      this.counters.thumbnailsRefused++;
      throw new LiveError('jpeg', `privacy.preview of ${agent.jobKey} is "${mode}": no person crops may leave the edge`);
    }
    this.counters.thumbnailsAccepted++;
    const st = this.state(job);
    // A crop of another camera run than the one the service knows must not take that run's identity.
    const run = st.sessions.get(msg.camera);
    const sameRun = msg.session === undefined || run === undefined || run === msg.session;
    const identity = sameRun ? this.identities.get(agent.jobKey)?.identityOf(msg.camera, msg.localId) : undefined;
    this.publishThumbnail(st.thumbs.add(msg, identity, this.now()));
    this.toHistory(() => this.o.history?.thumbnail?.({ ...msg, jobUid: job.metadata.uid, jobKey: agent.jobKey }));
  }

  /** The job and camera of an agent's message, checked against the spec: the camera must be on its node. */
  private agentCamera(agent: AgentIdentity, camera: string): MultiEdgeInference {
    const job = this.o.jobs.get(agent.jobKey);
    if (!job || job.metadata.uid !== agent.uid) throw new LiveError('jobKey', `job ${agent.jobKey} is not running (deleted or replaced)`);
    const cam = job.spec.cameras.find((c) => c.name === camera);
    if (!cam) throw new LiveError('camera', `job ${agent.jobKey} has no camera "${camera}"`);
    if (cam.node !== agent.node) throw new LiveError('camera', `camera "${camera}" belongs to node ${cam.node}, not ${agent.node}`);
    return job;
  }

  // ---- browsers --------------------------------------------------------------------------------------

  /** Joins the job's room and sends what there is to draw now. The caller checked the user's namespace. */
  async subscribe(socket: Socket, jobKey: string): Promise<void> {
    const job = this.o.jobs.get(jobKey);
    if (!job) throw new LiveError('jobKey', `no job ${jobKey}`);
    if (!this.fanout) throw new Error('live view is not attached to the socket server');
    await this.fanout.join(socket, jobKey);
    const st = this.state(job);
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
    const job = this.o.jobs.get(jobKey);
    if (!job) throw new LiveError('jobKey', `no job ${jobKey}`);
    const cam = job.spec.cameras.find((c) => c.name === camera);
    if (!cam) throw new LiveError('camera', `job ${jobKey} has no camera "${camera}"`);
    const mode = previewMode(job);
    if (mode !== 'snapshot' && mode !== 'live') throw new LiveError('camera', `privacy.preview of ${jobKey} is "${mode}": no pixels may leave the edge`);
    const targets = [...(this.agents?.sockets.values() ?? [])].filter((s) => {
      const c = s.data?.claims as AgentIdentity | undefined;
      return c?.jobKey === jobKey && c.uid === job.metadata.uid && c.node === cam.node;
    });
    if (!targets.length) throw new LiveError('camera', `no agent of node ${cam.node} is connected`);
    this.state(job).snapshotAsked.set(camera, this.now());
    for (const s of targets) s.emit('preview:request', { jobKey, camera });
  }

  // ---- processing ------------------------------------------------------------------------------------

  private scheduleDrain(): void {
    if (this.drainScheduled) return;
    this.drainScheduled = true;
    setImmediate(() => this.drain());
  }

  /** Applies queued batches for at most sliceMs, then yields so sockets keep flowing. */
  private drain(): void {
    this.drainScheduled = false;
    const end = performance.now() + this.o.sliceMs;
    let n = 0;
    while (this.queueHead < this.queue.length && (n < 4 || performance.now() < end)) {
      const item = this.queue[this.queueHead++];
      n++;
      try {
        item.record = this.apply(item);
      } catch (err) {
        this.o.log.error(`live: applying ${item.batch.jobKey} ${item.batch.camera}#${item.batch.seq} failed:`, err);
      }
      item.applied = true;
      if (item.commit !== 'pending') this.finish(item);
    }
    // Compact now and then instead of shifting per item.
    if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
      this.queue.splice(0, this.queueHead);
      this.queueHead = 0;
    }
    if (this.queueHead < this.queue.length) this.scheduleDrain();
    else {
      this.queue.length = 0;
      this.queueHead = 0;
    }
  }

  /**
   * Applied, and its commit's outcome known (or durable before it came): its history goes to the store only
   * if its log row exists now and was not applied before.
   */
  private finish(item: QueuedBatch): void {
    const key = item.logKey && item.commit !== undefined ? logKeyString(item.logKey) : undefined;
    const kept = key !== undefined ? this.uncommitted.get(key) : undefined;
    if (kept) this.uncommitted.delete(key!);
    switch (item.commit) {
      case undefined:
      case 'fresh': {
        const record = item.record ?? kept;
        if (record) this.toHistory(() => this.o.history?.observations({ ...record, logKey: item.logKey }));
        else if (item.logKey) this.toHistory(() => this.o.history?.settle?.(item.logKey!)); // leaves no history: not to be replayed
        break;
      }
      case 'duplicate':
        // Stored before. Its history went with that commit, unless that commit was reported failed (the row
        // got in all the same): then the history kept aside goes now. A fresh record here is a batch that
        // identities had not seen (e.g. after a restart) whose row was applied before: nothing to store.
        if (kept) this.toHistory(() => this.o.history?.observations({ ...kept, logKey: item.logKey }));
        break;
      case 'unavailable':
        // Not durable: the agent resends it, and identities will not apply the resend again.
        if (key !== undefined && item.record) this.keepUncommitted(key, item.record);
        break;
      case 'refused':
      case 'pending':
        break;
    }
    item.done?.();
    if (--this.unfinished === 0) for (const w of this.drainWaiters.splice(0)) w();
  }

  private keepUncommitted(key: string, record: HistoryObservations): void {
    this.uncommitted.set(key, record);
    if (this.uncommitted.size <= MAX_UNCOMMITTED) return;
    const [oldest] = this.uncommitted.keys();
    this.uncommitted.delete(oldest);
    this.o.log.warn(`live: more than ${MAX_UNCOMMITTED} applied batches wait for a successful commit; the history of the oldest is not kept`);
  }

  /** Identities, roster and live fan-out for one batch; returns what goes to the history store (undefined: nothing). */
  private apply(item: QueuedBatch): HistoryObservations | undefined {
    const { batch, receivedAt } = item;
    const job = this.o.jobs.get(batch.jobKey);
    if (!job) return undefined; // deleted while queued
    const st = this.state(job);
    const { jobKey, camera } = batch;
    if (batch.session !== undefined) {
      const prev = st.sessions.get(camera);
      // A new camera run numbers seqs and local track ids afresh: forget the old run's ids.
      if (prev !== undefined && prev !== batch.session) {
        this.identities.resetCamera(jobKey, camera);
        st.thumbs.resetCamera(camera, batch.session);
      }
      st.sessions.set(camera, batch.session);
    }
    const service = this.identities.ensure(jobKey, job.metadata.uid, job.spec);
    let result;
    const endMatch = identityMatchSeconds.startTimer();
    try {
      result = this.identities.ingest(batch);
      endMatch();
    } catch (err) {
      if (!(err instanceof IdentityInputError)) throw err;
      this.counters.rejected++;
      this.o.log.debug(`live: ${jobKey} ${camera}#${batch.seq} refused: ${err.message}`);
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
      st.roster.frame(camera, tracks.filter((t) => VISIBLE.has(t.state)).map((t) => t.globalId), receivedAt);
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
    this.o.latency?.(jobKey, camera, this.now() - f.emittedAt);
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

  /** The history store only buffers; should it fail anyway, the live view goes on. */
  private toHistory(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.o.log.error('live: history sink failed:', err);
    }
  }

  /** Identity lists to browsers (when changed, or for freshness) and identity counts to the status. */
  private tick(): void {
    const now = this.now();
    for (const [jobKey, st] of this.jobs) {
      if (this.fanout?.watchers(jobKey) && (st.roster.dirty || now - st.listSentAt >= this.o.refreshMs)) {
        st.listSentAt = now;
        this.fanout.publish(jobKey, 'identities', 'live:identities', st.roster.list(jobKey, now));
      }
      const total = st.roster.total;
      if (this.o.identityCounts && total !== st.statusCount && now - st.statusSentAt >= this.o.statusEveryMs) {
        st.statusCount = total;
        st.statusSentAt = now;
        this.o.identityCounts.setIdentities(jobKey, st.uid, total);
      }
    }
  }

  /** The job's live state; a recreated job (new uid) or a new camera layout starts from scratch. */
  private state(job: MultiEdgeInference): JobState {
    const key = `${job.metadata.namespace}/${job.metadata.name}`;
    const fingerprint = layoutFingerprint(job);
    let st = this.jobs.get(key);
    if (st && st.uid === job.metadata.uid && st.fingerprint === fingerprint) return st;
    if (st) {
      this.identities.delete(key);
      this.o.log.info(`live: ${key} ${st.uid !== job.metadata.uid ? 'was recreated' : 'changed its cameras or crossCamera settings'}; identities start afresh`);
    }
    st = {
      uid: job.metadata.uid,
      fingerprint,
      roster: new IdentityRoster(),
      latestFrame: new Map(),
      latestPreview: new Map(),
      thumbs: new ThumbnailBoard(key),
      publishedTs: new Map(),
      queuedSeq: st?.uid === job.metadata.uid ? st.queuedSeq : new Map(),
      sessions: new Map(),
      snapshotAsked: new Map(),
      listSentAt: 0,
      statusCount: 0,
      statusSentAt: 0,
    };
    this.jobs.set(key, st);
    return st;
  }

  private onJob(key: string, ev: WatchEvent): void {
    if (ev.type !== 'DELETED') return;
    const st = this.jobs.get(key);
    if (st && st.uid === ev.object.metadata.uid) {
      this.jobs.delete(key);
      this.identities.delete(key);
    }
  }
}

function previewMode(job: MultiEdgeInference): Preview {
  return (job.spec.privacy?.preview ?? 'none') as Preview;
}

/** Fingerprints per spec object: the informer hands out the same object until the job changes. */
const fingerprints = new WeakMap<object, string>();

/** What the identity service is built from: a change here restarts it. */
function layoutFingerprint(job: MultiEdgeInference): string {
  let fp = fingerprints.get(job.spec);
  if (fp === undefined) {
    const cams = job.spec.cameras.map((c) => ({ name: c.name, overlaps: c.overlaps, source: c.source, roi: c.roi }));
    fp = createHash('sha1').update(JSON.stringify({ cams, cc: job.spec.crossCamera })).digest('hex');
    fingerprints.set(job.spec, fp);
  }
  return fp;
}

/** The namespace part of a job key, for authorisation. */
export function namespaceOf(jobKey: string): string {
  return parseJobKey(jobKey).namespace;
}
