// Decodes untrusted images off the event loop: one worker thread with a capped V8 heap, one image at a
// time, a time limit (the thread is terminated and replaced when it is exceeded or dies), and a short
// queue (503 when full). Headers are checked completely before anything is posted (image-check.ts), so the
// decoder only ever sees images inside IMAGE_BOUNDS.
import { Worker } from 'node:worker_threads';
import { IMAGE_BOUNDS } from '@mei/contracts';
import type { Frame } from '@mei/vision/types';
import { ImageError, readImageHeader, type CheckedImage } from './image-check.ts';

/** Images waiting for the thread beyond the one it decodes. */
export const MAX_DECODE_QUEUE = 8;

interface Job {
  img: CheckedImage;
  field: string;
  resolve(f: Frame): void;
  reject(e: Error): void;
}

class DecoderThread {
  private worker?: Worker;
  private readonly queue: Job[] = [];
  private busy?: { job: Job; timer: NodeJS.Timeout };
  private nextId = 1;

  decode(img: CheckedImage, field: string): Promise<Frame> {
    // Re-read here: a CheckedImage built by hand must not skip the header walk.
    readImageHeader(img.bytes, img.type, field);
    if (this.queue.length >= MAX_DECODE_QUEUE) return Promise.reject(new ImageError(503, 'the image decoder is busy; try again shortly', field));
    return new Promise((resolve, reject) => {
      this.queue.push({ img, field, resolve, reject });
      this.pump();
    });
  }

  /** Stops the thread (tests, shutdown); queued images are refused. */
  async close(): Promise<void> {
    for (const j of this.queue.splice(0)) j.reject(new Error('decoder closed'));
    await this.worker?.terminate();
    this.worker = undefined;
  }

  private thread(): Worker {
    if (this.worker) return this.worker;
    const w = new Worker(new URL('./decode-thread.mjs', import.meta.url), {
      resourceLimits: { maxOldGenerationSizeMb: IMAGE_BOUNDS.decoderHeapMb, maxYoungGenerationSizeMb: 32 },
    });
    w.unref();
    w.on('message', (m: { id: number; width: number; height: number; data?: Uint8Array; error?: string }) => {
      const cur = this.busy;
      if (!cur) return;
      this.finish();
      if (m.error !== undefined || !m.data) cur.job.reject(new ImageError(422, `cannot be decoded as ${cur.job.img.type === 'image/png' ? 'PNG' : 'JPEG'}: ${m.error}`, cur.job.field));
      else cur.job.resolve({ index: 0, timestampMs: 0, width: m.width, height: m.height, data: m.data });
    });
    // Out of memory (resourceLimits) or a crash: refuse this image, start a fresh thread for the next.
    const dead = (why: string) => {
      if (this.worker !== w) return;
      this.worker = undefined;
      const cur = this.busy;
      this.finish();
      cur?.job.reject(new ImageError(422, `could not be decoded within the decoder's limits (${why})`, cur.job.field));
    };
    w.on('error', (e) => dead(e.message));
    w.on('exit', (code) => dead(`thread exited with code ${code}`));
    this.worker = w;
    return w;
  }

  private finish(): void {
    if (this.busy) clearTimeout(this.busy.timer);
    this.busy = undefined;
    setImmediate(() => this.pump());
  }

  private pump(): void {
    if (this.busy) return;
    const job = this.queue.shift();
    if (!job) return;
    const w = this.thread();
    const timer = setTimeout(() => {
      // Too slow: kill the thread (the 'exit' handler refuses the image and the next job gets a new one).
      void w.terminate();
    }, IMAGE_BOUNDS.decodeTimeoutMs);
    this.busy = { job, timer };
    const { img } = job;
    const copy = new Uint8Array(img.bytes); // transferred: the caller's buffer stays usable
    w.postMessage(
      { id: this.nextId++, type: img.type, bytes: copy, width: img.width, height: img.height },
      [copy.buffer],
    );
  }
}

const shared = new DecoderThread();

/** Decodes a checked upload to RGB24 in the decoder thread; ImageError (422, or 503 when busy) naming `field`. */
export const decodeOffThread = (img: CheckedImage, field = 'image'): Promise<Frame> => shared.decode(img, field);
export const closeDecoder = (): Promise<void> => shared.close();
