// What the route handlers need from the running control plane. Next bundles route handlers separately from
// server/main.ts, so module singletons are not shared: the server publishes the control plane on globalThis.
import type { JSONSchema, ServerInfo } from '@mei/contracts';
import type { JobBackend } from '../backend/types.ts';
import type { LoginRateLimiter } from '../auth/login-limiter.ts';
import type { Sessions } from '../auth/sessions.ts';
import type { UserDirectory } from '../auth/users.ts';
import type { Logger } from '../controllers/log.ts';
import type { AdmissionPolicy } from '../admission/user-job.ts';

export interface ApiContext {
  info: ServerInfo;
  backend: JobBackend;
  users: Pick<UserDirectory, 'authenticate'>;
  sessions: Sessions;
  loginLimiter: LoginRateLimiter;
  jobSchema: JSONSchema;
  /** Media and image policy for user-submitted jobs (defaults when absent). */
  admission?: AdmissionPolicy;
  log: Logger;
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
