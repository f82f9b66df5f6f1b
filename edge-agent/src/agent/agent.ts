// The connected edge agent: runs what the server assigns (task), acknowledges it (task:ack), reports its
// cameras (state, every HEARTBEAT_MS and on change), and stops on task:stop. The process is done when
// every task it ran has been stopped or, in history mode, has finished.
import { createHash, randomBytes } from 'node:crypto';
import type { Ack, AgentState, AgentToServerEvents, IngestAck, ObservationBatch, PreviewFrame, PreviewRequest, TaskAssignment, TaskStop, TrackThumbnail } from '@mei/contracts';
import { ObservationOutbox } from '../transport/outbox.ts';
import { toIngestAck } from '../transport/connection.ts';
import type { CameraRunner, CameraRunnerFactory } from './camera-runner.ts';

/** The server's upstream controller expects a heartbeat this often (server/controllers/upstream-controller.ts). */
export const HEARTBEAT_MS = 2_000;
/** State changes are coalesced for this long before they are sent. */
const CHANGE_DEBOUNCE_MS = 100;
/** Track thumbnails of one camera on their way at once; more wait in the runner (it picks them again later). */
export const MAX_THUMBNAILS_IN_FLIGHT = 4;

type Emitted = keyof AgentToServerEvents;
export interface AgentTransport {
  readonly connected: boolean;
  send<E extends Emitted>(event: E, payload: Parameters<AgentToServerEvents[E]>[0]): Promise<Ack>;
  /** Observation batches answer with an IngestAck (AgentConnection); absent: send()'s Ack is read by structure. */
  sendObservations?(batch: ObservationBatch): Promise<IngestAck>;
  /** Bytes per second sent lately for a camera (AgentConnection counts them); absent: not reported. */
  upstreamBytesPerSecond?(jobKey: string, camera: string): number;
}

export interface EdgeAgentOptions {
  node: string;
  transport: AgentTransport;
  runners: CameraRunnerFactory;
  heartbeatMs?: number;
  log?: (msg: string) => void;
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

  constructor(private readonly o: EdgeAgentOptions) {
    this.log = o.log ?? (() => {});
    this.finished = new Promise((resolve) => (this.resolveFinished = resolve));
    this.outbox = new ObservationOutbox(
      (batch) => (o.transport.sendObservations ? o.transport.sendObservations(batch) : o.transport.send('observations', batch).then((res) => toIngestAck(res, batch.seq, 500))),
      500,
      this.log,
    );
    this.heartbeat = setInterval(() => void this.sendStates(), o.heartbeatMs ?? HEARTBEAT_MS);
  }

  handleTask(task: TaskAssignment): Promise<void> {
    return this.serial(() => this.applyTask(task));
  }

  handleStop(stop: TaskStop): Promise<void> {
    return this.serial(async () => {
      const t = this.tasks.get(stop.jobKey);
      if (!t || t.assignment.uid !== stop.uid) return;
      this.log(`stopping ${stop.jobKey}: ${stop.reason}`);
      await this.endTask(t, 'Stopped', stop.reason);
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
    void this.outbox.flush();
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
    if (task.node !== this.o.node) {
      this.log(`ignoring a task for node ${task.node} (this agent runs ${this.o.node})`);
      return;
    }
    let t = this.tasks.get(task.jobKey);
    if (t && t.assignment.uid !== task.uid) {
      await this.endTask(t, 'Stopped', 'replaced by a new job of the same name', false);
      t = undefined;
    }
    if (t && t.assignment.generation >= task.generation) return void (await this.ack(task)); // a resend
    if (!t) {
      t = { assignment: task, cameras: new Map(), seq: new Map(), previewInFlight: new Set(), thumbnailsInFlight: new Map() };
      this.tasks.set(task.jobKey, t);
    }
    t.assignment = task;
    const running = t;
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
      const runner = this.o.runners({
        task,
        camera: cam,
        onChange: () => this.onCameraChange(running),
        emitObservations: (batch) => this.emitObservations(running, { ...batch, session }),
        observationBacklog: () => this.outbox.size,
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
    const res = await this.o.transport.send('task:ack', { jobKey: task.jobKey, uid: task.uid, generation: task.generation });
    if (!res.ok) this.log(`task:ack not delivered (${res.error}); the server will resend the task`);
  }

  private onCameraChange(t: RunningTask): void {
    this.scheduleStateSend();
    // History: a task is over when every camera has reached the end of its recording (or failed).
    if (t.assignment.mode !== 'history' || this.tasks.get(t.assignment.jobKey) !== t || t.cameras.size === 0) return;
    const reports = [...t.cameras.values()].map((c) => c.runner.report());
    if (!reports.every((r) => TERMINAL.has(r.state))) return;
    const failed = reports.filter((r) => r.state === 'Failed');
    if (failed.length) this.failedTasks++;
    void this.serial(() => this.endTask(t, failed.length ? 'Failed' : 'Succeeded', failed.length ? `${failed.length} camera(s) failed` : 'finished'));
  }

  /** Stops a task's cameras, sends its final state, forgets it; finishes the agent when none are left. */
  private async endTask(t: RunningTask, phase: AgentState['phase'], message: string, finishIfIdle = true): Promise<void> {
    if (this.tasks.get(t.assignment.jobKey) !== t) return;
    await Promise.all([...t.cameras.values()].map((c) => c.runner.stop()));
    await this.outbox.flush();
    await this.o.transport.send('state', this.stateOf(t, phase, message));
    this.tasks.delete(t.assignment.jobKey);
    if (finishIfIdle && this.tasks.size === 0) this.finish(this.failedTasks ? 1 : 0);
  }

  private finish(code: number): void {
    if (this.done) return;
    this.done = true;
    clearInterval(this.heartbeat);
    clearTimeout(this.changeTimer);
    this.resolveFinished(code);
  }

  private emitObservations(t: RunningTask, batch: Omit<ObservationBatch, 'jobKey' | 'seq'>): void {
    const seq = t.seq.get(batch.camera) ?? Date.now() * 1000;
    t.seq.set(batch.camera, seq + 1);
    this.outbox.push({ ...batch, jobKey: t.assignment.jobKey, seq });
  }

  /** Previews are best effort: one in flight per camera, none while disconnected, never resent. */
  private emitPreview(t: RunningTask, preview: Omit<PreviewFrame, 'jobKey'>): void {
    if (!this.o.transport.connected || t.previewInFlight.has(preview.camera)) return;
    t.previewInFlight.add(preview.camera);
    void this.o.transport
      .send('preview', { ...preview, jobKey: t.assignment.jobKey })
      .then((ack) => {
        if (!ack.ok) this.log(`[${preview.camera}] preview refused: ${ack.error}`);
      })
      .finally(() => t.previewInFlight.delete(preview.camera));
  }

  private thumbnailSlots(t: RunningTask, camera: string): number {
    return this.o.transport.connected ? Math.max(0, MAX_THUMBNAILS_IN_FLIGHT - (t.thumbnailsInFlight.get(camera) ?? 0)) : 0;
  }

  /** Thumbnails are best effort like previews: dropped while disconnected or when too many are in flight, never resent. */
  private emitThumbnail(t: RunningTask, thumb: Omit<TrackThumbnail, 'jobKey'>): void {
    if (this.thumbnailSlots(t, thumb.camera) <= 0) return;
    const inFlight = t.thumbnailsInFlight;
    inFlight.set(thumb.camera, (inFlight.get(thumb.camera) ?? 0) + 1);
    void this.o.transport
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
    if (!this.o.transport.connected) return;
    await Promise.all([...this.tasks.values()].map((t) => this.o.transport.send('state', this.stateOf(t))));
  }

  private stateOf(t: RunningTask, phase?: AgentState['phase'], message?: string): AgentState {
    const rate = this.o.transport.upstreamBytesPerSecond?.bind(this.o.transport);
    const cameras = [...t.cameras.values()].map((c) => {
      const report = c.runner.report();
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

/** What a camera's runner depends on: a change here restarts it, anything else (privacy, ...) does not. */
function fingerprint(task: TaskAssignment, camera: string): string {
  const cam = task.cameras.find((c) => c.name === camera);
  const relevant = { cam, models: task.models, tracking: task.tracking, mode: task.mode, threads: task.threads };
  return createHash('sha1').update(JSON.stringify(relevant)).digest('hex');
}
