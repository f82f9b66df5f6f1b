// The connected edge agent: runs what the server assigns (task), acknowledges it (task:ack), reports its
// cameras (state, every HEARTBEAT_MS and on change), and stops on task:stop. The process is done when
// every task it ran has been stopped or, in history mode, has finished and the server has committed
// everything it produced. Observation batches go through an on-disk spool per (job, camera) (see
// transport/spool.ts, transport/outbox.ts): batches a previous run left unsent are sent when the job's task
// arrives again, alongside new ones.
import { createHash, randomBytes } from 'node:crypto';
import { accessSync, constants, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { HEARTBEAT_MS, applyTaskDefaults, type Ack, type AgentState, type AgentToServerEvents, type CameraReport, type IngestAck, type ObservationBatch, type PreviewFrame, type PreviewRequest, type TaskAssignment, type TaskAssignmentInput, type TaskStop, type TrackThumbnail } from '@mei/contracts';
import { ObservationOutbox } from '../transport/outbox.ts';
import { Spool } from '../transport/spool.ts';
import { toIngestAck } from '../transport/connection.ts';
import type { CameraRunner, CameraRunnerFactory } from './camera-runner.ts';

/** State changes are coalesced for this long before they are sent. */
const CHANGE_DEBOUNCE_MS = 100;
/** Track thumbnails of one camera on their way at once; more wait in the runner (it picks them again later). */
export const MAX_THUMBNAILS_IN_FLIGHT = 4;

type Emitted = keyof AgentToServerEvents;
export interface AgentTransport {
  readonly connected: boolean;
  send<E extends Emitted>(event: E, payload: Parameters<AgentToServerEvents[E]>[0]): Promise<Ack>;
  /** Sends a spooled batch (protocol-2 bytes) and resolves with its IngestAck (AgentConnection); absent: send()'s Ack is read by structure. */
  sendObservations?(payload: Uint8Array, seq: number): Promise<IngestAck>;
  /** Drops the connection and connects again (AgentConnection). */
  reconnect?(): void;
  /** Bytes per second sent lately for a camera (AgentConnection counts them); absent: not reported. */
  upstreamBytesPerSecond?(jobKey: string, camera: string): number;
}

/**
 * Default bound of one camera's spool: 64 MiB. A busy camera (PETS09-S2L1: 768x576, 10 fps, up to ~8 people,
 * YOLOX-nano + OSNet) produces 2.6 kB per second of video in protocol 2 (`npm run bench:spool`,
 * docs/benchmarks.md), 9.4 MB an hour: this holds about 7 hours of it, or one hour of a camera 6x as busy.
 */
export const DEFAULT_SPOOL_BYTES = 64 * 1024 * 1024;

export interface EdgeAgentOptions {
  node: string;
  transport: AgentTransport;
  runners: CameraRunnerFactory;
  heartbeatMs?: number;
  log?: (msg: string) => void;
  /**
   * Directory kept across agent restarts: spools live in `<stateDir>/spool/<job uid>/<camera>`. Default: a new
   * temporary directory (data then survives outages but not a restart).
   */
  stateDir?: string;
  /** Bound of each camera's spool in bytes (default DEFAULT_SPOOL_BYTES). */
  spoolBytes?: number;
  /** Observation batches per stream in flight (default outbox DEFAULT_WINDOW). */
  window?: number;
}

interface RunningTask {
  assignment: TaskAssignment;
  /** Per camera: its runner and a fingerprint of the settings it was started with. */
  cameras: Map<string, { runner: CameraRunner; fingerprint: string }>;
  /** Observation sequence per camera. Starts from the wall clock (x1000) so a restarted agent never reuses one. */
  seq: Map<string, number>;
  /** Cameras whose last preview is still on its way (a newer one is dropped rather than queued). */
  previewInFlight: Set<string>;
  /** Per camera: thumbnails sent and not yet acknowledged. */
  thumbnailsInFlight: Map<string, number>;
  /** Spools (outbox keys) of this task's cameras, including cameras only a previous run had. */
  spools: Map<string, string>;
  /** History: every camera finished; the task ends once the spools are drained. */
  draining?: { phase: AgentState['phase']; message: string };
}

const TERMINAL = new Set(['Completed', 'Failed']);

export class EdgeAgent {
  /** Resolves with the process exit code once the agent has nothing left to run. */
  readonly finished: Promise<number>;
  private resolveFinished!: (code: number) => void;
  private readonly tasks = new Map<string, RunningTask>();
  private readonly outbox: ObservationOutbox;
  private readonly heartbeat: NodeJS.Timeout;
  private changeTimer?: NodeJS.Timeout;
  /** Serialises task handling so a stop never interleaves with a half-applied task. */
  private chain: Promise<void> = Promise.resolve();
  private failedTasks = 0;
  private done = false;
  private readonly log: (msg: string) => void;
  private stateDir: string;

  constructor(private readonly options: EdgeAgentOptions) {
    this.log = options.log ?? (() => {});
    this.stateDir = options.stateDir ?? mkdtempSync(path.join(os.tmpdir(), 'mei-agent-'));
    try {
      mkdirSync(path.join(this.stateDir, 'spool'), { recursive: true });
      accessSync(path.join(this.stateDir, 'spool'), constants.W_OK);
    } catch (err) {
      // E.g. a hostPath the kubelet created for root while the agent runs as another user: keep working,
      // spooling in a temporary folder (outages are covered, a restart is not), and say so.
      const fallback = mkdtempSync(path.join(os.tmpdir(), 'mei-agent-'));
      this.log(`state dir ${this.stateDir} is not writable (${(err as Error).message}); spooling in ${fallback}, which does not survive a restart`);
      this.stateDir = fallback;
    }
    this.finished = new Promise((resolve) => (this.resolveFinished = resolve));
    this.outbox = new ObservationOutbox({
      send: (payload, seq) =>
        options.transport.sendObservations ? options.transport.sendObservations(payload, seq) : options.transport.send('observations', payload).then((res) => toIngestAck(res, seq, 500)),
      connected: () => options.transport.connected,
      reconnect: () => options.transport.reconnect?.(),
      window: options.window,
      onProgress: () => this.checkDrained(),
      log: this.log,
    });
    this.heartbeat = setInterval(() => void this.sendStates(), options.heartbeatMs ?? HEARTBEAT_MS);
  }

  handleTask(task: TaskAssignmentInput): Promise<void> {
    // Defaults applied here, once, so no runner restates one (and a task from an older server works).
    return this.serial(() => this.applyTask(applyTaskDefaults(task)));
  }

  handleStop(stop: TaskStop): Promise<void> {
    return this.serial(async () => {
      const t = this.tasks.get(stop.jobKey);
      if (!t || t.assignment.uid !== stop.uid) return;
      this.log(`stopping ${stop.jobKey}: ${stop.reason}`);
      // The server stops a task only when it will take nothing more of it (job deleted, node removed, job
      // failed): what the spools still hold can never be delivered.
      await this.endTask(t, 'Stopped', stop.reason, true, true);
    });
  }

  /** privacy.preview 'snapshot': the server relays a browser's request for one still frame. */
  handlePreviewRequest(req: PreviewRequest): void {
    const t = this.tasks.get(req.jobKey);
    t?.cameras.get(req.camera)?.runner.requestSnapshot?.();
  }

  /** After a (re)connect: the server may have missed changes while we were away. */
  onConnect(): void {
    void this.sendStates();
    this.outbox.pump();
  }

  /** Stops every task (SIGTERM, fatal transport error) and finishes with `code`. */
  shutdown(reason: string, code = 0): Promise<void> {
    return this.serial(async () => {
      this.log(`shutting down: ${reason}`);
      for (const t of [...this.tasks.values()]) await this.endTask(t, 'Stopped', reason);
      this.finish(code);
    });
  }

  /** Runs `fn` after everything queued before it; never rejects (callers fire and forget), errors are logged. */
  private serial(fn: () => Promise<void>): Promise<void> {
    const next = this.chain.then(fn).catch((err) => this.log(`task handling failed: ${(err as Error).stack ?? err}`));
    this.chain = next;
    return next;
  }

  private async applyTask(task: TaskAssignment): Promise<void> {
    if (this.done) return;
    if (task.node !== this.options.node) {
      this.log(`ignoring a task for node ${task.node} (this agent runs ${this.options.node})`);
      return;
    }
    let t = this.tasks.get(task.jobKey);
    if (t && t.assignment.uid !== task.uid) {
      // The old job is gone (its uid will never be accepted again): its spools are discarded.
      await this.endTask(t, 'Stopped', 'replaced by a new job of the same name', false, true);
      t = undefined;
    }
    if (t && t.assignment.generation >= task.generation) return void (await this.ack(task)); // a resend
    if (!t) {
      t = { assignment: task, cameras: new Map(), seq: new Map(), previewInFlight: new Set(), thumbnailsInFlight: new Map(), spools: new Map() };
      this.tasks.set(task.jobKey, t);
    }
    t.assignment = task;
    const running = t;
    running.draining = undefined; // a new generation may restart cameras: finished is decided again
    this.openSpools(running);
    const wanted = new Map(task.cameras.map((c) => [c.name, c]));
    // Cameras removed, or whose settings changed, are stopped; unchanged ones keep running untouched.
    for (const [name, entry] of running.cameras) {
      const cam = wanted.get(name);
      if (!cam || fingerprint(task, cam.name) !== entry.fingerprint) {
        await entry.runner.stop();
        running.cameras.delete(name);
      }
    }
    const starting: Promise<void>[] = [];
    for (const cam of task.cameras) {
      if (running.cameras.has(cam.name)) continue;
      // Each runner numbers its local tracks afresh: its session tells the server to forget the previous run's ids.
      const session = randomBytes(6).toString('base64url');
      const runner = this.options.runners({
        task,
        camera: cam,
        onChange: () => this.onCameraChange(running),
        emitObservations: (batch) => this.emitObservations(running, { ...batch, session }),
        observationBacklog: () => this.outbox.unsent(this.spoolKey(running, cam.name)),
        privacy: () => running.assignment.privacy,
        emitPreview: (preview) => this.emitPreview(running, preview),
        thumbnailSlots: () => this.thumbnailSlots(running, cam.name),
        emitThumbnail: (thumb) => this.emitThumbnail(running, { ...thumb, session }),
        log: (msg) => this.log(`[${cam.name}] ${msg}`),
      });
      running.cameras.set(cam.name, { runner, fingerprint: fingerprint(task, cam.name) });
      starting.push(runner.start().catch((err) => this.log(`[${cam.name}] start failed: ${(err as Error).message}`)));
    }
    this.log(`running ${task.jobKey} generation ${task.generation}: ${task.cameras.map((c) => c.name).join(', ') || 'no cameras'}`);
    await this.ack(task);
    this.scheduleStateSend();
    // Acknowledge first, then wait: model loading can take seconds and the server should know we have it.
    await Promise.all(starting);
    this.onCameraChange(running);
  }

  private async ack(task: TaskAssignment): Promise<void> {
    const res = await this.options.transport.send('task:ack', { jobKey: task.jobKey, uid: task.uid, generation: task.generation });
    if (!res.ok) this.log(`task:ack not delivered (${res.error}); the server will resend the task`);
  }

  private onCameraChange(t: RunningTask): void {
    this.scheduleStateSend();
    // History: a task is over when every camera has reached the end of its recording (or failed).
    if (t.assignment.mode !== 'history' || this.tasks.get(t.assignment.jobKey) !== t || t.cameras.size === 0) return;
    const reports = [...t.cameras.values()].map((c) => c.runner.report());
    if (!reports.every((r) => TERMINAL.has(r.state))) return;
    if (t.draining) return;
    const failed = reports.filter((r) => r.state === 'Failed');
    if (failed.length) this.failedTasks++;
    t.draining = { phase: failed.length ? 'Failed' : 'Succeeded', message: failed.length ? `${failed.length} camera(s) failed` : 'finished' };
    this.checkDrained();
  }

  /** History: a finished task ends (and the agent may exit) only once the server has committed everything. */
  private checkDrained(): void {
    for (const t of this.tasks.values()) {
      if (!t.draining || this.unsentOf(t) > 0) continue;
      const { phase, message } = t.draining;
      t.draining = undefined;
      void this.serial(() => this.endTask(t, phase, message));
    }
  }

  private unsentOf(t: RunningTask): number {
    let n = 0;
    for (const key of t.spools.values()) n += this.outbox.unsent(key);
    return n;
  }

  private spoolKey(t: RunningTask, camera: string): string {
    return `${t.assignment.uid}/${camera}`;
  }

  private spoolRoot(t: RunningTask): string {
    return path.join(this.stateDir, 'spool', safeName(t.assignment.uid));
  }

  /** Opens the spools of the task's cameras and of any camera an earlier run of the job left data for. */
  private openSpools(t: RunningTask): void {
    const root = this.spoolRoot(t);
    let found: string[] = [];
    try {
      found = readdirSync(root).map(unsafeName);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.log(`spool ${root}: ${(err as Error).message}`);
    }
    // The job's spec.workers[].spoolBytes, else the agent's flag, else the default.
    const maxBytes = t.assignment.spoolBytes ?? this.options.spoolBytes ?? DEFAULT_SPOOL_BYTES;
    for (const camera of new Set([...t.assignment.cameras.map((c) => c.name), ...found])) {
      const key = this.spoolKey(t, camera);
      if (t.spools.has(camera)) {
        this.outbox.spool(key)?.resize(maxBytes);
        continue;
      }
      const spool = new Spool(path.join(root, safeName(camera)), { maxBytes, log: (m) => this.log(`[${camera}] ${m}`) });
      const held = spool.stats().unsent;
      if (held) this.log(`[${camera}] ${held} unsent observation batch(es) from an earlier run: sending them`);
      t.spools.set(camera, key);
      this.outbox.attach(key, spool);
    }
  }

  /** Detaches the task's spools; `discard`: also deletes them (the server will take nothing more of the job). */
  private closeSpools(t: RunningTask, discard: boolean): void {
    for (const key of t.spools.values()) {
      const spool = this.outbox.detach(key);
      spool?.close();
      const unsent = spool?.stats().unsent ?? 0;
      if (discard && unsent) this.log(`${key}: ${unsent} unsent observation batch(es) discarded (the job's task was stopped)`);
    }
    t.spools.clear();
    if (discard) rmSync(this.spoolRoot(t), { recursive: true, force: true });
  }

  /**
   * Stops a task's cameras, sends its final state, forgets it; finishes the agent when none are left. What
   * its spools still hold stays on disk for the next run, unless `discard`.
   */
  private async endTask(t: RunningTask, phase: AgentState['phase'], message: string, finishIfIdle = true, discard = false): Promise<void> {
    if (this.tasks.get(t.assignment.jobKey) !== t) return;
    await Promise.all([...t.cameras.values()].map((c) => c.runner.stop()));
    await this.options.transport.send('state', this.stateOf(t, phase, message));
    this.closeSpools(t, discard);
    this.tasks.delete(t.assignment.jobKey);
    if (finishIfIdle && this.tasks.size === 0) this.finish(this.failedTasks ? 1 : 0);
  }

  private finish(code: number): void {
    if (this.done) return;
    this.done = true;
    clearInterval(this.heartbeat);
    clearTimeout(this.changeTimer);
    this.outbox.close();
    // A temporary state directory of our own would never be read again.
    if (!this.options.stateDir) rmSync(this.stateDir, { recursive: true, force: true });
    this.resolveFinished(code);
  }

  private emitObservations(t: RunningTask, batch: Omit<ObservationBatch, 'jobKey' | 'seq'>): void {
    const nextSeq = () => {
      const seq = t.seq.get(batch.camera) ?? Date.now() * 1000;
      t.seq.set(batch.camera, seq + 1);
      return seq;
    };
    try {
      this.outbox.push(this.spoolKey(t, batch.camera), { ...batch, jobKey: t.assignment.jobKey }, nextSeq);
    } catch (err) {
      // Disk full or unwritable: the batch is lost, and said so (the camera keeps running).
      this.log(`[${batch.camera}] observation batch not spooled: ${(err as Error).message}`);
    }
  }

  /** Previews are best effort: one in flight per camera, none while disconnected, never resent. */
  private emitPreview(t: RunningTask, preview: Omit<PreviewFrame, 'jobKey'>): void {
    if (!this.options.transport.connected || t.previewInFlight.has(preview.camera)) return;
    t.previewInFlight.add(preview.camera);
    void this.options.transport
      .send('preview', { ...preview, jobKey: t.assignment.jobKey })
      .then((ack) => {
        if (!ack.ok) this.log(`[${preview.camera}] preview refused: ${ack.error}`);
      })
      .finally(() => t.previewInFlight.delete(preview.camera));
  }

  private thumbnailSlots(t: RunningTask, camera: string): number {
    return this.options.transport.connected ? Math.max(0, MAX_THUMBNAILS_IN_FLIGHT - (t.thumbnailsInFlight.get(camera) ?? 0)) : 0;
  }

  /** Thumbnails are best effort like previews: dropped while disconnected or when too many are in flight, never resent. */
  private emitThumbnail(t: RunningTask, thumb: Omit<TrackThumbnail, 'jobKey'>): void {
    if (this.thumbnailSlots(t, thumb.camera) <= 0) return;
    const inFlight = t.thumbnailsInFlight;
    inFlight.set(thumb.camera, (inFlight.get(thumb.camera) ?? 0) + 1);
    void this.options.transport
      .send('thumbnail', { ...thumb, jobKey: t.assignment.jobKey })
      .then((ack) => {
        if (!ack.ok) this.log(`[${thumb.camera}] thumbnail of track ${thumb.localId} refused: ${ack.error}`);
      })
      .finally(() => {
        const n = (inFlight.get(thumb.camera) ?? 1) - 1;
        if (n > 0) inFlight.set(thumb.camera, n);
        else inFlight.delete(thumb.camera);
      });
  }

  private scheduleStateSend(): void {
    if (this.changeTimer || this.done) return;
    this.changeTimer = setTimeout(() => {
      this.changeTimer = undefined;
      void this.sendStates();
    }, CHANGE_DEBOUNCE_MS);
  }

  private async sendStates(): Promise<void> {
    if (!this.options.transport.connected) return;
    await Promise.all([...this.tasks.values()].map((t) => this.options.transport.send('state', this.stateOf(t))));
  }

  /** The camera's report with its delivery counts; a finished camera whose batches are still unsent is not reported finished. */
  private withDelivery(t: RunningTask, report: CameraReport): CameraReport {
    const key = t.spools.get(report.name);
    const spool = key ? this.outbox.spool(key) : undefined;
    if (!spool || !key) return report;
    const s = spool.stats();
    const delivery = { spooledBytes: s.spooledBytes, oldestUnsentSeconds: s.oldestUnsentSeconds, droppedBatches: s.droppedBatches + this.outbox.refused(key) };
    if (report.state === 'Completed' && s.unsent > 0) return { ...report, ...delivery, state: 'Streaming', message: `finished; sending ${s.unsent} spooled observation batch(es)` };
    return { ...report, ...delivery };
  }

  private stateOf(t: RunningTask, phase?: AgentState['phase'], message?: string): AgentState {
    const rate = this.options.transport.upstreamBytesPerSecond?.bind(this.options.transport);
    const cameras = [...t.cameras.values()].map((c) => {
      const report = this.withDelivery(t, c.runner.report());
      return rate ? { ...report, upstreamBytesPerSecond: rate(t.assignment.jobKey, report.name) } : report;
    });
    const starting = cameras.length > 0 && cameras.every((c) => c.state === 'Pending' || c.state === 'Connecting');
    return {
      jobKey: t.assignment.jobKey,
      uid: t.assignment.uid,
      phase: phase ?? (starting ? 'Starting' : 'Running'),
      ...(message ? { message: message.slice(0, 1024) } : {}),
      sentAt: new Date().toISOString(),
      cameras,
    };
  }
}

/** A camera directory name for any camera name (and job uid): no separators, no dot names. */
function safeName(name: string): string {
  return encodeURIComponent(name).replace(/^\./, '%2E');
}
function unsafeName(dir: string): string {
  return decodeURIComponent(dir);
}

/** What a camera's runner depends on: a change here restarts it, anything else (privacy, ...) does not. */
function fingerprint(task: TaskAssignment, camera: string): string {
  const cam = task.cameras.find((c) => c.name === camera);
  const relevant = { cam, models: task.models, tracking: task.tracking, mode: task.mode, threads: task.threads };
  return createHash('sha1').update(JSON.stringify(relevant)).digest('hex');
}
