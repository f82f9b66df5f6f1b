// The control plane: database -> job backend -> worker runtime -> controllers, plus auth. One factory picks
// the backend and runtime for the mode (embedded: Prisma store + local agent processes; kubernetes:
// kube-apiserver + Pods), so nothing downstream knows which mode it runs in.
import { chmodSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createValidator, type JSONSchema, type ServerInfo } from '@mei/contracts';
import { loadJobSchema } from '@mei/contracts/crd';
import type { JobBackend, WorkerRuntime } from './backends/types.ts';
import type { LeaderElector } from './backends/kubernetes/leader.ts';
import { admissionPolicyFromEnv, sharedMediaRootError } from './admission/user-job.ts';
import { AgentTokens } from './auth/agent-tokens.ts';
import { LoginRateLimiter } from './auth/login-limiter.ts';
import { Sessions } from './auth/sessions.ts';
import { RevocationStore, syncRevocations } from './auth/revocations.ts';
import { loadServerSecret } from './auth/signing.ts';
import { UserDirectory } from './auth/users.ts';
import type { Logger } from './log.ts';
import { ControllerManager } from './controllers/manager.ts';
import type { ApiContext } from './http/context.ts';
import { LiveHub } from './live/live-hub.ts';
import { runChecks, type Readiness } from './observability/http.ts';
import { setJobSource } from './observability/job-metrics.ts';
import { CameraSeries } from './observability/camera-series.ts';
import { liveLatency, setServiceSources } from './observability/service-metrics.ts';
import { IngestService } from './ingest/ingest-service.ts';
import { IngestLog } from './ingest/ingest-log.ts';
import { startHistory } from './history/service.ts';
import { resolveIndexCacheRoot } from './history/person-search/index-cache.ts';
import type { Database, SqlClient } from './store/db.ts';
import { ensureDemoJob } from './demo-job.ts';
import { LocalProcessRuntime, agentCommandFromEnv, agentEnv } from './backends/embedded/worker-runtime.ts';

export type Mode = ServerInfo['mode'];

export interface ControlPlane extends ApiContext {
  mode: Mode;
  runtime: WorkerRuntime;
  controllers: ControllerManager;
  tokens: AgentTokens;
  /** Live view: identities from agents' observations, frames to browsers (attached by the socket server). */
  live: LiveHub;
  /** /readyz: database reachable, controllers started with synced caches, and (Kubernetes) this replica leads. */
  readiness(): Promise<Readiness>;
  /** Observation batches from agents: durable (ingest log) before ack; undefined without a database. */
  ingest?: IngestService;
  close(): Promise<void>;
}

export interface ControlPlaneOptions {
  env: NodeJS.ProcessEnv;
  /** Where the server keeps its secret, generated passwords and (embedded) database. */
  stateDir: string;
  /** Where agents connect; known once the HTTP server listens. */
  serverUrl(): string;
  log: Logger;
  /** Kubernetes mode: this replica lost the leader lease; its controllers cannot resume, so exit. */
  onLostLeadership?(): void;
}

const VERSION: string = JSON.parse(readFileSync(fileURLToPath(new URL('../package.json', import.meta.url)), 'utf8')).version;

export function selectMode(env: NodeJS.ProcessEnv): Mode {
  const mode = env.MEI_MODE ?? 'embedded';
  if (mode !== 'embedded' && mode !== 'kubernetes') throw new Error(`MEI_MODE must be "embedded" or "kubernetes", got "${mode}"`);
  return mode;
}

interface Backends {
  backend: JobBackend;
  runtime: WorkerRuntime;
  database: ServerInfo['database'];
  /** The database the history store (tracks, embeddings, thumbnails) writes to, when this mode has one. */
  sql?: SqlClient;
  /** Where the person-search indexes are saved between runs (undefined: not saved). */
  indexCacheDir?: string;
  /** PostgreSQL: a database-wide lock (see Database.tryLock). */
  tryLock?: Database['tryLock'];
  /** Kubernetes mode: start the controllers only while this replica holds the leader lease. */
  campaign?(cb: { onStartedLeading(): void | Promise<void>; onStoppedLeading(why: 'lost' | 'stopped'): void }): LeaderElector | undefined;
  close(): Promise<void>;
}

/** The seam between modes: everything after this sees only JobBackend and WorkerRuntime. */
async function createBackends(mode: Mode, o: ControlPlaneOptions, schema: JSONSchema): Promise<Backends> {
  // Both modes keep history (tracks, embeddings) in a database: PostgreSQL when DATABASE_URL names one (needed
  // for several Kubernetes replicas), else the embedded PGlite in the state directory.
  const { openDatabase } = await import('./store/db.ts');
  const dataDir = path.join(o.stateDir, 'db');
  privateDir(dataDir);
  const db = await openDatabase({ dataDir });
  o.log.info(`database: ${db.kind} at ${db.location}`);
  const indexCacheDir = resolveIndexCacheRoot({ env: o.env, kind: db.kind, dataDir, stateDir: o.stateDir });
  if (indexCacheDir) privateDir(indexCacheDir);
  if (mode === 'kubernetes') {
    const { createKubernetesMode } = await import('./backends/kubernetes/config.ts');
    const k = await createKubernetesMode({ env: o.env, log: o.log });
    return {
      backend: k.backend,
      runtime: k.runtime,
      database: db.kind,
      sql: db.sql,
      indexCacheDir,
      tryLock: db.tryLock,
      campaign: (cb) => k.campaign(cb),
      close: async () => {
        await k.close();
        await db.close();
      },
    };
  }
  const { createEmbeddedBackend } = await import('./backends/embedded/job-backend.ts');
  const backend = await createEmbeddedBackend(db, { validator: createValidator(schema) });
  const runtime = new LocalProcessRuntime({ command: agentCommandFromEnv(o.env), env: agentEnv(o.env), stateDir: o.stateDir, log: o.log });
  return {
    backend,
    runtime,
    database: db.kind,
    sql: db.sql,
    indexCacheDir,
    tryLock: db.tryLock,
    close: async () => {
      await runtime.close();
      await backend.close();
      await db.close();
    },
  };
}

/** The leader check of /readyz: a standby is not ready, nor a leader whose lease is stale (apiserver unreachable). */
function leaderCheck(leading: boolean, elector: LeaderElector | undefined): string | undefined {
  if (!leading) return 'standby: another replica holds the leader lease';
  const h = elector?.health();
  return !h || h.ready || h.role === 'starting' ? undefined : h.message;
}

/** Creates `dir` (and missing parents) as 0700 and tightens it if it exists: it holds the database, indexes and secrets. */
function privateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
}

export async function startControlPlane(o: ControlPlaneOptions): Promise<ControlPlane> {
  const { env, log } = o;
  const mode = selectMode(env);
  privateDir(o.stateDir);
  const secret = loadServerSecret(o.stateDir, env);
  const admission = admissionPolicyFromEnv(env);
  const users = await UserDirectory.load({ env, stateDir: o.stateDir, log });
  const shared = sharedMediaRootError(admission, users.all());
  if (shared) throw new Error(shared);
  const tokens = new AgentTokens(secret);
  const jobSchema = loadJobSchema();
  const b = await createBackends(mode, o, jobSchema);
  const revocations = b.sql ? new RevocationStore(b.sql) : undefined;
  const secureCookie = env.MEI_COOKIE_SECURE === '1' ? true : env.MEI_COOKIE_SECURE === '0' ? false : 'auto';
  const sessions = new Sessions(secret, users, { secureCookie, store: revocations });
  const stopRevocationSync = revocations ? await syncRevocations(sessions, revocations, (e) => log.warn(`session revocations: ${(e as Error).message}`)) : undefined;
  const controllers = new ControllerManager({ backend: b.backend, runtime: b.runtime, mintToken: (c) => tokens.mint(c), serverUrl: o.serverUrl, mediaPolicy: admission.media, log });
  const history = b.sql ? startHistory({ sql: b.sql, jobs: controllers.jobs, log, env, writer: { markApplied: IngestLog.markApplied } }) : undefined;
  history?.indexes.configure({ binaryVectors: b.database === 'postgresql', cache: b.indexCacheDir ? { dir: b.indexCacheDir } : undefined, log });
  const series = new CameraSeries({ jobs: controllers.jobs });
  const live = new LiveHub({ jobs: controllers.jobs, identityCounts: controllers.reports, history: history?.sink, latency: (j, c, ms) => (series.observeLatency(j, c, ms), liveLatency.observe(Math.max(0, ms) / 1000)), log });
  // Readiness: the controllers' first list is in the cache (start() resolves after it), and in Kubernetes
  // mode this replica leads with a fresh lease. /readyz ("can do the work now": leader, caches synced, able to
  // commit observations) counts a standby as not ready; /api/health, the readiness probe, counts it ready
  // (Deployments roll only onto ready pods) and the Service reaches the leader through its label.
  let elector: LeaderElector | undefined;
  let leading = !b.campaign;
  let controllersSynced = false;
  const startControllers = async () => {
    await controllers.start();
    controllersSynced = true;
  };
  // One server at a time replays and applies the shared log: held from the replay until the last history flush.
  let releaseIngestLock: (() => Promise<void>) | undefined;
  const onLockLost = (err: Error) => log.error(`ingest: the connection holding the ingest lock failed (${err.message}); another server may now apply the log`);
  const exclusive = b.tryLock ? async () => !!(releaseIngestLock ??= await b.tryLock!('mei-ingest-apply', onLockLost)) : undefined;
  const ingest = b.sql ? new IngestService({ sql: b.sql, live, jobs: controllers.jobs, log, exclusive }) : undefined;
  // Answers retry-later until its log is replayed and the job cache synced (in Kubernetes mode: leading).
  ingest?.start().catch((err) => log.error('ingest: start failed; observations are answered retry-later:', err));
  if (b.campaign) {
    elector = b.campaign({
      onStartedLeading: async () => {
        leading = true;
        await startControllers();
      },
      // 'stopped' is close() releasing the lease; 'lost' means another replica may lead now.
      onStoppedLeading: (why) => {
        leading = false;
        controllersSynced = false;
        if (why !== 'lost') return;
        log.error('lost the leader lease; exiting so that a fresh process campaigns again');
        (o.onLostLeadership ?? (() => process.exit(1)))();
      },
    });
  } else {
    await startControllers();
  }
  setJobSource(controllers.jobs);
  series.start();
  setServiceSources({
    identities: () => live.identityServices(),
    live: () => {
      const st = live.stats();
      return { browsers: live.browsers, framesPublished: st.framesPublished, sent: st.sent, superseded: st.superseded, ackTimeouts: st.ackTimeouts };
    },
    searchIndexes: history ? () => history.indexes.sizes() : undefined,
  });
  if (mode === 'embedded') await ensureDemoJob(b.backend, env, log);
  return {
    mode,
    info: { mode, version: VERSION, database: b.database },
    backend: b.backend,
    runtime: b.runtime,
    controllers,
    tokens,
    live,
    ingest,
    users,
    sessions,
    loginLimiter: new LoginRateLimiter(),
    jobSchema,
    admission,
    log,
    series,
    health: () => (elector ? elector.health() : controllersSynced ? { ready: true, role: 'single' } : { ready: false, role: 'starting', message: 'starting the controllers' }),
    readiness: () =>
      runChecks([
        { name: 'database', run: async () => void (await b.sql?.query('SELECT 1')) },
        { name: 'leader', run: () => leaderCheck(leading, elector) },
        { name: 'controllers', run: () => (controllersSynced ? undefined : 'controllers not started or caches not synced') },
        // Able to commit: the ingest log is replayed and batches are taken (not starting, not shutting down).
        { name: 'ingest', run: () => (!ingest || ingest.state === 'ready' ? undefined : `ingest is ${ingest.state}: observations are answered retry-later`) },
      ]),
    close: async () => {
      setJobSource(undefined);
      setServiceSources(undefined);
      series.stop();
      await ingest?.close(); // commits and applies what was taken; new batches get retry-later
      stopRevocationSync?.();
      await sessions.flushed().catch(() => {});
      live.close();
      try {
        await history?.close(); // flushes what is buffered while the database is still open
        await history?.indexes.close(); // saves the search indexes (needs the database too)
      } finally {
        await releaseIngestLock?.(); // after the last history flush: the next leader may replay now
      }
      await controllers.stop();
      await b.close();
    },
  };
}
