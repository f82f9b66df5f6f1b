// What the route handlers need from the running control plane. Next bundles route handlers separately from
// server/main.ts, so module singletons are not shared: the server publishes the control plane on globalThis.
import type { CameraSeries } from '../observability/camera-series.ts';
import type { JSONSchema, ServerInfo } from '@mei/contracts';
import type { JobBackend } from '../backend/types.ts';
import type { LoginRateLimiter } from '../auth/login-limiter.ts';
import type { Sessions } from '../auth/sessions.ts';
import type { UserDirectory } from '../auth/users.ts';
import type { Logger } from '../controllers/log.ts';

export interface ApiContext {
  info: ServerInfo;
  backend: JobBackend;
  users: Pick<UserDirectory, 'authenticate'>;
  sessions: Sessions;
  loginLimiter: LoginRateLimiter;
  jobSchema: JSONSchema;
  log: Logger;
  /** The last minutes of every camera (job page charts). */
  series?: Pick<CameraSeries, 'get'>;
  /** This replica's readiness and leader role (/api/health); absent: always ready. */
  health?(): { ready: boolean; role: string; message?: string };
}

declare global {
  // eslint-disable-next-line no-var
  var __meiControlPlane: ApiContext | undefined;
}

export const publishContext = (ctx: ApiContext | undefined) => {
  globalThis.__meiControlPlane = ctx;
};
export const currentContext = (): ApiContext | undefined => globalThis.__meiControlPlane;

/** Set by server/main.ts from the TCP peer (overwriting anything a client sent): the login rate-limit key. */
export const CLIENT_IP_HEADER = 'x-mei-client-ip';
