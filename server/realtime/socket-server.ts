// Socket.IO on the dashboard's HTTP server: /agent for edge agents (worker token), /ui for browsers
// (session cookie). Every payload is validated with the contract's zod schemas; a bad one gets an error
// ack naming the field and changes nothing.
import type { Server as HttpServer } from 'node:http';
import { Server, type Namespace, type Socket } from 'socket.io';
import type { ZodType } from 'zod';
import {
  AGENT_EVENTS,
  AGENT_NAMESPACE,
  MAX_MESSAGE_BYTES,
  SubscribeLiveSchema,
  UI_EVENTS,
  UI_NAMESPACE,
  describeZodError,
  negotiatedProtocol,
  type Ack,
  type EventPayload,
  type AgentToServerEvents,
  type IngestAck,
  type IngestAckFn,
  type Me,
  type ServerToAgentEvents,
  type ServerToUiEvents,
  type UiToServerEvents,
  type WireProtocol,
} from '@mei/contracts';
import { serverParser } from '@mei/contracts/wire/socket-parser';
import type { JobBackend } from '../backends/types.ts';
import type { AgentClaims, AgentTokens } from '../auth/agent-tokens.ts';
import type { Sessions } from '../auth/sessions.ts';
import { canAccessNamespace } from '../auth/users.ts';
import type { Logger } from '../log.ts';
import type { ControllerManager } from '../controllers/manager.ts';
import { isCrossSite } from '../http/origin.ts';
import type { LiveHub } from '../live/live-hub.ts';
import type { IngestService } from '../ingest/ingest-service.ts';
import { DEFAULT_SOCKET_LIMITS, limitMessageRate, refuseStrayUpgrades, SocketCounter, type SocketLimits } from './socket-limits.ts';

export interface RealtimeDeps {
  backend: JobBackend;
  controllers: Pick<ControllerManager, 'agents' | 'reports' | 'jobs'>;
  tokens: AgentTokens;
  sessions: Sessions;
  /** The live view: observations and previews in, frames and identities out to /ui rooms `live:<jobKey>`. Absent: observations are accepted and dropped, live:* requests refused. */
  live?: LiveHub;
  /** Observation batches: durable before ack (server/ingest). Absent: every batch is answered retry-later. */
  ingest?: IngestService;
  /** Connection, upgrade and message-rate caps (socket-limits.ts). */
  limits?: Partial<SocketLimits>;
  log: Logger;
  /**
   * Accept WebSocket permessage-deflate from clients that offer it (default true: edge agents compress what
   * they send, bench:bandwidth). The server never compresses its own messages (threshold Infinity): the live
   * view to browsers stays as fast and cheap as before.
   */
  perMessageDeflate?: boolean;
}

type AgentSocket = Socket<AgentToServerEvents, ServerToAgentEvents, Record<string, never>, { claims: AgentClaims; protocol: WireProtocol }>;
type UiSocket = Socket<UiToServerEvents, ServerToUiEvents, Record<string, never>, { me: Me }>;

const KNOWN_AGENT_EVENTS = new Set(Object.keys(AGENT_EVENTS));
const KNOWN_UI_EVENTS = new Set(Object.keys(UI_EVENTS));

/** Room of the browsers watching a namespace; '*' for users who may see all. */
const jobsRoom = (namespace: string) => `jobs:${namespace}`;

export function attachRealtime(httpServer: HttpServer, deps: RealtimeDeps): { io: Server; close(): Promise<void> } {
  const limits: SocketLimits = { ...DEFAULT_SOCKET_LIMITS, ...deps.limits };
  const io = new Server(httpServer, {
    maxHttpBufferSize: MAX_MESSAGE_BYTES,
    serveClient: false,
    // Socket.IO's default packets, plus protocol-2 agents' one-message observations (contracts wire/socket-parser).
    parser: serverParser,
    // Other upgrade requests (Next's dev HMR socket) belong to Next: do not destroy them (stray ones are, below).
    destroyUpgrade: false,
    // Agents' upstream may be compressed; the server never compresses its own messages. ws applies the
    // threshold only with server_no_context_takeover negotiated: without it every ack and live frame was
    // deflated (3 % of the server's CPU in bench:ingest).
    perMessageDeflate: deps.perMessageDeflate === false ? false : { threshold: Number.POSITIVE_INFINITY, serverNoContextTakeover: true },
    connectTimeout: limits.handshakeTimeoutMs,
    // Over the cap a new transport is refused before it costs anything more.
    allowRequest: (_req, cb) => cb(null, io.engine.clientsCount < limits.maxConnections),
  });
  const stopUpgrades = refuseStrayUpgrades(httpServer);
  setUpAgents(io.of(AGENT_NAMESPACE) as unknown as Namespace<AgentToServerEvents, ServerToAgentEvents>, deps, limits);
  const ui = io.of(UI_NAMESPACE) as unknown as Namespace<UiToServerEvents, ServerToUiEvents>;
  setUpUi(ui, deps, limits);
  deps.live?.attach(io.of(UI_NAMESPACE), io.of(AGENT_NAMESPACE));
  const stopJobs = deps.controllers.jobs.onChange((_key, ev) => {
    ui.to([jobsRoom(ev.object.metadata.namespace), jobsRoom('*')]).emit('job', ev);
  });
  return {
    io,
    close: async () => {
      stopJobs();
      stopUpgrades();
      await new Promise<void>((resolve) => io.close(() => resolve()));
    },
  };
}

/** A request refused for a reason about one field of the payload. */
class Refused extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
  }
}

/** The ack for an error: one that names a field (Refused, LiveError, IdentityInputError) keeps it. */
function errorAck(err: unknown): Ack {
  const field = (err as { field?: unknown })?.field;
  return typeof field === 'string' ? { ok: false, error: (err as Error).message, field } : { ok: false, error: (err as Error).message };
}

/**
 * Registers `event` of an event table (AGENT_EVENTS, UI_EVENTS) with validation by the table's payload schema
 * (or `schema`). The ack (if the client asked for one) is the last argument; `handle` returns the ack to send
 * (default ok), or a promise of it, or throws to answer with its message.
 */
function on<T extends Record<string, ZodType>, K extends keyof T & string>(
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- events are checked at run time by the schema
  socket: Socket<any, any, any, any>,
  table: T,
  event: K,
  handle: (msg: EventPayload<T, K>) => Ack | void | Promise<Ack | void>,
  log: Logger,
  schema: ZodType = table[event],
): void {
  socket.on(event as string, (...args: unknown[]) => {
    const ack = typeof args[args.length - 1] === 'function' ? (args.pop() as (res: Ack) => void) : undefined;
    const reply = (res: Ack) => {
      if (!res.ok) log.debug(`${socket.nsp.name} ${socket.id} ${event}: ${res.error}`);
      ack?.(res);
    };
    const parsed = schema.safeParse(args[0]);
    if (!parsed.success) return reply({ ok: false, ...describeZodError(parsed.error) });
    try {
      const res = handle(parsed.data as EventPayload<T, K>);
      if (res instanceof Promise) res.then((r) => reply(r ?? { ok: true }), (err) => reply(errorAck(err)));
      else reply(res ?? { ok: true });
    } catch (err) {
      reply(errorAck(err));
    }
  });
}

/** Unknown events get an error ack instead of silence, so a client with a typo finds out. */
function rejectUnknown(socket: Socket<any, any, any, any>, known: Set<string>): void {
  socket.onAny((event: string, ...args: unknown[]) => {
    if (known.has(event)) return;
    const ack = args[args.length - 1];
    if (typeof ack === 'function') ack({ ok: false, error: `unknown event "${String(event).slice(0, 64)}"` } satisfies Ack);
  });
}

function setUpAgents(nsp: Namespace<AgentToServerEvents, ServerToAgentEvents>, deps: RealtimeDeps, limits: SocketLimits): void {
  const { controllers, log } = deps;
  nsp.use((socket, next) => {
    // The observation wire protocol is chosen per connection (auth.protocol; absent = 1), so a fleet of old
    // JSON agents and new binary agents is served side by side while it upgrades node by node.
    const protocol = negotiatedProtocol(socket.handshake.auth);
    if (protocol instanceof Error) return next(protocol);
    (socket as AgentSocket).data.protocol = protocol;
    // The store decides; when it cannot answer (an apiserver out of reach for a moment), a synced job cache
    // does, so a valid token is not refused for the store's trouble (agents give up after a few refusals).
    const getJob = (ns: string, name: string) => deps.backend.get(ns, name).catch((err) => (controllers.jobs.synced ? controllers.jobs.get(`${ns}/${name}`) : Promise.reject(err)));
    deps.tokens
      .authenticate(socket.handshake.auth?.token, getJob)
      .then((claims) => {
        (socket as AgentSocket).data.claims = claims;
        next();
      })
      .catch((err: Error) => {
        log.debug(`agent connection refused: ${err.message}`);
        next(new Error('unauthorized'));
      });
  });

  nsp.on('connection', (raw) => {
    const socket = raw as unknown as AgentSocket;
    limitMessageRate(socket, limits.agent, limits.maxDropped);
    const claims = socket.data.claims;
    log.info(`agent connected: ${claims.jobKey} on ${claims.node}`);
    controllers.agents.add({
      id: socket.id,
      jobKey: claims.jobKey,
      uid: claims.uid,
      node: claims.node,
      connectedAt: Date.now(),
      ackedGeneration: -1,
      sendTask: (task) => socket.emit('task', task),
      sendStop: (stop) => socket.emit('task:stop', stop),
      disconnect: () => socket.disconnect(true),
    });
    // The token says who this agent is; a message about another job is refused, not trusted.
    const sameJob = (msg: { jobKey: string; uid?: string }) => {
      if (msg.jobKey !== claims.jobKey) throw new Refused('jobKey', `this connection belongs to ${claims.jobKey}`);
      if (msg.uid !== undefined && msg.uid !== claims.uid) throw new Refused('uid', 'does not match the job of this connection');
    };
    on(socket, AGENT_EVENTS, 'task:ack', (msg) => {
      sameJob(msg);
      controllers.agents.acknowledge(socket.id, msg.generation);
    }, log);
    on(socket, AGENT_EVENTS, 'state', (msg) => {
      sameJob(msg);
      controllers.reports.put(claims.jobKey, { node: claims.node, state: msg, receivedAt: Date.now() });
    }, log);
    // Answered with an IngestAck (contract) once the batch is durable (server/ingest): the agent decides by
    // its code only. One ingest connection per socket: acks in arrival order, go-back-N per stream.
    const ingest = deps.ingest?.connection(claims, socket.data.protocol);
    socket.on('observations', (...args: unknown[]) => {
      const ack = typeof args[args.length - 1] === 'function' ? (args.pop() as IngestAckFn) : undefined;
      const reply = (res: IngestAck) => {
        if (res.code !== 'committed') log.debug(`${AGENT_NAMESPACE} ${socket.id} observations: ${res.code === 'refused' ? res.error : res.reason}`);
        ack?.(res);
      };
      if (!ingest) return reply({ code: 'retry-later', retryAfterMs: 5_000, reason: 'this server stores no observations' });
      // Server trouble (anything not about the batch's content) is worth a retry, never a refusal.
      ingest.receive(args[0]).then(reply, (err: Error) => reply({ code: 'retry-later', retryAfterMs: 1_000, reason: err.message }));
    });
    on(socket, AGENT_EVENTS, 'preview', (msg) => {
      sameJob(msg);
      if (!deps.live) throw new Refused('jpeg', 'this server has no live view');
      deps.live.preview(claims, msg);
    }, log);
    // A track crop for the history store; the live hub checks the camera and the job's privacy.preview.
    on(socket, AGENT_EVENTS, 'thumbnail', (msg) => {
      sameJob(msg);
      if (!deps.live) throw new Refused('jpeg', 'this server has no live view');
      deps.live.thumbnail(claims, msg);
    }, log);
    rejectUnknown(socket, KNOWN_AGENT_EVENTS);
    socket.on('disconnect', (reason) => {
      log.info(`agent disconnected: ${claims.jobKey} on ${claims.node} (${reason})`);
      controllers.agents.remove(socket.id);
    });
  });
}

function setUpUi(nsp: Namespace<UiToServerEvents, ServerToUiEvents>, deps: RealtimeDeps, limits: SocketLimits): void {
  const { sessions, log } = deps;
  const perUser = new SocketCounter(limits.maxPerUser);
  // The sockets of each session: closed the moment it is logged out (here or on another replica).
  const bySession = new Map<string, Set<UiSocket>>();
  sessions.onEnded((sid) => bySession.get(sid)?.forEach((s) => s.disconnect(true)));
  nsp.use((socket, next) => {
    // A page on another site must not ride the user's cookie into this socket.
    if (isCrossSite(socket.handshake.headers.origin, socket.handshake.headers.host)) return next(new Error('unauthorized'));
    const me = sessions.verify(sessions.fromCookieHeader(socket.handshake.headers.cookie));
    if (!me) return next(new Error('unauthorized'));
    if (!perUser.take(me.username)) return next(new Error(`too many connections for user "${me.username}"`));
    socket.once('disconnect', () => perUser.release(me.username));
    (socket as UiSocket).data.me = me;
    next();
  });

  nsp.on('connection', (raw) => {
    const socket = raw as unknown as UiSocket;
    limitMessageRate(socket, limits.ui, limits.maxDropped);
    const cookie = sessions.fromCookieHeader(socket.handshake.headers.cookie);
    // Logout and expiry end the socket too: no frames or crops reach a browser whose session is over.
    const ref = sessions.ref(cookie);
    if (ref) {
      let set = bySession.get(ref.sid);
      if (!set) bySession.set(ref.sid, (set = new Set()));
      set.add(socket);
      const expiry = setTimeout(() => socket.disconnect(true), Math.min(Math.max(0, ref.exp - Date.now()), 2 ** 31 - 1));
      socket.once('disconnect', () => {
        clearTimeout(expiry);
        set.delete(socket);
        if (!set.size) bySession.delete(ref.sid);
      });
    }
    const currentUser = (): Me => {
      // Re-checked per request: the session may have expired or been logged out since the handshake.
      const me = sessions.verify(cookie);
      if (!me) {
        setImmediate(() => socket.disconnect(true));
        throw new Error('session expired; sign in again');
      }
      return me;
    };
    const rooms = (namespace: string | undefined): string[] => {
      const me = currentUser();
      if (namespace !== undefined) {
        if (!canAccessNamespace(me, namespace)) throw new Refused('namespace', `user "${me.username}" may not access namespace "${namespace}"`);
        return [jobsRoom(namespace)];
      }
      return me.namespaces.includes('*') ? [jobsRoom('*')] : me.namespaces.map(jobsRoom);
    };
    on(socket, UI_EVENTS, 'jobs:subscribe', ({ namespace }) => void socket.join(rooms(namespace)), log);
    on(socket, UI_EVENTS, 'jobs:unsubscribe', ({ namespace }) => rooms(namespace).forEach((r) => void socket.leave(r)), log);
    const live = deps.live;
    if (live) {
      // A job's live room is open to users allowed its namespace; others get an error ack and nothing.
      const mayWatch = (jobKey: string) => {
        const me = currentUser();
        const namespace = jobKey.slice(0, jobKey.indexOf('/'));
        if (!canAccessNamespace(me, namespace)) throw new Refused('jobKey', `user "${me.username}" may not access namespace "${namespace}"`);
      };
      on(socket, UI_EVENTS, 'live:subscribe', async ({ jobKey }) => (mayWatch(jobKey), await live.subscribe(socket as unknown as Socket, jobKey)), log);
      on(socket, UI_EVENTS, 'live:unsubscribe', async ({ jobKey }) => void (await live.unsubscribe(socket as unknown as Socket, jobKey)), log);
      on(socket, UI_EVENTS, 'live:snapshot', ({ jobKey, camera }) => (mayWatch(jobKey), live.snapshot(jobKey, camera)), log);
      socket.on('disconnect', () => live.disconnected(socket.id));
    } else {
      const noLive = (): Ack => ({ ok: false, error: 'live view is not available on this server' });
      // Any payload naming a job gets the same answer (not a complaint about its other fields).
      for (const ev of ['live:subscribe', 'live:unsubscribe', 'live:snapshot'] as const) on(socket, UI_EVENTS, ev, noLive, log, SubscribeLiveSchema.passthrough());
    }
    rejectUnknown(socket, KNOWN_UI_EVENTS);
  });
}
