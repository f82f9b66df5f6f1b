// A camera or recording decoded by an ffmpeg child process into RGB24 frames, off the inference path.
// history: every frame in order, the decoder pauses when the consumer falls behind (no drops), ends once.
// live: frames arrive at the source's pace; when the consumer is slow the oldest queued frames are dropped,
//       and a failed or stalled stream is restarted with exponential backoff.
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { EventEmitter } from 'node:events';
import type { Readable } from 'node:stream';
import type { DefaultedJobSpec, RegionOfInterest } from '@mei/contracts/job';
import type { Frame } from '@mei/vision/types';
import { decoderArgs, findFfmpeg, inputArgs, parseOutputSize, probeVideo, type VideoInfo } from './ffmpeg.ts';
import { FrameQueue } from './frameQueue.ts';
import { parseSource, SourceError, type ParsedSource } from './uri.ts';

export type SourceMode = DefaultedJobSpec['mode'];

/** Mirrors status.cameras[].state of the CRD (minus Pending, which is before open). */
export type SourceState = 'connecting' | 'streaming' | 'retrying' | 'completed' | 'failed';

export interface SourceStateEvent {
  state: SourceState;
  /** Why the source failed, stalled or is retrying (last ffmpeg error line, or "no video for 10 s"). */
  reason?: string;
  /** Retry number, from 1. */
  attempt?: number;
  retryInMs?: number;
}

export type Roi = RegionOfInterest;

export interface VideoSourceOptions {
  /** spec.cameras[].source: a path, file://, dir:// (MOTChallenge images), rtsp://, http(s)://. */
  source: string;
  mode?: SourceMode;
  /** Frames per second to process (history: every n-th frame, exact numbers; live: at most this rate). */
  fps?: number;
  /** Replay a file forever as a live camera (implies live behaviour for this source). */
  loop?: boolean;
  /**
   * A recorded file played live is paced at this multiple of its own frame rate (default 1; bench:node plays
   * cameras faster or slower than the recording).
   */
  readRate?: number;
  roi?: Roi;
  /** Deliver frames scaled to this size (after the ROI): ffmpeg scales while decoding. */
  scaleTo?: { width: number; height: number };
  /** Frames buffered between decoder and consumer (default live 1 = newest only, history 8). */
  queueSize?: number;
  /** Stop after this many frames (tests, quick runs). */
  maxFrames?: number;
  /** A source that yields no bytes for this long is reported stalled (live: restarted; history: failed). */
  stallTimeoutMs?: number;
  retry?: { initialDelayMs?: number; maxDelayMs?: number; maxAttempts?: number };
  env?: Record<string, string | undefined>;
  /** Field prefix used in SourceError messages, e.g. "spec.cameras[0]". */
  field?: string;
}

export interface SourceInfo {
  live: boolean;
  /** Output frame size when known before streaming (files and image folders). */
  width?: number;
  height?: number;
  /** Native rate of the recording. */
  nativeFps?: number;
  /** Frames this source will deliver (recorded sources, after sampling and maxFrames). */
  totalFrames?: number;
  /** Frames in a recording replayed in a loop as a live camera (its playback follows the wall clock). */
  loopFrames?: number;
}

interface RunResult {
  frames: number;
  ok: boolean;
  reason?: string;
}

const STDERR_KEEP = 8192;

/**
 * A frame's pixels live in shared memory: the detector worker gets the frame by reference (posting it copies
 * nothing, where a plain buffer is cloned: 0.4-0.5 CPU ms less per 768x576 frame, bench:preprocess). Each
 * frame has its own buffer, never written after it is emitted, so sharing it is safe.
 */
function frameBuffer(bytes: number): Uint8Array {
  return new Uint8Array(new SharedArrayBuffer(bytes));
}

export class VideoSource extends EventEmitter implements AsyncIterable<Frame> {
  readonly info: SourceInfo;
  readonly stats = { decoded: 0, restarts: 0 };
  state: SourceState = 'connecting';
  private readonly queue: FrameQueue<Frame>;
  private child: ChildProcessByStdio<null, Readable, Readable> | undefined;
  private closed = false;
  private emitted = 0;
  /** Added to `emitted` to give a frame's index (a looped recording starts where the wall clock says). */
  private indexBase = 0;
  private sleepTimer: { timer: NodeJS.Timeout; resolve: () => void } | undefined;
  private readonly done: Promise<void>;

  private constructor(
    private readonly ffmpeg: string,
    private readonly parsed: ParsedSource,
    private readonly opts: VideoSourceOptions,
    private readonly everyNth: number,
    info: SourceInfo,
  ) {
    super();
    this.info = info;
    const live = info.live;
    this.queue = new FrameQueue<Frame>(opts.queueSize ?? (live ? 1 : 8), live ? 'drop-oldest' : 'block');
    this.queue.onSpace = () => this.child?.stdout.resume();
    this.done = this.run();
  }

  /** Frames dropped because the consumer was slower than a live source. */
  get dropped(): number {
    return this.queue.dropped;
  }

  /** Parses and checks the source (files: probed, ROI validated) and starts decoding. */
  static async open(opts: VideoSourceOptions): Promise<VideoSource> {
    const env = opts.env ?? process.env;
    const field = opts.field ? `${opts.field}.` : '';
    let parsed: ParsedSource;
    try {
      parsed = parseSource(opts.source);
    } catch (e) {
      if (e instanceof SourceError) throw new SourceError(e.message, `${field}source`);
      throw e;
    }
    if (opts.fps !== undefined && !(opts.fps > 0)) throw new SourceError(`fps must be > 0, got ${opts.fps}`, `${field}fps`);
    if (opts.roi) validateRoi(opts.roi, `${field}roi`);
    if (opts.scaleTo && !(Number.isInteger(opts.scaleTo.width) && Number.isInteger(opts.scaleTo.height) && opts.scaleTo.width >= 16 && opts.scaleTo.height >= 16)) {
      throw new SourceError(`scaleTo must be whole pixels, at least 16x16, got ${opts.scaleTo.width}x${opts.scaleTo.height}`, `${field}scaleTo`);
    }
    if (opts.readRate !== undefined && !(opts.readRate > 0 && opts.readRate <= 100)) throw new SourceError(`readRate must be in (0, 100], got ${opts.readRate}`, `${field}readRate`);
    const ffmpeg = findFfmpeg(env);
    const live = opts.mode === 'live' || parsed.kind === 'stream' || opts.loop === true;
    const info: SourceInfo = { live };
    let everyNth = 1;
    if (parsed.kind !== 'stream') {
      let probed: VideoInfo;
      try {
        probed = await probeVideo(ffmpeg, inputArgs(parsed, { realtime: false, loop: false }));
      } catch (e) {
        throw new SourceError(`${describe(parsed)}: ${(e as Error).message}`, `${field}source`);
      }
      if (opts.roi && (opts.roi.x + opts.roi.width > probed.width || opts.roi.y + opts.roi.height > probed.height)) {
        const r = opts.roi;
        throw new SourceError(
          `region ${r.width}x${r.height}+${r.x}+${r.y} lies outside the ${probed.width}x${probed.height} frame of ${describe(parsed)}`,
          `${field}roi`,
        );
      }
      const nativeFps = parsed.kind === 'images' ? (parsed.frameRate ?? 25) : probed.fps;
      const frameCount = parsed.kind === 'images' ? parsed.count : probed.frameCount;
      info.width = opts.scaleTo?.width ?? opts.roi?.width ?? probed.width;
      info.height = opts.scaleTo?.height ?? opts.roi?.height ?? probed.height;
      info.nativeFps = nativeFps;
      if (live && opts.loop && parsed.kind === 'file' && frameCount) info.loopFrames = frameCount;
      if (!live) {
        if (opts.fps && nativeFps && opts.fps < nativeFps) everyNth = Math.max(1, Math.round(nativeFps / opts.fps));
        if (frameCount !== undefined) {
          const sampled = Math.ceil(frameCount / everyNth);
          info.totalFrames = opts.maxFrames !== undefined ? Math.min(sampled, opts.maxFrames) : sampled;
        }
      }
    }
    return new VideoSource(ffmpeg, parsed, opts, everyNth, info);
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Frame> {
    try {
      for (;;) {
        const frame = await this.queue.shift();
        if (!frame) return;
        yield frame;
      }
    } finally {
      await this.close();
    }
  }

  /** Stops decoding; queued frames are discarded. Resolves when the ffmpeg process is gone. */
  async close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      this.queue.clear();
      this.queue.end();
      this.child?.kill('SIGKILL');
      if (this.sleepTimer) {
        clearTimeout(this.sleepTimer.timer);
        this.sleepTimer.resolve();
      }
    }
    await this.done;
  }

  private setState(ev: SourceStateEvent): void {
    this.state = ev.state;
    this.emit('state', ev);
  }

  private get reachedMax(): boolean {
    return this.opts.maxFrames !== undefined && this.emitted >= this.opts.maxFrames;
  }

  private async run(): Promise<void> {
    const retry = this.opts.retry ?? {};
    const initial = retry.initialDelayMs ?? 500;
    const maxDelay = retry.maxDelayMs ?? 30_000;
    const maxAttempts = retry.maxAttempts ?? Infinity;
    let attempt = 0;
    // Let open()'s caller attach 'state' listeners before the first event.
    await new Promise<void>((r) => setImmediate(r));
    while (!this.closed) {
      this.setState({ state: 'connecting', attempt: attempt || undefined });
      const r = await this.runOnce();
      if (this.closed) break;
      if (this.reachedMax || (r.ok && (!this.info.live || (this.parsed.kind !== 'stream' && !this.opts.loop)))) {
        this.setState({ state: 'completed' });
        this.queue.end();
        break;
      }
      const reason = r.reason ?? 'stream ended';
      if (!this.info.live) {
        this.setState({ state: 'failed', reason });
        this.queue.end(new SourceError(`${describe(this.parsed)}: ${reason}`, this.opts.field ? `${this.opts.field}.source` : 'source'));
        break;
      }
      if (r.frames > 0) attempt = 0; // it worked for a while: start the backoff over
      attempt++;
      if (attempt > maxAttempts) {
        this.setState({ state: 'failed', reason, attempt });
        this.queue.end(new SourceError(`${describe(this.parsed)}: gave up after ${maxAttempts} retries: ${reason}`));
        break;
      }
      const delay = Math.min(maxDelay, initial * 2 ** (attempt - 1));
      this.stats.restarts++;
      this.setState({ state: 'retrying', reason, attempt, retryInMs: delay });
      await new Promise<void>((resolve) => {
        this.sleepTimer = { timer: setTimeout(resolve, delay), resolve };
      });
      this.sleepTimer = undefined;
    }
  }

  /** One ffmpeg process: from spawn to exit. */
  private runOnce(): Promise<RunResult> {
    const live = this.info.live;
    // A looped recording plays as if it had been running since the epoch: every camera cut from the same file
    // (and every restart) shows the same moment at the same time, as real cameras of one scene would.
    const { loopFrames, nativeFps } = this.info;
    const startFrame = loopFrames && nativeFps ? Math.floor((Date.now() / 1000) * nativeFps) % loopFrames : 0;
    this.indexBase = startFrame - this.emitted;
    const args = decoderArgs(this.parsed, {
      realtime: live && this.parsed.kind !== 'stream',
      readRate: this.opts.readRate,
      loop: live && this.opts.loop === true,
      startSeconds: startFrame && nativeFps ? startFrame / nativeFps : undefined,
      everyNth: this.everyNth,
      maxFps: live ? this.opts.fps : undefined,
      roi: this.opts.roi,
      scaleTo: this.opts.scaleTo,
    });
    const stallMs = this.opts.stallTimeoutMs ?? 10_000;
    return new Promise<RunResult>((resolve) => {
      const child = spawn(this.ffmpeg, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      this.child = child;
      let stderr = '';
      let size: { width: number; height: number } | undefined;
      let frameBytes = 0;
      let cur: Uint8Array = new Uint8Array(0);
      let filled = 0;
      let pending: Buffer[] = [];
      let frames = 0;
      let failure: string | undefined;
      let watchdog: NodeJS.Timeout | undefined;
      let finished = false;

      const finish = (result: RunResult) => {
        if (finished) return;
        finished = true;
        clearTimeout(watchdog);
        if (this.child === child) this.child = undefined;
        resolve(result);
      };
      const armWatchdog = () => {
        clearTimeout(watchdog);
        if (child.stdout.isPaused()) return; // waiting for the consumer is not a stall
        watchdog = setTimeout(() => {
          failure = `stalled: no video for ${(stallMs / 1000).toFixed(1)} s`;
          child.kill('SIGKILL');
        }, stallMs);
      };
      const consume = (chunk: Buffer) => {
        let off = 0;
        while (off < chunk.length && !this.closed && !this.reachedMax) {
          const n = Math.min(frameBytes - filled, chunk.length - off);
          cur.set(chunk.subarray(off, off + n), filled);
          filled += n;
          off += n;
          if (filled < frameBytes) continue;
          if (frames === 0) this.setState({ state: 'streaming' });
          frames++;
          this.stats.decoded++;
          const index = live ? this.indexBase + this.emitted : this.emitted * this.everyNth;
          const frame: Frame = {
            index,
            timestampMs: live ? Date.now() : (index / (this.info.nativeFps || 25)) * 1000,
            width: size!.width,
            height: size!.height,
            data: cur,
          };
          this.emitted++;
          cur = frameBuffer(frameBytes);
          filled = 0;
          if (!this.queue.push(frame)) child.stdout.pause();
          if (this.reachedMax) child.kill('SIGKILL');
        }
      };

      child.stdout.on('data', (chunk: Buffer) => {
        armWatchdog();
        if (!size) pending.push(chunk);
        else consume(chunk);
      });
      child.stdout.on('resume', armWatchdog);
      child.stdout.on('pause', () => clearTimeout(watchdog));
      child.stderr.setEncoding('utf8');
      child.stderr.on('data', (s: string) => {
        stderr = (stderr + s).slice(-STDERR_KEEP);
        if (size) return;
        size = parseOutputSize(stderr);
        if (!size) return;
        frameBytes = size.width * size.height * 3;
        cur = frameBuffer(frameBytes);
        const early = pending;
        pending = [];
        for (const chunk of early) consume(chunk);
      });
      child.on('error', (err) => finish({ frames, ok: false, reason: `cannot run ${this.ffmpeg}: ${err.message}` }));
      child.on('close', (code) => {
        const ok = code === 0 && !failure;
        finish({ frames, ok, reason: failure ?? (ok ? undefined : lastErrorLine(stderr, code)) });
      });
      armWatchdog();
    });
  }
}

function validateRoi(roi: Roi, field: string): void {
  for (const k of ['x', 'y', 'width', 'height'] as const) {
    const v = roi[k];
    if (!Number.isInteger(v) || v < 0) throw new SourceError(`${k} must be a non-negative integer, got ${v}`, `${field}.${k}`);
  }
  if (roi.width < 16 || roi.height < 16) throw new SourceError(`region must be at least 16x16, got ${roi.width}x${roi.height}`, field);
}

function describe(src: ParsedSource): string {
  return src.kind === 'file' ? src.path : src.kind === 'images' ? src.dir : src.url;
}

function lastErrorLine(stderr: string, code: number | null): string {
  const lines = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !/^(Input|Output|Stream|Metadata|Duration|\w+\s*:)/.test(l));
  return `ffmpeg exited with ${code ?? 'a signal'}${lines.length ? `: ${lines[lines.length - 1]}` : ''}`;
}

export function openVideoSource(opts: VideoSourceOptions): Promise<VideoSource> {
  return VideoSource.open(opts);
}
