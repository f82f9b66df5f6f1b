// What each upstream message costs on the wire, by field (bench:bandwidth). The agent logs every message it
// sends as the WebSocket messages Socket.IO makes of it (recordMessage); afterwards the bench compresses that
// sequence as the agent's permessage-deflate does (raw deflate, 15-bit window kept across messages, a sync
// flush per message, its 4 trailing bytes dropped: ws' client defaults) and adds each message's WebSocket
// header. Observation batches are compressed a second time without their embeddings, in a stream of their
// own: boxes = that cost, embeddings = what they add. The model's total is checked against the TCP count (the
// rest, e.g. the HTTP upgrade and Engine.IO pongs, is reported as framing), so the split is measured, not
// estimated from payload shares.
import { constants, createDeflateRaw, type DeflateRaw } from 'node:zlib';
import { AGENT_NAMESPACE, encodeObservations, encodeObservationsFrame, type ObservationBatch, type WireProtocol } from '@mei/contracts';

export type WireKind = 'observations' | 'state' | 'thumbnails' | 'previews' | 'other';

/** One sent event: its kind, the cameras it is about, its WebSocket messages (base64) and, for batches, the same without embeddings. */
export interface LoggedMessage {
  kind: WireKind;
  cameras: string[];
  ws: string[];
  bare?: string[];
}

const KIND: Record<string, WireKind> = { observations: 'observations', state: 'state', thumbnail: 'thumbnails', preview: 'previews' };
const b64 = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64');

/** Socket.IO's default form of an event with an ack: a text packet (binary values as placeholders) and the binaries after it. */
function socketIoMessages(event: string, payload: unknown, ackId: number): Uint8Array[] {
  const buffers: Uint8Array[] = [];
  const strip = (v: unknown): unknown => {
    if (v instanceof Uint8Array) return (buffers.push(v), { _placeholder: true, num: buffers.length - 1 });
    if (Array.isArray(v)) return v.map(strip);
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).filter(([, x]) => x !== undefined).map(([k, x]) => [k, strip(x)]));
    return v;
  };
  const json = JSON.stringify([event, strip(payload)]);
  // Engine.IO prefixes a text message with "4"; binary messages go as they are.
  const head = buffers.length ? `45${buffers.length}-${AGENT_NAMESPACE},${ackId}${json}` : `42${AGENT_NAMESPACE},${ackId}${json}`;
  return [Buffer.from(`4${head}`), ...buffers];
}

/** The WebSocket messages of one sent event, as the agent's connection sends it under `protocol`. */
export function recordMessage(event: string, payload: unknown, wire: unknown, protocol: WireProtocol, ackId: number): LoggedMessage {
  const p = (payload ?? {}) as { camera?: string; cameras?: Array<{ name: string }> };
  const cameras = p.camera !== undefined ? [p.camera] : (p.cameras?.map((c) => c.name) ?? []);
  const kind = KIND[event] ?? 'other';
  const ws = (w: unknown) => (event === 'observations' && protocol === 2 && w instanceof Uint8Array ? [encodeObservationsFrame(ackId, w)] : socketIoMessages(event, w, ackId));
  const msg: LoggedMessage = { kind, cameras, ws: ws(wire).map(b64) };
  const batch = payload as ObservationBatch;
  if (kind === 'observations' && batch.embeddings?.length) {
    const bare = { ...batch, embeddings: undefined };
    msg.bare = ws(wire instanceof Uint8Array ? encodeObservations(bare) : bare).map(b64);
  }
  return msg;
}

/** A WebSocket frame header of a client message of `n` payload bytes (masked: +4). */
const wsHeader = (n: number) => 2 + 4 + (n >= 65536 ? 8 : n >= 126 ? 2 : 0);

class Compressor {
  private readonly z?: DeflateRaw;
  constructor(deflate: boolean) {
    if (deflate) this.z = createDeflateRaw({ windowBits: 15 });
  }
  /** Bytes `data` takes as one WebSocket message payload (compressed when deflate is on). */
  async size(data: Buffer): Promise<number> {
    const z = this.z;
    if (!z) return data.length;
    const chunks: Buffer[] = [];
    const onData = (c: Buffer) => chunks.push(c);
    z.on('data', onData);
    z.write(data);
    await new Promise<void>((resolve) => z.flush(constants.Z_SYNC_FLUSH, () => resolve()));
    z.off('data', onData);
    return chunks.reduce((n, c) => n + c.length, 0) - 4;
  }
  close(): void {
    this.z?.close();
  }
}

export interface CameraWire {
  /** Bytes by field (WebSocket payloads, compressed as sent); headers: WebSocket frame headers. */
  boxes: number;
  embeddings: number;
  thumbnails: number;
  state: number;
  other: number;
  /** Frame headers of observation/thumbnail/preview messages (per video time) and of the rest (wall clock). */
  headersOfFrames: number;
  headersOfClock: number;
}

/** Each camera's wire bytes by field; a message about n cameras (state) counts 1/n for each, about none: for all. */
export async function modelWire(log: readonly LoggedMessage[], cameraNames: readonly string[], deflate: boolean): Promise<{ cameras: Map<string, CameraWire>; total: number }> {
  const actual = new Compressor(deflate);
  const bare = new Compressor(deflate);
  const cameras = new Map<string, CameraWire>(cameraNames.map((c) => [c, { boxes: 0, embeddings: 0, thumbnails: 0, state: 0, other: 0, headersOfFrames: 0, headersOfClock: 0 }]));
  let total = 0;
  try {
    for (const m of log) {
      let bytes = 0;
      let headers = 0;
      for (const s of m.ws) {
        const n = await actual.size(Buffer.from(s, 'base64'));
        bytes += n;
        headers += wsHeader(n);
      }
      total += bytes + headers;
      let boxes = 0;
      if (m.bare) for (const s of m.bare) boxes += await bare.size(Buffer.from(s, 'base64'));
      else if (m.kind === 'observations') for (const s of m.ws) boxes += await bare.size(Buffer.from(s, 'base64'));
      const targets = (m.cameras.length ? m.cameras : cameraNames).filter((c) => cameras.has(c));
      for (const c of targets) {
        const w = cameras.get(c)!;
        const share = 1 / targets.length;
        if (m.kind === 'observations') {
          w.boxes += Math.min(boxes, bytes) * share;
          w.embeddings += Math.max(0, bytes - boxes) * share;
        } else if (m.kind === 'thumbnails' || m.kind === 'previews') w.thumbnails += bytes * share;
        else if (m.kind === 'state') w.state += bytes * share;
        else w.other += bytes * share;
        if (m.kind === 'state' || m.kind === 'other') w.headersOfClock += headers * share;
        else w.headersOfFrames += headers * share;
      }
    }
  } finally {
    actual.close();
    bare.close();
  }
  return { cameras, total };
}
