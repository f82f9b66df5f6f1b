// Structured logs (pino): JSON lines in Kubernetes mode (for a log pipeline), one readable line per entry in a
// terminal (embedded mode). Lines about a job carry namespace, job, camera and node as fields (child loggers),
// so an operator can filter by them. MEI_LOG_LEVEL (trace|debug|info|warn|error|silent; MEI_DEBUG=1 = debug)
// and MEI_LOG_FORMAT (json|text) are the only knobs.
import { format } from 'node:util';
import pino from 'pino';

/** Fields a log line may carry; job-related ones use these names everywhere (server and agent). */
export interface LogFields {
  component?: string;
  namespace?: string;
  job?: string;
  camera?: string;
  node?: string;
  [key: string]: unknown;
}

export interface Logger {
  info(msg: string, ...rest: unknown[]): void;
  warn(msg: string, ...rest: unknown[]): void;
  error(msg: string, ...rest: unknown[]): void;
  debug(msg: string, ...rest: unknown[]): void;
  /** A logger whose lines all carry `fields` (absent on test loggers: use `withFields`). */
  child?(fields: LogFields): Logger;
}

export type LogFormat = 'json' | 'text';
const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

export function logSettings(env: Record<string, string | undefined> = process.env): { level: string; format: LogFormat } {
  const level = env.MEI_LOG_LEVEL || (env.MEI_DEBUG === '1' ? 'debug' : 'info');
  if (!(LEVELS as readonly string[]).includes(level)) throw new Error(`MEI_LOG_LEVEL must be one of ${LEVELS.join(', ')}, got "${level}"`);
  const fmt = env.MEI_LOG_FORMAT || (env.MEI_MODE === 'kubernetes' ? 'json' : 'text');
  if (fmt !== 'json' && fmt !== 'text') throw new Error(`MEI_LOG_FORMAT must be "json" or "text", got "${fmt}"`);
  return { level, format: fmt };
}

const LEVEL_NAMES: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };

/** One terminal line for one pino JSON entry: `12:00:01.234 INFO  [component] msg key=value ...`. */
export function textLine(json: string): string {
  let e: Record<string, unknown>;
  try {
    e = JSON.parse(json);
  } catch {
    return json;
  }
  const { level, time, msg, component, err, pid: _pid, hostname: _host, ...fields } = e;
  const t = typeof time === 'string' ? time.slice(11, 23) : new Date(Number(time)).toISOString().slice(11, 23);
  const lv = typeof level === 'string' ? level.toUpperCase() : (LEVEL_NAMES[Number(level)] ?? String(level));
  const kv = Object.entries(fields)
    .map(([k, v]) => `${k}=${typeof v === 'string' && !/\s/.test(v) ? v : JSON.stringify(v)}`)
    .join(' ');
  const stack = err && typeof err === 'object' && 'stack' in err ? `\n${String((err as { stack: unknown }).stack)}` : '';
  return `${t} ${lv.padEnd(5)} ${component ? `[${component}] ` : ''}${String(msg ?? '')}${kv ? `  ${kv}` : ''}${stack}\n`;
}

let root: pino.Logger | undefined;

/** The process's root pino logger (created on first use from the environment). */
export function rootLogger(env: NodeJS.ProcessEnv = process.env): pino.Logger {
  if (root) return root;
  const { level, format: fmt } = logSettings(env);
  const opts: pino.LoggerOptions = {
    level,
    base: undefined,
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  };
  root = fmt === 'json' ? pino(opts, pino.destination({ dest: 1, sync: true })) : pino(opts, { write: (line: string) => void process.stdout.write(textLine(line)) });
  return root;
}

/** Wraps pino in the Logger interface: an Error among `rest` becomes the `err` field, other values join the message. */
function wrap(p: pino.Logger): Logger {
  const emit = (level: 'info' | 'warn' | 'error' | 'debug') => (msg: string, ...rest: unknown[]) => {
    if (!p.isLevelEnabled(level)) return;
    const err = rest.find((r) => r instanceof Error) as Error | undefined;
    const others = rest.filter((r) => r !== err);
    const text = others.length ? format(msg, ...others) : msg;
    if (err) p[level]({ err }, text);
    else p[level](text);
  };
    // From the root with the bindings merged, so a child's field replaces its parent's (pino would repeat the key).
  return { info: emit('info'), warn: emit('warn'), error: emit('error'), debug: emit('debug'), child: (fields) => wrap(rootLogger().child({ ...p.bindings(), ...fields })) };
}

/** A logger for one component of the server (`component` field), e.g. createLogger('realtime'). */
export function createLogger(component: string, fields: LogFields = {}): Logger {
  return wrap(rootLogger().child({ component, ...fields }));
}

/** `log` with `fields` on every line where it supports fields (test loggers may not: then `log` itself). */
export function withFields(log: Logger, fields: LogFields): Logger {
  return log.child ? log.child(fields) : log;
}

/** Fields of a job key "namespace/name" (and optionally camera/node) for withFields. */
export function jobFields(jobKey: string, extra: Pick<LogFields, 'camera' | 'node'> = {}): LogFields {
  const i = jobKey.indexOf('/');
  return { namespace: jobKey.slice(0, i), job: jobKey.slice(i + 1), ...extra };
}

/**
 * Re-logs one line of an agent's output: a JSON line keeps its level and fields (under the worker's job and
 * node fields, which the agent cannot override); any other line is logged as it is.
 */
export function forwardAgentLine(log: Logger, line: string): void {
  let e: Record<string, unknown> | undefined;
  if (line.startsWith('{')) {
    try {
      e = JSON.parse(line);
    } catch {
      e = undefined;
    }
  }
  if (!e || typeof e.msg !== 'string') return log.info(line);
  const { msg, level, time: _t, namespace: _n, job: _j, node: _o, component: _c, ...fields } = e;
  const target = Object.keys(fields).length ? withFields(log, fields) : log;
  const lv = level === 'warn' || level === 'error' || level === 'debug' ? level : 'info';
  target[lv](msg);
}

export const silentLogger: Logger = { info() {}, warn() {}, error() {}, debug() {} };
