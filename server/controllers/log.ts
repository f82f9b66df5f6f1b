// A minimal logger interface so controllers, runtime and realtime stay testable (tests pass a silent one).
export interface Logger {
  info(msg: string, ...rest: unknown[]): void;
  warn(msg: string, ...rest: unknown[]): void;
  error(msg: string, ...rest: unknown[]): void;
  debug(msg: string, ...rest: unknown[]): void;
}

export function consoleLogger(prefix: string, debug = process.env.MEI_DEBUG === '1'): Logger {
  const tag = `[${prefix}]`;
  return {
    info: (m, ...r) => console.log(tag, m, ...r),
    warn: (m, ...r) => console.warn(tag, m, ...r),
    error: (m, ...r) => console.error(tag, m, ...r),
    debug: (m, ...r) => {
      if (debug) console.log(tag, m, ...r);
    },
  };
}

export const silentLogger: Logger = { info() {}, warn() {}, error() {}, debug() {} };
