// The logger the control plane's modules take (tests pass a silent one); defined in server/observability/log.ts.
export { silentLogger, type Logger } from '../observability/log.ts';
import { createLogger, type Logger } from '../observability/log.ts';

/** A component's structured logger (kept under its old name for the modules that still import it from here). */
export function consoleLogger(prefix: string): Logger {
  return createLogger(prefix);
}
