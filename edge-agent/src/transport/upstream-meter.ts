// What the agent sends upstream, per camera: payload bytes counted where each message leaves the
// connection (retries included: they cost bandwidth too). Feeds CameraReport.upstreamBytesPerSecond and,
// with `detail`, the per-field breakdown of bench:bandwidth. Payload bytes, not TCP bytes: the WebSocket,
// Engine.IO and Socket.IO framing around them is what a TCP count adds (measured by the bench).
import { encodeObservations, type ObservationBatch } from '@mei/contracts';

/** What a payload carried: observation boxes/frames, embeddings, state/heartbeat, images, the rest. */
export type UpstreamKind = 'boxes' | 'embeddings' | 'state' | 'thumbnails' | 'previews' | 'other';
export const UPSTREAM_KINDS: readonly UpstreamKind[] = ['boxes', 'embeddings', 'state', 'thumbnails', 'previews', 'other'];

/** The rate a status shows is the bytes of the last this many seconds (whole seconds) / that span. */
export const UPSTREAM_WINDOW_S = 10;

/**
 * Bytes of `v` as Socket.IO's default parser puts it on the wire: its JSON text (UTF-8), except binary
 * (Buffer, Uint8Array), which goes out as its own raw attachment (counted by length; the placeholder that
 * stands for it in the JSON is framing). Exact for JSON-able values, without building the string.
 */
export function payloadBytes(v: unknown): number {
  if (v === null || v === undefined) return 4; // null (undefined only appears as a value, handled below)
  switch (typeof v) {
    case 'string':
      return Buffer.byteLength(JSON.stringify(v));
    case 'number':
      return Number.isFinite(v) ? String(v).length : 4;
    case 'boolean':
      return v ? 4 : 5;
    case 'object': {
      if (ArrayBuffer.isView(v)) return v.byteLength;
      if (v instanceof ArrayBuffer) return v.byteLength;
      if (Array.isArray(v)) return 2 + v.reduce<number>((n, x, i) => n + (i ? 1 : 0) + (x === undefined ? 4 : payloadBytes(x)), 0);
      let n = 2;
      let first = true;
      for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
        if (x === undefined || typeof x === 'function') continue;
        n += (first ? 0 : 1) + Buffer.byteLength(JSON.stringify(k)) + 1 + payloadBytes(x);
        first = false;
      }
      return n;
    }
    default:
      return 0;
  }
}

type PerKind = Record<UpstreamKind, number>;
const zero = (): PerKind => ({ boxes: 0, embeddings: 0, state: 0, thumbnails: 0, previews: 0, other: 0 });

/** Bytes and messages sent for one camera (a state message about n cameras counts 1/n for each). */
export interface UpstreamTotals {
  bytes: PerKind;
  /** Messages by their main kind (an observation message counts under boxes); under embeddings: vectors sent. */
  messages: PerKind;
  /** Frames the observation messages carried (resends counted again). */
  frames: number;
}

interface CameraCounts extends UpstreamTotals {
  /** Bytes per whole second (epoch seconds), the last UPSTREAM_WINDOW_S + 1 of them. */
  seconds: Map<number, number>;
}

export interface UpstreamMeterOptions {
  /** Split observation payloads into boxes and embeddings (costs a second encoding; benchmarks only). */
  detail?: boolean;
  now?: () => number;
}

export class UpstreamMeter {
  private readonly cameras = new Map<string, CameraCounts>();
  private readonly now: () => number;

  constructor(private readonly options: UpstreamMeterOptions = {}) {
    this.now = options.now ?? Date.now;
  }

  /** One message `payload` of `event` went out (`wire`: the form it was sent in, e.g. protocol-2 bytes). */
  sent(event: string, payload: unknown, wire: unknown = payload): void {
    const p = (payload ?? {}) as { jobKey?: string; camera?: string; cameras?: Array<{ name?: string }> };
    const jobKey = String(p.jobKey ?? '');
    const bytes = payloadBytes(wire);
    if (event === 'observations' && p.camera !== undefined) {
      const embeddings = this.options.detail && (p as ObservationBatch).embeddings?.length ? bytes - this.withoutEmbeddings(p as ObservationBatch, wire) : 0;
      this.add(jobKey, p.camera, 'boxes', bytes - embeddings, 1);
      this.cameras.get(key(jobKey, p.camera))!.frames += (p as ObservationBatch).frames?.length ?? 0;
      if (embeddings) this.add(jobKey, p.camera, 'embeddings', embeddings, (p as ObservationBatch).embeddings!.length);
    } else if (event === 'preview' && p.camera !== undefined) this.add(jobKey, p.camera, 'previews', bytes, 1);
    else if (event === 'thumbnail' && p.camera !== undefined) this.add(jobKey, p.camera, 'thumbnails', bytes, 1);
    else if (event === 'state' && p.cameras?.length) {
      // A job's state reports all its cameras at once: each carries an equal share.
      const n = p.cameras.length;
      for (const c of p.cameras) this.add(jobKey, String(c.name ?? ''), 'state', bytes / n, 1 / n);
    } else this.add(jobKey, '', event === 'state' ? 'state' : 'other', bytes, 1);
  }

  /** Bytes per second sent for `camera` of `jobKey` over the last UPSTREAM_WINDOW_S whole seconds. */
  bytesPerSecond(jobKey: string, camera: string): number {
    const c = this.cameras.get(key(jobKey, camera));
    if (!c) return 0;
    const nowS = Math.floor(this.now() / 1000);
    let sum = 0;
    for (const [s, b] of c.seconds) if (s < nowS && s >= nowS - UPSTREAM_WINDOW_S) sum += b;
    return Math.round(sum / UPSTREAM_WINDOW_S);
  }

  /** Everything counted so far, per `jobKey camera` ('' camera: messages about no camera). */
  totals(): Record<string, UpstreamTotals> {
    return Object.fromEntries([...this.cameras].map(([k, c]) => [k.replace('\u0000', ' '), { bytes: { ...c.bytes }, messages: { ...c.messages }, frames: c.frames }]));
  }

  /** Forgets a job's cameras (its task ended). */
  forget(jobKey: string): void {
    for (const k of this.cameras.keys()) if (k.startsWith(`${jobKey}\u0000`)) this.cameras.delete(k);
  }

  private withoutEmbeddings(batch: ObservationBatch, wire: unknown): number {
    const bare = { ...batch, embeddings: undefined };
    return wire instanceof Uint8Array ? encodeObservations(bare).length : payloadBytes(bare);
  }

  private add(jobKey: string, camera: string, kind: UpstreamKind, bytes: number, messages: number): void {
    const k = key(jobKey, camera);
    let c = this.cameras.get(k);
    if (!c) {
      c = { bytes: zero(), messages: zero(), frames: 0, seconds: new Map() };
      this.cameras.set(k, c);
    }
    c.bytes[kind] += bytes;
    c.messages[kind] += messages;
    const s = Math.floor(this.now() / 1000);
    c.seconds.set(s, (c.seconds.get(s) ?? 0) + bytes);
    for (const old of c.seconds.keys()) if (old < s - UPSTREAM_WINDOW_S) c.seconds.delete(old);
  }
}

const key = (jobKey: string, camera: string) => `${jobKey}\u0000${camera}`;
