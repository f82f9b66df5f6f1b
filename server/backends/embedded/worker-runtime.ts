// The embedded WorkerRuntime: each edge worker is a local child process running the edge agent
// (`node edge-agent/bin/mei-agent.mjs run --server <url> --node <node>`). Crashed workers restart with
// exponential backoff; removal is SIGTERM, then SIGKILL after a grace period; the server's exit kills all.
// Each worker remembers the hash of its launch config (argv, environment without the token), so the main
// controller can see that the config changed and replace the process.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { jobKey as keyOf } from '@mei/contracts';
import type { ObservedWorker, WorkerLaunch, WorkerPhase } from '../types.ts';
import { backoffDelay } from '../../lib/backoff.ts';
import type { Logger } from '../../log.ts';
import { forwardAgentLine, jobFields, withFields } from '../../log.ts';
import { templateHashOf, type TemplatedWorkerRuntime } from '../worker-template.ts';

const REPO_ROOT = fileURLToPath(new URL('../../..', import.meta.url));
export const DEFAULT_AGENT_COMMAND = [process.execPath, path.join(REPO_ROOT, 'edge-agent/bin/mei-agent.mjs')];

export interface LocalProcessRuntimeOptions {
  /** argv prefix of the agent; `run --server <url> --node <node>` is appended. Default: the mei-agent bin. */
  command?: string[];
  /** Environment of the agents (the token is added as MEI_AGENT_TOKEN). Default: agentEnv(process.env). */
  env?: NodeJS.ProcessEnv;
  restartBaseMs?: number;
  restartMaxMs?: number;
  /** After this many restarts in a row without a stable run, the worker is Failed. */
  maxRestarts?: number;
  /** A run this long counts as stable and resets the backoff. */
  stableRunMs?: number;
  stopGraceMs?: number;
  /**
   * The server's state directory: each agent keeps its observation spools in `<stateDir>/agents/<node>`
   * (MEI_AGENT_STATE_DIR), one folder per edge node like a node's own disk, kept across agent restarts.
   */
  stateDir?: string;
  log: Logger;
}

/**
 * The agent command from MEI_AGENT_COMMAND: a JSON array of argv (e.g. ["node","/path/agent.mjs"]).
 * Used by the integration test to run a recording agent; undefined when unset.
 */
export function agentCommandFromEnv(env: NodeJS.ProcessEnv = process.env): string[] | undefined {
  const raw = env.MEI_AGENT_COMMAND;
  if (!raw) return undefined;
  let argv: unknown;
  try {
    argv = JSON.parse(raw);
  } catch {
    argv = undefined;
  }
  if (!Array.isArray(argv) || argv.length === 0 || !argv.every((a) => typeof a === 'string')) {
    throw new Error(`MEI_AGENT_COMMAND must be a JSON array of strings, e.g. ["node","/path/agent.mjs"]; got ${raw}`);
  }
  return argv;
}

interface ManagedWorker {
  jobKey: string;
  jobUid: string;
  node: string;
  name: string;
  launch: WorkerLaunch;
  /** Hash of the launch config the process runs with (see processConfig). */
  templateHash: string;
  phase: WorkerPhase;
  restarts: number;
  /** Failures since the last stable run (drives the backoff). */
  consecutiveFailures: number;
  message?: string;
  startedAt?: string;
  child?: ChildProcess;
  restartTimer?: NodeJS.Timeout;
  stopping?: Promise<void>;
}

/** What an agent inherits from the server's environment: its roots and what a process needs to run. */
export const AGENT_ENV_NAMES = ['PATH', 'HOME', 'LANG', 'LC_ALL', 'TZ', 'TMPDIR', 'MEI_DATA_DIR', 'MEI_MODEL_DIR', 'MEI_FFMPEG', 'MEI_DEBUG', 'MEI_AGENT_METRICS_PORT', 'MEI_AGENT_METRICS_HOST'];
/** Never passed, not even when MEI_AGENT_ENV names them: with these anyone forges sessions or reads the database. */
const SERVER_SECRETS = /^(MEI_SECRET|MEI_ADMIN_PASSWORD|MEI_ADMIN_USER|MEI_USERS_FILE|DATABASE_URL|KUBECONFIG)$|PASSWORD|SECRET|TOKEN|CREDENTIAL/i;

/**
 * The minimal environment of an agent: AGENT_ENV_NAMES plus the names an admin lists in MEI_AGENT_ENV
 * (comma-separated); a secret-looking name there is a start-up error, not a silent pass.
 */
export function agentEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const extra = (env.MEI_AGENT_ENV ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  const secret = extra.find((n) => SERVER_SECRETS.test(n));
  if (secret) throw new Error(`MEI_AGENT_ENV: ${secret} is a server secret and is never passed to agents`);
  const out: Record<string, string> = {};
  for (const k of [...AGENT_ENV_NAMES, ...extra]) if (env[k] !== undefined) out[k] = env[k]!;
  return out as NodeJS.ProcessEnv;
}

const workerId = (jobKey: string, node: string) => `${jobKey}@${node}`;

/** Signals the worker's whole process group, so helpers it started (ffmpeg) go with it. */
function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    if (child.pid !== undefined) return void process.kill(-child.pid, signal);
  } catch {
    // Group already gone or not a group leader: fall back to the process itself.
  }
  child.kill(signal);
}

/** How a worker's process is started, minus per-launch secrets (the token) and the runtime's own environment. */
interface ProcessConfig {
  file: string;
  args: string[];
  env: Record<string, string>;
}

export class LocalProcessRuntime implements TemplatedWorkerRuntime {
  private readonly workers = new Map<string, ManagedWorker>();
  private readonly listeners = new Set<(jobKey: string) => void>();
  private readonly options: Required<Omit<LocalProcessRuntimeOptions, 'env' | 'stateDir'>> & { env: NodeJS.ProcessEnv; stateDir?: string };
  private closed = false;
  private readonly killAllOnExit = () => {
    for (const w of this.workers.values()) if (w.child) signalGroup(w.child, 'SIGKILL');
  };

  constructor(opts: LocalProcessRuntimeOptions) {
    this.options = {
      command: opts.command ?? DEFAULT_AGENT_COMMAND,
      env: opts.env ?? agentEnv(process.env),
      restartBaseMs: opts.restartBaseMs ?? 1_000,
      restartMaxMs: opts.restartMaxMs ?? 60_000,
      maxRestarts: opts.maxRestarts ?? 10,
      stableRunMs: opts.stableRunMs ?? 60_000,
      stopGraceMs: opts.stopGraceMs ?? 5_000,
      stateDir: opts.stateDir,
      log: opts.log,
    };
    // Last resort if the server exits without close(): children must not outlive it.
    process.on('exit', this.killAllOnExit);
  }

  async ensure(launch: WorkerLaunch): Promise<void> {
    if (this.closed) throw new Error('runtime is closed');
    const jobKey = keyOf(launch.job);
    const id = workerId(jobKey, launch.node);
    const existing = this.workers.get(id);
    if (existing && existing.jobUid === launch.job.metadata.uid) return;
    if (existing) await this.stop(existing); // an older job of the same name
    const w: ManagedWorker = {
      jobKey,
      jobUid: launch.job.metadata.uid,
      node: launch.node,
      name: `mei-${launch.job.metadata.namespace}-${launch.job.metadata.name}-${launch.node}`,
      launch,
      templateHash: this.templateHash(launch),
      phase: 'Pending',
      restarts: 0,
      consecutiveFailures: 0,
    };
    this.workers.set(id, w);
    this.spawn(w);
  }

  async remove(jobKey: string, node?: string): Promise<void> {
    const victims = [...this.workers.values()].filter((w) => w.jobKey === jobKey && (node === undefined || w.node === node));
    await Promise.all(victims.map((w) => this.stop(w)));
  }

  async list(jobKey?: string): Promise<ObservedWorker[]> {
    return [...this.workers.values()]
      .filter((w) => jobKey === undefined || w.jobKey === jobKey)
      .map((w) => ({
        jobKey: w.jobKey,
        jobUid: w.jobUid,
        node: w.node,
        name: w.name,
        phase: w.phase,
        restarts: w.restarts,
        message: w.message,
        startedAt: w.startedAt,
        templateHash: w.templateHash,
        ...(w.stopping ? { terminating: true } : {}),
      }));
  }

  templateHash(launch: WorkerLaunch): string {
    return templateHashOf(this.processConfig(launch));
  }

  /** The one place argv and environment are derived from a launch: spawn() and templateHash() both use it. */
  private processConfig(launch: WorkerLaunch): ProcessConfig {
    return {
      file: this.options.command[0],
      args: [...this.options.command.slice(1), 'run', '--server', launch.serverUrl, '--node', launch.node],
      env: { MEI_JOB: keyOf(launch.job), ...(this.options.stateDir ? { MEI_AGENT_STATE_DIR: path.join(this.options.stateDir, 'agents', launch.node) } : {}) },
    };
  }

  /** Process id of a worker's current process (tests and diagnostics). */
  pid(jobKey: string, node: string): number | undefined {
    return this.workers.get(workerId(jobKey, node))?.child?.pid;
  }

  watch(onChange: (jobKey: string) => void): () => void {
    this.listeners.add(onChange);
    return () => this.listeners.delete(onChange);
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.workers.values()].map((w) => this.stop(w)));
    process.off('exit', this.killAllOnExit);
  }

  private spawn(w: ManagedWorker): void {
    const { launch } = w;
    const config = this.processConfig(launch);
    // The token goes through the environment, not argv, so `ps` does not show it.
    const env = { ...this.options.env, ...config.env, MEI_AGENT_TOKEN: launch.token, MEI_AGENT_PARENT_PID: String(process.pid), MEI_LOG_FORMAT: 'json' };
    // detached: its own process group (see signalGroup).
    const child = spawn(config.file, config.args, { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    w.child = child;
    const agentLog = withFields(this.options.log, { component: 'agent', ...jobFields(w.jobKey, { node: w.node }) });
    for (const stream of [child.stdout, child.stderr]) createInterface({ input: stream! }).on('line', (line) => forwardAgentLine(agentLog, line));
    const startedAt = Date.now();
    child.once('spawn', () => {
      w.phase = 'Running';
      w.startedAt = new Date(startedAt).toISOString();
      w.message = undefined;
      this.notify(w.jobKey);
    });
    child.once('error', (err) => {
      // Spawn failures (e.g. ENOENT) emit no 'exit'; handle them like a crash.
      if (child.pid === undefined) this.onExit(w, child, null, null, err.message, startedAt);
    });
    child.once('exit', (code, signal) => this.onExit(w, child, code, signal, undefined, startedAt));
  }

  private onExit(w: ManagedWorker, child: ChildProcess, code: number | null, signal: NodeJS.Signals | null, error: string | undefined, startedAt: number): void {
    if (w.child !== child) return;
    w.child = undefined;
    if (w.stopping || this.closed) return;
    if (code === 0) {
      w.phase = 'Succeeded';
      w.message = undefined;
      this.options.log.info(`worker ${w.name} finished`);
      return this.notify(w.jobKey);
    }
    const why = error ?? (signal ? `killed by ${signal}` : `exited with code ${code}`);
    if (Date.now() - startedAt >= this.options.stableRunMs) w.consecutiveFailures = 0;
    w.consecutiveFailures++;
    if (w.consecutiveFailures > this.options.maxRestarts) {
      w.phase = 'Failed';
      w.message = `${why}; gave up after ${this.options.maxRestarts} restarts`;
      this.options.log.warn(`worker ${w.name} ${w.message}`);
      return this.notify(w.jobKey);
    }
    const delay = backoffDelay(w.consecutiveFailures - 1, this.options.restartBaseMs, this.options.restartMaxMs);
    w.phase = 'Pending';
    w.message = `${why}; restarting in ${Math.round(delay / 100) / 10}s`;
    this.options.log.warn(`worker ${w.name} ${w.message}`);
    w.restartTimer = setTimeout(() => {
      w.restartTimer = undefined;
      if (w.stopping || this.closed) return;
      w.restarts++;
      this.spawn(w);
      this.notify(w.jobKey);
    }, delay);
    this.notify(w.jobKey);
  }

  /** SIGTERM, then SIGKILL after the grace period; resolves when the process is gone and forgotten. */
  private stop(w: ManagedWorker): Promise<void> {
    w.stopping ??= (async () => {
      if (w.restartTimer) clearTimeout(w.restartTimer);
      const child = w.child;
      if (child && child.exitCode === null && child.signalCode === null) {
        const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
        signalGroup(child, 'SIGTERM');
        const timer = setTimeout(() => signalGroup(child, 'SIGKILL'), this.options.stopGraceMs);
        await exited;
        clearTimeout(timer);
      }
      this.workers.delete(workerId(w.jobKey, w.node));
      this.notify(w.jobKey);
    })();
    return w.stopping;
  }

  private notify(jobKey: string): void {
    for (const l of this.listeners) l(jobKey);
  }
}
