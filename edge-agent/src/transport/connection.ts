// The agent's link to the server: a Socket.IO client on the /agent namespace, authenticated with the
// per-worker token, typed with the contract's events. Network drops reconnect with exponential backoff;
// a refused token is retried a few times (the server may be restarting) and then reported as fatal.
import { io, type Socket } from 'socket.io-client';
import {
  AGENT_NAMESPACE,
  LATEST_WIRE_PROTOCOL,
  decodeObservations,
  observationPayload,
  type Ack,
  type AgentEvent,
  type AgentToServerEvents,
  type IngestAck,
  type ObservationBatch,
  type ServerToAgentEvents,
  type PreviewRequest,
  type TaskAssignmentInput,
  type TaskStop,
  type WireProtocol,
} from '@mei/contracts';
import { agentParser } from '@mei/contracts/wire/socket-parser';
import { UpstreamMeter } from './upstream-meter.ts';

export type AgentSocket = Socket<ServerToAgentEvents, AgentToServerEvents>;
type Emitted = AgentEvent;
type Payload<E extends Emitted> = Parameters<AgentToServerEvents[E]>[0];

export interface AgentConnectionOptions {
  serverUrl: string;
  token: string;
  /** Consecutive refusals of the token before giving up (default 5). */
  maxAuthFailures?: number;
  reconnectDelayMs?: number;
  reconnectDelayMaxMs?: number;
  /** How long send() waits for the server's ack. */
  ackTimeoutMs?: number;
  log?: (msg: string) => void;
  /** Observation wire protocol asked for in the handshake (default: the latest, 2 = binary). */
  protocol?: WireProtocol;
  /**
   * WebSocket permessage-deflate: compress every message (if the server agrees). Default on: on PETS09 it
   * halves what leaves the edge for about 1 CPU ms per frame (docs/benchmarks.md, bench:bandwidth).
   */
  perMessageDeflate?: boolean;
  /** Counts what goes out per camera (default: a fresh one). */
  meter?: UpstreamMeter;
}

export interface AgentConnectionHandlers {
  onTask(task: TaskAssignmentInput): void;
  onStop(stop: TaskStop): void;
  /** privacy.preview 'snapshot': a browser asked for one still frame of a camera. */
  onPreviewRequest?(req: PreviewRequest): void;
  /** Called on every (re)connect: resend whatever the server must know. */
  onConnect?(): void;
  /** The server refused the token for good (job deleted, wrong token): the agent should exit. */
  onFatal(reason: string): void;
}

export class AgentConnection {
  readonly socket: AgentSocket;
  private authFailures = 0;
  private retryTimer?: NodeJS.Timeout;
  private closed = false;
  /** Payload bytes sent per camera (CameraReport.upstreamBytesPerSecond). */
  readonly meter: UpstreamMeter;

  constructor(
    private readonly options: AgentConnectionOptions,
    handlers: AgentConnectionHandlers,
  ) {
    const base = options.reconnectDelayMs ?? 500;
    const max = options.reconnectDelayMaxMs ?? 10_000;
    const log = options.log ?? (() => {});
    this.meter = options.meter ?? new UpstreamMeter();
    const protocol = options.protocol ?? LATEST_WIRE_PROTOCOL;
    this.socket = io(new URL(AGENT_NAMESPACE, options.serverUrl).toString(), {
      auth: { token: options.token, protocol },
      // Protocol 2: each observation batch is one WebSocket message, not Socket.IO's two (wire/socket-parser).
      ...(protocol === 2 ? { parser: agentParser } : {}),
      reconnectionDelay: base,
      reconnectionDelayMax: max,
      randomizationFactor: 0.3,
      // WebSocket first: one long-lived TCP connection per agent; polling stays as a fallback.
      transports: ['websocket', 'polling'],
      // threshold 0: observation messages are a few hundred bytes, below ws' default 1 KiB threshold. false
      // (ws accepts it; the client's type does not say so) keeps even large messages uncompressed.
      perMessageDeflate: (options.perMessageDeflate ?? true) ? { threshold: 0 } : (false as unknown as { threshold: number }),
    });
    this.socket.on('connect', () => {
      this.authFailures = 0;
      log(`connected to ${options.serverUrl}`);
      handlers.onConnect?.();
    });
    this.socket.on('disconnect', (reason) => log(`disconnected (${reason})`));
    this.socket.on('connect_error', (err) => {
      // socket.active: the client retries by itself (network error). Otherwise the server refused us.
      if (this.socket.active || this.closed) return log(`cannot reach ${options.serverUrl}: ${err.message}; retrying`);
      this.authFailures++;
      const limit = options.maxAuthFailures ?? 5;
      if (this.authFailures >= limit) return handlers.onFatal(`server refused the agent token ${this.authFailures} times (${err.message})`);
      const delay = Math.min(max, base * 2 ** (this.authFailures - 1));
      log(`server refused the connection (${err.message}); retry ${this.authFailures}/${limit - 1} in ${delay} ms`);
      this.retryTimer = setTimeout(() => this.socket.connect(), delay);
    });
    this.socket.on('task', (task) => handlers.onTask(task));
    this.socket.on('task:stop', (stop) => handlers.onStop(stop));
    this.socket.on('preview:request', (req) => handlers.onPreviewRequest?.(req));
  }

  get connected(): boolean {
    return this.socket.connected;
  }

  /**
   * Sends when connected and resolves with the server's ack. While disconnected nothing is queued (the
   * caller resends current state on reconnect) and the result is {ok: false}.
   */
  async send<E extends Emitted>(event: E, payload: Payload<E>): Promise<Ack> {
    if (!this.socket.connected) return { ok: false, error: 'not connected' };
    try {
      // The event map types acks as an optional callback; at run time the server always answers with an Ack.
      const socket = this.socket.timeout(this.options.ackTimeoutMs ?? 10_000) as unknown as { emitWithAck(ev: string, p: unknown): Promise<Ack> };
      return await socket.emitWithAck(event, this.wire(event, payload));
    } catch (err) {
      return { ok: false, error: (err as Error).message };
    }
  }

  /**
   * Sends one spooled observation batch (protocol-2 bytes, sent as stored) and resolves with the server's
   * IngestAck. A transport failure (not connected, disconnect while waiting, ack timeout) is a retry-later:
   * the batch may or may not have arrived, and the server ingests each seq once, so resending is always safe.
   * An older server's plain Ack is mapped by its structure: ok -> committed, a named field -> refused,
   * anything else -> retry-later. A connection that negotiated protocol 1 sends the decoded JSON batch.
   */
  async sendObservations(payload: Uint8Array, seq: number): Promise<IngestAck> {
    const retryAfterMs = this.options.reconnectDelayMs ?? 500;
    if (!this.socket.connected) return { code: 'retry-later', retryAfterMs: 0, reason: 'not connected' };
    // Decoded for the meter's per-camera split (boxes / embeddings), and as the body under protocol 1. A record
    // that cannot be decoded can never be sent as it is: refused (dropped and counted), not retried forever.
    let batch: ObservationBatch;
    try {
      batch = decodeObservations(payload);
    } catch (err) {
      return { code: 'refused', field: (err as { field?: string }).field ?? '(message)', error: `spooled batch ${seq} cannot be decoded: ${(err as Error).message}` };
    }
    let res: unknown;
    try {
      const socket = this.socket.timeout(this.options.ackTimeoutMs ?? 10_000) as unknown as { emitWithAck(ev: string, p: unknown): Promise<unknown> };
      const wire = (this.options.protocol ?? LATEST_WIRE_PROTOCOL) === 1 ? batch : payload;
      this.meter.sent('observations', batch, wire);
      res = await socket.emitWithAck('observations', wire);
    } catch (err) {
      return { code: 'retry-later', retryAfterMs, reason: `transport: ${(err as Error).message}` };
    }
    return toIngestAck(res, seq, retryAfterMs);
  }

  /** An observation batch goes out in the negotiated protocol's form; other events as they are. Counted here. */
  private wire(event: Emitted, payload: unknown): unknown {
    const wire = event !== 'observations' || payload instanceof Uint8Array ? payload : observationPayload(payload as ObservationBatch, this.options.protocol ?? LATEST_WIRE_PROTOCOL);
    this.meter.sent(event, payload, wire);
    return wire;
  }

  /** Bytes per second this connection sent for `camera` of `jobKey` lately (see UpstreamMeter). */
  upstreamBytesPerSecond(jobKey: string, camera: string): number {
    return this.meter.bytesPerSecond(jobKey, camera);
  }

  /** A fresh connection (the server keeps per-connection state, e.g. go-back-N of observation streams). */
  reconnect(): void {
    if (this.closed) return;
    this.socket.disconnect();
    this.socket.connect();
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.retryTimer);
    this.socket.disconnect();
  }
}

/** Reads the server's answer by its structure only (never its text). */
export function toIngestAck(res: unknown, seq: number, retryAfterMs: number): IngestAck {
  const r = (res ?? {}) as Record<string, unknown>;
  if (r.code === 'committed' && typeof r.through === 'number') return { code: 'committed', through: r.through };
  if (r.code === 'refused') return { code: 'refused', field: String(r.field ?? ''), error: String(r.error ?? 'refused') };
  if (r.code === 'retry-later') return { code: 'retry-later', retryAfterMs: typeof r.retryAfterMs === 'number' ? r.retryAfterMs : retryAfterMs, reason: String(r.reason ?? '') };
  if (r.ok === true) return { code: 'committed', through: seq };
  if (r.ok === false && typeof r.field === 'string') return { code: 'refused', field: r.field, error: String(r.error ?? '') };
  return { code: 'retry-later', retryAfterMs, reason: String(r.error ?? 'unrecognised ack') };
}
