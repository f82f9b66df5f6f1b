// `mei-agent run`: the edge worker. Connects to the MEI server, runs the cameras the server assigns to this
// node and reports on them until the server stops it. Started by the server (embedded mode: a child
// process; Kubernetes: a Pod); the token comes from MEI_AGENT_TOKEN or --token-file, never argv.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_SPOOL_BYTES, EdgeAgent } from '../agent/agent.ts';
import { pipelineRunnerFactory } from '../agent/pipeline-runner.ts';
import type { CameraRunnerFactory } from '../agent/camera-runner.ts';
import { AgentConnection, type AgentConnectionOptions } from '../transport/connection.ts';
import { serveMetrics } from '../agent/metrics.ts';
import type { AddressInfo } from 'node:net';
import { UsageError } from './usage.ts';
import { MIN_SPOOL_BYTES } from '../transport/spool.ts';

export const RUN_USAGE = `usage: mei-agent run --server <url> --node <name> [--token-file <file>] [--state-dir <dir>] [--spool-bytes <n>]
                      [--metrics-port <port>] [--metrics-host <addr>]
  --server <url>        the MEI server, e.g. http://127.0.0.1:3000
  --node <name>         the edge node this agent runs for (must match its token)
  --token-file <file>   read the agent token from a file (default: env MEI_AGENT_TOKEN)
  --state-dir <dir>     kept across restarts: the observation spools (default: env MEI_AGENT_STATE_DIR, else ./.mei-agent)
  --spool-bytes <n>     bound of each camera's spool (default: env MEI_SPOOL_BYTES, else ${DEFAULT_SPOOL_BYTES})
  --metrics-port <port> serve Prometheus metrics on /metrics (default: env MEI_AGENT_METRICS_PORT; off when unset)
  --metrics-host <addr> address for the metrics port (default: env MEI_AGENT_METRICS_HOST or 127.0.0.1)
Exit codes: 0 all tasks stopped or finished, 1 a history task failed, 2 usage, 3 token refused.`;

const NODE_RE = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;
/** How often an embedded-mode agent checks that the server that started it is still alive. */
const PARENT_CHECK_MS = 2_000;

export interface RunAgentDeps {
  env?: NodeJS.ProcessEnv;
  /** Replaces the vision pipeline (tests). */
  runners?: CameraRunnerFactory;
  log?: (msg: string) => void;
  /** Exit the process 2 s after finishing if something still holds it open (default true; tests: false). */
  forceExit?: boolean;
  /** Connection settings beyond the command line (tests and benchmarks: wire protocol, deflate, meter). */
  connection?: Pick<AgentConnectionOptions, 'protocol' | 'perMessageDeflate' | 'meter'>;
}

export async function runAgentCommand(argv: string[], deps: RunAgentDeps = {}): Promise<number> {
  const env = deps.env ?? process.env;
  // JSON lines when asked (the local runtime does, to keep the fields when it forwards them), else readable.
  const json = env.MEI_LOG_FORMAT === 'json';
  const log =
    deps.log ??
    ((msg: string) => console.log(json ? JSON.stringify({ time: new Date().toISOString(), level: 'info', msg, node: values.node }) : `${new Date().toISOString()} ${msg}`));
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      server: { type: 'string' },
      node: { type: 'string' },
      'token-file': { type: 'string' },
      'state-dir': { type: 'string' },
      'spool-bytes': { type: 'string' },
      'metrics-port': { type: 'string' },
      'metrics-host': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(RUN_USAGE);
    return 0;
  }
  const server = values.server ?? '';
  if (!/^https?:\/\/[^\s]+$/.test(server)) throw new UsageError(`--server must be an http(s) URL, got '${server}'`);
  const node = values.node ?? '';
  if (!NODE_RE.test(node) || node.length > 253) throw new UsageError(`--node must be a node name (lowercase letters, digits, '-', '.'), got '${node}'`);
  const token = readToken(values['token-file'], env);
  const stateDir = path.resolve(values['state-dir'] ?? env.MEI_AGENT_STATE_DIR ?? '.mei-agent');
  const spoolRaw = values['spool-bytes'] ?? env.MEI_SPOOL_BYTES;
  const spoolBytes = spoolRaw === undefined ? DEFAULT_SPOOL_BYTES : Number(spoolRaw);
  if (!Number.isSafeInteger(spoolBytes) || spoolBytes < MIN_SPOOL_BYTES) throw new UsageError(`--spool-bytes (or MEI_SPOOL_BYTES) must be an integer >= ${MIN_SPOOL_BYTES}, got '${spoolRaw}'`);
  const metricsPort = values['metrics-port'] ?? env.MEI_AGENT_METRICS_PORT;
  if (metricsPort !== undefined && !/^\d{1,5}$/.test(metricsPort)) throw new UsageError(`--metrics-port must be a port number, got '${metricsPort}'`);
  const metricsHost = values['metrics-host'] ?? env.MEI_AGENT_METRICS_HOST ?? '127.0.0.1';
  // Port 0 picks a free port (several local agents on one machine); a port in use costs the metrics, not the agent.
  const metrics = metricsPort === undefined ? undefined : await serveMetrics(Number(metricsPort), metricsHost).catch((err: Error) => void log(`metrics not served: ${err.message}`));
  if (metrics) log(`metrics on http://${metricsHost}:${(metrics.address() as AddressInfo).port}/metrics`);

  let agent!: EdgeAgent;
  const connection = new AgentConnection(
    { serverUrl: server, token, log, ...deps.connection },
    {
      onTask: (task) => void agent.handleTask(task),
      onStop: (stop) => void agent.handleStop(stop),
      onPreviewRequest: (req) => agent.handlePreviewRequest(req),
      onConnect: () => agent.onConnect(),
      onFatal: (reason) => {
        log(reason);
        void agent.shutdown(reason, 3);
      },
    },
  );
  agent = new EdgeAgent({ node, transport: connection, runners: deps.runners ?? pipelineRunnerFactory(env), log, stateDir, spoolBytes });

  const onSignal = (sig: string) => void agent.shutdown(`received ${sig}`);
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  // Embedded mode: if the server died without stopping us (SIGKILL), nobody will; leave with it.
  const parent = Number(env.MEI_AGENT_PARENT_PID);
  const parentCheck = parent
    ? setInterval(() => {
        if (process.ppid !== parent) void agent.shutdown(`server process ${parent} is gone`, 1);
      }, PARENT_CHECK_MS)
    : undefined;

  log(`mei-agent run: node ${node}, server ${server}, spools in ${stateDir}`);
  const code = await agent.finished;
  clearInterval(parentCheck);
  process.off('SIGTERM', onSignal);
  process.off('SIGINT', onSignal);
  connection.close();
  metrics?.close();
  log(`mei-agent run: exiting with code ${code}`);
  // Native libraries (onnxruntime) can hold the event loop open; the work is done, so do not wait on them.
  if (deps.forceExit !== false) setTimeout(() => process.exit(code), 2_000).unref();
  return code;
}

function readToken(file: string | undefined, env: NodeJS.ProcessEnv): string {
  if (file) {
    try {
      const t = readFileSync(file, 'utf8').trim();
      if (t) return t;
    } catch (err) {
      throw new UsageError(`--token-file ${file}: ${(err as Error).message}`);
    }
    throw new UsageError(`--token-file ${file} is empty`);
  }
  const t = env.MEI_AGENT_TOKEN?.trim();
  if (!t) throw new UsageError('no agent token: set MEI_AGENT_TOKEN or pass --token-file');
  return t;
}
